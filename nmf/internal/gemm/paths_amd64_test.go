package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// kernelPath is one way Mul can compute a product on this machine, forced
// through the test hooks.
type kernelPath struct {
	name   string
	ok     func(transA, gram bool) bool // whether the path applies
	set    func()
	simdOn bool
}

func kernelPaths() []kernelPath {
	any := func(bool, bool) bool { return true }
	ps := []kernelPath{{name: "go", ok: any, set: func() {}}}
	if haveSIMD {
		ps = append(ps,
			kernelPath{name: "avx2-dot", ok: func(tr, _ bool) bool { return !tr }, set: func() { useZ, forceN = false, 1 }, simdOn: true},
			kernelPath{name: "avx2-bc", ok: any, set: func() { useZ, forceN = false, 2 }, simdOn: true},
		)
	}
	if haveZ {
		z := func(name string, p int, ok func(bool, bool) bool) kernelPath {
			return kernelPath{name: name, ok: ok, set: func() { forceZ = p }, simdOn: true}
		}
		ps = append(ps,
			z("avx512-auto", pathAuto, any),
			z("avx512-dotN", pathDotN, func(tr, _ bool) bool { return !tr }),
			z("avx512-dotT", pathDotT, func(tr, _ bool) bool { return tr }),
			z("avx512-bc", pathBC, func(tr, _ bool) bool { return tr }),
			z("avx512-bcthin", pathBCThin, func(tr, _ bool) bool { return tr }),
			z("avx512-gram", pathGram, func(tr, g bool) bool { return tr && g }),
			z("avx512-gramthin", pathGramThin, func(tr, g bool) bool { return tr && g }),
		)
	}
	return ps
}

// withPath runs f with path p forced, restoring the hooks afterwards.
func withPath(p kernelPath, f func()) {
	defer func(u bool, fn, fz int) { useZ, forceN, forceZ = u, fn, fz }(useZ, forceN, forceZ)
	defer SetSIMD(SetSIMD(p.simdOn))
	p.set()
	f()
}

// TestPaths runs every kernel path on odd sizes, both layouts of A, both
// element types and padded or offset operands, against the float64
// reference.
func TestPaths(t *testing.T) {
	for _, p := range kernelPaths() {
		t.Run(p.name, func(t *testing.T) {
			t.Run("float32", func(t *testing.T) { testPath[float32](t, p) })
			t.Run("float64", func(t *testing.T) { testPath[float64](t, p) })
		})
	}
}

func testPath[T Float](t *testing.T, p kernelPath) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, sz := range sizes {
		r, k, pp := sz[0], sz[1], sz[2]
		for _, transA := range []bool{false, true} {
			if !p.ok(transA, false) {
				continue
			}
			for li, lo := range layouts {
				a, lda, b, ldb, c, ldc := operands[T](rng, transA, r, k, pp, lo)
				want, scale := naive(transA, r, k, pp, a, lda, b, ldb)
				withPath(p, func() { Mul(transA, r, k, pp, a, lda, b, ldb, c, ldc) })
				t.Run(fmt.Sprintf("%dx%dx%d/transA=%v/layout%d", r, k, pp, transA, li), func(t *testing.T) {
					check(t, r, k, pp, c, ldc, want, scale)
				})
			}
		}
	}
}

// gramSizes are (k, p) for Aᵀ·A with A p x k.
var gramSizes = [][2]int{
	{1, 1}, {1, 37}, {2, 3}, {3, 38}, {3, 5000}, {4, 17}, {5, 1000}, {7, 129},
	{13, 301}, {17, 17}, {20, 2000}, {50, 2718}, {67, 200}, {50, 20011},
}

// TestGram computes Aᵀ·A with a and b the same slice (the Gram fast path
// where there is one) on every path, and checks that C is exactly
// symmetric where the path mirrors it.
func TestGram(t *testing.T) {
	for _, p := range kernelPaths() {
		if !p.ok(true, true) {
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			t.Run("float32", func(t *testing.T) { testGram[float32](t, p) })
			t.Run("float64", func(t *testing.T) { testGram[float64](t, p) })
		})
	}
}

func testGram[T Float](t *testing.T, p kernelPath) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, sz := range gramSizes {
		k, pp := sz[0], sz[1]
		for li, lo := range layouts {
			// A is p x k with stride k+padA; b is the same slice.
			a, lda, _, _, c, ldc := operands[T](rng, true, k, k, pp, lo)
			want, scale := naive(true, k, k, pp, a, lda, a, lda)
			withPath(p, func() { Mul(true, k, k, pp, a, lda, a, lda, c, ldc) })
			t.Run(fmt.Sprintf("%dx%d/layout%d", k, pp, li), func(t *testing.T) {
				check(t, k, k, pp, c, ldc, want, scale)
				if p.name == "avx512-gram" || p.name == "avx512-gramthin" || p.name == "avx512-auto" {
					for i := 0; i < k; i++ {
						for j := 0; j < i; j++ {
							if c[i*ldc+j] != c[j*ldc+i] {
								t.Fatalf("C[%d][%d] = %v != C[%d][%d] = %v", i, j, c[i*ldc+j], j, i, c[j*ldc+i])
							}
						}
					}
				}
			})
		}
	}
}
