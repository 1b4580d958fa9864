package main

import (
	"encoding/binary"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"testing"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/cdata"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/arrow/memory/mallocator"
	"github.com/gonmf/gonmf/nmf"
)

// FuzzImportArrow fuzzes the shape of the ArrowSchema/ArrowArray structs a
// caller hands to gonmf_fit. A fuzz input decodes to a fuzzCase (X, and
// optionally W and H, each a schema tree and an array tree with arbitrary
// formats, lengths, offsets, null counts, buffer and child counts and NULL,
// real, misaligned or dangling buffers), which is then built twice in C memory:
//
//  1. without release callbacks, where even what a release callback could not
//     survive is allowed (NULL children arrays, NULL child pointers), and
//     handed to the validation entry points readSchema, planX and planFactor;
//  2. if the description is one a producer could release, with real release
//     callbacks (cdata's exporter's, tied to a counted allocation), and handed
//     to fitCall.do, the whole of gonmf_fit, with a fake engine.
//
// What the fuzzer may not do is lie about the size of memory validation
// cannot measure: a non-NULL buffer is at least as large as the array's
// length and offset imply (else it is NULL, or a dangling sentinel when that
// size is 0), and a children array holds n_children pointers. Everything else
// is fair: negative and huge values, overflowing products, counts that do not
// match the format or each other, NULL buffers with nonzero lengths.
//
// Checked: no panic; errors are ValueError or TypeError (never an internal
// error, which is how a failed import after validation or a recovered panic
// shows); every input's release callback has run, once (a second run of
// cdata's callback on the same handle would crash); outputs are written only
// on success and free all their memory when released.
func FuzzImportArrow(f *testing.F) {
	seeds := importSeeds()
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		f.Add(encodeCase(seeds[name]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c fuzzCase
		c.code(decoder(data))
		runImportCase(t, &c)
	})
}

// fuzzCase is one gonmf_fit call's inputs.
type fuzzCase struct {
	x, w, h fuzzInput
	params  byte // index into fuzzParamSets
	ctl     bool
}

// fuzzInput is one input: a schema tree, an array tree and how the pair is passed.
type fuzzInput struct {
	mode byte // inLive, inAbsent, ...
	s    schDesc
	a    arrDesc
}

const (
	inLive           = iota // both structs, live
	inAbsent                // both pointers NULL
	inSchemaNull            // schema pointer NULL
	inArrayNull             // array pointer NULL
	inSchemaReleased        // schema already released
	inArrayReleased         // array already released
	numInModes
)

// schDesc describes an ArrowSchema node.
type schDesc struct {
	format, name string
	flags        int64
	children     []schDesc
	lie          byte // lieNone...
	dict         bool
}

// arrDesc describes an ArrowArray node.
type arrDesc struct {
	length, offset, nullCount, nBuffers int64
	buffersNull                         bool
	bufs                                [3]bufDesc
	children                            []arrDesc
	lie                                 byte
	pack                                byte // packNone...: where the children's data buffers live
	dict                                bool
}

// bufDesc describes buffer i of an array.
type bufDesc struct {
	kind byte // bufNull...
	fill byte // validity bitmap bytes; data is filled with float(fill) (1 if 0)
}

const (
	bufNull = iota
	bufReal
	bufSentinel   // a dangling pointer, as polars exports for zero-length buffers; NULL if the size is not 0
	bufMisaligned // real, 4 bytes off 8-byte alignment
	numBufKinds
)

const (
	lieNone          = iota
	lieNegative      // n_children = -1, children NULL
	lieChildrenNull  // n_children = len(children), children NULL (not releasable)
	lieFirstChildNil // children[0] = NULL (not releasable)
	numLies
)

const (
	packNone     = iota
	packAdjacent // children's data buffers at a uniform stride in one block (a pandas float block)
	packReversed // the same block, columns in reverse order
	numPacks
)

// fuzzFormats are the formats a format byte picks; others are spelled out.
var fuzzFormats = []string{
	"g", "f", "+s", "+w:1", "+w:2", "+w:3", "+w:0", "+w:-1", "+w:99999999999", "+w:2147483648",
	"+w:2147483647", "+w:", "u", "l", "", "e", "+l", "+w:3x", "+w:+3", "tss", "w:4", "d:1",
	"+us:0,1", "n", "+m", "+r", "b", "z", "+w:1000", "tsn:", "+w:00", "gg", "+ud:",
}

var fuzzParamSets = []string{
	"", // NULL params_json
	`{}`,
	`{"n_components": 2}`,
	`{"init": "custom", "n_components": 2}`,
	`{"update_H": false}`,
	`{"init": "custom"}`,
	`{"update_H": false, "n_components": 1}`,
	`{"n_components": null}`,
	`{"n_components": 1, "max_iter": 1}`,
	`{"n_components": 0}`,
}

func (c *fuzzCase) code(k *codec) {
	c.x.code(k)
	c.w.code(k)
	c.h.code(k)
	k.u8(&c.params)
	k.bool(&c.ctl)
}

func (in *fuzzInput) code(k *codec) {
	k.u8(&in.mode)
	in.mode %= numInModes
	if in.mode == inAbsent {
		return
	}
	in.s.code(k, 0)
	in.a.code(k, 0)
}

const maxDepth = 2
const maxKids = 6

func (s *schDesc) code(k *codec, depth int) {
	tag := byte(255)
	for i, f := range fuzzFormats {
		if k.enc && s.format == f {
			tag = byte(i)
		}
	}
	k.u8(&tag)
	if int(tag) < len(fuzzFormats) {
		s.format = fuzzFormats[tag]
	} else {
		k.str(&s.format)
	}
	k.str(&s.name)
	k.int(&s.flags)
	k.u8(&s.lie)
	s.lie %= numLies
	k.bool(&s.dict)
	n := byte(len(s.children))
	if depth >= maxDepth {
		n = 0
	}
	k.u8(&n)
	n %= maxKids + 1
	if depth >= maxDepth {
		n = 0
	}
	if !k.enc {
		s.children = make([]schDesc, n)
	}
	for i := range s.children {
		s.children[i].code(k, depth+1)
	}
}

func (a *arrDesc) code(k *codec, depth int) {
	k.int(&a.length)
	k.int(&a.offset)
	k.int(&a.nullCount)
	k.int(&a.nBuffers)
	k.bool(&a.buffersNull)
	for i := range a.bufs {
		k.u8(&a.bufs[i].kind)
		a.bufs[i].kind %= numBufKinds
		k.u8(&a.bufs[i].fill)
	}
	k.u8(&a.lie)
	a.lie %= numLies
	k.u8(&a.pack)
	a.pack %= numPacks
	k.bool(&a.dict)
	n := byte(len(a.children))
	k.u8(&n)
	n %= maxKids + 1
	if depth >= maxDepth {
		n = 0
	}
	if !k.enc {
		a.children = make([]arrDesc, n)
	}
	for i := range a.children {
		a.children[i].code(k, depth+1)
	}
}

func encodeCase(c fuzzCase) []byte {
	k := encoder()
	c.code(k)
	return k.buf
}

// releasable reports whether a producer's release callback could walk the
// tree (cdata's exporter walks children arrays and frees children[0]).
func (s *schDesc) releasable() bool {
	// cdata's schema release walks children unless n_children == 0: a
	// negative count is not releasable either.
	if s.lie == lieChildrenNull || s.lie == lieNegative || s.lie == lieFirstChildNil && len(s.children) > 0 {
		return false
	}
	for i := range s.children {
		if !s.children[i].releasable() {
			return false
		}
	}
	return true
}

func (a *arrDesc) releasable() bool {
	if a.lie == lieChildrenNull || a.lie == lieFirstChildNil && len(a.children) > 0 {
		return false
	}
	for i := range a.children {
		if !a.children[i].releasable() {
			return false
		}
	}
	return true
}

func (c *fuzzCase) releasable() bool {
	for _, in := range []*fuzzInput{&c.x, &c.w, &c.h} {
		if in.mode != inAbsent && (!in.s.releasable() || !in.a.releasable()) {
			return false
		}
	}
	return true
}

// --- building the structs ---------------------------------------------------

// maxBuffer bounds a real buffer: a larger one is built NULL instead.
const maxBuffer = 1 << 20

// cbuilder allocates the structs in C memory. Blocks a release callback frees
// (with C.free) are not recorded; the rest are freed by free().
type cbuilder struct {
	mem    *mallocator.Mallocator // C memory for structs and buffers (its count is not kept exact)
	tok    *mallocator.Mallocator // the release tokens' memory: 0 once every callback ran
	owned  [][]byte
	orphan []*cSchema // schema dictionaries of leaves, which cdata's schema release neither releases nor frees
}

func newCBuilder() *cbuilder {
	return &cbuilder{mem: mallocator.NewMallocator(), tok: mallocator.NewMallocator()}
}

func (b *cbuilder) alloc(n int64, owned bool) unsafe.Pointer {
	s := b.mem.Allocate(int(max(n, 1)))
	if owned {
		b.owned = append(b.owned, s)
	}
	return unsafe.Pointer(&s[0])
}

// cfree frees a block the C way (as a release callback does).
func (b *cbuilder) cfree(p unsafe.Pointer) {
	if p != nil {
		b.mem.Free(unsafe.Slice((*byte)(p), 1))
	}
}

func (b *cbuilder) free() {
	for _, s := range b.orphan {
		releaseSchema(s)
	}
	for _, s := range b.owned {
		b.mem.Free(s)
	}
	b.owned, b.orphan = nil, nil
}

// token returns a release callback and private_data: cdata's exporter's, for a
// one-element array allocated from b.tok. The callback frees the struct's
// buffers array (if n_buffers > 0), releases and frees its dictionary and
// children (children[0] being the block of child structs), and drops the
// handle, which frees the token's memory. A second run on the same handle
// panics inside a C callback: a crash the fuzzer reports.
func (b *cbuilder) token() (release, priv unsafe.Pointer) {
	buf := memory.NewResizableBuffer(b.tok)
	buf.Resize(8)
	d := array.NewData(arrow.PrimitiveTypes.Float64, 1, []*memory.Buffer{nil, buf}, nil, 0, 0)
	arr := array.MakeFromData(d)
	d.Release()
	buf.Release()
	var tmp cdata.CArrowArray
	cdata.ExportArrowArray(arr, &tmp, nil)
	arr.Release()
	t := (*cArray)(unsafe.Pointer(&tmp))
	b.cfree(unsafe.Pointer(t.buffers)) // only the callback and the handle are kept
	return t.release, t.privateData
}

// cstring copies s NUL-terminated into C memory.
func (b *cbuilder) cstring(s string, owned bool) *byte {
	p := b.alloc(int64(len(s))+1, owned)
	copy(unsafe.Slice((*byte)(p), len(s)), s)
	return (*byte)(p)
}

var schemaRelease unsafe.Pointer // cdata's exporter's schema release callback

func (b *cbuilder) schemaReleaseFn() unsafe.Pointer {
	if schemaRelease == nil {
		var tmp cdata.CArrowSchema
		cdata.ExportArrowSchema(arrow.NewSchema(nil, nil), &tmp)
		schemaRelease = (*cSchema)(unsafe.Pointer(&tmp)).release
		cdata.ReleaseCArrowSchema(&tmp)
	}
	return schemaRelease
}

// schema fills dst. live: dst gets cdata's release callback, which frees the
// strings and (n_children > 0) the children and the dictionary.
func (b *cbuilder) schema(d *schDesc, dst *cSchema, live bool) {
	dst.format = b.cstring(d.format, !live)
	dst.name = b.cstring(d.name, !live)
	dst.flags = d.flags
	n := int64(len(d.children))
	// cdata's schema release frees children and dictionary only when n_children > 0.
	kidsFreed := live && n > 0 && d.lie != lieNegative
	switch d.lie {
	case lieNegative:
		dst.nChildren = -1
	case lieChildrenNull:
		dst.nChildren = n
	default:
		dst.nChildren = n
		if n > 0 {
			size := int64(unsafe.Sizeof(cSchema{}))
			block := b.alloc(n*size, !kidsFreed)
			ptrs := b.alloc(n*8, !kidsFreed)
			for i := range d.children {
				kid := (*cSchema)(unsafe.Add(block, int64(i)*size))
				b.schema(&d.children[i], kid, live)
				if !(d.lie == lieFirstChildNil && i == 0) {
					*(**cSchema)(unsafe.Add(ptrs, i*8)) = kid
				}
			}
			dst.children = (**cSchema)(ptrs)
		}
	}
	if d.dict {
		dict := (*cSchema)(b.alloc(int64(unsafe.Sizeof(cSchema{})), !kidsFreed))
		b.schema(&schDesc{format: "u", name: "dict"}, dict, live)
		if live && !kidsFreed {
			b.orphan = append(b.orphan, dict)
		}
		dst.dictionary = dict
	}
	if live {
		dst.release = b.schemaReleaseFn()
	}
}

// implied is the size in bytes that buffer i of a has at least for a
// producer: the validity bitmap and the data (8 bytes an element, enough for
// either float type) cover offset+length elements. ok is false when it
// cannot be a real allocation.
func implied(a *arrDesc, i int) (size int64, ok bool) {
	if a.length < 0 || a.offset < 0 {
		return 0, true // validation must refuse before reading anything
	}
	if a.length > maxBuffer || a.offset > maxBuffer {
		return 0, false
	}
	n := a.length + a.offset
	switch i {
	case 0:
		size = (n + 7) / 8
	case 1:
		size = 8 * n
	default:
		size = 64
	}
	return size, size <= maxBuffer
}

// buffer makes buffer i of a (always owned: release callbacks never free data).
func (b *cbuilder) buffer(a *arrDesc, i int, packed unsafe.Pointer) unsafe.Pointer {
	bd := a.bufs[i]
	size, ok := implied(a, i)
	switch {
	case bd.kind == bufNull || !ok:
		return nil
	case bd.kind == bufSentinel:
		if size != 0 {
			return nil
		}
		return sentinel()
	case i == 1 && packed != nil && bd.kind == bufReal:
		return packed
	}
	p := b.alloc(size+8, true)
	if bd.kind == bufMisaligned {
		p = unsafe.Add(p, 4)
	}
	if i == 1 {
		fillFloats(p, size, bd.fill)
	} else {
		bs := unsafe.Slice((*byte)(p), size)
		for j := range bs {
			bs[j] = bd.fill
		}
	}
	return p
}

// sentinel is the dangling, aligned, non-NULL address polars exports for
// empty buffers (Rust's NonNull::dangling()); reading it faults.
func sentinel() unsafe.Pointer {
	addr := uintptr(8)
	return *(*unsafe.Pointer)(unsafe.Pointer(&addr))
}

func fillFloats(p unsafe.Pointer, size int64, fill byte) {
	v := float64(fill)
	if fill == 0 {
		v = 1
	}
	bs := unsafe.Slice((*byte)(p), size) // bytes: p may be misaligned
	for j := int64(0); j+8 <= size; j += 8 {
		binary.LittleEndian.PutUint64(bs[j:], math.Float64bits(v))
	}
}

// array fills dst; with live set it gets a token's release callback, and the
// blocks that callback frees are not owned.
func (b *cbuilder) array(d *arrDesc, dst *cArray, live bool, packed unsafe.Pointer) {
	dst.length, dst.offset, dst.nullCount, dst.nBuffers = d.length, d.offset, d.nullCount, d.nBuffers
	if !d.buffersNull {
		slots := min(max(d.nBuffers, 3), 8)
		bufs := b.alloc(slots*8, !(live && d.nBuffers > 0))
		for i := range d.bufs {
			var pk unsafe.Pointer
			if i == 1 {
				pk = packed
			}
			*(*unsafe.Pointer)(unsafe.Add(bufs, i*8)) = b.buffer(d, i, pk)
		}
		dst.buffers = (*unsafe.Pointer)(bufs)
	}
	n := int64(len(d.children))
	kidsFreed := live && n > 0 && d.lie != lieNegative
	switch d.lie {
	case lieNegative:
		dst.nChildren = -1
	case lieChildrenNull:
		dst.nChildren = n
	default:
		dst.nChildren = n
		if n > 0 {
			packs := b.packChildren(d)
			size := int64(unsafe.Sizeof(cArray{}))
			block := b.alloc(n*size, !kidsFreed)
			ptrs := b.alloc(n*8, !kidsFreed)
			for i := range d.children {
				kid := (*cArray)(unsafe.Add(block, int64(i)*size))
				b.array(&d.children[i], kid, live, packs[i])
				if !(d.lie == lieFirstChildNil && i == 0) {
					*(**cArray)(unsafe.Add(ptrs, i*8)) = kid
				}
			}
			dst.children = (**cArray)(ptrs)
		}
	}
	if d.dict {
		// cdata's array release always releases and frees the dictionary.
		dict := (*cArray)(b.alloc(int64(unsafe.Sizeof(cArray{})), !live))
		b.array(&arrDesc{buffersNull: true}, dict, live, nil)
		dst.dictionary = dict
	}
	if live {
		dst.release, dst.privateData = b.token()
	}
}

// packChildren lays the children's data buffers out in one block at a
// uniform stride (the largest implied size), as pandas does for a float
// block, when d.pack asks for it.
func (b *cbuilder) packChildren(d *arrDesc) []unsafe.Pointer {
	packs := make([]unsafe.Pointer, len(d.children))
	if d.pack == packNone {
		return packs
	}
	var stride int64
	for i := range d.children {
		size, ok := implied(&d.children[i], 1)
		if !ok {
			return packs
		}
		stride = max(stride, size)
	}
	if stride == 0 || stride*int64(len(d.children)) > maxBuffer {
		return packs
	}
	block := b.alloc(stride*int64(len(d.children)), true)
	fillFloats(block, stride*int64(len(d.children)), 3)
	for i := range packs {
		j := i
		if d.pack == packReversed {
			j = len(packs) - 1 - i
		}
		packs[i] = unsafe.Add(block, int64(j)*stride)
	}
	return packs
}

// --- running a case ---------------------------------------------------------

func runImportCase(t *testing.T, c *fuzzCase) {
	validateOnly(t, c)
	if c.releasable() {
		readLive(t, c)
		fullCall(t, c)
	}
}

// readLive checks that reading a live schema releases nothing: readSchema
// still reads the tree afterwards, the caller releases the top, and a
// consumer must never release children (the producer's top release does).
func readLive(t *testing.T, c *fuzzCase) {
	b := newCBuilder()
	defer b.free()
	for _, in := range []*fuzzInput{&c.x, &c.w, &c.h} {
		if in.mode == inAbsent {
			continue
		}
		s := new(cSchema)
		b.schema(&in.s, s, true)
		_, err := readSchema(s)
		if s.release == nil {
			t.Fatalf("readSchema released the schema it reads (format %q, err %v)", in.s.format, err)
		}
		if path := releasedNode(s, "schema"); path != "" {
			t.Errorf("readSchema released %s (format %q, err %v)", path, in.s.format, err)
		}
		releaseSchema(s)
	}
}

// releasedNode finds a released node below s (s itself live).
func releasedNode(s *cSchema, path string) string {
	for i := int64(0); i < s.nChildren && s.children != nil; i++ {
		c := s.child(int(i))
		p := path + ".children[" + strconv.FormatInt(i, 10) + "]"
		if c.release == nil {
			return p
		}
		if r := releasedNode(c, p); r != "" {
			return r
		}
	}
	if d := s.dictionary; d != nil && d.release == nil {
		return path + ".dictionary"
	}
	return ""
}

// validateOnly drives the validation entry points on structs without
// release callbacks.
func validateOnly(t *testing.T, c *fuzzCase) {
	b := newCBuilder()
	defer b.free()
	for _, in := range []*fuzzInput{&c.x, &c.w, &c.h} {
		if in.mode == inAbsent {
			continue
		}
		p := new(cpair)
		b.schema(&in.s, p.s(), false)
		b.array(&in.a, p.a(), false, nil)
		s, err := readSchema(p.s())
		if err != nil {
			expectValueError(t, "readSchema", err)
			continue
		}
		if in == &c.x {
			plan, err := planX(s, p.a())
			if err != nil {
				expectValueError(t, "planX", err)
				continue
			}
			checkPlan(t, plan, p.a())
			continue
		}
		fac, err := planFactor("W", s, p.a())
		if err != nil {
			expectValueError(t, "planFactor", err)
			continue
		}
		if fac.rows < 0 || fac.cols < 0 || (fac.rows > 0 && fac.cols > 0 && fac.data == nil) {
			t.Fatalf("planFactor: %+v", fac)
		}
	}
}

func expectValueError(t *testing.T, what string, err error) {
	t.Helper()
	var ve *nmf.ValueError
	if !errors.As(err, &ve) {
		t.Fatalf("%s: %T %v, want a ValueError", what, err, err)
	}
}

func checkPlan(t *testing.T, p xPlan, a *cArray) {
	t.Helper()
	if p.n < 1 || p.m < 1 || int64(p.n) != a.length || p.dt == dtNone || len(p.cols) == 0 {
		t.Fatalf("plan %dx%d %s, %d columns for length %d", p.n, p.m, p.dt, len(p.cols), a.length)
	}
	if p.zeroCopy {
		v := p.view
		lead := v.cols
		if v.colMajor {
			lead = v.rows
		}
		if v.data == nil || !aligned(v.data, v.dt.size()) || v.rows != p.n || v.cols != p.m || v.stride < lead {
			t.Fatalf("zero-copy view %+v", v)
		}
	}
}

// fullCall runs gonmf_fit's Go half on structs with release callbacks.
func fullCall(t *testing.T, c *fuzzCase) {
	install[float64](t, &fakeEngine{})
	b := newCBuilder()
	defer b.free()
	outMem := newMem()
	outW, outH := new(cpair), new(cpair)
	call := &fitCall{alloc: outMem, outW: outW.output(), outH: outH.output()}
	if c.ctl {
		call.ctl = new(cControl)
	}
	if ps := fuzzParamSets[int(c.params)%len(fuzzParamSets)]; ps != "" {
		call.params = []byte(ps)
	}
	var pairs []*cpair
	for i, in := range []*fuzzInput{&c.x, &c.w, &c.h} {
		name := [...]string{"X", "W", "H"}[i]
		ai := abiInput{name: name}
		if in.mode != inAbsent {
			p := new(cpair)
			pairs = append(pairs, p)
			b.schema(&in.s, p.s(), in.mode != inSchemaReleased)
			b.array(&in.a, p.a(), in.mode != inArrayReleased, nil)
			ai = p.input(name)
			switch in.mode {
			case inSchemaNull:
				releaseSchema(p.s()) // the caller keeps it; it is not passed
				ai.schema = nil
			case inArrayNull:
				releaseArray(p.a())
				ai.array = nil
			}
		}
		switch i {
		case 0:
			call.x = ai
		case 1:
			call.w = ai
		case 2:
			call.h = ai
		}
	}

	status, _, msg := call.do()

	switch status {
	case statusOK, statusValue, statusType:
	default:
		t.Fatalf("status %d: %s", status, msg)
	}
	for _, p := range pairs {
		if p.s().release != nil || p.a().release != nil {
			t.Errorf("input not released (status %d %s)", status, msg)
			releaseArray(p.a())
			releaseSchema(p.s())
		}
	}
	if got := b.tok.AllocatedBytes(); got != 0 {
		t.Errorf("release callbacks of nested arrays did not all run: %d bytes (status %d %s)", got, status, msg)
	}
	if status == statusOK {
		readOut(t, outW)
		readOut(t, outH)
	} else if outW.s().release != nil || outW.a().release != nil || outH.s().release != nil || outH.a().release != nil {
		t.Errorf("outputs written on failure")
	}
	if got := outMem.AllocatedBytes(); got != 0 {
		t.Errorf("output memory not freed: %d bytes", got)
	}
}

// TestImportSeeds runs the generated seeds by name.
func TestImportSeeds(t *testing.T) {
	seeds := importSeeds()
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		t.Run(name, func(t *testing.T) {
			c := seeds[name]
			var d fuzzCase
			d.code(decoder(encodeCase(c)))
			runImportCase(t, &d)
		})
	}
}

// --- seeds ------------------------------------------------------------------

func validBufs() [3]bufDesc { return [3]bufDesc{{bufNull, 0xff}, {bufReal, 2}, {}} }

func floatChild(n int64, format string) (schDesc, arrDesc) {
	return schDesc{format: format, name: "c"}, arrDesc{length: n, nBuffers: 2, bufs: validBufs()}
}

func structX(n, m int64, format string, pack byte) fuzzInput {
	in := fuzzInput{s: schDesc{format: "+s"}, a: arrDesc{length: n, nBuffers: 1, pack: pack}}
	for j := int64(0); j < m; j++ {
		s, a := floatChild(n, format)
		in.s.children = append(in.s.children, s)
		in.a.children = append(in.a.children, a)
	}
	return in
}

func fslInput(n, m int64, format string) fuzzInput {
	s, a := floatChild(n*m, format)
	return fuzzInput{
		s: schDesc{format: "+w:" + strconv.FormatInt(m, 10), children: []schDesc{s}},
		a: arrDesc{length: n, nBuffers: 1, children: []arrDesc{a}},
	}
}

func importSeeds() map[string]fuzzCase {
	absent := fuzzInput{mode: inAbsent}
	seeds := map[string]fuzzCase{
		"struct-separate": {x: structX(4, 3, "g", packNone), w: absent, h: absent, params: 2},
		"struct-adjacent": {x: structX(4, 3, "g", packAdjacent), w: absent, h: absent, params: 2},
		"struct-reversed": {x: structX(4, 2, "f", packReversed), w: absent, h: absent, params: 1},
		"struct-f32":      {x: structX(3, 2, "f", packAdjacent), w: absent, h: absent},
		"fsl-f64":         {x: fslInput(3, 2, "g"), w: absent, h: absent, params: 2},
		"fsl-f32":         {x: fslInput(5, 1, "f"), w: absent, h: absent, params: 8, ctl: true},
		"custom-wh":       {x: fslInput(3, 2, "g"), w: fslInput(3, 2, "g"), h: fslInput(2, 2, "g"), params: 3},
		"transform-h":     {x: structX(3, 2, "g", packAdjacent), w: absent, h: fslInput(1, 2, "g"), params: 6},
		"empty-rows":      {x: structX(0, 2, "g", packNone), w: absent, h: absent},
		"x-released":      {x: fuzzInput{mode: inArrayReleased, s: structX(2, 1, "g", 0).s, a: structX(2, 1, "g", 0).a}, w: absent, h: absent},
	}
	// Mixed column types, a null, an offset, a misaligned column.
	mixed := structX(4, 3, "g", packNone)
	mixed.s.children[1].format = "f"
	mixed.a.offset = 1
	for j := range mixed.a.children {
		mixed.a.children[j].length = 5
	}
	mixed.a.children[2].bufs[1].kind = bufMisaligned
	seeds["struct-mixed-offset"] = fuzzCase{x: mixed, w: absent, h: absent, params: 2}
	withNull := structX(4, 2, "g", packNone)
	withNull.a.children[0].nullCount = 1
	withNull.a.children[0].bufs[0] = bufDesc{bufReal, 0xfd}
	seeds["struct-null"] = fuzzCase{x: withNull, w: absent, h: absent}
	unknown := structX(4, 2, "g", packAdjacent)
	unknown.a.nullCount = -1
	unknown.a.children[0].nullCount = -1
	seeds["null-count-unknown"] = fuzzCase{x: unknown, w: absent, h: absent, params: 2}
	sentinel := structX(0, 2, "g", packNone)
	for j := range sentinel.a.children {
		sentinel.a.children[j].bufs[1].kind = bufSentinel
	}
	seeds["polars-empty"] = fuzzCase{x: sentinel, w: absent, h: absent}
	// A list<double> X: readSchema names its type through cdata, whose import
	// releases the schema (children freed) before readSchema reads them.
	list := fslInput(3, 2, "g")
	list.s.format = "+l"
	seeds["x-list"] = fuzzCase{x: list, w: absent, h: absent}
	// A string column: cdata's import releases that child schema; only its
	// parent's release may.
	strcol := structX(2, 2, "g", packNone)
	strcol.s.children[1].format = "u"
	seeds["struct-string-column"] = fuzzCase{x: strcol, w: absent, h: absent}
	huge := fslInput(1, 1, "g")
	huge.s.format = "+w:2000000000"
	huge.a.length = 1 << 30
	seeds["fsl-overflow"] = fuzzCase{x: huge, w: absent, h: absent}
	return seeds
}
