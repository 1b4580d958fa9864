package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/gonmf/gonmf/nmf"
)

// fitParams is params_json decoded: the engine parameters plus what capi
// resolves itself once it knows the shapes.
type fitParams struct {
	nmf.Params
	// components is n_components when given as an integer; 0 means "auto"
	// (infer from H when H is used, else n_features) and -1 means null
	// (scikit-learn's None: n_features).
	components int
	verbose    int
}

const (
	componentsAuto = 0
	componentsNone = -1
)

// paramKeys lists the accepted keys; anything else is an error.
var paramKeys = map[string]func(p *fitParams, raw json.RawMessage) error{
	"n_components": decodeComponents,
	"init":         decodeInit,
	"solver":       func(p *fitParams, r json.RawMessage) error { return decodeStrict(r, &p.Solver) },
	"beta_loss":    func(p *fitParams, r json.RawMessage) error { return decodeFloat(r, &p.BetaLoss) },
	"tol":          func(p *fitParams, r json.RawMessage) error { return decodeFloat(r, &p.Tol) },
	"max_iter":     func(p *fitParams, r json.RawMessage) error { return decodeStrict(r, &p.MaxIter) },
	"alpha_W":      func(p *fitParams, r json.RawMessage) error { return decodeFloat(r, &p.AlphaW) },
	"alpha_H":      func(p *fitParams, r json.RawMessage) error { return decodeFloat(r, &p.AlphaH) },
	"l1_ratio":     func(p *fitParams, r json.RawMessage) error { return decodeFloat(r, &p.L1Ratio) },
	"shuffle":      func(p *fitParams, r json.RawMessage) error { return decodeStrict(r, &p.Shuffle) },
	"update_H":     func(p *fitParams, r json.RawMessage) error { return decodeStrict(r, &p.UpdateH) },
	"verbose":      decodeVerbose,
	"random_state": decodeRandomState,
}

// parseParams decodes params_json (nil means all defaults) on top of
// nmf.DefaultParams. Keys are matched exactly: encoding/json's struct decoding
// matches field names case-insensitively, which would let "alpha_w" through,
// so the object is decoded key by key instead of with DisallowUnknownFields.
func parseParams(js []byte) (fitParams, error) {
	p := fitParams{Params: nmf.DefaultParams(), components: componentsAuto}
	if js == nil {
		return p, nil
	}
	var obj map[string]json.RawMessage
	if err := decodeStrict(js, &obj); err != nil {
		return p, valueErrorf("params_json: %v", jsonMessage(err))
	}
	if obj == nil {
		return p, valueErrorf("params_json: expected a JSON object, got null")
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic error messages
	for _, k := range keys {
		dec, ok := paramKeys[k]
		if !ok {
			return p, valueErrorf("params_json: unknown key %q", k)
		}
		if err := dec(&p, obj[k]); err != nil {
			return p, valueErrorf("params_json: key %q: %v", k, jsonMessage(err))
		}
	}
	return p, nil
}

// decodeStrict decodes exactly one JSON value into v: null is rejected for
// scalars (json would silently keep the default), and trailing data is an error.
func decodeStrict(raw []byte, v any) error {
	if isNull(raw) {
		if _, ok := v.(*map[string]json.RawMessage); !ok {
			return errors.New("must not be null")
		}
	}
	// Fast path: where json.Unmarshal accepts the value, the Decoder below
	// does too, with the same result (unknown fields aside, hence not for
	// structs), and without allocating a Decoder's buffers for each key.
	if _, isStruct := v.(*mtStateJSON); !isStruct && json.Unmarshal(raw, v) == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func isNull(raw []byte) bool { return string(bytes.TrimSpace(raw)) == "null" }

// jsonMessage turns encoding/json's errors into something a Python user can read.
func jsonMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, got JSON %s", goTypeName(te.Type.String()), te.Value)
	}
	return err.Error()
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "a boolean"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "map"), strings.HasPrefix(t, "struct"), strings.HasPrefix(t, "main."):
		return "an object"
	}
	return t
}

func decodeFloat(raw json.RawMessage, f *float64) error {
	return decodeStrict(raw, f)
}

func decodeComponents(p *fitParams, raw json.RawMessage) error {
	if isNull(raw) {
		p.components = componentsNone
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s != "auto" {
			return fmt.Errorf("expected an integer >= 1, null or \"auto\", got %q", s)
		}
		p.components = componentsAuto
		return nil
	}
	var k int64
	if err := decodeStrict(raw, &k); err != nil {
		return fmt.Errorf("expected an integer >= 1, null or \"auto\", got %s", raw)
	}
	if k < 1 || k > math.MaxInt32 {
		return fmt.Errorf("must be an integer >= 1, got %d", k)
	}
	p.components = int(k)
	return nil
}

func decodeInit(p *fitParams, raw json.RawMessage) error {
	if isNull(raw) {
		p.Init = "" // scikit-learn's init=None rule, applied by the engine
		return nil
	}
	var s string
	if err := decodeStrict(raw, &s); err != nil {
		return err
	}
	switch s {
	case "random", "nndsvd", "nndsvda", "nndsvdar", "custom":
		p.Init = s
		return nil
	}
	return fmt.Errorf("expected null or one of \"random\", \"nndsvd\", \"nndsvda\", \"nndsvdar\", \"custom\", got %q", s)
}

func decodeVerbose(p *fitParams, raw json.RawMessage) error {
	// Python's bool is an int subclass: accept verbose=True as 1.
	var b bool
	if json.Unmarshal(raw, &b) == nil && !isNull(raw) {
		if b {
			p.verbose = 1
		}
		return nil
	}
	return decodeStrict(raw, &p.verbose)
}

// mtStateJSON is numpy's RandomState.get_state() in object form; it travels
// both ways (in params_json, and back in out_info_json after the fit).
type mtStateJSON struct {
	Keys           []uint32 `json:"keys"`
	Pos            int      `json:"pos"`
	HasGauss       int      `json:"has_gauss"`
	CachedGaussian float64  `json:"cached_gaussian"`
}

// decodeRandomState accepts null (documented as seed 0: the Python layer
// always sends an int or a state, so null only reaches us from other callers),
// an integer seed in [0, 2**32-1], or a state object.
func decodeRandomState(p *fitParams, raw json.RawMessage) error {
	if isNull(raw) {
		p.Random = nmf.Random{Seed: 0}
		return nil
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var st mtStateJSON
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &fields); err != nil {
			return err
		}
		for _, k := range []string{"keys", "pos", "has_gauss", "cached_gaussian"} {
			if _, ok := fields[k]; !ok {
				return fmt.Errorf("state object is missing %q", k)
			}
		}
		if err := decodeStrict(trimmed, &st); err != nil {
			return err
		}
		if len(st.Keys) != 624 {
			return fmt.Errorf("state keys must hold 624 integers, got %d", len(st.Keys))
		}
		if st.Pos < 0 || st.Pos > 624 {
			return fmt.Errorf("state pos must be in [0, 624], got %d", st.Pos)
		}
		if st.HasGauss != 0 && st.HasGauss != 1 {
			return fmt.Errorf("state has_gauss must be 0 or 1, got %d", st.HasGauss)
		}
		ms := &nmf.MTState{Pos: st.Pos, HasGauss: st.HasGauss == 1, Gauss: st.CachedGaussian}
		copy(ms.Key[:], st.Keys)
		p.Random = nmf.Random{State: ms}
		return nil
	}
	var seed int64
	if err := decodeStrict(raw, &seed); err != nil {
		return fmt.Errorf("expected null, an integer seed or a state object, got %s", raw)
	}
	if seed < 0 || seed > math.MaxUint32 {
		return fmt.Errorf("seed must be between 0 and 2**32 - 1, got %d", seed)
	}
	p.Random = nmf.Random{Seed: uint32(seed)}
	return nil
}

func stateJSON(s *nmf.MTState) mtStateJSON {
	st := mtStateJSON{Keys: append([]uint32(nil), s.Key[:]...), Pos: s.Pos, CachedGaussian: s.Gauss}
	if s.HasGauss {
		st.HasGauss = 1
	}
	return st
}
