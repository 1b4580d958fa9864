// Package gemm computes the matrix products of NMF: C = op(A)·B with
// op(A) = A or Aᵀ, for float32 and float64, on all cores.
//
// Each NMF iteration needs X·Hᵀ and Xᵀ·W for a large n x m data matrix X and
// thin factors (k columns, k small), plus k x k Gram matrices. X may be
// stored row-major or column-major; a column-major X is a row-major Xᵀ, so
// the one primitive Mul, with and without transposition of A, covers every
// case without copying X.
//
// On amd64 with AVX2 and FMA, Mul runs generated assembly micro-kernels
// (see asm/gen.go); elsewhere, or after SetSIMD(false), it runs a blocked
// pure-Go fallback. Both are always built; the tests compare them.
package gemm

//go:generate go run -C asm . -out ../kernels_amd64.s -stubs ../kernels_amd64.go -pkg gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Float is the element type of Mul.
type Float interface {
	float32 | float64
}

// simdOn is true while Mul uses the SIMD kernels; it starts as haveSIMD.
var simdOn atomic.Bool

func init() { simdOn.Store(haveSIMD) }

// SetSIMD enables or disables the SIMD kernels and returns the previous
// setting. Enabling has no effect where the CPU lacks AVX2 and FMA. It is
// meant for tests and benchmarks; calls racing with it may use either path.
func SetSIMD(on bool) (was bool) {
	return simdOn.Swap(on && haveSIMD)
}

// SIMD reports whether Mul currently uses the SIMD kernels.
func SIMD() bool { return simdOn.Load() }

// Mul sets C = op(A)·B, that is
//
//	C[i][j] = Σ_{l<p} op(A)[i][l] · B[l][j],  0 ≤ i < r, 0 ≤ j < k,
//
// where op(A) is r x p, B is p x k and C is r x k. All three are row-major:
// B[l][j] is b[l*ldb+j] and C[i][j] is c[i*ldc+j]. A is stored row-major
// with row stride lda: op(A)[i][l] is a[i*lda+l] (A is r x p) when transA
// is false, and a[l*lda+i] (A is p x r, op(A) = Aᵀ) when transA is true.
// Entries of c outside the r x k block are not touched; C must not overlap
// A or B. When p is 0, C is set to zero.
//
// Mul panics if a dimension is negative, a stride is smaller than the row
// it strides over, or a slice is too short. It allocates nothing in steady
// state, runs serially on small problems and otherwise splits the rows of C
// (or, when C has few rows, the inner dimension p) over GOMAXPROCS
// goroutines. Results do not depend on the number of goroutines.
func Mul[T Float](transA bool, r, k, p int, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	ar, ac := r, p
	if transA {
		ar, ac = p, r
	}
	switch {
	case r < 0 || k < 0 || p < 0:
		panic("gemm: negative dimension")
	case lda < max(1, ac):
		panic("gemm: bad lda")
	case ldb < max(1, k):
		panic("gemm: bad ldb")
	case ldc < max(1, k):
		panic("gemm: bad ldc")
	case r == 0 || k == 0:
		return
	case len(c) < (r-1)*ldc+k:
		panic("gemm: short c")
	case p == 0:
		for i := 0; i < r; i++ {
			clear(c[i*ldc : i*ldc+k])
		}
		return
	case len(a) < (ar-1)*lda+ac:
		panic("gemm: short a")
	case len(b) < (p-1)*ldb+k:
		panic("gemm: short b")
	}
	m := mat[T]{transA: transA, r: r, k: k, p: p, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}
	if simdOn.Load() && mulSIMD(m) {
		return
	}
	mulGo(m)
}

// mat holds the operands of one call of Mul.
type mat[T Float] struct {
	transA  bool
	r, k, p int
	a       []T
	lda     int
	b       []T
	ldb     int
	c       []T
	ldc     int
}

// Work below serialFlops (2rkp) runs on the calling goroutine: thousands of
// tiny fits (say 38 x 5000, k = 3, 1.1 Mflop) must not pay for goroutines.
// Each extra goroutine must get at least flopsPerThread.
const (
	serialFlops    = 4 << 20
	flopsPerThread = 2 << 20
)

// plan is how one call splits its work: p into nch chunks of kc (the last
// one shorter), and either the rows of C (split == splitRows) or the chunks
// (split == splitChunks) over nt goroutines.
type plan struct {
	nt       int
	split    int
	kc, nch  int
	rowAlign int // row ranges of goroutines start at multiples of rowAlign
}

const (
	splitRows = iota
	splitChunks
)

// newPlan splits p into chunks of at most kcMax (a multiple of vw) and
// chooses how to share the work. Chunks are balanced so that the last one is
// not a sliver.
func newPlan(r, k, p, kcMax, vw, rowAlign int) plan {
	pl := plan{nt: 1, rowAlign: rowAlign}
	if flops := 2 * float64(r) * float64(k) * float64(p); flops >= serialFlops {
		pl.nt = min(runtime.GOMAXPROCS(0), int(flops/flopsPerThread))
	}
	nch := ceilDiv(p, kcMax)
	if pl.nt > 1 && ceilDiv(r, rowAlign) < 2*pl.nt {
		// Few rows (a Gram product): split p instead and reduce.
		pl.split = splitChunks
		nch = max(nch, min(pl.nt, ceilDiv(p, vw)))
		pl.nt = min(pl.nt, nch)
	}
	pl.kc = roundUp(ceilDiv(p, nch), vw)
	pl.nch = ceilDiv(p, pl.kc)
	return pl
}

// chunk returns the range [l0, l1) of p covered by chunk ch.
func (pl *plan) chunk(ch, p int) (l0, l1 int) {
	l0 = ch * pl.kc
	return l0, min(l0+pl.kc, p)
}

// job is what one goroutine does: prepare (pack) chunks [ch0, ch1) of B if
// the plan packs B per goroutine, then compute rows [i0, i1) of the partial
// product over chunks [c0, c1) into c (row stride ldc).
type worker[T Float] interface {
	// prep packs chunks [ch0, ch1) of B into the shared buffer.
	prep(ch0, ch1 int)
	// work sets c[i-i0][:] = Σ over chunks [ch0, ch1) of op(A)[i][l]·B[l][:]
	// for i in [i0, i1).
	work(i0, i1, ch0, ch1 int, c []T, ldc int)
}

// run executes w according to pl: B is packed (prep) for all chunks before
// any goroutine computes with a chunk that another goroutine packed.
func run[T Float](pl *plan, m *mat[T], w worker[T]) {
	if pl.nt == 1 {
		w.prep(0, pl.nch)
		w.work(0, m.r, 0, pl.nch, m.c, m.ldc)
		return
	}
	nt := pl.nt
	var packed, done sync.WaitGroup
	if pl.split == splitRows {
		// Every goroutine reads all of B: pack a share, then wait for all.
		packed.Add(nt)
		tiles := ceilDiv(m.r, pl.rowAlign)
		done.Add(nt)
		for t := 0; t < nt; t++ {
			i0 := min(m.r, t*tiles/nt*pl.rowAlign)
			i1 := min(m.r, (t+1)*tiles/nt*pl.rowAlign)
			ch0, ch1 := t*pl.nch/nt, (t+1)*pl.nch/nt
			f := func() {
				w.prep(ch0, ch1)
				packed.Done()
				packed.Wait()
				if i0 < i1 {
					w.work(i0, i1, 0, pl.nch, m.c[i0*m.ldc:], m.ldc)
				}
				done.Done()
			}
			if t == nt-1 {
				f()
			} else {
				go f()
			}
		}
		done.Wait()
		return
	}
	// Split p: goroutine t > 0 sums its chunks into a private r x k buffer,
	// added into C at the end (in a fixed order, for reproducibility).
	bufs := getBuf[T]((nt - 1) * m.r * m.k)
	part := *bufs
	done.Add(nt)
	for t := 0; t < nt; t++ {
		ch0, ch1 := t*pl.nch/nt, (t+1)*pl.nch/nt
		f := func() {
			w.prep(ch0, ch1)
			if t == 0 {
				w.work(0, m.r, ch0, ch1, m.c, m.ldc)
			} else {
				w.work(0, m.r, ch0, ch1, part[(t-1)*m.r*m.k:], m.k)
			}
			done.Done()
		}
		if t == nt-1 {
			f()
		} else {
			go f()
		}
	}
	done.Wait()
	for t := 1; t < nt; t++ {
		q := part[(t-1)*m.r*m.k:]
		for i := 0; i < m.r; i++ {
			ci := m.c[i*m.ldc : i*m.ldc+m.k]
			qi := q[i*m.k : i*m.k+m.k]
			for j := range ci {
				ci[j] += qi[j]
			}
		}
	}
	putBuf(bufs)
}

// Scratch buffers come from per-type pools so that steady-state calls do
// not allocate.
var pool32, pool64 sync.Pool

// getBuf returns a pooled slice of length n (contents undefined).
func getBuf[T Float](n int) *[]T {
	pool := &pool64
	if isF32[T]() {
		pool = &pool32
	}
	bp, _ := pool.Get().(*[]T)
	if bp == nil {
		bp = new([]T)
	}
	if cap(*bp) < n {
		*bp = make([]T, n, n+n/4)
	}
	*bp = (*bp)[:n]
	return bp
}

// putBuf returns a slice obtained from getBuf to its pool.
func putBuf[T Float](bp *[]T) {
	if isF32[T]() {
		pool32.Put(bp)
	} else {
		pool64.Put(bp)
	}
}

func isF32[T Float]() bool {
	var z T
	_, ok := any(z).(float32)
	return ok
}

// ptr returns a pointer to a heap copy of v.
func ptr[V any](v V) *V { return &v }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, b int) int { return ceilDiv(a, b) * b }
