package main

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/gonmf/gonmf/nmf"
)

// harness runs fitCall.do with a fresh mallocator for the outputs and checks,
// whatever the outcome, that every input was released and that the outputs
// free all their memory when the consumer releases them.
type harness struct {
	t          *testing.T
	in         memory.Allocator // caller-side memory
	inMem      interface{ AllocatedBytes() int64 }
	outMem     interface{ AllocatedBytes() int64 }
	call       *fitCall
	outW, outH *cpair
	status     int32
	info       map[string]any
	msg        string
}

func newHarness(t *testing.T) *harness {
	in, out := newMem(), newMem()
	h := &harness{t: t, in: in, inMem: in, outMem: out, outW: new(cpair), outH: new(cpair)}
	h.call = &fitCall{alloc: out, outW: h.outW.output(), outH: h.outH.output()}
	return h
}

func (h *harness) run(x, w, hh *cpair, params string) {
	t := h.t
	t.Helper()
	if x != nil {
		h.call.x = x.input("X")
	}
	h.call.x.name = "X"
	if w != nil {
		h.call.w = w.input("W")
	}
	if hh != nil {
		h.call.h = hh.input("H")
	}
	if params != "" {
		h.call.params = []byte(params)
	}
	status, info, msg := h.call.do()
	h.status, h.msg = status, msg
	for _, p := range []*cpair{x, w, hh} {
		if p != nil && !p.released() {
			t.Errorf("input not released after the call (status %d, %s)", status, msg)
		}
	}
	if got := h.inMem.AllocatedBytes(); got != 0 {
		t.Errorf("caller memory still allocated after the call: %d bytes", got)
	}
	if status == statusOK {
		if err := json.Unmarshal(info, &h.info); err != nil {
			t.Fatalf("info %q: %v", info, err)
		}
	} else {
		if h.outW.s().release != nil || h.outW.a().release != nil || h.outH.s().release != nil {
			t.Errorf("outputs written on failure")
		}
		if got := h.outMem.AllocatedBytes(); got != 0 {
			t.Errorf("output memory leaked on failure: %d bytes", got)
		}
	}
}

func (h *harness) expectOK() {
	h.t.Helper()
	if h.status != statusOK {
		h.t.Fatalf("status %d: %s", h.status, h.msg)
	}
}

func (h *harness) expectError(status int32, substr string) {
	h.t.Helper()
	if h.status != status || !strings.Contains(h.msg, substr) {
		h.t.Fatalf("got status %d %q, want %d containing %q", h.status, h.msg, status, substr)
	}
}

// finish imports W and H back, then checks that releasing them frees everything.
func (h *harness) readW() (int, int, []float64) { return readOut(h.t, h.outW) }
func (h *harness) readH() (int, int, []float64) { return readOut(h.t, h.outH) }
func (h *harness) checkFreed() {
	h.t.Helper()
	if got := h.outMem.AllocatedBytes(); got != 0 {
		h.t.Errorf("output memory not freed after release: %d bytes", got)
	}
}

func TestFitStructAdjacentZeroCopy(t *testing.T) {
	fe := &fakeEngine{}
	install[float64](t, fe)
	h := newHarness(t)
	n, m := 4, 3
	rec, buf := adjacentRecord(t, h.in, n, m, seq(n*m))
	base := unsafe.Pointer(&buf.Bytes()[0])
	buf.Release()
	x := exportRecord(t, rec)
	h.run(x, nil, nil, `{"n_components": 2, "tol": 0.001, "max_iter": 50}`)
	h.expectOK()
	if unsafe.Pointer(&fe.x64.Data[0]) != base || !fe.x64.ColMajor || fe.x64.Stride != n {
		t.Errorf("X was not viewed in place as column-major: %+v", fe.x64)
	}
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			if fe.xAt[i*m+j] != float64(j*n+i+1) {
				t.Fatalf("X[%d,%d] = %v", i, j, fe.xAt[i*m+j])
			}
		}
	}
	if fe.p.Components != 2 || fe.p.Tol != 0.001 || fe.p.MaxIter != 50 || fe.p.Solver != "cd" || !fe.p.UpdateH {
		t.Errorf("params: %+v", fe.p)
	}
	want := map[string]any{"n_iter": 3.0, "reconstruction_err": 0.5, "converged": true, "copied_input": false,
		"n_components": 2.0, "dtype": "float64", "layout": "col_major"}
	for k, v := range want {
		if h.info[k] != v {
			t.Errorf("info[%s] = %v, want %v", k, h.info[k], v)
		}
	}
	if _, ok := h.info["random_state"]; ok {
		t.Errorf("random_state in info without a state given")
	}
	rows, cols, w := h.readW()
	if rows != n || cols != 2 || len(w) != n*2 || w[0] != 1 {
		t.Errorf("W %dx%d %v", rows, cols, w)
	}
	rows, cols, hv := h.readH()
	if rows != 2 || cols != m || len(hv) != 2*m || hv[0] != 2 {
		t.Errorf("H %dx%d %v", rows, cols, hv)
	}
	h.checkFreed()
}

func TestFitStructRowSliceStride(t *testing.T) {
	// A row slice of a pandas block: adjacent columns with a larger stride.
	fe := &fakeEngine{}
	install[float64](t, fe)
	h := newHarness(t)
	n, m := 6, 3
	rec, buf := adjacentRecord(t, h.in, n, m, seq(n*m))
	base := uintptr(unsafe.Pointer(&buf.Bytes()[0]))
	buf.Release()
	sl := rec.NewSlice(2, 5)
	rec.Release()
	x := exportRecord(t, sl)
	h.run(x, nil, nil, `{"n_components": 1}`)
	h.expectOK()
	if uintptr(unsafe.Pointer(&fe.x64.Data[0])) != base+2*8 || fe.x64.Stride != n || fe.x64.Rows != 3 {
		t.Errorf("row slice not viewed in place: rows %d stride %d", fe.x64.Rows, fe.x64.Stride)
	}
	if fe.xAt[0] != 3 || fe.xAt[1] != 9 || fe.xAt[3] != 4 {
		t.Errorf("X = %v", fe.xAt)
	}
	h.readW()
	h.readH()
	h.checkFreed()
}

func TestFitStructCopied(t *testing.T) {
	for _, tc := range []struct {
		name  string
		types []arrow.DataType
		dtype string
	}{
		// Irregularly spaced columns of one buffer: never one matrix.
		{"float64", []arrow.DataType{arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Float64}, "float64"},
		{"float32", []arrow.DataType{arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float32}, "float32"},
		{"mixed", []arrow.DataType{arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Float32}, "float64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fe := &fakeEngine{}
			install[float64](t, fe)
			h := newHarness(t)
			n := 5
			x := exportRecord(t, spacedRecord(h.in, n, tc.types, []int{0, n + 1, 3 * n}, seq(n*3)))
			h.run(x, nil, nil, `{"n_components": 1}`)
			h.expectOK()
			if h.info["copied_input"] != true || h.info["dtype"] != tc.dtype || h.info["layout"] != "col_major" {
				t.Errorf("info %v", h.info)
			}
			for i := 0; i < n; i++ {
				for j := 0; j < 3; j++ {
					if fe.xAt[i*3+j] != float64(j*n+i+1) {
						t.Fatalf("X[%d,%d] = %v", i, j, fe.xAt[i*3+j])
					}
				}
			}
			_, _, w := h.readW()
			if len(w) != n {
				t.Errorf("W %v", w)
			}
			h.readH()
			h.checkFreed()
		})
	}
}

func TestFitFixedSizeListZeroCopy(t *testing.T) {
	for _, dt := range []arrow.DataType{arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Float32} {
		t.Run(dt.String(), func(t *testing.T) {
			fe := &fakeEngine{}
			install[float64](t, fe)
			h := newHarness(t)
			n, m := 5, 3
			full := fslArray(h.in, dt, n, m, seq(n*m))
			values := full.(*array.FixedSizeList).ListValues().Data().Buffers()[1].Bytes()
			base := uintptr(unsafe.Pointer(&values[0]))
			sl := array.NewSlice(full, 1, 4) // parent offset 1
			full.Release()
			x := export(t, sl)
			h.run(x, nil, nil, `{"n_components": 2}`)
			h.expectOK()
			var got uintptr
			if dt.ID() == arrow.FLOAT64 {
				got = uintptr(unsafe.Pointer(&fe.x64.Data[0]))
				if fe.x64.ColMajor || fe.x64.Stride != m || fe.x64.Rows != 3 {
					t.Errorf("X view %+v", fe.x64)
				}
			} else {
				got = uintptr(unsafe.Pointer(&fe.x32.Data[0]))
			}
			if got != base+uintptr(m)*uintptr(dt.(arrow.FixedWidthDataType).BitWidth()/8) {
				t.Errorf("X not viewed in place at the offset row")
			}
			if fe.xAt[0] != 4 || fe.xAt[8] != 12 {
				t.Errorf("X = %v", fe.xAt)
			}
			if h.info["copied_input"] != false || h.info["layout"] != "row_major" || h.info["dtype"] != dt.String() {
				t.Errorf("info %v", h.info)
			}
			r, c, _ := h.readW()
			if r != 3 || c != 2 {
				t.Errorf("W %dx%d", r, c)
			}
			r, c, _ = h.readH()
			if r != 2 || c != m {
				t.Errorf("H %dx%d", r, c)
			}
			h.checkFreed()
		})
	}
}

func TestFitOutHNull(t *testing.T) {
	install[float64](t, &fakeEngine{})
	h := newHarness(t)
	h.call.outH = abiOutput{}
	x := export(t, fslArray(h.in, arrow.PrimitiveTypes.Float64, 3, 2, seq(6)))
	h.run(x, nil, nil, `{"n_components": 1}`)
	h.expectOK()
	h.readW()
	h.checkFreed()
}

func TestFitErrors(t *testing.T) {
	f64 := arrow.PrimitiveTypes.Float64
	f32 := arrow.PrimitiveTypes.Float32
	for _, tc := range []struct {
		name   string
		x      func(h *harness) *cpair
		params string
		status int32
		msg    string
	}{
		{"utf8 column", func(h *harness) *cpair {
			return exportRecord(h.t, builtRecord(h.in, 3, []arrow.DataType{f64, arrow.BinaryTypes.String}, seq(6)))
		}, `{"n_components": 1}`, statusValue, "could not convert column 'b0' (type utf8) to float: NMF needs numeric input"},
		{"int column", func(h *harness) *cpair {
			return exportRecord(h.t, builtRecord(h.in, 3, []arrow.DataType{arrow.PrimitiveTypes.Int64}, seq(3)))
		}, ``, statusValue, "column 'a0' (type int64)"},
		{"nulls in a column", func(h *harness) *cpair {
			b := array.NewFloat64Builder(h.in)
			defer b.Release()
			b.AppendValues([]float64{1, 2, 3}, []bool{true, false, true})
			col := b.NewArray()
			defer col.Release()
			rec := array.NewRecord(arrow.NewSchema([]arrow.Field{{Name: "a", Type: f64, Nullable: true}}, nil), []arrow.Array{col}, 3)
			return exportRecord(h.t, rec)
		}, ``, statusValue, "Input X contains NaN."},
		{"null row in fixed_size_list", func(h *harness) *cpair {
			b := array.NewFixedSizeListBuilder(h.in, 2, f64)
			defer b.Release()
			b.Append(true)
			b.ValueBuilder().(*array.Float64Builder).AppendValues([]float64{1, 2}, nil)
			b.AppendNull()
			return export(h.t, b.NewArray())
		}, ``, statusValue, "Input X contains NaN."},
		{"zero rows", func(h *harness) *cpair {
			return exportRecord(h.t, builtRecord(h.in, 0, []arrow.DataType{f64, f64}, nil))
		}, ``, statusValue, "Found array with 0 sample(s) (shape=(0, 2)) while a minimum of 1 is required by NMF."},
		{"not a matrix", func(h *harness) *cpair {
			b := array.NewFloat64Builder(h.in)
			defer b.Release()
			b.AppendValues([]float64{1, 2}, nil)
			return export(h.t, b.NewArray())
		}, ``, statusValue, "X must be a struct (record batch) of float columns or a fixed_size_list<float> array, got type format 'g'"},
		{"bad params", func(h *harness) *cpair {
			return export(h.t, fslArray(h.in, f32, 2, 2, seq(4)))
		}, `{"tol": "x"}`, statusValue, `key "tol"`},
		{"unknown key", func(h *harness) *cpair {
			return export(h.t, fslArray(h.in, f32, 2, 2, seq(4)))
		}, `{"alpha": 1}`, statusValue, `unknown key "alpha"`},
		{"custom without W", func(h *harness) *cpair {
			return export(h.t, fslArray(h.in, f32, 2, 2, seq(4)))
		}, `{"init": "custom", "n_components": 1}`, statusValue, "init='custom' needs both W and H"},
		{"child too short", func(h *harness) *cpair {
			p := export(h.t, fslArray(h.in, f64, 3, 2, seq(6)))
			p.a().length = 4 // claims a row the values do not have
			return p
		}, ``, statusValue, "invalid Arrow input: the values of X has 6 values, 8 needed"},
		{"negative offset", func(h *harness) *cpair {
			p := export(h.t, fslArray(h.in, f64, 3, 2, seq(6)))
			p.a().offset = -1
			return p
		}, ``, statusValue, "invalid Arrow input: X has length 3 and offset -1"},
		{"wrong buffer count", func(h *harness) *cpair {
			p := export(h.t, fslArray(h.in, f64, 3, 2, seq(6)))
			p.a().child(0).nBuffers = 1
			return p
		}, ``, statusValue, "invalid Arrow input"},
		{"released array", func(h *harness) *cpair {
			p := export(h.t, fslArray(h.in, f64, 3, 2, seq(6)))
			releaseArray(p.a())
			return p
		}, ``, statusValue, "input X: released ArrowArray"},
		{"NULL X", func(h *harness) *cpair { return nil }, ``, statusValue, "input X: ArrowSchema and ArrowArray must both be non-NULL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			install[float64](t, &fakeEngine{})
			h := newHarness(t)
			h.run(tc.x(h), nil, nil, tc.params)
			h.expectError(tc.status, tc.msg)
		})
	}
}

func TestFitOutputsMustBeZero(t *testing.T) {
	install[float64](t, &fakeEngine{})
	h := newHarness(t)
	h.outW.a().release = unsafe.Pointer(h.outW) // anything non-NULL
	x := export(t, fslArray(h.in, arrow.PrimitiveTypes.Float64, 2, 2, seq(4)))
	status, _, msg := func() (int32, []byte, string) {
		h.call.x = x.input("X")
		return h.call.do()
	}()
	if status != statusValue || !strings.Contains(msg, "zero-initialised") || !x.released() {
		t.Fatalf("status %d %q released %v", status, msg, x.released())
	}
	h.outW.a().release = nil
}

func TestFitEngineErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fe     fakeEngine
		status int32
		msg    string
	}{
		{"value", fakeEngine{err: &nmf.ValueError{Msg: "Negative values in data passed to NMF (input X)"}}, statusValue, "Negative values"},
		{"type", fakeEngine{err: &nmf.TypeError{Msg: "bad type"}}, statusType, "bad type"},
		{"interrupted", fakeEngine{err: nmf.ErrInterrupted}, statusInterrupted, "interrupted"},
		{"other", fakeEngine{err: errors.New("boom")}, statusInternal, "boom"},
		{"panic", fakeEngine{panicWith: "kaboom"}, statusInternal, "kaboom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			install[float64](t, &tc.fe)
			h := newHarness(t)
			n := 3
			rec, buf := adjacentRecord(t, h.in, n, 2, seq(n*2))
			buf.Release()
			h.run(exportRecord(t, rec), nil, nil, `{"n_components": 1}`)
			h.expectError(tc.status, tc.msg)
		})
	}
}

func TestFitCustomInit(t *testing.T) {
	f64 := arrow.PrimitiveTypes.Float64
	f32 := arrow.PrimitiveTypes.Float32
	n, m, k := 4, 3, 2
	t.Run("copied in", func(t *testing.T) {
		fe := &fakeEngine{}
		install[float64](t, fe)
		h := newHarness(t)
		x := export(t, fslArray(h.in, f64, n, m, seq(n*m)))
		w := export(t, fslArray(h.in, f64, n, k, seq(n*k)))
		hh := export(t, fslArray(h.in, f64, k, m, seq(k*m)))
		h.run(x, w, hh, `{"init": "custom", "n_components": "auto"}`)
		h.expectOK()
		if fe.p.Components != k || fe.p.Init != "custom" {
			t.Errorf("params %+v", fe.p)
		}
		if fe.w0[0] != 1 || fe.w0[n*k-1] != float64(n*k) || fe.h0[k*m-1] != float64(k*m) {
			t.Errorf("initial W %v H %v", fe.w0, fe.h0)
		}
		_, _, wv := h.readW()
		_, _, hv := h.readH()
		if wv[0] != 2 || hv[0] != 3 {
			t.Errorf("W %v H %v", wv, hv)
		}
		h.checkFreed()
	})
	t.Run("update_H false infers k from H", func(t *testing.T) {
		fe := &fakeEngine{}
		install[float64](t, fe)
		h := newHarness(t)
		x := export(t, fslArray(h.in, f32, n, m, seq(n*m)))
		hh := export(t, fslArray(h.in, f32, 1, m, seq(m)))
		h.run(x, nil, hh, `{"update_H": false}`)
		h.expectOK()
		if fe.p.Components != 1 || fe.p.UpdateH || fe.h0[2] != 3 {
			t.Errorf("params %+v h0 %v", fe.p, fe.h0)
		}
		if h.info["n_components"] != 1.0 {
			t.Errorf("info %v", h.info)
		}
		h.readW()
		h.readH()
		h.checkFreed()
	})
	t.Run("W ignored unless custom", func(t *testing.T) {
		fe := &fakeEngine{}
		install[float64](t, fe)
		h := newHarness(t)
		x := export(t, fslArray(h.in, f64, n, m, seq(n*m)))
		w := export(t, fslArray(h.in, f32, n, k, seq(n*k))) // wrong dtype, but unused
		h.run(x, w, nil, `{"n_components": 2}`)
		h.expectOK()
		if fe.w0[0] != 0 {
			t.Errorf("W was not zero: %v", fe.w0)
		}
		h.readW()
		h.readH()
		h.checkFreed()
	})
	for _, tc := range []struct {
		name, params string
		wdt, hdt     arrow.DataType
		hrows        int
		status       int32
		msg          string
	}{
		{"dtype custom", `{"init": "custom", "n_components": 2}`, f64, f32, k, statusType,
			"H and W should have the same dtype as X. Got H.dtype = float32 and W.dtype = float64."},
		{"dtype update_H", `{"update_H": false, "n_components": 2}`, f64, f32, k, statusType,
			"H should have the same dtype as X. Got H.dtype = float32."},
		{"shape", `{"init": "custom", "n_components": 3}`, f64, f64, k, statusValue,
			"Array with wrong shape passed to NMF (input H). Expected (3, 3), but got (2, 3)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			install[float64](t, &fakeEngine{})
			h := newHarness(t)
			x := export(t, fslArray(h.in, f64, n, m, seq(n*m)))
			w := export(t, fslArray(h.in, tc.wdt, n, k, seq(n*k)))
			hh := export(t, fslArray(h.in, tc.hdt, tc.hrows, m, seq(tc.hrows*m)))
			h.run(x, w, hh, tc.params)
			h.expectError(tc.status, tc.msg)
		})
	}
}

func TestFitRandomStateAndControl(t *testing.T) {
	fe := &fakeEngine{advanceState: true}
	install[float64](t, fe)
	h := newHarness(t)
	keys := make([]uint32, 624)
	keys[0] = 41
	st, _ := json.Marshal(map[string]any{"keys": keys, "pos": 624, "has_gauss": 1, "cached_gaussian": 0.5})
	var ctl cControl
	h.call.ctl = &ctl
	x := export(t, fslArray(h.in, arrow.PrimitiveTypes.Float64, 2, 2, seq(4)))
	h.run(x, nil, nil, `{"n_components": 1, "max_iter": 9, "random_state": `+string(st)+`}`)
	h.expectOK()
	rs := h.info["random_state"].(map[string]any)
	if rs["pos"] != 7.0 || rs["keys"].([]any)[0] != 42.0 || rs["has_gauss"] != 1.0 || rs["cached_gaussian"] != 0.5 {
		t.Errorf("random_state %v", rs)
	}
	if ctl.iteration != 3 || ctl.maxIter != 9 || math.Float64frombits(ctl.err) != 0.25 {
		t.Errorf("control %+v", ctl)
	}
	h.readW()
	h.readH()
	h.checkFreed()

	// Cancelled before the engine looks: it reports ErrInterrupted.
	h = newHarness(t)
	ctl = cControl{cancel: 1}
	h.call.ctl = &ctl
	x = export(t, fslArray(h.in, arrow.PrimitiveTypes.Float64, 2, 2, seq(4)))
	h.run(x, nil, nil, `{"n_components": 1}`)
	h.expectError(statusInterrupted, "interrupted")
}

// failingAlloc makes malloc fail the way the mallocator reports it: a panic.
type failingAlloc struct{ memory.Allocator }

func (failingAlloc) Allocate(int) []byte { panic("mallocator: out of memory") }

func TestFitOutOfMemory(t *testing.T) {
	install[float64](t, &fakeEngine{})
	h := newHarness(t)
	h.call.alloc = failingAlloc{}
	x := export(t, fslArray(h.in, arrow.PrimitiveTypes.Float64, 4, 3, seq(12)))
	h.run(x, nil, nil, `{"n_components": 2}`)
	h.expectError(statusMemory, "Unable to allocate 64 B for an array with shape (4, 2) and data type float64")
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{5: "5 B", 1536: "1.50 KiB", 3 << 30: "3.00 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestFitRealEngine runs the actual engine through the whole path and checks
// that the exported W and H reproduce the reported reconstruction error.
func TestFitRealEngine(t *testing.T) {
	for _, layout := range []string{"struct", "fsl"} {
		t.Run(layout, func(t *testing.T) {
			h := newHarness(t)
			n, m, k := 12, 7, 3
			vals := make([]float64, n*m) // element (i, j) = vals[j*n+i]
			for i := range vals {
				vals[i] = float64((i*37)%11) + 0.5
			}
			var x *cpair
			if layout == "struct" {
				rec, buf := adjacentRecord(t, h.in, n, m, vals)
				buf.Release()
				x = exportRecord(t, rec)
			} else {
				rowMajor := make([]float64, n*m)
				for i := 0; i < n; i++ {
					for j := 0; j < m; j++ {
						rowMajor[i*m+j] = vals[j*n+i]
					}
				}
				x = export(t, fslArray(h.in, arrow.PrimitiveTypes.Float64, n, m, rowMajor))
			}
			h.run(x, nil, nil, `{"n_components": 3, "random_state": 0, "init": "nndsvda", "max_iter": 300}`)
			h.expectOK()
			_, _, w := h.readW()
			_, _, hv := h.readH()
			var sq float64
			for i := 0; i < n; i++ {
				for j := 0; j < m; j++ {
					var s float64
					for r := 0; r < k; r++ {
						s += w[i*k+r] * hv[r*m+j]
					}
					d := vals[j*n+i] - s
					sq += d * d
				}
			}
			got := h.info["reconstruction_err"].(float64)
			if math.Abs(math.Sqrt(sq)-got) > 1e-9*math.Max(1, got) {
				t.Errorf("reconstruction_err %v, from W and H %v", got, math.Sqrt(sq))
			}
			h.checkFreed()
		})
	}
}
