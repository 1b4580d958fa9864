//go:build !amd64

package gemm

// haveSIMD is false: only amd64 has generated kernels.
const haveSIMD = false

// mulSIMD reports that no SIMD kernel ran.
func mulSIMD[T Float](m mat[T]) bool { return false }
