package nmf

import (
	"runtime"
	"sync"
	"sync/atomic"

	kern "github.com/gonmf/gonmf/nmf/internal/gemm"
)

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
// the cancellation-prone ||X||² - 2 tr(Wᵀ X Hᵀ) + tr(WᵀW HHᵀ)), one tile of
// X at a time, so no n x m temporary is allocated: with G = X or Xᵀ the
// matrix X's memory holds, G ≈ A Bᵀ, and a tile G[r0:r1, c0:c1] is compared
// with A[r0:r1] · Bᵀ[:, c0:c1], a plain product once the k x (c1-c0) slice
// of Bᵀ is transposed out of B. Tiles are summed in a fixed order, so the
// result does not depend on how many goroutines share them.
func residualSq[T Float](x Dense[T], w, ht []T, k int) float64 {
	rows, cols, ld, tr := x.storage()
	if rows == 0 || cols == 0 {
		return 0
	}
	a, b := w, ht
	if tr {
		a, b = ht, w
	}
	nr := min(rows, residualTileRows)
	cb := min(cols, max(residualTileElems/nr, 8))
	tiles := (cols + cb - 1) / cb
	partial := make([]float64, tiles)
	work := func(next *atomic.Int64) {
		buf := getScratch[T](k*cb + nr*cb)
		defer putScratch(buf)
		bt, prod := (*buf)[:k*cb], (*buf)[k*cb:]
		for t := int(next.Add(1)) - 1; t < tiles; t = int(next.Add(1)) - 1 {
			c0 := t * cb
			c1 := min(c0+cb, cols)
			nc := c1 - c0
			for j := c0; j < c1; j++ {
				for l, v := range b[j*k : j*k+k] {
					bt[l*nc+j-c0] = v
				}
			}
			var sum float64
			for r0 := 0; r0 < rows; r0 += nr {
				r1 := min(r0+nr, rows)
				kern.Mul(false, r1-r0, nc, k, a[r0*k:], k, bt, nc, prod, nc)
				for i := r0; i < r1; i++ {
					sum += diffSq(x.Data[i*ld+c0:i*ld+c1], prod[(i-r0)*nc:(i-r0+1)*nc])
				}
			}
			partial[t] = sum
		}
	}
	var next atomic.Int64
	nw := 1
	if flops := 2 * float64(rows) * float64(cols) * float64(k); flops >= residualParallelFlops {
		nw = min(runtime.GOMAXPROCS(0), tiles)
	}
	var wg sync.WaitGroup
	for range nw - 1 {
		wg.Go(func() { work(&next) })
	}
	work(&next)
	wg.Wait()
	var sum float64
	for _, v := range partial {
		sum += v
	}
	return sum
}

// Tiles of residualSq: up to residualTileRows rows and residualTileElems
// elements (128 KiB of float64, cache-resident while summed); products of
// at least residualParallelFlops are shared by all cores.
const (
	residualTileRows      = 64
	residualTileElems     = 1 << 14
	residualParallelFlops = 8 << 20
)

// diffSq returns Σ (g[j] - p[j])², the differences in T, the squares summed
// in float64 (four partial sums, for throughput).
func diffSq[T Float](g, p []T) float64 {
	p = p[:len(g)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(g); j += 4 {
		d0 := float64(g[j] - p[j])
		d1 := float64(g[j+1] - p[j+1])
		d2 := float64(g[j+2] - p[j+2])
		d3 := float64(g[j+3] - p[j+3])
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; j < len(g); j++ {
		d := float64(g[j] - p[j])
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}
