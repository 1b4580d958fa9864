package nmf

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gonmf/gonmf/nmf/internal/sweep"
)

// BenchmarkCDUpdate times one cd sweep (cdUpdate) of the blocks of workload
// D (W 38x3, H 5000x3) and of A (W 1150x50, H 2718x50), SIMD and scalar.
func BenchmarkCDUpdate(b *testing.B) {
	for _, c := range []struct{ rows, k int }{{38, 3}, {5000, 3}, {1150, 50}, {2718, 50}} {
		for _, simd := range []bool{true, false} {
			b.Run(fmt.Sprintf("%dx%d/simd=%v", c.rows, c.k, simd), func(b *testing.B) {
				defer sweep.SetSIMD(sweep.SetSIMD(simd))
				a, g, prod := cdProblem[float64]("random", c.rows, c.k, 1)
				perm := identityPerm(c.k)
				p := make([]float64, len(prod))
				for b.Loop() {
					copy(p, prod)
					cdUpdate(a, c.rows, c.k, g, p, 0, 0, perm, nil)
				}
			})
		}
	}
}

// BenchmarkHALSBlock times one hals block update (halsBlock) of A's W
// (1150x50, up to 10 sweeps) and of D's H (5000x3, up to 6 sweeps).
func BenchmarkHALSBlock(b *testing.B) {
	for _, c := range []struct{ rows, k, sweeps int }{{1150, 50, 10}, {5000, 3, 6}} {
		for _, simd := range []bool{true, false} {
			b.Run(fmt.Sprintf("%dx%d/simd=%v", c.rows, c.k, simd), func(b *testing.B) {
				defer sweep.SetSIMD(sweep.SetSIMD(simd))
				a0, g, prod := cdProblem[float64]("random", c.rows, c.k, 1)
				perm := identityPerm(c.k)
				a := slices.Clone(a0)
				for b.Loop() {
					copy(a, a0)
					halsBlock(a, c.rows, c.k, g, prod, perm, c.sweeps, 0)
				}
			})
		}
	}
}
