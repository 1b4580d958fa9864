package nmf

// Fit factorises x into w (x.Rows x k, row-major) and h (k x x.Cols, row-major).
// w and h are caller-allocated; with Init "custom" they hold the initial
// values on entry, and with UpdateH false h holds the fixed H. ctl may be nil.
// Errors are *ValueError or *TypeError for bad input, ErrInterrupted when cancelled.
func Fit[T Float](x Dense[T], w, h Dense[T], p Params, ctl Control) (Result, error) {
	return Result{}, &ValueError{Msg: "nmf: not implemented yet"}
}
