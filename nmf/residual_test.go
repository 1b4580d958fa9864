package nmf

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveResidualSq is ||X - W Hᵀᵀ||²_F by the definition, in float64.
func naiveResidualSq[T Float](x Dense[T], w, ht []T, k int) float64 {
	var sum float64
	for i := range x.Rows {
		for j := range x.Cols {
			var p float64
			for l := range k {
				p += float64(w[i*k+l]) * float64(ht[j*k+l])
			}
			d := float64(x.at(i, j)) - p
			sum += d * d
		}
	}
	return sum
}

func randomSlice[T Float](r *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(r.Float64())
	}
	return s
}

// residualCase checks residualSq against the definition for an n x m X in
// the given layout (row stride or column stride pad elements beyond the
// contiguous dimension).
func residualCase[T Float](t *testing.T, n, m, k, pad int, colMajor bool, tol float64) {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(n*1000+m), uint64(k)))
	x := Dense[T]{Rows: n, Cols: m, ColMajor: colMajor}
	if colMajor {
		x.Stride = n + pad
		x.Data = randomSlice[T](r, (m-1)*x.Stride+n)
	} else {
		x.Stride = m + pad
		x.Data = randomSlice[T](r, (n-1)*x.Stride+m)
	}
	w, ht := randomSlice[T](r, n*k), randomSlice[T](r, m*k)
	got, want := residualSq(x, w, ht, k), naiveResidualSq(x, w, ht, k)
	if math.Abs(got-want) > tol*want {
		t.Errorf("%dx%d k=%d pad=%d colMajor=%v: residualSq = %.17g, want %.17g", n, m, k, pad, colMajor, got, want)
	}
}

func TestResidualSq(t *testing.T) {
	tests := []struct {
		n, m, k, pad int
		colMajor     bool
	}{
		{1, 1, 1, 0, false},
		{38, 5000, 3, 0, false},  // many column tiles, one row block
		{130, 300, 7, 3, false},  // several row blocks, a partial last one
		{300, 130, 7, 2, true},   // column-major: the roles of W and H swap
		{65, 1000, 50, 0, false}, // k wider than the kernels' panels
		{400, 700, 20, 1, false}, // enough work to share among goroutines
		{700, 400, 20, 0, true},
	}
	for _, tc := range tests {
		residualCase[float64](t, tc.n, tc.m, tc.k, tc.pad, tc.colMajor, 1e-12)
		residualCase[float32](t, tc.n, tc.m, tc.k, tc.pad, tc.colMajor, 1e-4)
	}
}

// kinds drops the sum of a valueKinds.
func kinds(vk valueKinds) valueKinds {
	vk.sum = 0
	return vk
}

// scanValues classifies as the definitions say, and its sum gives mean's
// result bitwise (Fit starts from the one, initialize from the other).
func TestScanValues(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name string
		at   int // index of the special value in a 3 x 7 matrix (tail and body of the unrolled loop)
		v    float64
		want valueKinds
	}{
		{"plain", 0, 1, valueKinds{}},
		{"zero", 5, 0, valueKinds{}},
		{"negative zero", 6, math.Copysign(0, -1), valueKinds{}},
		{"negative", 13, -1e-300, valueKinds{neg: true}},
		{"nan", 20, nan, valueKinds{nan: true}},
		{"negative nan", 2, math.Copysign(nan, -1), valueKinds{nan: true}},
		{"inf", 8, inf, valueKinds{inf: true}},
		{"-inf", 4, -inf, valueKinds{inf: true, neg: true}},
		{"max", 9, math.MaxFloat64, valueKinds{}},
		{"subnormal", 1, 5e-324, valueKinds{}},
	}
	for _, tc := range tests {
		for _, colMajor := range []bool{false, true} {
			data := make([]float64, 21)
			for i := range data {
				data[i] = float64(i) / 3
			}
			data[tc.at] = tc.v
			stride := 7
			if colMajor {
				stride = 3
			}
			x := Dense[float64]{Rows: 3, Cols: 7, Stride: stride, ColMajor: colMajor, Data: data}
			if got := scanValues(x); kinds(got) != tc.want {
				t.Errorf("%s (colMajor %v): float64 scan = %+v, want %+v", tc.name, colMajor, got, tc.want)
			} else if !got.nan && got.sum/21 != mean(x) {
				t.Errorf("%s (colMajor %v): float64 scan sum / 21 = %v, mean %v", tc.name, colMajor, got.sum/21, mean(x))
			}
			if tc.name == "max" || tc.name == "subnormal" || tc.name == "negative" {
				continue // not the same kind of value in float32
			}
			d32 := make([]float32, len(data))
			for i, v := range data {
				d32[i] = float32(v)
			}
			x32 := Dense[float32]{Rows: 3, Cols: 7, Stride: stride, ColMajor: colMajor, Data: d32}
			if got := scanValues(x32); kinds(got) != tc.want {
				t.Errorf("%s (colMajor %v): float32 scan = %+v, want %+v", tc.name, colMajor, got, tc.want)
			} else if !got.nan && got.sum/21 != mean(x32) {
				t.Errorf("%s (colMajor %v): float32 scan sum / 21 = %v, mean %v", tc.name, colMajor, got.sum/21, mean(x32))
			}
		}
	}
	// Both NaN and Inf: NaN wins, as in check_array.
	x := rowMajor(1, 2, []float64{inf, nan})
	if err := scanValues(x).finiteErr("Input X", "float64"); err == nil || err.Error() != "Input X contains NaN." {
		t.Errorf("finiteErr(inf, nan) = %v", err)
	}
	x32 := rowMajor(1, 2, []float32{1, float32(inf)})
	if err := scanValues(x32).finiteErr("Input", "float32"); err == nil || err.Error() != "Input contains infinity or a value too large for dtype('float32')." {
		t.Errorf("finiteErr(float32 inf) = %v", err)
	}
}
