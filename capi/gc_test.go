package main

import (
	"runtime/debug"
	"testing"
)

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// Only fits with a large working set lower the GC target, and the last one
// to end restores it.
func TestLowerGCForFit(t *testing.T) {
	if fitGC.env {
		t.Skip("GOGC is set: the library leaves the GC alone")
	}
	before := gcPercent()
	tests := []struct {
		name    string
		n, m, k int
		lowered bool
	}{
		{"cNMF-sized", 38, 5000, 3, false},
		{"tiny", 1, 1, 1, false},
		{"DepMap-sized", 1150, 18000, 50, true},
		{"tall and thin", 200000, 10, 1, true},
	}
	for _, tc := range tests {
		restore := lowerGCForFit(fitWorkBytes(tc.n, tc.m, tc.k))
		want := before
		if tc.lowered {
			want = fitGCPercent
		}
		if got := gcPercent(); got != want {
			t.Errorf("%s: GC percent during the fit %d, want %d", tc.name, got, want)
		}
		inner := lowerGCForFit(fitWorkBytes(tc.n, tc.m, tc.k)) // a concurrent fit
		inner()
		if got := gcPercent(); got != want {
			t.Errorf("%s: GC percent after a concurrent fit ended %d, want %d", tc.name, got, want)
		}
		restore()
		if got := gcPercent(); got != before {
			t.Errorf("%s: GC percent after the fit %d, want %d", tc.name, got, before)
		}
	}
}
