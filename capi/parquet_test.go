package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/cdata"
	"github.com/apache/arrow/go/v17/arrow/flight"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// pqWrite writes rec to dir/name with pqarrow, rowGroup rows per row group.
func pqWrite(t testing.TB, dir, name string, rec arrow.Record, rowGroup int64) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	props := parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(rowGroup), parquet.WithCompression(compress.Codecs.Snappy))
	fw, err := pqarrow.NewFileWriter(rec.Schema(), f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

var nan = math.NaN()

// pqSample is 7 rows: ids, float64 with a NaN and a null, float32 with a
// null, int64 with a null, a required int32, uint8, uint64 and large_string.
// Columns in file order: id, f64, f32, i64, i32, u8, u64, big_id.
func pqSample(mem memory.Allocator) arrow.Record {
	fields := []arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: false},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer b.Release()
	for i := 0; i < 7; i++ {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("ACH-%06d", i+1))
		switch i {
		case 2:
			b.Field(1).(*array.Float64Builder).Append(nan)
		case 5:
			b.Field(1).(*array.Float64Builder).AppendNull()
		default:
			b.Field(1).(*array.Float64Builder).Append(float64(i) + 0.5)
		}
		if i == 4 {
			b.Field(2).(*array.Float32Builder).AppendNull()
			b.Field(3).(*array.Int64Builder).AppendNull()
		} else {
			b.Field(2).(*array.Float32Builder).Append(float32(i) * 0.25)
			b.Field(3).(*array.Int64Builder).Append(int64(-i * 10))
		}
		b.Field(4).(*array.Int32Builder).Append(int32(i * 3))
		b.Field(5).(*array.Uint8Builder).Append(uint8(200 + i))
		b.Field(6).(*array.Uint64Builder).Append(uint64(1) << 63)
	}
	return b.NewRecord()
}

// pqWant is the sample as the reader should give it, column by column.
var pqWant = map[string][]float64{
	"f64": {0.5, 1.5, nan, 3.5, 4.5, nan, 6.5},
	"f32": {0, 0.25, 0.5, 0.75, nan, 1.25, 1.5},
	"i64": {0, -10, -20, -30, nan, -50, -60},
	"i32": {0, 3, 6, 9, 12, 15, 18},
	"u8":  {200, 201, 202, 203, 204, 205, 206},
	"u64": {1 << 63, 1 << 63, 1 << 63, 1 << 63, 1 << 63, 1 << 63, 1 << 63},
}

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func pqSampleFile(t *testing.T, rowGroup int64) string {
	t.Helper()
	rec := pqSample(memory.DefaultAllocator)
	defer rec.Release()
	return pqWrite(t, t.TempDir(), "sample.parquet", rec, rowGroup)
}

// colPtr is the address of a float column's first value.
func colPtr(a arrow.Array) uintptr {
	return uintptr(unsafe.Pointer(&a.Data().Buffers()[1].Bytes()[0])) + uintptr(a.Data().Offset())*uintptr(a.DataType().(arrow.FixedWidthDataType).BitWidth()/8)
}

func colValues(t *testing.T, a arrow.Array) []float64 {
	t.Helper()
	switch c := a.(type) {
	case *array.Float64:
		if c.NullN() != 0 {
			t.Errorf("float column has %d nulls, want NaN instead", c.NullN())
		}
		return c.Float64Values()
	case *array.Float32:
		out := make([]float64, c.Len())
		for i, v := range c.Float32Values() {
			out[i] = float64(v)
		}
		return out
	}
	t.Fatalf("column of type %s", a.DataType())
	return nil
}

func TestReadParquetSample(t *testing.T) {
	for _, rg := range []int64{3, 100} { // 3 row groups (3, 3, 1 rows) and one
		for _, dt := range []dtype{f64, f32} {
			t.Run(fmt.Sprintf("rowgroup%d_%s", rg, dt), func(t *testing.T) {
				path := pqSampleFile(t, rg)
				mem := newMem()
				rec, info, err := readParquet(path, readOptions{idColumn: "id", hasID: true, dt: dt}, mem, 2)
				if err != nil {
					t.Fatal(err)
				}
				if rec.NumRows() != 7 || rec.NumCols() != 7 {
					t.Fatalf("shape %d x %d", rec.NumRows(), rec.NumCols())
				}
				if f := rec.Schema().Field(0); f.Name != "id" || f.Type.ID() != arrow.STRING {
					t.Errorf("first field %v, want id utf8", f)
				}
				ids := rec.Column(0).(*array.String)
				for i := 0; i < 7; i++ {
					if want := fmt.Sprintf("ACH-%06d", i+1); ids.Value(i) != want {
						t.Errorf("id %d = %q, want %q", i, ids.Value(i), want)
					}
				}
				base := colPtr(rec.Column(1))
				for j := 1; j < 7; j++ {
					name := rec.Schema().Field(j).Name
					if rec.Schema().Field(j).Type.ID() != dt.arrowType().ID() {
						t.Errorf("%s: type %s, want %s", name, rec.Schema().Field(j).Type, dt)
					}
					if got, want := colPtr(rec.Column(j)), base+uintptr((j-1)*7)*uintptr(dt.size()); got != want {
						t.Errorf("%s: column not adjacent (at %#x, want %#x)", name, got, want)
					}
					got := colValues(t, rec.Column(j))
					for i, w := range pqWant[name] {
						if dt == f32 {
							w = float64(float32(w))
						}
						if !sameFloat(got[i], w) {
							t.Errorf("%s[%d] = %v, want %v", name, i, got[i], w)
						}
					}
				}
				if info.NRows != 7 || info.NColumns != 6 || info.IDColumn == nil || *info.IDColumn != "id" || info.Dtype != dt.String() {
					t.Errorf("info %+v", info)
				}
				if got := strings.Join(info.NaNColumns, ","); got != "f64,f32,i64" {
					t.Errorf("nan_columns %q", got)
				}
				rec.Release()
				if b := mem.AllocatedBytes(); b != 0 {
					t.Errorf("%d bytes still allocated after release", b)
				}
			})
		}
	}
}

func TestReadParquetColumns(t *testing.T) {
	path := pqSampleFile(t, 3)
	mem := newMem()
	rec, info, err := readParquet(path, readOptions{columns: []string{"i32", "f64"}, dt: f64}, mem, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumCols() != 2 || rec.Schema().Field(0).Name != "i32" || rec.Schema().Field(1).Name != "f64" {
		t.Fatalf("schema %s", rec.Schema())
	}
	if info.IDColumn != nil || info.NColumns != 2 || strings.Join(info.NaNColumns, ",") != "f64" {
		t.Errorf("info %+v", info)
	}
	if got := colValues(t, rec.Column(0)); got[6] != 18 {
		t.Errorf("i32 = %v", got)
	}
	// An id named in columns too is kept once, first.
	rec2, _, err := readParquet(path, readOptions{idColumn: "id", hasID: true, columns: []string{"u8", "id"}, dt: f64}, mem, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rec2.Release()
	if rec2.NumCols() != 2 || rec2.Schema().Field(0).Name != "id" || rec2.Schema().Field(1).Name != "u8" {
		t.Errorf("schema %s", rec2.Schema())
	}
}

func TestReadParquetErrors(t *testing.T) {
	dir := t.TempDir()
	path := pqSampleFile(t, 3)
	notPq := filepath.Join(dir, "x.parquet")
	if err := os.WriteFile(notPq, []byte("this is not a parquet file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		path   string
		opts   readOptions
		status int32
		msg    string
	}{
		{"missing file", filepath.Join(dir, "nope.parquet"), readOptions{dt: f64}, statusValue, "[Errno 2] No such file or directory: '" + filepath.Join(dir, "nope.parquet") + "'"},
		{"directory", dir, readOptions{dt: f64}, statusValue, "[Errno 21] Is a directory"},
		{"not parquet", notPq, readOptions{dt: f64}, statusValue, "Could not open Parquet input source"},
		{"string column that is not the id", path, readOptions{dt: f64}, statusValue, "could not convert column 'id' (type utf8) to float"},
		{"unknown column", path, readOptions{columns: []string{"f64", "nope"}, dt: f64}, statusValue, "column 'nope' is not a column of"},
		{"unknown id", path, readOptions{idColumn: "ModelID", hasID: true, dt: f64}, statusValue, "id_column 'ModelID' is not a column"},
		{"twice", path, readOptions{columns: []string{"f64", "f64"}, dt: f64}, statusValue, "selected twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := newMem()
			rec, _, err := readParquet(c.path, c.opts, mem, 2)
			if err == nil {
				rec.Release()
				t.Fatal("no error")
			}
			if s := errorStatus(err); s != c.status || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("status %d, error %q; want %d with %q", s, err, c.status, c.msg)
			}
			if b := mem.AllocatedBytes(); b != 0 {
				t.Errorf("%d bytes leaked", b)
			}
		})
	}
}

func TestReadParquetOptions(t *testing.T) {
	for js, want := range map[string]string{
		`{"dtype": "float16"}`:  `expected "float64" or "float32"`,
		`{"columns": "a"}`:      `key "columns": expected`,
		`{"id_column": 3}`:      `key "id_column": expected a string`,
		`{"nope": 1}`:           `unknown key "nope"`,
		`{"dtype": "float32"`:   `options_json:`,
		`[1, 2]`:                `options_json:`,
		`{"columns": [1]}`:      `key "columns"`,
		`{"dtype": null}`:       `must not be null`,
		`{"id_column": "a"} {}`: `unexpected data`,
	} {
		if _, err := parseReadOptions([]byte(js)); err == nil || !strings.Contains(err.Error(), want) || errorStatus(err) != statusValue {
			t.Errorf("%s: error %v, want %q", js, err, want)
		}
	}
	o, err := parseReadOptions([]byte(`{"id_column": null, "columns": null, "dtype": "float32"}`))
	if err != nil || o.hasID || o.columns != nil || o.dt != f32 {
		t.Errorf("got %+v, %v", o, err)
	}
	if o, err := parseReadOptions([]byte(`null`)); err != nil || o.dt != f64 {
		t.Errorf("null: %+v, %v", o, err)
	}
}

// A pandas index stored as a column is left out by default, as
// pd.read_parquet makes it the index.
func TestReadParquetPandasIndex(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Float64},
		{Name: "__index_level_0__", Type: arrow.PrimitiveTypes.Int64},
	}, func() *arrow.Metadata {
		md := arrow.NewMetadata([]string{"pandas"}, []string{`{"index_columns": ["__index_level_0__"], "columns": []}`})
		return &md
	}())
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Float64Builder).AppendValues([]float64{1, 2}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{10, 20}, nil)
	rec := b.NewRecord()
	defer rec.Release()
	path := pqWrite(t, t.TempDir(), "pd.parquet", rec, 10)
	got, info, err := readParquet(path, readOptions{dt: f64}, newMem(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if got.NumCols() != 1 || len(info.IndexColumns) != 1 || info.IndexColumns[0] != "__index_level_0__" {
		t.Errorf("schema %s, info %+v", got.Schema(), info)
	}
}

// Through the ABI entry point: out struct checks, export, info JSON.
func TestReadParquetCall(t *testing.T) {
	path := pqSampleFile(t, 3)
	mem := newMem()
	out := new(cpair)
	opts := `{"id_column": "id", "columns": ["f64", "u8"]}`
	call := &readParquetCall{path: &path, options: []byte(opts), out: out.output(), alloc: mem}
	status, info, msg := call.do()
	if status != statusOK {
		t.Fatalf("status %d: %s", status, msg)
	}
	var got map[string]any
	if err := json.Unmarshal(info, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"n_rows", "n_columns", "id_column", "nan_columns", "dtype"} {
		if _, ok := got[k]; !ok {
			t.Errorf("info lacks %q: %s", k, info)
		}
	}
	rec, err := cdata.ImportCRecordBatch(&out.array, &out.schema)
	if err != nil {
		t.Fatal(err)
	}
	if rec.NumCols() != 3 || rec.NumRows() != 7 || rec.Schema().Field(2).Name != "u8" {
		t.Errorf("schema %s", rec.Schema())
	}
	rec.Release()
	if b := mem.AllocatedBytes(); b != 0 {
		t.Errorf("%d bytes leaked after the consumer released", b)
	}

	// Out structs: NULL, not zeroed; NULL path; bad options. Nothing written.
	busy := new(cpair)
	busy.s().release = unsafe.Pointer(&busy) // any non-NULL value
	for name, c := range map[string]*readParquetCall{
		"nil out":      {path: &path, out: abiOutput{}},
		"nil array":    {path: &path, out: abiOutput{schema: new(cpair).s()}},
		"not zeroed":   {path: &path, out: busy.output()},
		"nil path":     {out: new(cpair).output()},
		"bad options":  {path: &path, options: []byte(`{`), out: new(cpair).output()},
		"bad option":   {path: &path, options: []byte(`{"colums": []}`), out: new(cpair).output()},
		"missing file": {path: new(string), out: new(cpair).output()},
	} {
		c.alloc = mem
		status, info, msg := c.do()
		if status != statusValue || info != nil || msg == "" {
			t.Errorf("%s: status %d, info %s, msg %q", name, status, info, msg)
		}
		if c.out.array != nil && c.out.array.release != nil {
			t.Errorf("%s: output written", name)
		}
	}
	if b := mem.AllocatedBytes(); b != 0 {
		t.Errorf("%d bytes leaked", b)
	}
}

// ---------------------------------------------------------------- writing

func pqReadBack(t *testing.T, path string) (arrow.Table, *file.Reader) {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return tbl, rdr
}

func TestWriteParquetCall(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, opts string
		codec      compress.Compression
		slice      bool
	}{
		{"w.parquet", "", compress.Codecs.Snappy, false},
		{"w.parquet.gz", "", compress.Codecs.Gzip, false},
		{"z.parquet", `{"compression": "zstd"}`, compress.Codecs.Zstd, false},
		{"n.parquet", `{"compression": "none"}`, compress.Codecs.Uncompressed, true},
		{"p.parquet", `{"compression": null}`, compress.Codecs.Uncompressed, false},
		{"g.parquet", `{"compression": "GZIP"}`, compress.Codecs.Gzip, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := newMem()
			rec := pqSample(in)
			lo, hi := int64(0), int64(7)
			if c.slice { // offsets on the struct: rows 2..5
				lo, hi = 2, 6
				s := rec.NewSlice(lo, hi)
				rec.Release()
				rec = s
			}
			p := exportRecord(t, rec)
			path := filepath.Join(dir, c.name)
			call := &writeParquetCall{path: &path, in: p.input("record batch")}
			if c.opts != "" {
				call.options = []byte(c.opts)
			}
			if status, msg := call.do(); status != statusOK {
				t.Fatalf("status %d: %s", status, msg)
			}
			if !p.released() || in.AllocatedBytes() != 0 {
				t.Errorf("input not released (%d bytes)", in.AllocatedBytes())
			}
			tbl, rdr := pqReadBack(t, path)
			defer rdr.Close()
			defer tbl.Release()
			if got := rdr.MetaData().RowGroup(0).ColumnChunk; true {
				cc, _ := got(1)
				if cc.Compression() != c.codec {
					t.Errorf("codec %s, want %s", cc.Compression(), c.codec)
				}
			}
			if tbl.NumRows() != hi-lo || tbl.NumCols() != 7 {
				t.Fatalf("shape %d x %d", tbl.NumRows(), tbl.NumCols())
			}
			ids := tbl.Column(0).Data().Chunk(0).(*array.String)
			f64 := tbl.Column(1).Data().Chunk(0).(*array.Float64)
			i64 := tbl.Column(3).Data().Chunk(0).(*array.Int64)
			for i := 0; i < int(hi-lo); i++ {
				r := int(lo) + i
				if want := fmt.Sprintf("ACH-%06d", r+1); ids.Value(i) != want {
					t.Errorf("id %d = %q, want %q", i, ids.Value(i), want)
				}
				if r == 5 {
					if !f64.IsNull(i) {
						t.Errorf("f64[%d] should be null", r)
					}
				} else if !sameFloat(f64.Value(i), pqWant["f64"][r]) {
					t.Errorf("f64[%d] = %v", r, f64.Value(i))
				}
				if r == 4 != i64.IsNull(i) {
					t.Errorf("i64[%d] null = %v", r, i64.IsNull(i))
				}
			}
		})
	}
}

func TestWriteParquetErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "e.parquet")
	in := newMem()
	mk := func() *cpair { return exportRecord(t, pqSample(in)) }
	released := new(cpair)
	fsl := export(t, fslArray(in, arrow.PrimitiveTypes.Float64, 2, 2, seq(4)))
	listRec := func() *cpair {
		b := array.NewRecordBuilder(in, arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil))
		defer b.Release()
		b.Field(0).(*array.ListBuilder).AppendNull()
		return exportRecord(t, b.NewRecord())
	}()
	missingDir := filepath.Join(dir, "no", "such", "dir.parquet")
	for _, c := range []struct {
		name   string
		path   *string
		in     *cpair
		opts   string
		status int32
		msg    string
	}{
		{"nil path", nil, mk(), "", statusValue, "path must be non-NULL"},
		{"released", &path, released, "", statusValue, "released ArrowSchema"},
		{"bad compression", &path, mk(), `{"compression": "lzo"}`, statusValue, `expected one of "snappy"`},
		{"bad json", &path, mk(), `{"compression": `, statusValue, "options_json"},
		{"unknown key", &path, mk(), `{"row_group_size": 3}`, statusValue, `unknown key "row_group_size"`},
		{"not a struct", &path, fsl, "", statusType, "needs a struct array"},
		{"list column", &path, listRec, "", statusType, "cannot write column 'l' of type list<item: int64, nullable>"},
		{"missing dir", &missingDir, mk(), "", statusValue, "[Errno 2] No such file or directory: '" + missingDir + "'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			call := &writeParquetCall{path: c.path, in: c.in.input("record batch")}
			if c.opts != "" {
				call.options = []byte(c.opts)
			}
			status, msg := call.do()
			if status != c.status || !strings.Contains(msg, c.msg) {
				t.Errorf("status %d, %q; want %d with %q", status, msg, c.status, c.msg)
			}
			if !c.in.released() {
				t.Errorf("input not released")
			}
		})
	}
	if b := in.AllocatedBytes(); b != 0 {
		t.Errorf("%d bytes of input not released", b)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed write left %s behind", path)
	}
	// NULL structs.
	call := &writeParquetCall{path: &path, in: abiInput{name: "record batch"}}
	if status, msg := call.do(); status != statusValue || !strings.Contains(msg, "must both be non-NULL") {
		t.Errorf("NULL structs: %d %q", status, msg)
	}
}

// Corrupt input buffers must come back as errors: lengths beyond the child,
// NULL buffers, bad string offsets.
func TestWriteParquetValidation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.parquet")
	in := newMem()
	for name, corrupt := range map[string]func(p *cpair){
		"child too short": func(p *cpair) { p.a().child(1).length = 3 },
		"null data buffer": func(p *cpair) {
			*(*unsafe.Pointer)(unsafe.Pointer(p.a().child(1).buffers)) = nil
			p.a().child(1).nullCount = 2
		},
		"negative offset":   func(p *cpair) { p.a().child(1).offset = -1 },
		"wrong buffers":     func(p *cpair) { p.a().child(1).nBuffers = 3 },
		"string offsets":    func(p *cpair) { offs := (*int32)(p.a().child(0).buffer(1)); *offs = 100 },
		"children mismatch": func(p *cpair) { p.a().nChildren = 2 },
	} {
		t.Run(name, func(t *testing.T) {
			p := exportRecord(t, pqSample(in))
			corrupt(p)
			call := &writeParquetCall{path: &path, in: p.input("record batch")}
			status, msg := call.do()
			if status != statusValue || !strings.Contains(msg, "invalid Arrow input") {
				t.Errorf("status %d, %q", status, msg)
			}
		})
	}
}

// Schema metadata (pandas') is written to the file.
func TestWriteParquetMetadata(t *testing.T) {
	src := pqSample(memory.DefaultAllocator)
	md := arrow.NewMetadata([]string{"pandas", "k"}, []string{`{"index_columns": []}`, ""})
	rec := array.NewRecord(arrow.NewSchema(src.Schema().Fields(), &md), src.Columns(), src.NumRows())
	src.Release()
	p := exportRecord(t, rec)
	path := filepath.Join(t.TempDir(), "md.parquet")
	if status, msg := (&writeParquetCall{path: &path, in: p.input("record batch")}).do(); status != statusOK {
		t.Fatal(msg)
	}
	tbl, rdr := pqReadBack(t, path)
	defer rdr.Close()
	defer tbl.Release()
	if v := rdr.MetaData().KeyValueMetadata().FindValue("pandas"); v == nil || *v != `{"index_columns": []}` {
		t.Errorf("pandas metadata %v", v)
	}
}

// Write then read through both entry points, float columns bit for bit.
func TestParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := newMem()
	rec := pqSample(in)
	p := exportRecord(t, rec)
	path := filepath.Join(dir, "rt.parquet")
	w := &writeParquetCall{path: &path, in: p.input("record batch")}
	if status, msg := w.do(); status != statusOK {
		t.Fatal(msg)
	}
	out := new(cpair)
	mem := newMem()
	r := &readParquetCall{path: &path, options: []byte(`{"id_column": "id"}`), out: out.output(), alloc: mem}
	if status, _, msg := r.do(); status != statusOK {
		t.Fatal(msg)
	}
	got, err := cdata.ImportCRecordBatch(&out.array, &out.schema)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	for j := 1; j < int(got.NumCols()); j++ {
		name := got.Schema().Field(j).Name
		vals := colValues(t, got.Column(j))
		for i, w := range pqWant[name] {
			if !sameFloat(vals[i], w) {
				t.Errorf("%s[%d] = %v, want %v", name, i, vals[i], w)
			}
		}
	}
}

// A corrupt file (bytes flipped inside the column chunks) must give an
// error or values, never a panic that escapes a worker.
func TestReadParquetCorrupt(t *testing.T) {
	path := pqSampleFile(t, 3)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{4, 40, 100, 200, 300, len(data) / 2, len(data) - 200, len(data) - 60} {
		if at >= len(data)-8 {
			continue
		}
		bad := append([]byte(nil), data...)
		for i := at; i < min(at+16, len(data)-8); i++ {
			bad[i] ^= 0xA5
		}
		p := filepath.Join(t.TempDir(), "bad.parquet")
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		mem := newMem()
		out := new(cpair)
		call := &readParquetCall{path: &p, options: []byte(`{"id_column": "id"}`), out: out.output(), alloc: mem}
		status, _, msg := call.do()
		if status == statusOK {
			if rec, err := cdata.ImportCRecordBatch(&out.array, &out.schema); err == nil {
				rec.Release()
			}
		} else if msg == "" {
			t.Errorf("flip at %d: status %d without a message", at, status)
		}
		t.Logf("flip at %d: status %d %.120q", at, status, msg)
		if b := mem.AllocatedBytes(); b != 0 {
			t.Errorf("flip at %d: %d bytes leaked", at, b)
		}
	}
}

// ---------------------------------------------------------------- scale

// wideRecord is n x m float64 with a string id, columns named like DepMap's.
func wideRecord(n, m int) arrow.Record {
	mem := memory.DefaultAllocator
	fields := make([]arrow.Field, m+1)
	cols := make([]arrow.Array, m+1)
	fields[0] = arrow.Field{Name: "ModelID", Type: arrow.BinaryTypes.String, Nullable: true}
	sb := array.NewStringBuilder(mem)
	for i := 0; i < n; i++ {
		sb.Append(fmt.Sprintf("ACH-%06d", i+1))
	}
	cols[0] = sb.NewArray()
	sb.Release()
	vals := make([]float64, n)
	for j := 1; j <= m; j++ {
		fields[j] = arrow.Field{Name: fmt.Sprintf("G%05d (%d)", j, j), Type: arrow.PrimitiveTypes.Float64, Nullable: true}
		for i := range vals {
			vals[i] = float64(i*7+j) / 1000
		}
		valid := []bool(nil)
		if j%1000 == 0 { // a null in a few columns
			valid = make([]bool, n)
			for i := range valid {
				valid[i] = i != j%n
			}
		}
		b := array.NewFloat64Builder(mem)
		b.AppendValues(vals, valid)
		cols[j] = b.NewArray()
		b.Release()
	}
	rec := array.NewRecord(arrow.NewSchema(fields, nil), cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// An 18,000-column file is read by a bounded number of goroutines: sampled
// runtime.NumGoroutine never exceeds the baseline plus the workers (plus the
// sampler and a little slack for the test runtime), and the pool itself
// reports its peak. pqarrow's Parallel reader would start 18,000.
func TestReadParquetWideBoundedGoroutines(t *testing.T) {
	if testing.Short() {
		t.Skip("wide file")
	}
	const n, m = 200, 18000
	start := time.Now()
	rec := wideRecord(n, m)
	path := pqWrite(t, t.TempDir(), "wide.parquet", rec, 128) // 2 row groups
	rec.Release()
	t.Logf("wrote %d x %d in %v", n, m, time.Since(start))

	const workers = 4
	runtime.GC()
	base := runtime.NumGoroutine()
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if g := int64(runtime.NumGoroutine()); g > peak.Load() {
				peak.Store(g)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	mem := newMem()
	start = time.Now()
	got, info, err := readParquet(path, readOptions{idColumn: "ModelID", hasID: true, dt: f64}, mem, workers)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d x %d in %v, peak goroutines %d (baseline %d)", n, m, elapsed, peak.Load(), base)
	if limit := int64(base + 1 + workers + 2); peak.Load() > limit {
		t.Errorf("peak goroutines %d > %d", peak.Load(), limit)
	}
	if info.NColumns != m || info.NRows != n || len(info.NaNColumns) != m/1000 {
		t.Errorf("info n_rows %d, n_columns %d, nan_columns %d", info.NRows, info.NColumns, len(info.NaNColumns))
	}
	// Spot checks across the row group boundary.
	for _, j := range []int{1, 999, 17999} {
		vals := colValues(t, got.Column(j))
		for _, i := range []int{0, 127, 128, 199} {
			if want := float64(i*7+j) / 1000; vals[i] != want {
				t.Errorf("(%d, %d) = %v, want %v", i, j, vals[i], want)
			}
		}
	}
	got.Release()
	if b := mem.AllocatedBytes(); b != 0 {
		t.Errorf("%d bytes leaked", b)
	}
}

func TestReadParquetWorkerPoolPeak(t *testing.T) {
	rec := wideRecord(10, 300)
	path := pqWrite(t, t.TempDir(), "w.parquet", rec, 3)
	rec.Release()
	st, _ := os.Stat(path)
	for _, workers := range []int{1, 3} {
		f, _ := os.Open(path)
		rdr, err := file.NewParquetReader(f)
		if err != nil {
			t.Fatal(err)
		}
		fr, _ := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		mem := newMem()
		r := &pqReader{path: path, rdr: rdr, size: st.Size(), dt: f64, workers: workers}
		for i := 1; i < len(fr.Manifest.Fields); i++ {
			c, err := floatColumn(rdr, &fr.Manifest.Fields[i])
			if err != nil {
				t.Fatal(err)
			}
			r.cols = append(r.cols, c)
		}
		for g := 0; g < rdr.NumRowGroups(); g++ {
			r.rgStart = append(r.rgStart, g*3)
			r.rgRows = append(r.rgRows, int(rdr.MetaData().RowGroup(g).NumRows()))
		}
		r.n = 10
		buf := mem.Allocate(10 * 300 * 8)
		r.block = unsafe.Pointer(&buf[0])
		r.hasNaN = make([]int32, 300)
		if err := r.readAll(); err != nil {
			t.Fatal(err)
		}
		if p := r.peakWorkers.Load(); p < 1 || int(p) > workers {
			t.Errorf("workers %d: peak %d", workers, p)
		}
		if v := unsafe.Slice((*float64)(r.block), 3000)[299*10+9]; v != float64(9*7+300)/1000 {
			t.Errorf("last value %v", v)
		}
		mem.Free(buf)
		rdr.Close()
	}
}

// Every single-byte corruption of an ARROW:schema message is either refused
// by validIPCSchema or decodes without a fatal error (allocation of a corrupt
// length, unbounded recursion): a fatal error would kill this test binary.
func TestValidIPCSchemaMutations(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Metadata: arrow.NewMetadata([]string{"k"}, []string{"v"})},
		{Name: "s", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32)})},
		{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "u", Type: arrow.SparseUnionOf([]arrow.Field{{Name: "i", Type: arrow.PrimitiveTypes.Int8}}, []arrow.UnionTypeCode{3})},
		{Name: "d", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}},
	}, func() *arrow.Metadata { m := arrow.NewMetadata([]string{"pandas"}, []string{"{}"}); return &m }())
	valid := flight.SerializeSchema(schema, memory.DefaultAllocator)
	if !validIPCSchema(valid) {
		t.Fatal("a valid schema message is refused")
	}
	if _, err := flight.DeserializeSchema(valid, memory.DefaultAllocator); err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for i := range valid {
		for _, v := range []byte{0x00, 0x01, 0x7f, 0x80, 0xff} {
			if valid[i] == v {
				continue
			}
			bad := append([]byte(nil), valid...)
			bad[i] = v
			if !validIPCSchema(bad) {
				continue
			}
			accepted++
			func() {
				defer func() { _ = recover() }() // panics are caught by readParquet
				_, _ = flight.DeserializeSchema(bad, memory.DefaultAllocator)
			}()
		}
	}
	t.Logf("%d bytes x 5 values: %d mutations accepted and decoded safely", len(valid), accepted)
	for _, n := range []int{0, 3, 7, 100, len(valid) / 2} { // truncations
		if validIPCSchema(valid[:n]) {
			t.Errorf("truncated to %d bytes: accepted", n)
		}
	}
}

// Random byte corruptions of a file (half of them in the footer) give a
// status, never a crash, and leak nothing.
func TestReadParquetRandomCorruption(t *testing.T) {
	path := pqSampleFile(t, 3)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	dir := t.TempDir()
	counts := map[int32]int{}
	for it := 0; it < 400; it++ {
		bad := append([]byte(nil), data...)
		for k := 0; k < 1+rng.Intn(4); k++ {
			at := rng.Intn(len(bad))
			if it%2 == 0 {
				at = len(bad) - 1 - rng.Intn(min(len(bad), 2048))
			}
			bad[at] = byte(rng.Intn(256))
		}
		p := filepath.Join(dir, fmt.Sprintf("bad%d.parquet", it))
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		mem := newMem()
		out := new(cpair)
		call := &readParquetCall{path: &p, options: []byte(`{"id_column": "id"}`), out: out.output(), alloc: mem}
		status, _, msg := call.do()
		counts[status]++
		switch status {
		case statusOK:
			if rec, err := cdata.ImportCRecordBatch(&out.array, &out.schema); err == nil {
				rec.Release()
			}
		case statusValue:
		default:
			t.Errorf("status %d: %.300s", status, msg)
		}
		if b := mem.AllocatedBytes(); b != 0 {
			t.Errorf("%d bytes leaked", b)
		}
		os.Remove(p)
	}
	t.Logf("statuses: %v", counts)
}

// Degenerate shapes: no float columns selected, and a file without rows.
func TestReadParquetEmpty(t *testing.T) {
	path := pqSampleFile(t, 3)
	mem := newMem()
	out := new(cpair)
	call := &readParquetCall{path: &path, options: []byte(`{"id_column": "id", "columns": []}`), out: out.output(), alloc: mem}
	if status, info, msg := call.do(); status != statusOK || !strings.Contains(string(info), `"n_columns":0`) {
		t.Fatalf("no columns: %d %s %s", status, info, msg)
	}
	rec, err := cdata.ImportCRecordBatch(&out.array, &out.schema)
	if err != nil {
		t.Fatal(err)
	}
	if rec.NumCols() != 1 || rec.NumRows() != 7 {
		t.Errorf("no columns: %d x %d", rec.NumRows(), rec.NumCols())
	}
	rec.Release()

	src := pqSample(memory.DefaultAllocator)
	empty := src.NewSlice(0, 0)
	src.Release()
	p := pqWrite(t, t.TempDir(), "empty.parquet", empty, 10)
	empty.Release()
	out = new(cpair)
	call = &readParquetCall{path: &p, options: []byte(`{"id_column": "id"}`), out: out.output(), alloc: mem}
	if status, info, msg := call.do(); status != statusOK || !strings.Contains(string(info), `"n_rows":0`) {
		t.Fatalf("no rows: %d %s %s", status, info, msg)
	}
	if rec, err = cdata.ImportCRecordBatch(&out.array, &out.schema); err != nil {
		t.Fatal(err)
	}
	if rec.NumCols() != 7 || rec.NumRows() != 0 {
		t.Errorf("no rows: %d x %d", rec.NumRows(), rec.NumCols())
	}
	rec.Release()
	if b := mem.AllocatedBytes(); b != 0 {
		t.Errorf("%d bytes leaked", b)
	}
}
