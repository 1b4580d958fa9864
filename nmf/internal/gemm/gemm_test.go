package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// sizes are (r, k, p) triples: trivial, prime, not multiples of the vector
// widths, k = 1, k > 64, tiny fits, Gram-like (few rows, long p, split over
// goroutines) and large enough to run in parallel, thin ones (k ≤ 4) too.
var sizes = [][3]int{
	{1, 1, 1}, {1, 1, 2}, {2, 1, 1}, {1, 2, 1}, {3, 4, 8}, {4, 3, 9},
	{7, 13, 31}, {5, 1, 17}, {17, 1, 300}, {1, 64, 64}, {64, 1, 1},
	{16, 6, 256}, {17, 7, 255}, {9, 97, 33}, {31, 130, 45}, {130, 130, 130},
	{38, 3, 5000}, {5000, 3, 38}, {33, 50, 1000}, {50, 50, 20011},
	{7, 5, 100003}, {131, 67, 257}, {211, 50, 3001}, {1031, 11, 523},
	{20011, 3, 301}, {41, 2, 100003},
}

// layout describes how the operands sit in memory: extra columns beyond each
// row (lda > cols, ...) and the offset of each matrix inside its slice.
type layout struct {
	padA, padB, padC int
	offA, offB, offC int
}

var layouts = []layout{{}, {padA: 3, padB: 1, padC: 5, offA: 1, offB: 2, offC: 3}}

// naive computes op(A)·B in float64 together with Σ|op(A)[i][l]·B[l][j]|,
// the scale of the rounding error bound.
func naive[T Float](transA bool, r, k, p int, a []T, lda int, b []T, ldb int) (want, scale []float64) {
	want = make([]float64, r*k)
	scale = make([]float64, r*k)
	for i := 0; i < r; i++ {
		for j := 0; j < k; j++ {
			var s, t float64
			for l := 0; l < p; l++ {
				var x T
				if transA {
					x = a[l*lda+i]
				} else {
					x = a[i*lda+l]
				}
				y := float64(x) * float64(b[l*ldb+j])
				s += y
				t += math.Abs(y)
			}
			want[i*k+j], scale[i*k+j] = s, t
		}
	}
	return want, scale
}

func eps[T Float]() float64 {
	if isF32[T]() {
		return 0x1p-24
	}
	return 0x1p-53
}

// operands returns random operands for the given shape and layout; c is
// filled with a sentinel.
func operands[T Float](rng *rand.Rand, transA bool, r, k, p int, lo layout) (a []T, lda int, b []T, ldb int, c []T, ldc int) {
	ar, ac := r, p
	if transA {
		ar, ac = p, r
	}
	lda, ldb, ldc = ac+lo.padA, k+lo.padB, k+lo.padC
	a = make([]T, lo.offA+ar*lda)
	b = make([]T, lo.offB+p*ldb)
	c = make([]T, lo.offC+r*ldc)
	for i := range a {
		a[i] = T(rng.Float64()*2 - 0.5)
	}
	for i := range b {
		b[i] = T(rng.Float64()*2 - 0.5)
	}
	for i := range c {
		c[i] = T(math.NaN())
	}
	return a[lo.offA:], lda, b[lo.offB:], ldb, c[lo.offC:], ldc
}

// check compares c with the reference and verifies that entries of c
// outside the r x k block still hold the NaN sentinel.
func check[T Float](t *testing.T, r, k, p int, c []T, ldc int, want, scale []float64) {
	t.Helper()
	// |error| ≤ γ_p·Σ|terms| with γ_p ≈ p·eps; a factor 2 covers the
	// float64 reference and the reassociation of the kernels.
	tol := 2 * float64(p+2) * eps[T]()
	bad := 0
	for i := 0; i < r; i++ {
		for j := 0; j < ldc && i*ldc+j < len(c); j++ {
			got := float64(c[i*ldc+j])
			if j >= k {
				if !math.IsNaN(got) {
					t.Fatalf("c[%d][%d] outside the result was overwritten", i, j)
				}
				continue
			}
			w := want[i*k+j]
			if d := math.Abs(got - w); !(d <= tol*scale[i*k+j]) {
				if bad++; bad <= 5 {
					t.Errorf("C[%d][%d] = %v, want %v (error %.3g > %.3g)", i, j, got, w, d, tol*scale[i*k+j])
				}
			}
		}
	}
	if bad > 5 {
		t.Errorf("%d wrong entries", bad)
	}
}

func testMul[T Float](t *testing.T, simd bool) {
	defer SetSIMD(SetSIMD(simd))
	if simd && !SIMD() {
		t.Skip("no SIMD kernels on this machine")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range sizes {
		r, k, p := sz[0], sz[1], sz[2]
		for _, transA := range []bool{false, true} {
			for li, lo := range layouts {
				name := fmt.Sprintf("%dx%dx%d/transA=%v/layout%d", r, k, p, transA, li)
				t.Run(name, func(t *testing.T) {
					a, lda, b, ldb, c, ldc := operands[T](rng, transA, r, k, p, lo)
					want, scale := naive(transA, r, k, p, a, lda, b, ldb)
					Mul(transA, r, k, p, a, lda, b, ldb, c, ldc)
					check(t, r, k, p, c, ldc, want, scale)
				})
			}
		}
	}
}

func TestMulFloat32SIMD(t *testing.T)     { testMul[float32](t, true) }
func TestMulFloat64SIMD(t *testing.T)     { testMul[float64](t, true) }
func TestMulFloat32Fallback(t *testing.T) { testMul[float32](t, false) }
func TestMulFloat64Fallback(t *testing.T) { testMul[float64](t, false) }

// TestSIMDMatchesFallback runs both paths on the same operands, one
// goroutine and several, and compares them to each other.
func TestSIMDMatchesFallback(t *testing.T) {
	if !haveSIMD {
		t.Skip("no SIMD kernels on this machine")
	}
	t.Run("float32", func(t *testing.T) { simdVsGo[float32](t) })
	t.Run("float64", func(t *testing.T) { simdVsGo[float64](t) })
}

func simdVsGo[T Float](t *testing.T) {
	defer SetSIMD(SetSIMD(true))
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sz := range [][3]int{{7, 13, 31}, {131, 67, 257}, {1150, 50, 271}, {40, 40, 30001}} {
		r, k, p := sz[0], sz[1], sz[2]
		for _, transA := range []bool{false, true} {
			a, lda, b, ldb, c, ldc := operands[T](rng, transA, r, k, p, layouts[1])
			_, scale := naive(transA, r, k, p, a, lda, b, ldb)
			var res [][]T
			for _, procs := range []int{1, 3} {
				for _, simd := range []bool{true, false} {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
					SetSIMD(simd)
					Mul(transA, r, k, p, a, lda, b, ldb, c, ldc)
					res = append(res, append([]T(nil), c...))
				}
			}
			tol := 4 * float64(p+2) * eps[T]()
			for x := 1; x < len(res); x++ {
				for i := 0; i < r; i++ {
					for j := 0; j < k; j++ {
						d := math.Abs(float64(res[x][i*ldc+j] - res[0][i*ldc+j]))
						if !(d <= tol*scale[i*k+j]) {
							t.Fatalf("%v transA=%v: run %d C[%d][%d] = %v, run 0 gave %v", sz, transA, x, i, j, res[x][i*ldc+j], res[0][i*ldc+j])
						}
					}
				}
			}
		}
	}
}

// TestSetSIMD checks that SetSIMD returns the previous setting.
func TestSetSIMD(t *testing.T) {
	was := SetSIMD(false)
	defer SetSIMD(was)
	if was != haveSIMD {
		t.Errorf("SIMD initially %v, want %v", was, haveSIMD)
	}
	if SetSIMD(true) || SIMD() != haveSIMD {
		t.Error("SetSIMD(true) after SetSIMD(false)")
	}
}

func TestZeroSizes(t *testing.T) {
	c := []float64{1, 2, 3, 4}
	Mul(false, 2, 2, 0, nil, 1, nil, 2, c, 2)
	for _, v := range c {
		if v != 0 {
			t.Fatalf("p = 0: C = %v, want zeros", c)
		}
	}
	Mul(true, 0, 3, 5, nil, 1, make([]float64, 15), 3, nil, 3)
	Mul[float32](false, 3, 0, 5, make([]float32, 15), 5, nil, 1, nil, 1)
}

func TestPanics(t *testing.T) {
	a, b, c := make([]float64, 12), make([]float64, 12), make([]float64, 12)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative", func() { Mul(false, -1, 2, 2, a, 2, b, 2, c, 2) }},
		{"lda", func() { Mul(false, 2, 2, 3, a, 2, b, 2, c, 2) }},
		{"lda transposed", func() { Mul(true, 3, 2, 2, a, 2, b, 2, c, 2) }},
		{"ldb", func() { Mul(false, 2, 3, 2, a, 2, b, 2, c, 3) }},
		{"ldc", func() { Mul(false, 2, 3, 2, a, 2, b, 3, c, 2) }},
		{"short a", func() { Mul(false, 4, 2, 4, a, 4, b, 2, c, 2) }},
		{"short b", func() { Mul(false, 2, 3, 5, a, 5, b, 3, c, 3) }},
		{"short c", func() { Mul(false, 5, 3, 2, a, 2, b, 3, c, 3) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f()
		})
	}
}

// TestNoAllocs checks that a small (serial) product allocates nothing once
// the buffer pools are warm.
func TestNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	for _, simd := range []bool{true, false} {
		for _, transA := range []bool{false, true} {
			was := SetSIMD(simd)
			rng := rand.New(rand.NewPCG(5, 6))
			a, lda, b, ldb, c, ldc := operands[float64](rng, transA, 38, 3, 5000, layout{})
			n := testing.AllocsPerRun(50, func() { Mul(transA, 38, 3, 5000, a, lda, b, ldb, c, ldc) })
			SetSIMD(was)
			if n > 0 {
				t.Errorf("simd=%v transA=%v: %v allocations per call", simd, transA, n)
			}
		}
	}
}
