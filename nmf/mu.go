package nmf

import (
	"math"
	"runtime"
	"sync"
)

// muGamma is the exponent of the majorisation-minimisation updates of
// Févotte & Idier (2011), as scikit-learn's _fit_multiplicative_update:
//
//	γ = 1/(2-β) for β < 1,  1 for 1 ≤ β ≤ 2,  1/(β-1) for β > 2.
func muGamma(beta float64) float64 {
	switch {
	case beta < 1:
		return 1 / (2 - beta)
	case beta > 2:
		return 1 / (beta - 1)
	}
	return 1
}

// muTransformStart fills w (n x k) with sqrt(mean(X)/k), the starting W of
// scikit-learn's transform (update_H=False) with solver 'mu' (a
// multiplicative update cannot move a zero), given mean64 = mean(X). The
// mean has X's dtype.
func muTransformStart[T Float](mean64 float64, w []T, k int) {
	avg := T(math.Sqrt(float64(T(mean64) / T(k))))
	for i := range w {
		w[i] = avg
	}
}

// muState is the working memory of the multiplicative update solver.
type muState[T Float] struct {
	x       Dense[T]
	n, m, k int
	w       []T // n x k, row-major
	ht      []T // Hᵀ: m x k, row-major
	beta    float64
	gamma   float64
	reg     regularization
	updateH bool

	num, den []T // max(n, m) x k
	gramBuf  []T // k x k
	bt       []T // k x max(n, m): Bᵀ of the current factored view
	p, q     []T // blocks of W H (beta != 2)

	// Kept across iterations while H is fixed (update_H=False), as
	// scikit-learn keeps XHt and HHt (beta = 2) or H_sum (beta = 1).
	xht, hht []T
	hsum     []T
	cached   bool
}

// fitMU runs scikit-learn's _fit_multiplicative_update on w and ht in place.
// With V = W H, each iteration updates
//
//	W ← W ∘ (N_W / D_W)^γ,  then, if updateH,  H ← H ∘ (N_H / D_H)^γ,
//
// where (ε = float32 eps, V⁺ = max(V, ε) where β < 2, V⁺⁺ = max(V, ε)
// where β < 1; β = 0 and β = 1 are the same formulas, the latter with
// D_W[i,j] = Σ_l H[j,l] and D_H[j,l] = Σ_i W[i,j], a zero column sum of W
// counting as 1)
//
//	β = 2:  N_W = X Hᵀ,                D_W = W (H Hᵀ)
//	        N_H = Wᵀ X,                D_H = (Wᵀ W) H
//	else:   N_W = (X ∘ V⁺^(β-2)) Hᵀ,   D_W = V⁺⁺^(β-1) Hᵀ
//	        N_H = Wᵀ (X ∘ V⁺^(β-2)),   D_H = Wᵀ V⁺⁺^(β-1)
//
// and the penalties enter the denominators: D_W + l1W + l2W W and
// D_H + l1H + l2H H (with scikit-learn's scaling, see regularization);
// a zero denominator becomes ε. After the W step, W entries below float64
// eps are zeroed when β < 1; after the H step, H entries when β ≤ 1.
//
// For β = 2 no n x m matrix is formed (the Gram trick above). For β ≠ 2, V
// is formed a block of about blockElems entries at a time: the updates need
// two such blocks (V⁺ terms for N and D), so the extra memory is O(k(n+m))
// plus 2 blockElems elements, not scikit-learn's three n x m temporaries.
//
// Every 10 iterations, when tol > 0, the error e = sqrt(2 D_β(X, W H)) is
// computed and the loop stops when (e_prev - e) / e_init < tol, e_init
// being the error at the start. It returns scikit-learn's n_iter and whether
// that test (not maxIter) ended the loop.
func fitMU[T Float](x Dense[T], w, ht []T, p Params, reg regularization, ctl Control) (nIter int, converged bool, err error) {
	n, m, k := x.Rows, x.Cols, p.Components
	s := &muState[T]{
		x: x, n: n, m: m, k: k, w: w, ht: ht,
		beta: p.BetaLoss, gamma: muGamma(p.BetaLoss), reg: reg, updateH: p.UpdateH,
		num:     make([]T, max(n, m)*k),
		den:     make([]T, max(n, m)*k),
		gramBuf: make([]T, k*k),
		bt:      make([]T, max(n, m)*k),
	}
	if s.beta != 2 { // blocks of V: one for F, one for E (not needed for beta = 1)
		rows, cols, _, _ := x.storage()
		f := factored[T]{rows: rows, cols: cols, k: k}
		sz := max(f.blockRows()*cols, f.blockCols()*rows)
		s.p = make([]T, sz)
		if s.beta != 1 {
			s.q = make([]T, sz)
		}
	}

	errInit := betaDivergence(x, w, ht, k, s.beta, true)
	prevErr := errInit
	for nIter = 1; nIter <= p.MaxIter; nIter++ {
		if ctl != nil && ctl.Cancelled() {
			return nIter - 1, false, ErrInterrupted
		}
		s.updateW()
		if s.beta < 1 {
			zeroBelow(w, eps64)
		}
		if s.updateH {
			s.updateHt()
			if s.beta <= 1 {
				zeroBelow(ht, eps64)
			}
		}
		loss := math.NaN()
		stop := false
		if p.Tol > 0 && nIter%10 == 0 {
			e := betaDivergence(x, w, ht, k, s.beta, true)
			loss = e
			if (prevErr-e)/errInit < p.Tol {
				stop = true
			}
			prevErr = e
		}
		if ctl != nil {
			ctl.Progress(nIter, p.MaxIter, loss)
		}
		if stop {
			return nIter, true, nil
		}
	}
	return p.MaxIter, false, nil
}

// zeroBelow sets the entries of a below t to zero (t compared in float64,
// as numpy compares a float32 array with a float64 scalar).
func zeroBelow[T Float](a []T, t float64) {
	for i, v := range a {
		if float64(v) < t {
			a[i] = 0
		}
	}
}

// updateW performs scikit-learn's _multiplicative_update_w.
func (s *muState[T]) updateW() {
	n, k := s.n, s.k
	num, den := s.num[:n*k], s.den[:n*k]
	switch s.beta {
	case 2:
		if !s.cached {
			if s.xht == nil {
				s.xht = make([]T, n*k)
				s.hht = make([]T, k*k)
			}
			xTimes(s.x, s.ht, k, s.xht)
			gram(s.ht, s.m, k, s.hht)
			s.cached = !s.updateH
		}
		copy(num, s.xht)
		gemm(false, false, n, k, k, 1, s.w, k, s.hht, k, 0, den, k)
		muApply(s.w, num, den, nil, k, s.reg.l1W, s.reg.l2W, s.gamma)
	case 1:
		s.ratioNumerator(true, num, nil)
		if !s.cached {
			// H_sum = Σ_l H[:, l]; scikit-learn adds l1W to it in place
			// and keeps it while H is fixed, so with update_H=False the
			// denominator grows by l1W every iteration. Mirrored.
			s.hsum = colSums(s.ht, k, s.hsum)
			s.cached = !s.updateH
		}
		muApply(s.w, num, nil, s.hsum, k, s.reg.l1W, s.reg.l2W, s.gamma)
	default:
		s.ratioNumerator(true, num, den)
		muApply(s.w, num, den, nil, k, s.reg.l1W, s.reg.l2W, s.gamma)
	}
}

// updateHt performs scikit-learn's _multiplicative_update_h on Hᵀ.
func (s *muState[T]) updateHt() {
	m, k := s.m, s.k
	num, den := s.num[:m*k], s.den[:m*k]
	switch s.beta {
	case 2:
		// N_Hᵀ = Xᵀ W, D_Hᵀ = Hᵀ (Wᵀ W).
		xtTimes(s.x, s.w, k, num)
		gram(s.w, s.n, k, s.gramBuf)
		gemm(false, false, m, k, k, 1, s.ht, k, s.gramBuf, k, 0, den, k)
		muApply(s.ht, num, den, nil, k, s.reg.l1H, s.reg.l2H, s.gamma)
	case 1:
		s.ratioNumerator(false, num, nil)
		wsum := colSums(s.w, k, nil)
		for j, v := range wsum {
			if v == 0 {
				wsum[j] = 1
			}
		}
		muApply(s.ht, num, nil, wsum, k, s.reg.l1H, s.reg.l2H, s.gamma)
	default:
		s.ratioNumerator(false, num, den)
		muApply(s.ht, num, den, nil, k, s.reg.l1H, s.reg.l2H, s.gamma)
	}
}

// colSums returns the k column sums of the row-major a (· x k), summed in
// float64 and rounded to T, in dst when it has room.
func colSums[T Float](a []T, k int, dst []T) []T {
	acc := make([]float64, k)
	for i := 0; i < len(a); i += k {
		for j, v := range a[i : i+k] {
			acc[j] += float64(v)
		}
	}
	if cap(dst) < k {
		dst = make([]T, k)
	}
	dst = dst[:k]
	for j, v := range acc {
		dst[j] = T(v)
	}
	return dst
}

// ratioNumerator computes, for β ≠ 2, the numerator and (den non-nil)
// denominator of the W step (forW) or of the Hᵀ step:
//
//	N_W = F Hᵀ, D_W = E Hᵀ, N_Hᵀ = Fᵀ W, D_Hᵀ = Eᵀ W
//
// with F = X ∘ V⁺^(β-2) (X / V⁺ for β = 1, X ∘ (1/V⁺)² for β = 0) and
// E = V⁺⁺^(β-1), V = W H. Through the factored view G ≈ A Bᵀ of X's
// memory, the factor whose rows index G's rows (A) takes blocks of rows of
// G, the other (B) blocks of columns, so each output block is one product
// op(P)·M of a block P of F or E with a factor M, and no n x m matrix is
// formed.
func (s *muState[T]) ratioNumerator(forW bool, num, den []T) {
	f := newFactored(s.x, s.w, s.ht, s.k, s.bt)
	k := s.k
	// The updated factor is A when X is row-major and W is updated, or X is
	// column-major (A = Hᵀ) and Hᵀ is updated.
	sideA := forW != s.x.ColMajor
	p, q := s.p, s.q
	if sideA {
		br := f.blockRows()
		for r0 := 0; r0 < f.rows; r0 += br {
			nr := min(br, f.rows-r0)
			f.rowBlock(r0, nr, p)
			parallelRows(nr, f.cols, func(i0, i1 int) {
				for i := i0; i < i1; i++ {
					g := f.data[(r0+i)*f.ld : (r0+i)*f.ld+f.cols]
					s.ratios(g, p[i*f.cols:(i+1)*f.cols], q, i*f.cols, den != nil)
				}
			})
			// N[r0:r0+nr] = F_blk B, D[r0:r0+nr] = E_blk B.
			gemm(false, false, nr, k, f.cols, 1, p, f.cols, f.b, k, 0, num[r0*k:], k)
			if den != nil {
				gemm(false, false, nr, k, f.cols, 1, q, f.cols, f.b, k, 0, den[r0*k:], k)
			}
		}
		return
	}
	bc := f.blockCols()
	for c0 := 0; c0 < f.cols; c0 += bc {
		nc := min(bc, f.cols-c0)
		f.colBlock(c0, nc, p)
		parallelRows(f.rows, nc, func(i0, i1 int) {
			for i := i0; i < i1; i++ {
				g := f.data[i*f.ld+c0 : i*f.ld+c0+nc]
				s.ratios(g, p[i*nc:(i+1)*nc], q, i*nc, den != nil)
			}
		})
		// N[c0:c0+nc] = F_blkᵀ A, D[c0:c0+nc] = E_blkᵀ A.
		gemm(true, false, nc, k, f.rows, 1, p, nc, f.a, k, 0, num[c0*k:], k)
		if den != nil {
			gemm(true, false, nc, k, f.rows, 1, q, nc, f.a, k, 0, den[c0*k:], k)
		}
	}
}

// ratios turns v, a stretch of V = W H next to the same stretch g of X,
// into F = X ∘ V⁺^(β-2) in place and, with wantE, E = V⁺⁺^(β-1) into
// q[off:], in the order and precision of scikit-learn's numpy code.
func (s *muState[T]) ratios(g, v, q []T, off int, wantE bool) {
	eps := T(epsilon)
	beta := s.beta
	bm1, bm2 := T(beta-1), T(beta-2)
	if wantE {
		e := q[off : off+len(v)]
		for j, vv := range v {
			if beta < 1 && vv < eps {
				vv = eps
			}
			e[j] = powT(vv, bm1)
		}
	}
	switch {
	case beta == 1:
		for j, vv := range v {
			v[j] = g[j] / max(vv, eps)
		}
	case beta == 0:
		for j, vv := range v {
			r := 1 / max(vv, eps)
			v[j] = r * r * g[j]
		}
	default:
		for j, vv := range v {
			if beta < 2 && vv < eps {
				vv = eps
			}
			v[j] = powT(vv, bm2) * g[j]
		}
	}
}

// muApply performs the multiplicative step a ← a ∘ (num / den)^γ on a
// (rows x k, row-major) with scikit-learn's handling of the denominator:
// den += l1 (when l1 > 0), den = den + l2 a (when l2 > 0), then zeros of den
// become ε. den is either a full matrix like a, or nil with vec (k values)
// broadcast along the rows; vec is then updated in place as numpy updates
// the broadcast view (+= l1, and, without l2, its zeros set to ε).
func muApply[T Float](a, num, den, vec []T, k int, l1, l2, gamma float64) {
	eps := T(epsilon)
	l1t, l2t, gt := T(l1), T(l2), T(gamma)
	if vec != nil {
		for j := range vec {
			if l1 > 0 {
				vec[j] += l1t
			}
			if !(l2 > 0) && vec[j] == 0 {
				vec[j] = eps
			}
		}
	}
	for i := 0; i < len(a); i += k {
		ai, ni := a[i:i+k], num[i:i+k]
		for j := range ai {
			var d T
			if vec != nil {
				d = vec[j]
			} else {
				d = den[i+j]
				if l1 > 0 {
					d += l1t
				}
			}
			if l2 > 0 {
				d += T(l2t * ai[j])
			}
			if d == 0 {
				d = eps
			}
			r := ni[j] / d
			if gamma != 1 {
				r = powT(r, gt)
			}
			ai[j] *= r
		}
	}
}

// parallelRows calls fn on disjoint ranges [i0, i1) covering [0, rows),
// on up to GOMAXPROCS goroutines when rows x width is large enough to pay
// for them. The elementwise work it splits does not depend on the split.
func parallelRows(rows, width int, fn func(i0, i1 int)) {
	const minElems = 1 << 14 // per goroutine
	nt := min(runtime.GOMAXPROCS(0), rows, rows*width/minElems)
	if nt <= 1 {
		fn(0, rows)
		return
	}
	var wg sync.WaitGroup
	for t := range nt {
		i0, i1 := t*rows/nt, (t+1)*rows/nt
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i0, i1)
		}()
	}
	wg.Wait()
}
