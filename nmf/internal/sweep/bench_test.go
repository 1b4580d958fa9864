package sweep

import (
	"fmt"
	"testing"
)

// BenchmarkLoadStore times Load and Store of workload D's H (5000 x 3), and
// of the same amount of data as k = 4 (no partial column block).
func BenchmarkLoadStore(b *testing.B) {
	for _, c := range []struct{ rows, k int }{{5000, 3}, {3750, 4}} {
		b.Run(fmt.Sprintf("%dx%d", c.rows, c.k), func(b *testing.B) {
			a := make([]float64, c.rows*c.k)
			at := make([]float64, PanelLen[float64](c.k))
			l := Lanes[float64]()
			for b.Loop() {
				for i := 0; i < c.rows; i += l {
					nr := min(l, c.rows-i)
					Load(at, a[i*c.k:], nr, c.k)
					Store(a[i*c.k:], at, nr, c.k)
				}
			}
		})
	}
}
