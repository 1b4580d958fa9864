// Package mtrand reproduces the parts of numpy's legacy random.RandomState
// (MT19937) that scikit-learn's NMF draws from, bit for bit: integer seeding,
// random_sample, the Marsaglia-polar standard_normal with its cached second
// value, permutation, and get_state/set_state.
package mtrand

import "math"

const (
	n         = 624
	m         = 397
	matrixA   = 0x9908b0df
	upperMask = 0x80000000
	lowerMask = 0x7fffffff
)

// State is numpy's RandomState.get_state() tuple without the 'MT19937' tag.
type State struct {
	Key      [n]uint32
	Pos      int
	HasGauss bool
	Gauss    float64
}

// RandomState is a numpy-compatible legacy MT19937 generator.
type RandomState struct {
	key      [n]uint32
	pos      int
	hasGauss bool
	gauss    float64
}

// New returns the generator of numpy.random.RandomState(seed): Knuth's
// init_genrand, key[0] = seed, key[i] = 1812433253*(key[i-1]^(key[i-1]>>30)) + i.
func New(seed uint32) *RandomState {
	r := &RandomState{}
	r.key[0] = seed
	for i := 1; i < n; i++ {
		p := r.key[i-1]
		r.key[i] = 1812433253*(p^(p>>30)) + uint32(i)
	}
	r.pos = n
	return r
}

// FromState returns a generator continuing from s (numpy's set_state).
// A position outside [0, 624] is clamped to 624, which regenerates the block.
func FromState(s State) *RandomState {
	r := &RandomState{key: s.Key, pos: s.Pos, hasGauss: s.HasGauss, gauss: s.Gauss}
	if r.pos < 0 || r.pos > n {
		r.pos = n
	}
	if !r.hasGauss {
		r.gauss = 0
	}
	return r
}

// State returns the current state (numpy's get_state).
func (r *RandomState) State() State {
	return State{Key: r.key, Pos: r.pos, HasGauss: r.hasGauss, Gauss: r.gauss}
}

// generate refills the 624-word block (the MT19937 "twist").
func (r *RandomState) generate() {
	k := &r.key
	var i int
	for i = 0; i < n-m; i++ {
		y := (k[i] & upperMask) | (k[i+1] & lowerMask)
		k[i] = k[i+m] ^ (y >> 1) ^ (-(y & 1) & matrixA)
	}
	for ; i < n-1; i++ {
		y := (k[i] & upperMask) | (k[i+1] & lowerMask)
		k[i] = k[i+m-n] ^ (y >> 1) ^ (-(y & 1) & matrixA)
	}
	y := (k[n-1] & upperMask) | (k[0] & lowerMask)
	k[n-1] = k[m-1] ^ (y >> 1) ^ (-(y & 1) & matrixA)
	r.pos = 0
}

// Uint32 returns the next tempered 32-bit output.
func (r *RandomState) Uint32() uint32 {
	if r.pos >= n {
		r.generate()
	}
	y := r.key[r.pos]
	r.pos++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// Float64 returns a double in [0, 1) with 53 random bits, as random_sample:
// (a*2^26 + b) / 2^53 with a = next>>5 and b = next>>6.
func (r *RandomState) Float64() float64 {
	a := r.Uint32() >> 5
	b := r.Uint32() >> 6
	return (float64(a)*67108864.0 + float64(b)) / 9007199254740992.0
}

// RandomSample fills dst with Float64 draws.
func (r *RandomState) RandomSample(dst []float64) {
	for i := range dst {
		dst[i] = r.Float64()
	}
}

// Gauss returns a standard normal draw by numpy's legacy Marsaglia polar
// method: draw x1, x2 uniform in (-1, 1) until 0 < r2 = x1²+x2² < 1, then
// f = sqrt(-2 log(r2) / r2); f*x2 is returned and f*x1 cached for the next call.
func (r *RandomState) Gauss() float64 {
	if r.hasGauss {
		g := r.gauss
		r.hasGauss, r.gauss = false, 0
		return g
	}
	var x1, x2, r2 float64
	for {
		x1 = 2*r.Float64() - 1
		x2 = 2*r.Float64() - 1
		// float64(·) rounds each square: numpy's C does not fuse this
		// into an FMA (GOAMD64=v3 would).
		r2 = float64(x1*x1) + float64(x2*x2)
		if r2 < 1 && r2 != 0 {
			break
		}
	}
	f := math.Sqrt(-2 * math.Log(r2) / r2)
	r.gauss, r.hasGauss = f*x1, true
	return f * x2
}

// StandardNormal fills dst with Gauss draws in order (numpy's
// standard_normal(size) and normal(size=...) in C order).
func (r *RandomState) StandardNormal(dst []float64) {
	for i := range dst {
		dst[i] = r.Gauss()
	}
}

// Interval returns a uniform integer in [0, max] by masked rejection, as
// numpy's random_interval: mask = smallest 2^b-1 >= max, redraw while > max.
func (r *RandomState) Interval(max uint32) uint32 {
	if max == 0 {
		return 0
	}
	mask := max
	mask |= mask >> 1
	mask |= mask >> 2
	mask |= mask >> 4
	mask |= mask >> 8
	mask |= mask >> 16
	for {
		v := r.Uint32() & mask
		if v <= max {
			return v
		}
	}
}

// Permutation returns numpy's permutation(n): arange(n) shuffled by
// Fisher-Yates from the end, j = Interval(i) for i = n-1 down to 1.
// n must be below 2^32.
func (r *RandomState) Permutation(count int) []int {
	p := make([]int, count)
	for i := range p {
		p[i] = i
	}
	for i := count - 1; i >= 1; i-- {
		j := int(r.Interval(uint32(i)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}
