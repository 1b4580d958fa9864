package gemm

// The pure-Go path, used without AVX2+FMA, off amd64 and after SetSIMD(false).
// Each row of C is updated as ci += Σ_u op(A)[i][l+u]·B[l+u] four rows of B
// at a time (one load and store of ci per four multiply-adds), over chunks
// of p short enough that the B chunk (kc x k) stays in cache while the rows
// of C sweep over it.

// goKC is the chunk length of p for the pure-Go path.
const goKC = 256

// mulGo computes m with the pure-Go kernels.
func mulGo[T Float](m mat[T]) {
	pl := newPlan(m.r, m.k, m.p, goKC, 4, 4)
	w := goWorker[T]{m: m, kc: pl.kc}
	if pl.nt == 1 {
		w.work(0, m.r, 0, pl.nch, m.c, m.ldc)
		return
	}
	// Heap copies only on the parallel path: serial calls allocate nothing.
	run(ptr(pl), ptr(m), worker[T](ptr(w)))
}

// goWorker is the worker of the pure-Go path.
type goWorker[T Float] struct {
	m  mat[T]
	kc int
}

func (w *goWorker[T]) panels() int { return 1 }

// prep does nothing: the pure-Go kernels read B in place.
func (w *goWorker[T]) prep(u0, u1 int) {}

func (w *goWorker[T]) work(i0, i1, ch0, ch1 int, c []T, ldc int) {
	m := &w.m
	k, lda, ldb := m.k, m.lda, m.ldb
	for i := i0; i < i1; i++ {
		clear(c[(i-i0)*ldc : (i-i0)*ldc+k])
	}
	for ch := ch0; ch < ch1; ch++ {
		l0, l1 := ch*w.kc, min((ch+1)*w.kc, m.p)
		for i := i0; i < i1; i++ {
			ci := c[(i-i0)*ldc : (i-i0)*ldc+k]
			l := l0
			for ; l+4 <= l1; l += 4 {
				var a0, a1, a2, a3 T
				if m.transA {
					x := m.a[l*lda+i:]
					a0, a1, a2, a3 = x[0], x[lda], x[2*lda], x[3*lda]
				} else {
					x := m.a[i*lda+l : i*lda+l+4]
					a0, a1, a2, a3 = x[0], x[1], x[2], x[3]
				}
				b0 := m.b[l*ldb:][:len(ci)]
				b1 := m.b[(l+1)*ldb:][:len(ci)]
				b2 := m.b[(l+2)*ldb:][:len(ci)]
				b3 := m.b[(l+3)*ldb:][:len(ci)]
				for j := range ci {
					ci[j] += a0*b0[j] + a1*b1[j] + a2*b2[j] + a3*b3[j]
				}
			}
			for ; l < l1; l++ {
				var a0 T
				if m.transA {
					a0 = m.a[l*lda+i]
				} else {
					a0 = m.a[i*lda+l]
				}
				b0 := m.b[l*ldb:][:len(ci)]
				for j := range ci {
					ci[j] += a0 * b0[j]
				}
			}
		}
	}
}
