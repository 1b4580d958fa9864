// Command asm generates the AVX2+FMA micro-kernels of package gemm with avo,
// and the AVX-512 ones (gen512.go).
//
// It lives in its own module so that avo is not a dependency of gonmf. Run it
// through `go generate ./nmf/internal/gemm/` (see gemm.go), which writes
// ../kernels_amd64.s and ../kernels_amd64.go.
//
// Two kernel families are generated, each for float32 (F32) and float64 (F64):
//
// dot{T}_{MR}x{NR}, MR in 1..3, NR in 1..4, for C = A·B with A read in place
// (row-major, unpacked) and B packed transposed. Vectors run along the
// inner dimension p, so a C tile of MR rows by NR columns is MR·NR dot
// products; each accumulator is reduced horizontally once per call and
// the NR sums of a row are stored (or added) contiguously in C. No vector
// lane is wasted on k (the number of columns of C, often 3..100).
//
// bc{T}_{NR}, NR in 1..6, for C = op(A)·B with a tile of op(A) packed as
// [l][MR] (MR = two vectors of rows of C) and B packed as [l][NR]. Vectors
// run along the rows of C, B entries are broadcast; the MR x NR tile is
// kept column-major in a scratch buffer that the Go driver transposes into
// C. Again no lane is wasted on k. packT{T} packs such tiles from Aᵀ (a
// strided copy) and packN{T} from A (8x8 or 4x4 register transposes).
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// typ describes one element type: its size, vector width and the packed
// instructions that differ between float32 and float64.
type typ struct {
	name   string // F32 or F64
	goType string
	size   int // bytes per element
	vw     int // elements per YMM vector
	shift  uint64

	movu      func(mxy, mxy1 Op)
	fma       func(mxy, xy, xy1 Op)
	add       func(mxy, xy, xy1 Op)
	bcast     func(mx, xy Op)
	maskmov   func(mxy, xy, mxy1 Op)
	maskScale uint8 // byte scale of the lane index into the mask table
}

var f32 = typ{
	name: "F32", goType: "float32", size: 4, vw: 8, shift: 2,
	movu:      func(a, b Op) { VMOVUPS(a, b) },
	fma:       func(a, b, c Op) { VFMADD231PS(a, b, c) },
	add:       func(a, b, c Op) { VADDPS(a, b, c) },
	bcast:     func(a, b Op) { VBROADCASTSS(a, b) },
	maskmov:   func(a, b, c Op) { VMASKMOVPS(a, b, c) },
	maskScale: 4,
}

var f64 = typ{
	name: "F64", goType: "float64", size: 8, vw: 4, shift: 3,
	movu:      func(a, b Op) { VMOVUPD(a, b) },
	fma:       func(a, b, c Op) { VFMADD231PD(a, b, c) },
	add:       func(a, b, c Op) { VADDPD(a, b, c) },
	bcast:     func(a, b Op) { VBROADCASTSD(a, b) },
	maskmov:   func(a, b, c Op) { VMASKMOVPD(a, b, c) },
	maskScale: 8,
}

// mask is 8 all-ones int32 followed by 8 zeros: the 32 bytes starting at
// byte 32-4n (float32) or 32-8n (float64) select the first n lanes.
var mask Mem

func main() {
	ConstraintExpr("amd64")

	mask = GLOBL("lanemask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}

	for _, t := range []typ{f32, f64} {
		for mr := 1; mr <= 3; mr++ {
			for nr := 1; nr <= 4; nr++ {
				dot(t, mr, nr)
			}
		}
		for nr := 1; nr <= 6; nr++ {
			bc(t, nr)
		}
		packT(t)
		packN(t)
	}
	gen512()
	Generate()
}

// laneMask loads into m the address of the mask selecting the first n lanes,
// n held in register nreg (clobbered).
func laneMask(t typ, nreg Register, m GPVirtual) Mem {
	LEAQ(mask, m)
	NEGQ(nreg)
	return Mem{Base: m, Index: nreg, Scale: t.maskScale, Disp: 32}
}

// dot generates dot{T}_{mr}x{nr}.
func dot(t typ, mr, nr int) {
	name := fmt.Sprintf("dot%s_%dx%d", t.name, mr, nr)
	TEXT(name, NOSPLIT, fmt.Sprintf("func(a *%[1]s, lda int, b *%[1]s, c *%[1]s, ldc int, nv int, tail int, acc int, pf *%[1]s)", t.goType))
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets (acc == 0) or adds to (acc != 0) the %dx%d block of C at c", name, mr, nr),
		"(row stride ldc) the products of the rows of A at a (row stride lda) with the",
		"columns packed at b as [vector][column][lane]: nv full vectors, then, if",
		"tail > 0, one vector of which only the first tail lanes are read from A.",
		"The rows of A at pf (same stride) are prefetched for the next call.")

	a := Load(Param("a"), GP64())
	lda := Load(Param("lda"), GP64())
	SHLQ(U8(t.shift), lda)
	b := Load(Param("b"), GP64())
	n := Load(Param("nv"), GP64())
	pf := Load(Param("pf"), GP64())

	row := func(base Register, v int, disp int) Mem {
		m := Mem{Base: base, Disp: disp}
		switch v {
		case 1:
			m.Index, m.Scale = lda, 1
		case 2:
			m.Index, m.Scale = lda, 2
		}
		return m
	}

	acc := make([][]VecVirtual, mr)
	for v := range acc {
		acc[v] = make([]VecVirtual, nr)
		for j := range acc[v] {
			acc[v][j] = YMM()
			VXORPS(acc[v][j], acc[v][j], acc[v][j])
		}
	}
	av := make([]VecVirtual, mr)
	for v := range av {
		av[v] = YMM()
	}
	tmp := YMM()
	vb := 32 // bytes per vector

	// step multiplies the A vectors already in av with the nr B vectors at b+off.
	step := func(off int) {
		for j := 0; j < nr; j++ {
			t.movu(Mem{Base: b, Disp: off + j*vb}, tmp)
			for v := 0; v < mr; v++ {
				t.fma(tmp, av[v], acc[v][j])
			}
		}
	}
	load := func(off int) {
		for v := 0; v < mr; v++ {
			t.movu(row(a, v, off), av[v])
		}
	}

	Comment("Two vectors of p per iteration; one cache line of each row of A.")
	Label("loop2")
	CMPQ(n, U8(2))
	JL(LabelRef("one"))
	for v := 0; v < mr; v++ {
		PREFETCHT0(row(pf, v, 0))
	}
	load(0)
	step(0)
	load(vb)
	step(nr * vb)
	ADDQ(U32(2*vb), a)
	ADDQ(U32(2*vb), pf)
	ADDQ(U32(2*nr*vb), b)
	SUBQ(U8(2), n)
	JMP(LabelRef("loop2"))

	Label("one")
	TESTQ(n, n)
	JZ(LabelRef("tail"))
	load(0)
	step(0)
	ADDQ(U32(vb), a)
	ADDQ(U32(nr*vb), b)

	Label("tail")
	Comment("Masked loads never touch A beyond the tail lanes.")
	tl := Load(Param("tail"), GP64())
	TESTQ(tl, tl)
	JZ(LabelRef("reduce"))
	m := laneMask(t, tl, GP64())
	t.movu(m, tmp)
	for v := 0; v < mr; v++ {
		t.maskmov(row(a, v, 0), tmp, av[v])
	}
	step(0)

	Label("reduce")
	// Reduce row v's nr accumulators into one vector s[v] whose first nr
	// lanes are the nr dot products (a YMM for float64, an XMM for float32).
	s := make([]Register, mr)
	for v := 0; v < mr; v++ {
		x := acc[v]
		for len(x) < 4 {
			z := YMM()
			VXORPS(z, z, z)
			x = append(x, z)
		}
		if t.size == 8 {
			// hadd gives [x0 01, x1 01, x0 23, x1 23] and [x2 01, x3 01, x2 23, x3 23].
			VHADDPD(x[1], x[0], x[0])
			VHADDPD(x[3], x[2], x[2])
			hi := YMM()
			VPERM2F128(U8(0x21), x[2], x[0], hi) // [x0 23, x1 23, x2 01, x3 01]
			VBLENDPD(U8(0b1100), x[2], x[0], x[0])
			VADDPD(hi, x[0], x[0])
			s[v] = x[0]
		} else {
			VHADDPS(x[1], x[0], x[0])
			VHADDPS(x[3], x[2], x[2])
			VHADDPS(x[2], x[0], x[0]) // per 128-bit half: [x0, x1, x2, x3] partial sums
			hi := XMM()
			VEXTRACTF128(U8(1), x[0], hi)
			VADDPS(hi, x[0].AsX(), x[0].AsX())
			s[v] = x[0].AsX()
		}
	}

	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(t.shift), ldc)
	var cm Op
	if nr < 4 {
		// Partial rows of C go through masked loads and stores.
		k := GP64()
		MOVQ(U32(nr), k)
		mm := laneMask(t, k, GP64())
		if t.size == 8 {
			cm = tmp
		} else {
			cm = tmp.AsX()
		}
		t.movu(mm, cm)
	}
	cRow := func(v int) Mem {
		m := Mem{Base: c}
		if v == 1 {
			m.Index, m.Scale = ldc, 1
		} else if v == 2 {
			m.Index, m.Scale = ldc, 2
		}
		return m
	}
	f := Load(Param("acc"), GP64())
	TESTQ(f, f)
	JZ(LabelRef("store"))
	for v := 0; v < mr; v++ {
		if nr == 4 {
			t.add(cRow(v), s[v], s[v])
		} else {
			old := av[v].AsY()
			var o Op = old
			if t.size == 4 {
				o = av[v].AsX()
			}
			t.maskmov(cRow(v), cm, o)
			t.add(o, s[v], s[v])
		}
	}
	Label("store")
	for v := 0; v < mr; v++ {
		if nr == 4 {
			t.movu(s[v], cRow(v))
		} else {
			t.maskmov(s[v], cm, cRow(v))
		}
	}
	VZEROUPPER()
	RET()
}

// bc generates bc{T}_{nr}.
func bc(t typ, nr int) {
	name := fmt.Sprintf("bc%s_%d", t.name, nr)
	TEXT(name, NOSPLIT, fmt.Sprintf("func(a *%[1]s, b *%[1]s, c *%[1]s, kc int, acc int)", t.goType))
	Pragma("noescape")
	mrEl := 2 * t.vw
	Doc(fmt.Sprintf("%s sets (acc == 0) or adds to (acc != 0) the %dx%d tile at c,", name, mrEl, nr),
		fmt.Sprintf("stored column by column (%d contiguous elements per column), the product", mrEl),
		fmt.Sprintf("of the A tile packed at a as [kc][%d] and the B panel packed at b as [kc][%d].", mrEl, nr))

	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	n := Load(Param("kc"), GP64())

	acc := make([][2]VecVirtual, nr)
	for j := range acc {
		for v := 0; v < 2; v++ {
			acc[j][v] = YMM()
			VXORPS(acc[j][v], acc[j][v], acc[j][v])
		}
	}
	a0, a1, tmp := YMM(), YMM(), YMM()
	step := func(s int) {
		t.movu(Mem{Base: a, Disp: s * 64}, a0)
		t.movu(Mem{Base: a, Disp: s*64 + 32}, a1)
		for j := 0; j < nr; j++ {
			t.bcast(Mem{Base: b, Disp: (s*nr + j) * t.size}, tmp)
			t.fma(tmp, a0, acc[j][0])
			t.fma(tmp, a1, acc[j][1])
		}
	}
	Comment("Four steps of p per iteration.")
	Label("loop4")
	CMPQ(n, U8(4))
	JL(LabelRef("one"))
	for i := 0; i < 4; i++ {
		PREFETCHT0(Mem{Base: a, Disp: 512 + 64*i})
	}
	for s := 0; s < 4; s++ {
		step(s)
	}
	ADDQ(U32(4*64), a)
	ADDQ(U32(4*nr*t.size), b)
	SUBQ(U8(4), n)
	JMP(LabelRef("loop4"))

	Label("one")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	step(0)
	ADDQ(U32(64), a)
	ADDQ(U32(nr*t.size), b)
	DECQ(n)
	JMP(LabelRef("one"))

	Label("done")
	c := Load(Param("c"), GP64())
	f := Load(Param("acc"), GP64())
	TESTQ(f, f)
	JZ(LabelRef("store"))
	for j := 0; j < nr; j++ {
		for v := 0; v < 2; v++ {
			t.add(Mem{Base: c, Disp: j*64 + v*32}, acc[j][v], acc[j][v])
		}
	}
	Label("store")
	for j := 0; j < nr; j++ {
		for v := 0; v < 2; v++ {
			t.movu(acc[j][v], Mem{Base: c, Disp: j*64 + v*32})
		}
	}
	VZEROUPPER()
	RET()
}

// packT generates packT{T}, the packing of A tiles for the bc kernels.
func packT(t typ) {
	name := "packT" + t.name
	TEXT(name, NOSPLIT, fmt.Sprintf("func(dst *%[1]s, src *%[1]s, lds int, kc int, ntiles int)", t.goType))
	Pragma("noescape")
	mrEl := 2 * t.vw
	Doc(fmt.Sprintf("%s packs ntiles tiles of %d columns and kc rows of the row-major", name, mrEl),
		fmt.Sprintf("matrix at src (row stride lds) into dst as [tile][kc][%d].", mrEl),
		"Rows are read contiguously; each tile is written sequentially.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	SHLQ(U8(t.shift), lds)
	kc := Load(Param("kc"), GP64())
	nt := Load(Param("ntiles"), GP64())
	tileBytes := GP64()
	MOVQ(kc, tileBytes)
	SHLQ(U8(6), tileBytes) // kc * 64 bytes per tile
	y := [4]VecVirtual{YMM(), YMM(), YMM(), YMM()}
	// Rows are read prefetchDist rows ahead: each row is short (the tiles'
	// width), too short for the hardware prefetcher to get going.
	ahead := GP64()
	MOVQ(lds, ahead)
	SHLQ(U8(3), ahead)

	Label("row")
	TESTQ(kc, kc)
	JZ(LabelRef("done"))
	s, d, i := GP64(), GP64(), GP64()
	MOVQ(src, s)
	MOVQ(dst, d)
	MOVQ(nt, i)
	Label("pair")
	CMPQ(i, U8(2))
	JL(LabelRef("single"))
	PREFETCHT0(Mem{Base: s, Index: ahead, Scale: 1})
	PREFETCHT0(Mem{Base: s, Index: ahead, Scale: 1, Disp: 64})
	for v := 0; v < 4; v++ {
		VMOVUPS(Mem{Base: s, Disp: 32 * v}, y[v])
	}
	VMOVUPS(y[0], Mem{Base: d})
	VMOVUPS(y[1], Mem{Base: d, Disp: 32})
	VMOVUPS(y[2], Mem{Base: d, Index: tileBytes, Scale: 1})
	VMOVUPS(y[3], Mem{Base: d, Index: tileBytes, Scale: 1, Disp: 32})
	ADDQ(U8(128), s)
	LEAQ(Mem{Base: d, Index: tileBytes, Scale: 2}, d)
	SUBQ(U8(2), i)
	JMP(LabelRef("pair"))
	Label("single")
	TESTQ(i, i)
	JZ(LabelRef("next"))
	PREFETCHT0(Mem{Base: s, Index: ahead, Scale: 1})
	VMOVUPS(Mem{Base: s}, y[0])
	VMOVUPS(Mem{Base: s, Disp: 32}, y[1])
	VMOVUPS(y[0], Mem{Base: d})
	VMOVUPS(y[1], Mem{Base: d, Disp: 32})
	Label("next")
	ADDQ(lds, src)
	ADDQ(U8(64), dst)
	DECQ(kc)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// packN generates packN{T}, the transposing packing of A tiles for the bc
// kernels when op(A) = A.
func packN(t typ) {
	name := "packN" + t.name
	TEXT(name, NOSPLIT, fmt.Sprintf("func(dst *%[1]s, src *%[1]s, lds int, lc int, nl int, ntiles int)", t.goType))
	Pragma("noescape")
	mrEl := 2 * t.vw
	Doc(fmt.Sprintf("%s packs ntiles tiles of %d rows of the row-major matrix at src", name, mrEl),
		fmt.Sprintf("(row stride lds) into dst as [tile][lc][%d], transposed: the first nl", mrEl),
		fmt.Sprintf("columns (nl a multiple of %d) of each row; the caller packs the rest.", t.vw))
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	lds := Load(Param("lds"), GP64())
	SHLQ(U8(t.shift), lds)
	lds3 := GP64()
	LEAQ(Mem{Base: lds, Index: lds, Scale: 2}, lds3)
	tileBytes := Load(Param("lc"), GP64())
	SHLQ(U8(6), tileBytes) // lc * 64 bytes per tile
	nl := Load(Param("nl"), GP64())
	nt := Load(Param("ntiles"), GP64())

	// A block is vw rows by vw columns; a tile is two blocks high.
	Label("tile")
	TESTQ(nt, nt)
	JZ(LabelRef("done"))
	p0, d, n := GP64(), GP64(), GP64()
	MOVQ(src, p0)
	MOVQ(dst, d)
	MOVQ(nl, n)
	Label("col")
	CMPQ(n, U8(t.vw))
	JL(LabelRef("next"))
	for h := 0; h < 2; h++ {
		// Rows h*vw .. h*vw+vw-1 of the tile.
		base := GP64()
		if h == 0 {
			MOVQ(p0, base)
		} else {
			MOVQ(lds, base)
			SHLQ(U8(uint64(map[int]int{8: 3, 4: 2}[t.vw])), base)
			ADDQ(p0, base)
		}
		rows := make([]Mem, t.vw)
		var b4 GPVirtual
		if t.vw == 8 {
			b4 = GP64()
			LEAQ(Mem{Base: base, Index: lds, Scale: 4}, b4)
		}
		for v := 0; v < t.vw; v++ {
			b := base
			if v >= 4 {
				b = b4
			}
			m := Mem{Base: b}
			switch v % 4 {
			case 1:
				m.Index, m.Scale = lds, 1
			case 2:
				m.Index, m.Scale = lds, 2
			case 3:
				m.Index, m.Scale = lds3, 1
			}
			rows[v] = m
		}
		r := make([]VecVirtual, t.vw)
		for v := range r {
			r[v] = YMM()
			PREFETCHT0(rows[v].Offset(256))
			VMOVUPS(rows[v], r[v])
		}
		var cols []VecVirtual
		if t.size == 4 {
			cols = transpose8(r)
		} else {
			cols = transpose4(r)
		}
		for u, c := range cols {
			VMOVUPS(c, Mem{Base: d, Disp: u*64 + h*32})
		}
	}
	ADDQ(U8(32), p0)
	ADDQ(U32(uint64(t.vw*64)), d)
	SUBQ(U8(t.vw), n)
	JMP(LabelRef("col"))

	Label("next")
	MOVQ(lds, p0)
	SHLQ(U8(uint64(map[int]int{8: 4, 4: 3}[t.vw])), p0) // lds * 2vw
	ADDQ(p0, src)
	ADDQ(tileBytes, dst)
	DECQ(nt)
	JMP(LabelRef("tile"))
	Label("done")
	VZEROUPPER()
	RET()
}

// transpose8 transposes the 8x8 float32 matrix held in r (one row per
// register) and returns its columns.
func transpose8(r []VecVirtual) []VecVirtual {
	t := make([]VecVirtual, 8)
	for i := 0; i < 8; i += 2 {
		t[i], t[i+1] = YMM(), YMM()
		VUNPCKLPS(r[i+1], r[i], t[i])   // r_i0 r_j0 r_i1 r_j1 | r_i4 r_j4 r_i5 r_j5
		VUNPCKHPS(r[i+1], r[i], t[i+1]) // r_i2 r_j2 r_i3 r_j3 | r_i6 r_j6 r_i7 r_j7
	}
	u := make([]VecVirtual, 8)
	for g := 0; g < 8; g += 4 {
		for q := 0; q < 2; q++ {
			a, b := t[g+q], t[g+2+q]
			u[g+2*q], u[g+2*q+1] = YMM(), YMM()
			VSHUFPS(U8(0x44), b, a, u[g+2*q])   // column 2q (and 2q+4) of 4 rows
			VSHUFPS(U8(0xEE), b, a, u[g+2*q+1]) // column 2q+1 (and 2q+5)
		}
	}
	c := make([]VecVirtual, 8)
	for q := 0; q < 4; q++ {
		c[q], c[q+4] = YMM(), YMM()
		VPERM2F128(U8(0x20), u[4+q], u[q], c[q])
		VPERM2F128(U8(0x31), u[4+q], u[q], c[q+4])
	}
	return c
}

// transpose4 transposes the 4x4 float64 matrix held in r and returns its
// columns.
func transpose4(r []VecVirtual) []VecVirtual {
	t := make([]VecVirtual, 4)
	for i := 0; i < 4; i += 2 {
		t[i], t[i+1] = YMM(), YMM()
		VUNPCKLPD(r[i+1], r[i], t[i])   // r_i0 r_j0 | r_i2 r_j2
		VUNPCKHPD(r[i+1], r[i], t[i+1]) // r_i1 r_j1 | r_i3 r_j3
	}
	c := make([]VecVirtual, 4)
	for q := 0; q < 2; q++ {
		c[q], c[q+2] = YMM(), YMM()
		VPERM2F128(U8(0x20), t[2+q], t[q], c[q])
		VPERM2F128(U8(0x31), t[2+q], t[q], c[q+2])
	}
	return c
}
