package main

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// FuzzFitSmall runs small matrices (zero rows or columns, NaN, ±Inf, nulls,
// negatives, subnormals, huge values) and parameters through gonmf_fit's Go
// half and the real engine, with at most a few iterations. It never panics,
// releases every input and returns either an error of a documented kind or
// non-negative W and H.
func FuzzFitSmall(f *testing.F) {
	seeds := fitSeeds()
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		f.Add(encodeFit(seeds[name]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c fitCase
		c.code(decoder(data))
		runFitCase(t, &c)
	})
}

// fitCase is a small fit: X (n x m), optional W and H, and params.
type fitCase struct {
	f32, fsl   bool
	n, m       byte // mod 6
	x          []byte
	k          byte // n_components: fitK
	wRows      byte // W is (n + wRows%3 - 1) x k... when present
	hCols      byte
	w, h       []byte
	solver     byte
	init       byte
	beta       byte
	maxIter    byte
	tol        byte
	alphaW     byte
	alphaH     byte
	l1         byte
	shuffle    bool
	updateH    bool
	seed       byte
	cancel     bool
	sendW      bool
	sendH      bool
	mixedTypes bool // a float32 column in a float64 struct (struct only)
}

var fitValues = []float64{
	0, 1, 2, 0.5, 1e-3, 10, 7, 3, math.NaN(), math.Inf(1), math.Inf(-1), -1, math.Copysign(0, -1),
	5e-324, 1e300, math.MaxFloat32, 1e-30, 1e30, 4, 0.25,
}

const fitNull = 255 // a value byte of 255 is a null

func (c *fitCase) code(k *codec) {
	k.bool(&c.f32)
	k.bool(&c.fsl)
	k.u8(&c.n)
	k.u8(&c.m)
	c.n %= 6
	c.m %= 6
	for _, p := range []*byte{&c.k, &c.wRows, &c.hCols, &c.solver, &c.init, &c.beta, &c.maxIter, &c.tol, &c.alphaW, &c.alphaH, &c.l1, &c.seed} {
		k.u8(p)
	}
	for _, p := range []*bool{&c.shuffle, &c.updateH, &c.cancel, &c.sendW, &c.sendH, &c.mixedTypes} {
		k.bool(p)
	}
	nk := c.kValue()
	if nk < 0 {
		nk = int(c.m)
	}
	c.codeVals(k, &c.x, int(c.n)*int(c.m))
	c.codeVals(k, &c.w, c.wShape(nk)[0]*c.wShape(nk)[1])
	c.codeVals(k, &c.h, c.hShape(nk)[0]*c.hShape(nk)[1])
}

func (c *fitCase) codeVals(k *codec, v *[]byte, n int) {
	if !k.enc || len(*v) < n {
		*v = append(*v, make([]byte, max(n-len(*v), 0))...)
	}
	for i := range n {
		k.u8(&(*v)[i])
	}
}

// kValue is n_components, or -1 for "auto"/null/absent.
func (c *fitCase) kValue() int {
	switch c.k % 8 {
	case 0, 6, 7:
		return -1
	case 5:
		return 0 // invalid
	}
	return int(c.k % 8)
}

func (c *fitCase) wShape(k int) [2]int {
	return [2]int{max(int(c.n)+int(c.wRows%3)-1, 0), max(k, 0)}
}

func (c *fitCase) hShape(k int) [2]int {
	return [2]int{max(k, 0), max(int(c.m)+int(c.hCols%3)-1, 0)}
}

func (c *fitCase) params() string {
	p := map[string]any{}
	switch c.k % 8 {
	case 6:
		p["n_components"] = nil
	case 7:
		p["n_components"] = "auto"
	case 0:
	default:
		p["n_components"] = c.kValue()
	}
	p["solver"] = []string{"cd", "mu", "hals"}[c.solver%3]
	if i := c.init % 7; i < 6 {
		p["init"] = []any{nil, "random", "nndsvd", "nndsvda", "nndsvdar", "custom"}[i]
	}
	p["beta_loss"] = []float64{2, 1, 0, 0.5, -1, 3, 1.5}[c.beta%7]
	p["max_iter"] = []int{1, 2, 3, 5, 0}[c.maxIter%5]
	p["tol"] = []float64{1e-4, 0, 0.5, -1}[c.tol%4]
	p["alpha_W"] = []float64{0, 0.1, 1, 1e300}[c.alphaW%4]
	p["alpha_H"] = []float64{0, 0.1, 1, 1e-300}[c.alphaH%4]
	p["l1_ratio"] = []float64{0, 0.5, 1, 2}[c.l1%4]
	p["shuffle"] = c.shuffle
	p["update_H"] = !c.updateH // the zero value fits
	p["random_state"] = []any{0, 1, 42, nil}[c.seed%4]
	js, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return string(js)
}

func encodeFit(c fitCase) []byte {
	k := encoder()
	c.code(k)
	return k.buf
}

// fitArray builds a rows x cols matrix (row-major value bytes) as a struct of
// columns or a fixed_size_list, with nulls for fitNull.
func fitArray(mem memory.Allocator, f32, fsl, mixed bool, rows, cols int, vals []byte) arrow.Array {
	value := func(i, j int) (float64, bool) {
		b := vals[i*cols+j]
		return fitValues[int(b)%len(fitValues)], b != fitNull
	}
	dt := arrow.DataType(arrow.PrimitiveTypes.Float64)
	if f32 {
		dt = arrow.PrimitiveTypes.Float32
	}
	appendTo := func(b array.Builder, v float64, ok bool) {
		switch vb := b.(type) {
		case *array.Float64Builder:
			if ok {
				vb.Append(v)
			} else {
				vb.AppendNull()
			}
		case *array.Float32Builder:
			if ok {
				vb.Append(float32(v))
			} else {
				vb.AppendNull()
			}
		}
	}
	if fsl && cols > 0 { // arrow/go cannot build +w:0; FuzzImportArrow covers it
		b := array.NewFixedSizeListBuilder(mem, int32(cols), dt)
		defer b.Release()
		for i := range rows {
			b.Append(true)
			for j := range cols {
				v, ok := value(i, j)
				appendTo(b.ValueBuilder(), v, ok)
			}
		}
		return b.NewArray()
	}
	fields := make([]arrow.Field, cols)
	for j := range fields {
		fields[j] = arrow.Field{Name: colName(j), Type: dt, Nullable: true}
		if mixed && j == 0 {
			fields[j].Type = arrow.PrimitiveTypes.Float32
		}
	}
	b := array.NewStructBuilder(mem, arrow.StructOf(fields...))
	defer b.Release()
	for i := range rows {
		b.Append(true)
		for j := range cols {
			v, ok := value(i, j)
			appendTo(b.FieldBuilder(j), v, ok)
		}
	}
	return b.NewArray()
}

func runFitCase(t *testing.T, c *fitCase) {
	n, m := int(c.n), int(c.m)
	if m == 0 {
		// cdata's exporter cannot export a struct without fields, nor arrow/go
		// build a +w:0 list; FuzzImportArrow covers zero columns.
		return
	}
	h := newHarness(t)
	x := export(t, fitArray(h.in, c.f32, c.fsl, c.mixedTypes && !c.f32, n, m, c.x))
	nk := c.kValue()
	if nk < 0 {
		nk = m
	}
	var w, hh *cpair
	if s := c.wShape(nk); c.sendW && s[1] > 0 {
		w = export(t, fitArray(h.in, c.f32, true, false, s[0], s[1], c.w))
	}
	if s := c.hShape(nk); c.sendH && s[1] > 0 {
		hh = export(t, fitArray(h.in, c.f32, true, false, s[0], s[1], c.h))
	}
	if c.cancel {
		h.call.ctl = &cControl{cancel: 1}
	}
	h.run(x, w, hh, c.params())
	switch h.status {
	case statusOK:
	case statusValue, statusType:
		return
	case statusInterrupted:
		if !c.cancel {
			t.Fatalf("interrupted without a cancel: %s", h.msg)
		}
		return
	default:
		t.Fatalf("status %d: %s", h.status, h.msg)
	}
	// Products and powers of huge values overflow to Inf and then NaN, in
	// scikit-learn as here (X = [[0], [1e300]] with solver "mu" and
	// beta_loss 3; a float32 H holding 3.4e38 with update_H false;
	// alpha_W = 1e300). With moderate values W and H must be finite.
	huge := c.alphaW%4 == 3
	for _, b := range append(append(append([]byte(nil), c.x...), c.w...), c.h...) { // X, and W and H when given
		if v := fitValues[int(b)%len(fitValues)]; b != fitNull && math.Abs(v) >= 1e15 {
			huge = true
		}
	}
	for _, read := range []func() (int, int, []float64){h.readW, h.readH} {
		_, _, vals := read()
		for _, v := range vals {
			if v < 0 || (!huge && (math.IsNaN(v) || math.IsInf(v, 0))) {
				t.Fatalf("W or H holds %v (params %s)", v, c.params())
			}
		}
	}
	h.checkFreed()
}

func fitSeeds() map[string]fitCase {
	seq := func(n int, b byte) []byte {
		v := make([]byte, n)
		for i := range v {
			v[i] = b + byte(i%5)
		}
		return v
	}
	return map[string]fitCase{
		"cd-3x4":        {n: 3, m: 4, x: seq(12, 1), k: 2, maxIter: 2},
		"mu-kl-f32":     {f32: true, fsl: true, n: 4, m: 3, x: seq(12, 1), k: 2, solver: 1, beta: 1, maxIter: 3},
		"hals-nndsvda":  {n: 5, m: 5, x: seq(25, 0), k: 3, solver: 2, init: 3, maxIter: 3},
		"nan":           {n: 2, m: 2, x: []byte{1, 8, 2, 3}, k: 1},
		"inf":           {n: 2, m: 2, x: []byte{1, 9, 2, 3}, k: 1},
		"null":          {n: 2, m: 2, x: []byte{1, fitNull, 2, 3}, k: 1},
		"negative":      {n: 2, m: 2, x: []byte{1, 11, 2, 3}, k: 1},
		"zero-rows":     {n: 0, m: 3, k: 1},
		"zero-cols":     {fsl: true, n: 3, m: 0, k: 1},
		"huge":          {n: 3, m: 2, x: []byte{14, 14, 15, 17, 1, 13}, k: 2, maxIter: 3},
		"custom":        {n: 3, m: 2, x: seq(6, 1), k: 2, init: 5, sendW: true, sendH: true, w: seq(6, 1), h: seq(4, 1), wRows: 1, hCols: 1},
		"transform":     {n: 3, m: 2, x: seq(6, 1), k: 1, updateH: true, sendH: true, h: seq(2, 1), hCols: 1},
		"is-zeros":      {n: 2, m: 2, x: []byte{0, 1, 2, 3}, k: 1, solver: 1, beta: 2},
		"mixed-cancel":  {n: 3, m: 3, x: seq(9, 1), k: 2, mixedTypes: true, cancel: true},
		"alpha-huge":    {n: 3, m: 3, x: seq(9, 1), k: 2, alphaW: 3, l1: 1, maxIter: 3},
		"random-k-big":  {n: 2, m: 2, x: seq(4, 1), k: 4, init: 1, maxIter: 2},
		"subnormal":     {n: 2, m: 3, x: []byte{13, 13, 13, 0, 16, 1}, k: 2, maxIter: 3, solver: 1},
		"wrong-w-shape": {n: 3, m: 2, x: seq(6, 1), k: 2, init: 5, sendW: true, sendH: true, w: seq(9, 1), h: seq(4, 1), wRows: 2, hCols: 1},
	}
}
