package nmf

import (
	"sync"
	"unsafe"

	kern "github.com/gonmf/gonmf/nmf/internal/gemm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// at returns element (i, j) of x.
func (x Dense[T]) at(i, j int) T {
	if x.ColMajor {
		return x.Data[j*x.Stride+i]
	}
	return x.Data[i*x.Stride+j]
}

// set stores v at element (i, j) of x.
func (x Dense[T]) set(i, j int, v T) {
	if x.ColMajor {
		x.Data[j*x.Stride+i] = v
	} else {
		x.Data[i*x.Stride+j] = v
	}
}

// storage returns the row-major matrix G that x's memory holds and whether
// x = Gᵀ (a column-major x is a row-major xᵀ). G is rows x cols with stride ld.
func (x Dense[T]) storage() (rows, cols, ld int, transposed bool) {
	if x.ColMajor {
		return x.Cols, x.Rows, x.Stride, true
	}
	return x.Rows, x.Cols, x.Stride, false
}

// checkView reports whether x is a well-formed view: non-negative shape, a
// stride covering the contiguous dimension, and Data long enough.
func (x Dense[T]) checkView() bool {
	if x.Rows < 0 || x.Cols < 0 {
		return false
	}
	if x.Rows == 0 || x.Cols == 0 {
		return true
	}
	outer, inner, ld, _ := x.storage()
	if ld < inner {
		return false
	}
	return len(x.Data) >= (outer-1)*ld+inner
}

// each calls f(i, j, v) for every element in storage order and stops early,
// returning false, when f returns false.
func (x Dense[T]) each(f func(i, j int, v T) bool) bool {
	outer, inner, ld, tr := x.storage()
	for a := 0; a < outer; a++ {
		row := x.Data[a*ld : a*ld+inner]
		for b, v := range row {
			i, j := a, b
			if tr {
				i, j = b, a
			}
			if !f(i, j, v) {
				return false
			}
		}
	}
	return true
}

// eachRow calls f with every stored row of x (a column of a column-major x)
// in storage order and stops early, returning false, when f returns false.
// Scans that ignore positions use it: a call per row, not per element.
func (x Dense[T]) eachRow(f func(row []T) bool) bool {
	outer, inner, ld, _ := x.storage()
	for a := range outer {
		if !f(x.Data[a*ld : a*ld+inner]) {
			return false
		}
	}
	return true
}

// Scratch buffers of the helpers that need a temporary of their own (small
// transposes, residual tiles) come from these pools, so that thousands of
// small fits in a row do not each allocate them and make the GC run.
var scratch64, scratch32 sync.Pool

// getScratch returns a buffer of n elements with unspecified contents;
// putScratch gives it back.
func getScratch[T Float](n int) *[]T {
	pool := &scratch64
	if isF32[T]() {
		pool = &scratch32
	}
	if v, ok := pool.Get().(*[]T); ok {
		if cap(*v) >= n {
			*v = (*v)[:n]
			return v
		}
	}
	s := make([]T, n)
	return &s
}

func putScratch[T Float](s *[]T) {
	if isF32[T]() {
		scratch32.Put(s)
	} else {
		scratch64.Put(s)
	}
}

// isF32 reports whether T is a 4-byte float.
func isF32[T Float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// as64 and as32 reinterpret a []T as the concrete slice type of the same
// width, so that named float types (~float64) reach gonum's BLAS without a copy.
func as64[T Float](s []T) []float64 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(&s[0])), len(s))
}

func as32[T Float](s []T) []float32 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&s[0])), len(s))
}

func tflag(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// gemm computes C = alpha op(A) op(B) + beta C for row-major A, B, C, where
// op(A) is m x k, op(B) is k x n, with gonum's BLAS for T's width.
func gemm[T Float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if !tB && alpha == 1 && beta == 0 {
		kern.Mul(tA, m, n, k, a, max(lda, 1), b, max(ldb, 1), c, max(ldc, 1))
		return
	}
	if isF32[T]() {
		blas32.Implementation().Sgemm(tflag(tA), tflag(tB), m, n, k, float32(alpha),
			as32(a), max(lda, 1), as32(b), max(ldb, 1), float32(beta), as32(c), max(ldc, 1))
		return
	}
	blas64.Implementation().Dgemm(tflag(tA), tflag(tB), m, n, k, float64(alpha),
		as64(a), max(lda, 1), as64(b), max(ldb, 1), float64(beta), as64(c), max(ldc, 1))
}
