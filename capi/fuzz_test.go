package main

// Fuzz targets for the C ABI ("no input can take the Python process down").
//
//	FuzzParams       params_json bytes -> parseParams
//	FuzzImportArrow  the shape of ArrowSchema/ArrowArray structs -> validation
//	                 (readSchema, planX, planFactor) and the whole gonmf_fit
//	                 path with a fake engine (fuzz_arrow_test.go)
//	FuzzFitSmall     small matrices and parameters through the real engine
//	                 (fuzz_fit_test.go)
//
// Seed corpora live in testdata/fuzz/<Target>/ and run as plain tests with
// `go test ./capi`; capi/fuzz.sh runs each target for a bounded time.
// GONMF_WRITE_FUZZ_SEEDS=1 go test ./capi -run TestWriteFuzzSeeds rewrites
// the generated seed files (hand-added regression seeds are left alone).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gonmf/gonmf/nmf"
)

// codec reads a fuzz input as a little program, or writes one from a
// description: every field goes through the same method both ways, so seeds
// are written with the very code that reads them. Reading past the end
// yields zeros, so every byte string decodes to something.
type codec struct {
	enc bool
	buf []byte
	pos int
}

func decoder(b []byte) *codec { return &codec{buf: b} }
func encoder() *codec         { return &codec{enc: true} }

func (c *codec) u8(v *byte) {
	if c.enc {
		c.buf = append(c.buf, *v)
		return
	}
	*v = 0
	if c.pos < len(c.buf) {
		*v = c.buf[c.pos]
		c.pos++
	}
}

func (c *codec) bool(v *bool) {
	var b byte
	if *v {
		b = 1
	}
	c.u8(&b)
	*v = b&1 == 1
}

// fuzzInts are the values lengths, offsets and counts are most likely to get
// wrong: negative, the maxElems boundary, int32/int64 limits, products that
// overflow.
var fuzzInts = []int64{
	-1, -2, -8, math.MinInt64, math.MaxInt64, maxElems, maxElems + 1, maxElems - 1,
	1<<31 - 1, 1 << 31, 1 << 32, 1<<32 + 1, 1 << 62, -(1 << 48), 1 << 24, 1<<63 - 8,
	math.MaxInt64 / 8, math.MaxInt64/8 + 1, 1 << 40, 3 << 61,
}

const (
	smallInts = 200 // tags [0, 200) are the values themselves
	rawInt    = 255 // followed by 8 little-endian bytes
)

// int encodes small non-negative values in one byte, fuzzInts by index, and
// anything else in nine bytes.
func (c *codec) int(v *int64) {
	if c.enc {
		if *v >= 0 && *v < smallInts {
			c.buf = append(c.buf, byte(*v))
			return
		}
		for i, s := range fuzzInts {
			if s == *v {
				c.buf = append(c.buf, byte(smallInts+i))
				return
			}
		}
		c.buf = append(c.buf, rawInt)
		c.buf = binary.LittleEndian.AppendUint64(c.buf, uint64(*v))
		return
	}
	var tag byte
	c.u8(&tag)
	switch {
	case tag < smallInts:
		*v = int64(tag)
	case int(tag) < smallInts+len(fuzzInts):
		*v = fuzzInts[tag-smallInts]
	case tag == rawInt:
		var raw [8]byte
		for i := range raw {
			c.u8(&raw[i])
		}
		*v = int64(binary.LittleEndian.Uint64(raw[:]))
	default:
		*v = int64(tag) - 256 // -21 ... -2
	}
}

// str encodes a string of up to 255 bytes.
func (c *codec) str(s *string) {
	n := byte(min(len(*s), 255))
	c.u8(&n)
	if c.enc {
		c.buf = append(c.buf, (*s)[:n]...)
		return
	}
	b := make([]byte, n)
	for i := range b {
		c.u8(&b[i])
	}
	*s = string(b)
}

// corpusFile renders values in Go's fuzz corpus format.
func corpusFile(vals ...any) []byte {
	var sb strings.Builder
	sb.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&sb, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&sb, "string(%q)\n", v)
		default:
			panic(fmt.Sprintf("corpusFile: %T", v))
		}
	}
	return []byte(sb.String())
}

// writeSeeds writes generated seeds as testdata/fuzz/<target>/gen-<name>.
func writeSeeds(t *testing.T, target string, seeds map[string][]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range seeds {
		if err := os.WriteFile(filepath.Join(dir, "gen-"+name), corpusFile(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("GONMF_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set GONMF_WRITE_FUZZ_SEEDS=1 to rewrite the generated seed corpora")
	}
	writeSeeds(t, "FuzzParams", map[string][]byte{
		"random-state-object":  []byte(paramSeeds[len(paramSeeds)-1]),
		"state-short-keys":     []byte(`{"random_state": {"keys": [1, 2], "pos": 0, "has_gauss": 0, "cached_gaussian": 0}}`),
		"case-folded-key":      []byte(`{"alpha_w": 1}`),
		"trailing-value":       []byte(`{"tol": 1} {}`),
		"deep-nesting":         []byte(strings.Repeat("[", 20000)),
		"components-too-large": []byte(`{"n_components": 2147483648}`),
		"seed-too-large":       []byte(`{"random_state": 4294967296}`),
		"invalid-utf8":         []byte("{\"init\": \"random\xff\"}"),
		"verbose-bool":         []byte(`{"verbose": true}`),
		"every-key":            []byte(`{"n_components": 3, "init": "custom", "solver": "mu", "beta_loss": 1, "tol": 0, "max_iter": 1, "alpha_W": 0, "alpha_H": 0, "l1_ratio": 1, "shuffle": true, "update_H": false, "verbose": 0, "random_state": null}`),
	})
	arrow := map[string][]byte{}
	for name, c := range importSeeds() {
		arrow[name] = encodeCase(c)
	}
	writeSeeds(t, "FuzzImportArrow", arrow)
	fit := map[string][]byte{}
	for name, c := range fitSeeds() {
		fit[name] = encodeFit(c)
	}
	writeSeeds(t, "FuzzFitSmall", fit)
}

var paramSeeds = []string{
	``, `{}`, `null`, `[]`, `"x"`, `{"n_components": 2}`, `{"n_components": "auto"}`,
	`{"n_components": null}`, `{"n_components": 0}`, `{"n_components": -1}`, `{"n_components": 2.5}`,
	`{"n_components": 2147483648}`, `{"n_components": 1e3}`, `{"n_components": "2"}`,
	`{"init": null}`, `{"init": "nndsvda"}`, `{"init": "bogus"}`, `{"init": 1}`,
	`{"solver": "mu", "beta_loss": 1}`, `{"solver": null}`, `{"beta_loss": "kullback-leibler"}`,
	`{"tol": -1}`, `{"tol": 1e400}`, `{"tol": NaN}`, `{"max_iter": 0}`, `{"max_iter": 9223372036854775808}`,
	`{"alpha_W": 0.1, "alpha_H": 0.2, "l1_ratio": 0.5}`, `{"shuffle": true, "update_H": false}`,
	`{"shuffle": 1}`, `{"verbose": true}`, `{"verbose": 2}`, `{"verbose": -1}`, `{"verbose": "x"}`,
	`{"random_state": null}`, `{"random_state": 0}`, `{"random_state": 4294967295}`,
	`{"random_state": 4294967296}`, `{"random_state": -1}`, `{"random_state": {}}`,
	`{"random_state": {"keys": [1, 2], "pos": 0, "has_gauss": 0, "cached_gaussian": 0}}`,
	`{"random_state": {"keys": null, "pos": 0, "has_gauss": 0, "cached_gaussian": 0}}`,
	`{"random_state": {"keys": [], "pos": -1, "has_gauss": 2, "cached_gaussian": 0, "x": 1}}`,
	`{"Alpha_W": 1}`, `{"alpha_w": 1}`, `{"unknown": 1}`, `{"tol": 1} {}`, `{"tol": 1,}`,
	`{"tol": 1, "tol": 2}`, "{\"init\": \"random\xff\"}", `{"n_components": 3, "init": "custom"}`,
	` {"max_iter" : 10 } `, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`,
	`{"random_state": {"keys": [` + strings.Repeat("1,", 623) + `1], "pos": 624, "has_gauss": 1, "cached_gaussian": -0.5}}`,
}

// FuzzParams: params_json never panics; it gives valid parameters or a
// ValueError, deterministically.
func FuzzParams(f *testing.F) {
	for _, s := range paramSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, js []byte) {
		p, err := parseParams(js)
		if err != nil {
			var ve *nmf.ValueError
			if !errors.As(err, &ve) || errorStatus(err) != statusValue {
				t.Fatalf("%q: error %T %v is not a ValueError", js, err, err)
			}
			if !strings.HasPrefix(err.Error(), "params_json: ") {
				t.Fatalf("%q: error without context: %v", js, err)
			}
		} else {
			checkParamInvariants(t, js, p)
		}
		p2, err2 := parseParams(js)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) || (err == nil && !reflect.DeepEqual(p, p2)) {
			t.Fatalf("%q: not deterministic: %v / %v", js, err, err2)
		}
	})
}

// checkParamInvariants states what parseParams guarantees on success; the
// ranges of tol, max_iter, alpha_* and l1_ratio are the engine's to check
// (with scikit-learn's messages), so they are not guaranteed here.
func checkParamInvariants(t *testing.T, js []byte, p fitParams) {
	t.Helper()
	if p.components != componentsAuto && p.components != componentsNone && (p.components < 1 || p.components > math.MaxInt32) {
		t.Fatalf("%q: n_components %d", js, p.components)
	}
	switch p.Init {
	case "", "random", "nndsvd", "nndsvda", "nndsvdar", "custom":
	default:
		t.Fatalf("%q: init %q", js, p.Init)
	}
	if st := p.Random.State; st != nil {
		if st.Pos < 0 || st.Pos > 624 {
			t.Fatalf("%q: state pos %d", js, st.Pos)
		}
		if p.Random.Seed != 0 {
			t.Fatalf("%q: both a seed and a state", js)
		}
	}
	if js == nil && !reflect.DeepEqual(p, fitParams{Params: nmf.DefaultParams(), components: componentsAuto}) {
		t.Fatalf("nil params are not the defaults: %+v", p)
	}
}
