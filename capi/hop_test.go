package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gonmf/gonmf/nmf"
)

func TestEngineHops(t *testing.T) {
	random := func(iters int) nmf.Params { return nmf.Params{Init: "random", UpdateH: true, MaxIter: iters} }
	nndsvda := nmf.Params{Init: "nndsvda", UpdateH: true, MaxIter: 1}
	transform := nmf.Params{Init: "nndsvda", UpdateH: false, MaxIter: 1}
	for _, tc := range []struct {
		name    string
		n, m, k int
		p       nmf.Params
		want    bool
	}{
		{"cNMF-sized, one iteration", 38, 5000, 3, random(1), false},
		{"cNMF-sized, three iterations", 38, 5000, 3, random(3), false},
		{"cNMF-sized, four iterations", 38, 5000, 3, random(4), true},
		{"cNMF-sized, 200 iterations", 38, 5000, 3, random(200), true},
		{"cNMF-sized nndsvda: the SVD", 38, 5000, 3, nndsvda, true},
		{"cNMF-sized transform", 38, 5000, 3, transform, false},
		{"DepMap-sized", 1150, 2718, 50, random(1), true},
		{"tiny", 2, 2, 1, nndsvda, false},
	} {
		if got := engineHops(tc.n, tc.m, tc.k, tc.p); got != tc.want {
			t.Errorf("%s: engineHops = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A large fit runs its engine through hop; an engine panic there still
// becomes statusInternal, with the engine's own stack in the message.
func TestFitHopPanics(t *testing.T) {
	for _, panicWith := range []any{nil, "kaboom"} {
		t.Run(fmt.Sprint(panicWith), func(t *testing.T) {
			install[float64](t, &fakeEngine{panicWith: panicWith})
			h := newHarness(t)
			hops := 0
			h.call.hop = func(f func()) { hops++; unlocked(f) }
			n, m := 1100, 2000 // 2 n m (k + 10) flops: enough to hop
			rec, buf := adjacentRecord(t, h.in, n, m, seq(n*m))
			buf.Release()
			h.run(exportRecord(t, rec), nil, nil, `{"n_components": 1}`)
			if hops != 1 {
				t.Errorf("hop called %d times, want 1", hops)
			}
			if panicWith == nil {
				h.expectOK()
				return
			}
			h.expectError(statusInternal, "kaboom")
			if !strings.Contains(h.msg, "fakeFit") {
				t.Errorf("message without the engine's stack: %s", h.msg)
			}
		})
	}
}
