package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestKernelPaths forces each of the two AVX2 paths for C = A·B (dot
// kernels on A in place, bc kernels on A packed transposed) on every size;
// the AVX-512 kernels, which would take precedence, are turned off.
func TestKernelPaths(t *testing.T) {
	if !haveSIMD {
		t.Skip("no SIMD kernels on this machine")
	}
	defer func(f int, z bool) { forceN, useZ = f, z }(forceN, useZ)
	useZ = false
	defer SetSIMD(SetSIMD(true))
	rng := rand.New(rand.NewPCG(7, 8))
	for _, f := range []int{1, 2} {
		forceN = f
		for _, sz := range sizes {
			r, k, p := sz[0], sz[1], sz[2]
			a, lda, b, ldb, c, ldc := operands[float32](rng, false, r, k, p, layouts[1])
			want, scale := naive(false, r, k, p, a, lda, b, ldb)
			Mul(false, r, k, p, a, lda, b, ldb, c, ldc)
			t.Run(fmt.Sprintf("force%d/%dx%dx%d", f, r, k, p), func(t *testing.T) {
				check(t, r, k, p, c, ldc, want, scale)
			})
		}
	}
}

// Micro-kernel throughput on L1-resident data.

func BenchmarkKernDot32(b *testing.B) {
	a := make([]float32, 3*1024)
	bt := make([]float32, 4*1024)
	c := make([]float32, 3*4)
	for range b.N {
		dotF32_3x4(&a[0], 1024, &bt[0], &c[0], 4, 128, 0, 1, &a[0])
	}
	b.ReportMetric(2*12*1024*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
func BenchmarkKernBC32(b *testing.B) {
	a := make([]float32, 16*256)
	bp := make([]float32, 6*256)
	c := make([]float32, 16*6)
	for range b.N {
		bcF32_6(&a[0], &bp[0], &c[0], 256, 1)
	}
	b.ReportMetric(2*16*6*256*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
func BenchmarkKernDot64(b *testing.B) {
	a := make([]float64, 3*512)
	bt := make([]float64, 4*512)
	c := make([]float64, 3*4)
	for range b.N {
		dotF64_3x4(&a[0], 512, &bt[0], &c[0], 4, 128, 0, 1, &a[0])
	}
	b.ReportMetric(2*12*512*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
func BenchmarkKernBC64(b *testing.B) {
	a := make([]float64, 8*256)
	bp := make([]float64, 6*256)
	c := make([]float64, 8*6)
	for range b.N {
		bcF64_6(&a[0], &bp[0], &c[0], 256, 1)
	}
	b.ReportMetric(2*8*6*256*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// AVX-512 micro-kernels on L1-resident data.

func BenchmarkKernDotZ32(b *testing.B) {
	if !haveZ {
		b.Skip()
	}
	a := make([]float32, 3*528)
	bt := make([]float32, 8*528)
	c := make([]float32, 3*8)
	for range b.N {
		dotZF32_3x8(&a[0], 528, &bt[0], 528, &c[0], 8, 512, 1, 1)
	}
	b.ReportMetric(2*24*512*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
func BenchmarkKernBCZ32(b *testing.B) {
	if !haveZ {
		b.Skip()
	}
	a := make([]float32, 32*128)
	bp := make([]float32, 50*128)
	ct := make([]float32, 32*10)
	for range b.N {
		bcZF32_10(&a[0], 32, &bp[0], 50, &ct[0], nil, 0, 128, 1, 32, &a[0], 0, nil)
	}
	b.ReportMetric(2*32*10*128*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
func BenchmarkKernDotZ64(b *testing.B) {
	if !haveZ {
		b.Skip()
	}
	a := make([]float64, 3*264)
	bt := make([]float64, 8*264)
	c := make([]float64, 3*8)
	for range b.N {
		dotZF64_3x8(&a[0], 264, &bt[0], 264, &c[0], 8, 256, 1, 1)
	}
	b.ReportMetric(2*24*256*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
func BenchmarkKernBCZ64(b *testing.B) {
	if !haveZ {
		b.Skip()
	}
	a := make([]float64, 16*128)
	bp := make([]float64, 50*128)
	ct := make([]float64, 16*8)
	for range b.N {
		bcZF64_8(&a[0], 16, &bp[0], 50, &ct[0], nil, 0, 128, 1, 16, &a[0], 0, nil)
	}
	b.ReportMetric(2*16*8*128*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
