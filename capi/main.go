// Command capi is the C ABI of gonmf, built with -buildmode=c-shared into
// libgonmf. The public header is include/gonmf.h (cgo's generated header is a
// build artefact). X arrives as Arrow C Data Interface structs and is read in
// place; W and H leave as Arrow arrays in malloc'ed memory.
//
// Only cabi.go uses cgo; the rest works on Go mirrors of the C structs so
// that it can be tested with `go test` (test files cannot import "C").
package main

func main() {}
