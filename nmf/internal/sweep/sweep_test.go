package sweep

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// panel returns a random panel a, P (k x Lanes) and G (k x k) of kind:
// "random" (uniform, a with zeros), "adversarial" (zeros, ties, ±0, a zero
// Hessian, negative entries) or "nan" (a NaN and an Inf in G).
func panel[T Float](kind string, k int, seed uint64) (a, p, g []T, perm []int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	l := Lanes[T]()
	a, p, g = make([]T, k*l), make([]T, k*l), make([]T, k*k)
	pick := func(vals ...float64) T { return T(vals[rng.IntN(len(vals))]) }
	for i := range a {
		switch kind {
		case "random":
			a[i] = T(rng.Float64())
			if rng.IntN(4) == 0 {
				a[i] = 0
			}
			p[i] = T(rng.Float64() * float64(k))
		default:
			a[i] = pick(0, 0, 1, 0.5, 2, math.Copysign(0, -1))
			p[i] = pick(0, 1, -1, 0.5, 3, math.Copysign(0, -1))
		}
	}
	for t := range k {
		for r := range k {
			switch kind {
			case "random":
				g[t*k+r] = T(rng.Float64())
			default:
				g[t*k+r] = pick(0, 1, 0.5, -0.25, 2, math.Copysign(0, -1))
			}
		}
		if kind == "random" {
			g[t*k+t] += T(k)
		}
	}
	if kind != "random" {
		g[(k/2)*k+k/2] = 0 // a zero Hessian
	}
	if kind == "nan" {
		g[rng.IntN(k*k)] = T(math.NaN())
		g[rng.IntN(k*k)] = T(math.Inf(1))
	}
	perm = rng.Perm(k)
	return a, p, g, perm
}

func sameBits[T Float](x, y []T) bool {
	for i := range x {
		if math.Float64bits(float64(x[i])) != math.Float64bits(float64(y[i])) && !(x[i] != x[i] && y[i] != y[i]) {
			return false
		}
	}
	return true
}

var cases = []struct {
	kind string
	k    int
}{
	{"random", 1}, {"random", 3}, {"random", 7}, {"random", 50}, {"random", 70},
	{"adversarial", 1}, {"adversarial", 3}, {"adversarial", 50}, {"adversarial", 67},
	{"nan", 3}, {"nan", 20},
}

func TestCDSIMDMatchesFallback(t *testing.T) {
	if !haveSIMD {
		t.Skip("no SIMD kernels")
	}
	t.Run("float64", func(t *testing.T) { testCD[float64](t) })
	t.Run("float32", func(t *testing.T) { testCD[float32](t) })
}

func testCD[T Float](t *testing.T) {
	defer SetSIMD(SetSIMD(true))
	for _, c := range cases {
		for seed := range uint64(5) {
			a, p, g, perm := panel[T](c.kind, c.k, seed)
			a2, p2 := slices.Clone(a), slices.Clone(p)
			for range 3 { // several sweeps: later ones start from zeros the steps made
				SetSIMD(true)
				CD(a, p, g, c.k, perm)
				SetSIMD(false)
				CD(a2, p2, g, c.k, perm)
				if !sameBits(a, a2) || !sameBits(p, p2) {
					t.Fatalf("%s k=%d seed %d: SIMD and fallback differ", c.kind, c.k, seed)
				}
			}
		}
	}
}

// TestCD3 checks CD3, SIMD and fallback, against CD on the same rows held
// in a panel: bitwise the same A and |projected gradients|, for every
// order perm, both output layouts (overlaying P, and separate) and group
// counts that exercise the kernel's blocks of four groups and single ones.
func TestCD3(t *testing.T) {
	t.Run("float64", func(t *testing.T) { testCD3[float64](t) })
	t.Run("float32", func(t *testing.T) { testCD3[float32](t) })
}

func testCD3[T Float](t *testing.T) {
	defer SetSIMD(SetSIMD(true))
	perms := [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	for _, kind := range []string{"random", "adversarial", "nan"} {
		for seed := range uint64(5) {
			for _, perm := range perms {
				for _, simd := range []bool{true, false} {
					for _, overlay := range []bool{true, false} {
						a, p, g, _ := panel[T](kind, 3, seed)
						l := Lanes[T]()
						groups := []int{l / 4, 7, 5, 1}[seed%4]  // the other rows: not compared
						ra, rp := make([]T, 3*l), make([]T, 3*l) // row-major copies
						for i := range l {
							for r := range 3 {
								ra[3*i+r], rp[3*i+r] = a[r*l+i], p[r*l+i]
							}
						}
						out, outS, outG := rp, 4, 12
						if !overlay {
							out, outS, outG = make([]T, 3*l), l, 4
						}
						for sweep := range 3 {
							SetSIMD(true)
							CD(a, p, g, 3, perm)
							SetSIMD(simd)
							first := CD3(ra, rp, g, perm, out, outS, outG, groups)
							var want T
							for i := range 4 * groups {
								want += p[perm[0]*l+i]
							}
							if !sameBits([]T{first}, []T{want}) {
								t.Fatalf("%s seed %d perm %v simd %v overlay %v sweep %d: first = %v, want %v", kind, seed, perm, simd, overlay, sweep, first, want)
							}
							for i := range 4 * groups {
								for s, tt := range perm {
									got, want := out[i/4*outG+s*outS+i%4], p[tt*l+i]
									if !sameBits([]T{got, ra[3*i+tt]}, []T{want, a[tt*l+i]}) {
										t.Fatalf("%s seed %d perm %v simd %v overlay %v sweep %d row %d step %d: (pg, a) = (%v, %v), want (%v, %v)",
											kind, seed, perm, simd, overlay, sweep, i, s, got, ra[3*i+tt], want, a[tt*l+i])
									}
								}
							}
							if overlay { // the next sweep's P
								for i := range l {
									for r := range 3 {
										rp[3*i+r] = T(float64(i+r) / 7)
										p[r*l+i] = rp[3*i+r]
									}
								}
							} else {
								for i := range l {
									for r := range 3 {
										p[r*l+i] = rp[3*i+r]
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestHALSChange checks that HALSChange makes bitwise HALS's steps and
// returns its sum of squared changes, SIMD and fallback.
func TestHALSChange(t *testing.T) {
	t.Run("float64", func(t *testing.T) { testHALSChange[float64](t) })
	t.Run("float32", func(t *testing.T) { testHALSChange[float32](t) })
}

func testHALSChange[T Float](t *testing.T) {
	defer SetSIMD(SetSIMD(true))
	for _, simd := range []bool{true, false} {
		SetSIMD(simd)
		for _, c := range cases {
			for seed := range uint64(3) {
				a, p, g, perm := panel[T](c.kind, c.k, seed)
				a2 := slices.Clone(a)
				for sweep := range 3 {
					_, d1 := HALS(a, p, g, c.k, perm)
					d2 := HALSChange(a2, p, g, c.k, perm)
					if !sameBits(a, a2) || !sameBits([]float64{d1}, []float64{d2}) {
						t.Fatalf("simd %v %s k=%d seed %d sweep %d: HALSChange differs from HALS (change² %g vs %g)", simd, c.kind, c.k, seed, sweep, d1, d2)
					}
				}
			}
		}
	}
}

// TestHALSInner checks HALSInner against its definition: HALS, then
// HALSChange until the δ test or the budget stops, bitwise.
func TestHALSInner(t *testing.T) {
	t.Run("float64", func(t *testing.T) { testHALSInner[float64](t) })
	t.Run("float32", func(t *testing.T) { testHALSInner[float32](t) })
}

func testHALSInner[T Float](t *testing.T) {
	defer SetSIMD(SetSIMD(true))
	for _, simd := range []bool{true, false} {
		SetSIMD(simd)
		for _, c := range cases {
			for _, budget := range []struct {
				max   int
				delta float64
			}{{1, 0.1}, {5, 0}, {50, 0.1}, {50, 0.5}} {
				a, p, g, perm := panel[T](c.kind, c.k, 1)
				a2 := slices.Clone(a)
				v, n := HALSInner(a, p, g, c.k, perm, budget.max, budget.delta)
				v2, first := HALS(a2, p, g, c.k, perm)
				n2 := 1
				for n2 < budget.max && first > 0 {
					n2++
					if HALSChange(a2, p, g, c.k, perm) <= budget.delta*budget.delta*first {
						break
					}
				}
				if !sameBits(a, a2) || !sameBits([]float64{v}, []float64{v2}) || n != n2 {
					t.Fatalf("simd %v %s k=%d budget %v: HALSInner gives violation %v in %d sweeps, want %v in %d", simd, c.kind, c.k, budget, v, n, v2, n2)
				}
			}
		}
	}
}

func TestHALSSIMDMatchesFallback(t *testing.T) {
	if !haveSIMD {
		t.Skip("no SIMD kernels")
	}
	t.Run("float64", func(t *testing.T) { testHALS[float64](t, 1e-12) })
	t.Run("float32", func(t *testing.T) { testHALS[float32](t, 1e-4) })
}

func testHALS[T Float](t *testing.T, tol float64) {
	defer SetSIMD(SetSIMD(true))
	close := func(x, y float64) bool {
		return x == y || math.Abs(x-y) <= tol*max(1, math.Abs(x), math.Abs(y)) || (x != x && y != y)
	}
	for _, c := range cases {
		for seed := range uint64(5) {
			a, p, g, perm := panel[T](c.kind, c.k, seed)
			if c.kind != "random" { // steps of ill-posed data amplify rounding
				continue
			}
			a2 := slices.Clone(a)
			for range 3 {
				SetSIMD(true)
				v1, d1 := HALS(a, p, g, c.k, perm)
				SetSIMD(false)
				v2, d2 := HALS(a2, p, g, c.k, perm)
				if !close(v1, v2) || !close(d1, d2) {
					t.Fatalf("%s k=%d seed %d: violation %g vs %g, change² %g vs %g", c.kind, c.k, seed, v1, v2, d1, d2)
				}
				for i := range a {
					if !close(float64(a[i]), float64(a2[i])) {
						t.Fatalf("%s k=%d seed %d: a[%d] = %g vs %g", c.kind, c.k, seed, i, a[i], a2[i])
					}
				}
			}
		}
	}
}

// TestHALSSemantics checks the SIMD kernel's edge cases against the
// fallback exactly where no rounding is involved: zero Hessians skip the
// step, NaN steps give 0, and projected gradients of zeros.
func TestHALSSemantics(t *testing.T) {
	for _, simd := range []bool{false, true} {
		if simd && !haveSIMD {
			continue
		}
		was := SetSIMD(simd)
		l := Lanes[float64]()
		k := 2
		a, p := make([]float64, k*l), make([]float64, k*l)
		// G[0,0] = 0 (skip), G[1,1] = 2.
		g := []float64{0, 1, 1, 2}
		for i := range l {
			a[i], a[l+i] = 1, 0
			p[i], p[l+i] = 5, float64(i%3)-1 // P[1] in {-1, 0, 1}
		}
		v, d := HALS(a, p, g, k, []int{0, 1})
		// t=0: g = 0·1 + 1·0 - 5 = -5, a ≠ 0: |pg| = 5, no step.
		// t=1: g = 1·1 + 2·0 - P = 1 - P ∈ {2, 1, 0}, a = 0: pg = min(g,0) = 0;
		// step: a = max(0 - g/2, 0) = 0.
		if v != 5*float64(l) || d != 0 {
			t.Errorf("simd=%v: violation %g, change² %g; want %d, 0", simd, v, d, 5*l)
		}
		for i := range l {
			if a[i] != 1 || a[l+i] != 0 {
				t.Fatalf("simd=%v: lane %d: a = %g, %g", simd, i, a[i], a[l+i])
			}
		}
		SetSIMD(was)
	}
}

func TestLoadStore(t *testing.T) {
	t.Run("float64", func(t *testing.T) { testLoadStore[float64](t) })
	t.Run("float32", func(t *testing.T) { testLoadStore[float32](t) })
}

func testLoadStore[T Float](t *testing.T) {
	defer SetSIMD(SetSIMD(true))
	l := Lanes[T]()
	for _, simd := range []bool{false, true} {
		SetSIMD(simd)
		for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 9, 50, 67} {
			for _, rows := range []int{0, 1, 3, 4, 5, 8, 13, l - 1, l} {
				src := make([]T, rows*k)
				for i := range src {
					src[i] = T(i + 1)
				}
				dst := make([]T, PanelLen[T](k))
				for i := range dst {
					dst[i] = -1
				}
				// Load may read ahead when src extends beyond the rows.
				ext := append(slices.Clone(src), 9, 9, 9)
				Load(dst, ext, rows, k)
				for r := range k {
					for i := range l {
						want := T(0)
						if i < rows {
							want = src[i*k+r]
						}
						if got := dst[r*l+i]; got != want {
							t.Fatalf("simd=%v k=%d rows=%d: dst[%d,%d] = %g, want %g", simd, k, rows, r, i, got, want)
						}
					}
				}
				Load(dst, src, rows, k)
				for r := range k {
					for i := range rows {
						if got := dst[r*l+i]; got != src[i*k+r] {
							t.Fatalf("simd=%v k=%d rows=%d: dst[%d,%d] = %g (exact src)", simd, k, rows, r, i, got)
						}
					}
				}
				back := make([]T, rows*k+1)
				back[rows*k] = -7
				Store(back[:rows*k], dst, rows, k)
				if !slices.Equal(back[:rows*k], src) || back[rows*k] != -7 {
					t.Fatalf("simd=%v k=%d rows=%d: Store(Load(x)) = %v", simd, k, rows, back)
				}
			}
		}
	}
}
