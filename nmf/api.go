// Package nmf factorises a non-negative matrix X (n x m) as X ~= W H with
// W (n x k) and H (k x m) non-negative, following scikit-learn's NMF semantics.
//
// The package knows no cgo and no Arrow: it works on caller-owned memory
// described by Dense views, so the C ABI can hand it buffers without copying.
package nmf

import "errors"

// Float is the element type the engine computes in.
type Float interface{ float32 | float64 }

// Dense is a view of a Rows x Cols matrix in caller-owned memory.
// Element (i, j) is Data[i*Stride+j] when ColMajor is false, and
// Data[j*Stride+i] when ColMajor is true (a column-major X is a row-major X^T).
type Dense[T Float] struct {
	Rows, Cols int
	Stride     int
	ColMajor   bool
	Data       []T
}

// Random describes a numpy.random.RandomState as scikit-learn's
// check_random_state sees it. With State nil, every use starts a fresh
// RandomState(Seed), as scikit-learn does for an integer random_state. With
// State set, all uses draw from that one stream in order and advance it, as for
// a RandomState instance (or None, the global one).
type Random struct {
	Seed  uint32
	State *MTState
}

// MTState is the state of numpy's legacy MT19937 RandomState, as returned by
// RandomState.get_state(): 624 key words, position, and the cached Gaussian.
type MTState struct {
	Key      [624]uint32
	Pos      int
	HasGauss bool
	Gauss    float64
}

// Params are the fit parameters, with scikit-learn's meaning.
type Params struct {
	Components int     // k >= 1
	Init       string  // "", "random", "nndsvd", "nndsvda", "nndsvdar", "custom" ("" = sklearn's init=None rule)
	Solver     string  // "cd" (scikit-learn's), "mu" (scikit-learn's) or "hals" (accelerated HALS)
	BetaLoss   float64 // 2 frobenius, 1 kullback-leibler, 0 itakura-saito; "mu" only for != 2
	Tol        float64 // >= 0
	MaxIter    int     // >= 1
	AlphaW     float64 // >= 0
	AlphaH     float64 // >= 0 ('same' already resolved by the caller)
	L1Ratio    float64 // in [0, 1]
	Shuffle    bool
	UpdateH    bool // false: H is fixed (transform), W starts at zero ("cd", "hals") or sqrt(mean(X)/k) ("mu")
	Random     Random
}

// DefaultParams returns scikit-learn's defaults for NMF.
func DefaultParams() Params {
	return Params{Solver: "cd", BetaLoss: 2, Tol: 1e-4, MaxIter: 200, UpdateH: true}
}

// Control lets a caller follow and stop a running fit. Implementations must be
// safe to call from the fitting goroutine while another thread cancels.
type Control interface {
	// Cancelled reports whether the caller asked the fit to stop.
	Cancelled() bool
	// Progress reports that iteration iter (1-based) of maxIter is done;
	// loss is the latest objective value or NaN when not computed.
	Progress(iter, maxIter int, loss float64)
}

// Result describes a finished fit.
type Result struct {
	NIter             int     // iterations run, as scikit-learn's n_iter_
	ReconstructionErr float64 // ||X - WH||_F (beta divergence with square root for other losses)
	Converged         bool    // the tolerance was reached before MaxIter
}

// ErrInterrupted is returned when Control.Cancelled reported true.
var ErrInterrupted = errors.New("nmf: fit interrupted")

// ValueError marks an error caused by a bad value of the input or parameters
// (scikit-learn raises ValueError for these).
type ValueError struct{ Msg string }

func (e *ValueError) Error() string { return e.Msg }

// TypeError marks an error caused by a wrong type (scikit-learn raises TypeError).
type TypeError struct{ Msg string }

func (e *TypeError) Error() string { return e.Msg }
