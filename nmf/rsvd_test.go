package nmf

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/gonmf/gonmf/nmf/internal/mtrand"
)

// absRandn returns np.abs(np.random.RandomState(seed).randn(rows, cols)).
func absRandn(seed uint32, rows, cols int) []float64 {
	d := make([]float64, rows*cols)
	mtrand.New(seed).StandardNormal(d)
	for i := range d {
		d[i] = math.Abs(d[i])
	}
	return d
}

func transposeCopy(d []float64, rows, cols int) []float64 {
	t := make([]float64, len(d))
	for i := range rows {
		for j := range cols {
			t[j*rows+i] = d[i*cols+j]
		}
	}
	return t
}

// Reference values from scikit-learn 1.9.1:
// U, s, Vt = sklearn.utils.extmath.randomized_svd(A, k, random_state=0).
func TestRandomizedSVDMatchesSklearn(t *testing.T) {
	x1 := absRandn(1, 30, 20)
	x2 := absRandn(2, 40, 60)
	tests := []struct {
		name       string
		x          Dense[float64]
		k          int
		s          []float64
		uFirst     []float64 // U[0, :]
		uLast      []float64 // U[-1, :]
		vtFirstCol []float64 // Vt[:, 0]
		vtLastCol  []float64 // Vt[:, -1]
	}{
		{"tall", Dense[float64]{Rows: 30, Cols: 20, Stride: 20, Data: x1}, 5,
			[]float64{19.92976591886542, 5.788956770551902, 4.924808266827919, 4.878075668378541, 4.640646205858551},
			[]float64{0.2021975689396203, 0.19296569038675795, 0.3127090755315957, -0.13820701362544402, 0.30772448264659347},
			[]float64{0.19237555555826785, -0.05123012414709822, -0.16786997404327303, -0.18992171029616522, -0.13640665430378635},
			[]float64{0.1998669051354078, 0.11828842455557914, 0.32775812479871547, -0.13196296681502623, -0.09809584344474127},
			[]float64{0.2379318378926465, -0.17436239105952958, 0.37957872573155577, -0.12510064794821305, -0.24141101977673515}},
		// X.T of the same matrix: the transposed branch and its svd_flip.
		{"wide", Dense[float64]{Rows: 20, Cols: 30, Stride: 30, Data: transposeCopy(x1, 30, 20)}, 5,
			[]float64{19.92976591886542, 5.788956770551902, 4.924808266827919, 4.878075668378541, 4.640646205858551},
			[]float64{0.1998669051354078, 0.11828842455557914, 0.32775812479871547, -0.13196296681502623, 0.09809584344474127},
			[]float64{0.2379318378926465, -0.17436239105952958, 0.37957872573155577, -0.12510064794821305, 0.24141101977673515},
			[]float64{0.2021975689396203, 0.19296569038675795, 0.3127090755315957, -0.13820701362544402, -0.30772448264659347},
			[]float64{0.19237555555826785, -0.05123012414709822, -0.16786997404327303, -0.18992171029616522, 0.13640665430378635}},
		// The same wide matrix given column-major (memory of the tall one).
		{"wide-colmajor", Dense[float64]{Rows: 20, Cols: 30, Stride: 20, ColMajor: true, Data: x1}, 5,
			[]float64{19.92976591886542, 5.788956770551902, 4.924808266827919, 4.878075668378541, 4.640646205858551},
			[]float64{0.1998669051354078, 0.11828842455557914, 0.32775812479871547, -0.13196296681502623, 0.09809584344474127},
			[]float64{0.2379318378926465, -0.17436239105952958, 0.37957872573155577, -0.12510064794821305, 0.24141101977673515},
			[]float64{0.2021975689396203, 0.19296569038675795, 0.3127090755315957, -0.13820701362544402, -0.30772448264659347},
			[]float64{0.19237555555826785, -0.05123012414709822, -0.16786997404327303, -0.18992171029616522, 0.13640665430378635}},
		// k < 0.1 min(n, m): 7 power iterations; s differs from the exact
		// SVD in the 6th digit, so this checks the random start too.
		{"iter7", Dense[float64]{Rows: 40, Cols: 60, Stride: 60, Data: x2}, 3,
			[]float64{39.279783468289395, 8.532129306896449, 7.942263694807623},
			[]float64{0.15198025511781782, -0.17820685716891627, 0.3899330235749637},
			[]float64{0.18156518907452715, 0.010321213497720232, -0.025474481794511596},
			[]float64{0.1595784051992685, 0.09527730343663793, -0.06618343198252534},
			[]float64{0.12513979220941898, -0.16664530045823656, 0.2757089133767874}},
	}
	const tol = 1e-10
	for _, tc := range tests {
		r := randomizedSVD(tc.x, tc.k, mtrand.New(0))
		n, m, k := tc.x.Rows, tc.x.Cols, tc.k
		for j := range k {
			check := func(what string, got, want float64) {
				if math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
					t.Errorf("%s: %s[%d] = %.17g, want %.17g", tc.name, what, j, got, want)
				}
			}
			check("s", r.S[j], tc.s[j])
			check("U[0]", r.U[j], tc.uFirst[j])
			check("U[-1]", r.U[(n-1)*k+j], tc.uLast[j])
			check("Vt[:,0]", r.Vt[j*m], tc.vtFirstCol[j])
			check("Vt[:,-1]", r.Vt[j*m+m-1], tc.vtLastCol[j])
		}
	}
}

// On a matrix whose spectrum decays fast the randomized SVD is exact to
// rounding: compare with gonum's full SVD (up to the sign of each pair).
func TestRandomizedSVDMatchesExact(t *testing.T) {
	const n, m, k = 50, 35, 4
	// Rank-6 matrix plus nothing else: the range finder captures it exactly.
	a := absRandn(3, n, 6)
	b := absRandn(4, 6, m)
	x := make([]float64, n*m)
	gemm(false, false, n, m, 6, 1, a, 6, b, m, 0, x, m)
	r := randomizedSVD(Dense[float64]{Rows: n, Cols: m, Stride: m, Data: x}, k, mtrand.New(7))

	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(n, m, x), mat.SVDThin) {
		t.Fatal("gonum SVD failed")
	}
	s := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	for j := range k {
		if math.Abs(r.S[j]-s[j]) > 1e-10*s[0] {
			t.Errorf("s[%d] = %v, want %v", j, r.S[j], s[j])
		}
		sign := 1.0
		if r.U[j]*u.At(0, j) < 0 {
			sign = -1
		}
		for i := range n {
			if d := math.Abs(r.U[i*k+j] - sign*u.At(i, j)); d > 1e-8 {
				t.Fatalf("U[%d,%d] differs by %g", i, j, d)
			}
		}
		for i := range m {
			if d := math.Abs(r.Vt[j*m+i] - sign*v.At(i, j)); d > 1e-8 {
				t.Fatalf("Vt[%d,%d] differs by %g", j, i, d)
			}
		}
	}
}
