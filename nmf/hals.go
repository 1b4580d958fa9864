package nmf

import (
	"math"
	"runtime"
	"sync"

	"github.com/gonmf/gonmf/nmf/internal/mtrand"
)

// Accelerated HALS (solver "hals"): Gillis & Glineur, "Accelerated
// multiplicative updates and hierarchical ALS algorithms for nonnegative
// matrix factorization", Neural Computation 24(4), 2012.
//
// The objective is the one of solver "cd" (see regularization). Updating W
// given H is the non-negative least-squares problem
//
//	min_{W ≥ 0} ½||X - W H||²_F + l1W ||W||₁ + ½ l2W ||W||²_F,
//
// which only needs P = X Hᵀ (n x k) and G = H Hᵀ (k x k): its gradient is
// W (G + l2W I) - (P - l1W). Forming P costs 2nmk flops and G 2mk², while one
// HALS sweep over the columns of W, for t = 1..k,
//
//	W[:,t] ← max(0, W[:,t] - ((W G')[:,t] - P'[:,t]) / G'[t,t])
//	G' = G + l2W I,  P' = P - l1W,
//
// costs about 2nk(k+1) flops and needs nothing else. Each column step
// minimises the objective exactly in that column, so the objective never
// increases. Plain HALS (one sweep per product pair) is scikit-learn's cd;
// accelerated HALS reuses P and G for several sweeps, as long as a sweep is
// cheap compared to the products and still changes W noticeably. With
//
//	ρ_W = (cost of products + one sweep) / (cost of one sweep)
//	    = 1 + (nm + mk) / (n(k+1))
//
// (the paper's ρ_U = 1 + (mn + nr)/(mr + m) in its notation M ≈ U V with
// M m x n), the W block runs at most 1 + ⌊α ρ_W⌋ sweeps, and stops after
// sweep l > 1 when
//
//	||W⁽ˡ⁾ - W⁽ˡ⁻¹⁾||_F ≤ δ ||W⁽¹⁾ - W⁽⁰⁾||_F.
//
// H is updated likewise from Xᵀ W (m x k) and WᵀW with
// ρ_H = 1 + (nm + nk) / (m(k+1)). α = 0 gives one sweep per block: exactly
// the updates of solver "cd".
//
// Since the rows of W are independent given H (the problem separates by
// rows), a sweep is computed row by row — row i visits t = 1..k in turn,
// which yields the same iterates as the column order above — with row blocks
// spread over GOMAXPROCS goroutines; the result does not depend on the
// number of goroutines.
const (
	halsAlpha = 0.5 // α: the paper's recommended value
	halsDelta = 0.1 // δ: the paper's recommended value
)

// halsOptions are the acceleration parameters α and δ (tests vary them).
type halsOptions struct{ alpha, delta float64 }

var defaultHALS = halsOptions{alpha: halsAlpha, delta: halsDelta}

// halsSweeps returns the sweep budget 1 + ⌊α ρ⌋ of a block of `rows` rows
// of k components, `other` being X's other dimension:
// ρ = 1 + (rows·other + other·k) / (rows (k+1)).
func halsSweeps(alpha float64, rows, other, k int) int {
	r, o, kk := float64(rows), float64(other), float64(k)
	rho := 1 + (r*o+o*kk)/(r*(kk+1))
	s := 1 + math.Floor(alpha*rho)
	if !(s < 1e6) { // α is finite and small in practice; keep the count sane
		s = 1e6
	}
	return int(s)
}

// fitHALS runs accelerated HALS on s.w and s.ht in place. Each outer
// iteration computes X Hᵀ and HHᵀ once and runs the inner sweeps of W's
// block, then (when p.UpdateH) computes Xᵀ W and WᵀW and runs those of H's
// block; n_iter counts these outer iterations.
//
// Stopping rule (as cd's, scikit-learn's): the violation of an outer
// iteration is the sum of |projected gradient| over the coordinates visited
// by the first inner sweep of each block, each taken just before its
// coordinate step (so for W it is the violation at the iterate the outer
// iteration starts from, as in cd). The fit stops after outer iteration t
// when violation_t / violation_1 ≤ tol, or at once when violation_1 = 0, and
// otherwise after p.MaxIter outer iterations with converged = false.
//
// Regularisation is cd's (l2 on the diagonal of the Gram matrix, l1
// subtracted from the product). A coordinate whose Hessian G'[t,t] is zero
// (a zero row of H, or a zero column of W, without l2) is left unchanged, as
// in cd. There is no ε floor on zero columns (the paper's safety procedure):
// the Hessian guard already keeps the iteration well defined, a zero column
// can come back to life in a later sweep once its partner row changes, and
// with an l1 penalty a zero column can be the exact minimiser, which a floor
// would forbid.
//
// With p.Shuffle, the coordinate order of each block is a permutation drawn
// from rng once per block per outer iteration (the same draws as cd's) and
// used by all inner sweeps of that block.
//
// With p.UpdateH false (transform), W starts from the caller's values (zero
// from Fit) and only W's block runs; X Hᵀ and HHᵀ are then computed once.
func fitHALS[T Float](s *cdState[T], p Params, reg regularization, rng *mtrand.RandomState, ctl Control, opt halsOptions) (nIter int, converged bool, err error) {
	n, m, k := s.n, s.m, s.k
	gramH := make([]T, k*k) // HHᵀ + l2W I
	prodW := make([]T, n*k) // X Hᵀ - l1W
	var gramW, prodH []T
	if p.UpdateH {
		gramW = make([]T, k*k) // WᵀW + l2H I
		prodH = make([]T, m*k) // Xᵀ W - l1H
	}
	sweepsW := halsSweeps(opt.alpha, n, m, k)
	sweepsH := halsSweeps(opt.alpha, m, n, k)
	permW := identityPerm(k) // never modified: shared by both blocks unless shuffled
	permH := permW
	var violationInit float64
	for nIter = 1; nIter <= p.MaxIter; nIter++ {
		if ctl != nil && ctl.Cancelled() {
			return nIter - 1, false, ErrInterrupted
		}
		if p.UpdateH || nIter == 1 {
			gram(s.ht, m, k, gramH)
			xTimes(s.x, s.ht, k, prodW)
			adjustBlock(gramH, prodW, k, T(reg.l1W), T(reg.l2W))
		}
		if p.Shuffle {
			permW = rng.Permutation(k)
		}
		violation, _ := halsBlock(s.w, n, k, gramH, prodW, permW, sweepsW, opt.delta)
		if p.UpdateH {
			gram(s.w, n, k, gramW)
			xtTimes(s.x, s.w, k, prodH)
			adjustBlock(gramW, prodH, k, T(reg.l1H), T(reg.l2H))
			if p.Shuffle {
				permH = rng.Permutation(k)
			}
			v, _ := halsBlock(s.ht, m, k, gramW, prodH, permH, sweepsH, opt.delta)
			violation += v
		}
		if nIter == 1 {
			violationInit = violation
		}
		ratio := math.NaN()
		if violationInit != 0 {
			ratio = violation / violationInit
		}
		if ctl != nil {
			ctl.Progress(nIter, p.MaxIter, ratio)
		}
		if violationInit == 0 || ratio <= p.Tol {
			return nIter, true, nil
		}
	}
	return p.MaxIter, false, nil
}

func identityPerm(k int) []int {
	perm := make([]int, k)
	for i := range perm {
		perm[i] = i
	}
	return perm
}

// adjustBlock turns G and P into G + l2 I and P - l1.
func adjustBlock[T Float](g, prod []T, k int, l1, l2 T) {
	if l2 != 0 {
		for t := range k {
			g[t*k+t] += l2
		}
	}
	if l1 != 0 {
		for i := range prod {
			prod[i] -= l1
		}
	}
}

// halsRowBlock is the number of rows a goroutine sweeps at a time; partial
// sums are kept per block and added in block order, so the sums (and hence
// the stopping decisions) do not depend on the number of goroutines.
const halsRowBlock = 32

// halsBlock runs at most maxSweeps HALS sweeps on A (rows x k, row-major)
// for min_{A ≥ 0} ½||Y - A Bᵀ||² + l1||A||₁ + ½ l2||A||², given the adjusted
// G = BᵀB + l2 I and P = Y B - l1 (not modified). It stops after sweep l > 1
// when ||ΔA⁽ˡ⁾||_F ≤ δ ||ΔA⁽¹⁾||_F (or when the first sweep changed nothing)
// and returns the violation of the first sweep and the number of sweeps.
func halsBlock[T Float](a []T, rows, k int, g, prod []T, perm []int, maxSweeps int, delta float64) (violation float64, sweeps int) {
	nb := (rows + halsRowBlock - 1) / halsRowBlock
	viol := make([]float64, nb)
	d2 := make([]float64, nb)
	workers := min(runtime.GOMAXPROCS(0), nb)
	if rows*k*k < 1<<15 { // too small to pay for goroutines
		workers = 1
	}
	sweep := func() (v, d float64) {
		run := func(b0, step int) {
			for b := b0; b < nb; b += step {
				r0, r1 := b*halsRowBlock, min((b+1)*halsRowBlock, rows)
				var vb, db float64
				for i := r0; i < r1; i++ {
					vi, di := halsRow(a[i*k:i*k+k], g, prod[i*k:i*k+k], perm)
					vb += vi
					db += di
				}
				viol[b], d2[b] = vb, db
			}
		}
		if workers == 1 {
			run(0, 1)
		} else {
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() { run(w, workers) })
			}
			wg.Wait()
		}
		for b := range nb {
			v += viol[b]
			d += d2[b]
		}
		return v, d
	}
	violation, first := sweep()
	sweeps = 1
	stop := delta * delta * first
	for sweeps < maxSweeps && first > 0 {
		_, d := sweep()
		sweeps++
		if d <= stop {
			break
		}
	}
	return violation, sweeps
}

// halsRow updates one row a of A (length k) in the order perm, each
// coordinate by its exact minimiser
//
//	g = (a G)[t] - p[t],  a[t] ← max(a[t] - g / G[t,t], 0)   (skipped if G[t,t] = 0),
//
// and returns Σ|projected gradient| (g, or min(g, 0) where a[t] = 0) and
// Σ(change)², both in float64.
func halsRow[T Float](a, g, p []T, perm []int) (violation, change2 float64) {
	k := len(a)
	for _, t := range perm {
		gt := g[t*k : t*k+k]
		grad := dot(a, gt) - p[t]
		pg := grad
		if a[t] == 0 {
			pg = min(grad, 0)
		}
		violation += math.Abs(float64(pg))
		if hess := gt[t]; hess != 0 {
			v := a[t] - grad/hess
			if !(v > 0) {
				v = 0
			}
			d := float64(v - a[t])
			change2 += d * d
			a[t] = v
		}
	}
	return violation, change2
}

// dot returns Σ a[i] b[i] with four accumulators (len(b) ≥ len(a)).
func dot[T Float](a, b []T) T {
	b = b[:len(a)]
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
