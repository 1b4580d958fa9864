package sweep

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// haveSIMD: the generated kernels need AVX2 (with OS support for YMM state,
// which x/sys/cpu checks) and FMA.
var haveSIMD = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// ptr returns &s[0] as a *U (T and U are the same type).
func ptr[U, T Float](s []T) *U { return (*U)(unsafe.Pointer(&s[0])) }

// cdSIMD runs CD's sweep with the generated kernel.
func cdSIMD[T Float](a, p, g []T, k int, perm []int) {
	if isF32[T]() {
		cdF32(ptr[float32](a), ptr[float32](p), ptr[float32](g), k, &perm[0], len(perm))
	} else {
		cdF64(ptr[float64](a), ptr[float64](p), ptr[float64](g), k, &perm[0], len(perm))
	}
}

// halsSIMD runs HALS's sweep with the generated kernel (without the
// violation, which is then 0, when noViol) and adds up its per-lane sums in
// lane order.
func halsSIMD[T Float](a, p, g []T, k int, perm []int, noViol bool) (violation, change2 float64) {
	var out [16]T
	vw := 4
	switch {
	case isF32[T]() && noViol:
		vw = 8
		halscF32(ptr[float32](a), ptr[float32](p), ptr[float32](g), k, &perm[0], len(perm), ptr[float32](out[:]))
	case isF32[T]():
		vw = 8
		halsF32(ptr[float32](a), ptr[float32](p), ptr[float32](g), k, &perm[0], len(perm), ptr[float32](out[:]))
	case noViol:
		halscF64(ptr[float64](a), ptr[float64](p), ptr[float64](g), k, &perm[0], len(perm), ptr[float64](out[:]))
	default:
		halsF64(ptr[float64](a), ptr[float64](p), ptr[float64](g), k, &perm[0], len(perm), ptr[float64](out[:]))
	}
	for _, v := range out[:vw] {
		violation += float64(v)
	}
	for _, v := range out[vw : 2*vw] {
		change2 += float64(v)
	}
	return violation, change2
}

// loadSIMD runs Load on 4·groups rows with the generated transposes.
// ahead: src's memory extends 3 elements beyond the 4·groups rows.
func loadSIMD[T Float](dst, src []T, k, groups int, ahead bool) {
	var ah int
	if ahead {
		ah = 1
	}
	if isF32[T]() {
		loadF32(ptr[float32](dst), ptr[float32](src), k, groups, ah)
	} else {
		loadF64(ptr[float64](dst), ptr[float64](src), k, groups, ah)
	}
}

// storeSIMD runs Store on 4·groups rows with the generated transposes.
func storeSIMD[T Float](dst, src []T, k, groups int) {
	if isF32[T]() {
		storeF32(ptr[float32](dst), ptr[float32](src), k, groups)
	} else {
		storeF64(ptr[float64](dst), ptr[float64](src), k, groups)
	}
}

// cd3SIMD runs CD3 with the generated kernel (float64 only).
func cd3SIMD[T Float](a, p, g []T, perm []int, out []T, outS, outG, groups int) T {
	return T(cd3F64(ptr[float64](a), ptr[float64](p), ptr[float64](g), &perm[0], ptr[float64](out), outS, outG, groups))
}

// halsInnerSIMD runs HALSInner's sweeps after the first (sweeps of them
// done) with the generated kernel halsc{T} and returns the count.
func halsInnerSIMD[T Float](a, p, g []T, k int, perm []int, maxSweeps int, stop float64, sweeps int) int {
	var out [16]T
	f32 := isF32[T]()
	vw := 4
	if f32 {
		vw = 8
	}
	for sweeps < maxSweeps {
		sweeps++
		if f32 {
			halscF32(ptr[float32](a), ptr[float32](p), ptr[float32](g), k, &perm[0], len(perm), ptr[float32](out[:]))
		} else {
			halscF64(ptr[float64](a), ptr[float64](p), ptr[float64](g), k, &perm[0], len(perm), ptr[float64](out[:]))
		}
		var d float64
		for _, v := range out[vw : 2*vw] {
			d += float64(v)
		}
		if d <= stop {
			break
		}
	}
	return sweeps
}
