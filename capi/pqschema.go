package main

import (
	"encoding/base64"
	"encoding/binary"
	"errors"

	"github.com/apache/arrow/go/v17/parquet/file"
)

// checkArrowSchemaMeta vets the ARROW:schema footer entry (a base64 Arrow IPC
// message holding a flatbuffer Schema) before pqarrow decodes it. arrow/go
// v17 trusts every length in it: a corrupt message length, body length or
// vector length becomes a make() of that size, and a cyclic or very deep
// field tree becomes unbounded recursion. Both are fatal runtime errors that
// no recover catches and that would kill the caller's process. This checks
// the framing and walks every table and vector arrow/go's schema decoder
// reads, with bounds on sizes, depth and total work.
func checkArrowSchemaMeta(rdr *file.Reader) error {
	v := rdr.MetaData().KeyValueMetadata().FindValue("ARROW:schema")
	if v == nil {
		return nil
	}
	var data []byte
	var err error
	if len(*v)%4 == 0 { // the same decoding as pqarrow
		data, err = base64.StdEncoding.DecodeString(*v)
	}
	if len(data) == 0 || err != nil {
		if data, err = base64.RawStdEncoding.DecodeString(*v); err != nil {
			return errors.New("corrupt ARROW:schema metadata: " + err.Error())
		}
	}
	if !validIPCSchema(data) {
		return errors.New("corrupt ARROW:schema metadata")
	}
	return nil
}

// validIPCSchema checks an encapsulated IPC message: [0xFFFFFFFF] int32
// length, a flatbuffer Message of that length whose header is a Schema, then
// bodyLength bytes.
func validIPCSchema(data []byte) bool {
	b := fbuf(data)
	cid, ok := b.u32(0)
	if !ok || cid == 0 {
		return false
	}
	off, msgLen := int64(4), int64(int32(cid))
	if cid == 0xFFFFFFFF {
		l, ok := b.u32(4)
		if !ok {
			return false
		}
		off, msgLen = 8, int64(int32(l))
	}
	if msgLen <= 0 || msgLen > int64(len(data))-off {
		return false
	}
	msg := fbuf(data[off : off+msgLen])
	root, ok := msg.u32(0)
	if !ok {
		return false
	}
	m, ok := msg.table(int64(root))
	if !ok {
		return false
	}
	// Message: version 0, header_type 1, header 2, bodyLength 3, custom_metadata 4.
	if ht, ok := m.u8(1); !ok || ht != 1 { // MessageHeader.Schema
		return false
	}
	bodyAt, ok := m.field(3)
	if !ok {
		return false
	}
	if bodyAt != 0 {
		l, ok := msg.u64(bodyAt)
		if !ok || int64(l) < 0 || int64(l) > int64(len(data))-off-msgLen {
			return false
		}
	}
	if !m.keyValues(4) {
		return false
	}
	st, present, ok := m.subtable(2)
	if !ok || !present {
		return false
	}
	// Every table takes at least 4 bytes, so a tree has fewer nodes than
	// that: more visits means shared or cyclic subtrees.
	budget := int64(len(msg))/4 + 1
	// Schema: endianness 0, fields 1, custom_metadata 2, features 3.
	if !st.tables(1, func(f fbTable) bool { return f.validField(0, &budget) }) {
		return false
	}
	_, _, ok = st.vector(3, 8)
	return ok && st.keyValues(2)
}

// fbuf is a flatbuffer with bounds-checked reads.
type fbuf []byte

func (b fbuf) u8(at int64) (uint8, bool) {
	if at < 0 || at >= int64(len(b)) {
		return 0, false
	}
	return b[at], true
}

func (b fbuf) u16(at int64) (uint16, bool) {
	if at < 0 || at+2 > int64(len(b)) {
		return 0, false
	}
	return binary.LittleEndian.Uint16(b[at:]), true
}

func (b fbuf) u32(at int64) (uint32, bool) {
	if at < 0 || at+4 > int64(len(b)) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[at:]), true
}

func (b fbuf) u64(at int64) (uint64, bool) {
	if at < 0 || at+8 > int64(len(b)) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[at:]), true
}

// fbTable is a table whose vtable is inside the buffer.
type fbTable struct {
	b              fbuf
	pos, vt, vtLen int64
}

func (b fbuf) table(pos int64) (fbTable, bool) {
	soff, ok := b.u32(pos)
	if !ok {
		return fbTable{}, false
	}
	vt := pos - int64(int32(soff))
	vtLen, ok := b.u16(vt)
	if !ok || vtLen < 4 || vtLen%2 != 0 || vt+int64(vtLen) > int64(len(b)) {
		return fbTable{}, false
	}
	return fbTable{b: b, pos: pos, vt: vt, vtLen: int64(vtLen)}, true
}

// field returns the position of field id, 0 when absent.
func (t fbTable) field(id int) (int64, bool) {
	o := int64(4 + 2*id)
	if o+2 > t.vtLen {
		return 0, true
	}
	fo, _ := t.b.u16(t.vt + o)
	if fo == 0 {
		return 0, true
	}
	at := t.pos + int64(fo)
	return at, at < int64(len(t.b))
}

func (t fbTable) u8(id int) (uint8, bool) {
	at, ok := t.field(id)
	if !ok || at == 0 {
		return 0, ok
	}
	return t.b.u8(at)
}

// ref follows the offset stored in field id.
func (t fbTable) ref(id int) (target int64, present, ok bool) {
	at, ok := t.field(id)
	if !ok || at == 0 {
		return 0, false, ok
	}
	u, ok := t.b.u32(at)
	target = at + int64(u)
	return target, true, ok && target < int64(len(t.b))
}

func (t fbTable) subtable(id int) (fbTable, bool, bool) {
	target, present, ok := t.ref(id)
	if !ok || !present {
		return fbTable{}, present, ok
	}
	st, ok := t.b.table(target)
	return st, true, ok
}

// vector checks that the vector in field id, of n elements of elem bytes,
// fits in the buffer.
func (t fbTable) vector(id int, elem int64) (start, n int64, ok bool) {
	target, present, ok := t.ref(id)
	if !ok || !present {
		return 0, 0, ok
	}
	n32, ok := t.b.u32(target)
	start, n = target+4, int64(n32)
	return start, n, ok && n <= (int64(len(t.b))-start)/elem
}

// tables checks a vector of tables and each of them with check.
func (t fbTable) tables(id int, check func(fbTable) bool) bool {
	start, n, ok := t.vector(id, 4)
	if !ok {
		return false
	}
	for i := int64(0); i < n; i++ {
		at := start + 4*i
		u, _ := t.b.u32(at)
		e, ok := t.b.table(at + int64(u))
		if !ok || !check(e) {
			return false
		}
	}
	return true
}

func (t fbTable) str(id int) bool {
	_, _, ok := t.vector(id, 1)
	return ok
}

// keyValues checks a custom_metadata vector of KeyValue{key 0, value 1}.
func (t fbTable) keyValues(id int) bool {
	return t.tables(id, func(kv fbTable) bool { return kv.str(0) && kv.str(1) })
}

// validField checks a Field: name 0, nullable 1, type_type 2, type 3,
// dictionary 4, children 5, custom_metadata 6.
func (t fbTable) validField(depth int, budget *int64) bool {
	*budget--
	if *budget < 0 || depth > 64 {
		return false
	}
	if !t.str(0) || !t.keyValues(6) {
		return false
	}
	typ, present, ok := t.subtable(3)
	if !ok {
		return false
	}
	if present {
		tt, ok := t.u8(2)
		if !ok {
			return false
		}
		if tt == 14 { // Type.Union: mode 0, typeIds 1
			if _, _, ok := typ.vector(1, 4); !ok {
				return false
			}
		}
		// Timestamp's timezone (field 1) is the only other string of a type.
		if tt == 10 && !typ.str(1) {
			return false
		}
	}
	dict, present, ok := t.subtable(4)
	if !ok {
		return false
	}
	if present { // DictionaryEncoding: id 0, indexType 1 (an Int table)
		if _, _, ok := dict.subtable(1); !ok {
			return false
		}
	}
	return t.tables(5, func(c fbTable) bool { return c.validField(depth+1, budget) })
}
