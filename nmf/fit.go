package nmf

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"unsafe"

	"github.com/gonmf/gonmf/nmf/internal/mtrand"
)

// Fit factorises x into w (x.Rows x k, row-major) and h (k x x.Cols, row-major).
// w and h are caller-allocated; with Init "custom" they hold the initial
// values on entry, and with UpdateH false h holds the fixed H. ctl may be nil.
// Errors are *ValueError or *TypeError for bad input, ErrInterrupted when cancelled.
//
// Fit minimises, over W ≥ 0 and H ≥ 0 (W only when UpdateH is false),
//
//	½||X - WH||²_F + m αW (ρ||W||₁ + ½(1-ρ)||W||²_F) + n αH (ρ||H||₁ + ½(1-ρ)||H||²_F)
//
// by scikit-learn's coordinate descent from scikit-learn's initialisation,
// drawing from the same numpy MT19937 streams, so that a fit reproduces
// sklearn.decomposition.NMF(...).fit_transform up to floating-point rounding.
// With Solver "mu" the loss ½||X - WH||²_F becomes the beta-divergence
// D_β(X, WH) (BetaLoss = β; see betaDivergence) and the solver is
// scikit-learn's multiplicative updates (see fitMU).
// w and h may be any Dense layout; w is written only on success. When h is a
// contiguous row-major k x m block it doubles as the solver's working Hᵀ (one
// m x k buffer less at the peak), so after an error its contents are unspecified.
// With p.Random.State set, the advanced stream is written back to it.
func Fit[T Float](x Dense[T], w, h Dense[T], p Params, ctl Control) (Result, error) {
	if err := checkParams(p); err != nil {
		return Result{}, err
	}
	xk, err := checkX(x)
	if err != nil {
		return Result{}, err
	}
	if p.BetaLoss != 2 && p.Solver != "mu" {
		return Result{}, valueErrorf("Invalid beta_loss parameter: solver %s does not handle beta_loss = %s",
			pyRepr(p.Solver), pyFloat(p.BetaLoss))
	}
	if p.BetaLoss <= 0 && minIsZero(x) {
		return Result{}, &ValueError{Msg: "When beta_loss <= 0 and X contains zeros, the solver may diverge. " +
			"Please add small values to X, or use a positive beta_loss."}
	}
	n, m, k := x.Rows, x.Cols, p.Components
	// A user-given H (and W) gets scikit-learn's shape messages.
	if p.Init == "custom" || !p.UpdateH {
		if err := checkInitShape(h, k, m, "NMF (input H)"); err != nil {
			return Result{}, err
		}
	}
	if p.Init == "custom" && p.UpdateH {
		if err := checkInitShape(w, n, k, "NMF (input W)"); err != nil {
			return Result{}, err
		}
	}
	if err := checkOut(w, "w", n, k); err != nil {
		return Result{}, err
	}
	if err := checkOut(h, "h", k, m); err != nil {
		return Result{}, err
	}

	rs := &rngSource{seed: p.Random.Seed}
	if st := p.Random.State; st != nil {
		rs.shared = mtrand.FromState(mtrand.State{Key: st.Key, Pos: st.Pos, HasGauss: st.HasGauss, Gauss: st.Gauss})
		defer func() {
			ns := rs.shared.State()
			*st = MTState{Key: ns.Key, Pos: ns.Pos, HasGauss: ns.HasGauss, Gauss: ns.Gauss}
		}()
	}

	var wk, ht []T // working W (n x k) and Hᵀ (m x k), row-major
	switch {
	case p.UpdateH && p.Init == "custom":
		if err := checkInit(h, "NMF (input H)"); err != nil {
			return Result{}, err
		}
		if err := checkInit(w, "NMF (input W)"); err != nil {
			return Result{}, err
		}
		// scikit-learn does not look at the sign of X here; a negative X has
		// no non-negative factorisation, so it is refused like elsewhere.
		if xk.neg {
			return Result{}, &ValueError{Msg: "Negative values in data passed to NMF (input X)."}
		}
		wk = make([]T, n*k)
		w.each(func(i, j int, v T) bool { wk[i*k+j] = v; return true })
		ht = transposedWorkspace(h, k, m)
	case p.UpdateH:
		if xk.neg {
			return Result{}, &ValueError{Msg: "Negative values in data passed to NMF initialization."}
		}
		init := resolveInit(p.Init, n, m, k)
		if init != "random" && k > min(n, m) {
			return Result{}, valueErrorf("init = '%s' can only be used when n_components <= min(n_samples, n_features)", init)
		}
		if ctl != nil && ctl.Cancelled() {
			return Result{}, ErrInterrupted
		}
		var hk, hBuf []T
		if inPlace(h, k, m) {
			hBuf = h.Data[:k*m]
		}
		xmean := xk.sum / (float64(n) * float64(m)) // mean(x), from checkX's pass
		wk, hk = initializeInto(x, k, init, rs, hBuf, xmean)
		if inPlace(h, k, m) {
			if &hk[0] != &hBuf[0] { // not written in place
				copy(hBuf, hk)
			}
			ht = transposedWorkspace(h, k, m)
		} else {
			ht = transposedWorkspace(Dense[T]{Rows: k, Cols: m, Stride: m, Data: hk}, k, m)
		}
	default: // transform: H fixed, W from zero (from sqrt(mean(X)/k) for "mu")
		if xk.neg {
			return Result{}, &ValueError{Msg: "Negative values in data passed to X in NMF."}
		}
		if err := checkInit(h, "NMF (input H)"); err != nil {
			return Result{}, err
		}
		wk = make([]T, n*k)
		if p.Solver == "mu" {
			muTransformStart(xk.sum/(float64(n)*float64(m)), wk, k) // mean(x), from checkX's pass
		}
		ht = make([]T, m*k)
		h.each(func(i, j int, v T) bool { ht[j*k+i] = v; return true })
	}

	s := &cdState[T]{x: x, n: n, m: m, k: k, w: wk, ht: ht}
	var nIter int
	var converged bool
	switch p.Solver {
	case "mu":
		nIter, converged, err = fitMU(x, wk, ht, p, newRegularization(p, n, m), ctl)
	case "hals":
		nIter, converged, err = fitHALS(s, p, newRegularization(p, n, m), rs.get(), ctl, defaultHALS)
	default:
		nIter, converged, err = fitCD(s, p, newRegularization(p, n, m), rs.get(), ctl)
	}
	if err != nil {
		return Result{NIter: nIter}, err
	}
	// scikit-learn: sqrt(2 * (squared_norm(X - WH) / 2)).
	errF := math.Sqrt(2 * math.Max(residualSq(x, wk, ht, k)/2, 0))
	if p.BetaLoss != 2 {
		errF = betaDivergence(x, wk, ht, k, p.BetaLoss, true)
	}
	for i := range n {
		for j := range k {
			w.set(i, j, wk[i*k+j])
		}
	}
	if p.UpdateH {
		if inPlace(h, k, m) && &h.Data[0] == &ht[0] {
			transposeInPlace(ht, m, k) // back to H, k x m, in h's memory
		} else {
			for j := range m {
				for i := range k {
					h.set(i, j, ht[j*k+i])
				}
			}
		}
	}
	return Result{NIter: nIter, ReconstructionErr: errF, Converged: converged}, nil
}

func valueErrorf(format string, args ...any) *ValueError {
	return &ValueError{Msg: fmt.Sprintf(format, args...)}
}

// pyRepr formats a string as Python's repr does for plain ASCII.
func pyRepr(s string) string { return "'" + s + "'" }

// pyFloat formats a float as Python's repr (1.0, 1.5, 1e-05, inf, nan).
func pyFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if a := math.Abs(v); a >= 1e16 || (a != 0 && a < 1e-4) {
		return s // exponent form, as Python
	}
	s = strconv.FormatFloat(v, 'f', -1, 64)
	for _, c := range s {
		if c == '.' {
			return s
		}
	}
	return s + ".0"
}

// checkParams validates p as scikit-learn's _parameter_constraints do.
func checkParams(p Params) error {
	switch {
	case p.Components < 1:
		return valueErrorf("The 'n_components' parameter of NMF must be an int in the range [1, inf), None or a str among {'auto'}. Got %d instead.", p.Components)
	}
	switch p.Init {
	case "", "random", "nndsvd", "nndsvda", "nndsvdar", "custom":
	default:
		return valueErrorf("The 'init' parameter of NMF must be a str among {'random', 'nndsvda', 'nndsvd', 'nndsvdar', 'custom'} or None. Got %s instead.", pyRepr(p.Init))
	}
	switch p.Solver {
	case "cd", "mu", "hals": // "hals" is gonmf's own (accelerated HALS)
	default:
		return valueErrorf("The 'solver' parameter of NMF must be a str among {'cd', 'hals', 'mu'}. Got %s instead.", pyRepr(p.Solver))
	}
	if math.IsNaN(p.BetaLoss) {
		return valueErrorf("The 'beta_loss' parameter of NMF must be a str among {'frobenius', 'kullback-leibler', 'itakura-saito'} or an instance of 'float'. Got nan instead.")
	}
	if !(p.Tol >= 0) {
		return valueErrorf("The 'tol' parameter of NMF must be a float in the range [0.0, inf). Got %s instead.", pyFloat(p.Tol))
	}
	if p.MaxIter < 1 {
		return valueErrorf("The 'max_iter' parameter of NMF must be an int in the range [1, inf). Got %d instead.", p.MaxIter)
	}
	if !(p.AlphaW >= 0) || math.IsInf(p.AlphaW, 1) {
		return valueErrorf("The 'alpha_W' parameter of NMF must be a float in the range [0.0, inf). Got %s instead.", pyFloat(p.AlphaW))
	}
	if !(p.AlphaH >= 0) || math.IsInf(p.AlphaH, 1) {
		return valueErrorf("The 'alpha_H' parameter of NMF must be a float in the range [0.0, inf) or a str among {'same'}. Got %s instead.", pyFloat(p.AlphaH))
	}
	if !(p.L1Ratio >= 0 && p.L1Ratio <= 1) {
		return valueErrorf("The 'l1_ratio' parameter of NMF must be a float in the range [0.0, 1.0]. Got %s instead.", pyFloat(p.L1Ratio))
	}
	return nil
}

func dtypeName[T Float]() string {
	if isF32[T]() {
		return "float32"
	}
	return "float64"
}

// checkX validates the view and values of X as check_array does, and
// returns the kinds of values found (no NaN or Inf when err is nil).
func checkX[T Float](x Dense[T]) (valueKinds, error) {
	if !x.checkView() {
		return valueKinds{}, valueErrorf("nmf: invalid view of X: %d x %d, stride %d, %d elements", x.Rows, x.Cols, x.Stride, len(x.Data))
	}
	if x.Rows == 0 {
		return valueKinds{}, valueErrorf("Found array with 0 sample(s) (shape=(0, %d)) while a minimum of 1 is required by NMF.", x.Cols)
	}
	if x.Cols == 0 {
		return valueKinds{}, valueErrorf("Found array with 0 feature(s) (shape=(%d, 0)) while a minimum of 1 is required by NMF.", x.Rows)
	}
	vk := scanValues(x)
	return vk, vk.finiteErr("Input X", dtypeName[T]())
}

// valueKinds records which values outside [0, +Inf) a matrix holds.
type valueKinds struct {
	nan, inf bool
	neg      bool // < 0, -Inf included; not set once a NaN was found
	// sum is the sum of the values as mean adds them (so, for an n x m
	// matrix, sum / (n m) is bitwise mean's result) when nan is false.
	sum float64
}

// scanValues classifies a's values in one pass, which also sums them: X is
// read once to check it is finite and non-negative and for its mean. It
// stops at the first NaN.
func scanValues[T Float](a Dense[T]) valueKinds {
	var vk valueKinds
	inf := T(math.Inf(1))
	a.eachRow(func(row []T) bool {
		plain, sum := scanRow(row)
		vk.sum += sum
		if plain {
			return true
		}
		for _, v := range row {
			if v >= 0 && v < inf {
				continue
			}
			switch {
			case v != v:
				vk.nan = true
				return false
			case v < 0:
				vk.neg = true
				vk.inf = vk.inf || v == -inf
			default:
				vk.inf = true
			}
		}
		return true
	})
	return vk
}

// scanRow returns whether every entry of row is finite with a clear sign
// bit, and the sum of the entries in float64 (four interleaved partial
// sums), in one pass. The test is on the bits: with e the lowest exponent
// bit, b | (b + e) has the sign bit set exactly when b's sign is set or its
// exponent is all ones (±Inf, NaN); it is branch-free, so X is read at
// memory speed. A row that fails (-0 included) is classified value by value.
func scanRow[T Float](row []T) (plain bool, sum float64) {
	if len(row) == 0 {
		return true, 0
	}
	if isF32[T]() {
		or, sum := scanBits(unsafe.Slice((*uint32)(unsafe.Pointer(&row[0])), len(row)), row, 1<<23)
		return or>>31 == 0, sum
	}
	or, sum := scanBits(unsafe.Slice((*uint64)(unsafe.Pointer(&row[0])), len(row)), row, 1<<52)
	return or>>63 == 0, sum
}

// scanBits returns the OR over u of b | (b + e) and the sum in float64 of
// row, where u holds the bits of row (the memory is read through both views:
// two loads are cheaper than moving each value between register files).
func scanBits[U uint32 | uint64, T Float](u []U, row []T, e U) (U, float64) {
	row = row[:len(u)]
	var a0, a1, a2, a3 U
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(u); j += 4 {
		a0 |= u[j] | (u[j] + e)
		a1 |= u[j+1] | (u[j+1] + e)
		a2 |= u[j+2] | (u[j+2] + e)
		a3 |= u[j+3] | (u[j+3] + e)
		s0 += float64(row[j])
		s1 += float64(row[j+1])
		s2 += float64(row[j+2])
		s3 += float64(row[j+3])
	}
	for ; j < len(u); j++ {
		a0 |= u[j] | (u[j] + e)
		s0 += float64(row[j])
	}
	return a0 | a1 | a2 | a3, (s0 + s1) + (s2 + s3)
}

// finiteErr is check_array's error for NaN ("Input X contains NaN.") or
// ±Inf; NaN is reported in preference to Inf, as numpy does.
func (vk valueKinds) finiteErr(what, dtype string) error {
	if vk.nan {
		return valueErrorf("%s contains NaN.", what)
	}
	if vk.inf {
		return valueErrorf("%s contains infinity or a value too large for dtype('%s').", what, dtype)
	}
	return nil
}

func checkOut[T Float](a Dense[T], name string, rows, cols int) error {
	if !a.checkView() {
		return valueErrorf("nmf: invalid view of %s: %d x %d, stride %d, %d elements", name, a.Rows, a.Cols, a.Stride, len(a.Data))
	}
	if a.Rows != rows || a.Cols != cols {
		return valueErrorf("nmf: %s is %d x %d, want %d x %d", name, a.Rows, a.Cols, rows, cols)
	}
	return nil
}

// checkInit validates a user-given W or H as scikit-learn's _check_init:
// finite, non-negative, not all zero (shapes were checked by checkOut).
func checkInit[T Float](a Dense[T], whom string) error {
	// One pass: once a is known finite and non-negative, its float64 sum is
	// zero exactly when every entry is.
	vk := scanValues(a)
	if err := vk.finiteErr("Input", dtypeName[T]()); err != nil {
		return err
	}
	if vk.neg {
		return valueErrorf("Negative values in data passed to %s.", whom)
	}
	if vk.sum == 0 {
		return valueErrorf("Array passed to %s is full of zeros.", whom)
	}
	return nil
}

// checkInitShape reports a wrong shape of a user-given W or H as _check_init.
func checkInitShape[T Float](a Dense[T], rows, cols int, whom string) error {
	if a.Rows != rows {
		return valueErrorf("Array with wrong first dimension passed to %s. Expected %d, but got %d.", whom, rows, a.Rows)
	}
	if a.Cols != cols {
		return valueErrorf("Array with wrong second dimension passed to %s. Expected %d, but got %d.", whom, cols, a.Cols)
	}
	return nil
}

// inPlace reports whether h is a contiguous row-major rows x cols block, whose
// memory can hold the transposed working copy.
func inPlace[T Float](h Dense[T], rows, cols int) bool {
	return !h.ColMajor && h.Rows == rows && h.Cols == cols && h.Stride == cols &&
		rows*cols > 0 && len(h.Data) >= rows*cols
}

// transposedWorkspace returns Hᵀ (cols x rows, row-major) for the solver: in
// h's own memory, transposed in place, when h allows it, else a new slice.
func transposedWorkspace[T Float](h Dense[T], rows, cols int) []T {
	if inPlace(h, rows, cols) {
		a := h.Data[:rows*cols]
		transposeInPlace(a, rows, cols)
		return a
	}
	ht := make([]T, rows*cols)
	h.each(func(i, j int, v T) bool { ht[j*rows+i] = v; return true })
	return ht
}

// transposeCopyElems is the size up to which transposeInPlace goes through
// a temporary copy (512 KiB of float64): the cycle-following is for the
// large H whose copy the memory peak cannot afford.
const transposeCopyElems = 1 << 16

// transposeInPlace turns a row-major rows x cols matrix into its row-major
// cols x rows transpose in the same memory, following the permutation's
// cycles: the element at p < N-1 moves to p·rows mod (N-1), N = rows·cols
// (the last element stays). A bitset marks the moved elements (N bits).
func transposeInPlace[T Float](a []T, rows, cols int) {
	n := rows * cols
	if rows <= 1 || cols <= 1 {
		return // the same memory layout
	}
	if n <= transposeCopyElems {
		// Small: through a copy, sequential writes instead of cycles.
		buf := getScratch[T](n)
		defer putScratch(buf)
		src := *buf
		copy(src, a[:n])
		for i := range rows {
			for j, v := range src[i*cols : (i+1)*cols] {
				a[j*rows+i] = v
			}
		}
		return
	}
	last := uint64(n - 1)
	// p·rows mod last by multiplication: with magic = ⌊(2⁶⁴-1)/last⌋ the
	// quotient estimate is at most two short (p·rows < 2⁶⁴), fixed below.
	// A division per element was most of the cost for thin matrices.
	magic := math.MaxUint64 / last
	moved := make([]uint64, (n+63)/64)
	for start := 1; start < n-1; start++ {
		if moved[start/64]&(1<<(start%64)) != 0 {
			continue
		}
		val := a[start]
		p := uint64(start)
		for {
			x := p * uint64(rows)
			q, _ := bits.Mul64(x, magic)
			next := x - q*last
			for next >= last {
				next -= last
			}
			a[next], val = val, a[next]
			moved[next/64] |= 1 << (next % 64)
			p = next
			if next == uint64(start) {
				break
			}
		}
	}
}
