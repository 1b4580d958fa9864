package nmf

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"github.com/gonmf/gonmf/nmf/internal/mtrand"
)

// rngSource hands out generators with scikit-learn's check_random_state
// semantics: a fresh RandomState(seed) at every use for an integer seed, or
// the one shared stream for a RandomState instance.
type rngSource struct {
	seed   uint32
	shared *mtrand.RandomState
}

func (s *rngSource) get() *mtrand.RandomState {
	if s.shared != nil {
		return s.shared
	}
	return mtrand.New(s.seed)
}

// resolveInit applies scikit-learn's init=None rule: 'nndsvda' when
// k <= min(n, m), else 'random'.
func resolveInit(init string, n, m, k int) string {
	if init == "" {
		if k <= min(n, m) {
			return "nndsvda"
		}
		return "random"
	}
	return init
}

// mean returns the mean of x's entries, summed in float64 per stored row
// (by scanRow: four interleaved partial sums, for throughput).
func mean[T Float](x Dense[T]) float64 {
	var total float64
	x.eachRow(func(row []T) bool {
		_, sum := scanRow(row)
		total += sum
		return true
	})
	return total / (float64(x.Rows) * float64(x.Cols))
}

// initialize computes the starting W (n x k) and H (k x m), both row-major,
// as scikit-learn's _initialize_nmf(X, k, init, eps=1e-6, random_state):
//
//   - "random": a = sqrt(mean(X)/k); H = a|N(k, m)| then W = a|N(n, k)|,
//     standard normals drawn in C order, H first.
//   - "nndsvd" (Boutsidis & Gallopoulos 2008): from the randomized SVD
//     X ≈ Σ_j s_j u_j v_jᵀ, W[:,0] = sqrt(s_0)|u_0|, H[0,:] = sqrt(s_0)|v_0|;
//     for j ≥ 1 keep whichever of (u_j⁺, v_j⁺) and (u_j⁻, v_j⁻) has the larger
//     product of norms σ, normalised, scaled by sqrt(s_j σ). Entries < 1e-6
//     become 0.
//   - "nndsvda": nndsvd with its zeros set to mean(X).
//   - "nndsvdar": nndsvd with its zeros set to |mean(X) N(0,1) / 100|, drawn
//     from a fresh stream in C order of W, then of H.
//
// init must already be resolved (not "" or "custom") and valid for k.
func initialize[T Float](x Dense[T], k int, init string, rs *rngSource) (w, h []T) {
	return initializeInto(x, k, init, rs, nil, mean(x))
}

// initializeInto is initialize with X's mean given (mean64 = mean(x)) and,
// for init "random", H written into hBuf (k·m elements) when it is not nil.
func initializeInto[T Float](x Dense[T], k int, init string, rs *rngSource, hBuf []T, mean64 float64) (w, h []T) {
	n, m := x.Rows, x.Cols
	xmean := T(mean64) // numpy's X.mean() has X's dtype

	if init == "random" {
		w = make([]T, n*k)
		h = hBuf
		if h == nil {
			h = make([]T, k*m)
		}
		h = h[:k*m]
		avg := T(math.Sqrt(float64(xmean / T(k))))
		rng := rs.get()
		// The normals are drawn in float64: for float64 straight into W
		// and H, scaled in place, with no buffer of their own.
		var g []float64
		if isF32[T]() {
			g = make([]float64, max(k*m, n*k))
		}
		normals := func(dst []T) {
			var gd []float64
			if g != nil {
				gd = g[:len(dst)]
			} else {
				gd = as64(dst)
			}
			rng.StandardNormal(gd)
			for i := range dst {
				dst[i] = absBits(avg * T(gd[i]))
			}
		}
		normals(h)
		normals(w)
		return w, h
	}

	// The SVD runs in float64 whatever T is; a float32 X is widened once.
	var x64 Dense[float64]
	if isF32[T]() {
		x64 = Dense[float64]{Rows: n, Cols: m, Stride: m, Data: make([]float64, n*m)}
		x.each(func(i, j int, v T) bool { x64.Data[i*m+j] = float64(v); return true })
	} else {
		x64 = Dense[float64]{Rows: n, Cols: m, Stride: x.Stride, ColMajor: x.ColMajor, Data: as64(x.Data)}
	}
	svd := randomizedSVD(x64, k, rs.get())
	if 8*max(n, m)*(k+10) >= svdCollectBytes {
		// The range finder's max(n, m) x (k+10) block and its copies
		// are garbage now: collect them before the caller allocates the
		// solver's buffers, which then take their pages instead of adding
		// new ones (a collection of this pointer-free heap takes about a
		// millisecond, nothing next to the SVD).
		runtime.GC()
	}

	// W and H are built in place of U (n x k) and Vᵀ (k x m): every entry
	// of column j of W (row j of H) is a function of that entry and of
	// norms of the same column (row), computed first. For float64 they are
	// then returned as they are, so the start costs no buffer beyond the SVD.
	w64, h64 := svd.U, svd.Vt
	s0 := math.Sqrt(svd.S[0])
	for i := range n {
		w64[i*k] = s0 * math.Abs(w64[i*k])
	}
	for i := range m {
		h64[i] = s0 * math.Abs(h64[i])
	}
	for j := 1; j < k; j++ {
		var xp, xn, yp, yn float64 // squared norms of the parts
		for i := range n {
			if v := w64[i*k+j]; v > 0 {
				xp += v * v
			} else {
				xn += v * v
			}
		}
		for i := range m {
			if v := h64[j*m+i]; v > 0 {
				yp += v * v
			} else {
				yn += v * v
			}
		}
		xp, xn, yp, yn = math.Sqrt(xp), math.Sqrt(xn), math.Sqrt(yp), math.Sqrt(yn)
		mp, mn := xp*yp, xn*yn
		sign, xnrm, ynrm, sigma := 1.0, xp, yp, mp
		if !(mp > mn) {
			sign, xnrm, ynrm, sigma = -1, xn, yn, mn
		}
		if sigma == 0 {
			// Both products vanish (u or v one-signed against the other);
			// scikit-learn would divide 0/0 here and start from NaN. An
			// all-zero component is the meaningful limit.
			for i := range n {
				w64[i*k+j] = 0
			}
			for i := range m {
				h64[j*m+i] = 0
			}
			continue
		}
		lbd := math.Sqrt(svd.S[j] * sigma)
		for i := range n {
			w64[i*k+j] = lbd * (math.Max(sign*w64[i*k+j], 0) / xnrm)
		}
		for i := range m {
			h64[j*m+i] = lbd * (math.Max(sign*h64[j*m+i], 0) / ynrm)
		}
	}
	const eps = 1e-6
	for i, v := range w64 {
		if v < eps {
			w64[i] = 0
		}
	}
	for i, v := range h64 {
		if v < eps {
			h64[i] = 0
		}
	}
	if isF32[T]() {
		w, h = make([]T, n*k), make([]T, k*m)
		for i, v := range w64 {
			w[i] = T(v)
		}
		for i, v := range h64 {
			h[i] = T(v)
		}
	} else {
		w, h = fromF64[T](w64), fromF64[T](h64)
	}

	switch init {
	case "nndsvda":
		for i := range w {
			if w[i] == 0 {
				w[i] = xmean
			}
		}
		for i := range h {
			if h[i] == 0 {
				h[i] = xmean
			}
		}
	case "nndsvdar":
		rng := rs.get()
		fill := func(a []T) {
			for i := range a {
				if a[i] == 0 {
					a[i] = T(math.Abs(float64(xmean) * rng.Gauss() / 100))
				}
			}
		}
		fill(w)
		fill(h)
	case "nndsvd":
	default:
		panic(fmt.Sprintf("nmf: initialize called with init %q", init))
	}
	return w, h
}

// fromF64 reinterprets a []float64 as a []T of the same width (T is float64
// or a type defined on it); the inverse of as64.
// svdCollectBytes is the size of the range finder's block from which
// initialize collects garbage after the SVD.
const svdCollectBytes = 4 << 20

func fromF64[T Float](s []float64) []T {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&s[0])), len(s))
}

// absBits is |v| by clearing the sign bit in T's own width: branch-free, for
// the random init, where a branch on the sign of random data mispredicts half
// the time (measured: 5 ns per entry).
func absBits[T Float](v T) T {
	if isF32[T]() {
		return T(math.Float32frombits(math.Float32bits(float32(v)) &^ (1 << 31)))
	}
	return T(math.Abs(float64(v)))
}
