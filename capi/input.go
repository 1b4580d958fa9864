package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
)

// dtype is the element type of a matrix.
type dtype int

const (
	dtNone dtype = iota
	f32
	f64
)

func (d dtype) size() int64 {
	if d == f32 {
		return 4
	}
	return 8
}

func (d dtype) String() string {
	switch d {
	case f32:
		return "float32"
	case f64:
		return "float64"
	}
	return "none"
}

func (d dtype) arrowType() arrow.DataType {
	if d == f32 {
		return arrow.PrimitiveTypes.Float32
	}
	return arrow.PrimitiveTypes.Float64
}

// maxElems bounds lengths and offsets so that no index or byte count
// computed from them can overflow an int64.
const maxElems = 1 << 48

func (s schemaInfo) dtype() dtype {
	if s.dictionary {
		return dtNone
	}
	switch s.format {
	case "g":
		return f64
	case "f":
		return f32
	}
	return dtNone
}

func (s schemaInfo) isFloat() bool { return s.dtype() != dtNone }

func isFixedSizeList(format string) bool { return strings.HasPrefix(format, "+w:") }

// listSize parses the list size of a "+w:N" format.
func listSize(format string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(format, "+w:"), 10, 32)
	if err != nil || n < 0 {
		return 0, invalidf("bad fixed_size_list format %q", format)
	}
	return int(n), nil
}

// matrix is a validated view of a matrix in memory that is not Go's (the
// caller's Arrow buffers or our mallocator). data points at element (0, 0).
type matrix struct {
	dt         dtype
	rows, cols int
	stride     int
	colMajor   bool
	data       unsafe.Pointer
}

// span is the number of elements from the first to one past the last.
func (m matrix) span() int {
	if m.colMajor {
		return (m.cols-1)*m.stride + m.rows
	}
	return (m.rows-1)*m.stride + m.cols
}

func (m matrix) layout() string {
	if m.colMajor {
		return "col_major"
	}
	return "row_major"
}

// column is one float column of a struct X: the address of its first used
// element and its type.
type column struct {
	dt  dtype
	ptr unsafe.Pointer
}

// xPlan is X after validation and before import: everything needed to build
// the view (or the copy) and the arrow type to import the array as.
type xPlan struct {
	n, m      int
	dt        dtype // dtype of the matrix the engine sees (float64 for mixed columns)
	cols      []column
	view      matrix // valid when zeroCopy
	zeroCopy  bool
	arrowType arrow.DataType
}

// planX validates X (schema already copied into s, array still in C) without
// importing it, and decides between the zero-copy view and the copy.
// arrow/go v17 trusts lengths, offsets and buffer counts, and crashes on
// zero-length arrays with sentinel buffers, so nothing reaches cdata unchecked.
func planX(s schemaInfo, a *cArray) (xPlan, error) {
	switch {
	case s.format == "+s" && !s.dictionary:
		return planStruct(s, a)
	case isFixedSizeList(s.format) && !s.dictionary && s.extName == tensorExtension:
		return planTensor(s, a)
	case isFixedSizeList(s.format) && !s.dictionary:
		return planFixedSizeList(s, a)
	}
	return xPlan{}, valueErrorf("X must be a struct (record batch) of float columns or a fixed_size_list<float> array, got type %s", s.typeName)
}

func planStruct(s schemaInfo, a *cArray) (xPlan, error) {
	m := len(s.children)
	// Types first, as scikit-learn converts to float before any other check.
	var p xPlan
	fields := make([]arrow.Field, m)
	for j, c := range s.children {
		dt := c.dtype()
		if dt == dtNone {
			return p, valueErrorf("could not convert column '%s' (type %s) to float: NMF needs numeric input", c.name, c.typeName)
		}
		if p.dt == dtNone {
			p.dt = dt
		} else if p.dt != dt {
			p.dt = f64 // mixed float32/float64: copied into float64
		}
		fields[j] = arrow.Field{Name: c.name, Type: dt.arrowType(), Nullable: true}
	}
	if err := checkNode(a, "X", 1, m); err != nil {
		return p, err
	}
	n := int(a.length)
	if err := checkEmpty(n, m); err != nil {
		return p, err
	}
	if nulls, err := hasNulls(a, a.offset, a.length); err != nil {
		return p, err
	} else if nulls {
		return p, valueErrorf("Input X contains NaN.")
	}
	p.n, p.m = n, m
	p.arrowType = arrow.StructOf(fields...)
	p.cols = make([]column, m)
	ptrs := make([]unsafe.Pointer, m)
	for j := range s.children {
		// A struct's offset applies to its children, on top of their own.
		ptr, err := checkValues(a.child(j), s.children[j].dtype(), a.offset, int64(n), fmt.Sprintf("column '%s'", s.children[j].name))
		if err != nil {
			return p, err
		}
		p.cols[j] = column{dt: s.children[j].dtype(), ptr: ptr}
		ptrs[j] = ptr
	}
	if mixed := p.dt == f64 && anyDtype(p.cols, f32); !mixed {
		if stride, ok := uniformStride(ptrs, n, p.dt.size()); ok {
			p.zeroCopy = true
			p.view = matrix{dt: p.dt, rows: n, cols: m, stride: stride, colMajor: true, data: ptrs[0]}
		}
	}
	return p, nil
}

func anyDtype(cols []column, dt dtype) bool {
	for _, c := range cols {
		if c.dt == dt {
			return true
		}
	}
	return false
}

func planFixedSizeList(s schemaInfo, a *cArray) (xPlan, error) {
	var p xPlan
	m, err := listSize(s.format)
	if err != nil {
		return p, err
	}
	if len(s.children) != 1 {
		return p, invalidf("fixed_size_list schema must have 1 child, has %d", len(s.children))
	}
	p.dt = s.children[0].dtype()
	if p.dt == dtNone {
		return p, valueErrorf("could not convert the values of X (type %s) to float: NMF needs numeric input", s.children[0].typeName)
	}
	if err := checkNode(a, "X", 1, 1); err != nil {
		return p, err
	}
	n := int(a.length)
	if err := checkEmpty(n, m); err != nil {
		return p, err
	}
	if nulls, err := hasNulls(a, a.offset, a.length); err != nil {
		return p, err
	} else if nulls {
		return p, valueErrorf("Input X contains NaN.")
	}
	if int64(m) > maxElems/(a.length+a.offset) {
		return p, invalidf("X is too large: %d rows of %d values", n, m)
	}
	ptr, err := checkValues(a.child(0), p.dt, a.offset*int64(m), int64(n)*int64(m), "the values of X")
	if err != nil {
		return p, err
	}
	p.n, p.m = n, m
	p.arrowType = arrow.FixedSizeListOf(int32(m), p.dt.arrowType())
	p.cols = []column{{dt: p.dt, ptr: ptr}}
	p.view = matrix{dt: p.dt, rows: n, cols: m, stride: m, data: ptr}
	p.zeroCopy = aligned(ptr, p.dt.size())
	return p, nil
}

// tensorExtension is the canonical extension name of a fixed_size_list that
// holds tensors of one shape.
const tensorExtension = "arrow.fixed_shape_tensor"

// tensorMeta is the JSON of ARROW:extension:metadata for fixed_shape_tensor.
// shape is the physical (row-major) shape of each tensor; permutation maps
// logical dimension i to physical dimension permutation[i], so a logical
// n x m matrix stored column by column has shape [m, n] and permutation [1, 0].
type tensorMeta struct {
	Shape       *[]int64 `json:"shape"`
	Permutation []int    `json:"permutation"`
	DimNames    []string `json:"dim_names"`
}

// planTensor plans an arrow.fixed_shape_tensor X: n tensors of shape [m]
// (the rows of X, as a plain fixed_size_list), or one tensor of shape
// [n, m] (row-major) or, with permutation [1, 0], physical shape [m, n]
// read as the n x m column-major matrix.
func planTensor(s schemaInfo, a *cArray) (xPlan, error) {
	var p xPlan
	bad := func(why string) error {
		return valueErrorf("X is an %s array with invalid metadata %q: %s", tensorExtension, s.extMeta, why)
	}
	var md tensorMeta
	if err := json.Unmarshal([]byte(s.extMeta), &md); err != nil {
		return p, bad(err.Error())
	}
	if md.Shape == nil {
		return p, bad("no shape")
	}
	shape := *md.Shape
	size, err := listSize(s.format)
	if err != nil {
		return p, err
	}
	total := int64(1)
	for _, d := range shape {
		if d < 0 || d > math.MaxInt32 {
			return p, bad(fmt.Sprintf("dimension %d", d))
		}
		total *= d // at most 2 dimensions get this far with a product checked below
		if total > math.MaxInt32 {
			return p, bad("the shape is larger than the list size")
		}
	}
	if total != int64(size) {
		return p, bad(fmt.Sprintf("shape %v holds %d values, the list size is %d", shape, total, size))
	}
	if md.DimNames != nil && len(md.DimNames) != len(shape) {
		return p, bad("dim_names does not match the shape")
	}
	perm := md.Permutation
	if perm != nil && len(perm) != len(shape) {
		return p, bad("permutation does not match the shape")
	}
	switch len(shape) {
	case 1:
		if perm != nil && perm[0] != 0 {
			return p, bad("permutation is not a permutation of [0]")
		}
		return planFixedSizeList(s, a) // n tensors of shape [m]: the rows
	case 2:
	default:
		return p, valueErrorf("NMF needs a 2-D matrix: a %s X must hold n tensors of shape (m,) or one tensor of shape (n, m), got tensors of %d dimensions", tensorExtension, len(shape))
	}
	colMajor := false
	switch {
	case perm == nil || (perm[0] == 0 && perm[1] == 1):
	case perm[0] == 1 && perm[1] == 0:
		colMajor = true
	default:
		return p, bad("permutation is not a permutation of [0, 1]")
	}
	if a.length != 1 {
		return p, valueErrorf("NMF needs a 2-D matrix: a %s X of 2-D tensors must hold exactly one, got %d of shape %v", tensorExtension, a.length, shape)
	}
	n, m := int(shape[0]), int(shape[1])
	if colMajor {
		n, m = m, n
	}
	if err := checkEmpty(n, m); err != nil {
		return p, err
	}
	if p, err = planFixedSizeList(s, a); err != nil {
		return p, err
	}
	p.n, p.m = n, m
	if colMajor {
		p.view = matrix{dt: p.dt, rows: n, cols: m, stride: n, colMajor: true, data: p.view.data}
	} else {
		p.view = matrix{dt: p.dt, rows: n, cols: m, stride: m, data: p.view.data}
	}
	return p, nil
}

// checkEmpty mirrors scikit-learn's check_array minimum sizes.
func checkEmpty(n, m int) error {
	if n == 0 {
		return valueErrorf("Found array with 0 sample(s) (shape=(0, %d)) while a minimum of 1 is required by NMF.", m)
	}
	if m == 0 {
		return valueErrorf("Found array with 0 feature(s) (shape=(%d, 0)) while a minimum of 1 is required by NMF.", n)
	}
	return nil
}

// checkNode validates the top of a nested array (struct or fixed_size_list):
// buffer and child counts, non-NULL pointers, sane length and offset.
func checkNode(a *cArray, what string, nBuffers, nChildren int) error {
	if a.nBuffers != int64(nBuffers) {
		return invalidf("%s has %d buffers, expected %d", what, a.nBuffers, nBuffers)
	}
	if a.nChildren != int64(nChildren) {
		return invalidf("%s has %d children in its array and %d in its schema", what, a.nChildren, nChildren)
	}
	if a.buffers == nil {
		return invalidf("%s has a NULL buffers pointer", what)
	}
	if nChildren > 0 && a.children == nil {
		return invalidf("%s has a NULL children pointer", what)
	}
	for j := 0; j < nChildren; j++ {
		if a.child(j) == nil {
			return invalidf("%s has a NULL child %d", what, j)
		}
	}
	if a.dictionary != nil {
		return invalidf("%s has an unexpected dictionary", what)
	}
	return checkExtent(a, what)
}

func checkExtent(a *cArray, what string) error {
	if a.length < 0 || a.offset < 0 || a.length > maxElems || a.offset > maxElems {
		return invalidf("%s has length %d and offset %d", what, a.length, a.offset)
	}
	if a.nullCount < -1 || a.nullCount > a.length {
		return invalidf("%s has null_count %d for length %d", what, a.nullCount, a.length)
	}
	return nil
}

// checkValues validates a primitive float array of which the elements
// [first, first+count) (counted from its own offset) are read, and returns the
// address of element first. count > 0.
func checkValues(c *cArray, dt dtype, first, count int64, what string) (unsafe.Pointer, error) {
	if c.nBuffers != 2 || c.nChildren != 0 || c.buffers == nil || c.dictionary != nil {
		return nil, invalidf("%s is not a valid %s array (%d buffers, %d children)", what, dt, c.nBuffers, c.nChildren)
	}
	if err := checkExtent(c, what); err != nil {
		return nil, err
	}
	if first+count > c.length {
		return nil, invalidf("%s has %d values, %d needed", what, c.length, first+count)
	}
	data := c.buffer(1)
	if data == nil {
		return nil, invalidf("%s has a NULL data buffer", what)
	}
	nulls, err := hasNulls(c, c.offset+first, count)
	if err != nil {
		return nil, err
	}
	if nulls {
		if what == "the values of X" || strings.HasPrefix(what, "column") {
			return nil, valueErrorf("Input X contains NaN.")
		}
		return nil, valueErrorf("Input contains NaN.")
	}
	return unsafe.Add(data, (c.offset+first)*dt.size()), nil
}

// hasNulls reports whether any of the bits [from, from+count) of a's
// validity bitmap is clear. null_count covers the whole array, which for a
// struct child can be more than the rows in use, so the bits are counted.
func hasNulls(a *cArray, from, count int64) (bool, error) {
	if a.nullCount == 0 || count == 0 {
		return false, nil
	}
	if a.nBuffers < 1 || a.buffers == nil {
		return false, invalidf("array with null_count %d has no validity buffer", a.nullCount)
	}
	validity := a.buffer(0)
	if validity == nil {
		if a.nullCount > 0 {
			return false, invalidf("array with null_count %d has a NULL validity buffer", a.nullCount)
		}
		// null_count -1 (unknown) and no bitmap: no nulls. Say so in the
		// struct (moved to us): cdata v17 refuses -1 without a bitmap, and
		// its error path then frees structs it does not own (a child, or the
		// moved top twice), which aborts the process. The spec allows a NULL
		// bitmap only with null_count 0 anyway.
		a.nullCount = 0
		return false, nil
	}
	return countSet((*byte)(validity), from, count) != count, nil
}

// countSet counts the set bits [from, from+count) of an LSB-first bitmap.
func countSet(bitmap *byte, from, count int64) int64 {
	var set int64
	end := from + count
	i := from
	for ; i < end && i%8 != 0; i++ {
		set += int64(bitAt(bitmap, i))
	}
	for ; i+8 <= end; i += 8 {
		set += int64(bits.OnesCount8(*(*byte)(unsafe.Add(unsafe.Pointer(bitmap), i/8))))
	}
	for ; i < end; i++ {
		set += int64(bitAt(bitmap, i))
	}
	return set
}

func bitAt(bitmap *byte, i int64) byte {
	return (*(*byte)(unsafe.Add(unsafe.Pointer(bitmap), i/8)) >> (i % 8)) & 1
}

func aligned(p unsafe.Pointer, size int64) bool { return uintptr(p)%uintptr(size) == 0 }

// uniformStride reports whether the columns, each of n elements of the given
// size, start at ptrs[0] + j*stride elements for one stride >= n: then they
// are one column-major matrix with that leading dimension (stride n for a
// pandas float block, more for a row slice of one). Pointers must be aligned
// for Go to address them as floats.
func uniformStride(ptrs []unsafe.Pointer, n int, size int64) (int, bool) {
	if len(ptrs) == 0 || !aligned(ptrs[0], size) {
		return 0, false
	}
	if len(ptrs) == 1 {
		return n, true
	}
	base := uintptr(ptrs[0])
	if uintptr(ptrs[1]) <= base {
		return 0, false
	}
	step := uintptr(ptrs[1]) - base
	if step%uintptr(size) != 0 || step/uintptr(size) < uintptr(n) {
		return 0, false
	}
	for j := 2; j < len(ptrs); j++ {
		if uintptr(ptrs[j]) != base+uintptr(j)*step {
			return 0, false
		}
	}
	return int(step / uintptr(size)), true
}

// copyX copies X into dst, a column-major n x m buffer of p.dt (struct X) or
// one in the view's layout (fixed_size_list or tensor X with misaligned
// values). Bytes are
// copied, so source alignment does not matter.
func copyX(p xPlan, dst unsafe.Pointer) matrix {
	if p.arrowType.ID() == arrow.FIXED_SIZE_LIST {
		// One contiguous run of values, copied as it is: the copy keeps the
		// view's layout (row-major, or column-major for a permuted tensor).
		nbytes := int64(p.n) * int64(p.m) * p.dt.size()
		copy(unsafe.Slice((*byte)(dst), nbytes), unsafe.Slice((*byte)(p.cols[0].ptr), nbytes))
		v := p.view
		v.data = dst
		return v
	}
	colBytes := int64(p.n) * p.dt.size()
	var scratch []float32
	for j, c := range p.cols {
		out := unsafe.Add(dst, int64(j)*colBytes)
		if c.dt == p.dt {
			copy(unsafe.Slice((*byte)(out), colBytes), unsafe.Slice((*byte)(c.ptr), colBytes))
			continue
		}
		// float32 column into a float64 matrix.
		if scratch == nil {
			scratch = make([]float32, p.n)
		}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&scratch[0])), 4*p.n), unsafe.Slice((*byte)(c.ptr), 4*p.n))
		col := unsafe.Slice((*float64)(out), p.n)
		for i, v := range scratch {
			col[i] = float64(v)
		}
	}
	return matrix{dt: p.dt, rows: p.n, cols: p.m, stride: p.n, colMajor: true, data: dst}
}

// factor is a validated initial W or H: rows x cols, row-major, in C memory.
type factor struct {
	rows, cols int
	dt         dtype
	data       unsafe.Pointer
}

// planFactor validates an initial W or H given as fixed_size_list<float>[cols].
func planFactor(name string, s schemaInfo, a *cArray) (factor, error) {
	var f factor
	if !isFixedSizeList(s.format) || s.dictionary || len(s.children) != 1 || !s.children[0].isFloat() {
		return f, valueErrorf("input %s must be a fixed_size_list<float32|float64> array, got type %s", name, s.typeName)
	}
	cols, err := listSize(s.format)
	if err != nil {
		return f, err
	}
	what := "input " + name
	if err := checkNode(a, what, 1, 1); err != nil {
		return f, err
	}
	f = factor{rows: int(a.length), cols: cols, dt: s.children[0].dtype()}
	if f.rows == 0 || f.cols == 0 {
		return f, nil // the shape check reports it
	}
	if nulls, err := hasNulls(a, a.offset, a.length); err != nil {
		return f, err
	} else if nulls {
		return f, valueErrorf("Input contains NaN.")
	}
	if int64(cols) > maxElems/(a.length+a.offset) {
		return f, invalidf("%s is too large", what)
	}
	f.data, err = checkValues(a.child(0), f.dt, a.offset*int64(cols), a.length*int64(cols), what)
	return f, err
}

// checkShape mirrors scikit-learn's _check_init shape message.
func (f factor) checkShape(name string, rows, cols int) error {
	if f.rows != rows || f.cols != cols {
		return valueErrorf("Array with wrong shape passed to NMF (input %s). Expected (%d, %d), but got (%d, %d).", name, rows, cols, f.rows, f.cols)
	}
	return nil
}

// copyTo copies the factor into dst (row-major, same shape and dtype).
func (f factor) copyTo(dst []byte) {
	copy(dst, unsafe.Slice((*byte)(f.data), int64(f.rows)*int64(f.cols)*f.dt.size()))
}

func invalidf(format string, args ...any) error {
	return valueErrorf("invalid Arrow input: "+format, args...)
}
