package main

import (
	"math"
	"testing"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/cdata"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/memory/mallocator"
	"github.com/gonmf/gonmf/nmf"
)

// cpair is an ArrowSchema/ArrowArray pair in Go memory, filled by cdata's
// exporter exactly as a C producer would fill it.
type cpair struct {
	schema cdata.CArrowSchema
	array  cdata.CArrowArray
}

func (p *cpair) s() *cSchema { return (*cSchema)(unsafe.Pointer(&p.schema)) }
func (p *cpair) a() *cArray  { return (*cArray)(unsafe.Pointer(&p.array)) }
func (p *cpair) input(name string) abiInput {
	return abiInput{name: name, schema: p.s(), array: p.a()}
}
func (p *cpair) output() abiOutput { return abiOutput{schema: p.s(), array: p.a()} }
func (p *cpair) released() bool    { return p.s().release == nil && p.a().release == nil }

// export exports arr (with its field name) and drops the caller's reference,
// so the only owner left is the C struct, as after a pyarrow export.
func export(t *testing.T, arr arrow.Array) *cpair {
	t.Helper()
	p := new(cpair)
	cdata.ExportArrowArray(arr, &p.array, &p.schema)
	arr.Release()
	return p
}

func exportRecord(t *testing.T, rec arrow.Record) *cpair {
	t.Helper()
	p := new(cpair)
	cdata.ExportArrowRecordBatch(rec, &p.array, &p.schema)
	rec.Release()
	return p
}

// f64Column builds a float64 column over buf[off:off+n] without copying.
func f64Column(buf *memory.Buffer, off, n int) arrow.Array {
	sl := memory.SliceBuffer(buf, off*8, n*8)
	defer sl.Release()
	d := array.NewData(arrow.PrimitiveTypes.Float64, n, []*memory.Buffer{nil, sl}, nil, 0, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

// adjacentRecord builds an n x m record batch whose columns are adjacent in
// one buffer (a pandas float block): element (i, j) = vals[j*n+i].
func adjacentRecord(t *testing.T, mem memory.Allocator, n, m int, vals []float64) (arrow.Record, *memory.Buffer) {
	t.Helper()
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * m * 8)
	copy(arrow.Float64Traits.CastFromBytes(buf.Bytes()), vals)
	cols := make([]arrow.Array, m)
	fields := make([]arrow.Field, m)
	for j := range cols {
		cols[j] = f64Column(buf, j*n, n)
		fields[j] = arrow.Field{Name: colName(j), Type: arrow.PrimitiveTypes.Float64, Nullable: true}
	}
	rec := array.NewRecord(arrow.NewSchema(fields, nil), cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec, buf
}

func colName(j int) string { return string(rune('a'+j%26)) + string(rune('0'+j/26)) }

// spacedRecord builds a record batch whose column j starts at element
// starts[j] of one buffer: element (i, j) = vals[j*n+i].
func spacedRecord(mem memory.Allocator, n int, types []arrow.DataType, starts []int, vals []float64) arrow.Record {
	buf := memory.NewResizableBuffer(mem)
	defer buf.Release()
	buf.Resize((starts[len(starts)-1] + n) * 8)
	cols := make([]arrow.Array, len(types))
	fields := make([]arrow.Field, len(types))
	for j, dt := range types {
		fields[j] = arrow.Field{Name: colName(j), Type: dt, Nullable: true}
		size := dt.(arrow.FixedWidthDataType).BitWidth() / 8
		sl := memory.SliceBuffer(buf, starts[j]*8, n*size) // starts in 8-byte units
		for i := 0; i < n; i++ {
			if size == 8 {
				arrow.Float64Traits.CastFromBytes(sl.Bytes())[i] = vals[j*n+i]
			} else {
				arrow.Float32Traits.CastFromBytes(sl.Bytes())[i] = float32(vals[j*n+i])
			}
		}
		d := array.NewData(dt, n, []*memory.Buffer{nil, sl}, nil, 0, 0)
		cols[j] = array.MakeFromData(d)
		d.Release()
		sl.Release()
	}
	rec := array.NewRecord(arrow.NewSchema(fields, nil), cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// builtRecord builds a record batch column by column with builders (so the
// columns are separate allocations): element (i, j) = vals[j*n+i].
func builtRecord(mem memory.Allocator, n int, types []arrow.DataType, vals []float64) arrow.Record {
	fields := make([]arrow.Field, len(types))
	for j, dt := range types {
		fields[j] = arrow.Field{Name: colName(j), Type: dt, Nullable: true}
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer b.Release()
	for j, dt := range types {
		for i := 0; i < n; i++ {
			v := vals[j*n+i]
			switch dt.ID() {
			case arrow.FLOAT64:
				b.Field(j).(*array.Float64Builder).Append(v)
			case arrow.FLOAT32:
				b.Field(j).(*array.Float32Builder).Append(float32(v))
			case arrow.STRING:
				b.Field(j).(*array.StringBuilder).Append("x")
			case arrow.INT64:
				b.Field(j).(*array.Int64Builder).Append(int64(v))
			}
		}
	}
	return b.NewRecord()
}

// fslArray builds a fixed_size_list<float>[cols] of rows rows, row-major vals.
func fslArray(mem memory.Allocator, dt arrow.DataType, rows, cols int, vals []float64) arrow.Array {
	b := array.NewFixedSizeListBuilder(mem, int32(cols), dt)
	defer b.Release()
	for i := 0; i < rows; i++ {
		b.Append(true)
		for j := 0; j < cols; j++ {
			switch vb := b.ValueBuilder().(type) {
			case *array.Float64Builder:
				vb.Append(vals[i*cols+j])
			case *array.Float32Builder:
				vb.Append(float32(vals[i*cols+j]))
			}
		}
	}
	return b.NewArray()
}

func seq(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(i + 1)
	}
	return v
}

// fakeEngine records what it is given and fills W with w0 + 1 and H with h0 + 2
// (so tests can see both the initial values and the writes).
type fakeEngine struct {
	x64          nmf.Dense[float64]
	x32          nmf.Dense[float32]
	xAt          []float64 // X as seen by the engine, row-major
	w0, h0       []float64
	p            nmf.Params
	ctl          nmf.Control
	err          error
	panicWith    any
	advanceState bool
}

func install[T nmf.Float](t *testing.T, fe *fakeEngine) {
	t.Helper()
	old64, old32 := fit64, fit32
	t.Cleanup(func() { fit64, fit32 = old64, old32 })
	fit64 = func(x, w, h nmf.Dense[float64], p nmf.Params, ctl nmf.Control) (nmf.Result, error) {
		fe.x64 = x
		return fakeFit(fe, x, w, h, p, ctl)
	}
	fit32 = func(x, w, h nmf.Dense[float32], p nmf.Params, ctl nmf.Control) (nmf.Result, error) {
		fe.x32 = x
		return fakeFit(fe, x, w, h, p, ctl)
	}
}

func at[T nmf.Float](d nmf.Dense[T], i, j int) T {
	if d.ColMajor {
		return d.Data[j*d.Stride+i]
	}
	return d.Data[i*d.Stride+j]
}

func fakeFit[T nmf.Float](fe *fakeEngine, x, w, h nmf.Dense[T], p nmf.Params, ctl nmf.Control) (nmf.Result, error) {
	if fe.panicWith != nil {
		panic(fe.panicWith)
	}
	fe.p, fe.ctl = p, ctl
	fe.xAt = nil
	for i := 0; i < x.Rows; i++ {
		for j := 0; j < x.Cols; j++ {
			fe.xAt = append(fe.xAt, float64(at(x, i, j)))
		}
	}
	fe.w0, fe.h0 = nil, nil
	for i := range w.Data {
		fe.w0 = append(fe.w0, float64(w.Data[i]))
		w.Data[i] += 1
	}
	for i := range h.Data {
		fe.h0 = append(fe.h0, float64(h.Data[i]))
		h.Data[i] += 2
	}
	if ctl != nil {
		ctl.Progress(3, p.MaxIter, 0.25)
		if ctl.Cancelled() {
			return nmf.Result{}, nmf.ErrInterrupted
		}
	}
	if fe.advanceState && p.Random.State != nil {
		p.Random.State.Pos = 7
		p.Random.State.Key[0]++
	}
	if fe.err != nil {
		return nmf.Result{}, fe.err
	}
	return nmf.Result{NIter: 3, ReconstructionErr: 0.5, Converged: true}, nil
}

// readOut reads an exported fixed_size_list<float> back (rows, cols, values).
func readOut(t *testing.T, p *cpair) (rows, cols int, vals []float64) {
	t.Helper()
	field, arr, err := cdata.ImportCArray(&p.array, &p.schema)
	if err != nil {
		t.Fatalf("import output: %v", err)
	}
	defer arr.Release()
	fsl := arr.(*array.FixedSizeList)
	rows, cols = fsl.Len(), int(field.Type.(*arrow.FixedSizeListType).Len())
	switch v := fsl.ListValues().(type) {
	case *array.Float64:
		vals = append(vals, v.Float64Values()...)
	case *array.Float32:
		for _, x := range v.Float32Values() {
			vals = append(vals, float64(x))
		}
	}
	return rows, cols, vals
}

func newMem() *mallocator.Mallocator { return mallocator.NewMallocator() }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func arrowFloat32() arrow.DataType { return arrow.PrimitiveTypes.Float32 }
