package gemm

import "golang.org/x/sys/cpu"

// haveSIMD: the generated kernels need AVX2 (with OS support for YMM state,
// which x/sys/cpu checks) and FMA.
var haveSIMD = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kern is the set of generated kernels for one element type.
type kern[T Float] struct {
	vw    int // elements per YMM vector
	dot   [3][4]func(a *T, lda int, b *T, c *T, ldc int, nv int, tail int, acc int, pf *T)
	bc    [6]func(a *T, b *T, c *T, kc int, acc int)
	packT func(dst *T, src *T, lds int, kc int, ntiles int)
	packN func(dst *T, src *T, lds int, lc int, nl int, ntiles int)
}

var kern32 = &kern[float32]{
	vw: 8,
	dot: [3][4]func(a *float32, lda int, b *float32, c *float32, ldc int, nv int, tail int, acc int, pf *float32){
		{dotF32_1x1, dotF32_1x2, dotF32_1x3, dotF32_1x4},
		{dotF32_2x1, dotF32_2x2, dotF32_2x3, dotF32_2x4},
		{dotF32_3x1, dotF32_3x2, dotF32_3x3, dotF32_3x4},
	},
	bc:    [6]func(a *float32, b *float32, c *float32, kc int, acc int){bcF32_1, bcF32_2, bcF32_3, bcF32_4, bcF32_5, bcF32_6},
	packT: packTF32,
	packN: packNF32,
}

var kern64 = &kern[float64]{
	vw: 4,
	dot: [3][4]func(a *float64, lda int, b *float64, c *float64, ldc int, nv int, tail int, acc int, pf *float64){
		{dotF64_1x1, dotF64_1x2, dotF64_1x3, dotF64_1x4},
		{dotF64_2x1, dotF64_2x2, dotF64_2x3, dotF64_2x4},
		{dotF64_3x1, dotF64_3x2, dotF64_3x3, dotF64_3x4},
	},
	bc:    [6]func(a *float64, b *float64, c *float64, kc int, acc int){bcF64_1, bcF64_2, bcF64_3, bcF64_4, bcF64_5, bcF64_6},
	packT: packTF64,
	packN: packNF64,
}

func kernels[T Float]() *kern[T] {
	if isF32[T]() {
		return any(kern32).(*kern[T])
	}
	return any(kern64).(*kern[T])
}

// Blocking parameters, for 32 KiB L1d and ≥ 512 KiB L2 per core.
const (
	// dotBudget bounds the packed Bᵀ chunk (kc x k), reread from L2 for
	// every tile of three rows of A.
	dotBudget = 256 << 10
	// dotRowBytes bounds a chunk of one row of A: the three rows of a tile
	// (plus the next tile, prefetched) stay in L1 across the k/4 kernel
	// calls. Longer chunks amortise the horizontal sums better.
	dotRowBytes = 4 << 10
	// dotMC rows of C are finished over all chunks before moving on, so
	// that this block of C stays in cache.
	dotMC = 3 * 64

	// bcKC bounds the chunk of p of the transposed path: a packed B panel
	// (bcKC x 6) stays in L1 while the tiles of A stream from L2.
	bcKC = 256
	// bcTiles tiles of A (bcTiles·MR x kc, 256 KiB) are packed at a time
	// and stay in L2 across the panels of B.
	bcTiles = 16
)

// mulSIMD computes m with the AVX-512 kernels where they apply, else with
// the AVX2+FMA kernels.
func mulSIMD[T Float](m mat[T]) bool {
	if mulZ(m) {
		return true
	}
	kn := kernels[T]()
	if m.transA || !dotFits(m) {
		mulBC(m, kn)
	} else {
		mulDot(m, kn)
	}
	return true
}

// mulDot computes C = A·B: tiles of up to 3 rows of A, read in place, times
// panels of up to 4 columns of B packed transposed, vectors along p.
func mulDot[T Float](m mat[T], kn *kern[T]) {
	size := 8
	if isF32[T]() {
		size = 4
	}
	vw := kn.vw
	kcMax := max(8*vw, min(dotRowBytes/size, dotBudget/(m.k*size)/vw*vw))
	pl := newPlan(m.r, m.k, m.p, kcMax, vw, 3)
	// Packed Bᵀ: chunk at l0·k, each panel [vector][column][lane], zero
	// padded to whole vectors.
	buf := getBuf[T](roundUp(m.p, vw) * m.k)
	w := dotWorker[T]{m: m, kn: kn, kc: pl.kc, bt: *buf}
	if pl.nt == 1 {
		w.prep(0, pl.nch*w.panels())
		w.work(0, m.r, 0, pl.nch, m.c, m.ldc)
	} else {
		run(ptr(pl), ptr(m), worker[T](ptr(w)))
	}
	putBuf(buf)
}

type dotWorker[T Float] struct {
	m  mat[T]
	kn *kern[T]
	kc int
	bt []T
}

func (w *dotWorker[T]) panels() int { return ceilDiv(w.m.k, 4) }

// prep packs panels of 4 columns of Bᵀ.
func (w *dotWorker[T]) prep(u0, u1 int) {
	m, vw := &w.m, w.kn.vw
	k, ldb := m.k, m.ldb
	np := w.panels()
	for u := u0; u < u1; u++ {
		ch, j0 := u/np, u%np*4
		l0, l1 := ch*w.kc, min((ch+1)*w.kc, m.p)
		nv := ceilDiv(l1-l0, vw)
		dst := w.bt[l0*k : l0*k+nv*vw*k]
		{
			nr := min(4, k-j0)
			pan := dst[nv*vw*j0 : nv*vw*(j0+nr)]
			for l := l0; l < l1; l++ {
				src := m.b[l*ldb+j0 : l*ldb+j0+nr]
				q := pan[((l-l0)/vw*nr)*vw+(l-l0)%vw:]
				for jj, v := range src {
					q[jj*vw] = v
				}
			}
			// Lanes past p meet zeros from the masked loads of A; they
			// must be finite.
			for l := l1 - l0; l < nv*vw; l++ {
				q := pan[(l/vw*nr)*vw+l%vw:]
				for jj := 0; jj < nr; jj++ {
					q[jj*vw] = 0
				}
			}
		}
	}
}

// work computes rows [i0, i1) of C over chunks [ch0, ch1).
func (w *dotWorker[T]) work(i0, i1, ch0, ch1 int, c []T, ldc int) {
	m, kn, vw := &w.m, w.kn, w.kn.vw
	k, lda := m.k, m.lda
	for ib := i0; ib < i1; ib += dotMC {
		ie := min(ib+dotMC, i1)
		for ch := ch0; ch < ch1; ch++ {
			l0, l1 := ch*w.kc, min((ch+1)*w.kc, m.p)
			lc := l1 - l0
			nv, tail := lc/vw, lc%vw
			nva := ceilDiv(lc, vw)
			bt := w.bt[l0*k:]
			acc := 0
			if ch > ch0 {
				acc = 1
			}
			for i := ib; i < ie; i += 3 {
				mr := min(3, ie-i)
				ap := &m.a[i*lda+l0]
				pf := ap
				if i+3 < ie {
					pf = &m.a[(i+3)*lda+l0]
				}
				ci := c[(i-i0)*ldc:]
				for j0 := 0; j0 < k; j0 += 4 {
					nr := min(4, k-j0)
					kn.dot[mr-1][nr-1](ap, lda, &bt[nva*vw*j0], &ci[j0], ldc, nv, tail, acc, pf)
				}
			}
		}
	}
}

// forceN, for tests, forces the dot (1) or bc (2) kernels for C = A·B.
var forceN = 0

// dotFits reports whether C = A·B should use the dot kernels, which read A
// in place, rather than pack A (transposing it) for the bc kernels. Reading
// in place is as fast or faster, and much faster for thin products (k = 3),
// except for many long rows streamed from memory (1,150 x 18,000), which
// packing reads sequentially with prefetching.
func dotFits[T Float](m mat[T]) bool {
	if forceN != 0 {
		return forceN == 1
	}
	size := 8
	if isF32[T]() {
		size = 4
	}
	return m.p*size <= 2*dotRowBytes || m.r < 128
}

// pack packs rows [ib, ie) and columns [l0, l1) of op(A) into tiles of mr
// rows, [tile][l1-l0][mr], padding the last tile with zeros.
func (w *bcWorker[T]) pack(ap []T, ib, ie, l0, l1 int) {
	m, kn := &w.m, w.kn
	lda, vw := m.lda, kn.vw
	mr := 2 * vw
	lc := l1 - l0
	nt := ceilDiv(ie-ib, mr)
	full := (ie - ib) / mr
	if m.transA {
		// op(A)[i][l] = a[l*lda+i]: a tile is mr consecutive entries of
		// each of lc rows of A.
		if full > 0 {
			kn.packT(&ap[0], &m.a[l0*lda+ib], lda, lc, full)
		}
		if full < nt {
			i := ib + full*mr
			for l := l0; l < l1; l++ {
				q := ap[(full*lc+l-l0)*mr:][:mr]
				n := copy(q, m.a[l*lda+i:l*lda+ie])
				clear(q[n:])
			}
		}
		return
	}
	// op(A)[i][l] = a[i*lda+l]: transpose blocks of vw x vw, then the
	// columns past the last whole block and the rows of the last tile.
	nl := lc / vw * vw
	if full > 0 && nl > 0 {
		kn.packN(&ap[0], &m.a[ib*lda+l0], lda, lc, nl, full)
	}
	for t := 0; t < nt; t++ {
		from := 0
		if t < full {
			from = nl
		}
		for v := 0; v < mr; v++ {
			i := ib + t*mr + v
			q := ap[t*lc*mr+v:]
			if i >= ie {
				for l := from; l < lc; l++ {
					q[l*mr] = 0
				}
				continue
			}
			src := m.a[i*lda+l0 : i*lda+l1]
			for l := from; l < lc; l++ {
				q[l*mr] = src[l]
			}
		}
	}
}

// mulBC computes C = Aᵀ·B: tiles of MR = 2 vectors of rows of C, packed from
// rows of A, times panels of up to 6 columns of B, whose entries are
// broadcast.
func mulBC[T Float](m mat[T], kn *kern[T]) {
	mr := 2 * kn.vw
	pl := newPlan(m.r, m.k, m.p, bcKC, 1, mr)
	// Packed B: chunk at l0·k, panels [l][6] at l0·k + lc·j0.
	buf := getBuf[T](m.p * m.k)
	w := bcWorker[T]{m: m, kn: kn, kc: pl.kc, bp: *buf}
	if pl.nt == 1 {
		w.prep(0, pl.nch*w.panels())
		w.work(0, m.r, 0, pl.nch, m.c, m.ldc)
	} else {
		run(ptr(pl), ptr(m), worker[T](ptr(w)))
	}
	putBuf(buf)
}

type bcWorker[T Float] struct {
	m  mat[T]
	kn *kern[T]
	kc int
	bp []T
}

func (w *bcWorker[T]) panels() int { return ceilDiv(w.m.k, 6) }

// prep packs panels of 6 columns of B.
func (w *bcWorker[T]) prep(u0, u1 int) {
	m := &w.m
	k, ldb := m.k, m.ldb
	np := w.panels()
	for u := u0; u < u1; u++ {
		ch, j0 := u/np, u%np*6
		nr := min(6, k-j0)
		l0, l1 := ch*w.kc, min((ch+1)*w.kc, m.p)
		lc := l1 - l0
		dst := w.bp[l0*k+lc*j0 : l0*k+lc*(j0+nr)]
		for l := l0; l < l1; l++ {
			src := m.b[l*ldb+j0 : l*ldb+j0+nr]
			q := dst[(l-l0)*nr:][:nr]
			for j, v := range src {
				q[j] = v
			}
		}
	}
}

// work computes rows [i0, i1) of C over chunks [ch0, ch1).
func (w *bcWorker[T]) work(i0, i1, ch0, ch1 int, c []T, ldc int) {
	m, kn := &w.m, w.kn
	k := m.k
	mr := 2 * kn.vw
	tiles := min(bcTiles, ceilDiv(i1-i0, mr))
	apBuf := getBuf[T](tiles * mr * w.kc)
	ctBuf := getBuf[T](tiles * mr * k)
	ap, ct := *apBuf, *ctBuf
	for ib := i0; ib < i1; ib += tiles * mr {
		ie := min(ib+tiles*mr, i1)
		nt := ceilDiv(ie-ib, mr)
		for ch := ch0; ch < ch1; ch++ {
			l0, l1 := ch*w.kc, min((ch+1)*w.kc, m.p)
			lc := l1 - l0
			w.pack(ap, ib, ie, l0, l1)
			acc := 0
			if ch > ch0 {
				acc = 1
			}
			for j0 := 0; j0 < k; j0 += 6 {
				nr := min(6, k-j0)
				bp := &w.bp[l0*k+lc*j0]
				f := kn.bc[nr-1]
				for t := 0; t < nt; t++ {
					f(&ap[t*lc*mr], bp, &ct[(t*k+j0)*mr], lc, acc)
				}
			}
		}
		// The tiles hold C column by column: transpose them into place.
		for i := ib; i < ie; i++ {
			t, v := (i-ib)/mr, (i-ib)%mr
			ci := c[(i-i0)*ldc:][:k]
			src := ct[t*k*mr+v:]
			for j := range ci {
				ci[j] = src[j*mr]
			}
		}
	}
	putBuf(apBuf)
	putBuf(ctBuf)
}
