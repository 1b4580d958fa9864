package main

/*
#cgo CFLAGS: -I${SRCDIR}/../include
#include <stdlib.h>
#include "gonmf.h"

// cgo cannot spell const in exported signatures; with this typedef the
// prototypes it generates are the ones in gonmf.h, and the C compiler checks
// them against the header when it builds _cgo_export.c.
typedef const char gonmf_cchar;
*/
import "C"

import (
	"sync"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/memory/mallocator"
)

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
var outAlloc = mallocator.NewMallocator()

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
	}
	// Strings are written only where asked; clear them first so a caller
	// never sees a stale pointer.
	if outInfoJSON != nil {
		*outInfoJSON = nil
	}
	if outError != nil {
		*outError = nil
	}
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

func setString(dst **C.char, s string) {
	if dst != nil {
		*dst = C.CString(s)
	}
}
