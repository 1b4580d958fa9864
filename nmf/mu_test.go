package nmf

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// muData returns X0 = np.abs(np.random.RandomState(0).randn(30, 20)) and
// Xz = X0 with the entries below 0.3 set to zero (134 zeros).
func muData() (x0, xz []float64) {
	x0 = absRandn(0, 30, 20)
	xz = append([]float64(nil), x0...)
	for i, v := range xz {
		if v < 0.3 {
			xz[i] = 0
		}
	}
	return x0, xz
}

type muRef struct {
	nIter int
	err   float64   // reconstruction_err_
	w1    []float64 // W[1, :]
	h2    []float64 // H[:, 2] (nil for transforms)
}

// References from scikit-learn 1.9.1 (numpy 2.4.6). For fits:
// NMF(k, init=init, solver='mu', beta_loss=beta, random_state=seed,
// alpha_W=aW, alpha_H=aH, l1_ratio=l1, tol=tol, max_iter=max_iter)
// .fit_transform(X) with X = X0 or Xz (as float32 for the f32 cases).
// For transforms ("tr-"): H = NMF(5, init='nndsvda', solver='mu',
// beta_loss=beta, random_state=0).fit(Xz, or X0 for beta <= 0).components_,
// then non_negative_factorization(X3, H=H, n_components=5, update_H=False,
// solver='mu', beta_loss=beta, alpha_W=aW, l1_ratio=l1) with
// X3 = np.abs(np.random.RandomState(5).randn(10, 20)), entries below 0.3 set
// to zero except for beta <= 0; err is _beta_divergence(X3, W, H, beta,
// square_root=True).
var muRefs = map[string]muRef{
	"b2-nndsvda":    {180, 11.009668978930677, []float64{0.4356200714146359, 1.471474250557087e-24, 0.24564898919141093, 0.6238365215574952, 0.0019122888844500354}, []float64{2.7669480958075803e-09, 0.9537892369598039, 0.5632447622523599, 1.5308032167399646, 0.2144712794735535}},
	"b1-nndsvda":    {140, 14.041423596617902, []float64{0.41866955516987087, 1.5935629889515694e-22, 0.0003373351966188903, 0.58146861925861, 0.2625903704041101}, []float64{0.2382629254213268, 1.0489457353240874, 0.6925053803618662, 1.214144865535509, 0.0022360934068527912}},
	"b0-nndsvda":    {200, 15.470012260790027, []float64{0.5380823512207549, 8.85382176774271e-10, 0.508610733418658, 0.4807392507552674, 0.19430070563621737}, []float64{0.07249575048716972, 0.6500738942362606, 0.6087092719371408, 0.6325878168853486, 0.435852119746658}},
	"b0.5-random":   {160, 20.71181895132747, []float64{0.0, 3.236936530117316, 0.0, 0.0}, []float64{0.1849558149819507, 0.36169727301100824, 0.5713090284039614, 0.2749485116836063}},
	"b1.5-nndsvdar": {200, 11.935561116288689, []float64{0.771085305994728, 0.6656360249695362, 5.154566370227726e-34, 0.006627778432163808, 0.527723096912977}, []float64{1.1399836189733494, 0.2454188173544737, 0.4909073429853204, 0.19851682023409623, 1.4551639700756941e-09}},
	"b3-random":     {200, 10.996403029413809, []float64{0.042667985722285855, 0.6721721862752514, 3.027092339338521e-12, 1.367911523598913}, []float64{1.0366809300777926e-06, 2.3628247002931034e-14, 0.6782152515836017, 0.9279869989052353}},
	"b2-reg-l2":     {170, 11.023595988028042, []float64{1.0131233511521063, 2.502371092540126e-22, 0.6839023503913746, 1.276281153608013, 0.0005361383492862832}, []float64{2.5238157158792284e-07, 0.45226205771201294, 0.22780299474296725, 0.6848511230588108, 0.10942827349799313}},
	"b1-reg-l1.5":   {200, 14.149061556679396, []float64{1.399517743209016, 0.1288545538379722, 0.004475708252024217, 0.2011562269460257, 0.4419920650896757}, []float64{0.223557152399774, 0.5761571603757821, 0.2545136730431164, 0.23417878831047045, 0.5273986715036151}},
	"b0.5-reg-l1":   {200, 19.491982880371292, []float64{1.1967760513946755, 0.0, 0.0, 1.311702306593189, 0.4373820606798617}, []float64{1.3369242329372064e-13, 0.37105625557721517, 5.332895997124464e-05, 0.7431825241886142, 0.2182038165005721}},
	"b3-reg-l1.5":   {200, 11.053457962624288, []float64{0.7665245413790642, 0.02906798242790923, 0.15917227748376442, 1.1480400027507957e-05}, []float64{1.220294794583324, 9.88777888801925e-10, 0.7961668401484749, 1.736079759214711}},
	"b1.5-reg-l2":   {140, 11.917883528555913, []float64{1.4842933914363134, 5.666795604634978, 1.0078510792810734e-10, 8.473440758617002e-06, 2.56815197385595}, []float64{0.03787586672395847, 0.15716588013532007, 0.1484345629200589, 0.08649400277361, 1.558657421398329e-12}},
	"b0-reg":        {200, 18.17217023536212, []float64{0.8325837520273215, 0.9675313741784203, 1.0052162976422603e-11}, []float64{1.1423813730840728, 0.12370229908662507, 0.17263978018770204}},
	"b-0.5":         {200, 23.361935418165036, []float64{1.0250459339160178, 0.0002484190116793343, 0.5942681321584086}, []float64{0.4662024070662616, 0.050631689096520376, 1.535368968131222}},
	"b2-tol0":       {50, 10.992824680920506, []float64{0.3079271399228579, 1.3255186152421148, 0.00022376716979988757, 0.03180331489027227, 0.6808249157734562}, []float64{0.04242122354750233, 0.7215127808682811, 0.6518946870192922, 0.3586654483165431, 0.0003600696652740966}},
	"b1-maxiter":    {40, 13.78048998508925, []float64{0.27983420461250524, 1.335800379070335e-07, 2.6057779416728567e-06, 0.18891034148709843, 0.1803846475966934, 0.6313149795894831}, []float64{0.0455905286166988, 0.8666636039159009, 0.6881407710181929, 1.508926734013547, 0.096463768231921, 0.7350342879335392}},
	"f32-b2":        {180, 11.009668350219727, []float64{0.4356188476085663, 1.4718428718955225e-24, 0.24565216898918152, 0.6238366365432739, 0.0019117938354611397}, []float64{2.7669873059466e-09, 0.9537925720214844, 0.5632498264312744, 1.5307960510253906, 0.2144705355167389}},
	"f32-b1":        {140, 14.041426658630371, []float64{0.4186691641807556, 1.5936923941315316e-22, 0.00033740478102117777, 0.5814696550369263, 0.2625892460346222}, []float64{0.2382630705833435, 1.048946738243103, 0.6925035119056702, 1.2141411304473877, 0.002235791878774762}},
	"f32-b0.5-reg":  {90, 20.750688552856445, []float64{0.0, 2.216606378555298, 0.0, 0.0}, []float64{0.2181539386510849, 0.5273042321205139, 0.646917998790741, 0.2742054760456085}},
	"tr-b2":         {30, 7.5476863495374245, []float64{0.3157799300529695, 0.0014552479947420468, 0.2315774005962039, 0.06638461256144756, 0.0552783910002719}, nil},   // H from a fit: 180 iterations, error 11.009668978930677
	"tr-b1":         {40, 8.997069816784274, []float64{0.22997312718091187, 0.05508363816916305, 0.11235901635740181, 0.10539684413834485, 0.2072168450771474}, nil},    // H from a fit: 140 iterations, error 14.041423596617902
	"tr-b0.5":       {150, 11.945023778547451, []float64{0.23413570375468623, 0.1155825950846388, 1.6581325747311428e-05, 0.2157348543433115, 0.3488347121525603}, nil}, // H from a fit: 200 iterations, error 19.556012582766375
	"tr-b1-l1":      {20, 9.500296608297798, []float64{0.18775480317175383, 0.04615739209915753, 0.077744470101353, 0.08740000231981092, 0.13905607563097025}, nil},     // H from a fit: 140 iterations, error 14.041423596617902
	"tr-b1-l2":      {40, 8.997541014153477, []float64{0.22918818630730844, 0.05513250633104243, 0.11208769746965341, 0.10544068176162905, 0.20614154504412074}, nil},   // H from a fit: 140 iterations, error 14.041423596617902
	"tr-b0":         {80, 10.848196507520647, []float64{0.32293097830342027, 0.003584653774107257, 0.07410196715911634, 0.35092912583443764, 0.3063978992158438}, nil},  // H from a fit: 200 iterations, error 15.470012260790027
	"tr-b3-reg":     {90, 7.385998775322648, []float64{0.5216593373933182, 0.10404949891242093, 0.0002251886743864951, 0.02532294765521805, 0.15494724567953833}, nil},  // H from a fit: 200 iterations, error 10.421390745547992
}

func muParams(k int, init string, seed uint32, beta float64) Params {
	p := params(k, init, seed)
	p.Solver, p.BetaLoss = "mu", beta
	return p
}

// muNear reports |got - want| <= tol max(1, |want|).
func muNear(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func muF32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

func TestMUMatchesSklearn(t *testing.T) {
	x0, xz := muData()
	reg := func(p Params, aW, aH, l1 float64) Params {
		p.AlphaW, p.AlphaH, p.L1Ratio = aW, aH, l1
		return p
	}
	stop := func(p Params, tol float64, maxIter int) Params {
		p.Tol, p.MaxIter = tol, maxIter
		return p
	}
	tests := []struct {
		name string
		x    []float64
		p    Params
		f32  bool
	}{
		{"b2-nndsvda", xz, muParams(5, "nndsvda", 0, 2), false},
		{"b1-nndsvda", xz, muParams(5, "nndsvda", 0, 1), false},
		{"b0-nndsvda", x0, muParams(5, "nndsvda", 0, 0), false},
		{"b0.5-random", xz, muParams(4, "random", 0, 0.5), false},
		{"b1.5-nndsvdar", xz, muParams(5, "nndsvdar", 3, 1.5), false},
		{"b3-random", xz, muParams(4, "random", 1, 3), false},
		{"b2-reg-l2", xz, reg(muParams(5, "nndsvda", 0, 2), 0.01, 0.02, 0), false},
		{"b1-reg-l1.5", xz, reg(muParams(5, "random", 2, 1), 0.01, 0.01, 0.5), false},
		{"b0.5-reg-l1", xz, reg(muParams(5, "nndsvda", 0, 0.5), 0.005, 0.01, 1), false},
		{"b3-reg-l1.5", xz, reg(muParams(4, "nndsvda", 0, 3), 0.01, 0, 0.5), false},
		{"b1.5-reg-l2", xz, reg(muParams(5, "random", 0, 1.5), 0, 0.03, 0), false},
		{"b0-reg", x0, reg(muParams(3, "random", 5, 0), 0.01, 0.01, 0.5), false},
		{"b-0.5", x0, muParams(3, "nndsvda", 0, -0.5), false},
		{"b2-tol0", xz, stop(muParams(5, "random", 0, 2), 0, 50), false},
		{"b1-maxiter", xz, stop(muParams(6, "nndsvda", 0, 1), 1e-6, 40), false},
		{"f32-b2", xz, muParams(5, "nndsvda", 0, 2), true},
		{"f32-b1", xz, muParams(5, "nndsvda", 0, 1), true},
		{"f32-b0.5-reg", xz, reg(muParams(4, "random", 0, 0.5), 0.01, 0.01, 0.5), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref, ok := muRefs[tc.name]
			if !ok {
				t.Fatal("no reference")
			}
			const n, m = 30, 20
			k := tc.p.Components
			var res Result
			var w, h []float64
			errTol, entryTol := 1e-8, 1e-6
			if tc.f32 {
				// float32 rounding (and numpy's float32 sums) leave ~1e-7
				// relative differences in the error and ~1e-4 in entries.
				errTol, entryTol = 2e-6, 2e-3
				wd, hd := rowMajor[float32](n, k, nil), rowMajor[float32](k, m, nil)
				var err error
				if res, err = Fit(rowMajor(n, m, muF32(tc.x)), wd, hd, tc.p, nil); err != nil {
					t.Fatal(err)
				}
				for _, v := range wd.Data {
					w = append(w, float64(v))
				}
				for _, v := range hd.Data {
					h = append(h, float64(v))
				}
			} else {
				w, h, res = fit(t, tc.x, n, m, tc.p)
			}
			if res.NIter != ref.nIter || !muNear(res.ReconstructionErr, ref.err, errTol) {
				t.Errorf("n_iter %d err %.17g, want %d %.17g", res.NIter, res.ReconstructionErr, ref.nIter, ref.err)
			}
			if want := tc.p.Tol > 0 && ref.nIter < tc.p.MaxIter; res.Converged != want {
				t.Errorf("converged = %v, want %v", res.Converged, want)
			}
			for j := range k {
				if !muNear(w[k+j], ref.w1[j], entryTol) || !muNear(h[j*m+2], ref.h2[j], entryTol) {
					t.Errorf("component %d: W %.17g H %.17g, want %.17g %.17g", j, w[k+j], h[j*m+2], ref.w1[j], ref.h2[j])
				}
			}
		})
	}
}

// UpdateH false with solver 'mu' starts from W = sqrt(mean(X)/k), keeps H,
// and (beta = 1 with l1 > 0) reproduces scikit-learn's growing denominator.
func TestMUTransformMatchesSklearn(t *testing.T) {
	x0, xz := muData()
	x3 := absRandn(5, 10, 20)
	x3z := append([]float64(nil), x3...)
	for i, v := range x3z {
		if v < 0.3 {
			x3z[i] = 0
		}
	}
	tests := []struct {
		name    string
		beta    float64
		aW, l1  float64
		fitIter int
		fitErr  float64
	}{
		{"tr-b2", 2, 0, 0, 180, 11.009668978930677},
		{"tr-b1", 1, 0, 0, 140, 14.041423596617902},
		{"tr-b0.5", 0.5, 0, 0, 200, 19.556012582766375},
		{"tr-b1-l1", 1, 0.01, 1, 140, 14.041423596617902},
		{"tr-b1-l2", 1, 0.01, 0, 140, 14.041423596617902},
		{"tr-b0", 0, 0, 0, 200, 15.470012260790027},
		{"tr-b3-reg", 3, 0.01, 0.5, 200, 10.421390745547992},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := muRefs[tc.name]
			xf, xt := xz, x3z
			if tc.beta <= 0 {
				xf, xt = x0, x3
			}
			_, h, res := fit(t, xf, 30, 20, muParams(5, "nndsvda", 0, tc.beta))
			if res.NIter != tc.fitIter || !muNear(res.ReconstructionErr, tc.fitErr, 1e-8) {
				t.Fatalf("fit: n_iter %d err %.17g, want %d %.17g", res.NIter, res.ReconstructionErr, tc.fitIter, tc.fitErr)
			}
			p := muParams(5, "nndsvdar", 7, tc.beta) // init is ignored
			p.UpdateH, p.AlphaW, p.AlphaH, p.L1Ratio = false, tc.aW, 0.5, tc.l1
			hd := rowMajor(5, 20, append([]float64(nil), h...))
			w := rowMajor[float64](10, 5, nil)
			res, err := Fit(rowMajor(10, 20, xt), w, hd, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.NIter != ref.nIter || !muNear(res.ReconstructionErr, ref.err, 1e-8) {
				t.Errorf("n_iter %d err %.17g, want %d %.17g", res.NIter, res.ReconstructionErr, ref.nIter, ref.err)
			}
			for j := range 5 {
				if !muNear(w.Data[5+j], ref.w1[j], 1e-6) {
					t.Errorf("W[1,%d] = %.17g, want %.17g", j, w.Data[5+j], ref.w1[j])
				}
			}
			for i := range h {
				if hd.Data[i] != h[i] {
					t.Fatal("H changed")
				}
			}
		})
	}
}

// The first transform step from the constant start W0 = sqrt(mean(X)/k)
// (beta = 2): W = W0 ∘ (X Hᵀ) / (W0 H Hᵀ).
func TestMUTransformStart(t *testing.T) {
	const n, m, k = 4, 3, 2
	x := absRandn(3, n, m)
	h := absRandn(4, k, m)
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= n * m
	w0 := math.Sqrt(mean / k)
	p := muParams(k, "", 0, 2)
	p.UpdateH, p.MaxIter = false, 1
	wd := rowMajor[float64](n, k, nil)
	if _, err := Fit(rowMajor(n, m, x), wd, rowMajor(k, m, append([]float64(nil), h...)), p, nil); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		for j := range k {
			var num, den float64
			for l := range m {
				num += x[i*m+l] * h[j*m+l]
				for r := range k {
					den += w0 * h[r*m+l] * h[j*m+l]
				}
			}
			if want := w0 * num / den; !muNear(wd.Data[i*k+j], want, 1e-13) {
				t.Errorf("W[%d,%d] = %v, want %v", i, j, wd.Data[i*k+j], want)
			}
		}
	}
}

// _beta_divergence(X, W, H, beta) and with square_root=True from
// scikit-learn 1.9.1, X = Xz with X[0, :3] = [1e-8, 1e-7, 2e-7] (at or
// below float32 eps: left out of the X terms), W = |randn(1)(30, 4)|,
// H = |randn(2)(4, 20)| with H[:, 5] = 0 and H[:, 6] = 1e-9 (W H below eps).
func TestBetaDivergence(t *testing.T) {
	_, x := muData()
	x[0], x[1], x[2] = 1e-8, 1e-7, 2e-7
	w := absRandn(1, 30, 4)
	h := absRandn(2, 4, 20)
	for r := range 4 {
		h[r*20+5], h[r*20+6] = 0, 1e-9
	}
	ht := transposeCopy(h, 4, 20)
	tests := []struct{ beta, div, sqrt float64 }{
		{2, 1466.0185066856056, 54.14828726165964},
		{1, 1375.5713892129893, 52.45133724154208},
		{0, 399436273.8365943, 28264.33349069439},
		{0.5, 276260.7211020854, 743.3178608133742},
		{1.5, 978.8559389959096, 44.246037992026125},
		{3, 4650.38463610632, 96.44049601807656},
		{-0.5, math.Inf(-1), 0}, // (W H)^beta = inf where W H = 0
	}
	defer func(b int) { blockElems = b }(blockElems)
	for _, be := range []int{1 << 17, 7, 45} {
		blockElems = be
		for _, layout := range []string{"row", "col"} {
			xd := rowMajor(30, 20, x)
			if layout == "col" {
				xd = Dense[float64]{Rows: 30, Cols: 20, Stride: 30, ColMajor: true, Data: transposeCopy(x, 30, 20)}
			}
			for _, tc := range tests {
				d := betaDivergence(xd, w, ht, 4, tc.beta, false)
				s := betaDivergence(xd, w, ht, 4, tc.beta, true)
				if !(d == tc.div || muNear(d, tc.div, 1e-12)) || !muNear(s, tc.sqrt, 1e-12) {
					t.Errorf("block %d %s beta %v: %.17g %.17g, want %.17g %.17g", be, layout, tc.beta, d, s, tc.div, tc.sqrt)
				}
			}
		}
	}
}

// Small blocks of W H and a column-major X give the same fit up to rounding.
func TestMUBlocksAndLayouts(t *testing.T) {
	_, xz := muData()
	const n, m, k = 30, 20, 4
	defer func(b int) { blockElems = b }(blockElems)
	const ld = n + 2
	cm := make([]float64, m*ld)
	for i := range n {
		for j := range m {
			cm[j*ld+i] = xz[i*m+j]
		}
	}
	for _, beta := range []float64{2, 1, 0.5, 1.5, 3} {
		p := muParams(k, "nndsvda", 0, beta)
		p.AlphaW, p.AlphaH, p.L1Ratio = 0.01, 0.02, 0.5
		wRef, hRef, ref := fit(t, xz, n, m, p)
		for _, be := range []int{1, 50, 77} {
			blockElems = be
			for _, x := range []Dense[float64]{rowMajor(n, m, xz), {Rows: n, Cols: m, Stride: ld, ColMajor: true, Data: cm}} {
				w, h := rowMajor[float64](n, k, nil), rowMajor[float64](k, m, nil)
				res, err := Fit(x, w, h, p, nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.NIter != ref.NIter || !muNear(res.ReconstructionErr, ref.ReconstructionErr, 1e-11) {
					t.Errorf("beta %v block %d colmajor %v: %+v, want %+v", beta, be, x.ColMajor, res, ref)
				}
				for i := range w.Data {
					if !muNear(w.Data[i], wRef[i], 1e-9) {
						t.Fatalf("beta %v block %d colmajor %v: W[%d] %v, want %v", beta, be, x.ColMajor, i, w.Data[i], wRef[i])
					}
				}
				for i := range h.Data {
					if !muNear(h.Data[i], hRef[i], 1e-9) {
						t.Fatalf("beta %v block %d colmajor %v: H[%d] %v, want %v", beta, be, x.ColMajor, i, h.Data[i], hRef[i])
					}
				}
			}
		}
		blockElems = 1 << 17
	}
}

// For 1 <= beta <= 2 the multiplicative updates are majorisation-
// minimisation steps (gamma = 1), so the penalised objective
//
//	D_beta(X, WH) + l1W ||W||₁ + ½ l2W ||W||²_F + l1H ||H||₁ + ½ l2H ||H||²_F
//
// never increases from one iteration to the next.
func TestMUObjectiveMonotone(t *testing.T) {
	_, xz := muData()
	const n, m, k = 30, 20, 5
	for _, beta := range []float64{1, 1.3, 1.5, 2} {
		for _, alpha := range []float64{0, 0.02} {
			p := muParams(k, "nndsvda", 0, beta)
			p.AlphaW, p.AlphaH, p.L1Ratio, p.Tol = alpha, alpha, 0.3, 0
			reg := newRegularization(p, n, m)
			prev := math.Inf(1)
			for iters := 1; iters <= 30; iters++ {
				p.MaxIter = iters
				w, h, res := fit(t, xz, n, m, p)
				if res.NIter != iters || res.Converged {
					t.Fatalf("n_iter %d converged %v, want %d false", res.NIter, res.Converged, iters)
				}
				f := betaDivergence(rowMajor(n, m, xz), w, transposeCopy(h, k, m), k, beta, false)
				var l1w, l2w, l1h, l2h float64
				for _, v := range w {
					l1w, l2w = l1w+v, l2w+v*v
				}
				for _, v := range h {
					l1h, l2h = l1h+v, l2h+v*v
				}
				f += reg.l1W*l1w + reg.l2W*l2w/2 + reg.l1H*l1h + reg.l2H*l2h/2
				if f > prev*(1+1e-12) {
					t.Errorf("beta %v alpha %v: objective rose at iteration %d: %.17g -> %.17g", beta, alpha, iters, prev, f)
				}
				prev = f
			}
		}
	}
}

type muControl struct {
	stopAt int
	losses []float64
}

func (c *muControl) Cancelled() bool { return len(c.losses) >= c.stopAt }
func (c *muControl) Progress(iter, maxIter int, loss float64) {
	if iter != len(c.losses)+1 || maxIter != 200 {
		panic("bad progress call")
	}
	c.losses = append(c.losses, loss)
}

func TestMUControl(t *testing.T) {
	_, xz := muData()
	x := rowMajor(30, 20, xz)
	w, h := rowMajor[float64](30, 5, nil), rowMajor[float64](5, 20, nil)
	c := &muControl{stopAt: 25}
	_, err := Fit(x, w, h, muParams(5, "", 0, 1), c)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v", err)
	}
	if len(c.losses) != 25 {
		t.Fatalf("%d progress calls", len(c.losses))
	}
	for i, l := range c.losses {
		if (i+1)%10 == 0 {
			if !(l > 0) || (i > 9 && !(l < c.losses[i-10])) {
				t.Errorf("iteration %d: loss %v", i+1, l)
			}
		} else if !math.IsNaN(l) {
			t.Errorf("iteration %d: loss %v, want NaN", i+1, l)
		}
	}
	for _, v := range w.Data {
		if v != 0 {
			t.Fatal("W written on interruption")
		}
	}
	// The error reported at iteration 10 is the divergence of that iterate.
	p := muParams(5, "", 0, 1)
	p.MaxIter = 10
	_, _, res := fit(t, xz, 30, 20, p)
	if !muNear(res.ReconstructionErr, c.losses[9], 1e-14) {
		t.Errorf("loss at 10: %v, fit error %v", c.losses[9], res.ReconstructionErr)
	}
}

func TestMUErrors(t *testing.T) {
	x0, xz := muData()
	xneg := append([]float64(nil), x0...)
	xneg[4] = -1
	tests := []struct {
		name string
		x    []float64
		edit func(p *Params)
		want string
	}{
		{"IS with zeros", xz, func(p *Params) { p.BetaLoss = 0 }, "When beta_loss <= 0 and X contains zeros, the solver may diverge. Please add small values to X, or use a positive beta_loss."},
		{"beta<0 with zeros", xz, func(p *Params) { p.BetaLoss = -1 }, "When beta_loss <= 0 and X contains zeros"},
		{"IS transform with zeros", xz, func(p *Params) { p.BetaLoss, p.UpdateH = 0, false }, "When beta_loss <= 0 and X contains zeros"},
		{"cd KL", x0, func(p *Params) { p.Solver, p.BetaLoss = "cd", 1 }, "Invalid beta_loss parameter: solver 'cd' does not handle beta_loss = 1.0"},
		{"cd IS", x0, func(p *Params) { p.Solver, p.BetaLoss = "cd", 0 }, "Invalid beta_loss parameter: solver 'cd' does not handle beta_loss = 0.0"},
		{"cd 1.5", x0, func(p *Params) { p.Solver, p.BetaLoss = "cd", 1.5 }, "Invalid beta_loss parameter: solver 'cd' does not handle beta_loss = 1.5"},
		{"IS negative X", xneg, func(p *Params) { p.BetaLoss = 0 }, "Negative values in data passed to NMF initialization."},
	}
	for _, tc := range tests {
		p := muParams(3, "", 0, 2)
		tc.edit(&p)
		h := rowMajor[float64](3, 20, nil)
		for i := range h.Data {
			h.Data[i] = 1
		}
		_, err := Fit(rowMajor(30, 20, tc.x), rowMajor[float64](30, 3, nil), h, p, nil)
		var ve *ValueError
		if !errors.As(err, &ve) || !strings.Contains(ve.Msg, tc.want) {
			t.Errorf("%s: got %v, want ValueError containing %q", tc.name, err, tc.want)
		}
	}
	// float32 X with zeros and beta <= 0.
	_, err := Fit(rowMajor(30, 20, muF32(xz)), rowMajor[float32](30, 3, nil), rowMajor[float32](3, 20, nil), muParams(3, "", 0, 0), nil)
	if err == nil || !strings.Contains(err.Error(), "When beta_loss <= 0") {
		t.Errorf("float32: %v", err)
	}
}

func TestMUGamma(t *testing.T) {
	for _, tc := range []struct{ beta, gamma float64 }{{-1, 1.0 / 3}, {0, 0.5}, {0.5, 1 / 1.5}, {1, 1}, {1.5, 1}, {2, 1}, {3, 0.5}, {5, 0.25}} {
		if g := muGamma(tc.beta); g != tc.gamma {
			t.Errorf("gamma(%v) = %v, want %v", tc.beta, g, tc.gamma)
		}
	}
}

// A block large enough to be split over goroutines gives the same fit as
// one-row blocks (serial).
func TestMUParallelBlocks(t *testing.T) {
	const n, m, k = 200, 300, 3
	x := absRandn(9, n, m)
	p := muParams(k, "nndsvda", 0, 1.5)
	p.Tol, p.MaxIter = 0, 20
	wRef, hRef, _ := fit(t, x, n, m, p)
	defer func(b int) { blockElems = b }(blockElems)
	blockElems = m
	w, h, _ := fit(t, x, n, m, p)
	for i := range w {
		if !muNear(w[i], wRef[i], 1e-12) {
			t.Fatalf("W[%d] = %v, want %v", i, w[i], wRef[i])
		}
	}
	for i := range h {
		if !muNear(h[i], hRef[i], 1e-12) {
			t.Fatalf("H[%d] = %v, want %v", i, h[i], hRef[i])
		}
	}
}
