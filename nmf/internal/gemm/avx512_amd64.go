package gemm

import "golang.org/x/sys/cpu"

// The AVX-512 path (kernels of asm/gen512.go). None of its ways to compute
// C = op(A)·B copies A with a transposition:
//
//   - pathDotN (op(A) = A): the rows of A are read in place, B is
//     transposed into k rows of Bᵀ, and dot kernels compute blocks of
//     MR x NR dot products with vectors along p.
//   - pathBC (op(A) = Aᵀ, many rows of C): a tile of MR = 2 vectors of rows
//     of C is MR contiguous entries of each row of A; the first panel of
//     columns reads them in place and packs them for the others. The
//     entries of B are read in place and broadcast.
//   - pathBCThin (op(A) = Aᵀ, k ≤ 4, as Xᵀ·W of a tiny fit): the same, all of
//     p and all tiles of rows in one kernel call.
//   - pathDotT (op(A) = Aᵀ, few rows of C, such as a k x k product): A is
//     transposed into rows as well, then dot kernels.
//   - pathGram (Aᵀ·A, a and b the same memory and stride): A is transposed
//     once, only the tiles on and above the diagonal are computed and C is
//     mirrored.
//   - pathGramThin (the same with k ≤ 4, serial): one pass over the rows of
//     A, each in one vector.
//
// Transpositions go by permutations (contiguous rows of k ≤ 4 entries), by
// VL x VL blocks in registers, and by gathers for the last rows.

// haveZ: AVX-512 F, VL, DQ and BW with OS support for the ZMM and opmask
// state (which x/sys/cpu checks).
var haveZ = haveSIMD && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL &&
	cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512BW

// Paths of the AVX-512 kernels.
const (
	pathAuto = iota
	pathDotN
	pathDotT
	pathBC
	pathBCThin
	pathGram
	pathGramThin
)

// Test hooks: useZ turns the AVX-512 kernels off (leaving AVX2), forceZ
// forces one of the paths where it applies (pathDotN needs transA false,
// pathBC and pathDotT transA true, pathBCThin transA and k ≤ 4, pathGram a
// Gram product, pathGramThin a Gram product with k ≤ 4).
var (
	useZ   = haveZ
	forceZ = pathAuto
)

type kernZ[T Float] struct {
	vl     int
	dot    [3][8]func(a *T, lda int, b *T, ldb int, c *T, ldc int, n int, acc int, nt int)
	bc     []func(a *T, lda int, b *T, ldb int, ct *T, c *T, ldc int, kc int, mode int, rows int, pf *T, pfs int, pk *T)
	thin   [4]func(a *T, lda int, b *T, ldb int, c *T, ldc int, p int, r int)
	gram   [4]func(a *T, lda int, c *T, ldc int, p int)
	transK [4]func(dst *T, ldd int, src *T, nb int)
	gather func(dst *T, ldd int, src *T, lds int, n int, k int)
	trans  func(dst *T, ldd int, src *T, lds int, nb int, k int)
}

var kernZ32 = &kernZ[float32]{
	vl: 16,
	dot: [3][8]func(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, n int, acc int, nt int){
		{dotZF32_1x1, dotZF32_1x2, dotZF32_1x3, dotZF32_1x4, dotZF32_1x5, dotZF32_1x6, dotZF32_1x7, dotZF32_1x8},
		{dotZF32_2x1, dotZF32_2x2, dotZF32_2x3, dotZF32_2x4, dotZF32_2x5, dotZF32_2x6, dotZF32_2x7, dotZF32_2x8},
		{dotZF32_3x1, dotZF32_3x2, dotZF32_3x3, dotZF32_3x4, dotZF32_3x5, dotZF32_3x6, dotZF32_3x7, dotZF32_3x8},
	},
	bc: []func(a *float32, lda int, b *float32, ldb int, ct *float32, c *float32, ldc int, kc int, mode int, rows int, pf *float32, pfs int, pk *float32){
		bcZF32_1, bcZF32_2, bcZF32_3, bcZF32_4, bcZF32_5, bcZF32_6, bcZF32_7, bcZF32_8, bcZF32_9, bcZF32_10, bcZF32_11, bcZF32_12,
	},
	thin:   [4]func(a *float32, lda int, b *float32, ldb int, c *float32, ldc int, p int, r int){bcZTF32_1, bcZTF32_2, bcZTF32_3, bcZTF32_4},
	gram:   [4]func(a *float32, lda int, c *float32, ldc int, p int){gramZTF32_1, gramZTF32_2, gramZTF32_3, gramZTF32_4},
	transK: [4]func(dst *float32, ldd int, src *float32, nb int){transKF32_1, transKF32_2, transKF32_3, transKF32_4},
	gather: gatherZF32,
	trans:  transZF32,
}

var kernZ64 = &kernZ[float64]{
	vl: 8,
	dot: [3][8]func(a *float64, lda int, b *float64, ldb int, c *float64, ldc int, n int, acc int, nt int){
		{dotZF64_1x1, dotZF64_1x2, dotZF64_1x3, dotZF64_1x4, dotZF64_1x5, dotZF64_1x6, dotZF64_1x7, dotZF64_1x8},
		{dotZF64_2x1, dotZF64_2x2, dotZF64_2x3, dotZF64_2x4, dotZF64_2x5, dotZF64_2x6, dotZF64_2x7, dotZF64_2x8},
		{dotZF64_3x1, dotZF64_3x2, dotZF64_3x3, dotZF64_3x4, dotZF64_3x5, dotZF64_3x6, dotZF64_3x7, dotZF64_3x8},
	},
	bc: []func(a *float64, lda int, b *float64, ldb int, ct *float64, c *float64, ldc int, kc int, mode int, rows int, pf *float64, pfs int, pk *float64){
		bcZF64_1, bcZF64_2, bcZF64_3, bcZF64_4, bcZF64_5, bcZF64_6, bcZF64_7, bcZF64_8,
	},
	thin:   [4]func(a *float64, lda int, b *float64, ldb int, c *float64, ldc int, p int, r int){bcZTF64_1, bcZTF64_2, bcZTF64_3, bcZTF64_4},
	gram:   [4]func(a *float64, lda int, c *float64, ldc int, p int){gramZTF64_1, gramZTF64_2, gramZTF64_3, gramZTF64_4},
	transK: [4]func(dst *float64, ldd int, src *float64, nb int){transKF64_1, transKF64_2, transKF64_3, transKF64_4},
	gather: gatherZF64,
	trans:  transZF64,
}

func kernelsZ[T Float]() *kernZ[T] {
	if isF32[T]() {
		return any(kernZ32).(*kernZ[T])
	}
	return any(kernZ64).(*kernZ[T])
}

// Blocking of the AVX-512 path.
const (
	// zDotMR rows of A per dot kernel call, and at most zDotNR columns.
	zDotMR = 3
	zDotNR = 8
	// zDotL1 bounds a panel of Bᵀ (NR x kc), kept in L1 while the tiles of
	// a block of rows of A stream through it, and two tiles of A (MR x kc,
	// the current one and the next, prefetched).
	zDotL1 = 24 << 10
	// zDotL2 bounds a block of rows of A (mc x kc), reread from L2 for each
	// panel of Bᵀ.
	zDotL2 = 128 << 10
	// zBCKC bounds the chunk of p of the bc kernels: a tile of A (MR x kc)
	// stays in L1 across the panels of B.
	zBCKC = 128
	// zBCTiles tiles of C are finished over all chunks of p before moving on.
	zBCTiles = 8
	// zDotTRows: op(A) = Aᵀ with at most this many rows of C goes through
	// the dot kernels (transposing A), which waste no lanes on few rows.
	zDotTRows = 48
)

// gatherMax bounds the strides of transposed operands, for the 32-bit
// indices of the gathers.
const gatherMax = 1 << 26

// mulZ computes m with the AVX-512 kernels; it reports false where they do
// not apply.
func mulZ[T Float](m mat[T]) bool {
	if !useZ {
		return false
	}
	kn := kernelsZ[T]()
	path := forceZ
	gram := m.transA && m.r == m.k && m.lda == m.ldb && &m.a[0] == &m.b[0]
	switch {
	case path == pathDotN && !m.transA, path == pathDotT && m.transA,
		path == pathBC && m.transA, path == pathGram && gram,
		path == pathBCThin && m.transA && m.k <= len(kn.thin),
		path == pathGramThin && gram && m.k <= len(kn.gram):
	case !m.transA:
		path = pathDotN
	case gram && m.k <= len(kn.gram) && newPlan(m.k, m.k, m.p, m.p, 1, 1).nt == 1:
		path = pathGramThin
	case gram:
		path = pathGram
	case m.k <= len(kn.thin) && m.r > kn.vl:
		// Transposing A would cost about as much as the product.
		path = pathBCThin
	case m.r <= zDotTRows:
		path = pathDotT
	default:
		path = pathBC
	}
	if (path == pathDotN || path == pathDotT || path == pathGram) &&
		(m.ldb >= gatherMax || (m.transA && m.lda >= gatherMax)) {
		return false
	}
	switch path {
	case pathBC:
		mulBCZ(m, kn)
	case pathBCThin:
		mulThinZ(m, kn)
	case pathGramThin:
		kn.gram[m.k-1](&m.a[0], m.lda, &m.c[0], m.ldc, m.p)
	default:
		mulDotZ(m, kn, path)
	}
	return true
}

// mulThinZ computes m (transA, k ≤ 4) with the thin bc kernels.
func mulThinZ[T Float](m mat[T], kn *kernZ[T]) {
	pl := newPlan(m.r, m.k, m.p, m.p, 1, 2*kn.vl)
	w := thinZWorker[T]{m: m, kn: kn, kc: pl.kc}
	if pl.nt == 1 {
		w.work(0, m.r, 0, pl.nch, m.c, m.ldc)
	} else {
		run(ptr(pl), ptr(m), worker[T](ptr(w)))
	}
}

type thinZWorker[T Float] struct {
	m  mat[T]
	kn *kernZ[T]
	kc int
}

func (w *thinZWorker[T]) panels() int { return 1 }

// prep does nothing: A and B are read in place.
func (w *thinZWorker[T]) prep(u0, u1 int) {}

// work sets rows [i0, i1) of C to the sum over chunks [ch0, ch1), in one
// call.
func (w *thinZWorker[T]) work(i0, i1, ch0, ch1 int, c []T, ldc int) {
	m := &w.m
	l0, l1 := ch0*w.kc, min(ch1*w.kc, m.p)
	w.kn.thin[m.k-1](&m.a[l0*m.lda+i0], m.lda, &m.b[l0*m.ldb], m.ldb, &c[0], ldc, l1-l0, i1-i0)
}

// panelCount and panelRange split k columns into the fewest panels of at
// most nrMax columns, of nearly equal widths: panel q is columns
// [q·k/np, (q+1)·k/np).
func panelCount(k, nrMax int) int { return ceilDiv(k, nrMax) }

func panelRange(q, np, k int) (j0, nr int) {
	j0 = q * k / np
	return j0, (q+1)*k/np - j0
}

// mulDotZ computes m with the dot kernels (pathDotN, pathDotT, pathGram).
func mulDotZ[T Float](m mat[T], kn *kernZ[T], path int) {
	size := 64 / kn.vl // bytes per element: a ZMM vector is 64 bytes
	np := panelCount(m.k, zDotNR)
	nrMax := ceilDiv(m.k, np)
	kcMax := max(4*kn.vl, zDotL1/((2*zDotMR+nrMax)*size)/kn.vl*kn.vl)
	pl := newPlan(m.r, m.k, m.p, kcMax, kn.vl, zDotMR)
	w := dotZWorker[T]{m: m, kn: kn, kc: pl.kc, np: np, path: path}
	// Transposed rows, p long, padded to whole cache lines, and so that rows
	// read together do not map to the same sets of L1 (strides near a
	// multiple of 4 KiB).
	w.ld = roundUp(m.p, kn.vl)
	if r := w.ld * size % 4096; r < 512 || r > 4096-512 {
		w.ld += (1024 - r + 4096) % 4096 / size
	}
	n := m.k
	if path == pathDotT {
		n += m.r
	}
	buf := getBuf[T](n * w.ld)
	w.bt = (*buf)[:m.k*w.ld]
	if path == pathDotT {
		w.at = (*buf)[m.k*w.ld:]
	}
	if pl.nt == 1 {
		w.prep(0, pl.nch)
		w.work(0, m.r, 0, pl.nch, m.c, m.ldc)
	} else {
		run(ptr(pl), ptr(m), worker[T](ptr(w)))
	}
	putBuf(buf)
	if path == pathGram {
		// Only the entries on and above the diagonal were computed.
		for i := 1; i < m.r; i++ {
			ci := m.c[i*m.ldc : i*m.ldc+i]
			for j := range ci {
				ci[j] = m.c[j*m.ldc+i]
			}
		}
	}
}

type dotZWorker[T Float] struct {
	m    mat[T]
	kn   *kernZ[T]
	kc   int
	np   int // panels of columns of C
	path int
	ld   int // row stride of at and bt
	at   []T // transposed rows of op(A) (pathDotT)
	bt   []T // transposed rows of Bᵀ (for pathGram, also those of op(A))
}

func (w *dotZWorker[T]) panels() int { return 1 }

// prep transposes chunks [u0, u1) of p of B (and of A, pathDotT).
func (w *dotZWorker[T]) prep(u0, u1 int) {
	m := &w.m
	for ch := u0; ch < u1; ch++ {
		l0, l1 := ch*w.kc, min((ch+1)*w.kc, m.p)
		w.transpose(w.bt[l0:], m.b[l0*m.ldb:], m.ldb, l1-l0, m.k)
		if w.at != nil {
			w.transpose(w.at[l0:], m.a[l0*m.lda:], m.lda, l1-l0, m.r)
		}
	}
}

// transpose sets dst[j·w.ld + l] = src[l·lds + j] for l < n, j < k: whole
// blocks of rows by permutations (contiguous rows of k ≤ 4) or transposes
// in registers, the rest by gathers.
func (w *dotZWorker[T]) transpose(dst, src []T, lds, n, k int) {
	vl := w.kn.vl
	nb := n / vl
	switch {
	case nb > 0 && lds == k && k <= len(w.kn.transK):
		w.kn.transK[k-1](&dst[0], w.ld, &src[0], nb)
	case nb > 0:
		w.kn.trans(&dst[0], w.ld, &src[0], lds, nb, k)
	}
	if n > nb*vl {
		w.kn.gather(&dst[nb*vl], w.ld, &src[nb*vl*lds], lds, n-nb*vl, k)
	}
}

// work computes rows [i0, i1) of C over chunks [ch0, ch1): for each block of
// rows and chunk, each panel of Bᵀ (in L1) meets all tiles of the block
// (from L2).
func (w *dotZWorker[T]) work(i0, i1, ch0, ch1 int, c []T, ldc int) {
	m, kn := &w.m, w.kn
	a, lda := m.a, m.lda
	switch w.path {
	case pathDotT:
		a, lda = w.at, w.ld
	case pathGram:
		a, lda = w.bt, w.ld
	}
	size := 64 / kn.vl // bytes per element: a ZMM vector is 64 bytes
	mc := max(zDotMR, zDotL2/(w.kc*size)/zDotMR*zDotMR)
	for ib := i0; ib < i1; ib += mc {
		ie := min(ib+mc, i1)
		for ch := ch0; ch < ch1; ch++ {
			l0, l1 := ch*w.kc, min((ch+1)*w.kc, m.p)
			acc := 0
			if ch > ch0 {
				acc = 1
			}
			for q := 0; q < w.np; q++ {
				j0, nr := panelRange(q, w.np, m.k)
				bp := &w.bt[j0*w.ld+l0]
				e := ie
				if w.path == pathGram {
					e = min(e, j0+nr) // tiles below the diagonal are skipped
				}
				// Whole tiles in one call, then the rest.
				if nt := (e - ib) / zDotMR; nt > 0 {
					kn.dot[zDotMR-1][nr-1](&a[ib*lda+l0], lda, bp, w.ld, &c[(ib-i0)*ldc+j0], ldc, l1-l0, acc, nt)
				}
				if i := ib + (e-ib)/zDotMR*zDotMR; i < e {
					kn.dot[e-i-1][nr-1](&a[i*lda+l0], lda, bp, w.ld, &c[(i-i0)*ldc+j0], ldc, l1-l0, acc, 1)
				}
			}
		}
	}
}

// mulBCZ computes m (transA) with the bc kernels.
func mulBCZ[T Float](m mat[T], kn *kernZ[T]) {
	mr := 2 * kn.vl
	pl := newPlan(m.r, m.k, m.p, zBCKC, 1, mr)
	w := bcZWorker[T]{m: m, kn: kn, kc: pl.kc, np: panelCount(m.k, len(kn.bc))}
	if pl.nt == 1 {
		w.work(0, m.r, 0, pl.nch, m.c, m.ldc)
	} else {
		run(ptr(pl), ptr(m), worker[T](ptr(w)))
	}
}

type bcZWorker[T Float] struct {
	m  mat[T]
	kn *kernZ[T]
	kc int
	np int
}

func (w *bcZWorker[T]) panels() int { return 1 }

// prep does nothing: A and B are read in place.
func (w *bcZWorker[T]) prep(u0, u1 int) {}

func (w *bcZWorker[T]) work(i0, i1, ch0, ch1 int, c []T, ldc int) {
	m, kn := &w.m, w.kn
	k, lda, ldb := m.k, m.lda, m.ldb
	mr := 2 * kn.vl
	lineEl := kn.vl // elements per 64-byte cache line: one ZMM vector
	tiles := min(zBCTiles, ceilDiv(i1-i0, mr))
	ctBuf := getBuf[T](tiles * mr * k)
	ct := *ctBuf
	// With several panels, each tile is read once per panel: pack it
	// (contiguous, from L1). A single panel reads A once, in place.
	pack := w.np > 1
	var pk []T
	var pkBuf *[]T
	if pack {
		pkBuf = getBuf[T](tiles * mr * w.kc)
		pk = *pkBuf
	}
	for ib := i0; ib < i1; ib += tiles * mr {
		ie := min(ib+tiles*mr, i1)
		for ch := ch0; ch < ch1; ch++ {
			l0, l1 := ch*w.kc, min((ch+1)*w.kc, m.p)
			lc := l1 - l0
			mode := 0
			if ch > ch0 {
				mode = 1
			}
			if ch == ch1-1 {
				mode |= 2
			}
			// The kernels prefetch the block of A packed next, one column
			// of cache lines per call: rows [nl0, nl0+lc) of A, entries
			// [nib, nie).
			nl0, nib, nie := l1, ib, ie
			if ch == ch1-1 {
				nl0, nib, nie = ch0*w.kc, ie, min(ie+tiles*mr, i1)
			}
			lineCols := ceilDiv(nie-nib, lineEl)
			pfBase := m.a[min(nl0*lda+nib, len(m.a)-1):]
			if !pack || nib >= nie || nl0 >= m.p {
				lineCols, pfBase = 1, m.a[l0*lda+ib:]
			}
			u := 0
			for i := ib; i < ie; i += mr {
				rows := min(mr, ie-i)
				ctt := ct[(i-ib)*k:]
				for q := 0; q < w.np; q++ {
					j0, nr := panelRange(q, w.np, k)
					pf := &pfBase[min(u%lineCols*lineEl, len(pfBase)-1)]
					if !pack && i+mr < ie {
						pf = &m.a[l0*lda+i+mr] // the next tile
					}
					u++
					// The first panel reads the tile in place and packs it
					// for the others.
					ap, ldap, pkp := &m.a[l0*lda+i], lda, (*T)(nil)
					if pack {
						if q == 0 {
							pkp = &pk[(i-ib)*lc]
						} else {
							ap, ldap = &pk[(i-ib)*lc], mr
						}
					}
					kn.bc[nr-1](ap, ldap, &m.b[l0*ldb+j0], ldb, &ctt[j0*mr], &c[(i-i0)*ldc+j0], ldc, lc, mode, rows, pf, lda, pkp)
				}
			}
		}
	}
	putBuf(ctBuf)
	if pack {
		putBuf(pkBuf)
	}
}
