package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/cdata"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/gonmf/gonmf/nmf"
)

// Status codes of gonmf.h (asserted equal to the C macros in cabi.go).
const (
	statusOK          = 0
	statusValue       = 1
	statusType        = 2
	statusInterrupted = 3
	statusMemory      = 4
	statusInternal    = 5
)

// The engine, as variables so tests can substitute a fake.
var (
	fit64 = nmf.Fit[float64]
	fit32 = nmf.Fit[float32]
)

// memoryError is an allocation failure (GONMF_ERR_MEMORY, Python MemoryError).
type memoryError struct{ msg string }

func (e *memoryError) Error() string { return e.msg }

func valueErrorf(format string, args ...any) error {
	return &nmf.ValueError{Msg: fmt.Sprintf(format, args...)}
}

func typeErrorf(format string, args ...any) error {
	return &nmf.TypeError{Msg: fmt.Sprintf(format, args...)}
}

// errorStatus maps an error to its gonmf.h status code.
func errorStatus(err error) int32 {
	var ve *nmf.ValueError
	var te *nmf.TypeError
	var me *memoryError
	switch {
	case err == nil:
		return statusOK
	case errors.As(err, &ve):
		return statusValue
	case errors.As(err, &te):
		return statusType
	case errors.Is(err, nmf.ErrInterrupted):
		return statusInterrupted
	case errors.As(err, &me):
		return statusMemory
	}
	return statusInternal
}

// cControl mirrors GonmfControl (size asserted in cabi.go). It lives in caller
// memory and another thread writes cancel, so every access is atomic.
type cControl struct {
	cancel, iteration, maxIter, reserved int32
	err                                  uint64 // a double, stored as its bits
}

// control adapts a GonmfControl to nmf.Control.
type control struct{ c *cControl }

func (c control) Cancelled() bool { return atomic.LoadInt32(&c.c.cancel) != 0 }

func (c control) Progress(iter, maxIter int, loss float64) {
	atomic.StoreInt32(&c.c.iteration, clamp32(iter))
	atomic.StoreInt32(&c.c.maxIter, clamp32(maxIter))
	atomic.StoreUint64(&c.c.err, math.Float64bits(loss))
}

func clamp32(v int) int32 {
	return int32(min(max(v, math.MinInt32), math.MaxInt32))
}

// abiInput is one input array as the caller passed it (either pointer may be NULL).
type abiInput struct {
	name   string
	schema *cSchema
	array  *cArray
}

func (in abiInput) present() bool { return in.schema != nil || in.array != nil }

// release releases whatever is still live; moved (imported) arrays have a
// NULL release already, so this is safe on every path.
func (in abiInput) release() {
	releaseArray(in.array)
	releaseSchema(in.schema)
}

func (in abiInput) checkLive() error {
	if in.schema == nil || in.array == nil {
		return valueErrorf("input %s: ArrowSchema and ArrowArray must both be non-NULL", in.name)
	}
	if in.schema.release == nil {
		return valueErrorf("input %s: released ArrowSchema", in.name)
	}
	if in.array.release == nil {
		return valueErrorf("input %s: released ArrowArray", in.name)
	}
	return nil
}

// abiOutput is a caller-provided output pair (zero-initialised structs).
type abiOutput struct {
	schema *cSchema
	array  *cArray
}

func (o abiOutput) present() bool { return o.schema != nil || o.array != nil }

// fitCall is one gonmf_fit call with the C pointers already cast to their Go
// mirrors. Everything from here down is free of cgo, so tests drive it with
// structs exported by cdata into Go memory.
type fitCall struct {
	x, w, h    abiInput
	params     []byte // nil: defaults
	ctl        *cControl
	outW, outH abiOutput
	alloc      memory.Allocator
	// gc, when set, adjusts the Go GC for a fit of the given working set
	// (fitWorkBytes) and returns the function that undoes it.
	gc func(workBytes int64) (restore func())
	// hop, when set, runs the engine of a large fit on another goroutine
	// (see unlocked and engineHops).
	hop func(f func())

	exportedW, exportedH bool
}

// fitInfo is out_info_json.
type fitInfo struct {
	NIter             int          `json:"n_iter"`
	ReconstructionErr *float64     `json:"reconstruction_err"` // null when not finite (JSON has no NaN)
	Converged         bool         `json:"converged"`
	CopiedInput       bool         `json:"copied_input"`
	NComponents       int          `json:"n_components"`
	Dtype             string       `json:"dtype"`
	Layout            string       `json:"layout"`
	RandomState       *mtStateJSON `json:"random_state,omitempty"`
	// History has one entry per iteration when verbose > 0, so the caller can
	// print scikit-learn's verbose lines: the engine's criterion (null when not
	// computed) and the seconds since the fit started.
	History []historyEntry `json:"history,omitempty"`
}

type historyEntry struct {
	Iter    int      `json:"iter"`
	Value   *float64 `json:"value"`
	Seconds float64  `json:"seconds"`
}

// recorder keeps the per-iteration history for verbose fits and forwards to
// the caller's GonmfControl, if any. The engine calls it from one goroutine.
type recorder struct {
	next    nmf.Control // nil without a GonmfControl
	start   time.Time
	history []historyEntry
}

func (r *recorder) Cancelled() bool { return r.next != nil && r.next.Cancelled() }

func (r *recorder) Progress(iter, maxIter int, loss float64) {
	e := historyEntry{Iter: iter, Seconds: time.Since(r.start).Seconds()}
	if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
		e.Value = &loss
	}
	r.history = append(r.history, e)
	if r.next != nil {
		r.next.Progress(iter, maxIter, loss)
	}
}

// do runs the call and never panics: a panic becomes statusInternal with its
// message and a short stack, after releasing inputs and any output written.
func (c *fitCall) do() (status int32, info []byte, msg string) {
	defer func() {
		if r := recover(); r != nil {
			c.releaseInputs()
			c.releaseOutputs()
			status, info, msg = statusInternal, nil, panicMessage(r)
		}
	}()
	info, err := c.run()
	if err != nil {
		return errorStatus(err), nil, err.Error()
	}
	return statusOK, info, ""
}

func (c *fitCall) releaseInputs() {
	c.x.release()
	c.w.release()
	c.h.release()
}

func (c *fitCall) releaseOutputs() {
	if c.exportedW {
		releaseArray(c.outW.array)
		releaseSchema(c.outW.schema)
		*c.outW.array, *c.outW.schema = cArray{}, cSchema{}
		c.exportedW = false
	}
	if c.exportedH {
		releaseArray(c.outH.array)
		releaseSchema(c.outH.schema)
		*c.outH.array, *c.outH.schema = cArray{}, cSchema{}
		c.exportedH = false
	}
}

// engineHops reports whether a fit is worth moving off a cgo callback's
// locked goroutine (see unlocked): unless it is surely short. Its work is
// estimated in multiply-adds with X: k columns twice per iteration, and about
// ten passes with k + 10 columns for the randomized SVD of the nndsvd inits.
// Below shortFitWork (a millisecond or two) the hop, about 60 us, costs more
// than the fork-joins it saves (measured on 38 x 5,000, k = 3: hopping a
// one-iteration fit costs 60 us, not hopping 200 iterations costs 35 us each).
// The Python package runs such fits without a worker thread, by the same rule.
func engineHops(n, m, k int, p nmf.Params) bool {
	perX := 2 * float64(k) * float64(p.MaxIter)
	if p.UpdateH && p.Init != "random" && p.Init != "custom" {
		perX += 10 * float64(k+10)
	}
	return float64(n)*float64(m)*perX >= shortFitWork
}

// shortFitWork is the work (multiply-adds) from which engineHops hops.
const shortFitWork = 4e6

// hoppedPanic is a panic raised on the goroutine of unlocked, with its stack.
type hoppedPanic struct {
	value any
	stack []byte
}

func panicMessage(r any) string {
	stack := debug.Stack()
	if hp, ok := r.(*hoppedPanic); ok {
		r, stack = hp.value, hp.stack
	}
	if len(stack) > 4096 {
		stack = stack[:4096]
	}
	return fmt.Sprintf("gonmf: internal error (please report): %v\n%s", r, stack)
}

func (c *fitCall) checkOutputs() error {
	if c.outW.schema == nil || c.outW.array == nil {
		return valueErrorf("out_w_schema and out_w_array must be non-NULL")
	}
	if c.outH.present() && (c.outH.schema == nil || c.outH.array == nil) {
		return valueErrorf("out_h_schema and out_h_array must be both NULL or both non-NULL")
	}
	for _, o := range []struct {
		name string
		out  abiOutput
	}{{"out_w", c.outW}, {"out_h", c.outH}} {
		if o.out.present() && (o.out.schema.release != nil || o.out.array.release != nil) {
			return valueErrorf("%s structs must be zero-initialised (release is set)", o.name)
		}
	}
	return nil
}

// run validates, views or copies X, runs the engine and exports W and H.
func (c *fitCall) run() ([]byte, error) {
	// Inputs are moved in: released on every path out of here.
	defer c.releaseInputs()

	if err := c.checkOutputs(); err != nil {
		return nil, err
	}
	if err := c.x.checkLive(); err != nil {
		return nil, err
	}
	for _, in := range []abiInput{c.w, c.h} {
		if in.present() {
			if err := in.checkLive(); err != nil {
				return nil, err
			}
		}
	}
	p, err := parseParams(c.params)
	if err != nil {
		return nil, err
	}

	xs, err := readSchema(c.x.schema)
	releaseSchema(c.x.schema) // copied; not needed any more
	if err != nil {
		return nil, err
	}
	plan, err := planX(xs, c.x.array)
	if err != nil {
		return nil, err
	}
	n, m := plan.n, plan.m

	// Initial W and H, only when scikit-learn would use them (it ignores them
	// otherwise, with a warning the Python layer gives).
	useW := p.Init == "custom" && p.UpdateH
	useH := useW || !p.UpdateH
	var wf, hf factor
	if useW {
		if wf, err = c.planFactor(c.w, "W", "init='custom' needs both W and H"); err != nil {
			return nil, err
		}
	}
	if useH {
		need := "update_H=False needs H"
		if useW {
			need = "init='custom' needs both W and H"
		}
		if hf, err = c.planFactor(c.h, "H", need); err != nil {
			return nil, err
		}
	}
	k := p.components
	switch {
	case k == componentsNone:
		k = m
	case k == componentsAuto && useH:
		k = hf.rows
	case k == componentsAuto:
		k = m
	}
	if useH {
		if err := hf.checkShape("H", k, m); err != nil {
			return nil, err
		}
	}
	if useW {
		if err := wf.checkShape("W", n, k); err != nil {
			return nil, err
		}
	}
	switch {
	case useW && (wf.dt != plan.dt || hf.dt != plan.dt):
		return nil, typeErrorf("H and W should have the same dtype as X. Got H.dtype = %s and W.dtype = %s.", hf.dt, wf.dt)
	case useH && hf.dt != plan.dt:
		return nil, typeErrorf("H should have the same dtype as X. Got H.dtype = %s.", hf.dt)
	}
	p.Components = k
	if c.gc != nil {
		defer c.gc(fitWorkBytes(n, m, k))()
	}

	// Take ownership of X through cdata (this moves the caller's struct).
	// Validation above guarantees the import succeeds on arrow/go v17.
	xarr, err := cdata.ImportCArrayWithType(c.x.array.cdata(), plan.arrowType)
	if err != nil {
		return nil, fmt.Errorf("gonmf: importing X after validation: %w", err)
	}
	xlive := true
	releaseX := func() {
		if xlive {
			xlive = false
			xarr.Release()
		}
	}
	defer releaseX()

	view := plan.view
	if !plan.zeroCopy {
		buf, err := allocBuffer(c.alloc, int64(n)*int64(m)*plan.dt.size(), n, m, plan.dt)
		if err != nil {
			return nil, err
		}
		defer buf.Release()
		view = copyX(plan, unsafe.Pointer(&buf.Bytes()[0]))
		releaseX() // the copy is ours: give the caller's memory back before the fit
	}

	wOut, err := newOutArray(c.alloc, plan.dt, n, k)
	if err != nil {
		return nil, err
	}
	defer wOut.arr.Release()
	hOut, err := newOutArray(c.alloc, plan.dt, k, m)
	if err != nil {
		return nil, err
	}
	defer hOut.arr.Release()
	if useW {
		wf.copyTo(wOut.bytes())
	}
	if useH {
		hf.copyTo(hOut.bytes())
	}
	// W and H were copied: release them now rather than after the fit.
	c.w.release()
	c.h.release()

	var ctl nmf.Control // stays a nil interface without a GonmfControl
	if c.ctl != nil {
		atomic.StoreInt32(&c.ctl.iteration, 0)
		atomic.StoreInt32(&c.ctl.maxIter, clamp32(p.MaxIter))
		atomic.StoreUint64(&c.ctl.err, math.Float64bits(math.NaN()))
		ctl = control{c.ctl}
	}
	var rec *recorder
	if p.verbose > 0 {
		rec = &recorder{next: ctl, start: time.Now()}
		ctl = rec
	}
	var res nmf.Result
	engine := func() {
		if plan.dt == f32 {
			res, err = fit32(dense[float32](view), dense[float32](wOut.mat), dense[float32](hOut.mat), p.Params, ctl)
		} else {
			res, err = fit64(dense[float64](view), dense[float64](wOut.mat), dense[float64](hOut.mat), p.Params, ctl)
		}
	}
	if c.hop != nil && engineHops(n, m, k, p.Params) {
		c.hop(engine)
	} else {
		engine()
	}
	releaseX()
	if err != nil {
		return nil, err
	}

	info := fitInfo{
		NIter:       res.NIter,
		Converged:   res.Converged,
		CopiedInput: !plan.zeroCopy,
		NComponents: k,
		Dtype:       plan.dt.String(),
		Layout:      view.layout(),
	}
	if e := res.ReconstructionErr; !math.IsNaN(e) && !math.IsInf(e, 0) {
		info.ReconstructionErr = &e
	}
	if rec != nil {
		info.History = rec.history
	}
	if p.Random.State != nil {
		st := stateJSON(p.Random.State) // advanced in place by the engine
		info.RandomState = &st
	}
	infoJSON, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}

	// Last step, so the out structs are written only on success. The exported
	// arrays hold their own references; ours are dropped by the defers.
	cdata.ExportArrowArray(wOut.arr, c.outW.array.cdata(), c.outW.schema.cdata())
	c.exportedW = true
	if c.outH.present() {
		cdata.ExportArrowArray(hOut.arr, c.outH.array.cdata(), c.outH.schema.cdata())
		c.exportedH = true
	}
	return infoJSON, nil
}

func (c *fitCall) planFactor(in abiInput, name, need string) (factor, error) {
	if !in.present() {
		return factor{}, valueErrorf("%s", need)
	}
	s, err := readSchema(in.schema)
	releaseSchema(in.schema)
	if err != nil {
		return factor{}, err
	}
	return planFactor(name, s, in.array)
}

func dense[T nmf.Float](m matrix) nmf.Dense[T] {
	return nmf.Dense[T]{
		Rows: m.rows, Cols: m.cols, Stride: m.stride, ColMajor: m.colMajor,
		Data: unsafe.Slice((*T)(m.data), m.span()),
	}
}

// outArray is W or H: a fixed_size_list<float>[cols] of rows rows over one
// malloc'ed buffer, handed to the engine as a row-major matrix and then
// exported as is.
type outArray struct {
	arr arrow.Array
	mat matrix
}

func (o outArray) bytes() []byte {
	return unsafe.Slice((*byte)(o.mat.data), int64(o.mat.rows)*int64(o.mat.cols)*o.mat.dt.size())
}

func newOutArray(alloc memory.Allocator, dt dtype, rows, cols int) (outArray, error) {
	if cols > math.MaxInt32 || rows > maxElems || int64(cols) > maxElems/int64(rows) {
		return outArray{}, valueErrorf("W and H would be too large: %d x %d", rows, cols)
	}
	buf, err := allocBuffer(alloc, int64(rows)*int64(cols)*dt.size(), rows, cols, dt)
	if err != nil {
		return outArray{}, err
	}
	defer buf.Release()
	values := array.NewData(dt.arrowType(), rows*cols, []*memory.Buffer{nil, buf}, nil, 0, 0)
	defer values.Release()
	list := array.NewData(arrow.FixedSizeListOf(int32(cols), dt.arrowType()), rows, []*memory.Buffer{nil}, []arrow.ArrayData{values}, 0, 0)
	defer list.Release()
	return outArray{
		arr: array.MakeFromData(list),
		mat: matrix{dt: dt, rows: rows, cols: cols, stride: cols, data: unsafe.Pointer(&buf.Bytes()[0])},
	}, nil
}

// allocBuffer allocates a zeroed C buffer. The mallocator panics when malloc
// fails; that becomes a MemoryError with numpy's wording instead of a crash.
func allocBuffer(alloc memory.Allocator, nbytes int64, rows, cols int, dt dtype) (buf *memory.Buffer, err error) {
	fail := func() error {
		return &memoryError{fmt.Sprintf("Unable to allocate %s for an array with shape (%d, %d) and data type %s", humanBytes(nbytes), rows, cols, dt)}
	}
	if nbytes <= 0 || nbytes > math.MaxInt {
		return nil, fail()
	}
	defer func() {
		if r := recover(); r != nil {
			buf, err = nil, fail()
		}
	}()
	return memory.NewBufferWithAllocator(alloc.Allocate(int(nbytes)), alloc), nil
}

func humanBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d %s", n, units[0])
	}
	return fmt.Sprintf("%.2f %s", v, units[i])
}
