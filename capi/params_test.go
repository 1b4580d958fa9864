package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gonmf/gonmf/nmf"
)

func TestParseParamsDefaults(t *testing.T) {
	for _, js := range [][]byte{nil, []byte(`{}`), []byte(` { } `)} {
		p, err := parseParams(js)
		if err != nil {
			t.Fatal(err)
		}
		if p.Params != nmf.DefaultParams() || p.components != componentsAuto {
			t.Errorf("%q: %+v", js, p)
		}
	}
}

func TestParseParams(t *testing.T) {
	keys := make([]uint32, 624)
	keys[623] = 4294967295
	state, _ := json.Marshal(map[string]any{"keys": keys, "pos": 3, "has_gauss": 1, "cached_gaussian": -0.5})
	p, err := parseParams([]byte(`{"n_components": 50, "init": "nndsvda", "solver": "mu", "beta_loss": 1,
		"tol": 1e-5, "max_iter": 400, "alpha_W": 0.1, "alpha_H": 0.2, "l1_ratio": 0.5, "shuffle": true,
		"update_H": false, "verbose": 2, "random_state": ` + string(state) + `}`))
	if err != nil {
		t.Fatal(err)
	}
	want := nmf.Params{Init: "nndsvda", Solver: "mu", BetaLoss: 1, Tol: 1e-5, MaxIter: 400, AlphaW: 0.1,
		AlphaH: 0.2, L1Ratio: 0.5, Shuffle: true, UpdateH: false}
	st := p.Random.State
	p.Random = nmf.Random{}
	if p.Params != want || p.components != 50 || p.verbose != 2 {
		t.Errorf("got %+v", p)
	}
	if st == nil || st.Pos != 3 || !st.HasGauss || st.Gauss != -0.5 || st.Key[623] != 4294967295 {
		t.Errorf("state %+v", st)
	}
	round := stateJSON(st)
	if round.Pos != 3 || round.HasGauss != 1 || round.Keys[623] != 4294967295 || len(round.Keys) != 624 {
		t.Errorf("round trip %+v", round)
	}
}

func TestParseParamsValues(t *testing.T) {
	for _, tc := range []struct {
		js   string
		test func(p fitParams) bool
	}{
		{`{"n_components": null}`, func(p fitParams) bool { return p.components == componentsNone }},
		{`{"n_components": "auto"}`, func(p fitParams) bool { return p.components == componentsAuto }},
		{`{"init": null}`, func(p fitParams) bool { return p.Init == "" }},
		{`{"random_state": null}`, func(p fitParams) bool { return p.Random == nmf.Random{Seed: 0} }},
		{`{"random_state": 4294967295}`, func(p fitParams) bool { return p.Random == nmf.Random{Seed: 4294967295} }},
		{`{"random_state": 42}`, func(p fitParams) bool { return p.Random == nmf.Random{Seed: 42} }},
		{`{"verbose": true}`, func(p fitParams) bool { return p.verbose == 1 }},
		{`{"verbose": 0}`, func(p fitParams) bool { return p.verbose == 0 }},
		{`{"beta_loss": 2.0, "tol": 0}`, func(p fitParams) bool { return p.BetaLoss == 2 && p.Tol == 0 }},
	} {
		p, err := parseParams([]byte(tc.js))
		if err != nil {
			t.Errorf("%s: %v", tc.js, err)
			continue
		}
		if !tc.test(p) {
			t.Errorf("%s: %+v", tc.js, p)
		}
	}
}

func TestParseParamsErrors(t *testing.T) {
	for _, tc := range []struct{ js, msg string }{
		{`[1]`, "params_json:"},
		{`null`, "expected a JSON object"},
		{`{"tol": 1} x`, "unexpected data"},
		{`{"tol": `, "params_json:"},
		{`{"alpha": 1}`, `unknown key "alpha"`},
		{`{"alpha_w": 1}`, `unknown key "alpha_w"`}, // exact case
		{`{"tol": "1"}`, `key "tol": expected a number, got JSON string`},
		{`{"tol": null}`, `key "tol": must not be null`},
		{`{"max_iter": 2.5}`, `key "max_iter": expected an integer`},
		{`{"shuffle": 1}`, `key "shuffle": expected a boolean`},
		{`{"solver": 3}`, `key "solver": expected a string`},
		{`{"n_components": 0}`, `key "n_components": must be an integer >= 1`},
		{`{"n_components": 1.5}`, `key "n_components": expected an integer`},
		{`{"n_components": "all"}`, `key "n_components"`},
		{`{"init": "svd"}`, `key "init": expected null or one of`},
		{`{"random_state": -1}`, `key "random_state": seed must be between 0 and 2**32 - 1`},
		{`{"random_state": 4294967296}`, `seed must be between`},
		{`{"random_state": "x"}`, `key "random_state": expected null, an integer seed or a state object`},
		{`{"random_state": {"keys": [1], "pos": 0, "has_gauss": 0, "cached_gaussian": 0}}`, "624 integers"},
		{`{"random_state": {"keys": [], "pos": 0}}`, `missing "has_gauss"`},
		{`{"random_state": {"keys": [], "pos": 0, "has_gauss": 0, "cached_gaussian": 0, "x": 1}}`, `unknown field "x"`},
	} {
		_, err := parseParams([]byte(tc.js))
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want %q", tc.js, err, tc.msg)
			continue
		}
		if errorStatus(err) != statusValue {
			t.Errorf("%s: status %d", tc.js, errorStatus(err))
		}
	}
}
