package nmf

import "math"

// epsilon is numpy.finfo(numpy.float32).eps, scikit-learn's EPSILON in
// _nmf.py: the floor for W H where a loss would divide by or take a negative
// power of it, and the replacement of zero denominators. It is the same
// value for float32 and float64 data.
const epsilon = 1.1920928955078125e-07

// eps64 is numpy.finfo(numpy.float64).eps: after each multiplicative update
// with beta < 1 (W) or beta <= 1 (H), entries below it are set to zero.
const eps64 = 2.220446049250313e-16

// blockElems is the target size, in elements, of the W H blocks that the
// beta-divergence and the multiplicative updates for beta != 2 form instead
// of the full n x m product (1 MiB of float64). A variable for the tests.
var blockElems = 1 << 17

// factored is the row-major matrix G stored in X's memory (G = X, or Xᵀ
// for a column-major X) together with its factors, G ≈ A Bᵀ: A is rows x k
// and B is cols x k, both row-major. For X = G, A = W and B = Hᵀ; for
// X = Gᵀ, A = Hᵀ and B = W. bt holds Bᵀ (k x cols, row-major) so that
// every block of A Bᵀ is a plain product op(A)·B.
type factored[T Float] struct {
	rows, cols, ld int
	data           []T
	k              int
	a, b, bt       []T
}

// newFactored views x with its factors w (n x k) and ht (m x k). bt is
// scratch of at least k·max(n, m) elements, or nil to allocate it.
func newFactored[T Float](x Dense[T], w, ht []T, k int, bt []T) *factored[T] {
	rows, cols, ld, tr := x.storage()
	f := &factored[T]{rows: rows, cols: cols, ld: ld, data: x.Data, k: k, a: w, b: ht}
	if tr {
		f.a, f.b = ht, w
	}
	if bt == nil {
		bt = make([]T, k*cols)
	}
	f.bt = bt[:k*cols]
	f.refreshBt()
	return f
}

// refreshBt recomputes bt = Bᵀ after B changed.
func (f *factored[T]) refreshBt() {
	k, cols := f.k, f.cols
	for j := range cols {
		bj := f.b[j*k : j*k+k]
		for r, v := range bj {
			f.bt[r*cols+j] = v
		}
	}
}

// blockRows is the number of rows of G per block of A Bᵀ.
func (f *factored[T]) blockRows() int {
	return max(1, min(f.rows, blockElems/max(f.cols, 1)))
}

// blockCols is the number of columns of G per column block of A Bᵀ.
func (f *factored[T]) blockCols() int {
	return max(1, min(f.cols, blockElems/max(f.rows, 1)))
}

// rowBlock sets p (nr x cols) to rows r0 .. r0+nr-1 of A Bᵀ.
func (f *factored[T]) rowBlock(r0, nr int, p []T) {
	gemm(false, false, nr, f.cols, f.k, 1, f.a[r0*f.k:], f.k, f.bt, f.cols, 0, p, f.cols)
}

// colBlock sets p (rows x nc, stride nc) to columns c0 .. c0+nc-1 of A Bᵀ.
func (f *factored[T]) colBlock(c0, nc int, p []T) {
	gemm(false, false, f.rows, nc, f.k, 1, f.a, f.k, f.bt[c0:], f.cols, 0, p, nc)
}

// betaDivergence returns scikit-learn's _beta_divergence(X, W, H, beta,
// square_root) for a dense X, with W (n x k) and Hᵀ (m x k) row-major.
// With V = W H and the sums over all n m entries unless stated,
//
//	beta = 2:  D = ½ Σ (X - V)²
//	beta = 1:  D = Σ_{X>ε} X log(X / V⁺) + Σ V - Σ_{X>ε} X   (generalised Kullback-Leibler)
//	beta = 0:  D = Σ_{X>ε} (X / V⁺ - log(X / V⁺)) - n m      (Itakura-Saito)
//	otherwise: D = (Σ_{X>ε} X^β - β Σ_{X>ε} X V⁺^(β-1) + (β-1) Σ V^β) / (β (β-1))
//
// where ε = float32 eps, V⁺ = max(V, ε) and Σ V = (Σ_i W[i,:]) · (Σ_j H[:,j]).
// Entries X ≤ ε are left out of the X terms ("do not affect the zeros"),
// as scikit-learn does; the -n m of beta = 0 still counts them. With
// squareRoot it returns sqrt(2 max(D, 0)) (sqrt(2 D) for beta = 2), the
// reconstruction_err_ of scikit-learn.
//
// V is formed a block of rows at a time, never as a whole n x m matrix.
// Elementwise terms are computed in T, the sums in float64.
func betaDivergence[T Float](x Dense[T], w, ht []T, k int, beta float64, squareRoot bool) float64 {
	if beta == 2 {
		res := residualSq(x, w, ht, k) / 2
		if squareRoot {
			return math.Sqrt(res * 2)
		}
		return res
	}
	f := newFactored(x, w, ht, k, nil)
	eps := T(epsilon)
	bm1 := T(beta - 1)
	var sumXlog, sumX, sumDiv, sumLog, sumXb, sumXV, sumVb float64
	br := f.blockRows()
	buf := make([]T, br*f.cols)
	for r0 := 0; r0 < f.rows; r0 += br {
		nr := min(br, f.rows-r0)
		f.rowBlock(r0, nr, buf)
		for i := range nr {
			g := f.data[(r0+i)*f.ld : (r0+i)*f.ld+f.cols]
			v := buf[i*f.cols : (i+1)*f.cols]
			switch beta {
			case 1:
				for j, xv := range g {
					if xv > eps {
						vv := max(v[j], eps)
						sumXlog += float64(xv) * math.Log(float64(xv/vv))
						sumX += float64(xv)
					}
				}
			case 0:
				for j, xv := range g {
					if xv > eps {
						d := xv / max(v[j], eps)
						sumDiv += float64(d)
						sumLog += math.Log(float64(d))
					}
				}
			default:
				for j, xv := range g {
					sumVb += float64(powT(v[j], T(beta)))
					if xv > eps {
						sumXV += float64(xv * powT(max(v[j], eps), bm1))
						sumXb += float64(powT(xv, T(beta)))
					}
				}
			}
		}
	}
	var res float64
	switch beta {
	case 1:
		// Σ WH = (column sums of W) · (row sums of H).
		var sumV float64
		for r := range k {
			var sw, sh float64
			for i := 0; i < len(w); i += k {
				sw += float64(w[i+r])
			}
			for i := 0; i < len(ht); i += k {
				sh += float64(ht[i+r])
			}
			sumV += sw * sh
		}
		res = sumXlog + (sumV - sumX)
	case 0:
		res = sumDiv - float64(x.Rows)*float64(x.Cols) - sumLog
	default:
		res = sumXb - beta*sumXV
		res += sumVb * (beta - 1)
		res /= beta * (beta - 1)
	}
	if squareRoot {
		return math.Sqrt(2 * math.Max(res, 0))
	}
	return res
}

// powT returns v^e in T, taking numpy's exact shortcuts for the exponents
// 2, 1, 0.5, 0 and -1 (square, copy, sqrt, one, reciprocal) so that those
// cases round as numpy's ndarray ** scalar does. The exponents ±1.5 (the
// β ∈ {0.5, 2.5} updates) go through a square root, several times faster
// than math.Pow and within about an ulp of it.
func powT[T Float](v, e T) T {
	switch e {
	case 1.5:
		if v > 0 && !math.IsInf(float64(v), 0) {
			return T(float64(v) * math.Sqrt(float64(v)))
		}
	case -1.5:
		if v > 0 && !math.IsInf(float64(v), 0) {
			return T(1 / (float64(v) * math.Sqrt(float64(v))))
		}
	case 2:
		return v * v
	case 1:
		return v
	case 0.5:
		return T(math.Sqrt(float64(v)))
	case 0:
		return 1
	case -1:
		return 1 / v
	}
	return T(math.Pow(float64(v), float64(e)))
}

// minIsZero reports whether the smallest entry of x is zero (X.min() == 0).
func minIsZero[T Float](x Dense[T]) bool {
	lo := math.Inf(1)
	x.each(func(_, _ int, v T) bool { lo = math.Min(lo, float64(v)); return true })
	return lo == 0
}
