"""The Python surface of gonmf: estimator protocol, inputs, outputs, errors, processes."""

from __future__ import annotations

import gc
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
import weakref
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import datasets
import gonmf
from gonmf import NMF, non_negative_factorization
from gonmf.exceptions import ConvergenceWarning, InvalidParameterError, NotFittedError

PACKAGE_PARENT = str(Path(gonmf.__file__).resolve().parent.parent)


def _run_python(code: str, env_extra: dict[str, str] | None = None, timeout: float = 120):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PACKAGE_PARENT, *filter(None, [env.get("PYTHONPATH")])])
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return datasets.nonnegative(40, 25, rank=4)


def _fit_w(obj, **params):
    params = {"n_components": 4, "random_state": 0, "max_iter": 400, **params}
    model = NMF(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        W = model.fit_transform(obj)
    return model, W


# ---- estimator protocol -------------------------------------------------------------------


def test_repr():
    assert repr(NMF(n_components=5)) == "NMF(n_components=5)"
    assert str(NMF(n_components=5)) == "NMF(n_components=5)"
    assert repr(NMF()) == "NMF()"
    # scikit-learn's order: changed parameters by name
    assert repr(NMF(5, init="random", tol=1e-4)) == "NMF(init='random', n_components=5)"


def test_signature_matches_sklearn():
    sk = pytest.importorskip("sklearn.decomposition")
    import inspect

    ours = inspect.signature(NMF.__init__).parameters
    theirs = inspect.signature(sk.NMF.__init__).parameters
    assert list(ours) == list(theirs)
    for name in theirs:
        assert ours[name].default == theirs[name].default, name
        assert ours[name].kind == theirs[name].kind, name

    ours_f = inspect.signature(non_negative_factorization).parameters
    theirs_f = inspect.signature(sk.non_negative_factorization).parameters
    assert list(ours_f) == list(theirs_f)
    for name in theirs_f:
        assert ours_f[name].default == theirs_f[name].default, name
        assert ours_f[name].kind == theirs_f[name].kind, name


def test_get_set_params_and_clone():
    model = NMF(n_components=3, alpha_W=0.1)
    params = model.get_params()
    assert params["n_components"] == 3
    assert params["alpha_H"] == "same"
    assert model.set_params(max_iter=50) is model
    assert model.max_iter == 50
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(nope=1)
    base = pytest.importorskip("sklearn.base")
    cloned = base.clone(model)
    assert cloned.get_params() == model.get_params()
    assert cloned is not model


def test_pipeline_and_set_output(X):
    pytest.importorskip("sklearn")
    pd = pytest.importorskip("pandas")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    pipe = make_pipeline(MinMaxScaler(), NMF(n_components=3, random_state=0, max_iter=500))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        out = pipe.fit_transform(X)
    assert out.shape == (X.shape[0], 3)

    df = pd.DataFrame(X, columns=[f"g{i}" for i in range(X.shape[1])], index=range(100, 140))
    model = NMF(n_components=3, random_state=0, max_iter=500).set_output(transform="pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        W = model.fit_transform(df)
        W2 = model.transform(df)
    assert isinstance(W, pd.DataFrame)
    assert W.columns.tolist() == ["nmf0", "nmf1", "nmf2"]
    assert W.index.tolist() == list(range(100, 140))
    assert isinstance(W2, pd.DataFrame)


def test_fit_returns_self_and_attributes(X):
    model = NMF(n_components=4, random_state=0, max_iter=500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert model.fit(X) is model
    assert model.components_.shape == (4, X.shape[1])
    assert model.n_components_ == 4
    assert model.n_features_in_ == X.shape[1]
    assert isinstance(model.n_iter_, int)
    assert isinstance(model.reconstruction_err_, float)
    assert not hasattr(model, "feature_names_in_")
    assert model.get_feature_names_out().tolist() == ["nmf0", "nmf1", "nmf2", "nmf3"]


def test_n_components_resolution(X):
    model, W = _fit_w(X, n_components=None)
    assert model.n_components_ == X.shape[1]
    model, W = _fit_w(X, n_components="auto")
    assert model.n_components_ == X.shape[1]


def test_pickle(X):
    model, W = _fit_w(X)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.components_, model.components_)
    assert clone.components_.flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        np.testing.assert_allclose(clone.transform(X), model.transform(X))


def test_inverse_transform(X):
    model, W = _fit_w(X)
    np.testing.assert_allclose(model.inverse_transform(W), W @ model.components_)


# ---- inputs -------------------------------------------------------------------------------


def _input_kinds(X):
    pd = pytest.importorskip("pandas")
    names = [f"g{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=names)
    kinds = {
        "numpy_c": np.ascontiguousarray(X),
        "numpy_f": np.asfortranarray(X),
        "numpy_strided": np.hstack([X, X])[:, : X.shape[1]],
        "list": X.tolist(),
        "pandas": df,
        "pandas_c_block": pd.DataFrame(np.ascontiguousarray(X), columns=names, copy=False),
        "pandas_arrow_dtype": df.astype("float64[pyarrow]"),
        "pandas_nullable": df.astype("Float64"),
        "pa_record_batch": pa.RecordBatch.from_pandas(df, preserve_index=False),
        "pa_fixed_size_list": pa.FixedSizeListArray.from_arrays(
            pa.array(X.reshape(-1)), X.shape[1]
        ),
    }
    try:
        import polars as pl

        kinds["polars"] = pl.from_pandas(df)
    except ImportError:
        pass
    return kinds


def test_input_kinds_give_identical_results(X):
    ref_model, ref_W = _fit_w(np.ascontiguousarray(X))
    for name, obj in _input_kinds(X).items():
        model, W = _fit_w(obj)
        assert W.dtype == np.float64, name
        np.testing.assert_allclose(W, ref_W, rtol=1e-9, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(
            model.components_, ref_model.components_, rtol=1e-9, atol=1e-12, err_msg=name
        )
        assert model.n_iter_ == ref_model.n_iter_, name


def test_feature_names(X):
    pd = pytest.importorskip("pandas")
    names = [f"g{i}" for i in range(X.shape[1])]
    for obj in (
        pd.DataFrame(X, columns=names),
        pa.Table.from_pandas(pd.DataFrame(X, columns=names), preserve_index=False),
    ):
        model, _ = _fit_w(obj)
        assert model.feature_names_in_.tolist() == names
        assert model.feature_names_in_.dtype == object
    # integer column names are no feature names; a numpy fit removes them
    model, _ = _fit_w(pd.DataFrame(X))
    assert not hasattr(model, "feature_names_in_")
    model, _ = _fit_w(pd.DataFrame(X, columns=names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    assert not hasattr(model, "feature_names_in_")
    with pytest.raises(TypeError, match="string names"):
        _fit_w(pd.DataFrame(X, columns=["a", *range(1, X.shape[1])]))


def test_transform_feature_name_checks(X):
    pd = pytest.importorskip("pandas")
    names = [f"g{i}" for i in range(X.shape[1])]
    model, _ = _fit_w(pd.DataFrame(X, columns=names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="does not have valid feature names"):
            model.transform(X)
        with pytest.raises(ValueError, match="same order"):
            model.transform(pd.DataFrame(X[:, ::-1], columns=names[::-1]))
        with pytest.raises(ValueError, match="unseen at fit time"):
            model.transform(pd.DataFrame(X, columns=[*names[:-1], "zzz"]))
    model2, _ = _fit_w(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="fitted without feature names"):
            model2.transform(pd.DataFrame(X, columns=names))


def test_integer_and_bool_inputs_become_float64(X):
    ints = (X * 10).astype(np.int32)
    model, W = _fit_w(ints)
    assert W.dtype == np.float64
    _, W_ref = _fit_w(ints.astype(np.float64))
    np.testing.assert_allclose(W, W_ref)
    pd = pytest.importorskip("pandas")
    _, W_df = _fit_w(pd.DataFrame(ints))
    np.testing.assert_allclose(W_df, W_ref)
    _, W_tab = _fit_w(pa.table({f"c{j}": ints[:, j] for j in range(ints.shape[1])}))
    np.testing.assert_allclose(W_tab, W_ref)
    _, W_bool = _fit_w(0.5 * X.max() < X, n_components=2)
    assert W_bool.dtype == np.float64


def test_float32_preserved(X):
    model, W = _fit_w(X.astype(np.float32))
    assert W.dtype == np.float32
    assert model.components_.dtype == np.float32
    pd = pytest.importorskip("pandas")
    model, W = _fit_w(pd.DataFrame(X.astype(np.float32)))
    assert W.dtype == np.float32


def test_sparse_input(X):
    sparse = pytest.importorskip("scipy.sparse")
    _, W_ref = _fit_w(X)
    _, W = _fit_w(sparse.csr_matrix(X))
    np.testing.assert_allclose(W, W_ref)


# ---- outputs ------------------------------------------------------------------------------


def test_outputs_are_writable_views_freed_with_last_reference(X):
    model, W = _fit_w(X)
    H = model.components_
    for arr in (W, H):
        assert arr.flags.writeable
        assert arr.flags.c_contiguous
        assert not arr.flags.owndata  # a view of the engine's memory, not a copy
    W[0, 0] = 123.0
    assert W[0, 0] == 123.0
    H[0, 0] = 7.0
    assert model.components_[0, 0] == 7.0

    owner = weakref.ref(W.base.owner)
    view = W[1:]
    del W
    gc.collect()
    assert owner() is not None  # the view keeps the memory alive
    assert view[0, 0] >= 0
    del view
    gc.collect()
    assert owner() is None  # released through the Arrow release callback


# ---- errors -------------------------------------------------------------------------------


def test_negative_values_raise(X):
    bad = X.copy()
    bad[3, 4] = -1.0
    with pytest.raises(ValueError, match=r"[Nn]egative"):
        NMF(n_components=2).fit(bad)
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match=r"[Nn]egative"):
        NMF(n_components=2).fit(pd.DataFrame(bad))


def test_nan_and_inf_raise(X):
    pd = pytest.importorskip("pandas")
    bad = X.copy()
    bad[2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NMF(n_components=2).fit(bad)
    with pytest.raises(ValueError, match="NaN"):
        NMF(n_components=2).fit(np.asfortranarray(bad))
    with pytest.raises(ValueError, match="NaN"):
        NMF(n_components=2).fit(pd.DataFrame(bad))
    with pytest.raises(ValueError, match="NaN"):
        NMF(n_components=2).fit(pd.DataFrame(bad).astype("float64[pyarrow]"))
    bad[2, 2] = np.inf
    with pytest.raises(ValueError, match=r"[Ii]nf"):
        NMF(n_components=2).fit(bad)


def test_non_numeric_column_raises_naming_it(X):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=[f"g{i}" for i in range(X.shape[1])])
    df["ModelID"] = [f"ACH-{i:06d}" for i in range(len(df))]
    with pytest.raises(ValueError, match="ModelID"):
        NMF(n_components=2).fit(df)
    with pytest.raises(ValueError, match="ModelID"):
        NMF(n_components=2).fit(pa.Table.from_pandas(df, preserve_index=False))


def test_shape_errors(X):
    with pytest.raises(ValueError, match="2D array"):
        NMF(n_components=2).fit(X[0])
    with pytest.raises(ValueError, match="0 sample"):
        NMF(n_components=2).fit(X[:0])
    with pytest.raises(ValueError, match="0 feature"):
        NMF(n_components=2).fit(X[:, :0])
    with pytest.raises(ValueError, match="0 sample"):
        NMF(n_components=2).fit(pa.table({"a": pa.array([], pa.float64())}))


def test_not_fitted():
    model = NMF(n_components=2)
    for call in (
        lambda: model.transform(np.ones((3, 3))),
        lambda: model.inverse_transform(np.ones((3, 2))),
    ):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()
    assert issubclass(NotFittedError, ValueError)
    assert issubclass(NotFittedError, AttributeError)
    try:
        import sklearn.exceptions
    except ImportError:
        return
    assert NotFittedError is sklearn.exceptions.NotFittedError
    with pytest.raises(NotFittedError):
        model.get_feature_names_out()


def test_feature_count_mismatch(X):
    model, _ = _fit_w(X)
    msg = f"X has 5 features, but NMF is expecting {X.shape[1]} features as input."
    with pytest.raises(ValueError, match=msg):
        model.transform(X[:, :5])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_components": 0}, "'n_components' parameter of NMF must be an int in the range"),
        ({"n_components": "all"}, "n_components"),
        ({"tol": -1}, r"'tol' parameter of NMF must be a float in the range \[0.0, inf\)"),
        ({"max_iter": 0}, "max_iter"),
        ({"solver": "als"}, "'solver' parameter"),
        ({"init": "svd"}, "'init' parameter"),
        ({"alpha_W": -0.1}, "alpha_W"),
        ({"alpha_H": "different"}, "alpha_H"),
        ({"l1_ratio": 1.5}, "l1_ratio"),
        ({"shuffle": 1}, "shuffle"),
        ({"random_state": "zero"}, "random_state"),
        ({"random_state": np.random.default_rng(0)}, "random_state"),
        ({"beta_loss": "kl"}, "beta_loss"),
    ],
)
def test_invalid_params(X, params, match):
    with pytest.raises(InvalidParameterError, match=match) as info:
        NMF(**params).fit(X)
    assert isinstance(info.value, ValueError)


def test_beta_loss_needs_mu(X):
    with pytest.raises(ValueError, match="does not handle beta_loss"):
        NMF(n_components=2, beta_loss="kullback-leibler").fit(X)


def test_custom_init_errors(X):
    W0 = np.ones((X.shape[0], 3))
    H0 = np.ones((3, X.shape[1]))
    with pytest.raises(ValueError, match="wrong first dimension"):
        NMF(n_components=2, init="custom").fit(X, W=W0[:, :2], H=H0)
    with pytest.raises(ValueError, match="Negative values"):
        NMF(init="custom").fit(X, W=W0, H=-H0)
    with pytest.raises(ValueError, match="full of zeros"):
        NMF(init="custom").fit(X, W=W0, H=0 * H0)
    with pytest.raises(TypeError, match="same dtype"):
        NMF(init="custom").fit(X, W=W0.astype(np.float32), H=H0)
    with pytest.raises(ValueError):
        NMF(init="custom").fit(X, H=H0)
    with pytest.warns(RuntimeWarning, match="ignored"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        NMF(n_components=3, max_iter=5).fit(X, W=W0, H=H0)


def test_transform_dtype_mismatch_is_type_error(X):
    model, _ = _fit_w(X)
    with pytest.raises(TypeError, match="same dtype"):
        model.transform(X.astype(np.float32))


def test_nndsvd_needs_small_rank():
    with pytest.raises(ValueError, match="can only be used when"):
        NMF(n_components=10, init="nndsvd").fit(np.ones((5, 8)))


# ---- warnings -----------------------------------------------------------------------------


def test_convergence_warning(X):
    with pytest.warns(
        ConvergenceWarning,
        match="Maximum number of iterations 3 reached. Increase it to improve convergence.",
    ):
        NMF(n_components=3, max_iter=3, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = NMF(n_components=3, max_iter=3, tol=0, random_state=0).fit(X)
    assert model.n_iter_ == 3


def test_convergence_warning_class():
    assert issubclass(ConvergenceWarning, UserWarning)
    try:
        import sklearn.exceptions
    except ImportError:
        return
    assert ConvergenceWarning is sklearn.exceptions.ConvergenceWarning


# ---- random_state -------------------------------------------------------------------------


def test_int_random_state_reproducible(X):
    for init in ("random", "nndsvdar", None):
        _, W1 = _fit_w(X, init=init, random_state=42)
        _, W2 = _fit_w(X, init=init, random_state=42)
        np.testing.assert_array_equal(W1, W2)
    _, W1 = _fit_w(X, init="random", random_state=42, max_iter=3)
    _, W3 = _fit_w(X, init="random", random_state=43, max_iter=3)
    assert not np.allclose(W1, W3)


def test_random_state_instance_advances_like_sklearn(X):
    sk = pytest.importorskip("sklearn.decomposition")
    rs_g = np.random.RandomState(7)
    rs_s = np.random.RandomState(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W_g = NMF(n_components=3, init="random", random_state=rs_g).fit_transform(X)
        W_s = sk.NMF(n_components=3, init="random", random_state=rs_s).fit_transform(X)
    assert rs_g.get_state()[2] != np.random.RandomState(7).get_state()[2]  # it advanced
    g_state, s_state = rs_g.get_state(), rs_s.get_state()
    np.testing.assert_array_equal(g_state[1], s_state[1])
    assert g_state[2:] == s_state[2:]
    np.testing.assert_allclose(W_g, W_s, rtol=1e-6, atol=1e-9)
    # the next draws agree too
    assert rs_g.rand() == rs_s.rand()


def test_global_random_state_advances_like_sklearn(X):
    sk = pytest.importorskip("sklearn.decomposition")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.random.seed(3)
        W_g = NMF(n_components=3, init="nndsvdar").fit_transform(X)
        after_g = np.random.rand(3)
        np.random.seed(3)
        W_s = sk.NMF(n_components=3, init="nndsvdar").fit_transform(X)
        after_s = np.random.rand(3)
    np.testing.assert_array_equal(after_g, after_s)
    np.testing.assert_allclose(W_g, W_s, rtol=1e-6, atol=1e-9)


def test_shuffle_with_random_state_instance(X):
    sk = pytest.importorskip("sklearn.decomposition")
    rs_g, rs_s = np.random.RandomState(5), np.random.RandomState(5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W_g = NMF(n_components=3, shuffle=True, random_state=rs_g).fit_transform(X)
        W_s = sk.NMF(n_components=3, shuffle=True, random_state=rs_s).fit_transform(X)
    np.testing.assert_allclose(W_g, W_s, rtol=1e-6, atol=1e-9)
    assert rs_g.rand() == rs_s.rand()


# ---- concurrency and interruption ---------------------------------------------------------


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_threads_fit_concurrently(X):
    _, W_ref = _fit_w(X)
    results: list[np.ndarray] = [None] * 4  # type: ignore[list-item]

    def work(i):
        results[i] = _fit_w(X)[1]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for W in results:
        np.testing.assert_array_equal(W, W_ref)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="SIGINT")
def test_ctrl_c_interrupts_a_fit(depmap_X):
    model = NMF(n_components=20, tol=0, max_iter=5_000, random_state=0)
    timer = threading.Timer(1.0, os.kill, args=(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(depmap_X)
    finally:
        timer.cancel()
    assert time.monotonic() - start < 30
    assert not hasattr(model, "components_")
    # the library is still usable
    _fit_w(depmap_X[:50, :40])


# ---- processes ----------------------------------------------------------------------------


def test_import_does_not_load_library():
    res = _run_python(
        """
        import gonmf, gonmf.exceptions
        from gonmf import NMF, non_negative_factorization
        m = NMF(n_components=2); repr(m); m.get_params()
        maps = open('/proc/self/maps').read()
        print('loaded-after-import', 'libgonmf' in maps)
        import numpy as np
        NMF(n_components=2, max_iter=5).fit(np.random.RandomState(0).rand(6, 4))
        maps = open('/proc/self/maps').read()
        print('loaded-after-fit', 'libgonmf' in maps)
        """
    )
    assert res.returncode == 0, res.stderr
    assert "loaded-after-import False" in res.stdout
    assert "loaded-after-fit True" in res.stdout


def test_forked_child_gets_runtime_error(X):
    from gonmf import _lib

    model, W = _fit_w(X)  # the library is loaded in this process now
    assert _lib.is_loaded()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
        pid = os.fork()
    if pid == 0:  # child: never touch Go
        code = 10
        try:
            try:
                _lib.check_pid()
            except RuntimeError as exc:
                code = 20 if "fork" in str(exc) and "spawn" in str(exc) else 11
            try:
                NMF(n_components=2).fit(X)
                code += 1
            except RuntimeError:
                code += 2
            # the parent's outputs are dropped without calling into Go
            del model, W
            gc.collect()
            code += 100
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("forked child hung")
        time.sleep(0.02)
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 122
    # the parent is unaffected
    _fit_w(X)


def test_spawn_workers_work(tmp_path):
    """The supported way to use processes: the library loads again in each spawned child."""
    script = tmp_path / "spawn_workers.py"
    script.write_text(
        textwrap.dedent(
            """
            import multiprocessing as mp
            import warnings

            import numpy as np

            from gonmf import NMF


            def work(seed):
                warnings.simplefilter("ignore")
                X = np.random.RandomState(seed).rand(20, 10)
                return NMF(n_components=2, random_state=0).fit(X).n_components_


            if __name__ == "__main__":
                warnings.simplefilter("ignore")
                NMF(n_components=2).fit(np.ones((4, 3)))  # the parent loads the library
                with mp.get_context("spawn").Pool(2) as pool:
                    print("results", pool.map(work, [0, 1]))
            """
        )
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PACKAGE_PARENT, *filter(None, [env.get("PYTHONPATH")])])
    res = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "results [2, 2]" in res.stdout


def test_library_override_and_missing_library():
    res = _run_python(
        """
        import numpy as np, gonmf
        from gonmf.exceptions import GonmfLibraryError
        try:
            gonmf.NMF(n_components=2).fit(np.ones((3, 3)))
        except GonmfLibraryError as exc:
            print('ERR', exc)
        """,
        env_extra={"GONMF_LIBRARY": "/nonexistent/libgonmf.so"},
    )
    assert res.returncode == 0, res.stderr
    assert "ERR" in res.stdout
    assert "/nonexistent/libgonmf.so" in res.stdout


def test_abi_version_mismatch():
    res = _run_python(
        """
        from gonmf import _lib
        _lib.ABI_VERSION = 999
        try:
            _lib.get_lib()
        except RuntimeError as exc:
            print('ERR', exc)
        """
    )
    assert res.returncode == 0, res.stderr
    assert "ERR" in res.stdout
    assert "999" in res.stdout


def test_library_version():
    from gonmf import _lib

    assert isinstance(_lib.library_version(), str)
    assert _lib.library_version()


def test_without_sklearn():
    res = _run_python(
        """
        import sys, warnings
        sys.modules['sklearn'] = None  # import sklearn -> ImportError
        import numpy as np
        import gonmf
        from gonmf import NMF, _base
        from gonmf.exceptions import NotFittedError, ConvergenceWarning, InvalidParameterError
        assert not _base.HAS_SKLEARN
        assert not any('sklearn' in (c.__module__ or '') for c in NMF.__mro__), NMF.__mro__
        assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
        assert issubclass(ConvergenceWarning, UserWarning)
        assert repr(NMF(n_components=5)) == 'NMF(n_components=5)', repr(NMF(n_components=5))
        assert repr(NMF()) == 'NMF()'
        m = NMF(n_components=3, random_state=0)
        assert m.get_params()['n_components'] == 3
        assert m.set_params(max_iter=300) is m and m.max_iter == 300
        try:
            m.transform(np.ones((3, 3)))
        except NotFittedError as e:
            print('notfitted', e)
        try:
            NMF(n_components=0).fit(np.ones((3, 3)))
        except InvalidParameterError as e:
            print('invalid', e)
        X = np.random.RandomState(0).rand(30, 12)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            W = m.fit_transform(X)
            NMF(n_components=2, max_iter=2).fit(X)
        print('warned', any(issubclass(x.category, ConvergenceWarning) for x in w))
        print('shape', W.shape, m.components_.shape, m.get_feature_names_out().tolist())
        W2 = m.fit(X).transform(X)
        print('sklearn-imported', 'sklearn.base' in sys.modules)
        """
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "notfitted This NMF instance is not fitted yet" in out
    assert "invalid The 'n_components' parameter of NMF must be" in out
    assert "warned True" in out
    assert "shape (30, 3) (3, 12) ['nmf0', 'nmf1', 'nmf2']" in out
    assert "sklearn-imported False" in out


def test_verbose_reports_progress_on_sys_stdout(X, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        NMF(n_components=3, max_iter=20, tol=0, verbose=1, random_state=0).fit(X)
        out = capsys.readouterr().out
        # scikit-learn's cd lines: one violation ratio per iteration
        assert out.count("violation:") == 20, out
        assert "gonmf: 20 iterations, not converged" in out

        # also from a worker thread
        t = threading.Thread(target=lambda: NMF(n_components=3, max_iter=5, verbose=1).fit(X))
        t.start()
        t.join()
    assert "gonmf: 5 iterations" in capsys.readouterr().out
