// Command asm generates the AVX2 coordinate-sweep kernels of package sweep
// with avo.
//
// It lives in its own module so that avo is not a dependency of gonmf. Run it
// through `go generate ./nmf/internal/sweep/` (see sweep.go), which writes
// ../kernels_amd64.s and ../kernels_amd64.go.
//
// Both kernels sweep a panel of rows of A (k columns) held transposed, as
// a k x L array (L = lanes: nvec YMM vectors of rows), so that a vector holds
// one coordinate of L independent rows. For each t of perm, the gradients of
// all L rows are nvec independent chains r = 0..k-1 of G[t,r]·A[r,:] with
// G[t,r] broadcast, and the coordinate steps are lane-wise.
//
// cd{T} is scikit-learn's step, bit for bit: separate multiply and add
// (never FMA), the sum started from -P[t,:], true division by the Hessian.
// hals{T} uses FMA and a reciprocal of the Hessian, and accumulates the
// violation and squared change per lane.
//
// load{T} and store{T} copy panels between the row-major matrix and the
// transposed layout, four rows at a time by 4x4 register transposes.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// typ describes one element type and the packed instructions that differ
// between float32 and float64.
type typ struct {
	name, goType string
	size, vw     int
	nvec         int // vectors of lanes per panel

	sign, abs, one, zero Mem // scalar constants, broadcast

	movu  func(mxy, mxy1 Op)
	bcast func(mx, xy Op)
	fma   func(mxy, xy, xy1 Op) // xy1 += xy·mxy
	mul   func(mxy, xy, xy1 Op) // xy1 = xy·mxy
	add   func(mxy, xy, xy1 Op) // xy1 = xy + mxy
	sub   func(mxy, xy, xy1 Op) // xy1 = xy - mxy
	div   func(mxy, xy, xy1 Op) // xy1 = xy / mxy
	max   func(mxy, xy, xy1 Op) // xy1 = xy > mxy ? xy : mxy
	and   func(mxy, xy, xy1 Op)
	andn  func(mxy, xy, xy1 Op) // xy1 = ^xy & mxy
	xor   func(mxy, xy, xy1 Op)
	cmp   func(imm, mxy, xy, xy1 Op) // xy1 = xy OP mxy
	ucomi func(mx, x Op)
}

// Comparison predicates of VCMPP[SD].
const (
	cmpEQ = 0    // EQ_OQ
	cmpLT = 1    // LT_OS
	cmpGT = 0x0E // GT_OS
)

var f32 = typ{
	name: "F32", goType: "float32", size: 4, vw: 8, nvec: 8,
	movu: func(a, b Op) { VMOVUPS(a, b) }, bcast: func(a, b Op) { VBROADCASTSS(a, b) },
	fma: func(a, b, c Op) { VFMADD231PS(a, b, c) }, mul: func(a, b, c Op) { VMULPS(a, b, c) },
	add: func(a, b, c Op) { VADDPS(a, b, c) }, sub: func(a, b, c Op) { VSUBPS(a, b, c) },
	div: func(a, b, c Op) { VDIVPS(a, b, c) }, max: func(a, b, c Op) { VMAXPS(a, b, c) },
	and: func(a, b, c Op) { VANDPS(a, b, c) }, andn: func(a, b, c Op) { VANDNPS(a, b, c) },
	xor: func(a, b, c Op) { VXORPS(a, b, c) }, cmp: func(i, a, b, c Op) { VCMPPS(i, a, b, c) },
	ucomi: func(a, b Op) { VUCOMISS(a, b) },
}

var f64 = typ{
	name: "F64", goType: "float64", size: 8, vw: 4, nvec: 8,
	movu: func(a, b Op) { VMOVUPD(a, b) }, bcast: func(a, b Op) { VBROADCASTSD(a, b) },
	fma: func(a, b, c Op) { VFMADD231PD(a, b, c) }, mul: func(a, b, c Op) { VMULPD(a, b, c) },
	add: func(a, b, c Op) { VADDPD(a, b, c) }, sub: func(a, b, c Op) { VSUBPD(a, b, c) },
	div: func(a, b, c Op) { VDIVPD(a, b, c) }, max: func(a, b, c Op) { VMAXPD(a, b, c) },
	and: func(a, b, c Op) { VANDPD(a, b, c) }, andn: func(a, b, c Op) { VANDNPD(a, b, c) },
	xor: func(a, b, c Op) { VXORPD(a, b, c) }, cmp: func(i, a, b, c Op) { VCMPPD(i, a, b, c) },
	ucomi: func(a, b Op) { VUCOMISD(a, b) },
}

func main() {
	ConstraintExpr("amd64")
	f32.sign = constant("sign32", U32(0x80000000))
	f32.abs = constant("abs32", U32(0x7fffffff))
	f32.one = constant("one32", U32(0x3f800000))
	f64.sign = constant("sign64", U64(0x8000000000000000))
	f64.abs = constant("abs64", U64(0x7fffffffffffffff))
	f64.one = constant("one64", U64(0x3ff0000000000000))
	f64.zero = constant("zero64", U64(0))
	mask = GLOBL("lanemask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
	for _, t := range []typ{f32, f64} {
		kernel(t, false, false)
		kernel(t, true, false)
		kernel(t, true, true)
		transpose(t, false)
		transpose(t, true)
	}
	cd3(f64)
	Generate()
}

// constant returns a 32-byte vector of copies of v.
func constant(name string, v Constant) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for off := 0; off < 32; off += v.Bytes() {
		DATA(off, v)
	}
	return m
}

// kernel generates cd{T} (hals false) or hals{T}, or with noViol
// halsc{T}: hals{T} without the violation (out[0:vw] gets zeros), for the
// inner sweeps after the first.
func kernel(t typ, hals, noViol bool) {
	lanes := t.nvec * t.vw
	rowBytes := lanes * t.size
	vb := 32
	name := "cd" + t.name
	sig := "func(a *%[1]s, p *%[1]s, gram *%[1]s, k int, perm *int, nperm int)"
	if hals {
		name = "hals" + t.name
		if noViol {
			name = "halsc" + t.name
		}
		sig = "func(a *%[1]s, p *%[1]s, gram *%[1]s, k int, perm *int, nperm int, out *%[1]s)"
	}
	TEXT(name, NOSPLIT, fmt.Sprintf(sig, t.goType))
	Pragma("noescape")
	if noViol {
		Doc(fmt.Sprintf("%s is hals%s without the violation: it stores zeros in out[0:vw].", name, t.name))
	} else if hals {
		Doc(fmt.Sprintf("%s runs one accelerated-HALS sweep over the %d rows held transposed in a", name, lanes),
			fmt.Sprintf("(k x %d) given G (k x k, row-major) and P (k x %d, transposed like a):", lanes, lanes),
			"for t in perm[:nperm], g = G[t,:]·a - P[t,:] (FMA) and, where G[t,t] != 0,",
			"a[t,:] = max(a[t,:] - g·(1/G[t,t]), 0). It stores the per-lane sums of",
			"|projected gradient| in out[0:vw] and of the squared changes in out[vw:2vw].")
	} else {
		Doc(fmt.Sprintf("%s runs one sweep of scikit-learn's coordinate descent over the %d rows", name, lanes),
			fmt.Sprintf("held transposed in a (k x %d) given G (k x k, row-major) and P (k x %d,", lanes, lanes),
			"transposed like a): for t in perm[:nperm], g = -P[t,:] + G[t,0]·a[0,:] + ...",
			"(each product rounded, then added), P[t,:] = |projected gradient| and,",
			"where G[t,t] != 0, a[t,:] = max(a[t,:] - g/G[t,t], 0), as CDStep.")
	}

	a := Load(Param("a"), GP64())
	p := Load(Param("p"), GP64())
	g := Load(Param("gram"), GP64())
	k := Load(Param("k"), GP64())
	perm := Load(Param("perm"), GP64())
	n := Load(Param("nperm"), GP64())
	kb := GP64() // bytes per row of G
	MOVQ(k, kb)
	SHLQ(U8(map[int]uint64{4: 2, 8: 3}[t.size]), kb)

	zero := YMM()
	VXORPS(zero, zero, zero)
	// Two accumulators each for the violation and the squared change, so
	// that their chains of additions do not bound short sweeps (small k).
	var viol, chg [2]VecVirtual
	if hals {
		for i := range 2 {
			viol[i], chg[i] = YMM(), YMM()
			VXORPS(viol[i], viol[i], viol[i])
			VXORPS(chg[i], chg[i], chg[i])
		}
	}
	acc := make([]VecVirtual, t.nvec)
	for j := range acc {
		acc[j] = YMM()
	}

	Label("tloop")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	tt := GP64()
	MOVQ(Mem{Base: perm}, tt)
	grow := GP64() // &G[t,0]
	MOVQ(tt, grow)
	IMULQ(kb, grow)
	ADDQ(g, grow)
	off := GP64() // byte offset of row t of a and P
	IMUL3Q(U32(rowBytes), tt, off)

	Comment("Gradients: nvec independent chains over r = 0..k-1.")
	if hals {
		for j := range acc {
			VXORPS(acc[j], acc[j], acc[j])
		}
	} else {
		sign := YMM()
		t.bcast(t.sign, sign)
		for j := range acc {
			t.xor(Mem{Base: p, Index: off, Scale: 1, Disp: j * vb}, sign, acc[j])
		}
	}
	ap, gp, r := GP64(), GP64(), GP64()
	MOVQ(a, ap)
	MOVQ(grow, gp)
	MOVQ(k, r)
	b, tmp := YMM(), YMM()
	Label("rloop")
	t.bcast(Mem{Base: gp}, b)
	for j := range acc {
		m := Mem{Base: ap, Disp: j * vb}
		if hals {
			t.fma(m, b, acc[j])
		} else {
			t.mul(m, b, tmp)
			t.add(tmp, acc[j], acc[j])
		}
	}
	ADDQ(U32(rowBytes), ap)
	ADDQ(U8(t.size), gp)
	DECQ(r)
	JNZ(LabelRef("rloop"))

	Comment("Projected gradients: g, or min(g, 0) where a[t] == 0 (g > 0 gives +0).")
	at := func(j int) Mem { return Mem{Base: a, Index: off, Scale: 1, Disp: j * vb} }
	pt := func(j int) Mem { return Mem{Base: p, Index: off, Scale: 1, Disp: j * vb} }
	var mask VecVirtual // the sign bit, for cd (hals reads |·|'s mask from memory)
	if !hals {
		mask = YMM()
		t.movu(t.sign, mask)
	}
	for j := range acc {
		if hals {
			t.sub(pt(j), acc[j], acc[j])
		}
		if noViol {
			continue
		}
		av, m1, pg := YMM(), YMM(), YMM()
		t.movu(at(j), av)
		t.cmp(U8(cmpEQ), zero, av, m1)     // a == 0
		t.cmp(U8(cmpLT), acc[j], zero, pg) // 0 < g
		t.and(pg, m1, m1)                  // both
		t.andn(acc[j], m1, pg)             // g where not both, else +0
		if hals {
			t.and(t.abs, pg, pg)
			t.add(pg, viol[j%2], viol[j%2])
		} else {
			// abs as nmf's: -v where v < 0, else v (so -0 stays -0).
			t.cmp(U8(cmpLT), zero, pg, m1) // pg < 0
			t.and(mask, m1, m1)
			t.xor(m1, pg, pg)
			t.movu(pg, pt(j))
		}
	}

	Comment("Step, skipped when G[t,t] == 0 (not when it is NaN).")
	hs := XMM()
	if t.size == 4 {
		VMOVSS(Mem{Base: grow, Index: tt, Scale: 4}, hs)
	} else {
		VMOVSD(Mem{Base: grow, Index: tt, Scale: 8}, hs)
	}
	zs := XMM()
	VXORPS(zs, zs, zs)
	t.ucomi(zs, hs)
	JNE(LabelRef(name + "_step"))
	JP(LabelRef(name + "_step"))
	JMP(LabelRef("next"))
	Label(name + "_step")
	hv := YMM()
	t.bcast(Mem{Base: grow, Index: tt, Scale: uint8(t.size)}, hv)
	if hals {
		inv := YMM()
		t.bcast(t.one, inv)
		t.div(hv, inv, hv) // 1/G[t,t]
	}
	for j := range acc {
		av, v := YMM(), YMM()
		t.movu(at(j), av)
		if hals {
			t.mul(hv, acc[j], v)
			t.sub(v, av, v)
			t.max(zero, v, v) // NaN and -0 give +0
			t.sub(av, v, av)  // change
			t.fma(av, av, chg[j%2])
		} else {
			m := YMM()
			t.div(hv, acc[j], v)
			t.sub(v, av, v)
			t.cmp(U8(cmpLT), v, zero, m) // 0 < v
			t.and(v, m, v)
		}
		t.movu(v, at(j))
	}

	Label("next")
	ADDQ(U8(8), perm)
	DECQ(n)
	JMP(LabelRef("tloop"))

	Label("done")
	if hals {
		out := Load(Param("out"), GP64())
		t.add(viol[1], viol[0], viol[0])
		t.add(chg[1], chg[0], chg[0])
		t.movu(viol[0], Mem{Base: out})
		t.movu(chg[0], Mem{Base: out, Disp: vb})
	}
	VZEROUPPER()
	RET()
}

// mask is 8 all-ones int32 followed by 8 zeros: the bytes starting at byte
// 32-4n (float32) or 32-8n (float64) select the first n lanes.
var mask Mem

// vec4 returns a register of four elements of t (YMM for float64, XMM for
// float32).
func vec4(t typ) VecVirtual {
	if t.size == 8 {
		return YMM()
	}
	return XMM()
}

// transpose4 transposes the 4x4 block in r (rows) into c (columns).
func transpose4(t typ, r, c []VecVirtual) {
	tt := []VecVirtual{vec4(t), vec4(t), vec4(t), vec4(t)}
	if t.size == 8 {
		VUNPCKLPD(r[1], r[0], tt[0]) // r0[0] r1[0] r0[2] r1[2]
		VUNPCKHPD(r[1], r[0], tt[1]) // r0[1] r1[1] r0[3] r1[3]
		VUNPCKLPD(r[3], r[2], tt[2])
		VUNPCKHPD(r[3], r[2], tt[3])
		VPERM2F128(U8(0x20), tt[2], tt[0], c[0])
		VPERM2F128(U8(0x20), tt[3], tt[1], c[1])
		VPERM2F128(U8(0x31), tt[2], tt[0], c[2])
		VPERM2F128(U8(0x31), tt[3], tt[1], c[3])
		return
	}
	VUNPCKLPS(r[1], r[0], tt[0]) // r0[0] r1[0] r0[1] r1[1]
	VUNPCKHPS(r[1], r[0], tt[1]) // r0[2] r1[2] r0[3] r1[3]
	VUNPCKLPS(r[3], r[2], tt[2])
	VUNPCKHPS(r[3], r[2], tt[3])
	VMOVLHPS(tt[2], tt[0], c[0]) // t0.lo t2.lo
	VMOVHLPS(tt[0], tt[2], c[1]) // t0.hi t2.hi
	VMOVLHPS(tt[3], tt[1], c[2])
	VMOVHLPS(tt[1], tt[3], c[3])
}

// transpose generates load{T} (store false) and store{T}: the copies of Load
// and Store for groups of four rows, by 4x4 register transposes. With k ≥ 4
// the last k%4 columns are done by one more block that overlaps the previous
// one (the same values written twice). With k < 4 a group's blocks spill
// over into the next row(s) of the row-major side: loads read ahead, and
// stores, done in row order, are overwritten by the next row's. Masked moves
// (slow on AMD) keep the last group inside the rows: load{T}'s unless
// ahead != 0 (the caller's slice extends far enough), store{T}'s last row
// (all four when k = 1).
func transpose(t typ, store bool) {
	lanes := t.nvec * t.vw
	rowBytes := lanes * t.size
	name := "load" + t.name
	if store {
		name = "store" + t.name
	}
	sig := "func(dst *%[1]s, src *%[1]s, k int, groups int)"
	if !store {
		sig = "func(dst *%[1]s, src *%[1]s, k int, groups int, ahead int)"
	}
	TEXT(name, NOSPLIT, fmt.Sprintf(sig, t.goType))
	Pragma("noescape")
	if store {
		Doc(fmt.Sprintf("%s copies lanes 0..4·groups-1 of src ((k+3)/4·4 x %d) into rows", name, lanes),
			"0..4·groups-1 of dst (row-major, k columns).")
	} else {
		Doc(fmt.Sprintf("%s copies rows 0..4·groups-1 of src (row-major, k columns) into", name),
			fmt.Sprintf("lanes 0..4·groups-1 of dst ((k+3)/4·4 x %d); rows k.. of dst get scratch.", lanes),
			"If ahead != 0, it may read up to 3 elements beyond the last row.")
	}
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	k := Load(Param("k"), GP64())
	n := Load(Param("groups"), GP64())
	kb := GP64() // bytes per row of the row-major side
	MOVQ(k, kb)
	SHLQ(U8(map[int]uint64{4: 2, 8: 3}[t.size]), kb)
	kb3 := GP64()
	LEAQ(Mem{Base: kb, Index: kb, Scale: 2}, kb3)
	rm, tm := src, dst // the row-major and the transposed side
	if store {
		rm, tm = dst, src
	}
	rowq := func(base Register, q int) Mem {
		switch q {
		case 0:
			return Mem{Base: base}
		case 3:
			return Mem{Base: base, Index: kb3, Scale: 1}
		}
		return Mem{Base: base, Index: kb, Scale: uint8(q)}
	}
	movu := func(a, b Op) {
		if t.size == 8 {
			VMOVUPD(a, b)
		} else {
			VMOVUPS(a, b)
		}
	}
	maskmov := func(a, b, c Op) {
		if t.size == 8 {
			VMASKMOVPD(a, b, c)
		} else {
			VMASKMOVPS(a, b, c)
		}
	}
	r := []VecVirtual{vec4(t), vec4(t), vec4(t), vec4(t)}
	c := []VecVirtual{vec4(t), vec4(t), vec4(t), vec4(t)}
	mv := vec4(t)
	// block transposes the 4x4 block between pr (row-major side) and pt.
	block := func(pr, pt Register, masked, allMasked bool) {
		for q := range 4 {
			switch {
			case store:
				movu(Mem{Base: pt, Disp: q * rowBytes}, r[q])
			case masked:
				maskmov(rowq(pr, q), mv, r[q]) // all rows: their spill may reach beyond
			default:
				movu(rowq(pr, q), r[q])
			}
		}
		transpose4(t, r, c)
		for q := range 4 {
			switch {
			case !store:
				movu(c[q], Mem{Base: pt, Disp: q * rowBytes})
			case masked && (q == 3 || allMasked):
				maskmov(c[q], mv, rowq(pr, q)) // the others' spill is overwritten
			default:
				movu(c[q], rowq(pr, q))
			}
		}
	}
	pr, pt := GP64(), GP64()
	CMPQ(k, U8(4))
	JL(LabelRef("small"))

	Comment("k ≥ 4: full blocks, then one overlapping the last k%4 columns.")
	full, tailR, tailT := GP64(), GP64(), GP64()
	MOVQ(k, full)
	SHRQ(U8(2), full)
	LEAQ(Mem{Base: kb, Disp: -4 * t.size}, tailR) // column k-4, in bytes
	IMUL3Q(U32(lanes), tailR, tailT)              // row k-4 of the panel, in bytes
	ANDQ(U8(3), k)                                // k%4
	cnt := GP64()
	Label("group")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	MOVQ(rm, pr)
	MOVQ(tm, pt)
	MOVQ(full, cnt)
	Label("block")
	block(pr, pt, false, false)
	ADDQ(U8(4*t.size), pr)
	ADDQ(U32(4*rowBytes), pt)
	DECQ(cnt)
	JNZ(LabelRef("block"))
	TESTQ(k, k)
	JZ(LabelRef("next"))
	LEAQ(Mem{Base: rm, Index: tailR, Scale: 1}, pr)
	LEAQ(Mem{Base: tm, Index: tailT, Scale: 1}, pt)
	block(pr, pt, false, false)
	Label("next")
	LEAQ(Mem{Base: rm, Index: kb, Scale: 4}, rm)
	ADDQ(U8(4*t.size), tm)
	DECQ(n)
	JMP(LabelRef("group"))

	Label("small")
	Comment("k < 4: one block per group, spilling into the next rows but in the last group.")
	Label("sgroup")
	CMPQ(n, U8(1))
	JLE(LabelRef("last"))
	block(rm, tm, false, false)
	LEAQ(Mem{Base: rm, Index: kb, Scale: 4}, rm)
	ADDQ(U8(4*t.size), tm)
	DECQ(n)
	JMP(LabelRef("sgroup"))
	Label("last")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	if !store {
		ahead := Load(Param("ahead"), GP64())
		TESTQ(ahead, ahead)
		JZ(LabelRef("masked"))
		block(rm, tm, false, false)
		JMP(LabelRef("done"))
		Label("masked")
	}
	m := laneMask(t, k, GP64())
	movu(m, mv)
	if store {
		CMPQ(k, I8(-1))
		JE(LabelRef("k1"))
		block(rm, tm, true, false)
		JMP(LabelRef("done"))
		Label("k1")
	}
	block(rm, tm, true, true)

	Label("done")
	VZEROUPPER()
	RET()
}

// laneMask returns the address of the mask selecting the first n lanes, n
// held in register nreg (negated).
func laneMask(t typ, nreg Register, m GPVirtual) Mem {
	LEAQ(mask, m)
	NEGQ(nreg)
	return Mem{Base: m, Index: nreg, Scale: uint8(t.size), Disp: 32}
}

// cd3 generates cd3{T} (float64 only): cd{T}'s sweep for k = 3 directly on
// row-major A and P, four rows (twelve elements, three vectors) at a time,
// transposed in registers. Its code is unrolled for each of the six orders
// perm, so that the columns stay in registers; the caller checks that the
// Hessians are non-zero.
func cd3(t typ) {
	name := "cd3" + t.name
	TEXT(name, NOSPLIT, fmt.Sprintf("func(a *%[1]s, p *%[1]s, gram *%[1]s, perm *int, out *%[1]s, outS int, outG int, groups int) (first %[1]s)", t.goType))
	Pragma("noescape")
	Doc(fmt.Sprintf("%s runs cd%s's sweep for k = 3 on 4·groups rows of A and P, both row-major", name, t.name),
		"(3 columns), given G (3 x 3, row-major, non-zero diagonal) and perm (a",
		"permutation of 0, 1, 2). It stores |projected gradient| of row 4·i+j at step",
		"s in out[i·outG + s·outS + j] (strides in elements), read after P's rows",
		"of that group, so out may overlay P, and returns the sum of those of step 0,",
		"added in row order from 0.")
	a := Load(Param("a"), GP64())
	p := Load(Param("p"), GP64())
	g := Load(Param("gram"), GP64())
	perm := Load(Param("perm"), GP64())
	out := Load(Param("out"), GP64())
	outS := Load(Param("outS"), GP64())
	outG := Load(Param("outG"), GP64())
	n := Load(Param("groups"), GP64())
	SHLQ(U8(3), outS)
	SHLQ(U8(3), outG)
	// G[t,r] broadcast at gb + 32(3t + r): memory operands of the products.
	gb := AllocLocal(9 * 32)
	for i := range 9 {
		b := YMM()
		VBROADCASTSD(Mem{Base: g, Disp: 8 * i}, b)
		VMOVUPD(b, gb.Offset(32*i))
	}
	// The running sum of the outputs of step 0, in memory: it is a chain of
	// additions, which the steps of the next groups hide.
	sum := AllocLocal(8)
	z := XMM()
	VXORPS(z, z, z)
	VMOVSD(z, sum)
	code := GP64() // 3 perm[0] + perm[1]
	MOVQ(Mem{Base: perm}, code)
	LEAQ(Mem{Base: code, Index: code, Scale: 2}, code)
	ADDQ(Mem{Base: perm, Disp: 8}, code)
	perms := [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}
	label := func(pm [3]int) string { return fmt.Sprintf("%s_%d%d%d", name, pm[0], pm[1], pm[2]) }
	for _, pm := range perms {
		CMPQ(code, U8(3*pm[0]+pm[1]))
		JE(LabelRef(label(pm)))
	}
	JMP(LabelRef("done"))
	for _, pm := range perms {
		// Four groups at a time, their steps interleaved: one group's
		// chain of three dependent steps is too long for the out-of-order
		// window to overlap enough groups by itself.
		single := label(pm) + "_single"
		Label(label(pm))
		CMPQ(n, U8(4))
		JL(LabelRef(single))
		cd3Groups(t, pm, 4, a, p, out, outS, outG, gb, sum)
		SUBQ(U8(4), n)
		JMP(LabelRef(label(pm)))
		Label(single)
		TESTQ(n, n)
		JZ(LabelRef("done"))
		cd3Groups(t, pm, 1, a, p, out, outS, outG, gb, sum)
		DECQ(n)
		JMP(LabelRef(single))
	}
	Label("done")
	r := XMM()
	VMOVSD(sum, r)
	Store(r, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// cd3Groups generates cd3's sweep of ng groups of four rows in the order
// pm, and advances a, p and out past them. The columns of A stay in
// registers (3ng of them); those of P are stored back into the group's rows
// of P, column pm[s] in the place of the outputs of step s (so that with
// out overlaying P each is read before it is overwritten); the constants
// are memory operands. The outputs of step 0 are added to sum in row order.
func cd3Groups(t typ, pm [3]int, ng int, a, p, out, outS, outG Register, gb, sum Mem) {
	outs := []Register{out}
	for grp := 1; grp < ng; grp++ {
		o := GP64()
		LEAQ(Mem{Base: outs[grp-1], Index: outG, Scale: 1}, o)
		outs = append(outs, o)
	}
	for grp := range ng { // P first: nothing else is live yet
		q := rows3(t, Mem{Base: p, Disp: 96 * grp})
		for s, tt := range pm {
			t.movu(q[tt], Mem{Base: p, Disp: 96*grp + 32*s})
		}
	}
	c := make([][]VecVirtual, ng)
	for grp := range ng {
		c[grp] = rows3(t, Mem{Base: a, Disp: 96 * grp})
	}
	for s, tt := range pm {
		for grp := range ng {
			c := c[grp]
			acc, tmp := YMM(), YMM()
			t.movu(Mem{Base: p, Disp: 96*grp + 32*s}, acc)
			t.xor(t.sign, acc, acc)
			for r := range 3 {
				t.mul(gb.Offset(32*(3*tt+r)), c[r], tmp)
				t.add(tmp, acc, acc)
			}
			// The projected gradient and its absolute value, as cd{T}.
			m1, pg := YMM(), YMM()
			t.cmp(U8(cmpEQ), t.zero, c[tt], m1)
			t.cmp(U8(cmpGT), t.zero, acc, pg) // 0 < g
			t.and(pg, m1, m1)
			t.andn(acc, m1, pg)
			t.cmp(U8(cmpLT), t.zero, pg, m1)
			t.and(t.sign, m1, m1)
			t.xor(m1, pg, pg)
			dst := Mem{Base: outs[grp]}
			if s > 0 {
				dst = dst.Idx(outS, uint8(s))
			}
			t.movu(pg, dst)
			// The step: v where 0 < v, else +0 (also for -0 and NaN,
			// which VMAXPD maps to its second operand, +0).
			v := YMM()
			t.div(gb.Offset(32*(4*tt)), acc, v)
			t.sub(v, c[tt], v)
			t.max(t.zero, v, c[tt])
		}
	}
	for grp := range ng {
		storeRows3(t, Mem{Base: a, Disp: 96 * grp}, c[grp])
	}
	v := XMM()
	VMOVSD(sum, v)
	for grp := range ng {
		for j := range 4 {
			VADDSD(Mem{Base: outs[grp], Disp: 8 * j}, v, v)
		}
	}
	VMOVSD(v, sum)
	ADDQ(U32(96*ng), a)
	ADDQ(U32(96*ng), p)
	for range ng {
		ADDQ(outG, out)
	}
}

// rows3 loads four rows of three float64 at base (three vectors
// y0 = r0 r0 r0 r1, y1 = r1 r1 r2 r2, y2 = r2 r3 r3 r3) and returns the
// columns c0, c1, c2 (four rows each): two blends gather a column's
// elements, which sit at distinct positions, and a permute orders them.
func rows3(t typ, base Mem) []VecVirtual {
	y := []VecVirtual{YMM(), YMM(), YMM()}
	for i := range y {
		t.movu(base.Offset(32*i), y[i])
	}
	c := []VecVirtual{YMM(), YMM(), YMM()}
	for j := range 3 {
		u := YMM()
		VBLENDPD(U8(0b0100), y[col3[j][2]], y[col3[j][0]], u)
		VBLENDPD(U8(0b0010), y[col3[j][1]], u, u)
		VPERMPD(U8(perm3[j]), u, c[j])
	}
	return c
}

// col3[j] are the vectors holding positions 0 (and 3), 1 and 2 of column j
// (y[j], y[j+2], y[j+1], indices mod 3) before its permute perm3[j] (an
// involution, so it also undoes itself).
var (
	col3  = [3][3]int{{0, 2, 1}, {1, 0, 2}, {2, 1, 0}}
	perm3 = [3]uint64{0x6C, 0xB1, 0xC6}
)

// storeRows3 is the inverse of rows3: it stores the columns c as four rows
// of three float64 at base.
func storeRows3(t typ, base Mem, c []VecVirtual) {
	u := []VecVirtual{YMM(), YMM(), YMM()}
	for j := range 3 {
		VPERMPD(U8(perm3[j]), c[j], u[j])
	}
	// y[i] takes position 0 and 3 from u[i], 1 from u[i+1], 2 from u[i+2].
	for i := range 3 {
		y := YMM()
		VBLENDPD(U8(0b0010), u[(i+1)%3], u[i], y)
		VBLENDPD(U8(0b0100), u[(i+2)%3], y, y)
		t.movu(y, base.Offset(32*i))
	}
}
