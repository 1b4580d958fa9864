package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// benchShapes are the NMF products (r x p)·(p x k): X·Hᵀ and Xᵀ·W for the
// 1,150 x 2,718 and 1,150 x 18,000 data sets, a Gram-like product, X·Hᵀ and
// Xᵀ·W for a 20,000 x 2,000 data set with k = 20 and for tiny fits (38 x
// 5,000, k = 3). Each runs
// with A stored as r x p (transA = false, e.g. X·Hᵀ for a row-major X) and as
// p x r (transA = true, e.g. Xᵀ·W for a row-major X or X·Hᵀ for a
// column-major one).
var benchShapes = [][3]int{ // r, p, k
	{1150, 2718, 50},
	{2718, 1150, 50},
	{1150, 18000, 50},
	{18000, 1150, 50},
	{50, 18000, 50},
	{20000, 2000, 20},
	{2000, 20000, 20},
	{38, 5000, 3},
	{5000, 38, 3},
}

func BenchmarkMul(b *testing.B) {
	for _, impl := range []string{"simd", "go"} {
		for _, typ := range []string{"f32", "f64"} {
			for _, s := range benchShapes {
				for _, transA := range []bool{false, true} {
					t := "N"
					if transA {
						t = "T"
					}
					name := fmt.Sprintf("%s/%s/%dx%dx%d/%s", impl, typ, s[0], s[1], s[2], t)
					b.Run(name, func(b *testing.B) {
						defer SetSIMD(SetSIMD(impl == "simd"))
						if impl == "simd" && !SIMD() {
							b.Skip("no SIMD kernels on this machine")
						}
						if typ == "f32" {
							benchMul[float32](b, transA, s[0], s[1], s[2])
						} else {
							benchMul[float64](b, transA, s[0], s[1], s[2])
						}
					})
				}
			}
		}
	}
}

func benchMul[T Float](b *testing.B, transA bool, r, p, k int) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, lda, bb, ldb, c, ldc := operands[T](rng, transA, r, k, p, layout{})
	Mul(transA, r, k, p, a, lda, bb, ldb, c, ldc)
	flop := 2 * float64(r) * float64(k) * float64(p)
	best, bestCPU := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	serial := runtime.GOMAXPROCS(0) == 1
	if serial {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	b.ResetTimer()
	for range b.N {
		t, u := time.Now(), threadCPU()
		Mul(transA, r, k, p, a, lda, bb, ldb, c, ldc)
		best, bestCPU = min(best, time.Since(t)), min(bestCPU, threadCPU()-u)
	}
	b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	// The fastest call is robust to other load on the machine; so is, with
	// one goroutine (-cpu 1), the CPU time of the calling thread.
	b.ReportMetric(flop/best.Seconds()/1e9, "best-GFLOP/s")
	b.ReportMetric(float64(best.Nanoseconds())/1e3, "best-µs")
	if serial && bestCPU > 0 {
		b.ReportMetric(flop/bestCPU.Seconds()/1e9, "cpu-GFLOP/s")
	}
}

// gramShapes are (k, p) of Gram products Aᵀ·A, A p x k, with a and b the
// same slice, as the engine computes them: tiny fits (k = 3), and the
// factors of the 1,150 x 2,718 and 1,150 x 18,000 data sets.
var gramShapes = [][2]int{{3, 38}, {3, 5000}, {20, 2000}, {50, 1150}, {50, 2718}, {50, 18000}}

func BenchmarkGram(b *testing.B) {
	for _, impl := range []string{"simd", "go"} {
		for _, typ := range []string{"f32", "f64"} {
			for _, s := range gramShapes {
				b.Run(fmt.Sprintf("%s/%s/%dx%d", impl, typ, s[0], s[1]), func(b *testing.B) {
					defer SetSIMD(SetSIMD(impl == "simd"))
					if impl == "simd" && !SIMD() {
						b.Skip("no SIMD kernels on this machine")
					}
					if typ == "f32" {
						benchGram[float32](b, s[0], s[1])
					} else {
						benchGram[float64](b, s[0], s[1])
					}
				})
			}
		}
	}
}

func benchGram[T Float](b *testing.B, k, p int) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, lda, _, _, c, ldc := operands[T](rng, true, k, k, p, layout{})
	Mul(true, k, k, p, a, lda, a, lda, c, ldc)
	flop := 2 * float64(k) * float64(k) * float64(p)
	best := time.Duration(math.MaxInt64)
	b.ResetTimer()
	for range b.N {
		t := time.Now()
		Mul(true, k, k, p, a, lda, a, lda, c, ldc)
		best = min(best, time.Since(t))
	}
	b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(flop/best.Seconds()/1e9, "best-GFLOP/s")
	b.ReportMetric(float64(best.Nanoseconds())/1e3, "best-µs")
}
