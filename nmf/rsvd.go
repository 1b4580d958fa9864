package nmf

import (
	"math"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"

	"github.com/gonmf/gonmf/nmf/internal/mtrand"
)

// svdResult holds a truncated SVD X ≈ U diag(S) Vt with U (n x k) and
// Vt (k x m), both row-major.
type svdResult struct {
	n, m, k  int
	U, S, Vt []float64
}

// randomizedSVD computes the k leading singular triplets of the n x m matrix
// x as scikit-learn's randomized_svd(X, k, random_state=rng) does with its
// defaults (Halko, Martinsson & Tropp 2011, algorithm 4.4):
//
//	l = k + 10 samples, q = 7 power iterations if k < 0.1 min(n, m) else 4;
//	M = Xᵀ if n < m else X (so that M has at most as many columns as rows);
//	Ω = rng.normal(size=(cols(M), l))            (C order: the draws must match)
//	Q = orth(M Ω); repeat q times: Q = orth(Mᵀ Q), Q = orth(M Q);
//	B = Qᵀ M = Û Σ Vᵀ (thin SVD);  U = Q Û;
//
// then svd_flip's sign convention and the transpose undone. scikit-learn
// normalises the power steps with an LU factorisation; that changes only the
// basis of each iterate, not its span, so the QR used here yields the same
// U, S, V up to rounding. x is read through gonum BLAS in place, whatever its
// layout. k must not exceed min(n, m).
func randomizedSVD(x Dense[float64], k int, rng *mtrand.RandomState) svdResult {
	n, m := x.Rows, x.Cols
	l := k + 10
	iters := 4
	if float64(k) < 0.1*float64(min(n, m)) {
		iters = 7
	}
	transpose := n < m
	// M = X or Xᵀ; G is the row-major matrix in x's memory; M = op(G).
	_, _, ld, xT := x.storage()
	mT := transpose != xT // M = Gᵀ
	p, q := n, m          // shape of M
	if transpose {
		p, q = m, n
	}
	// mul computes out = op(M) Y with op(M) = M (tr false) or Mᵀ, Y row-major
	// (cols(op M) x c), out row-major (rows(op M) x c). The range finder
	// alternates between two buffers, p x l and q x l, allocated once: Y and
	// Q share one (the QR is done in place), so no iterate is allocated.
	mul := func(tr bool, y []float64, c int, out []float64) []float64 {
		r, inner := p, q
		if tr {
			r, inner = q, p
		}
		out = out[:r*c]
		gemm(tr != mT, false, r, c, inner, 1, x.Data, ld, y, c, 0, out, c)
		return out
	}
	bufP := make([]float64, p*l) // M Q, then its Q
	bufQ := make([]float64, q*l) // Ω, then Mᵀ Q and its Q

	omega := bufQ[:q*l]
	rng.StandardNormal(omega)

	Q, c := orth(mul(false, omega, l, bufP), p, l)
	for range iters {
		Q, c = orth(mul(true, Q, c, bufQ), q, c)
		Q, c = orth(mul(false, Q, c, bufP), p, c)
	}
	// Bᵀ = Mᵀ Q (q x c); B = Qᵀ M (c x q).
	bt := mul(true, Q, c, bufQ)
	b := make([]float64, c*q)
	for i := range q {
		for j := range c {
			b[j*q+i] = bt[i*c+j]
		}
	}
	r := min(c, q)
	s := make([]float64, r)
	uhat := make([]float64, c*r)
	vt := make([]float64, r*q)
	work := []float64{0}
	bg := blas64.General{Rows: c, Cols: q, Stride: q, Data: b}
	ug := blas64.General{Rows: c, Cols: r, Stride: max(r, 1), Data: uhat}
	vg := blas64.General{Rows: r, Cols: q, Stride: max(q, 1), Data: vt}
	lapack64.Gesvd(lapack.SVDStore, lapack.SVDStore, bg, ug, vg, s, work, -1)
	work = make([]float64, int(work[0]))
	// Gesvd reports non-convergence only for non-finite input, which Fit
	// has rejected; its partial result would still be a usable start.
	lapack64.Gesvd(lapack.SVDStore, lapack.SVDStore, bg, ug, vg, s, work, len(work))

	// Only the k leading triplets are kept, so only k columns of the p x r
	// U_M = Q Û are formed, straight into the result: U_X (n x k) when
	// M = X, Vt_X = (Q Û[:, :k])ᵀ (k x m) when M = Xᵀ.
	res := svdResult{n: n, m: m, k: k, S: s[:k]}
	if !transpose {
		res.U = make([]float64, n*k)
		gemm(false, false, p, k, c, 1, Q, c, uhat, r, 0, res.U, k)
		res.Vt = vt[: k*m : k*m]
	} else {
		res.Vt = make([]float64, k*m)
		gemm(true, true, k, p, c, 1, uhat, r, Q, c, 0, res.Vt, m)
		res.U = make([]float64, n*k)
		for j := range k {
			for i := range n {
				res.U[i*k+j] = vt[j*q+i]
			}
		}
	}

	// svd_flip: make the largest-magnitude entry of each column of U_M (or,
	// after a transpose, each row of Vᵀ_M) positive. The first maximum wins.
	// Column j of U_X is column j of U_M, or row j of Vᵀ_M after a transpose.
	for j := range k {
		if signOfMaxAbs(res.U, j, k, n) < 0 {
			for i := range n {
				res.U[i*k+j] = -res.U[i*k+j]
			}
			for i := range m {
				res.Vt[j*m+i] = -res.Vt[j*m+i]
			}
		}
	}
	return res
}

// signOfMaxAbs returns the sign (+1 or -1) of the first entry of largest
// magnitude among v[off], v[off+stride], ..., count entries.
func signOfMaxAbs(v []float64, off, stride, count int) float64 {
	best, arg := -1.0, 0.0
	for i := range count {
		e := v[off+i*stride]
		if a := math.Abs(e); a > best {
			best, arg = a, e
		}
	}
	if arg < 0 {
		return -1
	}
	return 1
}

// orth returns an orthonormal basis of the columns of the row-major
// rows x c matrix y (the thin Q of y = QR, as scipy's qr(mode='economic')),
// and its number of columns min(rows, c). y is overwritten.
func orth(y []float64, rows, c int) ([]float64, int) {
	kk := min(rows, c)
	tau := make([]float64, kk)
	g := blas64.General{Rows: rows, Cols: c, Stride: c, Data: y}
	work := []float64{0}
	lapack64.Geqrf(g, tau, work, -1)
	work = make([]float64, max(int(work[0]), c, 1))
	lapack64.Geqrf(g, tau, work, len(work))
	// Q occupies the first kk columns; Orgqr needs rows >= kk columns.
	qg := blas64.General{Rows: rows, Cols: kk, Stride: c, Data: y}
	query := []float64{0}
	lapack64.Orgqr(qg, tau, query, -1)
	w2 := make([]float64, max(int(query[0]), kk, 1))
	lapack64.Orgqr(qg, tau, w2, len(w2))
	if kk == c {
		return y, c
	}
	out := make([]float64, rows*kk)
	for i := range rows {
		copy(out[i*kk:i*kk+kk], y[i*c:i*c+kk])
	}
	return out, kk
}
