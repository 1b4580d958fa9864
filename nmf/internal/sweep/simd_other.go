//go:build !amd64

package sweep

// haveSIMD is false: only amd64 has generated kernels.
const haveSIMD = false

func cdSIMD[T Float](a, p, g []T, k int, perm []int) { panic("sweep: no SIMD kernels") }

func halsSIMD[T Float](a, p, g []T, k int, perm []int, noViol bool) (violation, change2 float64) {
	panic("sweep: no SIMD kernels")
}

func loadSIMD[T Float](dst, src []T, k, groups int, ahead bool) { panic("sweep: no SIMD kernels") }

func storeSIMD[T Float](dst, src []T, k, groups int) { panic("sweep: no SIMD kernels") }

func cd3SIMD[T Float](a, p, g []T, perm []int, out []T, outS, outG, groups int) T {
	panic("sweep: no SIMD kernels")
}

func halsInnerSIMD[T Float](a, p, g []T, k int, perm []int, maxSweeps int, stop float64, sweeps int) int {
	panic("sweep: no SIMD kernels")
}
