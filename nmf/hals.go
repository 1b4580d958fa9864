package nmf

import (
	"math"
	"runtime"
	"sync"

	"github.com/gonmf/gonmf/nmf/internal/mtrand"
	"github.com/gonmf/gonmf/nmf/internal/sweep"
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
// which yields the same iterates as the column order above — and the inner
// loop runs per block of halsRowBlock rows: each block sweeps until its own
// change passes the δ test above (or the budget is spent), on one of
// GOMAXPROCS goroutines, so a block update costs one fork-join and rows
// that have settled stop early. The result does not depend on the number of
// goroutines.
//
// Why α = 0.5 (measured December 2026, float64, 2-core Zen 4). A larger
// budget reaches scikit-learn's final error in fewer outer iterations: on
// the DepMap-like A (1150 x 2718, k = 50; target 306.982) 23 iterations at
// α = 0.5, 16 at 1, 12 at 2 (0.48 s, 0.44 s, 0.44 s); on workload D (38 x
// 5000, k = 3, init random, 20 seeds; target cd's error after 200
// iterations) 90, 51 and 27 iterations on average (0.70 s, 0.43 s, 0.29 s
// for the 20 fits). But the stopping rule then runs longer, as the
// objective keeps falling: with tol = 1e-4, A stops after 45 iterations at
// α = 0.5 (0.91 s, error 305.74) and 62 at α = 1 (1.28 s, 304.70), 63 at
// α = 2 (1.72 s, 304.29), while D runs 200 iterations for α ≤ 1 and 178 at
// α = 2. So a default fit of A would take 40 to 90% longer for an error
// already below scikit-learn's, and α stays at the paper's value.
const (
	halsAlpha    = 0.5 // α: the paper's recommended value
	halsDelta    = 0.1 // δ: the paper's recommended value
	halsDecrease = 3   // the objective-decrease test: relative decrease ≤ 3 tol
)

// halsOptions are the acceleration parameters α and δ, and the factor
// decrease of the objective-decrease test (tests vary them).
type halsOptions struct{ alpha, delta, decrease float64 }

var defaultHALS = halsOptions{alpha: halsAlpha, delta: halsDelta, decrease: halsDecrease}

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
// Stopping rule. The violation of an outer iteration is, as in cd
// (scikit-learn's), the sum of |projected gradient| over the coordinates
// visited by the first inner sweep of each block, each taken just before
// its coordinate step (so for W it is the violation at the iterate the
// outer iteration starts from). That alone is not enough for accelerated
// HALS: its inner sweeps solve each block so well that the first sweep of
// the next iteration sees little violation while the objective still falls
// noticeably, and violation_t / violation_1 ≤ tol was met up to 4.5% above
// cd's final error on DepMap-like matrices (TestHALSStoppingRule). So, when
// H is updated, a second test must hold as well: the objective f (cd's,
// regularised), taken after W's block of each outer iteration, must have
// fallen by at most
//
//	f_{t-1} - f_t ≤ 3·tol·f_t + 4ε·½||X||²
//
// since the previous outer iteration (ε: T's machine epsilon; the second
// term is the rounding error of f, which is computed from the products at
// hand, see halsObjective, at a cost of O((n+m)k) per iteration). The fit
// stops after outer iteration t when both tests hold, or at once when
// violation_1 = 0, and otherwise after p.MaxIter outer iterations with
// converged = false. With tol = 0 it runs p.MaxIter iterations. Transform
// (UpdateH false) solves a convex problem and uses the violation test alone.
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
	var halfX2, floor float64 // ½||X||², and the rounding error of the objective
	if p.UpdateH {
		halfX2 = 0.5 * squaredNorm(s.x)
		floor = 4 * machineEps[T]() * halfX2
	}
	objPrev := math.Inf(1)
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
		settled := true // the objective-decrease test (UpdateH only)
		if p.UpdateH {
			gram(s.w, n, k, gramW)
			obj := halsObjective(halfX2, s.w, prodW, gramW, gramH, s.ht, reg)
			settled = objPrev-obj <= opt.decrease*p.Tol*obj+floor
			objPrev = obj
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
		ratio := violationRatio(violation, violationInit)
		if ctl != nil {
			ctl.Progress(nIter, p.MaxIter, ratio)
		}
		if violationInit == 0 || (ratio <= p.Tol && settled) {
			return nIter, true, nil
		}
	}
	return p.MaxIter, false, nil
}

// halsObjective returns the objective of solver "cd" at W and H,
//
//	½||X - WH||² + l1W ||W||₁ + ½ l2W ||W||² + l1H ||H||₁ + ½ l2H ||H||²,
//
// from the quantities at hand after W's block: prodW = X Hᵀ - l1W and
// gramH = HHᵀ + l2W I (for the current H), gramW = WᵀW (for the new W),
// and ½||X||², as
//
//	½||X||² - ⟨W, prodW⟩ + ½⟨WᵀW, gramH⟩ + l1H ΣH + ½ l2H ||H||²
//
// in O((n + m)k + k²) flops, summed in float64. The expansion cancels:
// its absolute error is about ε·||X||² (ε of T's products), which is why
// the decrease test uses it only relative to a threshold well above that.
func halsObjective[T Float](halfX2 float64, w, prodW, gramW, gramH, ht []T, reg regularization) float64 {
	var wp, gg, h1, h2 float64
	for i, v := range w {
		wp += float64(v) * float64(prodW[i])
	}
	for i, v := range gramW {
		gg += float64(v) * float64(gramH[i])
	}
	if reg.l1H != 0 || reg.l2H != 0 {
		for _, v := range ht {
			h1 += float64(v)
			h2 += float64(v) * float64(v)
		}
	}
	return halfX2 - wp + 0.5*gg + reg.l1H*h1 + 0.5*reg.l2H*h2
}

// machineEps returns the machine epsilon of T.
func machineEps[T Float]() float64 {
	if isF32[T]() {
		return 0x1p-23
	}
	return 0x1p-52
}

// squaredNorm returns ||X||²_F, summed in float64.
func squaredNorm[T Float](x Dense[T]) float64 {
	rows, cols, ld, _ := x.storage()
	var sum float64
	for i := range rows {
		for _, v := range x.Data[i*ld : i*ld+cols] {
			sum += float64(v) * float64(v)
		}
	}
	return sum
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

// halsRowBlock returns the number of rows whose inner sweeps run together
// (a panel of package sweep: 32 for float64, 64 for float32): the rows of a
// block are independent given G and P, so each block of rows runs its own
// inner loop, with its own stopping test, on one goroutine. Blocks are fixed
// and their violations added in block order, so the result does not depend
// on the number of goroutines, and a block update costs one fork-join
// however many sweeps it runs. With SIMD kernels, a block is held transposed
// (vectors across its rows) for all its sweeps.
func halsRowBlock[T Float]() int { return sweep.Lanes[T]() }

// halsBlock runs its blocks on several goroutines only from
// halsParallelWork multiply-adds (rows·k² per sweep, times up to
// halsTypicalSweeps sweeps). A fork-join costs tens of µs when the other
// processor is busy (futex wake-ups): below about 1M multiply-adds (workload
// D's H, 5000 x 3 with 6 sweeps: 270k, about 40 µs) one goroutine is
// faster (50 µs per outer iteration on D on a loaded 2-core host).
const (
	halsParallelWork  = 1 << 20
	halsTypicalSweeps = 8
)

// halsBlock runs the inner loop of one block of accelerated HALS on A (rows x
// k, row-major) for min_{A ≥ 0} ½||Y - A Bᵀ||² + l1||A||₁ + ½ l2||A||², given
// the adjusted G = BᵀB + l2 I and P = Y B - l1 (not modified). The problem
// separates by rows, so each block of halsRowBlock rows runs at most
// maxSweeps sweeps and stops after sweep l > 1 when its own change
// ||ΔA_b⁽ˡ⁾||_F ≤ δ ||ΔA_b⁽¹⁾||_F (or when its first sweep changed nothing).
// It returns the violation of the first sweep (summed over blocks in order)
// and the largest number of sweeps a block ran.
//
// With SIMD kernels (sweep.HALSInner: the same loop on a transposed block)
// the steps use FMA and a reciprocal of the Hessian, so the iterates differ
// from the scalar path's by rounding; both are deterministic. A block shorter than a panel is padded with zero rows,
// which add nothing to the sums (unless G holds an Inf, where 0·Inf makes
// the violation NaN rather than Inf).
func halsBlock[T Float](a []T, rows, k int, g, prod []T, perm []int, maxSweeps int, delta float64) (violation float64, sweeps int) {
	bs := halsRowBlock[T]()
	nb := (rows + bs - 1) / bs
	viol := make([]float64, nb)
	count := make([]int, nb)
	workers := min(runtime.GOMAXPROCS(0), nb)
	// Too small to pay for goroutines? The work is estimated with at most
	// halsTypicalSweeps sweeps: the δ test usually stops a block well before
	// a large budget (workload D's 38 rows of W may run 676 sweeps, and run
	// 4 to 10).
	if rows*k*k*min(maxSweeps, halsTypicalSweeps) < halsParallelWork {
		workers = 1
	}
	simd := sweep.SIMD()
	sweepRows := func(r0, r1 int) (v, d float64) {
		i := r0
		for ; i+4 <= r1; i += 4 {
			vi, di := halsRows4(a[i*k:i*k+4*k], g, prod[i*k:i*k+4*k], perm)
			v += vi
			d += di
		}
		for ; i < r1; i++ {
			vi, di := halsRow(a[i*k:i*k+k], g, prod[i*k:i*k+k], perm)
			v += vi
			d += di
		}
		return v, d
	}
	run := func(b0, step int) {
		var at, pt []T // the transposed block, with SIMD
		if simd {
			at, pt = make([]T, sweep.PanelLen[T](k)), make([]T, sweep.PanelLen[T](k))
		}
		for b := b0; b < nb; b += step {
			r0, r1 := b*bs, min((b+1)*bs, rows)
			if simd {
				sweep.Load(at, a[r0*k:], r1-r0, k)
				sweep.Load(pt, prod[r0*k:], r1-r0, k)
				viol[b], count[b] = sweep.HALSInner(at, pt, g, k, perm, maxSweeps, delta)
				sweep.Store(a[r0*k:], at, r1-r0, k)
				continue
			}
			v, first := sweepRows(r0, r1)
			n := 1
			stop := delta * delta * first
			for n < maxSweeps && first > 0 {
				_, d := sweepRows(r0, r1)
				n++
				if d <= stop {
					break
				}
			}
			viol[b], count[b] = v, n
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
		violation += viol[b]
		sweeps = max(sweeps, count[b])
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

// halsRows4 is halsRow on four consecutive rows a (4 x k, row-major) at
// once: their gradients are four independent sums that share the loads of
// G's row, which runs about twice as fast as four calls of halsRow. Each
// gradient is summed in order r = 0..k-1 (halsRow's dot uses four partial
// sums, so the two differ by rounding).
func halsRows4[T Float](a, g, p []T, perm []int) (violation, change2 float64) {
	k := len(a) / 4
	a0, a1, a2, a3 := a[:k], a[k:2*k], a[2*k:3*k], a[3*k:4*k]
	p0, p1, p2, p3 := p[:k], p[k:2*k], p[2*k:3*k], p[3*k:4*k]
	for _, t := range perm {
		gt := g[t*k : t*k+k]
		a0, a1, a2, a3 := a0[:len(gt)], a1[:len(gt)], a2[:len(gt)], a3[:len(gt)]
		var s0, s1, s2, s3 T
		for r, v := range gt {
			s0 += v * a0[r]
			s1 += v * a1[r]
			s2 += v * a2[r]
			s3 += v * a3[r]
		}
		hess := gt[t]
		v0, d0 := halsStep(a0, t, s0-p0[t], hess)
		v1, d1 := halsStep(a1, t, s1-p1[t], hess)
		v2, d2 := halsStep(a2, t, s2-p2[t], hess)
		v3, d3 := halsStep(a3, t, s3-p3[t], hess)
		violation += v0 + v1 + v2 + v3
		change2 += d0 + d1 + d2 + d3
	}
	return violation, change2
}

// halsStep applies the coordinate step to a[t] given its gradient and
// Hessian; it returns |projected gradient| and the squared change.
func halsStep[T Float](a []T, t int, grad, hess T) (violation, change2 float64) {
	pg := grad
	if a[t] == 0 {
		pg = min(grad, 0)
	}
	violation = math.Abs(float64(pg))
	if hess != 0 {
		v := a[t] - grad/hess
		if !(v > 0) {
			v = 0
		}
		d := float64(v - a[t])
		change2 = d * d
		a[t] = v
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
