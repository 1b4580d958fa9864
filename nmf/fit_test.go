package nmf

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gonmf/gonmf/nmf/internal/mtrand"
)

func rowMajor[T Float](rows, cols int, data []T) Dense[T] {
	if data == nil {
		data = make([]T, rows*cols)
	}
	return Dense[T]{Rows: rows, Cols: cols, Stride: cols, Data: data}
}

// fit runs Fit on a row-major float64 X and returns W, H and the result.
func fit(t *testing.T, x []float64, n, m int, p Params) (w, h []float64, res Result) {
	t.Helper()
	wd, hd := rowMajor[float64](n, p.Components, nil), rowMajor[float64](p.Components, m, nil)
	res, err := Fit(rowMajor(n, m, x), wd, hd, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return wd.Data, hd.Data, res
}

func params(k int, init string, seed uint32) Params {
	p := DefaultParams()
	p.Components, p.Init, p.Random.Seed = k, init, seed
	return p
}

// X1 = np.abs(np.random.RandomState(1).randn(30, 20)); reference values from
// scikit-learn 1.9.1: _initialize_nmf(X, k, init, random_state=seed) for the
// start and NMF(k, init=..., random_state=seed, ...).fit_transform(X).
func TestFitMatchesSklearn(t *testing.T) {
	x1 := absRandn(1, 30, 20)
	tests := []struct {
		name   string
		x      []float64
		n, m   int
		p      Params
		nIter  int
		recErr float64
		w0Row0 []float64 // W0[0, :]
		h0Col1 []float64 // H0[:, 1]
		wRow1  []float64 // W[1, :]
		hCol2  []float64 // H[:, 2]
	}{
		{"nndsvda", x1, 30, 20, params(5, "", 0), 115, 10.090280168899982,
			[]float64{0.9026658836913513, 0.4655779756488653, 0.7203873335773594, 0.7959926132375724, 0.7959926132375724},
			[]float64{0.9411485967220585, 0.7959926132375724, 0.7959926132375724, 0.3710497442326159, 0.7959926132375724},
			[]float64{0.02508393043569718, 0.14367418018445471, 0.042878201524871554, 0.2868137379434624, 0.6396331793512977},
			[]float64{1.1255384419698398, 1.738966501650869, 0.0, 0.6873036707231656, 0.8094674937088059}},
		{"nndsvd-wide", transposeCopy(x1, 30, 20), 20, 30, params(5, "nndsvd", 0), 81, 10.090278029704091,
			[]float64{0.8922611557144037, 0.2838116535641071, 0.7006759498400146, 0.0, 0.20412789324126088},
			[]float64{0.7045602527981378, 0.0, 0.09656019571249429, 0.44557789498038913, 0.20517960051901665},
			[]float64{0.5298054015086822, 0.054459737556405395, 0.30808732811927253, 0.934340243027792, 0.29779477238493307},
			[]float64{0.4043314900475058, 0.05494175419175071, 0.10006134278148485, 0.6473670974518841, 0.20026737715737392}},
		{"nndsvdar", x1, 30, 20, params(6, "nndsvdar", 3), 106, 9.258025329660745,
			[]float64{0.9026658832477766, 0.46557210279777533, 0.720397729987047, 0.014237350526769292, 0.0034745861661298057, 0.0007681127178144735},
			[]float64{0.9411485967178879, 0.0053826325924110205, 0.00773577861292887, 0.3710443190362518, 0.003312905456877372, 0.013882988761822417},
			[]float64{0.057325593747466624, 0.3685774870750434, 0.2365179426670241, 0.8385898649140482, 0.23182189203315565, 0.11131311844610013},
			[]float64{0.2127537655919887, 0.6809932742803052, 0.131022070934622, 0.6387539935940808, 0.6298270511372309, 0.0}},
		// init='random', shuffle=True, alpha_W=0.01, l1_ratio=0.5.
		{"random-shuffle-reg", x1, 30, 20, func() Params {
			p := params(4, "random", 0)
			p.Shuffle, p.AlphaW, p.AlphaH, p.L1Ratio = true, 0.01, 0.01, 0.5
			return p
		}(), 200, 11.042141476759365,
			[]float64{0.5197641283549539, 0.4018515708468924, 0.207728331260311, 0.6853061577057278},
			[]float64{0.1785069656552559, 0.2915740857049269, 0.6334587703071785, 0.16039382151890597},
			[]float64{0.2448727862103083, 0.36936708352934355, 0.7663995840595167, 0.24369187797970426},
			[]float64{0.21197882993996442, 0.6995943107608134, 0.7342798184794735, 0.17500160015445249}},
	}
	near := func(got, want, tol float64) bool { return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want)) }
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, m := tc.p.Components, tc.m
			x := rowMajor(tc.n, tc.m, tc.x)
			w0, h0 := initialize(x, k, resolveInit(tc.p.Init, tc.n, m, k), &rngSource{seed: tc.p.Random.Seed})
			w, h, res := fit(t, tc.x, tc.n, m, tc.p)
			if res.NIter != tc.nIter || !near(res.ReconstructionErr, tc.recErr, 1e-10) {
				t.Errorf("n_iter %d err %.17g, want %d %.17g", res.NIter, res.ReconstructionErr, tc.nIter, tc.recErr)
			}
			if res.Converged != (tc.nIter < tc.p.MaxIter) {
				t.Errorf("converged = %v", res.Converged)
			}
			for j := range k {
				if !near(w0[j], tc.w0Row0[j], 1e-11) || !near(h0[j*m+1], tc.h0Col1[j], 1e-11) {
					t.Errorf("init component %d: W0 %.17g H0 %.17g, want %.17g %.17g", j, w0[j], h0[j*m+1], tc.w0Row0[j], tc.h0Col1[j])
				}
				if !near(w[k+j], tc.wRow1[j], 1e-9) || !near(h[j*m+2], tc.hCol2[j], 1e-9) {
					t.Errorf("component %d: W %.17g H %.17g, want %.17g %.17g", j, w[k+j], h[j*m+2], tc.wRow1[j], tc.hCol2[j])
				}
			}
		})
	}
}

// A RandomState instance is one stream shared by the init and the shuffles,
// and the caller sees it advanced as numpy would leave it
// (NMF(3, init='random', shuffle=True, random_state=np.random.RandomState(7))).
func TestSharedRandomState(t *testing.T) {
	s := mtrand.New(7).State()
	st := &MTState{Key: s.Key, Pos: s.Pos}
	p := params(3, "random", 0)
	p.Shuffle, p.Random.State = true, st
	_, _, res := fit(t, absRandn(1, 30, 20), 30, 20, p)
	if res.NIter != 200 || math.Abs(res.ReconstructionErr-12.075479970805548) > 1e-9 {
		t.Errorf("n_iter %d err %.17g", res.NIter, res.ReconstructionErr)
	}
	if st.Pos != 73 || st.HasGauss || st.Gauss != 0 || st.Key[0] != 3140365922 || st.Key[623] != 2054307641 {
		t.Errorf("final state: pos %d hasGauss %v key[0] %d key[623] %d", st.Pos, st.HasGauss, st.Key[0], st.Key[623])
	}
}

// objective is scikit-learn's cd objective for row-major W (n x k), H (k x m).
func objective(x, w, h []float64, n, m, k int, reg regularization) float64 {
	var f, l1w, l2w, l1h, l2h float64
	for i := range n {
		for j := range m {
			var s float64
			for r := range k {
				s += w[i*k+r] * h[r*m+j]
			}
			d := x[i*m+j] - s
			f += d * d
		}
	}
	for _, v := range w {
		l1w += math.Abs(v)
		l2w += v * v
	}
	for _, v := range h {
		l1h += math.Abs(v)
		l2h += v * v
	}
	return f/2 + reg.l1W*l1w + reg.l2W*l2w/2 + reg.l1H*l1h + reg.l2H*l2h/2
}

// Every coordinate step minimises the objective exactly in one variable, so
// the objective never increases from one iteration to the next.
func TestObjectiveMonotone(t *testing.T) {
	const n, m = 30, 20
	x := absRandn(1, n, m)
	tests := []struct {
		name string
		p    Params
	}{
		{"nndsvda", params(5, "nndsvda", 0)},
		{"random-shuffle", func() Params { p := params(4, "random", 2); p.Shuffle = true; return p }()},
		{"regularised", func() Params { p := params(5, "nndsvd", 0); p.AlphaW, p.AlphaH, p.L1Ratio = 0.02, 0.05, 0.3; return p }()},
	}
	for _, tc := range tests {
		reg := newRegularization(tc.p, n, m)
		prev := math.Inf(1)
		for iters := 1; iters <= 25; iters++ {
			p := tc.p
			p.Tol, p.MaxIter = 0, iters
			w, h, res := fit(t, x, n, m, p)
			if res.NIter != iters {
				t.Fatalf("%s: n_iter %d, want %d", tc.name, res.NIter, iters)
			}
			f := objective(x, w, h, n, m, p.Components, reg)
			if f > prev*(1+1e-13) {
				t.Errorf("%s: objective rose at iteration %d: %.17g -> %.17g", tc.name, iters, prev, f)
			}
			prev = f
		}
	}
}

// At a solution of min ½||X - WH||² over W, H ≥ 0 the KKT conditions hold:
// W ≥ 0, ∇_W = (WH - X)Hᵀ ≥ 0 and W ∘ ∇_W = 0, and likewise for H.
func TestKKT(t *testing.T) {
	const n, m, k = 8, 6, 2
	x := absRandn(11, n, m)
	p := params(k, "nndsvda", 0)
	p.Tol, p.MaxIter = 1e-13, 100000
	w, h, res := fit(t, x, n, m, p)
	if !res.Converged {
		t.Fatalf("did not converge in %d iterations", res.NIter)
	}
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
			var g float64
			for j := range m {
				g += r[i*m+j] * h[l*m+j]
			}
			if w[i*k+l] < 0 || g < -tol || math.Abs(w[i*k+l]*g) > tol {
				t.Errorf("W[%d,%d] = %g, gradient %g", i, l, w[i*k+l], g)
			}
		}
	}
	for l := range k {
		for j := range m {
			var g float64
			for i := range n {
				g += w[i*k+l] * r[i*m+j]
			}
			if h[l*m+j] < 0 || g < -tol || math.Abs(h[l*m+j]*g) > tol {
				t.Errorf("H[%d,%d] = %g, gradient %g", l, j, h[l*m+j], g)
			}
		}
	}
}

func TestInitProperties(t *testing.T) {
	x1 := absRandn(1, 30, 20)
	var mean float64
	for _, v := range x1 {
		mean += v
	}
	mean /= float64(len(x1))
	for _, shape := range []struct{ n, m int }{{30, 20}, {20, 30}} {
		x := rowMajor(shape.n, shape.m, x1)
		for _, init := range []string{"random", "nndsvd", "nndsvda", "nndsvdar"} {
			const k = 6
			w, h := initialize(x, k, init, &rngSource{seed: 0})
			if len(w) != shape.n*k || len(h) != k*shape.m {
				t.Fatalf("%s: sizes %d %d", init, len(w), len(h))
			}
			zeros := 0
			for _, v := range append(append([]float64{}, w...), h...) {
				if v < 0 || math.IsNaN(v) {
					t.Fatalf("%s: entry %v", init, v)
				}
				if v == 0 {
					zeros++
				}
			}
			switch init {
			case "nndsvd":
				if zeros == 0 {
					t.Errorf("nndsvd has no zeros")
				}
			case "nndsvda", "random", "nndsvdar":
				if zeros != 0 {
					t.Errorf("%s has %d zeros", init, zeros)
				}
			}
		}
		// nndsvda fills exactly the zeros of nndsvd with mean(X).
		w, h := initialize(x, 6, "nndsvd", &rngSource{seed: 0})
		wa, ha := initialize(x, 6, "nndsvda", &rngSource{seed: 0})
		for i := range w {
			if (w[i] == 0 && math.Abs(wa[i]-mean) > 1e-15) || (w[i] != 0 && wa[i] != w[i]) {
				t.Fatalf("nndsvda W[%d] = %v, nndsvd %v", i, wa[i], w[i])
			}
		}
		for i := range h {
			if (h[i] == 0 && math.Abs(ha[i]-mean) > 1e-15) || (h[i] != 0 && ha[i] != h[i]) {
				t.Fatalf("nndsvda H[%d] = %v, nndsvd %v", i, ha[i], h[i])
			}
		}
	}
}

// For a non-negative rank-one X = u vᵀ, nndsvd with k = 1 is exact.
func TestNNDSVDRankOne(t *testing.T) {
	const n, m = 7, 5
	u := absRandn(2, n, 1)
	v := absRandn(3, 1, m)
	x := make([]float64, n*m)
	for i := range n {
		for j := range m {
			x[i*m+j] = u[i] * v[j]
		}
	}
	w, h := initialize(rowMajor(n, m, x), 1, "nndsvd", &rngSource{seed: 0})
	for i := range n {
		for j := range m {
			if d := math.Abs(w[i]*h[j] - x[i*m+j]); d > 1e-13 {
				t.Fatalf("(W H)[%d,%d] - X = %g", i, j, d)
			}
		}
	}
}

// A column-major X is the same matrix: the same fit, up to the rounding of
// BLAS's transposed loops. Outputs may be column-major too.
func TestLayouts(t *testing.T) {
	const n, m, k = 30, 20, 5
	x := absRandn(1, n, m)
	p := params(k, "", 0)
	wRef, hRef, ref := fit(t, x, n, m, p)

	// Column-major with padding: element (i, j) at j*stride + i.
	const ld = n + 3
	cm := make([]float64, m*ld)
	for i := range n {
		for j := range m {
			cm[j*ld+i] = x[i*m+j]
		}
	}
	xc := Dense[float64]{Rows: n, Cols: m, Stride: ld, ColMajor: true, Data: cm}
	wc := Dense[float64]{Rows: n, Cols: k, Stride: n, ColMajor: true, Data: make([]float64, n*k)}
	hc := Dense[float64]{Rows: k, Cols: m, Stride: m + 1, Data: make([]float64, k*(m+1))}
	res, err := Fit(xc, wc, hc, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.NIter != ref.NIter || math.Abs(res.ReconstructionErr-ref.ReconstructionErr) > 1e-12*ref.ReconstructionErr {
		t.Errorf("col-major: %+v, row-major: %+v", res, ref)
	}
	for i := range n {
		for j := range k {
			if d := math.Abs(wc.at(i, j) - wRef[i*k+j]); d > 1e-10 {
				t.Fatalf("W[%d,%d] differs by %g", i, j, d)
			}
		}
	}
	for i := range k {
		for j := range m {
			if d := math.Abs(hc.at(i, j) - hRef[i*m+j]); d > 1e-10 {
				t.Fatalf("H[%d,%d] differs by %g", i, j, d)
			}
		}
	}
}

func TestFloat32(t *testing.T) {
	const n, m, k = 30, 20, 5
	x := absRandn(1, n, m)
	x32 := make([]float32, len(x))
	for i, v := range x {
		x32[i] = float32(v)
	}
	for _, init := range []string{"nndsvda", "random"} {
		p := params(k, init, 0)
		_, _, ref := fit(t, x, n, m, p)
		w, h := rowMajor[float32](n, k, nil), rowMajor[float32](k, m, nil)
		res, err := Fit(rowMajor(n, m, x32), w, h, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rel := math.Abs(res.ReconstructionErr-ref.ReconstructionErr) / ref.ReconstructionErr; rel > 1e-3 {
			t.Errorf("%s: float32 error %v, float64 %v", init, res.ReconstructionErr, ref.ReconstructionErr)
		}
		for _, v := range append(w.Data, h.Data...) {
			if v < 0 || v != v {
				t.Fatalf("%s: float32 entry %v", init, v)
			}
		}
	}
}

func TestSmallAndDegenerate(t *testing.T) {
	// 1 x 1: nndsvda is exact at once.
	_, _, res := fit(t, []float64{3}, 1, 1, params(1, "", 0))
	if res.ReconstructionErr > 1e-14 || !res.Converged {
		t.Errorf("1x1: %+v", res)
	}
	// k > min(n, m): init=None falls back to 'random'.
	_, _, res = fit(t, absRandn(2, 6, 4), 6, 4, params(5, "", 0))
	if math.Abs(res.ReconstructionErr-0.022368100815812433) > 1e-9 || res.NIter != 200 {
		t.Errorf("k > min: %+v (scikit-learn: 200, 0.022368100815812433)", res)
	}
	// X = 0: violation_init = 0 stops after one iteration with W = H = 0.
	w, h, res := fit(t, make([]float64, 9), 3, 3, params(2, "", 0))
	if res.NIter != 1 || !res.Converged || res.ReconstructionErr != 0 {
		t.Errorf("zero X: %+v", res)
	}
	for _, v := range append(w, h...) {
		if v != 0 {
			t.Fatalf("zero X: entry %v", v)
		}
	}
}

// UpdateH false is scikit-learn's transform: H fixed, W from zero.
// Reference: non_negative_factorization(X3, H=H, n_components=5,
// update_H=False) with H from the nndsvda fit above took 10 iterations.
func TestTransform(t *testing.T) {
	x1 := absRandn(1, 30, 20)
	_, h, _ := fit(t, x1, 30, 20, params(5, "", 0))
	x3 := absRandn(5, 10, 20)
	hd := rowMajor(5, 20, append([]float64(nil), h...))
	w := rowMajor[float64](10, 5, nil)
	p := params(5, "nndsvdar", 0) // ignored
	p.UpdateH = false
	res, err := Fit(rowMajor(10, 20, x3), w, hd, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.NIter != 10 {
		t.Errorf("n_iter %d, want 10", res.NIter)
	}
	for i := range h {
		if hd.Data[i] != h[i] {
			t.Fatal("H changed")
		}
	}
}

type cancelAfter struct {
	n, calls int
	ratios   []float64
}

func (c *cancelAfter) Cancelled() bool { return c.calls >= c.n }
func (c *cancelAfter) Progress(iter, maxIter int, loss float64) {
	c.calls++
	c.ratios = append(c.ratios, loss)
}

func TestControl(t *testing.T) {
	x := rowMajor(30, 20, absRandn(1, 30, 20))
	w, h := rowMajor[float64](30, 5, nil), rowMajor[float64](5, 20, nil)
	c := &cancelAfter{n: 3}
	_, err := Fit(x, w, h, params(5, "", 0), c)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v", err)
	}
	if c.calls != 3 || c.ratios[0] != 1 || !(c.ratios[1] < 1) {
		t.Errorf("progress: %v", c.ratios)
	}
	for _, v := range w.Data {
		if v != 0 {
			t.Fatal("W written on interruption")
		}
	}
}

func TestErrors(t *testing.T) {
	x1 := absRandn(1, 6, 4)
	good := func() (Dense[float64], Dense[float64], Dense[float64], Params) {
		x := rowMajor(6, 4, append([]float64(nil), x1...))
		return x, rowMajor[float64](6, 2, nil), rowMajor[float64](2, 4, nil), params(2, "", 0)
	}
	ones := func(d Dense[float64]) Dense[float64] {
		for i := range d.Data {
			d.Data[i] = 1
		}
		return d
	}
	tests := []struct {
		name string
		edit func(x, w, h *Dense[float64], p *Params)
		want string
	}{
		{"k=0", func(x, w, h *Dense[float64], p *Params) { p.Components = 0 }, "The 'n_components' parameter of NMF must be an int in the range [1, inf)"},
		{"max_iter=0", func(x, w, h *Dense[float64], p *Params) { p.MaxIter = 0 }, "The 'max_iter' parameter of NMF must be an int in the range [1, inf). Got 0 instead."},
		{"tol<0", func(x, w, h *Dense[float64], p *Params) { p.Tol = -1 }, "The 'tol' parameter of NMF must be a float in the range [0.0, inf). Got -1.0 instead."},
		{"l1_ratio", func(x, w, h *Dense[float64], p *Params) { p.L1Ratio = 2 }, "The 'l1_ratio' parameter"},
		{"alpha_W", func(x, w, h *Dense[float64], p *Params) { p.AlphaW = -1 }, "The 'alpha_W' parameter"},
		{"alpha_H", func(x, w, h *Dense[float64], p *Params) { p.AlphaH = math.NaN() }, "The 'alpha_H' parameter"},
		{"init", func(x, w, h *Dense[float64], p *Params) { p.Init = "svd" }, "The 'init' parameter of NMF must be a str among"},
		{"solver", func(x, w, h *Dense[float64], p *Params) { p.Solver = "x" }, "The 'solver' parameter of NMF must be a str among {'cd', 'hals', 'mu'}. Got 'x' instead."},
		{"beta_loss", func(x, w, h *Dense[float64], p *Params) { p.BetaLoss = 1 }, "Invalid beta_loss parameter: solver 'cd' does not handle beta_loss = 1.0"},
		{"nan", func(x, w, h *Dense[float64], p *Params) { x.Data[3] = math.NaN() }, "Input X contains NaN."},
		{"inf", func(x, w, h *Dense[float64], p *Params) { x.Data[3] = math.Inf(1) }, "Input X contains infinity or a value too large for dtype('float64')."},
		{"negative", func(x, w, h *Dense[float64], p *Params) { x.Data[3] = -1 }, "Negative values in data passed to NMF initialization."},
		{"negative-transform", func(x, w, h *Dense[float64], p *Params) { x.Data[3] = -1; p.UpdateH = false; ones(*h) }, "Negative values in data passed to X in NMF."},
		{"empty-rows", func(x, w, h *Dense[float64], p *Params) { *x = rowMajor[float64](0, 4, nil) }, "Found array with 0 sample(s) (shape=(0, 4))"},
		{"empty-cols", func(x, w, h *Dense[float64], p *Params) { *x = rowMajor[float64](6, 0, nil) }, "Found array with 0 feature(s) (shape=(6, 0))"},
		{"short data", func(x, w, h *Dense[float64], p *Params) { x.Data = x.Data[:20] }, "invalid view of X"},
		{"nndsvd k>min", func(x, w, h *Dense[float64], p *Params) {
			p.Components, p.Init = 5, "nndsvd"
			*w, *h = rowMajor[float64](6, 5, nil), rowMajor[float64](5, 4, nil)
		}, "init = 'nndsvd' can only be used when n_components <= min(n_samples, n_features)"},
		{"w shape", func(x, w, h *Dense[float64], p *Params) { *w = rowMajor[float64](5, 2, nil) }, "w is 5 x 2, want 6 x 2"},
		{"custom W shape", func(x, w, h *Dense[float64], p *Params) {
			p.Init = "custom"
			*w = ones(rowMajor[float64](5, 2, nil))
			ones(*h)
		}, "Array with wrong first dimension passed to NMF (input W). Expected 6, but got 5."},
		{"custom negative W", func(x, w, h *Dense[float64], p *Params) { p.Init = "custom"; ones(*h); ones(*w).Data[0] = -1 }, "Negative values in data passed to NMF (input W)."},
		{"custom zero H", func(x, w, h *Dense[float64], p *Params) { p.Init = "custom"; ones(*w) }, "Array passed to NMF (input H) is full of zeros."},
		{"custom NaN W", func(x, w, h *Dense[float64], p *Params) { p.Init = "custom"; ones(*h); ones(*w).Data[1] = math.NaN() }, "Input contains NaN."},
		{"transform zero H", func(x, w, h *Dense[float64], p *Params) { p.UpdateH = false }, "Array passed to NMF (input H) is full of zeros."},
	}
	for _, tc := range tests {
		x, w, h, p := good()
		tc.edit(&x, &w, &h, &p)
		_, err := Fit(x, w, h, p, nil)
		var ve *ValueError
		if !errors.As(err, &ve) || !strings.Contains(ve.Msg, tc.want) {
			t.Errorf("%s: got %v, want ValueError containing %q", tc.name, err, tc.want)
		}
	}
}

func TestTransposeInPlace(t *testing.T) {
	for _, shape := range [][2]int{{1, 1}, {1, 7}, {7, 1}, {2, 3}, {3, 2}, {5, 5}, {13, 50}, {50, 13}, {97, 64},
		{3, 25000}, {300, 257}} { // the last two above transposeCopyElems: cycles
		rows, cols := shape[0], shape[1]
		a := make([]float64, rows*cols)
		for i := range a {
			a[i] = float64(i)
		}
		transposeInPlace(a, rows, cols)
		for i := range rows {
			for j := range cols {
				if got := a[j*rows+i]; got != float64(i*cols+j) {
					t.Fatalf("%dx%d: element (%d,%d) = %v, want %v", rows, cols, i, j, got, float64(i*cols+j))
				}
			}
		}
	}
}

// A row-major h is the solver's workspace; any other layout gets a copy. Both
// give the same fit.
func TestHWorkspaceLayouts(t *testing.T) {
	x := rowMajor(30, 20, absRandn(4, 30, 20))
	p := DefaultParams()
	p.Components, p.Random = 4, Random{Seed: 0}
	w1, h1 := rowMajor[float64](30, 4, nil), rowMajor[float64](4, 20, nil)
	r1, err := Fit(x, w1, h1, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	w2 := rowMajor[float64](30, 4, nil)
	h2 := Dense[float64]{Rows: 4, Cols: 20, Stride: 4, ColMajor: true, Data: make([]float64, 80)}
	r2, err := Fit(x, w2, h2, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r1 != r2 {
		t.Fatalf("results differ: %+v vs %+v", r1, r2)
	}
	for i := range 4 {
		for j := range 20 {
			if h1.at(i, j) != h2.at(i, j) {
				t.Fatalf("H(%d,%d): %v vs %v", i, j, h1.at(i, j), h2.at(i, j))
			}
		}
	}
}
