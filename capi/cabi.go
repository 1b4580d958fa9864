package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#include <stdlib.h>
#include "gonmf.h"

// cgo cannot spell const in exported signatures; with this typedef the
// prototypes it generates are the ones in gonmf.h, and the C compiler checks
// them against the header when it builds _cgo_export.c.
typedef const char gonmf_cchar;

// Plain C wrappers: cgo treats a NULL from C.malloc itself as a fatal error
// ("runtime: C malloc failed"), which would kill the Python process instead of
// raising MemoryError. Through these, NULL is just a value we can check.
static void *gonmf_calloc(size_t n) { return calloc(n, 1); }
static void *gonmf_realloc(void *p, size_t n) { return realloc(p, n); }
*/
import "C"

import (
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"
)

// fitGCPercent is the Go GC target while a fit runs (unless the GOGC
// environment variable sets one for the process). The Go heap of a fit is a
// few large pointer-free engine buffers next to a caller's X that lives
// outside it, so the default GOGC=100, which lets the heap reach twice its
// live size, mostly holds garbage: buffers of the initialisation not yet
// collected. At 10 the collections a fit adds cost nothing measurable (there
// is almost nothing to mark), and the peak is a few MiB lower than at 25
// (1,150 x 18,000, k=50). Reading Parquet allocates far more and runs 1.5-2x
// slower at such targets, so the setting is held only while fits run.
const fitGCPercent = 10

// fitGCMinBytes is the working set (fitWorkBytes) from which a fit lowers
// the GC target. Below it the heap stays within the runtime's 4 MiB minimum
// goal anyway, while at GOGC=10 (a 400 KiB goal) every small fit would run
// collections and two SetGCPercent calls: measured, 2 ms of a 2 ms fit of
// 38 x 5,000 (k=3), which cNMF-style workloads repeat thousands of times.
const fitGCMinBytes = 1 << 20

// fitWorkBytes estimates the Go heap a fit of an n x m X with k components
// works in: buffers of (n + m) rows of k columns, and of k + 10 for the
// randomized SVD of the nndsvd inits (always float64).
func fitWorkBytes(n, m, k int) int64 {
	return (int64(n) + int64(m)) * (int64(k) + 10) * 8
}

var fitGC struct {
	mu     sync.Mutex
	active int // fits running
	saved  int // the target to restore when the last one ends
	env    bool
}

func init() { fitGC.env = os.Getenv("GOGC") != "" }

// lowerGCForFit sets fitGCPercent for the duration of a fit whose working
// set is workBytes; the returned function undoes it once no fit runs any more.
func lowerGCForFit(workBytes int64) (restore func()) {
	if fitGC.env || workBytes < fitGCMinBytes {
		return func() {}
	}
	fitGC.mu.Lock()
	if fitGC.active == 0 {
		fitGC.saved = debug.SetGCPercent(fitGCPercent)
	}
	fitGC.active++
	fitGC.mu.Unlock()
	return func() {
		fitGC.mu.Lock()
		if fitGC.active--; fitGC.active == 0 {
			debug.SetGCPercent(fitGC.saved)
		}
		fitGC.mu.Unlock()
	}
}

// The Go mirrors must match the C structs; these fail to compile otherwise.
var (
	_ = [1]struct{}{}[unsafe.Sizeof(cArray{})-C.sizeof_struct_ArrowArray]
	_ = [1]struct{}{}[unsafe.Sizeof(cSchema{})-C.sizeof_struct_ArrowSchema]
	_ = [1]struct{}{}[unsafe.Sizeof(cControl{})-C.sizeof_GonmfControl]
	_ = [1]struct{}{}[unsafe.Offsetof(cControl{}.err)-unsafe.Sizeof(C.GonmfControl{}.cancel)*4]
	_ = [1]struct{}{}[statusOK-C.GONMF_OK]
	_ = [1]struct{}{}[statusValue-C.GONMF_ERR_VALUE]
	_ = [1]struct{}{}[statusType-C.GONMF_ERR_TYPE]
	_ = [1]struct{}{}[statusInterrupted-C.GONMF_ERR_INTERRUPTED]
	_ = [1]struct{}{}[statusMemory-C.GONMF_ERR_MEMORY]
	_ = [1]struct{}{}[statusInternal-C.GONMF_ERR_INTERNAL]
)

// version is the library version; build.sh may set it with
// -ldflags "-X main.version=...".
var version = "0.1.0.dev0"

var (
	versionOnce sync.Once
	versionC    *C.char // malloc'ed once, never freed: "static storage"
)

// outAlloc allocates everything handed to C (W, H) and X copies: malloc
// memory, so C may keep it after the call without breaking cgo's rules.
var outAlloc = &cAllocator{}

// cAllocator is an arrow memory.Allocator over calloc/realloc/free, like
// arrow's mallocator, except that a failed allocation panics with a Go value
// (recovered into GONMF_ERR_MEMORY by allocBuffer) rather than taking cgo's
// fatal "C malloc failed" path.
type cAllocator struct{ allocated atomic.Int64 }

func (a *cAllocator) Allocate(size int) []byte {
	if size < 0 {
		panic("cAllocator: negative size")
	}
	// calloc(0) may return NULL; one byte keeps a valid, freeable pointer.
	p := C.gonmf_calloc(C.size_t(max(size, 1)))
	if p == nil {
		panic("cAllocator: out of memory")
	}
	a.allocated.Add(int64(size))
	return unsafe.Slice((*byte)(p), size)
}

func (a *cAllocator) Reallocate(size int, b []byte) []byte {
	if size < 0 {
		panic("cAllocator: negative size")
	}
	old := len(b)
	p := C.gonmf_realloc(unsafe.Pointer(unsafe.SliceData(b[:cap(b)])), C.size_t(max(size, 1)))
	if p == nil {
		panic("cAllocator: out of memory")
	}
	out := unsafe.Slice((*byte)(p), size)
	if size > old {
		clear(out[old:])
	}
	a.allocated.Add(int64(size - old))
	return out
}

func (a *cAllocator) Free(b []byte) {
	a.allocated.Add(-int64(len(b)))
	C.free(unsafe.Pointer(unsafe.SliceData(b[:cap(b)])))
}

// AllocatedBytes reports the bytes currently allocated (for leak tests).
func (a *cAllocator) AllocatedBytes() int64 { return a.allocated.Load() }

//export gonmf_abi_version
func gonmf_abi_version() C.int32_t {
	return C.GONMF_ABI_VERSION
}

//export gonmf_version
func gonmf_version() (v *C.gonmf_cchar) {
	defer func() {
		if recover() != nil {
			v = nil
		}
	}()
	versionOnce.Do(func() { versionC = C.CString(version) })
	return (*C.gonmf_cchar)(versionC)
}

//export gonmf_free_string
func gonmf_free_string(s *C.char) {
	defer func() { _ = recover() }()
	if s != nil {
		C.free(unsafe.Pointer(s))
	}
}

//export gonmf_fit
func gonmf_fit(
	xSchema *C.struct_ArrowSchema, xArray *C.struct_ArrowArray,
	wSchema *C.struct_ArrowSchema, wArray *C.struct_ArrowArray,
	hSchema *C.struct_ArrowSchema, hArray *C.struct_ArrowArray,
	paramsJSON *C.gonmf_cchar, ctl *C.GonmfControl,
	outWSchema *C.struct_ArrowSchema, outWArray *C.struct_ArrowArray,
	outHSchema *C.struct_ArrowSchema, outHArray *C.struct_ArrowArray,
	outInfoJSON **C.char, outError **C.char,
) (status C.int32_t) {
	call := &fitCall{
		x:     abiInput{"X", (*cSchema)(unsafe.Pointer(xSchema)), (*cArray)(unsafe.Pointer(xArray))},
		w:     abiInput{"W", (*cSchema)(unsafe.Pointer(wSchema)), (*cArray)(unsafe.Pointer(wArray))},
		h:     abiInput{"H", (*cSchema)(unsafe.Pointer(hSchema)), (*cArray)(unsafe.Pointer(hArray))},
		ctl:   (*cControl)(unsafe.Pointer(ctl)),
		outW:  abiOutput{(*cSchema)(unsafe.Pointer(outWSchema)), (*cArray)(unsafe.Pointer(outWArray))},
		outH:  abiOutput{(*cSchema)(unsafe.Pointer(outHSchema)), (*cArray)(unsafe.Pointer(outHArray))},
		alloc: outAlloc,
		gc:    lowerGCForFit,
		hop:   unlocked,
	}
	clearStrings(outInfoJSON, outError)
	// fitCall.do recovers its own panics; this catches the rest (C.CString).
	defer func() {
		if r := recover(); r != nil {
			call.releaseInputs()
			call.releaseOutputs()
			status = statusInternal
			setString(outError, panicMessage(r))
		}
	}()
	if paramsJSON != nil {
		call.params = []byte(C.GoString((*C.char)(unsafe.Pointer(paramsJSON))))
	}
	// The engine hops off this goroutine by itself when it is worth it (hop).
	code, info, msg := call.do()
	if code != statusOK {
		setString(outError, msg)
		return C.int32_t(code)
	}
	if outInfoJSON != nil {
		*outInfoJSON = C.CString(string(info))
	}
	return statusOK
}

// clearStrings sets the caller's out-strings that are given to NULL first, so
// a caller never sees a stale pointer: they are written only where asked.
func clearStrings(dsts ...**C.char) {
	for _, d := range dsts {
		if d != nil {
			*d = nil
		}
	}
}

func setString(dst **C.char, s string) {
	if dst != nil {
		*dst = C.CString(s)
	}
}

//export gonmf_read_parquet
func gonmf_read_parquet(
	path *C.gonmf_cchar, optionsJSON *C.gonmf_cchar,
	outSchema *C.struct_ArrowSchema, outArray *C.struct_ArrowArray,
	outInfoJSON **C.char, outError **C.char,
) (status C.int32_t) {
	call := &readParquetCall{
		out:   abiOutput{(*cSchema)(unsafe.Pointer(outSchema)), (*cArray)(unsafe.Pointer(outArray))},
		alloc: outAlloc,
	}
	clearStrings(outInfoJSON, outError)
	defer func() {
		if r := recover(); r != nil {
			status = statusInternal
			setString(outError, panicMessage(r))
		}
	}()
	if path != nil {
		p := C.GoString((*C.char)(unsafe.Pointer(path)))
		call.path = &p
	}
	if optionsJSON != nil {
		call.options = []byte(C.GoString((*C.char)(unsafe.Pointer(optionsJSON))))
	}
	var code int32
	var info []byte
	var msg string
	unlocked(func() { code, info, msg = call.do() })
	if code != statusOK {
		setString(outError, msg)
		return C.int32_t(code)
	}
	if outInfoJSON != nil {
		*outInfoJSON = C.CString(string(info))
	}
	return statusOK
}

//export gonmf_write_parquet
func gonmf_write_parquet(
	path *C.gonmf_cchar,
	schema *C.struct_ArrowSchema, array *C.struct_ArrowArray,
	optionsJSON *C.gonmf_cchar, outError **C.char,
) (status C.int32_t) {
	call := &writeParquetCall{
		in: abiInput{"record batch", (*cSchema)(unsafe.Pointer(schema)), (*cArray)(unsafe.Pointer(array))},
	}
	clearStrings(nil, outError)
	defer func() {
		if r := recover(); r != nil {
			call.in.release()
			status = statusInternal
			setString(outError, panicMessage(r))
		}
	}()
	if path != nil {
		p := C.GoString((*C.char)(unsafe.Pointer(path)))
		call.path = &p
	}
	if optionsJSON != nil {
		call.options = []byte(C.GoString((*C.char)(unsafe.Pointer(optionsJSON))))
	}
	var code int32
	var msg string
	unlocked(func() { code, msg = call.do() })
	if code != statusOK {
		setString(outError, msg)
	}
	return C.int32_t(code)
}

// unlocked runs f on a fresh goroutine and waits for it. A cgo callback's
// goroutine is locked to the C thread that called in, so each time it blocks
// (every fork-join of the parallel kernels) the scheduler must hand its P to
// that one thread and back: measured, that cost a 2-core fit of 1,150 x
// 2,718 (k=50) a third of its wall time. The hop itself costs about 60 us
// (two thread wake-ups), so small fits stay on the callback's goroutine (see
// engineHops). A panic in f is re-raised on the caller's goroutine as a
// hoppedPanic, which keeps f's stack for the error message.
func unlocked(f func()) {
	done := make(chan *hoppedPanic, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- &hoppedPanic{value: r, stack: debug.Stack()}
				return
			}
			done <- nil
		}()
		f()
	}()
	if p := <-done; p != nil {
		panic(p)
	}
}
