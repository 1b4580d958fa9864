package main

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/cdata"
)

// Hand-built C structs in Go memory, for what cdata's exporter cannot produce
// (zero-length sentinels, broken counts). Nothing here is ever released.

func prim(vals []float64, validity []byte, nullCount, offset, length int64) *cArray {
	bufs := []unsafe.Pointer{nil, nil}
	if validity != nil {
		bufs[0] = unsafe.Pointer(&validity[0])
	}
	if len(vals) > 0 {
		bufs[1] = unsafe.Pointer(&vals[0])
	}
	return &cArray{length: length, nullCount: nullCount, offset: offset, nBuffers: 2, buffers: &bufs[0]}
}

func node(length, offset int64, kids ...*cArray) *cArray {
	bufs := []unsafe.Pointer{nil}
	a := &cArray{length: length, offset: offset, nBuffers: 1, buffers: &bufs[0], nChildren: int64(len(kids))}
	if len(kids) > 0 {
		a.children = &kids[0]
	}
	return a
}

func structSchema(n int) schemaInfo {
	s := schemaInfo{format: "+s"}
	for j := 0; j < n; j++ {
		s.children = append(s.children, schemaInfo{format: "g", name: colName(j)})
	}
	return s
}

func TestPlanX(t *testing.T) {
	vals := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	allValid := []byte{0xff}
	for _, tc := range []struct {
		name     string
		s        schemaInfo
		a        *cArray
		err      string
		zeroCopy bool
		stride   int
	}{
		{"adjacent columns", structSchema(2), node(4, 0, prim(vals[:4], nil, 0, 0, 4), prim(vals[4:], nil, 0, 0, 4)), "", true, 4},
		{"child offsets adjacent", structSchema(2), node(3, 0, prim(vals, nil, 0, 1, 3), prim(vals, nil, 0, 4, 3)), "", true, 3},
		{"parent offset", structSchema(2), node(2, 1, prim(vals, nil, 0, 0, 4), prim(vals, nil, 0, 4, 4)), "", true, 4},
		{"reversed columns copy", structSchema(2), node(4, 0, prim(vals[4:], nil, 0, 0, 4), prim(vals[:4], nil, 0, 0, 4)), "", false, 0},
		{"overlapping columns copy", structSchema(2), node(4, 0, prim(vals, nil, 0, 0, 4), prim(vals, nil, 0, 2, 4)), "", false, 0},
		{"unknown null count, no bitmap", structSchema(1), node(4, 0, prim(vals, nil, -1, 0, 4)), "", true, 4},
		{"unknown null count, all valid", structSchema(1), node(4, 0, prim(vals, allValid, -1, 0, 4)), "", true, 4},
		{"null outside the slice", structSchema(1), node(3, 1, prim(vals, []byte{0xfe}, 1, 0, 4)), "", true, 3},
		{"null inside the slice", structSchema(1), node(3, 0, prim(vals, []byte{0xfd}, 1, 0, 4)), "Input X contains NaN.", false, 0},
		{"null count without bitmap", structSchema(1), node(3, 0, prim(vals, nil, 1, 0, 4)), "NULL validity buffer", false, 0},
		{"zero columns", structSchema(0), node(5, 0), "Found array with 0 feature(s) (shape=(5, 0))", false, 0},
		// polars exports empty arrays with dangling/NULL buffers: nothing is read.
		{"zero rows, NULL buffers", structSchema(2), node(0, 0, &cArray{nBuffers: 2}, &cArray{nBuffers: 2}), "Found array with 0 sample(s) (shape=(0, 2))", false, 0},
		{"child count mismatch", structSchema(2), node(4, 0, prim(vals, nil, 0, 0, 4)), "1 children in its array and 2 in its schema", false, 0},
		{"NULL child", structSchema(1), node(4, 0, nil), "NULL child 0", false, 0},
		{"child too short", structSchema(1), node(4, 1, prim(vals, nil, 0, 0, 4)), "has 4 values, 5 needed", false, 0},
		{"NULL data", structSchema(1), node(4, 0, prim(nil, nil, 0, 0, 4)), "NULL data buffer", false, 0},
		{"bad null count", structSchema(1), node(4, 0, prim(vals, nil, 9, 0, 4)), "null_count 9", false, 0},
		{"dictionary column", schemaInfo{format: "+s", children: []schemaInfo{{format: "g", name: "d", dictionary: true, typeName: "dictionary<values=double, indices=int32>"}}},
			node(4, 0, prim(vals, nil, 0, 0, 4)), "could not convert column 'd' (type dictionary<values=double, indices=int32>)", false, 0},
		{"fsl", schemaInfo{format: "+w:2", children: []schemaInfo{{format: "g"}}}, node(3, 1, prim(vals, nil, 0, 0, 8)), "", true, 2},
		{"fsl values short", schemaInfo{format: "+w:3", children: []schemaInfo{{format: "g"}}}, node(3, 0, prim(vals, nil, 0, 0, 8)), "has 8 values, 9 needed", false, 0},
		{"fsl zero width", schemaInfo{format: "+w:0", children: []schemaInfo{{format: "g"}}}, node(3, 0, prim(nil, nil, 0, 0, 0)), "0 feature(s) (shape=(3, 0))", false, 0},
		{"fsl bad format", schemaInfo{format: "+w:x", children: []schemaInfo{{format: "g"}}}, node(3, 0, prim(vals, nil, 0, 0, 8)), "bad fixed_size_list format", false, 0},
		{"fsl int values", schemaInfo{format: "+w:2", children: []schemaInfo{{format: "l", typeName: "int64"}}}, node(3, 0, prim(vals, nil, 0, 0, 8)), "values of X (type int64)", false, 0},
		{"fsl huge", schemaInfo{format: "+w:2000000000", children: []schemaInfo{{format: "g"}}}, node(1<<30, 0, prim(vals, nil, 0, 0, 8)), "too large", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := planX(tc.s, tc.a)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if errorStatus(err) != statusValue {
					t.Errorf("status %d", errorStatus(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.zeroCopy != tc.zeroCopy || (tc.zeroCopy && p.view.stride != tc.stride) {
				t.Errorf("zeroCopy %v stride %d, want %v %d", p.zeroCopy, p.view.stride, tc.zeroCopy, tc.stride)
			}
		})
	}
}

func TestParentOffsetView(t *testing.T) {
	vals := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	p, err := planX(structSchema(2), node(2, 1, prim(vals, nil, 0, 0, 4), prim(vals, nil, 0, 4, 4)))
	if err != nil {
		t.Fatal(err)
	}
	d := dense[float64](p.view)
	if at(d, 0, 0) != 2 || at(d, 1, 0) != 3 || at(d, 0, 1) != 6 || at(d, 1, 1) != 7 || len(d.Data) != 6 {
		t.Errorf("view %+v", d)
	}
	buf := make([]float64, 4)
	p.cols[0].ptr = unsafe.Pointer(&vals[1])
	c := copyX(p, unsafe.Pointer(&buf[0]))
	if buf[0] != 2 || buf[1] != 3 || buf[2] != 6 || buf[3] != 7 || !c.colMajor {
		t.Errorf("copy %v", buf)
	}
}

func TestUniformStride(t *testing.T) {
	buf := make([]float64, 64)
	p := func(i int) unsafe.Pointer { return unsafe.Pointer(&buf[i]) }
	odd := unsafe.Add(p(0), 4)
	for _, tc := range []struct {
		name   string
		ptrs   []unsafe.Pointer
		n      int
		stride int
		ok     bool
	}{
		{"one column", []unsafe.Pointer{p(3)}, 10, 10, true},
		{"adjacent", []unsafe.Pointer{p(0), p(5), p(10), p(15)}, 5, 5, true},
		{"strided", []unsafe.Pointer{p(0), p(8), p(16)}, 5, 8, true},
		{"overlap", []unsafe.Pointer{p(0), p(3)}, 5, 0, false},
		{"irregular", []unsafe.Pointer{p(0), p(5), p(11)}, 5, 0, false},
		{"reversed", []unsafe.Pointer{p(5), p(0)}, 5, 0, false},
		{"same", []unsafe.Pointer{p(0), p(0)}, 5, 0, false},
		{"misaligned", []unsafe.Pointer{odd}, 5, 0, false},
		{"not a multiple", []unsafe.Pointer{p(0), unsafe.Add(p(5), 4)}, 5, 0, false},
	} {
		stride, ok := uniformStride(tc.ptrs, tc.n, 8)
		if ok != tc.ok || stride != tc.stride {
			t.Errorf("%s: got %d %v, want %d %v", tc.name, stride, ok, tc.stride, tc.ok)
		}
	}
}

func TestCountSet(t *testing.T) {
	bm := []byte{0b10110101, 0xff, 0x00, 0b00000001}
	naive := func(from, count int64) int64 {
		var n int64
		for i := from; i < from+count; i++ {
			n += int64(bm[i/8] >> (i % 8) & 1)
		}
		return n
	}
	for from := int64(0); from < 32; from++ {
		for count := int64(0); from+count <= 32; count++ {
			if got, want := countSet(&bm[0], from, count), naive(from, count); got != want {
				t.Fatalf("countSet(%d, %d) = %d, want %d", from, count, got, want)
			}
		}
	}
}

func TestReadSchema(t *testing.T) {
	f := fslArray(newMem(), arrowFloat32(), 2, 3, seq(6))
	p := export(t, f)
	defer releaseArray(p.a())
	defer releaseSchema(p.s())
	s, err := readSchema(p.s())
	if err != nil {
		t.Fatal(err)
	}
	if s.format != "+w:3" || len(s.children) != 1 || s.children[0].format != "f" || s.children[0].name != "item" {
		t.Errorf("schema %+v", s)
	}
	if unsafe.Sizeof(cdata.CArrowArray{}) != unsafe.Sizeof(cArray{}) || unsafe.Sizeof(cdata.CArrowSchema{}) != unsafe.Sizeof(cSchema{}) {
		t.Errorf("mirror sizes differ from cdata's")
	}
}
