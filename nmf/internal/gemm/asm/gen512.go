package main

// AVX-512 kernels (AVX512F + AVX512VL), for CPUs such as Zen 4 and recent
// Intel cores. With 32 vector registers and mask registers they take larger
// register tiles than the AVX2 kernels, read partial vectors without lane
// tables and transpose C tiles in registers. Only EVEX-encodable
// instructions are used, so that all 32 registers may be allocated.
//
// dotZ{T}_{MR}x{NR}: C = A·B with MR rows of A read in place and NR rows of
// Bᵀ, vectors along the inner dimension; MR·NR dot products reduced
// horizontally once per block, for a column of blocks per call.
//
// bcZ{T}_{NR}: C = op(A)·B with vectors along the rows of C: a tile of
// MR = 2 vectors of rows, read from the rows of Aᵀ in place (and then
// packed) or from a packed tile, and NR ≤ 12 (float32) or 8 (float64)
// columns of B read in place and broadcast. The tile is accumulated in a
// column-major scratch tile across chunks of p and, on the last chunk,
// transposed in registers and stored into the rows of C.
//
// bcZT{T}_{NR}, NR ≤ 4: the same for thin B, all of p and all tiles per call.
//
// gramZT{T}_{K}, K ≤ 4: AᵀA for thin A, one row of A per vector.
//
// transZ{T}, transK{T}_{K}, gatherZ{T}: transpositions of a p x k operand
// into k rows (blocks in registers; permutations of contiguous rows of
// K ≤ 4 entries; gathers).

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// iota16 is the int32 sequence 0..15 (gather indices).
var iota16 Mem

// rowsIdx holds two VPERMI2PD index vectors: qwords [0 1 8 9 2 3 10 11] and
// [4 5 12 13 6 7 14 15], the 128-bit lanes L = 0, 1 (then 2, 3) of two
// tables interleaved.
var rowsIdx Mem

func gen512() {
	iota16 = GLOBL("iota16", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(uint32(i)))
	}
	rowsIdx = GLOBL("rowsidx", RODATA|NOPTR)
	for i, q := range []uint64{0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15} {
		DATA(8*i, U64(q))
	}
	for _, t := range []typ{f32, f64} {
		for mr := 1; mr <= 3; mr++ {
			for nr := 1; nr <= maxDotNR(mr); nr++ {
				dotZ(t, mr, nr)
			}
		}
		for nr := 1; nr <= maxBCNR(t); nr++ {
			bcZ(t, nr)
		}
		for nr := 1; nr <= 4; nr++ {
			bcZT(t, nr)
			gramZT(t, nr)
			transK(t, nr)
		}
		gatherZ(t)
		transZ(t)
	}
}

// maxDotNR is the widest panel of the MR-row dot kernels: MR·NR
// accumulators, MR rows of A and one row of Bᵀ in 32 registers.
func maxDotNR(mr int) int { return min(8, 24/mr) }

// maxBCNR is the widest panel of the bc kernels: at most 24 accumulators,
// and no more columns than a vector has lanes (for the transposition).
func maxBCNR(t typ) int { return min(12, 64/t.size) }

// zlanes is the number of elements of a ZMM vector.
func zlanes(t typ) int { return 64 / t.size }

// setMask sets k to the low n bits, n in register nreg (clobbered is tmp).
func setMask(n Register, k Op) {
	tmp := GP64()
	MOVQ(U32(1), tmp)
	SHLXQ(n, tmp, tmp)
	DECQ(tmp)
	KMOVW(tmp.As32(), k)
}

func zero(z Op) { VPXORD(z, z, z) }

// vreg is a vector register, physical or virtual.
type vreg interface {
	Register
	AsX() Register
	AsY() Register
	AsZ() Register
}

// zregs are the physical ZMM registers: avo's greedy allocator fails on
// tiles that need most of the 32 registers, so the accumulators of the big
// tiles are allocated by hand.
var zregs = []vreg{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
	Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}

// pool is a free list of physical vector registers.
type pool struct{ free []vreg }

func (p *pool) take() vreg {
	r := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return r
}

func (p *pool) put(r vreg) { p.free = append(p.free, r) }

// reduce4 reduces up to four ZMM accumulators x (x[i] nil for absent
// columns) and returns a register whose lane c is the sum of the lanes of
// x[c]: an XMM for float32, a YMM for float64, as a ZMM taken from p (to be
// returned to it). The inputs are clobbered and returned to p.
func reduce4(t typ, p *pool, x []vreg) vreg {
	get := func(i int) vreg {
		if i < len(x) && x[i] != nil {
			return x[i]
		}
		z := p.take()
		zero(z)
		return z
	}
	if t.size == 4 {
		pair := func(a, b vreg) vreg {
			h := p.take()
			VUNPCKHPS(b, a, h) // per 128 bits: a2 b2 a3 b3
			VUNPCKLPS(b, a, a) // a0 b0 a1 b1
			VADDPS(h, a, a)    // a02 b02 a13 b13
			p.put(h)
			p.put(b)
			return a
		}
		s01 := pair(get(0), get(1))
		var s23 vreg
		if len(x) > 2 {
			s23 = pair(get(2), get(3))
		} else {
			s23 = get(2)
		}
		u1 := p.take()
		VSHUFPS(U8(0xEE), s23, s01, u1)  // a13 b13 c13 d13
		VSHUFPS(U8(0x44), s23, s01, s01) // a02 b02 c02 d02
		VADDPS(u1, s01, s01)
		p.put(s23)
		VEXTRACTF64X4(U8(1), s01, u1.AsY())
		VADDPS(u1.AsY(), s01.AsY(), s01.AsY())
		VEXTRACTF32X4(U8(1), s01.AsY(), u1.AsX())
		VADDPS(u1.AsX(), s01.AsX(), s01.AsX())
		p.put(u1)
		return s01
	}
	pair := func(a, b vreg) vreg {
		h := p.take()
		VUNPCKHPD(b, a, h) // per 128 bits: a1 b1
		VUNPCKLPD(b, a, a) // a0 b0
		VADDPD(h, a, a)
		VEXTRACTF64X4(U8(1), a, h.AsY())
		VADDPD(h.AsY(), a.AsY(), a.AsY()) // [a b | a b]
		p.put(h)
		p.put(b)
		return a
	}
	s01 := pair(get(0), get(1))
	var s23 vreg
	if len(x) > 2 {
		s23 = pair(get(2), get(3))
	} else {
		s23 = get(2)
	}
	hi := p.take()
	VSHUFF64X2(U8(3), s23.AsY(), s01.AsY(), hi.AsY())  // [s01.L1, s23.L1]
	VSHUFF64X2(U8(0), s23.AsY(), s01.AsY(), s01.AsY()) // [s01.L0, s23.L0]
	VADDPD(hi.AsY(), s01.AsY(), s01.AsY())
	p.put(hi)
	p.put(s23)
	return s01
}

// dotZ generates dotZ{T}_{mr}x{nr}.
func dotZ(t typ, mr, nr int) {
	name := fmt.Sprintf("dotZ%s_%dx%d", t.name, mr, nr)
	TEXT(name, NOSPLIT, fmt.Sprintf("func(a *%[1]s, lda int, b *%[1]s, ldb int, c *%[1]s, ldc int, n int, acc int, nt int)", t.goType))
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets (acc == 0) or adds to (acc != 0) nt blocks of %dx%d of C at c", name, mr, nr),
		"(row stride ldc, block after block down the rows) the dot products of the n",
		"first elements of the rows of A at a (row stride lda) and of the rows of Bᵀ",
		"at b (row stride ldb); nothing past the n elements is read. nt ≥ 1. Each",
		fmt.Sprintf("block prefetches the rows of A of the next one (%d rows down).", mr))
	vl := zlanes(t)
	lda := Load(Param("lda"), GP64())
	SHLQ(U8(t.shift), lda)
	lda3, tileStep := GP64(), GP64()
	LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
	IMUL3Q(U32(mr), lda, tileStep)
	aT := Load(Param("a"), GP64())
	cT := Load(Param("c"), GP64())
	nt := Load(Param("nt"), GP64())

	rowOf := func(base, ld, ld3 Register, v int) Mem {
		m := Mem{Base: base}
		switch v {
		case 1:
			m.Index, m.Scale = ld, 1
		case 2:
			m.Index, m.Scale = ld, 2
		case 3:
			m.Index, m.Scale = ld3, 1
		}
		return m
	}

	zi := 0
	acc := make([][]vreg, mr)
	for v := range acc {
		acc[v] = make([]vreg, nr)
		for j := range acc[v] {
			acc[v][j] = zregs[zi]
			zi++
		}
	}
	av := make([]vreg, mr)
	for v := range av {
		av[v] = zregs[zi]
		zi++
	}
	bv := zregs[zi]

	Label("tile")
	for v := range acc {
		for j := range acc[v] {
			zero(acc[v][j])
		}
	}
	a, pf := GP64(), GP64()
	MOVQ(aT, a)
	LEAQ(Mem{Base: aT, Index: tileStep, Scale: 1}, pf)
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(t.shift), ldb)
	ldb3, b4 := GP64(), GP64()
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)
	LEAQ(Mem{Base: b, Index: ldb, Scale: 4}, b4)
	bRow := func(j int) Mem {
		if j < 4 {
			return rowOf(b, ldb, ldb3, j)
		}
		return rowOf(b4, ldb, ldb3, j-4)
	}
	step := func(k Op) {
		for v := 0; v < mr; v++ {
			if k == nil {
				t.movu(rowOf(a, lda, lda3, v), av[v])
			} else {
				movuZ(t, rowOf(a, lda, lda3, v), k, av[v])
			}
		}
		for j := 0; j < nr; j++ {
			if k == nil {
				t.movu(bRow(j), bv)
			} else {
				movuZ(t, bRow(j), k, bv)
			}
			for v := 0; v < mr; v++ {
				t.fma(bv, av[v], acc[v][j])
			}
		}
	}
	nv := Load(Param("n"), GP64())
	SHRQ(U8(map[int]uint64{16: 4, 8: 3}[vl]), nv)
	Label("loop")
	TESTQ(nv, nv)
	JZ(LabelRef("tail"))
	for v := 0; v < mr; v++ {
		PREFETCHT0(rowOf(pf, lda, lda3, v))
	}
	step(nil)
	ADDQ(U8(64), a)
	ADDQ(U8(64), b)
	ADDQ(U8(64), b4)
	ADDQ(U8(64), pf)
	DECQ(nv)
	JMP(LabelRef("loop"))

	Label("tail")
	n := Load(Param("n"), GP64())
	ANDQ(U8(vl-1), n)
	JZ(LabelRef("reduce"))
	k := K()
	setMask(n, k)
	step(k)

	Label("reduce")
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(t.shift), ldc)
	ldc3 := GP64()
	LEAQ(Mem{Base: ldc, Index: ldc, Scale: 2}, ldc3)
	f := Load(Param("acc"), GP64())
	p := &pool{free: append([]vreg(nil), zregs[mr*nr:]...)}
	for g := 0; g < nr; g += 4 {
		ng := min(4, nr-g)
		var km Op
		if ng < 4 {
			km = K()
			r := GP64()
			MOVQ(U32((1<<ng)-1), r)
			KMOVW(r.As32(), km)
		}
		for v := 0; v < mr; v++ {
			sz := reduce4(t, p, acc[v][g:g+ng])
			var s Register = sz.AsX()
			if t.size == 8 {
				s = sz.AsY()
			}
			dst := rowOf(cT, ldc, ldc3, v).Offset(g * t.size)
			st := fmt.Sprintf("store_%d_%d", g, v)
			TESTQ(f, f)
			JZ(LabelRef(st))
			if km == nil {
				t.add(dst, s, s)
			} else {
				oz := p.take()
				var o Register = oz.AsX()
				if t.size == 8 {
					o = oz.AsY()
				}
				movuZ(t, dst, km, o)
				t.add(o, s, s)
				p.put(oz)
			}
			Label(st)
			if km == nil {
				t.movu(s, dst)
			} else {
				movuK(t, s, km, dst)
			}
			p.put(sz)
		}
	}
	ADDQ(tileStep, aT)
	IMUL3Q(U32(mr), ldc, ldc)
	ADDQ(ldc, cT)
	DECQ(nt)
	JNZ(LabelRef("tile"))
	VZEROUPPER()
	RET()
}

// movuK is a masked store.
func movuK(t typ, src Op, k Op, m Op) {
	if t.size == 4 {
		VMOVUPS(src, k, m)
	} else {
		VMOVUPD(src, k, m)
	}
}

// movuZ is a masked (zeroing) load.
func movuZ(t typ, m Op, k Op, dst Op) {
	if t.size == 4 {
		VMOVUPS_Z(m, k, dst)
	} else {
		VMOVUPD_Z(m, k, dst)
	}
}

// bcZ generates bcZ{T}_{nr}.
func bcZ(t typ, nr int) {
	name := fmt.Sprintf("bcZ%s_%d", t.name, nr)
	vl := zlanes(t)
	mrEl := 2 * vl
	TEXT(name, NOSPLIT, fmt.Sprintf("func(a *%[1]s, lda int, b *%[1]s, ldb int, ct *%[1]s, c *%[1]s, ldc int, kc int, mode int, rows int, pf *%[1]s, pfs int, pk *%[1]s)", t.goType))
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes the %dx%d tile T = Σ_{l<kc} a[l·lda : l·lda+%d] ⊗ b[l·ldb : l·ldb+%d]", name, mrEl, nr, mrEl, nr),
		"(rows of op(A) along the tile's rows, entries of B broadcast), of which",
		"only the first rows entries of each row of A are read (1 ≤ rows ≤ "+fmt.Sprint(mrEl)+").",
		fmt.Sprintf("mode&1: T += the scratch tile at ct ([%d][%d], column by column).", nr, mrEl),
		"mode&2: the first rows rows of T are stored into C at c (row stride ldc);",
		"otherwise T is stored into ct. Step l prefetches (into L2) the cache line",
		"at pf + l·pfs: the data of a later call. If pk is not nil, the rows of A",
		fmt.Sprintf("read are also stored there, packed as [kc][%d] (zeros past rows).", mrEl))
	a := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	SHLQ(U8(t.shift), lda)
	b := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(t.shift), ldb)
	n := Load(Param("kc"), GP64())
	rows := Load(Param("rows"), GP64())
	k0, k1 := K(), K()
	{
		r := GP64()
		MOVQ(U32(vl), r)
		CMPQ(rows, r)
		CMOVQLT(rows, r)
		setMask(r, k0)
		MOVQ(rows, r)
		SUBQ(U8(vl), r)
		tmp := GP64()
		XORQ(tmp, tmp)
		CMPQ(r, tmp)
		CMOVQLT(tmp, r)
		setMask(r, k1)
	}
	pfa, pfb := GP64(), GP64()
	LEAQ(Mem{Base: lda, Index: lda, Scale: 8}, pfa) // 9 rows ahead
	LEAQ(Mem{Base: ldb, Index: ldb, Scale: 8}, pfb)
	pf := Load(Param("pf"), GP64())
	pfs := Load(Param("pfs"), GP64())
	SHLQ(U8(t.shift), pfs)

	acc := make([][2]VecVirtual, nr)
	for j := range acc {
		for v := 0; v < 2; v++ {
			acc[j][v] = ZMM()
			zero(acc[j][v])
		}
	}
	a0, a1, tmp := ZMM(), ZMM(), ZMM()
	pk := Load(Param("pk"), GP64())
	loop := func(label string, store bool) {
		Label(label)
		TESTQ(n, n)
		JZ(LabelRef("done"))
		PREFETCHT0(Mem{Base: a, Index: pfa, Scale: 1})
		PREFETCHT0(Mem{Base: a, Index: pfa, Scale: 1, Disp: 64})
		PREFETCHT0(Mem{Base: b, Index: pfb, Scale: 1})
		PREFETCHT1(Mem{Base: pf})
		ADDQ(pfs, pf)
		movuZ(t, Mem{Base: a}, k0, a0)
		movuZ(t, Mem{Base: a, Disp: 64}, k1, a1)
		if store {
			t.movu(a0, Mem{Base: pk})
			t.movu(a1, Mem{Base: pk, Disp: 64})
			ADDQ(U8(128), pk)
		}
		for j := 0; j < nr; j++ {
			if t.size == 4 {
				VBROADCASTSS(Mem{Base: b, Disp: j * 4}, tmp)
			} else {
				VBROADCASTSD(Mem{Base: b, Disp: j * 8}, tmp)
			}
			t.fma(tmp, a0, acc[j][0])
			t.fma(tmp, a1, acc[j][1])
		}
		ADDQ(lda, a)
		ADDQ(ldb, b)
		DECQ(n)
		JMP(LabelRef(label))
	}
	TESTQ(pk, pk)
	JNZ(LabelRef("loopk"))
	loop("loop", false)
	loop("loopk", true)

	Label("done")
	ct := Load(Param("ct"), GP64())
	mode := Load(Param("mode"), GP64())
	TESTQ(U32(1), mode)
	JZ(LabelRef("noadd"))
	for j := 0; j < nr; j++ {
		for v := 0; v < 2; v++ {
			t.add(Mem{Base: ct, Disp: (2*j + v) * 64}, acc[j][v], acc[j][v])
		}
	}
	Label("noadd")
	if nr <= 4 {
		TESTQ(U32(2), mode)
		JNZ(LabelRef("final4"))
	}
	for j := 0; j < nr; j++ {
		for v := 0; v < 2; v++ {
			t.movu(acc[j][v], Mem{Base: ct, Disp: (2*j + v) * 64})
		}
	}
	TESTQ(U32(2), mode)
	JNZ(LabelRef("final"))
	VZEROUPPER()
	RET()

	if nr <= 4 {
		// Narrow tiles are transposed from the accumulators.
		Label("final4")
		c := Load(Param("c"), GP64())
		ldc := Load(Param("ldc"), GP64())
		SHLQ(U8(t.shift), ldc)
		storeNarrow(t, nr, acc, c, ldc, rows, "end4")
		Label("end4")
		VZEROUPPER()
		RET()
	}

	// The final tile goes through ct: transposing it in registers while all
	// accumulators are live would need more than 32 registers.
	Label("final")
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(t.shift), ldc)
	km := K()
	{
		r := GP64()
		MOVQ(U32((1<<nr)-1), r)
		KMOVW(r.As32(), km)
	}
	for v := 0; v < 2; v++ {
		cols := make([]VecVirtual, vl)
		for j := range cols {
			if j < nr {
				cols[j] = ZMM()
				t.movu(Mem{Base: ct, Disp: (2*j + v) * 64}, cols[j])
			} else {
				cols[j] = cols[0]
			}
		}
		var rowsV []VecVirtual
		if t.size == 4 {
			rowsV = transpose16(cols)
		} else {
			rowsV = transpose8z(cols)
		}
		for i, rv := range rowsV {
			row := v*vl + i
			if row > 0 {
				CMPQ(rows, U8(row))
				JLE(LabelRef("end"))
			}
			movuK(t, rv, km, Mem{Base: c})
			ADDQ(ldc, c)
		}
	}
	Label("end")
	VZEROUPPER()
	RET()
}

// storeNarrow stores the first rows rows of a tile of nr ≤ 4 columns held
// in acc (acc[j][v]: column j, rows v·VL..) into C at c (row stride ldc in
// bytes; c is advanced), jumping to end after the last row: each row of C
// is a group of nr lanes of one of four vectors, stored with a mask at an
// address shifted back by the group's offset.
func storeNarrow(t typ, nr int, acc [][2]VecVirtual, c, ldc, rows Register, end string) {
	cols := func(v int) []VecVirtual {
		x := make([]VecVirtual, 4)
		for j := range x {
			if j < nr {
				x[j] = acc[j][v]
			} else {
				x[j] = acc[0][v]
			}
		}
		return x
	}
	// rowVec(v)[r] is the vector and lane group holding row v·vl + r.
	type loc struct {
		vec VecVirtual
		grp int
	}
	var locs []loc
	var masks []Op
	if t.size == 4 {
		for g := 0; g < 4; g++ {
			k := K()
			r := GP64()
			MOVQ(U32(((1<<nr)-1)<<(4*g)), r)
			KMOVW(r.As32(), k)
			masks = append(masks, k)
		}
		for v := 0; v < 2; v++ {
			x := cols(v)
			t0, t1, t2, t3 := ZMM(), ZMM(), ZMM(), ZMM()
			VUNPCKLPS(x[1], x[0], t0) // lane L: c0[4L] c1[4L] c0[4L+1] c1[4L+1]
			VUNPCKHPS(x[1], x[0], t1) // c0[4L+2] c1[4L+2] c0[4L+3] c1[4L+3]
			VUNPCKLPS(x[3], x[2], t2)
			VUNPCKHPS(x[3], x[2], t3)
			u := [4]VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
			VSHUFPS(U8(0x44), t2, t0, u[0]) // lane L: row 4L
			VSHUFPS(U8(0xEE), t2, t0, u[1]) // row 4L+1
			VSHUFPS(U8(0x44), t3, t1, u[2]) // row 4L+2
			VSHUFPS(U8(0xEE), t3, t1, u[3]) // row 4L+3
			for r := 0; r < 16; r++ {
				locs = append(locs, loc{u[r%4], r / 4})
			}
		}
	} else {
		for g := 0; g < 2; g++ {
			k := K()
			r := GP64()
			MOVQ(U32(((1<<nr)-1)<<(4*g)), r)
			KMOVW(r.As32(), k)
			masks = append(masks, k)
		}
		for v := 0; v < 2; v++ {
			x := cols(v)
			t0, t1, t2, t3 := ZMM(), ZMM(), ZMM(), ZMM()
			VUNPCKLPD(x[1], x[0], t0) // lane L: c0[2L] c1[2L]
			VUNPCKHPD(x[1], x[0], t1) // c0[2L+1] c1[2L+1]
			VUNPCKLPD(x[3], x[2], t2) // c2[2L] c3[2L]
			VUNPCKHPD(x[3], x[2], t3)
			// u[e][h]: rows 4h+e (low half) and 4h+e+2 (high half).
			var u [2][2]VecVirtual
			for e, pair := range [][2]VecVirtual{{t0, t2}, {t1, t3}} {
				for h := 0; h < 2; h++ {
					u[e][h] = ZMM()
					VMOVDQU64(rowsIdx.Offset(64*h), u[e][h])
					VPERMI2PD(pair[1], pair[0], u[e][h])
				}
			}
			for r := 0; r < 8; r++ {
				// Row r = 2L + e lies in lane L of t_e: L = 0, 1 in
				// u[e][0], L = 2, 3 in u[e][1].
				L, e := r/2, r%2
				locs = append(locs, loc{u[e][L/2], L % 2})
			}
		}
	}
	for row, l := range locs {
		if row > 0 {
			CMPQ(rows, U8(row))
			JLE(LabelRef(end))
		}
		movuK(t, l.vec, masks[l.grp], Mem{Base: c, Disp: -l.grp * 4 * t.size})
		ADDQ(ldc, c)
	}
}

// transpose16 transposes the 16x16 float32 matrix whose rows are r.
func transpose16(r []VecVirtual) []VecVirtual {
	t := make([]VecVirtual, 16)
	for i := 0; i < 16; i += 2 {
		t[i], t[i+1] = ZMM(), ZMM()
		VUNPCKLPS(r[i+1], r[i], t[i])   // per 128 bits: r_i0 r_j0 r_i1 r_j1
		VUNPCKHPS(r[i+1], r[i], t[i+1]) // r_i2 r_j2 r_i3 r_j3
	}
	// u[g+c], per 128-bit lane L: column 4L+c of rows g..g+3.
	u := make([]VecVirtual, 16)
	for g := 0; g < 16; g += 4 {
		for q := 0; q < 2; q++ {
			u[g+2*q], u[g+2*q+1] = ZMM(), ZMM()
			VSHUFPS(U8(0x44), t[g+2+q], t[g+q], u[g+2*q])
			VSHUFPS(U8(0xEE), t[g+2+q], t[g+q], u[g+2*q+1])
		}
	}
	out := make([]VecVirtual, 16)
	for c := 0; c < 4; c++ {
		// lo: [u0.L0 u0.L1 u4.L0 u4.L1], hi: [u0.L2 u0.L3 u4.L2 u4.L3]; same for 8, 12.
		lo1, hi1, lo2, hi2 := ZMM(), ZMM(), ZMM(), ZMM()
		VSHUFF32X4(U8(0x44), u[4+c], u[c], lo1)
		VSHUFF32X4(U8(0xEE), u[4+c], u[c], hi1)
		VSHUFF32X4(U8(0x44), u[12+c], u[8+c], lo2)
		VSHUFF32X4(U8(0xEE), u[12+c], u[8+c], hi2)
		for _, o := range []int{c, 4 + c, 8 + c, 12 + c} {
			out[o] = ZMM()
		}
		VSHUFF32X4(U8(0x88), lo2, lo1, out[c])
		VSHUFF32X4(U8(0xDD), lo2, lo1, out[4+c])
		VSHUFF32X4(U8(0x88), hi2, hi1, out[8+c])
		VSHUFF32X4(U8(0xDD), hi2, hi1, out[12+c])
	}
	return out
}

// transpose8z transposes the 8x8 float64 matrix whose rows are r.
func transpose8z(r []VecVirtual) []VecVirtual {
	t := make([]VecVirtual, 8)
	for i := 0; i < 8; i += 2 {
		t[i], t[i+1] = ZMM(), ZMM()
		VUNPCKLPD(r[i+1], r[i], t[i])   // per 128-bit lane L: column 2L of rows i, i+1
		VUNPCKHPD(r[i+1], r[i], t[i+1]) // column 2L+1
	}
	out := make([]VecVirtual, 8)
	for c := 0; c < 2; c++ {
		// lo(g): [col c, col 4+c of rows g,g+1; col c, col 4+c of rows g+2,g+3]
		lo0, hi0, lo4, hi4 := ZMM(), ZMM(), ZMM(), ZMM()
		VSHUFF64X2(U8(0x88), t[2+c], t[c], lo0)
		VSHUFF64X2(U8(0xDD), t[2+c], t[c], hi0)
		VSHUFF64X2(U8(0x88), t[6+c], t[4+c], lo4)
		VSHUFF64X2(U8(0xDD), t[6+c], t[4+c], hi4)
		for _, o := range []int{c, 2 + c, 4 + c, 6 + c} {
			out[o] = ZMM()
		}
		VSHUFF64X2(U8(0x88), lo4, lo0, out[c])
		VSHUFF64X2(U8(0xDD), lo4, lo0, out[4+c])
		VSHUFF64X2(U8(0x88), hi4, hi0, out[2+c])
		VSHUFF64X2(U8(0xDD), hi4, hi0, out[6+c])
	}
	return out
}

// gatherZ generates gatherZ{T}, dst[j·ldd + l] = src[l·lds + j] for l < n,
// j < k.
func gatherZ(t typ) {
	name := "gatherZ" + t.name
	vl := zlanes(t)
	TEXT(name, NOSPLIT, fmt.Sprintf("func(dst *%[1]s, ldd int, src *%[1]s, lds int, n int, k int)", t.goType))
	Pragma("noescape")
	Doc(fmt.Sprintf("%s transposes the n x k matrix at src (row stride lds) into the", name),
		"k x n matrix at dst (row stride ldd). lds·(16-1) must fit in an int32.")
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	SHLQ(U8(t.shift), ldd)
	src := Load(Param("src"), GP64())
	lds := GP64()
	Load(Param("lds"), lds)
	n := Load(Param("n"), GP64())
	kk := Load(Param("k"), GP64())
	idx := ZMM()
	{
		VMOVDQU32(iota16, idx)
		s := ZMM()
		VPBROADCASTD(lds.As32(), s)
		VPMULLD(s, idx, idx)
	}
	SHLQ(U8(t.shift), lds)
	blk := GP64() // bytes of src per block of vl rows
	MOVQ(lds, blk)
	SHLQ(U8(map[int]uint64{16: 4, 8: 3}[vl]), blk)
	km, all := K(), K()
	KXNORW(all, all, all)
	v := ZMM()
	var ix Register = idx
	if t.size == 8 {
		ix = idx.AsY()
	}
	gather := func(base Register) {
		if t.size == 4 {
			VGATHERDPS(Mem{Base: base, Index: ix, Scale: 4}, km, v)
		} else {
			VGATHERDPD(Mem{Base: base, Index: ix, Scale: 8}, km, v)
		}
	}
	s, d, j := GP64(), GP64(), GP64()
	Label("block")
	CMPQ(n, U8(vl))
	JL(LabelRef("tail"))
	MOVQ(src, s)
	MOVQ(dst, d)
	MOVQ(kk, j)
	Label("col")
	TESTQ(j, j)
	JZ(LabelRef("next"))
	KMOVW(all, km)
	gather(s)
	t.movu(v, Mem{Base: d})
	ADDQ(U8(t.size), s)
	ADDQ(ldd, d)
	DECQ(j)
	JMP(LabelRef("col"))
	Label("next")
	ADDQ(blk, src)
	ADDQ(U8(64), dst)
	SUBQ(U8(vl), n)
	JMP(LabelRef("block"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	kt := K()
	setMask(n, kt)
	MOVQ(src, s)
	MOVQ(dst, d)
	MOVQ(kk, j)
	Label("tcol")
	TESTQ(j, j)
	JZ(LabelRef("done"))
	KMOVW(kt, km)
	VPXORD(v, v, v)
	gather(s)
	movuK(t, v, kt, Mem{Base: d})
	ADDQ(U8(t.size), s)
	ADDQ(ldd, d)
	DECQ(j)
	JMP(LabelRef("tcol"))
	Label("done")
	VZEROUPPER()
	RET()
}

// transZ generates transZ{T}, the transposition of nb blocks of VL rows of a
// matrix with k columns into k rows, by VL x VL blocks in registers.
func transZ(t typ) {
	name := "transZ" + t.name
	vl := zlanes(t)
	TEXT(name, NOSPLIT, fmt.Sprintf("func(dst *%[1]s, ldd int, src *%[1]s, lds int, nb int, k int)", t.goType))
	Pragma("noescape")
	Doc(fmt.Sprintf("%s transposes the (%d·nb) x k matrix at src (row stride lds) into the", name, vl),
		fmt.Sprintf("k x (%d·nb) matrix at dst (row stride ldd). Nothing past column k is read.", vl))
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	SHLQ(U8(t.shift), ldd)
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	SHLQ(U8(t.shift), lds)
	nb := Load(Param("nb"), GP64())
	kk := Load(Param("k"), GP64())
	s, d, j, p, m := GP64(), GP64(), GP64(), GP64(), GP64()
	km := K()
	Label("block")
	TESTQ(nb, nb)
	JZ(LabelRef("done"))
	MOVQ(src, s)
	MOVQ(dst, d)
	MOVQ(kk, j)
	Label("cols")
	TESTQ(j, j)
	JLE(LabelRef("next"))
	MOVQ(U32(vl), m)
	CMPQ(j, m)
	CMOVQLT(j, m)
	setMask(m, km)
	MOVQ(s, p)
	r := make([]VecVirtual, vl)
	for v := range r {
		r[v] = ZMM()
		movuZ(t, Mem{Base: p}, km, r[v])
		if v < vl-1 {
			ADDQ(lds, p)
		}
	}
	var out []VecVirtual
	if t.size == 4 {
		out = transpose16(r)
	} else {
		out = transpose8z(r)
	}
	MOVQ(d, p)
	for i, o := range out {
		if i > 0 {
			CMPQ(m, U8(i))
			JLE(LabelRef("stored"))
		}
		t.movu(o, Mem{Base: p})
		ADDQ(ldd, p)
	}
	Label("stored")
	ADDQ(U8(64), s)
	MOVQ(ldd, p)
	SHLQ(U8(map[int]uint64{16: 4, 8: 3}[vl]), p)
	ADDQ(p, d)
	SUBQ(U8(vl), j)
	JMP(LabelRef("cols"))
	Label("next")
	MOVQ(lds, p)
	SHLQ(U8(map[int]uint64{16: 4, 8: 3}[vl]), p)
	ADDQ(p, src)
	ADDQ(U8(64), dst)
	DECQ(nb)
	JMP(LabelRef("block"))
	Label("done")
	VZEROUPPER()
	RET()
}

// bcZT generates bcZT{T}_{nr}, nr ≤ 4: C = op(A)·B for thin B (p x nr), with
// all of p at once and all the tiles of rows of C in one call, so that the
// per-call costs do not weigh on products as thin as 5,000 x 38 times 38 x 3.
func bcZT(t typ, nr int) {
	name := fmt.Sprintf("bcZT%s_%d", t.name, nr)
	vl := zlanes(t)
	mrEl := 2 * vl
	TEXT(name, NOSPLIT, fmt.Sprintf("func(a *%[1]s, lda int, b *%[1]s, ldb int, c *%[1]s, ldc int, p int, r int)", t.goType))
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets the r x %d block of C at c (row stride ldc) to", name, nr),
		"Σ_{l<p} a[l·lda : l·lda+r] ⊗ b[l·ldb : l·ldb+"+fmt.Sprint(nr)+"], by tiles of "+fmt.Sprint(mrEl)+" rows.",
		"Nothing past the r entries of each row of A is read. r, p ≥ 1.")
	lda := Load(Param("lda"), GP64())
	SHLQ(U8(t.shift), lda)
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(t.shift), ldb)
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(t.shift), ldc)
	aT := Load(Param("a"), GP64())
	cT := Load(Param("c"), GP64())
	rem := Load(Param("r"), GP64())
	a, b, n, cw := GP64(), GP64(), GP64(), GP64()
	k0, k1 := K(), K()
	acc := make([][2]VecVirtual, nr)
	for j := range acc {
		acc[j] = [2]VecVirtual{ZMM(), ZMM()}
	}
	a0, a1, tmp := ZMM(), ZMM(), ZMM()

	Label("tile")
	{
		r := GP64()
		MOVQ(U32(vl), r)
		CMPQ(rem, r)
		CMOVQLT(rem, r)
		setMask(r, k0)
		MOVQ(rem, r)
		SUBQ(U8(vl), r)
		z := GP64()
		XORQ(z, z)
		CMPQ(r, z)
		CMOVQLT(z, r)
		MOVQ(U32(vl), z)
		CMPQ(r, z)
		CMOVQGT(z, r)
		setMask(r, k1)
	}
	for j := range acc {
		zero(acc[j][0])
		zero(acc[j][1])
	}
	MOVQ(aT, a)
	Load(Param("b"), b)
	Load(Param("p"), n)
	Label("step")
	// The same rows of the next tile, for the next call of the loop.
	PREFETCHT0(Mem{Base: a, Disp: 128})
	PREFETCHT0(Mem{Base: a, Disp: 192})
	movuZ(t, Mem{Base: a}, k0, a0)
	movuZ(t, Mem{Base: a, Disp: 64}, k1, a1)
	for j := 0; j < nr; j++ {
		if t.size == 4 {
			VBROADCASTSS(Mem{Base: b, Disp: j * 4}, tmp)
		} else {
			VBROADCASTSD(Mem{Base: b, Disp: j * 8}, tmp)
		}
		t.fma(tmp, a0, acc[j][0])
		t.fma(tmp, a1, acc[j][1])
	}
	ADDQ(lda, a)
	ADDQ(ldb, b)
	DECQ(n)
	JNZ(LabelRef("step"))

	MOVQ(cT, cw)
	storeNarrow(t, nr, acc, cw, ldc, rem, "next")
	Label("next")
	ADDQ(U8(128), aT)
	MOVQ(ldc, cw)
	SHLQ(U8(map[int]uint64{16: 5, 8: 4}[vl]), cw) // MR rows of C
	ADDQ(cw, cT)
	SUBQ(U8(mrEl), rem)
	JG(LabelRef("tile"))
	VZEROUPPER()
	RET()
}

// gramZT generates gramZT{T}_{k}, k ≤ 4: the Gram matrix C = AᵀA of the
// p x k matrix A, one row of A per (masked) vector of 4 lanes: for each row
// a_l, C[j] += a_l[j]·a_l (embedded broadcasts), with four sets of
// accumulators for four rows in flight. C[i][j] and C[j][i] go through the
// same operations, so C is exactly symmetric.
func gramZT(t typ, k int) {
	name := fmt.Sprintf("gramZT%s_%d", t.name, k)
	TEXT(name, NOSPLIT, fmt.Sprintf("func(a *%[1]s, lda int, c *%[1]s, ldc int, p int)", t.goType))
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets the %dx%d matrix at c (row stride ldc) to AᵀA for the p x %d", name, k, k, k),
		"matrix A at a (row stride lda). Nothing past the k entries of a row is read.")
	vec := func(r vreg) Register {
		if t.size == 4 {
			return r.AsX()
		}
		return r.AsY()
	}
	fmaB := func(m Mem, x, acc Register) {
		if t.size == 4 {
			VFMADD231PS_BCST(m, x, acc)
		} else {
			VFMADD231PD_BCST(m, x, acc)
		}
	}
	a := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	SHLQ(U8(t.shift), lda)
	lda3 := GP64()
	LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
	n := Load(Param("p"), GP64())
	km := K()
	{
		r := GP64()
		MOVQ(U32((1<<k)-1), r)
		KMOVW(r.As32(), km)
	}
	const sets = 4
	acc := make([][]Register, sets)
	zi := 0
	for s := range acc {
		acc[s] = make([]Register, k)
		for j := range acc[s] {
			acc[s][j] = vec(zregs[zi])
			zi++
			VPXORD(acc[s][j], acc[s][j], acc[s][j])
		}
	}
	x := make([]Register, sets)
	for s := range x {
		x[s] = vec(zregs[zi])
		zi++
	}
	row := func(s int) Mem {
		m := Mem{Base: a}
		switch s {
		case 1:
			m.Index, m.Scale = lda, 1
		case 2:
			m.Index, m.Scale = lda, 2
		case 3:
			m.Index, m.Scale = lda3, 1
		}
		return m
	}
	Label("loop4")
	CMPQ(n, U8(sets))
	JL(LabelRef("one"))
	for s := 0; s < sets; s++ {
		movuZ(t, row(s), km, x[s])
	}
	for j := 0; j < k; j++ {
		for s := 0; s < sets; s++ {
			fmaB(row(s).Offset(j*t.size), x[s], acc[s][j])
		}
	}
	LEAQ(Mem{Base: a, Index: lda, Scale: 4}, a)
	SUBQ(U8(sets), n)
	JMP(LabelRef("loop4"))
	Label("one")
	TESTQ(n, n)
	JZ(LabelRef("sum"))
	movuZ(t, row(0), km, x[0])
	for j := 0; j < k; j++ {
		fmaB(row(0).Offset(j*t.size), x[0], acc[0][j])
	}
	ADDQ(lda, a)
	DECQ(n)
	JMP(LabelRef("one"))
	Label("sum")
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(t.shift), ldc)
	for j := 0; j < k; j++ {
		t.add(acc[1][j], acc[0][j], acc[0][j])
		t.add(acc[3][j], acc[2][j], acc[2][j])
		t.add(acc[2][j], acc[0][j], acc[0][j])
		movuK(t, acc[0][j], km, Mem{Base: c})
		if j < k-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// transK generates transK{T}_{k}, k ≤ 4: the transposition of nb blocks of
// VL rows of a contiguous matrix with k columns (row stride k) into k rows,
// each column of a block picked from the k vectors of the block by a chain of
// two-table permutations.
func transK(t typ, k int) {
	name := fmt.Sprintf("transK%s_%d", t.name, k)
	vl := zlanes(t)
	TEXT(name, NOSPLIT, fmt.Sprintf("func(dst *%[1]s, ldd int, src *%[1]s, nb int)", t.goType))
	Pragma("noescape")
	Doc(fmt.Sprintf("%s transposes the (%d·nb) x %d matrix at src (row stride %d) into the", name, vl, k, k),
		fmt.Sprintf("%d x (%d·nb) matrix at dst (row stride ldd).", k, vl))
	// Index tables: for column j, step s (merging source vector s+1):
	// lanes taken from the chain so far are 0..vl-1, from the new source
	// vl..2vl-1.
	type step struct {
		idx  Mem
		from int // source vector merged by this step (1..k-1)
	}
	steps := make([][]step, k)
	for j := 0; j < k; j++ {
		for src := 1; src < k; src++ {
			g := GLOBL(fmt.Sprintf("tk%s_%d_%d_%d", t.name, k, j, src), RODATA|NOPTR)
			for i := 0; i < vl; i++ {
				e := j + k*i // element of the block for lane i
				sv, lane := e/vl, e%vl
				var v int
				switch {
				case src == 1 && sv == 0:
					v = lane
				case sv == src:
					v = vl + lane
				default:
					v = i // keep the chain's lane (or any, for later sources)
				}
				if t.size == 4 {
					DATA(4*i, U32(uint32(v)))
				} else {
					DATA(8*i, U64(uint64(v)))
				}
			}
			steps[j] = append(steps[j], step{g, src})
		}
	}
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	SHLQ(U8(t.shift), ldd)
	src := Load(Param("src"), GP64())
	nb := Load(Param("nb"), GP64())
	d := GP64()
	v := make([]VecVirtual, k)
	for i := range v {
		v[i] = ZMM()
	}
	col, ix := ZMM(), ZMM()
	Label("block")
	TESTQ(nb, nb)
	JZ(LabelRef("done"))
	for i := range v {
		t.movu(Mem{Base: src, Disp: 64 * i}, v[i])
	}
	MOVQ(dst, d)
	for j := 0; j < k; j++ {
		if k == 1 {
			t.movu(v[0], Mem{Base: d})
			continue
		}
		for si, st := range steps[j] {
			if si == 0 {
				// col = the lanes of v0 and v1.
				VMOVDQU64(st.idx, col)
				if t.size == 4 {
					VPERMI2PS(v[1], v[0], col)
				} else {
					VPERMI2PD(v[1], v[0], col)
				}
				continue
			}
			// col = col, with the lanes of v[from] merged in.
			VMOVDQU64(st.idx, ix)
			if t.size == 4 {
				VPERMT2PS(v[st.from], ix, col)
			} else {
				VPERMT2PD(v[st.from], ix, col)
			}
		}
		t.movu(col, Mem{Base: d})
		if j < k-1 {
			ADDQ(ldd, d)
		}
	}
	ADDQ(U32(64*k), src)
	ADDQ(U8(64), dst)
	DECQ(nb)
	JMP(LabelRef("block"))
	Label("done")
	VZEROUPPER()
	RET()
}
