package main

import (
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/cdata"
)

// maxSchemaChildren bounds the children a schema may claim before we trust it
// (1M columns; the largest real gene tables have tens of thousands).
const maxSchemaChildren = 1 << 20

// cArray and cSchema mirror struct ArrowArray and struct ArrowSchema field by
// field (the sizes are asserted against the C definitions in cabi.go). Reading
// the C structs through these mirrors keeps validation free of cgo, so tests
// can drive it with structs exported by cdata into Go memory.
type cArray struct {
	length, nullCount, offset int64
	nBuffers, nChildren       int64
	buffers                   *unsafe.Pointer
	children                  **cArray
	dictionary                *cArray
	release                   unsafe.Pointer
	privateData               unsafe.Pointer
}

type cSchema struct {
	format, name, metadata *byte
	flags, nChildren       int64
	children               **cSchema
	dictionary             *cSchema
	release                unsafe.Pointer
	privateData            unsafe.Pointer
}

// maxCString bounds the scan for a NUL so a corrupt pointer cannot send us
// walking through the whole address space.
const maxCString = 1 << 16

// goString copies a NUL-terminated C string.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for n < maxCString && *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

func (a *cArray) buffer(i int) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(a.buffers), uintptr(i)*unsafe.Sizeof(unsafe.Pointer(nil))))
}

func (a *cArray) child(i int) *cArray {
	return *(**cArray)(unsafe.Add(unsafe.Pointer(a.children), uintptr(i)*unsafe.Sizeof((*cArray)(nil))))
}

func (s *cSchema) child(i int) *cSchema {
	return *(**cSchema)(unsafe.Add(unsafe.Pointer(s.children), uintptr(i)*unsafe.Sizeof((*cSchema)(nil))))
}

func (a *cArray) cdata() *cdata.CArrowArray   { return (*cdata.CArrowArray)(unsafe.Pointer(a)) }
func (s *cSchema) cdata() *cdata.CArrowSchema { return (*cdata.CArrowSchema)(unsafe.Pointer(s)) }

// releaseArray releases a live array (its release callback sets release to
// NULL; we clear it again in case a producer forgets). NULL and already
// released structs are left alone, so this is safe to call on every path.
func releaseArray(a *cArray) {
	if a == nil || a.release == nil {
		return
	}
	cdata.ReleaseCArrowArray(a.cdata())
	a.release = nil
}

func releaseSchema(s *cSchema) {
	if s == nil || s.release == nil {
		return
	}
	cdata.ReleaseCArrowSchema(s.cdata())
	s.release = nil
}

// schemaInfo is a Go copy of the parts of an ArrowSchema we look at: X, W and
// H only ever need the top level and its direct children.
type schemaInfo struct {
	format, name string
	dictionary   bool
	children     []schemaInfo
	typeName     string // arrow/go's name for the type, for error messages
	// extName and extMeta are the field metadata ARROW:extension:name and
	// ARROW:extension:metadata of the top level (a canonical extension type,
	// which arrow/go v17 does not know, such as arrow.fixed_shape_tensor).
	extName, extMeta string
}

// readSchema copies s and its direct children. The caller releases s.
func readSchema(s *cSchema) (schemaInfo, error) {
	info, err := readSchemaNode(s, true)
	if err != nil {
		return info, err
	}
	if info.extName, info.extMeta, err = readExtension(s.metadata); err != nil {
		return info, err
	}
	if s.nChildren < 0 || (s.nChildren > 0 && s.children == nil) {
		return info, invalidf("ArrowSchema %q has %d children but children is NULL", info.format, s.nChildren)
	}
	// A lying n_children must not become a huge allocation (Go's out-of-memory
	// is fatal); no real table has more than a few million columns.
	if s.nChildren > maxSchemaChildren {
		return info, invalidf("ArrowSchema %q claims %d children (more than %d)", info.format, s.nChildren, maxSchemaChildren)
	}
	info.children = make([]schemaInfo, s.nChildren)
	for i := range info.children {
		c := s.child(i)
		if c == nil {
			return info, invalidf("ArrowSchema child %d is NULL", i)
		}
		if info.children[i], err = readSchemaNode(c, false); err != nil {
			return info, err
		}
	}
	return info, nil
}

// readSchemaNode copies one node. The type name is only worked out for types
// we will reject, and not for a top-level struct, which may have thousands of
// columns.
func readSchemaNode(s *cSchema, top bool) (schemaInfo, error) {
	if s.format == nil {
		return schemaInfo{}, invalidf("ArrowSchema has a NULL format")
	}
	info := schemaInfo{format: goString(s.format), name: goString(s.name), dictionary: s.dictionary != nil}
	// arrow/go names types the way pyarrow does (utf8, int64, timestamp[ns]...);
	// only used in messages, so a type it cannot import falls back to the format.
	info.typeName = "format '" + info.format + "'"
	if !info.isFloat() && !(top && (info.format == "+s" || isFixedSizeList(info.format))) {
		if name, ok := arrowTypeName(s); ok {
			info.typeName = name
		}
	}
	return info, nil
}

// arrowTypeName asks cdata for the type's name; a schema it chokes on (it
// trusts what it reads) only costs us the nicer name, not the call.
//
// cdata's import releases every node it imports. Here that would release the
// schema readSchema is still reading (for a top-level list, its children are
// then read from freed memory) or a child schema, which only the producer's
// release of the top may do. So the release callbacks are hidden (set to
// NULL, which cdata takes for "already released") while cdata looks, and put
// back after.
func arrowTypeName(s *cSchema) (name string, ok bool) {
	var hidden []*cSchema
	var releases []unsafe.Pointer
	// hide reports false for what cdata cannot import without crashing (a
	// NULL child: its deferred release of NULL faults in C) or that is
	// unreasonably large.
	var hide func(n *cSchema, depth int) bool
	hide = func(n *cSchema, depth int) bool {
		if n == nil || depth > 64 || len(hidden) >= 1<<16 || n.nChildren > 1<<16 || (n.nChildren > 0 && n.children == nil) {
			return false
		}
		hidden, releases = append(hidden, n), append(releases, n.release)
		n.release = nil
		for i := 0; i < int(n.nChildren); i++ {
			if !hide(n.child(i), depth+1) {
				return false
			}
		}
		return n.dictionary == nil || hide(n.dictionary, depth+1)
	}
	defer func() {
		for i := len(hidden) - 1; i >= 0; i-- { // reverse: a node met twice gets its own back
			hidden[i].release = releases[i]
		}
		if recover() != nil {
			name, ok = "", false
		}
	}()
	if !hide(s, 0) {
		return "", false
	}
	f, err := cdata.ImportCArrowField(s.cdata())
	if err != nil {
		return "", false
	}
	return f.Type.String(), true
}

// maxMetadata bounds the metadata we read (keys, values and their count).
const maxMetadata = 1 << 20

// readExtension reads the ARROW:extension:name and ARROW:extension:metadata
// entries of an ArrowSchema's metadata: an int32 count of pairs, then for each
// pair an int32 length and the key's bytes, an int32 length and the value's
// bytes (native byte order, no terminator). Other keys are skipped.
func readExtension(md *byte) (name, meta string, err error) {
	if md == nil {
		return "", "", nil
	}
	p := unsafe.Pointer(md)
	off := 0
	readInt := func() (int, error) {
		v := *(*int32)(unsafe.Add(p, off))
		off += 4
		if v < 0 || int(v) > maxMetadata || off+int(v) > maxMetadata {
			return 0, invalidf("ArrowSchema metadata has a bad length %d", v)
		}
		return int(v), nil
	}
	pairs, err := readInt()
	if err != nil {
		return "", "", err
	}
	for range pairs {
		kl, err := readInt()
		if err != nil {
			return "", "", err
		}
		key := string(unsafe.Slice((*byte)(unsafe.Add(p, off)), kl))
		off += kl
		vl, err := readInt()
		if err != nil {
			return "", "", err
		}
		switch key {
		case "ARROW:extension:name":
			name = string(unsafe.Slice((*byte)(unsafe.Add(p, off)), vl))
		case "ARROW:extension:metadata":
			meta = string(unsafe.Slice((*byte)(unsafe.Add(p, off)), vl))
		}
		off += vl
	}
	return name, meta, nil
}
