package nmf

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gonmf/gonmf/nmf/internal/mtrand"
)

func halsParams(k int, init string, seed uint32) Params {
	p := params(k, init, seed)
	p.Solver = "hals"
	return p
}

// depmapLike returns a deterministic n x m matrix shaped like the seed
// workload (examples/make_sample.py): per-gene baselines with ~8% strongly
// negative common-essential genes, sparse lineage effects, a rank-8 programme
// term and Gaussian noise, shifted by its minimum to be non-negative.
func depmapLike(seed uint32, n, m int) []float64 {
	r := mtrand.New(seed)
	const lineages, rank = 12, 8
	lineage := make([]int, n)
	for i := range lineage {
		lineage[i] = int(r.Interval(lineages - 1))
	}
	base := make([]float64, m)
	for j := range base {
		if r.Float64() < 0.08 {
			base[j] = -1.3 + 0.35*r.Gauss()
		} else {
			base[j] = -0.05 + 0.08*r.Gauss()
		}
	}
	lin := make([]float64, lineages*m)
	for i := range lin {
		if r.Float64() < 0.02 {
			lin[i] = -0.7 + 0.25*r.Gauss()
		}
	}
	a := make([]float64, n*rank) // Gamma(1, 0.15) = Exponential(mean 0.15)
	for i := range a {
		a[i] = -0.15 * math.Log(1-r.Float64())
	}
	b := make([]float64, rank*m)
	for i := range b {
		b[i] = 0.25 * r.Gauss()
	}
	x := make([]float64, n*m)
	lo := math.Inf(1)
	for i := range n {
		for j := range m {
			v := base[j] + lin[lineage[i]*m+j] + 0.18*r.Gauss()
			for l := range rank {
				v += a[i*rank+l] * b[l*m+j]
			}
			x[i*m+j] = v
			lo = min(lo, v)
		}
	}
	for i := range x {
		x[i] -= min(lo, 0)
	}
	return x
}

// errTrace is a Control that records ||X - WH||_F after every outer
// iteration of a solver working on s, and the time spent outside Progress.
type errTrace struct {
	s       *cdState[float64]
	s32     *cdState[float32]
	errs    []float64
	elapsed []time.Duration
	start   time.Time
	paused  time.Duration
}

func (e *errTrace) Cancelled() bool { return false }
func (e *errTrace) Progress(iter, maxIter int, _ float64) {
	t0 := time.Now()
	e.elapsed = append(e.elapsed, t0.Sub(e.start)-e.paused)
	var r float64
	if e.s != nil {
		r = residualSq(e.s.x, e.s.w, e.s.ht, e.s.k)
	} else {
		r = residualSq(e.s32.x, e.s32.w, e.s32.ht, e.s32.k)
	}
	e.errs = append(e.errs, math.Sqrt(r))
	e.paused += time.Since(t0)
}

// newState returns a solver state on x started from the init of p.
func newState[T Float](x Dense[T], p Params) *cdState[T] {
	n, m, k := x.Rows, x.Cols, p.Components
	w, h := initialize(x, k, resolveInit(p.Init, n, m, k), &rngSource{seed: p.Random.Seed})
	ht := make([]T, m*k)
	for i := range k {
		for j := range m {
			ht[j*k+i] = h[i*m+j]
		}
	}
	return &cdState[T]{x: x, n: n, m: m, k: k, w: w, ht: ht}
}

// The sweep budget is 1 + ⌊α ρ⌋ with ρ = 1 + (nm + mk)/(n(k+1)).
func TestHALSSweeps(t *testing.T) {
	tests := []struct {
		alpha          float64
		rows, other, k int
		want           int
	}{
		{0.5, 1150, 2718, 50, 29}, // ρ_W = 56.6
		{0.5, 2718, 1150, 50, 12}, // ρ_H = 23.96
		{1, 1150, 2718, 50, 57},
		{0, 1150, 2718, 50, 1},
		{0.5, 1, 1, 1, 2}, // ρ = 2
	}
	for _, tc := range tests {
		if got := halsSweeps(tc.alpha, tc.rows, tc.other, tc.k); got != tc.want {
			t.Errorf("halsSweeps(%v, %d, %d, %d) = %d, want %d", tc.alpha, tc.rows, tc.other, tc.k, got, tc.want)
		}
	}
}

// With α = 0 every block gets one sweep: accelerated HALS is cd.
func TestHALSAlphaZeroIsCD(t *testing.T) {
	const n, m = 30, 20
	x := absRandn(1, n, m)
	for _, p := range []Params{
		params(5, "nndsvda", 0),
		func() Params {
			p := params(4, "random", 0)
			p.Shuffle, p.AlphaW, p.AlphaH, p.L1Ratio = true, 0.01, 0.01, 0.5
			return p
		}(),
	} {
		_, _, ref := fit(t, x, n, m, p)
		s := newState(rowMajor(n, m, x), p)
		nIter, conv, err := fitHALS(s, p, newRegularization(p, n, m), mtrand.New(p.Random.Seed), nil, halsOptions{alpha: 0, delta: halsDelta, decrease: math.Inf(1)})
		if err != nil {
			t.Fatal(err)
		}
		got := math.Sqrt(residualSq(s.x, s.w, s.ht, s.k))
		if nIter != ref.NIter || conv != ref.Converged || math.Abs(got-ref.ReconstructionErr) > 1e-9*ref.ReconstructionErr {
			t.Errorf("%s: α=0 hals %d %v %.15g, cd %d %v %.15g", p.Init, nIter, conv, got, ref.NIter, ref.Converged, ref.ReconstructionErr)
		}
	}
}

// Every column step is an exact minimisation, so the objective never rises
// from one outer iteration to the next, with or without regularisation.
func TestHALSObjectiveMonotone(t *testing.T) {
	const n, m = 40, 25
	x := absRandn(1, n, m)
	tests := []struct {
		name string
		p    Params
	}{
		{"nndsvda", halsParams(5, "nndsvda", 0)},
		{"nndsvd", halsParams(6, "nndsvd", 0)},
		{"random-shuffle", func() Params { p := halsParams(4, "random", 2); p.Shuffle = true; return p }()},
		{"regularised", func() Params {
			p := halsParams(5, "nndsvd", 0)
			p.AlphaW, p.AlphaH, p.L1Ratio = 0.02, 0.05, 0.3
			return p
		}()},
	}
	for _, tc := range tests {
		reg := newRegularization(tc.p, n, m)
		prev := math.Inf(1)
		for iters := 1; iters <= 20; iters++ {
			p := tc.p
			p.Tol, p.MaxIter = 0, iters
			w, h, res := fit(t, x, n, m, p)
			if res.NIter != iters || res.Converged {
				t.Fatalf("%s: n_iter %d converged %v, want %d false", tc.name, res.NIter, res.Converged, iters)
			}
			f := objective(x, w, h, n, m, p.Components, reg)
			if f > prev*(1+1e-13) {
				t.Errorf("%s: objective rose at iteration %d: %.17g -> %.17g", tc.name, iters, prev, f)
			}
			prev = f
		}
	}
}

// At convergence the KKT conditions of the regularised problem hold:
// W ≥ 0, ∇_W = (WH - X)Hᵀ + l1W + l2W W ≥ 0, W ∘ ∇_W = 0, and likewise for H.
func TestHALSKKT(t *testing.T) {
	const n, m = 9, 7
	x := absRandn(11, n, m)
	tests := []struct {
		name string
		p    Params
	}{
		{"plain", halsParams(2, "nndsvda", 0)},
		{"regularised", func() Params {
			p := halsParams(3, "nndsvda", 0)
			p.AlphaW, p.AlphaH, p.L1Ratio = 0.01, 0.02, 0.5
			return p
		}()},
		{"shuffle", func() Params { p := halsParams(3, "random", 4); p.Shuffle = true; return p }()},
	}
	for _, tc := range tests {
		p := tc.p
		p.Tol, p.MaxIter = 1e-13, 100000
		k := p.Components
		w, h, res := fit(t, x, n, m, p)
		if !res.Converged {
			t.Fatalf("%s: did not converge in %d iterations", tc.name, res.NIter)
		}
		reg := newRegularization(p, n, m)
		r := make([]float64, n*m) // WH - X
		for i := range n {
			for j := range m {
				for l := range k {
					r[i*m+j] += w[i*k+l] * h[l*m+j]
				}
				r[i*m+j] -= x[i*m+j]
			}
		}
		const tol = 1e-8
		for i := range n {
			for l := range k {
				g := reg.l1W + reg.l2W*w[i*k+l]
				for j := range m {
					g += r[i*m+j] * h[l*m+j]
				}
				if w[i*k+l] < 0 || g < -tol || math.Abs(w[i*k+l]*g) > tol {
					t.Errorf("%s: W[%d,%d] = %g, gradient %g", tc.name, i, l, w[i*k+l], g)
				}
			}
		}
		for l := range k {
			for j := range m {
				g := reg.l1H + reg.l2H*h[l*m+j]
				for i := range n {
					g += w[i*k+l] * r[i*m+j]
				}
				if h[l*m+j] < 0 || g < -tol || math.Abs(h[l*m+j]*g) > tol {
					t.Errorf("%s: H[%d,%d] = %g, gradient %g", tc.name, l, j, h[l*m+j], g)
				}
			}
		}
	}
}

// Regularisation shrinks the penalised factors (an l1 penalty zeroes
// entries), and on the convex transform problem (H fixed) hals reaches the
// same regularised optimum as cd.
func TestHALSRegularisation(t *testing.T) {
	const n, m, k = 30, 20, 5
	x := absRandn(1, n, m)
	stats := func(v []float64) (zeros int, sum float64) {
		for _, e := range v {
			if e == 0 {
				zeros++
			}
			sum += e
		}
		return
	}
	plain := halsParams(k, "nndsvda", 0)
	w0, h0, _ := fit(t, x, n, m, plain)
	zw0, sw0 := stats(w0)
	zh0, sh0 := stats(h0)
	tests := []struct {
		name           string
		alphaW, alphaH float64
		l1Ratio        float64
	}{
		{"l1", 0.05, 0.05, 1},
		{"l2", 0.05, 0.05, 0},
		{"mixed", 0.02, 0.05, 0.5},
		{"W only", 0.05, 0, 1},
	}
	for _, tc := range tests {
		p := plain
		p.AlphaW, p.AlphaH, p.L1Ratio = tc.alphaW, tc.alphaH, tc.l1Ratio
		p.Tol = 1e-6
		w, h, _ := fit(t, x, n, m, p)
		zw, sw := stats(w)
		zh, sh := stats(h)
		// The penalties are scaled differently (m αW vs n αH) and WH is
		// invariant under W D, D⁻¹ H, so only the total mass is compared
		// when both factors are penalised.
		shrunk := sw+sh < sw0+sh0 && (tc.l1Ratio < 1 || zw+zh > zw0+zh0)
		if tc.alphaH == 0 {
			shrunk = sw < sw0
		}
		if !shrunk {
			t.Errorf("%s: sums %g %g zeros %d %d, unregularised %g %g, %d %d", tc.name, sw, sh, zw, zh, sw0, sh0, zw0, zh0)
		}

		// Transform of a new X with the fixed H: a convex problem.
		x3 := absRandn(5, 10, m)
		reg := newRegularization(p, 10, m)
		var f [2]float64
		for i, solver := range []string{"cd", "hals"} {
			q := p
			q.Solver, q.UpdateH, q.Tol, q.MaxIter = solver, false, 1e-12, 100000
			wt := rowMajor[float64](10, k, nil)
			if _, err := Fit(rowMajor(10, m, x3), wt, rowMajor(k, m, h), q, nil); err != nil {
				t.Fatal(err)
			}
			f[i] = objective(x3, wt.Data, h, 10, m, k, reg)
		}
		if math.Abs(f[0]-f[1]) > 1e-10*f[0] {
			t.Errorf("%s: transform objective cd %.15g hals %.15g", tc.name, f[0], f[1])
		}
	}
}

// UpdateH false: W from zero, H untouched, and W is the non-negative
// least-squares solution (the cd transform agrees).
func TestHALSTransform(t *testing.T) {
	x1 := absRandn(1, 30, 20)
	_, h, _ := fit(t, x1, 30, 20, params(5, "", 0))
	x3 := absRandn(5, 10, 20)
	var ws [2][]float64
	for i, solver := range []string{"cd", "hals"} {
		hd := rowMajor(5, 20, append([]float64(nil), h...))
		w := rowMajor[float64](10, 5, nil)
		p := params(5, "nndsvdar", 0) // ignored
		p.Solver, p.UpdateH, p.Tol, p.MaxIter = solver, false, 1e-10, 10000
		res, err := Fit(rowMajor(10, 20, x3), w, hd, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Converged {
			t.Errorf("%s: not converged in %d", solver, res.NIter)
		}
		for j := range h {
			if hd.Data[j] != h[j] {
				t.Fatalf("%s: H changed", solver)
			}
		}
		ws[i] = w.Data
		if solver == "hals" {
			p.Tol, p.MaxIter = 1e-4, 200
			res4, err := Fit(rowMajor(10, 20, x3), rowMajor[float64](10, 5, nil), hd, p, nil)
			if err != nil || res4.NIter >= 10 { // cd needs 10 iterations (TestTransform)
				t.Errorf("hals transform took %d outer iterations at tol 1e-4 (%v)", res4.NIter, err)
			}
		}
	}
	for i := range ws[0] {
		if d := math.Abs(ws[0][i] - ws[1][i]); d > 1e-7 {
			t.Errorf("W[%d]: cd %g hals %g", i, ws[0][i], ws[1][i])
		}
	}
}

func TestHALSFloat32(t *testing.T) {
	const n, m, k = 60, 40, 6
	x := depmapLike(3, n, m)
	x32 := make([]float32, len(x))
	for i, v := range x {
		x32[i] = float32(v)
	}
	for _, init := range []string{"nndsvda", "random"} {
		p := halsParams(k, init, 0)
		p.Tol = 1e-5
		_, _, ref := fit(t, x, n, m, p)
		w, h := rowMajor[float32](n, k, nil), rowMajor[float32](k, m, nil)
		res, err := Fit(rowMajor(n, m, x32), w, h, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rel := math.Abs(res.ReconstructionErr-ref.ReconstructionErr) / ref.ReconstructionErr; rel > 1e-3 {
			t.Errorf("%s: float32 error %v (%d it), float64 %v (%d it)", init, res.ReconstructionErr, res.NIter, ref.ReconstructionErr, ref.NIter)
		}
		for _, v := range append(w.Data, h.Data...) {
			if v < 0 || v != v {
				t.Fatalf("%s: float32 entry %v", init, v)
			}
		}
	}
}

func TestHALSControl(t *testing.T) {
	x := rowMajor(30, 20, absRandn(1, 30, 20))
	w, h := rowMajor[float64](30, 5, nil), rowMajor[float64](5, 20, nil)
	c := &cancelAfter{n: 3}
	_, err := Fit(x, w, h, halsParams(5, "", 0), c)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v", err)
	}
	if c.calls != 3 || c.ratios[0] != 1 || !(c.ratios[1] < 1) {
		t.Errorf("progress: %v", c.ratios)
	}
	// W is written only on success; H's memory is the solver's workspace (Fit's doc).
	for _, v := range w.Data {
		if v != 0 {
			t.Fatal("W written on interruption")
		}
	}
	// Cancelled before the first outer iteration (after the init).
	c = &cancelAfter{n: 0}
	if _, err := Fit(x, w, h, halsParams(5, "", 0), c); !errors.Is(err, ErrInterrupted) || c.calls != 0 {
		t.Fatalf("err = %v, %d progress calls", err, c.calls)
	}
}

// With Shuffle, hals draws one permutation per block per outer iteration
// from the shared stream, as cd does.
func TestHALSShuffleStream(t *testing.T) {
	var states [2]MTState
	for i, solver := range []string{"cd", "hals"} {
		s := mtrand.New(7).State()
		st := &MTState{Key: s.Key, Pos: s.Pos}
		p := params(3, "random", 0)
		p.Solver, p.Shuffle, p.Random.State, p.Tol, p.MaxIter = solver, true, st, 0, 6
		fit(t, absRandn(1, 30, 20), 30, 20, p)
		states[i] = *st
	}
	if states[0] != states[1] {
		t.Errorf("stream after hals differs from cd's: pos %d vs %d", states[1].Pos, states[0].Pos)
	}
}

func TestHALSDegenerate(t *testing.T) {
	_, _, res := fit(t, []float64{3}, 1, 1, halsParams(1, "", 0))
	if res.ReconstructionErr > 1e-14 || !res.Converged {
		t.Errorf("1x1: %+v", res)
	}
	// X = 0: violation_init = 0 stops after one iteration with W = H = 0.
	w, h, res := fit(t, make([]float64, 9), 3, 3, halsParams(2, "", 0))
	if res.NIter != 1 || !res.Converged || res.ReconstructionErr != 0 {
		t.Errorf("zero X: %+v", res)
	}
	for _, v := range append(w, h...) {
		if v != 0 {
			t.Fatalf("zero X: entry %v", v)
		}
	}
	// k > min(n, m) (random init) and a rank-deficient X with nndsvd zeros.
	_, _, res = fit(t, absRandn(2, 6, 4), 6, 4, halsParams(5, "", 0))
	if math.IsNaN(res.ReconstructionErr) || res.ReconstructionErr > 0.05 {
		t.Errorf("k > min: %+v", res)
	}
	x := make([]float64, 8*5)
	for i := range 8 {
		for j := range 5 {
			x[i*5+j] = float64((i + 1) * (j + 2))
		}
	}
	_, _, res = fit(t, x, 8, 5, halsParams(3, "nndsvd", 0))
	if math.IsNaN(res.ReconstructionErr) || res.ReconstructionErr > 1e-6 {
		t.Errorf("rank one, k = 3: %+v", res)
	}
}

// A column-major X gives the same fit.
func TestHALSLayouts(t *testing.T) {
	const n, m, k = 30, 20, 5
	x := absRandn(1, n, m)
	p := halsParams(k, "", 0)
	_, _, ref := fit(t, x, n, m, p)
	xc := Dense[float64]{Rows: n, Cols: m, Stride: n, ColMajor: true, Data: transposeCopy(x, n, m)}
	res, err := Fit(xc, rowMajor[float64](n, k, nil), rowMajor[float64](k, m, nil), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.NIter != ref.NIter || math.Abs(res.ReconstructionErr-ref.ReconstructionErr) > 1e-10*ref.ReconstructionErr {
		t.Errorf("col-major: %+v, row-major: %+v", res, ref)
	}
}

// On a DepMap-shaped matrix, hals at the default tol ends no worse than cd
// at its defaults (within 0.5%), from the same start, in far fewer
// iterations. Larger shapes: TestHALSSeedWorkload.
func TestHALSQuality(t *testing.T) {
	const n, m, k = 300, 800, 20
	x := depmapLike(0, n, m)
	_, _, cd := fit(t, x, n, m, params(k, "", 0))
	_, _, hals := fit(t, x, n, m, halsParams(k, "", 0))
	// The same hals fit, traced: the outer iteration reaching cd's error.
	p := halsParams(k, "", 0)
	s := newState(rowMajor(n, m, x), p)
	tr := &errTrace{s: s}
	if _, _, err := fitHALS(s, p, newRegularization(p, n, m), nil, tr, defaultHALS); err != nil {
		t.Fatal(err)
	}
	reach := 0
	for i, e := range tr.errs {
		if e <= cd.ReconstructionErr {
			reach = i + 1
			break
		}
	}
	t.Logf("cd: %d iterations, error %.6f; hals: %d iterations, error %.6f, cd's error after %d",
		cd.NIter, cd.ReconstructionErr, hals.NIter, hals.ReconstructionErr, reach)
	if hals.ReconstructionErr > cd.ReconstructionErr*1.005 {
		t.Errorf("hals error %.6f > cd %.6f + 0.5%%", hals.ReconstructionErr, cd.ReconstructionErr)
	}
	if 4*hals.NIter > 3*cd.NIter || reach == 0 || 4*reach > cd.NIter {
		t.Errorf("hals %d iterations (cd's error after %d), cd %d", hals.NIter, reach, cd.NIter)
	}
}

// The stopping rule. On these matrices (k a third of n, nndsvda) the
// violation ratio alone reaches tol = 1e-4 after 11 to 53 outer iterations,
// up to 4.5% above cd's final error: the inner sweeps solve each block so
// well that the first sweep of the next iteration sees little violation
// while the objective still falls by ~1e-3 per iteration. With the
// objective-decrease test hals ends at or below cd's error on all of them.
func TestHALSStoppingRule(t *testing.T) {
	tests := []struct {
		n, m, k int
		seed    uint32
	}{
		{150, 1200, 50, 0}, {150, 1200, 50, 1}, {150, 1200, 50, 2}, {100, 700, 40, 1},
		{300, 800, 20, 0}, {38, 2000, 3, 3},
	}
	earlyAbove := 0 // cases where the violation ratio alone ends above cd
	for _, tc := range tests {
		x := depmapLike(tc.seed, tc.n, tc.m)
		_, _, cd := fit(t, x, tc.n, tc.m, params(tc.k, "", tc.seed))
		_, _, hals := fit(t, x, tc.n, tc.m, halsParams(tc.k, "", tc.seed))
		if !hals.Converged || hals.NIter >= 200 || hals.ReconstructionErr > cd.ReconstructionErr {
			t.Errorf("%v: hals %d iterations (converged %v) error %.6f, cd %d error %.6f",
				tc, hals.NIter, hals.Converged, hals.ReconstructionErr, cd.NIter, cd.ReconstructionErr)
		}
		// The same fit with the decrease test off: the former rule.
		p := halsParams(tc.k, "", tc.seed)
		s := newState(rowMajor(tc.n, tc.m, x), p)
		opt := defaultHALS
		opt.decrease = math.Inf(1)
		nIter, _, err := fitHALS(s, p, newRegularization(p, tc.n, tc.m), nil, nil, opt)
		if err != nil {
			t.Fatal(err)
		}
		old := math.Sqrt(residualSq(s.x, s.w, s.ht, s.k))
		if old > cd.ReconstructionErr {
			earlyAbove++
		}
		if nIter > hals.NIter {
			t.Errorf("%v: the decrease test shortened the fit: %d < %d", tc, hals.NIter, nIter)
		}
		t.Logf("%v: cd %d it %.6f; hals %d it %.6f; violation ratio only: %d it %.6f",
			tc, cd.NIter, cd.ReconstructionErr, hals.NIter, hals.ReconstructionErr, nIter, old)
	}
	if earlyAbove < 3 {
		t.Errorf("only %d matrices show the early stop of the violation ratio alone", earlyAbove)
	}
}

// halsObjective, from the products at hand, is the objective computed directly.
func TestHALSObjective(t *testing.T) {
	const n, m, k = 23, 17, 4
	x := absRandn(3, n, m)
	p := halsParams(k, "random", 1)
	p.AlphaW, p.AlphaH, p.L1Ratio = 0.02, 0.03, 0.4
	reg := newRegularization(p, n, m)
	s := newState(rowMajor(n, m, x), p)
	gramH, prodW, gramW := make([]float64, k*k), make([]float64, n*k), make([]float64, k*k)
	gram(s.ht, m, k, gramH)
	xTimes(s.x, s.ht, k, prodW)
	adjustBlock(gramH, prodW, k, reg.l1W, reg.l2W)
	gram(s.w, n, k, gramW)
	got := halsObjective(0.5*squaredNorm(s.x), s.w, prodW, gramW, gramH, s.ht, reg)
	h := make([]float64, k*m)
	for j := range m {
		for i := range k {
			h[i*m+j] = s.ht[j*k+i]
		}
	}
	want := objective(x, s.w, h, n, m, k, reg)
	if math.Abs(got-want) > 1e-12*want {
		t.Errorf("halsObjective %.15g, objective %.15g", got, want)
	}
}

// TestHALSSeedWorkload measures, on the seed-shaped matrix written by
//
//	python3 examples/make_sample.py DIR; (drop NaN columns, shift by the min)
//
// and stored as int64 rows, int64 cols, then float64 row-major data in the
// file named by GONMF_HALS_DATA, how many outer iterations and how much time
// hals needs to reach cd's error after its 200 iterations (k = 50, nndsvda),
// in float64 and float32. Skipped without the variable.
func TestHALSSeedWorkload(t *testing.T) {
	path := os.Getenv("GONMF_HALS_DATA")
	if path == "" {
		t.Skip("GONMF_HALS_DATA not set")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var shape [2]int64
	if err := binary.Read(f, binary.LittleEndian, &shape); err != nil {
		t.Fatal(err)
	}
	n, m := int(shape[0]), int(shape[1])
	data := make([]float64, n*m)
	if err := binary.Read(f, binary.LittleEndian, data); err != nil {
		t.Fatal(err)
	}
	const k = 50
	p := params(k, "", 0)
	data32 := make([]float32, len(data))
	for i, v := range data {
		data32[i] = float32(v)
	}
	run := func(name string, solver string, alpha float64, maxIter int, tol float64, f32 bool) *errTrace {
		p := p
		p.Solver, p.MaxIter, p.Tol = solver, maxIter, tol
		tr := &errTrace{}
		var nIter int
		var conv bool
		start := time.Now()
		if f32 {
			s := newState(rowMajor(n, m, data32), p)
			tr.s32, tr.start = s, time.Now()
			if solver == "cd" {
				nIter, conv, err = fitCD(s, p, newRegularization(p, n, m), nil, tr)
			} else {
				nIter, conv, err = fitHALS(s, p, newRegularization(p, n, m), nil, tr, halsOptions{alpha, halsDelta, halsDecrease})
			}
		} else {
			s := newState(rowMajor(n, m, data), p)
			tr.s, tr.start = s, time.Now()
			if solver == "cd" {
				nIter, conv, err = fitCD(s, p, newRegularization(p, n, m), nil, tr)
			} else {
				nIter, conv, err = fitHALS(s, p, newRegularization(p, n, m), nil, tr, halsOptions{alpha, halsDelta, halsDecrease})
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		total := time.Since(start) - tr.paused
		t.Logf("%s: %d iterations (converged %v), error %.6f, %.2f s (init included %.2f s)",
			name, nIter, conv, tr.errs[len(tr.errs)-1], tr.elapsed[len(tr.elapsed)-1].Seconds(), total.Seconds())
		return tr
	}
	for _, f32 := range []bool{false, true} {
		dt := "float64"
		if f32 {
			dt = "float32"
		}
		cd := run(dt+" cd", "cd", 0, 200, 1e-4, f32)
		target := cd.errs[len(cd.errs)-1]
		h := run(dt+" hals", "hals", halsAlpha, 200, 1e-4, f32)
		for i, e := range h.errs {
			if e <= target {
				t.Logf("%s: hals reaches cd's %.6f after %d outer iterations, %.2f s (cd: 200, %.2f s)",
					dt, target, i+1, h.elapsed[i].Seconds(), cd.elapsed[len(cd.elapsed)-1].Seconds())
				break
			}
		}
		if last := h.errs[len(h.errs)-1]; last > target*1.005 {
			t.Errorf("%s: hals ends at %.6f, cd at %.6f", dt, last, target)
		}
	}
}

// BenchmarkHALSSweep times one W sweep of the seed shape (n = 1150, k = 50,
// about 5.9 MFLOP) against the product X Hᵀ it amortises (m = 2718).
func BenchmarkHALSSweep(b *testing.B) {
	const n, m, k = 1150, 2718, 50
	x := depmapLike(1, n, m)
	s := newState(rowMajor(n, m, x), params(k, "nndsvda", 0))
	g, prod := make([]float64, k*k), make([]float64, n*k)
	gram(s.ht, m, k, g)
	xTimes(s.x, s.ht, k, prod)
	perm := identityPerm(k)
	b.Run("sweep", func(b *testing.B) {
		for b.Loop() {
			halsBlock(s.w, n, k, g, prod, perm, 1, halsDelta)
		}
		b.ReportMetric(float64(b.N)*2*n*k*(k+1)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("product", func(b *testing.B) {
		for b.Loop() {
			xTimes(s.x, s.ht, k, prod)
		}
		b.ReportMetric(float64(b.N)*2*n*m*k/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// TestHALSBlockGoroutines checks that halsBlock's result does not depend on
// the number of goroutines its blocks run on (above halsParallelWork).
func TestHALSBlockGoroutines(t *testing.T) {
	const rows, k, sweeps = 3001, 20, 8
	if rows*k*k*sweeps < halsParallelWork {
		t.Fatal("the problem is too small to run on several goroutines")
	}
	a0, g, prod := cdProblem[float64]("random", rows, k, 1)
	perm := identityPerm(k)
	run := func(procs int) ([]float64, float64, int) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		a := slices.Clone(a0)
		v, n := halsBlock(a, rows, k, g, prod, perm, sweeps, 0.1)
		return a, v, n
	}
	a1, v1, n1 := run(1)
	a2, v2, n2 := run(3)
	if !bitsEqual(a1, a2) || v1 != v2 || n1 != n2 {
		t.Fatalf("1 and 3 goroutines differ: violation %v vs %v, sweeps %d vs %d", v1, v2, n1, n2)
	}
}
