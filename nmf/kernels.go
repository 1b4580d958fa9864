package nmf

import kern "github.com/gonmf/gonmf/nmf/internal/gemm"

// The products that dominate every solver iteration. They read X in place
// whatever its layout (a column-major X is a row-major Xᵀ, so a layout
// change is a transpose flag) and go through the SIMD kernels of
// internal/gemm, which block, pack and use every core by themselves.

// xTimes computes C = X B for X (n x m), B (m x k) and C (n x k), B and C
// row-major with stride k.
func xTimes[T Float](x Dense[T], b []T, k int, c []T) {
	_, _, ld, tr := x.storage()
	kern.Mul(tr, x.Rows, k, x.Cols, x.Data, ld, b, k, c, k)
}

// xtTimes computes C = Xᵀ B for X (n x m), B (n x k) and C (m x k), B and
// C row-major with stride k.
func xtTimes[T Float](x Dense[T], b []T, k int, c []T) {
	_, _, ld, tr := x.storage()
	kern.Mul(!tr, x.Cols, k, x.Rows, x.Data, ld, b, k, c, k)
}

// gram computes the k x k matrix C = Aᵀ A for a row-major A (rows x k).
// C is made exactly symmetric (the upper triangle mirrored), as numpy's
// A.T @ A, which calls syrk, so the coordinate updates see one Hessian.
func gram[T Float](a []T, rows, k int, c []T) {
	kern.Mul(true, k, k, rows, a, k, a, k, c, k)
	for i := range k {
		for j := range i {
			c[i*k+j] = c[j*k+i]
		}
	}
}

// residualSq returns ||X - W H||_F² for W (n x k) and Ht = Hᵀ (m x k), both
// row-major, summed in float64. The residual is formed exactly (not through
// the cancellation-prone ||X||² - 2 tr(Wᵀ X Hᵀ) + tr(WᵀW HHᵀ)) a block of
// stored rows of X at a time, so no n x m temporary is allocated.
func residualSq[T Float](x Dense[T], w, ht []T, k int) float64 {
	rows, cols, ld, tr := x.storage()
	// Stored rows are rows of G = X or Xᵀ; G ≈ A Bᵀ with A = W, B = Ht or
	// the other way round.
	a, b := w, ht
	if tr {
		a, b = ht, w
	}
	const block = 64
	buf := make([]T, min(block, rows)*cols)
	var sum float64
	for r0 := 0; r0 < rows; r0 += block {
		r1 := min(r0+block, rows)
		nr := r1 - r0
		for i := r0; i < r1; i++ {
			copy(buf[(i-r0)*cols:(i-r0+1)*cols], x.Data[i*ld:i*ld+cols])
		}
		// buf = G[r0:r1] - A[r0:r1] Bᵀ
		gemm(false, true, nr, cols, k, -1, a[r0*k:], k, b, k, 1, buf, cols)
		for _, v := range buf[:nr*cols] {
			sum += float64(v) * float64(v)
		}
	}
	return sum
}
