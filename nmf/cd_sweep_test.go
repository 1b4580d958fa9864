package nmf

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/gonmf/gonmf/nmf/internal/sweep"
)

// cdProblem returns A (rows x k), G (k x k) and P (rows x k) for cdUpdate:
// "random" (a Gram matrix of random factors, A with zeros) or "adversarial"
// (small integers and halves with zeros, ±0, ties, negative and zero
// entries, a zero Hessian).
func cdProblem[T Float](kind string, rows, k int, seed uint64) (a, g, prod []T) {
	rng := rand.New(rand.NewPCG(seed, 11))
	a, g, prod = make([]T, rows*k), make([]T, k*k), make([]T, rows*k)
	pick := func(vals ...float64) T { return T(vals[rng.IntN(len(vals))]) }
	negZero := math.Copysign(0, -1)
	for i := range a {
		if kind == "random" {
			a[i] = T(rng.Float64())
			if rng.IntN(5) == 0 {
				a[i] = 0
			}
			prod[i] = T(rng.Float64() * float64(k))
		} else {
			a[i] = pick(0, 0, 1, 0.5, 2, negZero)
			prod[i] = pick(0, 1, -1, 0.5, 3, negZero)
		}
	}
	if kind == "random" {
		b := make([]float64, 2*k*k)
		for i := range b {
			b[i] = rng.Float64()
		}
		for t := range k {
			for r := range k {
				var s float64
				for j := range 2 * k {
					s += b[j*k+t] * b[j*k+r]
				}
				g[t*k+r] = T(s)
			}
		}
		return a, g, prod
	}
	for i := range g {
		g[i] = pick(0, 1, 0.5, -0.25, 2, negZero)
	}
	g[(k/2)*k+k/2] = 0
	return a, g, prod
}

// TestCDUpdateSIMDBitwise checks that cdUpdate's SIMD sweep (package sweep)
// gives bitwise the results of the scalar sweep (cdRows, scikit-learn's
// arithmetic): A and the violation (P is scratch), for both element types, with and
// without l1/l2, shuffled orders, row counts that are not a multiple of
// the panel, and on 1 and several goroutines.
func TestCDUpdateSIMDBitwise(t *testing.T) {
	if was := sweep.SetSIMD(true); !sweep.SIMD() {
		sweep.SetSIMD(was)
		t.Skip("no SIMD sweep kernels on this CPU")
	} else {
		defer sweep.SetSIMD(was)
	}
	t.Run("float64", func(t *testing.T) { testCDUpdateSIMD[float64](t) })
	t.Run("float32", func(t *testing.T) { testCDUpdateSIMD[float32](t) })
}

func testCDUpdateSIMD[T Float](t *testing.T) {
	cases := []struct {
		kind    string
		rows, k int
		l1, l2  float64
	}{
		{"random", 1, 1, 0, 0},
		{"random", 37, 1, 0, 0},
		{"random", 38, 3, 0, 0},
		{"random", 5000, 3, 0, 0},
		{"random", 100, 3, 0.1, 0.2},
		{"random", 129, 50, 0, 0},
		{"random", 1150, 50, 0, 0},
		{"random", 70, 67, 0.05, 0.5},
		{"random", 64, 5, 0, 0},
		{"random", 333, 2, 0, 0},
		{"adversarial", 1, 1, 0, 0},
		{"adversarial", 33, 1, 0, 0},
		{"adversarial", 97, 3, 0, 0},
		{"adversarial", 200, 50, 0, 0},
		{"adversarial", 65, 70, 0, 0},
		{"adversarial", 3000, 4, 0.5, 0.5},
	}
	for _, c := range cases {
		for seed := range uint64(3) {
			a, g, prod := cdProblem[T](c.kind, c.rows, c.k, seed)
			perm := identityPerm(c.k)
			if seed > 0 {
				perm = rand.New(rand.NewPCG(seed, 3)).Perm(c.k)
			}
			// The sweeps themselves, below cdUpdate's size threshold too.
			aP, aR := slices.Clone(a), slices.Clone(a)
			pgP, pgR := make([]T, c.rows*c.k), make([]T, c.rows*c.k)
			cdPanels(aP, 0, c.rows, c.k, g, slices.Clone(prod), perm, pgP, c.rows)
			cdRows(aR, 0, c.rows, c.k, g, slices.Clone(prod), perm, pgR, c.rows)
			if !bitsEqual(aP, aR) || !bitsEqual(pgP, pgR) {
				t.Fatalf("%s rows=%d k=%d seed=%d: cdPanels and cdRows differ", c.kind, c.rows, c.k, seed)
			}
			for _, procs := range []int{1, 2} {
				prev := runtime.GOMAXPROCS(procs)
				run := func(simd bool) ([]T, T) {
					sweep.SetSIMD(simd)
					a2, g2, p2 := slices.Clone(a), slices.Clone(g), slices.Clone(prod)
					var v T
					for range 2 { // the second sweep starts from the zeros of the first
						g2, p2 := slices.Clone(g2), slices.Clone(p2)
						v = cdUpdate(a2, c.rows, c.k, g2, p2, T(c.l1), T(c.l2), perm, nil)
					}
					// With a buffer for the projected gradients too.
					pg := make([]T, c.rows*c.k)
					v += cdUpdate(a2, c.rows, c.k, slices.Clone(g2), slices.Clone(p2), T(c.l1), T(c.l2), perm, pg)
					return a2, v
				}
				aS, vS := run(true)
				aR, vR := run(false)
				sweep.SetSIMD(true)
				runtime.GOMAXPROCS(prev)
				if !bitsEqual(aS, aR) || !bitsEqual([]T{vS}, []T{vR}) {
					t.Fatalf("%s rows=%d k=%d seed=%d procs=%d: SIMD and scalar sweeps differ (violation %v vs %v)",
						c.kind, c.rows, c.k, seed, procs, vS, vR)
				}
			}
		}
	}
}

// bitsEqual reports whether x and y hold the same bits (any NaN equals any NaN).
func bitsEqual[T Float](x, y []T) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != x[i] && y[i] != y[i] {
			continue
		}
		if math.Float64bits(float64(x[i])) != math.Float64bits(float64(y[i])) {
			return false
		}
	}
	return true
}

// TestCDGroups3 checks cdUpdate's k = 3 path (cdGroups3, sweep.CD3 in
// float64) against the scalar sweep bitwise, with row counts that leave
// 0 to 3 rows to cdRows, split over goroutines (cdParallelWork) or not,
// and with a zero Hessian (sweep.CD3's fallback).
func TestCDGroups3(t *testing.T) {
	defer sweep.SetSIMD(sweep.SetSIMD(true))
	for _, kind := range []string{"random", "adversarial"} {
		for _, rows := range []int{4, 7, 38, 5000, 20001, 20002} {
			for seed := range uint64(2) {
				a, g, prod := cdProblem[float64](kind, rows, 3, seed)
				perm := rand.New(rand.NewPCG(seed, 5)).Perm(3)
				prev := runtime.GOMAXPROCS(2)
				run := func(simd bool) ([]float64, []float64) {
					sweep.SetSIMD(simd)
					a2 := slices.Clone(a)
					var vs []float64
					for range 2 {
						vs = append(vs, cdUpdate(a2, rows, 3, slices.Clone(g), slices.Clone(prod), 0.01, 0.02, perm, nil))
					}
					pg := make([]float64, rows*3)
					vs = append(vs, cdUpdate(a2, rows, 3, slices.Clone(g), slices.Clone(prod), 0, 0, perm, pg))
					return a2, append(vs, pg...)
				}
				aS, vS := run(true)
				aR, vR := run(false)
				sweep.SetSIMD(true)
				runtime.GOMAXPROCS(prev)
				if !bitsEqual(aS, aR) || !bitsEqual(vS, vR) {
					t.Fatalf("%s rows=%d seed=%d: cdGroups3 and the scalar sweep differ", kind, rows, seed)
				}
			}
		}
	}
}
