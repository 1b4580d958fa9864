package gemm

import "testing"

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
