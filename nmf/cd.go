package nmf

import (
	"math"
	"runtime"
	"sync"

	"github.com/gonmf/gonmf/nmf/internal/mtrand"
	"github.com/gonmf/gonmf/nmf/internal/sweep"
)

// regularization holds the scaled penalties of scikit-learn's objective
//
//	½||X - WH||²_F + l1W ||W||₁ + l1H ||H||₁ + ½ l2W ||W||²_F + ½ l2H ||H||²_F
//
// with l1W = m αW ρ, l2W = m αW (1-ρ), l1H = n αH ρ, l2H = n αH (1-ρ)
// (n samples, m features, ρ = l1_ratio).
type regularization struct{ l1W, l1H, l2W, l2H float64 }

func newRegularization(p Params, n, m int) regularization {
	fm, fn := float64(m), float64(n)
	return regularization{
		l1W: fm * p.AlphaW * p.L1Ratio,
		l1H: fn * p.AlphaH * p.L1Ratio,
		l2W: fm * p.AlphaW * (1 - p.L1Ratio),
		l2H: fn * p.AlphaH * (1 - p.L1Ratio),
	}
}

// cdState is the working memory of the coordinate descent solver.
type cdState[T Float] struct {
	x       Dense[T]
	n, m, k int
	w       []T // n x k, row-major
	ht      []T // Hᵀ: m x k, row-major
	gramBuf []T // k x k
	prodW   []T // n x k: X Hᵀ
	prodH   []T // m x k: Xᵀ W
}

// fitCD runs scikit-learn's _fit_coordinate_descent on w and ht in place:
// each iteration updates every column of W once by exact coordinate
// minimisation (HALS, Cichocki & Phan 2009) given H, then every row of H
// given W (skipped when updateH is false). The stopping rule is on the sum
// of the absolute projected gradients seen during the sweeps ("violation"):
// stop after iteration t when violation_t / violation_1 <= tol, or at once
// when violation_1 == 0. It returns scikit-learn's n_iter_ and whether the
// tolerance test (not maxIter) ended the loop.
func fitCD[T Float](s *cdState[T], p Params, reg regularization, rng *mtrand.RandomState, ctl Control) (nIter int, converged bool, err error) {
	k := s.k
	s.gramBuf = make([]T, k*k)
	s.prodW = make([]T, s.n*k)
	if p.UpdateH {
		s.prodH = make([]T, s.m*k)
	}
	var perm []int
	if !p.Shuffle {
		perm = make([]int, k)
		for i := range perm {
			perm[i] = i
		}
	}
	var violationInit float64
	for nIter = 1; nIter <= p.MaxIter; nIter++ {
		if ctl != nil && ctl.Cancelled() {
			return nIter - 1, false, ErrInterrupted
		}
		// Update W given H: Gram HHᵀ and X Hᵀ.
		gram(s.ht, s.m, k, s.gramBuf)
		xTimes(s.x, s.ht, k, s.prodW)
		if p.Shuffle {
			perm = rng.Permutation(k)
		}
		violation := float64(cdUpdate(s.w, s.n, k, s.gramBuf, s.prodW, T(reg.l1W), T(reg.l2W), perm, nil))
		if p.UpdateH {
			// Update H given W, by symmetry on Xᵀ ≈ Hᵀ Wᵀ.
			gram(s.w, s.n, k, s.gramBuf)
			xtTimes(s.x, s.w, k, s.prodH)
			if p.Shuffle {
				perm = rng.Permutation(k)
			}
			violation += float64(cdUpdate(s.ht, s.m, k, s.gramBuf, s.prodH, T(reg.l1H), T(reg.l2H), perm, nil))
		}
		if nIter == 1 {
			violationInit = violation
		}
		ratio := violationRatio(violation, violationInit)
		if ctl != nil {
			ctl.Progress(nIter, p.MaxIter, ratio)
		}
		if violationInit == 0 || ratio <= p.Tol {
			return nIter, true, nil
		}
	}
	return p.MaxIter, false, nil
}

// cdUpdate is one sweep of scikit-learn's _update_cdnmf_fast over the
// columns of A (rows x k, row-major) for the problem min_{A≥0} ½||Y - A Bᵀ||²
// given G = BᵀB (+ l2 on the diagonal) and P = Y B (- l1): for t in perm and
// each row i,
//
//	g = (A G)[i,t] - P[i,t],   A[i,t] ← max(A[i,t] - g / G[t,t], 0)
//
// skipping the step when G[t,t] = 0. It returns the sum over the visited
// coordinates of |projected gradient| (g, or min(g, 0) where A[i,t] = 0),
// accumulated in T as the Cython kernel does. G and P are modified. pg is
// scratch space of at least rows·k elements, or nil: then the projected
// gradients are kept in P, whose values each step is the last to read
// (|pg| of (i, t) in P[i,t] for cdRows, panel by panel for cdPanels), and no
// buffer beyond P is needed (m x k for H).
//
// The arithmetic is the Cython kernel's, operation for operation: each g is
// summed in the same order (-P[i,t], then r = 0..k-1) and the violation in
// the kernel's order (t-major, then i), so the results are bitwise those of
// its loop. Only the schedule differs, which is free because the rows of A
// are independent given G and P (the step of A[i,t] reads and writes row i
// only): cdRows takes four rows at a time through all of perm, so that they
// stay in L1 and their four gradients are four independent dependency
// chains, and stores the |projected gradients| in pg to be added up in the
// kernel's order afterwards; large blocks are split by rows over GOMAXPROCS
// goroutines. With SIMD kernels (package sweep), panels of sweep.Lanes rows
// are swept transposed, a vector across rows, with the same operations; for
// k = 3 in float64, groups of four rows are transposed in registers straight
// from the row-major A and P (sweep.CD3), which saves the copies.
func cdUpdate[T Float](a []T, rows, k int, g, prod []T, l1, l2 T, perm []int, pg []T) T {
	layout, first := cdSweep(a, rows, k, g, prod, l1, l2, perm, pg)
	return cdViolation(prod, rows, k, perm, pg, layout, first)
}

// cdLayout is where cdSweep leaves the |projected gradients| when pg is nil.
type cdLayout int

const (
	cdByRow         cdLayout = iota // prod[i*k+t] (cdRows)
	cdByPanel                       // cdPanels' layout
	cdByGroup3                      // cdGroups3's layout
	cdByGroup3First                 // cdGroups3's layout, and the sum of its first step
)

// cdSweep is the sweep of cdUpdate: it leaves the |projected gradients| in
// pg, or in prod when pg is nil in the returned layout. With layout
// cdByGroup3First, first is the sum of those of step 0 but the last rows%4
// rows (added in the kernel's order, from 0), which cdGroups3 adds up on
// the way.
func cdSweep[T Float](a []T, rows, k int, g, prod []T, l1, l2 T, perm []int, pg []T) (layout cdLayout, first T) {
	if l2 != 0 {
		for t := range k {
			g[t*k+t] += l2
		}
	}
	if l1 != 0 {
		for i := range prod[:rows*k] {
			prod[i] -= l1
		}
	}
	if pg != nil {
		pg = pg[:rows*k]
	}
	workers := min(runtime.GOMAXPROCS(0), rows/cdMinRows)
	if rows*k*k < cdParallelWork {
		workers = 1
	}
	// SIMD panels, unless the block is so small that transposing costs more
	// than it saves (workload D's W, 38 x 3), or, for k = 3 in float64, the
	// in-register transposes of sweep.CD3. Read once: the layout of the
	// results in P depends on it.
	sweepRows := cdRows[T]
	switch {
	case !sweep.SIMD():
	case k == 3 && !isF32[T]() && workers <= 1 && pg == nil:
		return cdByGroup3First, cdGroups3(a, 0, rows, k, g, prod, perm, nil, rows)
	case k == 3 && !isF32[T]():
		layout = cdByGroup3
		sweepRows = func(a []T, r0, r1, k int, g, prod []T, perm []int, pg []T, ld int) {
			cdGroups3(a, r0, r1, k, g, prod, perm, pg, ld)
		}
	case rows*k*k >= cdSIMDWork:
		layout, sweepRows = cdByPanel, cdPanels[T]
	}
	if workers <= 1 {
		sweepRows(a, 0, rows, k, g, prod, perm, pg, rows)
	} else {
		// Split on panel boundaries, so no goroutine pads a partial panel
		// but the last.
		l := sweep.Lanes[T]()
		var wg sync.WaitGroup
		for w := range workers {
			r0, r1 := w*rows/workers/l*l, (w+1)*rows/workers/l*l
			if w == workers-1 {
				r1 = rows
			}
			wg.Go(func() { sweepRows(a, r0, r1, k, g, prod, perm, pg, rows) })
		}
		wg.Wait()
	}
	return layout, 0
}

// cdViolation adds up, in the kernel's order, the |projected gradients|
// that cdSweep left in pg, or in prod in layout when pg is nil (first:
// cdSweep's).
func cdViolation[T Float](prod []T, rows, k int, perm []int, pg []T, layout cdLayout, first T) T {
	var violation T
	switch {
	case pg == nil && layout == cdByPanel:
		return cdPanelViolation(prod, rows, k)
	case pg == nil && layout == cdByGroup3:
		return cdGroup3Violation(prod, rows, perm, 0, false)
	case pg == nil && layout == cdByGroup3First:
		return cdGroup3Violation(prod, rows, perm, first, true)
	}
	if pg == nil {
		// P[i,t] is |projected gradient| of coordinate (i, t): the same
		// values, added in the same order.
		for _, t := range perm {
			for i := range rows {
				violation += prod[i*k+t]
			}
		}
		return violation
	}
	// pg[s*rows+i] is |projected gradient| of coordinate (i, perm[s]).
	for _, v := range pg[:len(perm)*rows] {
		violation += v
	}
	return violation
}

// Row splitting of cdUpdate: only when a sweep has at least cdParallelWork
// multiply-adds (rows·k²), and at least cdMinRows rows per goroutine.
const (
	cdParallelWork = 1 << 17
	cdMinRows      = 64
	cdSIMDWork     = 1 << 10 // the SIMD panels from rows·k² = cdSIMDWork
)

// cdRows runs the sweep of cdUpdate on rows [r0, r1) of A, storing
// |projected gradient| of coordinate (i, perm[s]) in pg[s*ld+i], or, when
// pg is nil, in prod[i*k+perm[s]] (read for the last time by that step).
func cdRows[T Float](a []T, r0, r1, k int, g, prod []T, perm []int, pg []T, ld int) {
	i := r0
	for ; i+4 <= r1; i += 4 {
		a0 := a[i*k : i*k+k]
		a1 := a[(i+1)*k : (i+1)*k+k]
		a2 := a[(i+2)*k : (i+2)*k+k]
		a3 := a[(i+3)*k : (i+3)*k+k]
		p0, p1, p2, p3 := prod[i*k:i*k+k], prod[(i+1)*k:(i+1)*k+k], prod[(i+2)*k:(i+2)*k+k], prod[(i+3)*k:(i+3)*k+k]
		for s, t := range perm {
			gt := g[t*k : t*k+k]
			a0, a1, a2, a3 := a0[:len(gt)], a1[:len(gt)], a2[:len(gt)], a3[:len(gt)]
			g0, g1, g2, g3 := -p0[t], -p1[t], -p2[t], -p3[t]
			// T(·) rounds each product: the compiler may not fuse it
			// into an FMA (GOAMD64=v3 would), as the Cython kernel does not.
			for r, v := range gt {
				g0 += T(v * a0[r])
				g1 += T(v * a1[r])
				g2 += T(v * a2[r])
				g3 += T(v * a3[r])
			}
			hess := gt[t]
			if pg == nil {
				p0[t] = sweep.CDStep(a0, t, g0, hess)
				p1[t] = sweep.CDStep(a1, t, g1, hess)
				p2[t] = sweep.CDStep(a2, t, g2, hess)
				p3[t] = sweep.CDStep(a3, t, g3, hess)
				continue
			}
			q := pg[s*ld+i : s*ld+i+4]
			q[0] = sweep.CDStep(a0, t, g0, hess)
			q[1] = sweep.CDStep(a1, t, g1, hess)
			q[2] = sweep.CDStep(a2, t, g2, hess)
			q[3] = sweep.CDStep(a3, t, g3, hess)
		}
	}
	for ; i < r1; i++ {
		ai := a[i*k : i*k+k]
		for s, t := range perm {
			gt := g[t*k : t*k+k]
			ai := ai[:len(gt)]
			grad := -prod[i*k+t]
			for r, v := range gt {
				grad += T(v * ai[r])
			}
			if pg == nil {
				prod[i*k+t] = sweep.CDStep(ai, t, grad, gt[t])
			} else {
				pg[s*ld+i] = sweep.CDStep(ai, t, grad, gt[t])
			}
		}
	}
}

// cdPanels is cdRows with the SIMD kernel sweep.CD: panels of
// sweep.Lanes rows, starting at multiples of sweep.Lanes, are transposed
// into scratch space, swept, and copied back. |projected gradient| of
// coordinate (i, perm[s]) goes to pg[s*ld+i], or, when pg is nil, to
// prod[p*k + s*nr + i-p] for the panel of nr rows starting at row p (its
// own part of P, read before): the layout cdPanelViolation adds up.
func cdPanels[T Float](a []T, r0, r1, k int, g, prod []T, perm []int, pg []T, ld int) {
	l := sweep.Lanes[T]()
	n := sweep.PanelLen[T](k)
	buf := make([]T, 2*n)
	at, pt := buf[:n], buf[n:]
	for i := r0; i < r1; i += l {
		nr := min(l, r1-i)
		sweep.Load(at, a[i*k:], nr, k)
		sweep.Load(pt, prod[i*k:], nr, k)
		sweep.CD(at, pt, g, k, perm)
		sweep.Store(a[i*k:], at, nr, k)
		for s, t := range perm {
			if pg == nil {
				copy(prod[i*k+s*nr:i*k+s*nr+nr], pt[t*l:t*l+nr])
			} else {
				copy(pg[s*ld+i:s*ld+i+nr], pt[t*l:t*l+nr])
			}
		}
	}
}

// cdPanelViolation adds up the |projected gradients| that cdPanels left in
// prod (pg nil), in the kernel's order: for each s, all rows in order.
func cdPanelViolation[T Float](prod []T, rows, k int) T {
	l := sweep.Lanes[T]()
	var violation T
	for s := range k {
		for p := 0; p < rows; p += l {
			nr := min(l, rows-p)
			for _, v := range prod[p*k+s*nr : p*k+s*nr+nr] {
				violation += v
			}
		}
	}
	return violation
}

// cdGroups3 is cdRows for k = 3 with sweep.CD3 on the groups of four rows
// from r0 (a multiple of 4) and cdRows on the last rows%4 rows. |projected
// gradient| of coordinate (i, perm[s]) goes to pg[s*ld+i], or, when pg is
// nil, to prod[g*12 + s*4 + i-g] for the group of rows g..g+3 (its own
// part of P, read before), and as cdRows for the last rows: the layout
// cdGroup3Violation adds up. It returns the sum of the |projected gradients|
// of step 0 of the groups, added in row order from 0.
func cdGroups3[T Float](a []T, r0, r1, k int, g, prod []T, perm []int, pg []T, ld int) (first T) {
	groups := (r1 - r0) / 4
	if pg == nil {
		first = sweep.CD3(a[r0*3:], prod[r0*3:], g, perm, prod[r0*3:], 4, 12, groups)
	} else {
		first = sweep.CD3(a[r0*3:], prod[r0*3:], g, perm, pg[r0:], ld, 4, groups)
	}
	cdRows(a, r0+4*groups, r1, k, g, prod, perm, pg, ld)
	return first
}

// cdGroup3Violation adds up the |projected gradients| that cdGroups3 left
// in prod (pg nil), in the kernel's order: for each s, all rows in order.
// With haveFirst, first is the sum of those of step 0 of the groups of four
// rows.
func cdGroup3Violation[T Float](prod []T, rows int, perm []int, first T, haveFirst bool) T {
	var violation T
	full := rows / 4 * 12
	for s, t := range perm {
		if s == 0 && haveFirst {
			violation = first
		} else {
			for g := s * 4; g < full; g += 12 {
				for _, v := range prod[g : g+4] {
					violation += v
				}
			}
		}
		for i := full; i < rows*3; i += 3 {
			violation += prod[i+t]
		}
	}
	return violation
}

// violationRatio is the stopping measure of cd and hals: the projected-gradient
// violation relative to the first iteration's (NaN when that was zero).
func violationRatio(violation, violationInit float64) float64 {
	if violationInit == 0 {
		return math.NaN()
	}
	return violation / violationInit
}
