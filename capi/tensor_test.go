package main

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/cdata"
)

// tensorSchema is a fixed_size_list<double>[size] carrying the canonical
// fixed_shape_tensor extension metadata.
func tensorSchema(size int, meta string) schemaInfo {
	return schemaInfo{
		format:   "+w:" + strconv.Itoa(size),
		children: []schemaInfo{{format: "g"}},
		extName:  tensorExtension,
		extMeta:  meta,
	}
}

func TestPlanTensor(t *testing.T) {
	vals := seq(12) // 1..12
	for _, tc := range []struct {
		name     string
		s        schemaInfo
		a        *cArray
		err      string
		n, m     int
		colMajor bool
		stride   int
		first    float64 // X[0, 0]
		x01, x10 float64 // X[0, 1], X[1, 0]
	}{
		{name: "one (2, 3) tensor, row-major", s: tensorSchema(6, `{"shape":[2,3]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)),
			n: 2, m: 3, stride: 3, first: 1, x01: 2, x10: 4},
		{name: "identity permutation", s: tensorSchema(6, `{"shape":[2,3],"permutation":[0,1],"dim_names":["r","c"]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)),
			n: 2, m: 3, stride: 3, first: 1, x01: 2, x10: 4},
		{name: "physical (3, 2), permutation [1, 0]: 2 x 3 column-major", s: tensorSchema(6, `{"shape":[3,2],"permutation":[1,0]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)),
			n: 2, m: 3, colMajor: true, stride: 2, first: 1, x01: 3, x10: 2},
		{name: "second tensor of a slice", s: tensorSchema(6, `{"shape":[3,2],"permutation":[1,0]}`), a: node(1, 1, prim(vals, nil, 0, 0, 12)),
			n: 2, m: 3, colMajor: true, stride: 2, first: 7, x01: 9, x10: 8},
		{name: "values offset", s: tensorSchema(6, `{"shape":[2,3]}`), a: node(1, 0, prim(vals, nil, 0, 2, 8)),
			n: 2, m: 3, stride: 3, first: 3, x01: 4, x10: 6},
		{name: "n tensors of shape (m,) are rows", s: tensorSchema(3, `{"shape":[3]}`), a: node(4, 0, prim(vals, nil, 0, 0, 12)),
			n: 4, m: 3, stride: 3, first: 1, x01: 2, x10: 4},
		{name: "1-D with permutation [0]", s: tensorSchema(3, `{"shape":[3],"permutation":[0]}`), a: node(2, 0, prim(vals, nil, 0, 0, 6)),
			n: 2, m: 3, stride: 3, first: 1, x01: 2, x10: 4},
		{name: "single column", s: tensorSchema(4, `{"shape":[1,4],"permutation":[1,0]}`), a: node(1, 0, prim(vals, nil, 0, 0, 4)),
			n: 4, m: 1, colMajor: true, stride: 4, first: 1, x01: -1, x10: 2},
		{name: "other extensions are their storage", s: schemaInfo{format: "+w:6", children: []schemaInfo{{format: "g"}}, extName: "x.other", extMeta: `{"shape":[2,3]}`},
			a: node(1, 0, prim(vals, nil, 0, 0, 6)), n: 1, m: 6, stride: 6, first: 1, x01: 2, x10: -1},

		{name: "2-D tensors, length 2", s: tensorSchema(6, `{"shape":[2,3]}`), a: node(2, 0, prim(vals, nil, 0, 0, 12)), err: "must hold exactly one, got 2"},
		{name: "2-D tensors, length 0", s: tensorSchema(6, `{"shape":[2,3]}`), a: node(0, 0, prim(vals, nil, 0, 0, 0)), err: "must hold exactly one, got 0"},
		{name: "3-D", s: tensorSchema(6, `{"shape":[1,2,3]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "got tensors of 3 dimensions"},
		{name: "0-D", s: tensorSchema(1, `{"shape":[]}`), a: node(1, 0, prim(vals, nil, 0, 0, 1)), err: "got tensors of 0 dimensions"},
		{name: "not JSON", s: tensorSchema(6, `{"shape":[2,3]`), a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "invalid metadata"},
		{name: "empty metadata", s: tensorSchema(6, ``), a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "invalid metadata"},
		{name: "no shape", s: tensorSchema(6, `{"permutation":[1,0]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "no shape"},
		{name: "shape not numbers", s: tensorSchema(6, `{"shape":["2","3"]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "invalid metadata"},
		{name: "shape does not match the list size", s: tensorSchema(6, `{"shape":[2,2]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "holds 4 values, the list size is 6"},
		{name: "negative dimension", s: tensorSchema(6, `{"shape":[-2,-3]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "dimension -2"},
		{name: "huge dimensions", s: tensorSchema(6, `{"shape":[2147483647,2147483647]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "larger than the list size"},
		{name: "permutation too short", s: tensorSchema(6, `{"shape":[2,3],"permutation":[0]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "permutation does not match"},
		{name: "permutation not a permutation", s: tensorSchema(6, `{"shape":[2,3],"permutation":[1,1]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "not a permutation of [0, 1]"},
		{name: "permutation out of range", s: tensorSchema(6, `{"shape":[2,3],"permutation":[0,2]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "not a permutation of [0, 1]"},
		{name: "1-D bad permutation", s: tensorSchema(3, `{"shape":[3],"permutation":[1]}`), a: node(2, 0, prim(vals, nil, 0, 0, 6)), err: "not a permutation of [0]"},
		{name: "dim_names mismatch", s: tensorSchema(6, `{"shape":[2,3],"dim_names":["a"]}`), a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "dim_names"},
		{name: "zero rows", s: tensorSchema(0, `{"shape":[3,0],"permutation":[1,0]}`), a: node(1, 0, prim(nil, nil, 0, 0, 0)), err: "0 sample(s) (shape=(0, 3))"},
		{name: "zero columns", s: tensorSchema(0, `{"shape":[2,0]}`), a: node(1, 0, prim(nil, nil, 0, 0, 0)), err: "0 feature(s) (shape=(2, 0))"},
		{name: "values too short", s: tensorSchema(6, `{"shape":[3,2],"permutation":[1,0]}`), a: node(1, 0, prim(vals, nil, 0, 0, 5)), err: "has 5 values, 6 needed"},
		{name: "null value", s: tensorSchema(6, `{"shape":[2,3]}`), a: node(1, 0, prim(vals, []byte{0xfd}, 1, 0, 6)), err: "Input X contains NaN."},
		{name: "null tensor", s: tensorSchema(6, `{"shape":[2,3]}`), a: func() *cArray {
			a := node(1, 0, prim(vals, nil, 0, 0, 6))
			validity := []byte{0}
			*(*unsafe.Pointer)(unsafe.Pointer(a.buffers)) = unsafe.Pointer(&validity[0])
			a.nullCount = 1
			return a
		}(), err: "Input X contains NaN."},
		{name: "int values", s: schemaInfo{format: "+w:6", children: []schemaInfo{{format: "l", typeName: "int64"}}, extName: tensorExtension, extMeta: `{"shape":[2,3]}`},
			a: node(1, 0, prim(vals, nil, 0, 0, 6)), err: "values of X (type int64)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := planX(tc.s, tc.a)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if errorStatus(err) != statusValue {
					t.Errorf("status %d, want a value error", errorStatus(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v := p.view
			if p.n != tc.n || p.m != tc.m || v.rows != tc.n || v.cols != tc.m || v.colMajor != tc.colMajor || v.stride != tc.stride || !p.zeroCopy {
				t.Fatalf("plan %dx%d view %+v zeroCopy %v, want %dx%d colMajor %v stride %d", p.n, p.m, v, p.zeroCopy, tc.n, tc.m, tc.colMajor, tc.stride)
			}
			if v.span() != tc.n*tc.m {
				t.Errorf("span %d", v.span())
			}
			d := dense[float64](v)
			if at(d, 0, 0) != tc.first {
				t.Errorf("X[0, 0] = %v, want %v", at(d, 0, 0), tc.first)
			}
			if tc.m > 1 && at(d, 0, 1) != tc.x01 {
				t.Errorf("X[0, 1] = %v, want %v", at(d, 0, 1), tc.x01)
			}
			if tc.n > 1 && at(d, 1, 0) != tc.x10 {
				t.Errorf("X[1, 0] = %v, want %v", at(d, 1, 0), tc.x10)
			}
			// A misaligned buffer is copied in the same layout.
			buf := make([]float64, tc.n*tc.m)
			c := copyX(p, unsafe.Pointer(&buf[0]))
			if c.colMajor != v.colMajor || c.stride != v.stride || c.rows != v.rows || c.cols != v.cols {
				t.Errorf("copy %+v, view %+v", c, v)
			}
			dc := dense[float64](c)
			for i := range tc.n {
				for j := range tc.m {
					if at(dc, i, j) != at(d, i, j) {
						t.Fatalf("copy differs at (%d, %d)", i, j)
					}
				}
			}
		})
	}
}

// metadataBytes encodes ArrowSchema metadata: int32 count, then int32-length
// prefixed keys and values (native order; little endian here).
func metadataBytes(kv ...string) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(len(kv)/2))
	for _, s := range kv {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

func TestReadExtension(t *testing.T) {
	for _, tc := range []struct {
		name       string
		md         []byte
		extName    string
		extMeta    string
		err        string
		nilPointer bool
	}{
		{name: "no metadata", nilPointer: true},
		{name: "no pairs", md: metadataBytes()},
		{name: "tensor", md: metadataBytes("ARROW:extension:name", tensorExtension, "ARROW:extension:metadata", `{"shape":[2,3]}`),
			extName: tensorExtension, extMeta: `{"shape":[2,3]}`},
		{name: "other keys skipped", md: metadataBytes("pandas", "{}", "ARROW:extension:metadata", "", "ARROW:extension:name", "x"),
			extName: "x"},
		{name: "negative count", md: binary.LittleEndian.AppendUint32(nil, 0xffffffff), err: "bad length"},
		{name: "negative key length", md: binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 1), 0xfffffff0), err: "bad length"},
		{name: "huge value length", md: binary.LittleEndian.AppendUint32(append(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 1), 1), 'k'), 1<<30), err: "bad length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p *byte
			if !tc.nilPointer {
				p = &tc.md[0]
			}
			name, meta, err := readExtension(p)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || errorStatus(err) != statusValue {
					t.Fatalf("err = %v, want a value error with %q", err, tc.err)
				}
				return
			}
			if err != nil || name != tc.extName || meta != tc.extMeta {
				t.Fatalf("got %q %q %v, want %q %q", name, meta, err, tc.extName, tc.extMeta)
			}
		})
	}
}

// exportTensor exports one n x m tensor over vals (physical shape and
// permutation as given) the way pyarrow does: the storage array with the
// extension in the field metadata.
func exportTensor(t *testing.T, h *harness, vals []float64, meta string) *cpair {
	t.Helper()
	fsl := fslArray(h.in, arrow.PrimitiveTypes.Float64, 1, len(vals), vals)
	p := new(cpair)
	cdata.ExportArrowArray(fsl, &p.array, &p.schema)
	// cdata v17 exports field metadata only for the fields of a schema: take
	// the (C-allocated) metadata of such a field and hand it to X's schema,
	// whose release then frees it.
	md := arrow.NewMetadata([]string{"ARROW:extension:name", "ARROW:extension:metadata"}, []string{tensorExtension, meta})
	var tmp cdata.CArrowSchema
	cdata.ExportArrowSchema(arrow.NewSchema([]arrow.Field{{Name: "X", Type: fsl.DataType(), Nullable: true, Metadata: md}}, nil), &tmp)
	ts := (*cSchema)(unsafe.Pointer(&tmp))
	field := ts.child(0)
	p.s().metadata, field.metadata = field.metadata, p.s().metadata
	releaseSchema(ts)
	fsl.Release()
	return p
}

func TestFitTensor(t *testing.T) {
	n, m := 4, 3
	vals := seq(n * m)
	for _, tc := range []struct {
		name, meta, layout string
		xAt                func(i, j int) float64 // X[i, j] the engine must see
	}{
		{"row-major", `{"shape":[4,3]}`, "row_major", func(i, j int) float64 { return vals[i*m+j] }},
		{"column-major", `{"shape":[3,4],"permutation":[1,0]}`, "col_major", func(i, j int) float64 { return vals[j*n+i] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fe := &fakeEngine{}
			install[float64](t, fe)
			h := newHarness(t)
			x := exportTensor(t, h, vals, tc.meta)
			h.run(x, nil, nil, `{"n_components": 2}`)
			h.expectOK()
			if fe.x64.Rows != n || fe.x64.Cols != m {
				t.Fatalf("X view %dx%d, want %dx%d", fe.x64.Rows, fe.x64.Cols, n, m)
			}
			for i := range n {
				for j := range m {
					if got := fe.xAt[i*m+j]; got != tc.xAt(i, j) {
						t.Fatalf("X[%d, %d] = %v, want %v", i, j, got, tc.xAt(i, j))
					}
				}
			}
			if h.info["copied_input"] != false || h.info["layout"] != tc.layout {
				t.Errorf("info %v", h.info)
			}
			if r, c, _ := h.readW(); r != n || c != 2 {
				t.Errorf("W %dx%d", r, c)
			}
			if r, c, _ := h.readH(); r != 2 || c != m {
				t.Errorf("H %dx%d", r, c)
			}
			h.checkFreed()
		})
	}
	t.Run("bad metadata is a value error and releases X", func(t *testing.T) {
		fe := &fakeEngine{}
		install[float64](t, fe)
		h := newHarness(t)
		x := exportTensor(t, h, vals, `{"shape":[5,3]}`)
		h.run(x, nil, nil, `{"n_components": 2}`)
		h.expectError(statusValue, "invalid metadata")
	})
}
