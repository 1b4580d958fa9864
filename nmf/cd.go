package nmf

import (
	"math"

	"github.com/gonmf/gonmf/nmf/internal/mtrand"
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
		violation := float64(cdUpdate(s.w, s.n, k, s.gramBuf, s.prodW, T(reg.l1W), T(reg.l2W), perm))
		if p.UpdateH {
			// Update H given W, by symmetry on Xᵀ ≈ Hᵀ Wᵀ.
			gram(s.w, s.n, k, s.gramBuf)
			xtTimes(s.x, s.w, k, s.prodH)
			if p.Shuffle {
				perm = rng.Permutation(k)
			}
			violation += float64(cdUpdate(s.ht, s.m, k, s.gramBuf, s.prodH, T(reg.l1H), T(reg.l2H), perm))
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

// cdUpdate is one sweep of scikit-learn's _update_cdnmf_fast over the
// columns of A (rows x k, row-major) for the problem min_{A≥0} ½||Y - A Bᵀ||²
// given G = BᵀB (+ l2 on the diagonal) and P = Y B (- l1): for t in perm and
// each row i,
//
//	g = (A G)[i,t] - P[i,t],   A[i,t] ← max(A[i,t] - g / G[t,t], 0)
//
// skipping the step when G[t,t] = 0. It returns the sum over the visited
// coordinates of |projected gradient| (g, or min(g, 0) where A[i,t] = 0),
// accumulated in T as the Cython kernel does. G and P are modified.
func cdUpdate[T Float](a []T, rows, k int, g, prod []T, l1, l2 T, perm []int) T {
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
	var violation T
	for _, t := range perm {
		gt := g[t*k : t*k+k]
		hess := gt[t]
		for i := range rows {
			ai := a[i*k : i*k+k]
			grad := -prod[i*k+t]
			for r, v := range ai {
				grad += gt[r] * v
			}
			pg := grad
			if ai[t] == 0 {
				pg = min(grad, 0)
			}
			violation += abs(pg)
			if hess != 0 {
				if v := ai[t] - grad/hess; v > 0 {
					ai[t] = v
				} else {
					ai[t] = 0
				}
			}
		}
	}
	return violation
}
