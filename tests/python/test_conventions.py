"""scikit-learn's estimator conventions, checked against scikit-learn's own NMF.

get_params / set_params, clone, repr, pickling (also unpickling in a fresh process),
set_output (pandas and polars), get_feature_names_out, Pipeline, GridSearchCV,
n_components resolution, input dtypes, ConvergenceWarning and verbose output: in each
case gonmf.NMF must behave as sklearn.decomposition.NMF does. (The no-scikit-learn case is
test_api.py::test_without_sklearn.)
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import datasets
import gonmf
from helpers import rel_diff

skd = pytest.importorskip("sklearn.decomposition")
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402

X = datasets.nonnegative(40, 25, rank=4)
LIBS = {"gonmf": gonmf, "sklearn": skd}

PARAM_SETS = [
    {},
    {"n_components": 5},
    {"n_components": None, "init": "random", "tol": 1e-4},
    {
        "n_components": 5,
        "init": "nndsvdar",
        "solver": "mu",
        "beta_loss": "kullback-leibler",
        "tol": 1e-5,
        "max_iter": 1000,
        "random_state": 3,
        "alpha_W": 0.1,
        "alpha_H": 0.2,
        "l1_ratio": 0.5,
        "verbose": 1,
        "shuffle": True,
    },
]


def _quiet_fit(model, data=X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(data, **kw)


@pytest.mark.parametrize("params", PARAM_SETS, ids=range(len(PARAM_SETS)))
def test_get_params_and_repr_match_sklearn(params):
    g, s = gonmf.NMF(**params), skd.NMF(**params)
    assert g.get_params() == s.get_params()
    assert g.get_params(deep=False) == s.get_params(deep=False)
    assert repr(g) == repr(s)


def test_set_params_matches_sklearn():
    g, s = gonmf.NMF(), skd.NMF()
    assert g.set_params(n_components=3, solver="mu") is g
    s.set_params(n_components=3, solver="mu")
    assert g.get_params() == s.get_params()
    for est in (g, s):
        with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
            est.set_params(nope=1)
    # set_params does not validate; fit does, with the same error
    g.set_params(tol=-1)
    s.set_params(tol=-1)
    errors = []
    for est in (g, s):
        try:
            est.fit(X)
        except Exception as exc:
            errors.append(exc)
    assert len(errors) == 2
    assert type(errors[0]) is type(errors[1])
    assert str(errors[0]) == str(errors[1])


def test_clone():
    model = gonmf.NMF(n_components=3, alpha_W=0.1, random_state=0)
    _quiet_fit(model)
    cloned = clone(model)
    assert type(cloned) is gonmf.NMF
    assert cloned is not model
    assert repr(cloned) == repr(model)
    assert cloned.get_params().keys() == model.get_params().keys()
    assert not hasattr(cloned, "components_")  # a clone is unfitted
    with pytest.raises(NotFittedError):
        cloned.transform(X)


def test_feature_names_out_match_sklearn():
    g = _quiet_fit(gonmf.NMF(4, random_state=0))
    s = _quiet_fit(skd.NMF(4, random_state=0))
    assert g.get_feature_names_out().tolist() == ["nmf0", "nmf1", "nmf2", "nmf3"]
    np.testing.assert_array_equal(g.get_feature_names_out(), s.get_feature_names_out())
    assert g.get_feature_names_out().dtype == s.get_feature_names_out().dtype


@pytest.mark.parametrize("transform", ["pandas", "polars"])
def test_set_output(transform):
    frame_lib = pytest.importorskip(transform)
    outs = {}
    for name, lib in LIBS.items():
        model = lib.NMF(3, random_state=0, max_iter=500).set_output(transform=transform)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            outs[name] = (model.fit_transform(X), model.transform(X))
    for W_g, W_s in zip(outs["gonmf"], outs["sklearn"]):
        assert isinstance(W_g, frame_lib.DataFrame)
        assert type(W_g) is type(W_s)
        assert list(W_g.columns) == list(W_s.columns) == ["nmf0", "nmf1", "nmf2"]
        np.testing.assert_allclose(np.asarray(W_g), np.asarray(W_s), rtol=1e-6, atol=1e-9)


def test_set_output_keeps_the_pandas_index():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=[f"g{i}" for i in range(X.shape[1])], index=range(100, 140))
    model = gonmf.NMF(3, random_state=0, max_iter=500).set_output(transform="pandas")
    W = _quiet_fit(model, df).transform(df)
    assert W.index.tolist() == list(range(100, 140))


def _pickle_round_trip_in_fresh_process(payload: bytes, data: np.ndarray, tmp_path: Path):
    (tmp_path / "model.pkl").write_bytes(payload)
    np.save(tmp_path / "X.npy", data)
    code = textwrap.dedent(
        """
        import pickle, sys, warnings
        import numpy as np
        with open(sys.argv[1] + "/model.pkl", "rb") as f:
            model = pickle.load(f)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            W = model.transform(np.load(sys.argv[1] + "/X.npy"))
        np.save(sys.argv[1] + "/W.npy", W)
        print(type(model).__module__, model.n_iter_, model.components_.flags.writeable)
        """
    )
    env = dict(os.environ)
    package_parent = str(Path(gonmf.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([package_parent, *filter(None, [env.get("PYTHONPATH")])])
    res = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.split(), np.load(tmp_path / "W.npy")


def test_pickle_fitted_model_and_unpickle_in_fresh_process(tmp_path):
    model = _quiet_fit(gonmf.NMF(4, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W_here = model.transform(X)
    payload = pickle.dumps(model)
    same = pickle.loads(payload)
    for attr in ("n_iter_", "n_components_", "reconstruction_err_", "n_features_in_"):
        assert getattr(same, attr) == getattr(model, attr)
    np.testing.assert_array_equal(same.components_, model.components_)

    (module, n_iter, writeable), W_there = _pickle_round_trip_in_fresh_process(payload, X, tmp_path)
    assert module == "gonmf._nmf"
    assert int(n_iter) == model.n_iter_
    assert writeable == "True"
    np.testing.assert_allclose(W_there, W_here, rtol=1e-12, atol=0)


def test_pipeline_matches_sklearn():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    outs = {}
    for name, lib in LIBS.items():
        pipe = make_pipeline(MinMaxScaler(), lib.NMF(3, random_state=0, max_iter=1000))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            outs[name] = pipe.fit_transform(X)
            assert pipe.get_feature_names_out().tolist() == ["nmf0", "nmf1", "nmf2"]
    np.testing.assert_allclose(outs["gonmf"], outs["sklearn"], rtol=1e-5, atol=1e-8)


def _neg_reconstruction_error(est, data, y=None):
    return -np.linalg.norm(data - est.inverse_transform(est.transform(data)))


def test_grid_search_matches_sklearn():
    from sklearn.model_selection import GridSearchCV

    grid = {"n_components": [2, 4, 6], "alpha_W": [0.0, 0.01]}
    results = {}
    for name, lib in LIBS.items():
        search = GridSearchCV(
            lib.NMF(random_state=0, max_iter=500), grid, scoring=_neg_reconstruction_error, cv=3
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(X)
        assert type(search.best_estimator_) is lib.NMF
        results[name] = search
    g, s = results["gonmf"], results["sklearn"]
    assert g.best_params_ == s.best_params_
    np.testing.assert_allclose(
        g.cv_results_["mean_test_score"], s.cv_results_["mean_test_score"], rtol=0.005
    )


# ---- n_components, dtypes, warnings, verbose -----------------------------------------------


@pytest.mark.parametrize(
    ("n_components", "init", "start"),
    [(None, None, False), ("auto", None, False), (3, None, False), ("auto", "custom", True)],
)
def test_n_components_resolution_matches_sklearn(n_components, init, start):
    kw = {}
    if start:
        rng = np.random.RandomState(0)
        kw = {"W": rng.rand(X.shape[0], 3), "H": rng.rand(3, X.shape[1])}
    g = _quiet_fit(gonmf.NMF(n_components, init=init, random_state=0), **kw)
    s = _quiet_fit(skd.NMF(n_components, init=init, random_state=0), **kw)
    assert g.n_components_ == s.n_components_
    assert g.components_.shape == s.components_.shape
    # non_negative_factorization with update_H=False takes n_components from H
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        W, H, n_iter = gonmf.non_negative_factorization(X, H=s.components_, update_H=False)
    assert W.shape == (X.shape[0], s.n_components_)


def _as(kind):
    Xi = (X * 10).astype(np.int64)
    pd = pytest.importorskip("pandas") if kind.startswith("pandas") else None
    return {
        "float64": lambda: X,
        "float32": lambda: X.astype(np.float32),
        "float32_fortran": lambda: np.asfortranarray(X, dtype=np.float32),
        "float16": lambda: X.astype(np.float16),
        "int64": lambda: Xi,
        "int32": lambda: Xi.astype(np.int32),
        "uint8": lambda: Xi.astype(np.uint8),
        "bool": lambda: Xi > 20,
        "object": lambda: X.astype(object),
        "list": lambda: X.tolist(),
        "pandas_int": lambda: pd.DataFrame(Xi),
        "pandas_float32": lambda: pd.DataFrame(X.astype(np.float32)),
        "pandas_Int64": lambda: pd.DataFrame(Xi).astype("Int64"),
        "pandas_mixed_float": lambda: pd.DataFrame(
            {"a": X[:, 0].astype(np.float32), **{f"c{j}": X[:, j] for j in range(1, X.shape[1])}}
        ),
    }[kind]()


@pytest.mark.parametrize(
    "kind",
    [
        "float64",
        "float32",
        "float32_fortran",
        "float16",
        "int64",
        "int32",
        "uint8",
        "bool",
        "object",
        "list",
        "pandas_int",
        "pandas_float32",
        "pandas_Int64",
        "pandas_mixed_float",
    ],
)
def test_input_dtypes_match_sklearn(kind):
    """float32 stays float32, float64 float64, everything else becomes float64."""
    data = _as(kind)
    g = gonmf.NMF(3, random_state=0)
    s = skd.NMF(3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        W_g = g.fit_transform(data)
        W_s = s.fit_transform(data)
    assert W_g.dtype == W_s.dtype
    assert g.components_.dtype == s.components_.dtype
    expected = (
        np.float32 if kind in ("float32", "float32_fortran", "pandas_float32") else np.float64
    )
    assert W_g.dtype == expected
    assert g.n_iter_ == s.n_iter_
    assert rel_diff(g.reconstruction_err_, s.reconstruction_err_) <= 0.005


@pytest.mark.parametrize("solver", ["cd", "mu"])
def test_convergence_warning_matches_sklearn(solver):
    for lib in LIBS.values():
        with pytest.warns(ConvergenceWarning) as record:
            lib.NMF(3, solver=solver, max_iter=5, random_state=0).fit(X)
        messages = [str(w.message) for w in record if w.category is ConvergenceWarning]
        assert messages == [
            "Maximum number of iterations 5 reached. Increase it to improve convergence."
        ]
        # no warning with tol=0 (max_iter is then the plan) or when it converges
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            lib.NMF(3, solver=solver, max_iter=5, tol=0, random_state=0).fit(X)
            lib.NMF(3, solver=solver, max_iter=2000, random_state=0).fit(X)


@pytest.mark.parametrize("solver", ["cd", "mu"])
def test_verbose(solver, capsys):
    """verbose=0 is silent; verbose=1 reports the fit (gonmf: up to its last iteration)."""
    for name, lib in LIBS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lib.NMF(3, solver=solver, max_iter=30, tol=0, random_state=0).fit(X)
        out = capsys.readouterr()
        assert out.out == ""
        assert out.err == ""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lib.NMF(3, solver=solver, max_iter=30, tol=0, random_state=0, verbose=1).fit(X)
        out = capsys.readouterr().out
        assert out.strip()
        if name == "gonmf":
            assert re.search(r"\b30\b", out), out
