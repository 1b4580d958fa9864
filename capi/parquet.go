package main

// Parquet in and out: gonmf_read_parquet and gonmf_write_parquet.
//
// Reading puts every float column of the file into ONE malloc'ed
// column-major block, so that the record batch it returns is, minus its id
// column, exactly the adjacent-columns struct that gonmf_fit views in place.
// Column chunks are decoded straight into the block by a fixed pool of
// workers (readWorkers), one column chunk at a time, row group by row group:
// pqarrow's ArrowReadProperties{Parallel: true} would start one goroutine per
// column (18,000 for DepMap) and materialise every column as its own Arrow
// array before we could copy it.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/cdata"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// ---------------------------------------------------------------- options

// readOptions is options_json of gonmf_read_parquet.
type readOptions struct {
	idColumn string // "" with hasID false: no id column
	hasID    bool
	columns  []string // nil: every column but the id (and pandas index columns)
	dt       dtype
}

func parseReadOptions(js []byte) (readOptions, error) {
	o := readOptions{dt: f64}
	obj, err := optionsObject(js)
	if err != nil || obj == nil {
		return o, err
	}
	for _, k := range sortedKeys(obj) {
		raw := obj[k]
		var err error
		switch k {
		case "id_column":
			if !isNull(raw) {
				o.hasID = true
				err = decodeStrict(raw, &o.idColumn)
			}
		case "columns":
			if !isNull(raw) {
				o.columns = []string{}
				err = decodeStrict(raw, &o.columns)
			}
		case "dtype":
			var s string
			if err = decodeStrict(raw, &s); err == nil {
				switch s {
				case "float64":
					o.dt = f64
				case "float32":
					o.dt = f32
				default:
					err = fmt.Errorf("expected \"float64\" or \"float32\", got %q", s)
				}
			}
		default:
			return o, valueErrorf("options_json: unknown key %q", k)
		}
		if err != nil {
			return o, valueErrorf("options_json: key %q: %v", k, jsonMessage(err))
		}
	}
	return o, nil
}

// writeOptions is options_json of gonmf_write_parquet.
type writeOptions struct {
	codec compress.Compression
	name  string
}

var codecs = map[string]compress.Compression{
	"snappy": compress.Codecs.Snappy,
	"gzip":   compress.Codecs.Gzip,
	"zstd":   compress.Codecs.Zstd,
	"brotli": compress.Codecs.Brotli,
	"none":   compress.Codecs.Uncompressed,
}

func parseWriteOptions(js []byte, path string) (writeOptions, error) {
	// pandas' default is snappy whatever the name; a .gz name asks for gzip.
	o := writeOptions{codec: compress.Codecs.Snappy, name: "snappy"}
	if strings.HasSuffix(path, ".gz") {
		o = writeOptions{codec: compress.Codecs.Gzip, name: "gzip"}
	}
	obj, err := optionsObject(js)
	if err != nil || obj == nil {
		return o, err
	}
	for _, k := range sortedKeys(obj) {
		raw := obj[k]
		switch k {
		case "compression":
			if isNull(raw) { // pandas' compression=None
				o = writeOptions{codec: compress.Codecs.Uncompressed, name: "none"}
				continue
			}
			var s string
			if err := decodeStrict(raw, &s); err != nil {
				return o, valueErrorf("options_json: key %q: %v", k, jsonMessage(err))
			}
			c, ok := codecs[strings.ToLower(s)]
			if !ok {
				return o, valueErrorf("options_json: key \"compression\": expected one of \"snappy\", \"gzip\", \"zstd\", \"brotli\", \"none\" or null, got %q", s)
			}
			o = writeOptions{codec: c, name: strings.ToLower(s)}
		default:
			return o, valueErrorf("options_json: unknown key %q", k)
		}
	}
	return o, nil
}

// optionsObject decodes a JSON object; nil input means "no options".
func optionsObject(js []byte) (map[string]json.RawMessage, error) {
	if js == nil {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := decodeStrict(js, &obj); err != nil {
		return nil, valueErrorf("options_json: %v", jsonMessage(err))
	}
	return obj, nil // a JSON null is "no options" too
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// deterministic error messages
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// ---------------------------------------------------------------- errors

// osError words a file system error like Python's OSError str(), e.g.
// "[Errno 2] No such file or directory: 'x.parquet'", so the Python layer can
// map the errno to FileNotFoundError, PermissionError, IsADirectoryError.
func osError(err error, path string) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg := errno.Error()
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return valueErrorf("[Errno %d] %s: %s", int(errno), msg, pyRepr(path))
	}
	return valueErrorf("%v", err)
}

// pyRepr quotes a path the way Python's repr does in the common cases.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// ---------------------------------------------------------------- reading

// readWorkers is the number of goroutines decoding column chunks: bounded by
// GOMAXPROCS whatever the number of columns.
func readWorkers() int { return max(1, runtime.GOMAXPROCS(0)) }

// readInfo is out_info_json of gonmf_read_parquet.
type readInfo struct {
	NRows      int      `json:"n_rows"`
	NColumns   int      `json:"n_columns"` // float columns, the id not counted
	IDColumn   *string  `json:"id_column"`
	NaNColumns []string `json:"nan_columns"` // float columns holding NaN (or nulls, read as NaN)
	Dtype      string   `json:"dtype"`
	// pandas index columns (__index_level_0__ ...) left out of the default
	// selection, as pd.read_parquet makes them the index rather than columns.
	IndexColumns []string `json:"index_columns"`
}

// pqColumn is one float column to read: its leaf in the Parquet schema and
// how its physical values become floats.
type pqColumn struct {
	name   string
	leaf   int
	kind   arrow.Type // arrow type of the column (FLOAT64, INT32, UINT64...)
	maxDef int16
}

// pqReader reads the float columns of one file into one block.
type pqReader struct {
	path    string
	rdr     *file.Reader
	size    int64 // file size, to vet column chunk extents
	cols    []pqColumn
	n       int   // rows
	rgStart []int // first row of each row group
	rgRows  []int // rows of each row group
	dt      dtype // block element type
	block   unsafe.Pointer
	hasNaN  []int32 // per column, set atomically by the workers
	workers int
	// peakWorkers is the largest number of workers alive at once (tests).
	peakWorkers atomic.Int32
}

// readBufferSize is the read buffer of each column chunk stream.
const readBufferSize = 16 << 10

// readParquet reads path into a record batch: the id column first (when
// asked), then the float columns, all views of one block from alloc.
func readParquet(path string, opts readOptions, alloc memory.Allocator, workers int) (rec arrow.Record, info readInfo, err error) {
	// arrow/go panics on some corrupt input (snappy codec, thrift, flatbuffers);
	// the defers below release what was allocated, and this turns the panic
	// into an error about the file. Workers recover on their own.
	defer func() {
		if r := recover(); r != nil {
			rec, err = nil, corruptError(path, r)
		}
	}()
	st, err := os.Stat(path)
	if err != nil {
		return nil, info, osError(err, path)
	}
	if st.IsDir() {
		return nil, info, osError(&fs.PathError{Op: "open", Path: path, Err: syscall.EISDIR}, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, info, osError(err, path)
	}
	defer f.Close()
	// Page buffers are transient Go memory: the GC reclaims them, and the
	// reader's buffer pool releases through finalizers, which a C allocator
	// must not be tied to. Column chunks are streamed through a small buffer
	// rather than read whole (and copied once more) as arrow/go does by
	// default, so the memory of a worker is bounded by the page size,
	// whatever the size of the row groups.
	rprops := parquet.NewReaderProperties(memory.DefaultAllocator)
	rprops.BufferedStreamEnabled = true
	rprops.BufferSize = readBufferSize
	rdr, err := file.NewParquetReader(f, file.WithReadProps(rprops))
	if err != nil {
		return nil, info, valueErrorf("Could not open Parquet input source %s: %v", pyRepr(path), err)
	}
	defer rdr.Close()
	dropStatistics(rdr)
	if err := checkArrowSchemaMeta(rdr); err != nil {
		return nil, info, valueErrorf("Parquet file %s: %v", pyRepr(path), err)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return nil, info, valueErrorf("Parquet file %s: %v", pyRepr(path), err)
	}

	// Columns by name (Parquet allows duplicates; a name used twice cannot be selected).
	fields := fr.Manifest.Fields
	byName := make(map[string]int, len(fields))
	for i := range fields {
		name := fields[i].Field.Name
		if _, dup := byName[name]; dup {
			byName[name] = -1
		} else {
			byName[name] = i
		}
	}
	lookup := func(name, what string) (int, error) {
		i, ok := byName[name]
		switch {
		case !ok:
			return 0, valueErrorf("%s '%s' is not a column of %s", what, name, pyRepr(path))
		case i < 0:
			return 0, valueErrorf("%s '%s' names several columns of %s", what, name, pyRepr(path))
		}
		return i, nil
	}

	idIdx := -1
	if opts.hasID {
		if idIdx, err = lookup(opts.idColumn, "id_column"); err != nil {
			return nil, info, err
		}
		info.IDColumn = &opts.idColumn
	}
	info.IndexColumns = []string{}
	var selected []int
	if opts.columns != nil {
		seen := make(map[int]bool, len(opts.columns))
		for _, name := range opts.columns {
			i, err := lookup(name, "column")
			if err != nil {
				return nil, info, err
			}
			if i == idIdx {
				continue // already there, first
			}
			if seen[i] {
				return nil, info, valueErrorf("column '%s' is selected twice", name)
			}
			seen[i] = true
			selected = append(selected, i)
		}
	} else {
		index := pandasIndexColumns(rdr)
		for i := range fields {
			if i == idIdx {
				continue
			}
			if index[fields[i].Field.Name] {
				info.IndexColumns = append(info.IndexColumns, fields[i].Field.Name)
				continue
			}
			selected = append(selected, i)
		}
	}

	r := &pqReader{path: path, rdr: rdr, size: st.Size(), dt: opts.dt, workers: max(1, workers)}
	r.cols = make([]pqColumn, len(selected))
	for j, i := range selected {
		if r.cols[j], err = floatColumn(rdr, &fields[i]); err != nil {
			return nil, info, err
		}
	}
	// Rows, checked against the row groups.
	var total int64
	for g := 0; g < rdr.NumRowGroups(); g++ {
		rows := rdr.MetaData().RowGroup(g).NumRows()
		if rows < 0 || rows > maxElems-total {
			return nil, info, valueErrorf("Parquet file %s: row group %d has %d rows", pyRepr(path), g, rows)
		}
		r.rgStart = append(r.rgStart, int(total))
		r.rgRows = append(r.rgRows, int(rows))
		total += rows
	}
	if total != rdr.NumRows() {
		return nil, info, valueErrorf("Parquet file %s: row groups hold %d rows, the footer says %d", pyRepr(path), total, rdr.NumRows())
	}
	r.n = int(total)
	m := len(r.cols)

	// The block. malloc'ed pages are only touched as columns land in them.
	var blockBuf *memory.Buffer
	if m > 0 && r.n > 0 {
		if int64(m) > maxElems/int64(r.n) {
			return nil, info, valueErrorf("Parquet file %s is too large: %d x %d", pyRepr(path), r.n, m)
		}
		if blockBuf, err = allocBuffer(alloc, int64(r.n)*int64(m)*r.dt.size(), r.n, m, r.dt); err != nil {
			return nil, info, err
		}
		defer blockBuf.Release() // the columns hold their own references
		r.block = unsafe.Pointer(&blockBuf.Bytes()[0])
	}
	r.hasNaN = make([]int32, m)
	if err := r.readAll(); err != nil {
		return nil, info, err
	}

	// The record batch: [id] + float columns over the block.
	cols := make([]arrow.Array, 0, m+1)
	arrowFields := make([]arrow.Field, 0, m+1)
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	if idIdx >= 0 {
		id, err := readIDColumn(fr, idIdx, r.n, alloc)
		if err != nil {
			return nil, info, valueErrorf("Parquet file %s: id column '%s': %v", pyRepr(path), opts.idColumn, err)
		}
		cols = append(cols, id)
		arrowFields = append(arrowFields, arrow.Field{Name: opts.idColumn, Type: id.DataType(), Nullable: true})
	}
	colBytes := r.n * int(r.dt.size())
	info.NaNColumns = []string{}
	for j, c := range r.cols {
		var buf *memory.Buffer
		if blockBuf != nil {
			buf = memory.SliceBuffer(blockBuf, j*colBytes, colBytes)
		}
		d := array.NewData(r.dt.arrowType(), r.n, []*memory.Buffer{nil, buf}, nil, 0, 0)
		if buf != nil {
			buf.Release()
		}
		cols = append(cols, array.MakeFromData(d))
		d.Release()
		arrowFields = append(arrowFields, arrow.Field{Name: c.name, Type: r.dt.arrowType(), Nullable: true})
		if r.hasNaN[j] != 0 {
			info.NaNColumns = append(info.NaNColumns, c.name)
		}
	}
	info.NRows, info.NColumns, info.Dtype = r.n, m, r.dt.String()
	return array.NewRecord(arrow.NewSchema(arrowFields, nil), cols, int64(r.n)), info, nil
}

// corruptError is a panic of arrow/go while decoding a file: arrow/go v17
// panics instead of returning errors on some corrupt data (snappy input,
// dictionary indices...). Reported as a bad value, with the panic's text.
func corruptError(path string, r any) error {
	return valueErrorf("Parquet file %s: cannot decode it (corrupt file?): %v", pyRepr(path), r)
}

// dropStatistics frees the column chunk statistics of the footer, which we
// never use: arrow/go decodes them into ~4 KiB of Go heap per column chunk
// (73 of the 93 MB a DepMap-sized footer takes), and that live heap sets the
// garbage collector's pace for the whole read.
func dropStatistics(rdr *file.Reader) {
	for _, rg := range rdr.MetaData().RowGroups {
		for _, cc := range rg.Columns {
			if cc != nil && cc.MetaData != nil {
				cc.MetaData.Statistics = nil
				cc.MetaData.EncodingStats = nil
			}
		}
	}
}

// pandasIndexColumns returns the stored index columns named in the pandas
// metadata (a RangeIndex is stored as metadata only and is not a column).
func pandasIndexColumns(rdr *file.Reader) map[string]bool {
	out := map[string]bool{}
	meta := rdr.MetaData().KeyValueMetadata().FindValue("pandas")
	if meta == nil {
		return out
	}
	var pd struct {
		IndexColumns []json.RawMessage `json:"index_columns"`
	}
	if json.Unmarshal([]byte(*meta), &pd) != nil {
		return out
	}
	for _, raw := range pd.IndexColumns {
		var name string
		if json.Unmarshal(raw, &name) == nil {
			out[name] = true
		}
	}
	return out
}

// floatColumn checks that a top-level field is a numeric column we can read
// as floats (sklearn's check_array accepts floats and integers).
func floatColumn(rdr *file.Reader, f *pqarrow.SchemaField) (pqColumn, error) {
	c := pqColumn{name: f.Field.Name, kind: f.Field.Type.ID(), leaf: f.ColIndex}
	notNumeric := valueErrorf("could not convert column '%s' (type %s) to float: NMF needs numeric input", c.name, f.Field.Type)
	if len(f.Children) != 0 || !f.IsLeaf() {
		return c, notNumeric
	}
	descr := rdr.MetaData().Schema.Column(c.leaf)
	if descr.MaxRepetitionLevel() != 0 {
		return c, notNumeric
	}
	c.maxDef = descr.MaxDefinitionLevel()
	var want parquet.Type
	switch c.kind {
	case arrow.FLOAT64:
		want = parquet.Types.Double
	case arrow.FLOAT32:
		want = parquet.Types.Float
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.UINT8, arrow.UINT16, arrow.UINT32:
		want = parquet.Types.Int32
	case arrow.INT64, arrow.UINT64:
		want = parquet.Types.Int64
	case arrow.FLOAT16:
		return c, valueErrorf("column '%s' is float16, which gonmf cannot read: cast it to float32 first", c.name)
	default:
		return c, notNumeric
	}
	if descr.PhysicalType() != want {
		return c, valueErrorf("column '%s': arrow type %s stored as Parquet %s is not supported", c.name, f.Field.Type, descr.PhysicalType())
	}
	return c, nil
}

// readIDColumn reads one whole column with pqarrow and copies it into alloc
// (malloc) memory as one array.
func readIDColumn(fr *pqarrow.FileReader, idx, n int, alloc memory.Allocator) (arrow.Array, error) {
	cr, err := fr.GetColumn(context.Background(), idx)
	if err != nil {
		return nil, err
	}
	defer cr.Release()
	chunked, err := cr.NextBatch(int64(n))
	if err != nil {
		return nil, err
	}
	defer chunked.Release()
	if chunked.Len() != n {
		return nil, fmt.Errorf("read %d values for %d rows", chunked.Len(), n)
	}
	if len(chunked.Chunks()) == 0 {
		return array.MakeArrayOfNull(alloc, chunked.DataType(), 0), nil
	}
	return array.Concatenate(chunked.Chunks(), alloc)
}

// readAll decodes every (row group, column) chunk into the block with
// r.workers goroutines. Jobs go row group by row group so that reads move
// forward through the file. The first error stops the pool.
func (r *pqReader) readAll() error {
	m, groups := len(r.cols), len(r.rgRows)
	jobs := int64(m) * int64(groups)
	if jobs == 0 || r.n == 0 {
		return nil
	}
	maxRows := 0
	for _, rows := range r.rgRows {
		maxRows = max(maxRows, rows)
	}
	var (
		next    atomic.Int64
		failed  atomic.Bool
		alive   atomic.Int32
		mu      sync.Mutex
		firstAt = int64(math.MaxInt64)
		first   error
		wg      sync.WaitGroup
	)
	fail := func(job int64, err error) {
		mu.Lock()
		if job < firstAt { // lowest job wins: deterministic messages
			firstAt, first = job, err
		}
		mu.Unlock()
		failed.Store(true)
	}
	workers := int(min(int64(r.workers), jobs))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := alive.Add(1); ; {
				if p := r.peakWorkers.Load(); a <= p || r.peakWorkers.CompareAndSwap(p, a) {
					break
				}
			}
			defer alive.Add(-1)
			s := &pqScratch{defs: make([]int16, maxRows)}
			job := int64(-1)
			// A panic in a goroutine would kill the host process: decode
			// errors in corrupt files must come back as errors.
			defer func() {
				if p := recover(); p != nil {
					g, j := job/int64(m), job%int64(m)
					fail(job, corruptError(r.path, fmt.Sprintf("column '%s', row group %d: %v", r.cols[j].name, g, p)))
				}
			}()
			for !failed.Load() {
				job = next.Add(1) - 1
				if job >= jobs {
					return
				}
				g, j := int(job/int64(m)), int(job%int64(m))
				if err := r.readChunk(g, j, s); err != nil {
					fail(job, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// pqScratch is one worker's reusable memory.
type pqScratch struct {
	defs []int16
	f32  []float32
	f64  []float64
	i32  []int32
	i64  []int64
}

func grow[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n)
	}
	return (*s)[:n]
}

// readChunk decodes column j of row group g into its place in the block.
func (r *pqReader) readChunk(g, j int, s *pqScratch) (err error) {
	rows := r.rgRows[g]
	if rows == 0 {
		return nil
	}
	c := r.cols[j]
	defer func() {
		if err != nil {
			err = valueErrorf("Parquet file %s: column '%s', row group %d: %v", pyRepr(r.path), c.name, g, err)
		}
	}()
	rg := r.rdr.RowGroup(g)
	meta, err := rg.MetaData().ColumnChunk(c.leaf)
	if err != nil {
		return err
	}
	// A corrupt footer must not make us allocate more than the file holds.
	if start, size := meta.DataPageOffset(), meta.TotalCompressedSize(); start < 0 || size < 0 || size > r.size {
		return fmt.Errorf("invalid column chunk extent (offset %d, size %d) in a file of %d bytes", start, size, r.size)
	}
	ccr, err := rg.Column(c.leaf)
	if err != nil {
		return err
	}
	var defs []int16
	if c.maxDef > 0 {
		defs = s.defs[:rows]
	}
	off := int64(j)*int64(r.n) + int64(r.rgStart[g])
	var nan bool
	if r.dt == f64 {
		dst := unsafe.Slice((*float64)(unsafe.Add(r.block, off*8)), rows)
		nan, err = decodeInto(ccr, c, dst, defs, s)
	} else {
		dst := unsafe.Slice((*float32)(unsafe.Add(r.block, off*4)), rows)
		nan, err = decodeInto(ccr, c, dst, defs, s)
	}
	if err != nil {
		return err
	}
	if nan {
		atomic.StoreInt32(&r.hasNaN[j], 1)
	}
	return ccr.Err()
}

// decodeInto reads len(dst) rows of one column chunk into dst (nulls become
// NaN) and reports whether dst now holds a NaN.
func decodeInto[D float32 | float64](ccr file.ColumnChunkReader, c pqColumn, dst []D, defs []int16, s *pqScratch) (bool, error) {
	rows := len(dst)
	switch rd := ccr.(type) {
	case *file.Float64ColumnChunkReader:
		if d, ok := any(dst).([]float64); ok { // straight into the block
			nv, err := readPacked(rd, d, defs)
			if err != nil {
				return false, err
			}
			spreadInPlace(d, nv, defs, c.maxDef)
			return anyNaN(d), nil
		}
		vals := grow(&s.f64, rows)
		nv, err := readPacked(rd, vals, defs)
		if err != nil {
			return false, err
		}
		spread(dst, vals[:nv], defs, c.maxDef, func(v float64) D { return D(v) })
		return anyNaN(dst), nil
	case *file.Float32ColumnChunkReader:
		if d, ok := any(dst).([]float32); ok {
			nv, err := readPacked(rd, d, defs)
			if err != nil {
				return false, err
			}
			spreadInPlace(d, nv, defs, c.maxDef)
			return anyNaN(d), nil
		}
		vals := grow(&s.f32, rows)
		nv, err := readPacked(rd, vals, defs)
		if err != nil {
			return false, err
		}
		spread(dst, vals[:nv], defs, c.maxDef, func(v float32) D { return D(v) })
		return anyNaN(dst), nil
	case *file.Int32ColumnChunkReader:
		vals := grow(&s.i32, rows)
		nv, err := readPacked(rd, vals, defs)
		if err != nil {
			return false, err
		}
		if c.kind == arrow.UINT32 {
			spread(dst, vals[:nv], defs, c.maxDef, func(v int32) D { return D(uint32(v)) })
		} else {
			spread(dst, vals[:nv], defs, c.maxDef, func(v int32) D { return D(v) })
		}
		return nv < rows, nil
	case *file.Int64ColumnChunkReader:
		vals := grow(&s.i64, rows)
		nv, err := readPacked(rd, vals, defs)
		if err != nil {
			return false, err
		}
		if c.kind == arrow.UINT64 {
			spread(dst, vals[:nv], defs, c.maxDef, func(v int64) D { return D(uint64(v)) })
		} else {
			spread(dst, vals[:nv], defs, c.maxDef, func(v int64) D { return D(v) })
		}
		return nv < rows, nil
	}
	return false, fmt.Errorf("unexpected column reader %T", ccr)
}

type batchReader[T any] interface {
	ReadBatch(batchSize int64, values []T, defLvls, repLvls []int16) (int64, int, error)
}

// readPacked reads len(vals) rows: the non-null values packed at the front of
// vals, and their definition levels into defs (nil for a required column).
// It returns the number of values.
func readPacked[T any](rd batchReader[T], vals []T, defs []int16) (int, error) {
	rows := int64(len(vals))
	var levels int64
	nv := 0
	for levels < rows {
		var d []int16
		if defs != nil {
			d = defs[levels:]
		}
		l, v, err := rd.ReadBatch(rows-levels, vals[nv:], d, nil)
		if err != nil {
			return nv, err
		}
		if l == 0 {
			return nv, fmt.Errorf("column chunk ends after %d of %d rows", levels, rows)
		}
		levels += l
		nv += v
	}
	return nv, nil
}

// spreadInPlace moves the nv packed values of dst to the rows whose
// definition level is maxDef and fills the others (nulls) with NaN.
func spreadInPlace[D float32 | float64](dst []D, nv int, defs []int16, maxDef int16) {
	if nv == len(dst) {
		return
	}
	nan := D(math.NaN())
	v := nv
	for i := len(dst) - 1; i >= 0; i-- {
		if defs[i] == maxDef {
			v--
			dst[i] = dst[v]
		} else {
			dst[i] = nan
		}
	}
}

func spread[T any, D float32 | float64](dst []D, vals []T, defs []int16, maxDef int16, conv func(T) D) {
	if len(vals) == len(dst) {
		for i, x := range vals {
			dst[i] = conv(x)
		}
		return
	}
	nan := D(math.NaN())
	v := 0
	for i := range dst {
		if defs[i] == maxDef {
			dst[i] = conv(vals[v])
			v++
		} else {
			dst[i] = nan
		}
	}
}

func anyNaN[D float32 | float64](x []D) bool {
	for _, v := range x {
		if v != v {
			return true
		}
	}
	return false
}

// readParquetCall is one gonmf_read_parquet call, cgo-free.
type readParquetCall struct {
	path    *string // nil: NULL
	options []byte  // nil: defaults
	out     abiOutput
	alloc   memory.Allocator
	workers int
	written bool
}

func (c *readParquetCall) do() (status int32, info []byte, msg string) {
	defer func() {
		if r := recover(); r != nil {
			if c.written {
				releaseArray(c.out.array)
				releaseSchema(c.out.schema)
				*c.out.array, *c.out.schema = cArray{}, cSchema{}
			}
			status, info, msg = statusInternal, nil, panicMessage(r)
		}
	}()
	info, err := c.run()
	if err != nil {
		return errorStatus(err), nil, err.Error()
	}
	return statusOK, info, ""
}

func (c *readParquetCall) run() ([]byte, error) {
	if c.out.schema == nil || c.out.array == nil {
		return nil, valueErrorf("out_schema and out_array must be non-NULL")
	}
	if c.out.schema.release != nil || c.out.array.release != nil {
		return nil, valueErrorf("out structs must be zero-initialised (release is set)")
	}
	if c.path == nil {
		return nil, valueErrorf("path must be non-NULL")
	}
	opts, err := parseReadOptions(c.options)
	if err != nil {
		return nil, err
	}
	workers := c.workers
	if workers <= 0 {
		workers = readWorkers()
	}
	rec, info, err := readParquet(*c.path, opts, c.alloc, workers)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	js, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	cdata.ExportArrowRecordBatch(rec, c.out.array.cdata(), c.out.schema.cdata())
	c.written = true
	return js, nil
}

// ---------------------------------------------------------------- writing

// writeParquet writes rec to path in one row group per 64Mi rows, with the
// Arrow schema stored so that pyarrow reads back the same types. A partial
// file is removed on failure.
func writeParquet(path string, rec arrow.Record, opts writeOptions) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return osError(err, path)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	props := parquet.NewWriterProperties(parquet.WithCompression(opts.codec), parquet.WithAllocator(memory.DefaultAllocator))
	fw, err := pqarrow.NewFileWriter(rec.Schema(), bw, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return valueErrorf("cannot write %s: %v", pyRepr(path), err)
	}
	if err := fw.Write(rec); err != nil {
		fw.Close()
		return valueErrorf("cannot write %s: %v", pyRepr(path), err)
	}
	if err := fw.Close(); err != nil {
		return osError(err, path)
	}
	if err := bw.Flush(); err != nil {
		return osError(err, path)
	}
	if err := f.Close(); err != nil {
		return osError(err, path)
	}
	return nil
}

// writeParquetCall is one gonmf_write_parquet call, cgo-free.
type writeParquetCall struct {
	path    *string
	in      abiInput
	options []byte
}

func (c *writeParquetCall) do() (status int32, msg string) {
	defer func() {
		if r := recover(); r != nil {
			c.in.release()
			status, msg = statusInternal, panicMessage(r)
		}
	}()
	if err := c.run(); err != nil {
		return errorStatus(err), err.Error()
	}
	return statusOK, ""
}

func (c *writeParquetCall) run() error {
	defer c.in.release() // moved in: released on every path
	if err := c.in.checkLive(); err != nil {
		return err
	}
	if c.path == nil {
		return valueErrorf("path must be non-NULL")
	}
	opts, err := parseWriteOptions(c.options, *c.path)
	if err != nil {
		return err
	}
	rec, err := recordFromC(c.in.schema, c.in.array)
	if err != nil {
		return err
	}
	defer rec.Release()
	// rec views the caller's buffers: write before c.in is released.
	return writeParquet(*c.path, rec, opts)
}

// wtype is a column type gonmf_write_parquet accepts, by C format string.
type wtype struct {
	dt       arrow.DataType
	width    int64 // bytes per value; 0 for bool (bits); offset width for strings
	variable bool  // offsets + data buffers
}

var writeTypes = map[string]wtype{
	"b": {arrow.FixedWidthTypes.Boolean, 0, false},
	"c": {arrow.PrimitiveTypes.Int8, 1, false},
	"C": {arrow.PrimitiveTypes.Uint8, 1, false},
	"s": {arrow.PrimitiveTypes.Int16, 2, false},
	"S": {arrow.PrimitiveTypes.Uint16, 2, false},
	"i": {arrow.PrimitiveTypes.Int32, 4, false},
	"I": {arrow.PrimitiveTypes.Uint32, 4, false},
	"l": {arrow.PrimitiveTypes.Int64, 8, false},
	"L": {arrow.PrimitiveTypes.Uint64, 8, false},
	"f": {arrow.PrimitiveTypes.Float32, 4, false},
	"g": {arrow.PrimitiveTypes.Float64, 8, false},
	"u": {arrow.BinaryTypes.String, 4, true},
	"U": {arrow.BinaryTypes.LargeString, 8, true},
	"z": {arrow.BinaryTypes.Binary, 4, true},
	"Z": {arrow.BinaryTypes.LargeBinary, 8, true},
}

// recordFromC validates a struct array (a record batch) from C and wraps its
// buffers, without copying and without cdata's importer (which trusts every
// length and pointer in arrow/go v17), as an arrow.Record. The caller keeps
// the C structs alive while the record is in use and releases them after.
func recordFromC(s *cSchema, a *cArray) (arrow.Record, error) {
	si, err := readSchema(s)
	if err != nil {
		return nil, err
	}
	if si.format != "+s" || si.dictionary {
		return nil, typeErrorf("gonmf_write_parquet needs a struct array (a record batch), got type %s", si.typeName)
	}
	m := len(si.children)
	if m == 0 {
		return nil, valueErrorf("cannot write a record batch with no columns")
	}
	if err := checkNode(a, "the record batch", 1, m); err != nil {
		return nil, err
	}
	if nulls, err := hasNulls(a, a.offset, a.length); err != nil {
		return nil, err
	} else if nulls {
		return nil, valueErrorf("the struct array has null rows: pass a record batch")
	}
	n := a.length
	fields := make([]arrow.Field, m)
	cols := make([]arrow.Array, 0, m)
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for j, cs := range si.children {
		wt, ok := writeTypes[cs.format]
		if !ok || cs.dictionary {
			return nil, typeErrorf("cannot write column '%s' of type %s to Parquet: gonmf writes booleans, integers, floats and strings", cs.name, cs.typeName)
		}
		d, err := wrapColumn(a.child(j), wt, a.offset, n, fmt.Sprintf("column '%s'", cs.name))
		if err != nil {
			return nil, err
		}
		nullable := s.child(j).flags&2 != 0 || d.NullN() > 0 // ARROW_FLAG_NULLABLE
		fields[j] = arrow.Field{Name: cs.name, Type: wt.dt, Nullable: nullable}
		cols = append(cols, array.MakeFromData(d))
		d.Release()
	}
	md, err := cMetadata(s.metadata)
	if err != nil {
		return nil, err
	}
	return array.NewRecord(arrow.NewSchema(fields, md), cols, n), nil
}

// cMetadata decodes the metadata of an ArrowSchema (int32 count, then int32
// length + bytes for each key and value), kept so that pandas' metadata
// (index columns, dtypes) survives the round trip. Counts and lengths are
// bounded; the bytes themselves are the producer's to get right.
func cMetadata(p *byte) (*arrow.Metadata, error) {
	if p == nil {
		return nil, nil
	}
	at := unsafe.Pointer(p)
	read32 := func() int32 {
		v := *(*int32)(at) // unaligned loads are fine on amd64 and arm64
		at = unsafe.Add(at, 4)
		return v
	}
	n := read32()
	if n < 0 || n > 1<<16 {
		return nil, invalidf("schema metadata has %d entries", n)
	}
	keys, vals := make([]string, n), make([]string, n)
	for i := range keys {
		for _, dst := range []*string{&keys[i], &vals[i]} {
			l := read32()
			if l < 0 || l > 1<<30 {
				return nil, invalidf("schema metadata entry %d has length %d", i, l)
			}
			*dst = string(unsafe.Slice((*byte)(at), l))
			at = unsafe.Add(at, l)
		}
	}
	md := arrow.NewMetadata(keys, vals)
	return &md, nil
}

// cBytes wraps size bytes of C memory at p as a Go-side buffer (no copy).
func cBytes(p unsafe.Pointer, size int64) *memory.Buffer {
	if size == 0 {
		return memory.NewBufferBytes(nil)
	}
	return memory.NewBufferBytes(unsafe.Slice((*byte)(p), size))
}

// wrapColumn validates child c of a struct with offset so and length n, and
// wraps its rows [so, so+n) as ArrayData over the C buffers.
func wrapColumn(c *cArray, wt wtype, so, n int64, what string) (arrow.ArrayData, error) {
	nbuf := int64(2)
	if wt.variable {
		nbuf = 3
	}
	if c.nBuffers != nbuf || c.nChildren != 0 || c.buffers == nil || c.dictionary != nil {
		return nil, invalidf("%s is not a valid %s array (%d buffers, %d children)", what, wt.dt, c.nBuffers, c.nChildren)
	}
	if err := checkExtent(c, what); err != nil {
		return nil, err
	}
	if so+n > c.length {
		return nil, invalidf("%s has %d values, %d needed", what, c.length, so+n)
	}
	start := c.offset + so // first row, in elements from the buffers' start
	end := start + n
	if n == 0 {
		// Zero-length arrays may carry NULL or sentinel buffers: use none.
		return array.MakeArrayOfNull(memory.DefaultAllocator, wt.dt, 0).Data(), nil
	}
	bufs := make([]*memory.Buffer, nbuf)
	nulls := 0
	if c.nullCount != 0 {
		if v := c.buffer(0); v != nil {
			nulls = int(n - countSet((*byte)(v), start, n))
			if nulls > 0 {
				bufs[0] = cBytes(v, (end+7)/8)
			}
		} else if c.nullCount > 0 {
			return nil, invalidf("%s has null_count %d and a NULL validity buffer", what, c.nullCount)
		}
	}
	data := c.buffer(1)
	if data == nil {
		return nil, invalidf("%s has a NULL buffer 1", what)
	}
	switch {
	case !wt.variable && wt.width == 0:
		bufs[1] = cBytes(data, (end+7)/8)
	case !wt.variable:
		bufs[1] = cBytes(data, end*wt.width)
	default:
		// Offsets [start, end] must be non-decreasing and non-negative; the
		// bytes they span are the only ones read from the data buffer.
		if end+1 > maxElems/wt.width {
			return nil, invalidf("%s is too long", what)
		}
		offs := cBytes(data, (end+1)*wt.width)
		lo, hi, ok := offsetRange(offs.Bytes(), wt.width, start, end)
		if !ok {
			return nil, invalidf("%s has invalid offsets", what)
		}
		bufs[1] = offs
		body := c.buffer(2)
		if body == nil && hi > 0 {
			return nil, invalidf("%s has a NULL data buffer", what)
		}
		_ = lo
		bufs[2] = cBytes(body, hi)
	}
	return array.NewData(wt.dt, int(n), bufs, nil, nulls, int(start)), nil
}

// offsetRange checks offsets[start..end] (int32 or int64) and returns the
// first and last.
func offsetRange(b []byte, width, start, end int64) (lo, hi int64, ok bool) {
	at := func(i int64) int64 {
		if width == 4 {
			return int64(*(*int32)(unsafe.Pointer(&b[i*4])))
		}
		return *(*int64)(unsafe.Pointer(&b[i*8]))
	}
	prev := at(start)
	if prev < 0 {
		return 0, 0, false
	}
	for i := start + 1; i <= end; i++ {
		v := at(i)
		if v < prev {
			return 0, 0, false
		}
		prev = v
	}
	return at(start), prev, true
}
