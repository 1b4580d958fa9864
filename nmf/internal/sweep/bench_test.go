package sweep

import "testing"

// BenchmarkLoadStoreK3 and K4 time Load and Store of workload D's H (5000 x 3)
// and of the same data as k = 4 (no partial column block).
func BenchmarkLoadStoreK3(b *testing.B) {
	k, rows := 3, 5000
	a := make([]float64, rows*k)
	at := make([]float64, PanelLen[float64](k))
	for b.Loop() {
		for i := 0; i < rows; i += 32 {
			nr := min(32, rows-i)
			Load(at, a[i*k:], nr, k)
			Store(a[i*k:], at, nr, k)
		}
	}
}

func BenchmarkLoadStoreK4(b *testing.B) {
	k, rows := 4, 3752
	a := make([]float64, rows*k)
	at := make([]float64, PanelLen[float64](k))
	for b.Loop() {
		for i := 0; i < rows; i += 32 {
			nr := min(32, rows-i)
			Load(at, a[i*k:], nr, k)
			Store(a[i*k:], at, nr, k)
		}
	}
}
