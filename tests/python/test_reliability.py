"""Issue #7: no input can take the Python process down.

Every bad input of the table below must reach Python as an exception of the type
scikit-learn raises for the same input (scikit-learn is run on it in the test), never as a
crash or a hang; inputs scikit-learn accepts must fit. After each case the library must
still be alive and give the reference fit bit for bit.

The second half drives the C ABI directly through ctypes on the loaded library with NULL
and released Arrow structs, malformed parameter JSON and bad output structs.
"""

from __future__ import annotations

import ctypes
import datetime
import decimal
import faulthandler
import os
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pytest

import datasets
import gonmf
from gonmf import _lib

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
sk_decomposition = pytest.importorskip("sklearn.decomposition")

PACKAGE_PARENT = str(Path(gonmf.__file__).resolve().parent.parent)

# A hang is a failure too: dump every thread's stack and end the run rather than wait.
HANG_SECONDS = 300


@pytest.fixture(autouse=True)
def _hang_watchdog():
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


# ---- the reference fit ----------------------------------------------------------------------

REF_X = datasets.nonnegative(30, 12, rank=3, seed=7)


def _reference_fit() -> tuple[np.ndarray, np.ndarray, int]:
    model = gonmf.NMF(n_components=3, random_state=0, max_iter=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = model.fit_transform(REF_X)
    return np.array(W), np.array(model.components_), model.n_iter_


@pytest.fixture(scope="module")
def reference() -> tuple[np.ndarray, np.ndarray, int]:
    return _reference_fit()


def assert_library_healthy(reference: tuple[np.ndarray, np.ndarray, int]) -> None:
    """The process is alive and the library still fits the reference exactly."""
    W, H, n_iter = _reference_fit()
    np.testing.assert_array_equal(W, reference[0])
    np.testing.assert_array_equal(H, reference[1])
    assert n_iter == reference[2]
    # and it agrees with scikit-learn, so the reference itself is not broken
    sk = sk_decomposition.NMF(n_components=3, random_state=0, max_iter=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(REF_X)
    np.testing.assert_allclose(H, sk.components_, rtol=1e-6, atol=1e-9)


# ---- the inputs -----------------------------------------------------------------------------

N, M = 12, 6
BASE = datasets.nonnegative(N, M, rank=2, seed=3)
NAMES = [f"g{j}" for j in range(M)]


def _with(value: float, at: tuple[int, int] = (3, 2)) -> np.ndarray:
    a = BASE.copy()
    a[at] = value
    return a


def _containers(a: np.ndarray) -> dict[str, Callable[[], Any]]:
    """The same matrix as each container users pass."""
    names = [f"g{j}" for j in range(a.shape[1])]
    return {
        "ndarray": lambda: a.copy(),
        "fortran": lambda: np.asfortranarray(a),
        "float32": lambda: a.astype(np.float32),
        "pandas": lambda: pd.DataFrame(a, columns=names),
        "arrow": lambda: pa.table({n: a[:, j] for j, n in enumerate(names)}),
        "polars": lambda: pl.DataFrame({n: a[:, j] for j, n in enumerate(names)}),
    }


def _pandas_plus(column: Any, dtype: Any = None) -> Callable[[], Any]:
    def make():
        df = pd.DataFrame(BASE, columns=NAMES)
        df["extra"] = pd.Series(column, dtype=dtype)
        return df

    return make


def _arrow_plus(column: Callable[[], pa.Array]) -> Callable[[], Any]:
    def make():
        return pa.table({**{n: BASE[:, j] for j, n in enumerate(NAMES)}, "extra": column()})

    return make


def _polars_plus(column: Callable[[], Any]) -> Callable[[], Any]:
    def make():
        return pl.DataFrame({n: BASE[:, j] for j, n in enumerate(NAMES)}).with_columns(
            column().alias("extra")
        )

    return make


def _many_chunks() -> pa.Table:
    """Each column in 12 one-row chunks, and one column chunked differently."""
    t = pa.table({n: BASE[:, j] for j, n in enumerate(NAMES)})
    t = pa.concat_tables([t.slice(i, 1) for i in range(N)])
    odd = pa.chunked_array([BASE[:5, 0], BASE[5:, 0]])
    return t.set_column(0, NAMES[0], odd)


def _fsl(a: np.ndarray) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(a.reshape(-1)), a.shape[1])


PADDED = np.vstack([np.full((3, M), 9.0), BASE, np.full((2, M), 7.0)])


@dataclass
class Case:
    id: str
    X: Callable[[], Any]
    params: dict[str, Any] = field(default_factory=dict)
    call: str = "fit"  # fit | transform | nnf | custom | construct | set_params
    W: Callable[[], Any] | None = None
    H: Callable[[], Any] | None = None
    sk_X: Callable[[], Any] | None = None  # scikit-learn's view of X, when it lacks the type
    same_as: Callable[[], np.ndarray] | None = None  # an ndarray that must give the same fit
    # gonmf refuses on purpose what scikit-learn accepts (reason, expected exception type)
    refuses: tuple[str, type[BaseException]] | None = None
    no_sklearn: type[BaseException] | None = None  # expected type, scikit-learn not run
    bug: str | None = None  # a known bug outside this test's reach: strict xfail


def _value_cases() -> list[Case]:
    cases = []
    for value_id, value in [("nan", np.nan), ("+inf", np.inf), ("-inf", -np.inf), ("neg", -1.0)]:
        for cont_id, make in _containers(_with(value)).items():
            cases.append(Case(f"{value_id}-{cont_id}", make))
    zero_rc = BASE.copy()
    zero_rc[4, :] = 0
    zero_rc[:, 1] = 0
    for cont_id, make in _containers(zero_rc).items():
        cases.append(Case(f"zero-row-and-column-{cont_id}", make))
    cases.append(Case("all-zero", lambda: np.zeros((N, M))))
    cases.append(Case("nan-and-negative", lambda: _with(np.nan, (0, 0)) - 2))
    return cases


def _shape_cases() -> list[Case]:
    cases = []
    for cont_id, make in _containers(BASE[:0]).items():
        cases.append(Case(f"0-rows-{cont_id}", make))
    for cont_id, make in _containers(BASE[:, :0]).items():
        if cont_id in ("arrow", "polars"):  # a table of no columns has no rows either
            continue
        cases.append(Case(f"0-cols-{cont_id}", make))
    cases += [
        Case("0-cols-arrow", lambda: pa.table({}), sk_X=lambda: np.zeros((0, 0))),
        Case("0x0", lambda: np.zeros((0, 0))),
        Case("1x1", lambda: np.array([[2.0]]), {"n_components": 1}),
        Case("1x1-auto", lambda: np.array([[2.0]]), {"n_components": "auto"}),
        Case("1x1-zero", lambda: np.array([[0.0]]), {"n_components": 1}),
        Case("1x1-arrow", lambda: pa.table({"a": [2.0]}), {"n_components": 1}),
        Case("1-row", lambda: BASE[:1], {"n_components": 1}),
        Case("1-col", lambda: BASE[:, :1], {"n_components": 1}),
        Case("1d", lambda: BASE[0]),
        Case("3d", lambda: BASE.reshape(2, N // 2, M)),
        Case("scalar", lambda: np.float64(3.0)),
        Case("complex", lambda: BASE.astype(np.complex128)),
        Case("ragged-list", lambda: [[1.0, 2.0], [3.0]]),
        Case("object-none", lambda: np.array([[1.0, None], [2.0, 3.0]], dtype=object)),
        Case("k=0", lambda: BASE, {"n_components": 0}),
        Case("k=-1", lambda: BASE, {"n_components": -1}),
        Case("k=1.5", lambda: BASE, {"n_components": 1.5}),
        Case("k=str", lambda: BASE, {"n_components": "all"}),
        Case("k-numpy-int", lambda: BASE, {"n_components": np.int64(2)}),
        Case("k>min(n,m)", lambda: BASE, {"n_components": 20}),
        Case("k>min(n,m)-nndsvda", lambda: BASE, {"n_components": 20, "init": "nndsvda"}),
        Case("k>min(n,m)-nndsvd", lambda: BASE, {"n_components": 7, "init": "nndsvd"}),
        Case("k>min(n,m)-random", lambda: BASE, {"n_components": 50, "init": "random"}),
        Case("k>min(n,m)-mu", lambda: BASE, {"n_components": 20, "solver": "mu"}),
    ]
    return cases


def _column_cases() -> list[Case]:
    strings = [f"ACH-{i:06d}" for i in range(N)]
    dates = [datetime.date(2020, 1, i + 1) for i in range(N)]
    return [
        # pandas
        Case("pandas-str", _pandas_plus(strings)),
        Case("pandas-numeric-str", _pandas_plus([str(i) for i in range(N)])),
        Case("pandas-bool", _pandas_plus([i % 2 == 0 for i in range(N)])),
        Case("pandas-datetime", _pandas_plus(pd.date_range("2020-01-01", periods=N))),
        Case("pandas-timedelta", _pandas_plus(pd.timedelta_range("1D", periods=N))),
        Case("pandas-decimal", _pandas_plus([decimal.Decimal(i) / 4 for i in range(N)])),
        Case("pandas-list", _pandas_plus([[i, i] for i in range(N)])),
        Case("pandas-dict", _pandas_plus([{"a": i} for i in range(N)])),
        Case("pandas-category", _pandas_plus(["a", "b"] * (N // 2), dtype="category")),
        Case("pandas-int", _pandas_plus(range(N))),
        Case("pandas-uint8", _pandas_plus(range(N), dtype=np.uint8)),
        Case("pandas-null-float", _pandas_plus([None, *range(1, N)], dtype=float)),
        Case("pandas-null-Int64", _pandas_plus([None, *range(1, N)], dtype="Int64")),
        Case("pandas-null-arrow", _pandas_plus([None, *range(1, N)], dtype="float64[pyarrow]")),
        Case("pandas-all-int", lambda: pd.DataFrame((BASE * 10).astype(np.int64), columns=NAMES)),
        # Arrow
        Case("arrow-str", _arrow_plus(lambda: pa.array(strings))),
        Case("arrow-large-str", _arrow_plus(lambda: pa.array(strings, pa.large_string()))),
        Case("arrow-dictionary", _arrow_plus(lambda: pa.array(strings).dictionary_encode())),
        Case("arrow-bool", _arrow_plus(lambda: pa.array([i % 2 == 0 for i in range(N)]))),
        Case(
            "arrow-date",
            _arrow_plus(lambda: pa.array(dates)),
            refuses=("scikit-learn turns dates into day numbers", ValueError),
        ),
        Case(
            "arrow-timestamp",
            _arrow_plus(lambda: pa.array(pd.date_range("2020-01-01", periods=N).to_numpy())),
            refuses=("scikit-learn turns timestamps into numbers", ValueError),
        ),
        Case(
            "arrow-decimal",
            _arrow_plus(lambda: pa.array([decimal.Decimal(i) / 4 for i in range(N)])),
        ),
        Case("arrow-list", _arrow_plus(lambda: pa.array([[float(i)] for i in range(N)]))),
        Case("arrow-struct", _arrow_plus(lambda: pa.array([{"a": float(i)} for i in range(N)]))),
        Case("arrow-null-type", _arrow_plus(lambda: pa.nulls(N))),
        Case("arrow-null-float", _arrow_plus(lambda: pa.array([None, *map(float, range(1, N))]))),
        Case("arrow-null-int", _arrow_plus(lambda: pa.array([None, *range(1, N)]))),
        Case("arrow-int", _arrow_plus(lambda: pa.array(range(N)))),
        Case("arrow-uint64", _arrow_plus(lambda: pa.array(range(N), pa.uint64()))),
        Case("arrow-float16", _arrow_plus(lambda: pa.array(np.arange(N, dtype=np.float16)))),
        # polars
        Case("polars-str", _polars_plus(lambda: pl.Series(strings))),
        Case("polars-bool", _polars_plus(lambda: pl.Series([i % 2 == 0 for i in range(N)]))),
        Case(
            "polars-date",
            _polars_plus(lambda: pl.Series(dates)),
            refuses=("scikit-learn turns dates into day numbers", ValueError),
        ),
        Case("polars-list", _polars_plus(lambda: pl.Series([[float(i)] for i in range(N)]))),
        Case("polars-struct", _polars_plus(lambda: pl.Series([{"a": float(i)} for i in range(N)]))),
        Case("polars-null", _polars_plus(lambda: pl.Series([None, *map(float, range(1, N))]))),
        Case("polars-int", _polars_plus(lambda: pl.Series(range(N)))),
    ]


def _layout_cases() -> list[Case]:
    sliced = pa.table({n: PADDED[:, j] for j, n in enumerate(NAMES)}).slice(3, N)
    return [
        Case("integer-ndarray", lambda: (BASE * 100).astype(np.int64)),
        Case("bool-ndarray", lambda: BASE > 0.5),
        Case("chunked-table", _many_chunks, same_as=lambda: BASE),
        Case(
            "chunked-fixed-size-list",
            lambda: pa.chunked_array([_fsl(BASE[i : i + 1]) for i in range(N)]),
            sk_X=lambda: BASE,
            same_as=lambda: BASE,
        ),
        Case("sliced-table", lambda: sliced, same_as=lambda: BASE),
        Case("sliced-batch", lambda: sliced.to_batches()[0], same_as=lambda: BASE),
        Case(
            "sliced-fixed-size-list",
            lambda: _fsl(PADDED).slice(3, N),
            sk_X=lambda: BASE,
            same_as=lambda: BASE,
        ),
        Case("sliced-polars", lambda: pl.DataFrame(PADDED).slice(3, N), same_as=lambda: BASE),
        Case("strided-ndarray", lambda: PADDED[3 : 3 + N], same_as=lambda: BASE),
        Case("step-sliced-ndarray", lambda: np.repeat(BASE, 2, axis=0)[::2], same_as=lambda: BASE),
        Case("transposed-view", lambda: np.ascontiguousarray(BASE.T).T, same_as=lambda: BASE),
        Case("big-endian", lambda: BASE.astype(">f8"), same_as=lambda: BASE),
    ]


def _call_cases() -> list[Case]:
    ok_w = lambda: np.full((N, 2), 0.5)  # noqa: E731
    ok_h = lambda: np.full((2, M), 0.5)  # noqa: E731
    return [
        # transform with input that does not match the fit
        Case("transform-fewer-features", lambda: BASE[:, :4], call="transform"),
        Case("transform-more-features", lambda: np.hstack([BASE, BASE]), call="transform"),
        Case("transform-float32", lambda: BASE.astype(np.float32), call="transform"),
        Case("transform-nan", lambda: _with(np.nan), call="transform"),
        Case("transform-negative", lambda: _with(-1.0), call="transform"),
        Case("transform-0-rows", lambda: BASE[:0], call="transform"),
        Case(
            "transform-string-column", _pandas_plus([f"s{i}" for i in range(N)]), call="transform"
        ),
        Case(
            "transform-renamed-columns",
            lambda: pd.DataFrame(BASE, columns=[f"x{j}" for j in range(M)]),
            call="transform",
        ),
        # custom W and H
        Case("custom-W-rows", lambda: BASE, call="custom", W=lambda: ok_w()[:-1], H=ok_h),
        Case("custom-H-cols", lambda: BASE, call="custom", W=ok_w, H=lambda: ok_h()[:, :-1]),
        Case("custom-k-mismatch", lambda: BASE, call="custom", W=lambda: np.ones((N, 3)), H=ok_h),
        Case("custom-W-negative", lambda: BASE, call="custom", W=lambda: -ok_w(), H=ok_h),
        Case(
            "custom-H-nan",
            lambda: BASE,
            call="custom",
            W=ok_w,
            H=lambda: ok_h() * np.nan,
            refuses=("scikit-learn returns all-NaN W and H", ValueError),
        ),
        Case(
            "custom-H-inf",
            lambda: BASE,
            call="custom",
            W=ok_w,
            H=lambda: ok_h() * np.inf,
            refuses=("scikit-learn returns all-NaN W and H", ValueError),
        ),
        Case("custom-H-zero", lambda: BASE, call="custom", W=ok_w, H=lambda: 0 * ok_h()),
        Case("custom-H-1d", lambda: BASE, call="custom", W=ok_w, H=lambda: ok_h()[0]),
        Case("custom-H-missing", lambda: BASE, call="custom", W=ok_w),
        Case("custom-W-missing", lambda: BASE, call="custom", H=ok_h),
        Case(
            "custom-dtype-mismatch",
            lambda: BASE,
            call="custom",
            W=lambda: ok_w().astype(np.float32),
            H=ok_h,
        ),
        Case("custom-H-str", lambda: BASE, call="custom", W=ok_w, H=lambda: ok_h().astype(str)),
        Case("custom-ok", lambda: BASE, call="custom", W=ok_w, H=ok_h),
        Case("nnf-update_H-false-no-H", lambda: BASE, {"update_H": False}, call="nnf"),
        Case(
            "nnf-update_H-str",
            lambda: BASE,
            {"update_H": "yes"},
            call="nnf",
            H=ok_h,
        ),
        Case("nnf-H-wrong-shape", lambda: BASE, {"update_H": False}, call="nnf", H=ok_w),
        Case("nnf-ok", lambda: BASE, {"update_H": False}, call="nnf", H=ok_h),
    ]


def _param_cases() -> list[Case]:
    bad = [
        ("max_iter", 0),
        ("max_iter", -1),
        ("max_iter", 2.5),
        ("max_iter", None),
        ("tol", -1e-4),
        ("tol", float("nan")),
        ("tol", "small"),
        ("solver", "als"),
        ("solver", None),
        ("init", "svd"),
        ("init", 3),
        ("beta_loss", "kl"),
        ("beta_loss", None),
        ("beta_loss", 1.0),  # valid, but not with solver='cd'
        ("alpha_W", -1.0),
        ("alpha_W", "x"),
        ("alpha_H", "different"),
        ("l1_ratio", 1.5),
        ("l1_ratio", float("nan")),
        ("shuffle", "yes"),
        ("verbose", -1),
        ("random_state", -1),
        ("random_state", 2**32),
        ("random_state", "seed"),
        ("random_state", np.random.default_rng(0)),
    ]
    cases = [Case(f"{name}={value!r}", lambda: BASE, {name: value}) for name, value in bad]
    cases += [
        Case("unknown-param-constructor", lambda: BASE, {"n_component": 2}, call="construct"),
        Case("unknown-param-set_params", lambda: BASE, {"n_component": 2}, call="set_params"),
        Case("set_params-then-bad-value", lambda: BASE, {"max_iter": -5}, call="set_params"),
        Case("max_iter=1", lambda: BASE, {"max_iter": 1}),
        Case("tol=0", lambda: BASE, {"tol": 0.0, "max_iter": 5}),
        Case("tol=inf", lambda: BASE, {"tol": float("inf")}),
    ]
    return cases


CASES = _value_cases() + _shape_cases() + _column_cases() + _layout_cases() + _call_cases()
CASES += _param_cases()


# ---- running a case -------------------------------------------------------------------------


@dataclass
class Outcome:
    exc: BaseException | None = None
    W: np.ndarray | None = None
    H: np.ndarray | None = None


def _run(case: Case, NMF: Any, nnf: Any, X: Any) -> Outcome:
    params = {"n_components": 2, "random_state": 0, "max_iter": 200, **case.params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence, feature names, ignored W/H
        try:
            if case.call == "construct":
                NMF(**params)
                return Outcome()
            if case.call == "set_params":
                model = NMF(n_components=2, random_state=0)
                model.set_params(**case.params)
                model.fit(X)
                return Outcome(H=np.array(model.components_))
            if case.call == "nnf":
                kw = {k: v for k, v in params.items() if k != "update_H"}
                H = case.H() if case.H else None
                W, H, _ = nnf(X, H=H, update_H=case.params.get("update_H", True), **kw)
                return Outcome(W=np.array(W), H=np.array(H))
            model = NMF(**params)
            if case.call == "transform":
                model.fit(pd.DataFrame(BASE, columns=NAMES) if _is_frame(X) else BASE)
                return Outcome(W=np.array(model.transform(X)))
            if case.call == "custom":
                model.set_params(init="custom")
                W = model.fit_transform(
                    X,
                    W=case.W() if case.W else None,
                    H=case.H() if case.H else None,
                )
            else:
                W = model.fit_transform(X)
            return Outcome(W=np.array(W), H=np.array(model.components_))
        except Exception as exc:
            return Outcome(exc=exc)


def _is_frame(X: Any) -> bool:
    return isinstance(X, pd.DataFrame)


def _builtin_kinds(exc: BaseException) -> set[type]:
    """The builtin exception classes an ``except`` clause would catch it by."""
    kinds = (ValueError, TypeError, MemoryError, RuntimeError, AttributeError, KeyError)
    return {k for k in kinds if isinstance(exc, k)}


def _params(cases: list[Any]) -> list[Any]:
    return [
        pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.bug)])
        if getattr(c, "bug", None)
        else pytest.param(c, id=c.id)
        for c in cases
    ]


@pytest.mark.parametrize("case", _params(CASES))
def test_bad_input_raises_like_sklearn(case: Case, reference) -> None:
    got = _run(case, gonmf.NMF, gonmf.non_negative_factorization, case.X())
    if got.exc is not None:
        assert str(got.exc), "an empty error message"
        assert "internal error" not in str(got.exc), got.exc
        assert not isinstance(got.exc, _lib.GonmfLibraryError), got.exc

    if case.no_sklearn is not None:
        assert isinstance(got.exc, case.no_sklearn), got.exc
    else:
        sk_X = case.sk_X() if case.sk_X else case.X()
        expected = _run(
            case,
            sk_decomposition.NMF,
            sk_decomposition.non_negative_factorization,
            sk_X,
        )
        if case.refuses is not None:
            reason, exc_type = case.refuses
            assert expected.exc is None, f"scikit-learn refuses it now: {expected.exc!r}"
            assert isinstance(got.exc, exc_type), f"gonmf should refuse ({reason}): {got.exc!r}"
        elif expected.exc is not None:
            assert got.exc is not None, (
                f"gonmf accepted what scikit-learn refuses: {expected.exc!r}"
            )
            want, have = _builtin_kinds(expected.exc), _builtin_kinds(got.exc)
            assert want <= have, (
                f"scikit-learn raises {type(expected.exc).__name__} "
                f"({sorted(k.__name__ for k in want)}): {expected.exc}\n"
                f"gonmf raises {type(got.exc).__name__}: {got.exc}"
            )
        else:
            assert got.exc is None, f"gonmf refused what scikit-learn fits: {got.exc!r}"
            _compare_fits(case, got, expected)

    assert_library_healthy(reference)


def _compare_fits(case: Case, got: Outcome, expected: Outcome) -> None:
    for mine, theirs in ((got.W, expected.W), (got.H, expected.H)):
        if theirs is None:
            continue
        assert mine is not None
        assert mine.shape == theirs.shape
        assert np.isfinite(mine).all()
        assert (mine >= 0).all()
    if case.same_as is not None:
        want = _run(case, gonmf.NMF, gonmf.non_negative_factorization, case.same_as())
        assert want.exc is None
        np.testing.assert_allclose(got.W, want.W, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got.H, want.H, rtol=1e-9, atol=1e-12)


# ---- the C ABI, through ctypes --------------------------------------------------------------

ArrowSchema, ArrowArray = _lib.ArrowSchema, _lib.ArrowArray
GOOD_PARAMS = b'{"n_components": 2, "random_state": 0}'


def _export(obj: Any) -> tuple[ArrowSchema, ArrowArray]:
    schema, array = ArrowSchema(), ArrowArray()
    obj._export_to_c(ctypes.addressof(array), ctypes.addressof(schema))
    return schema, array


def _x() -> tuple[ArrowSchema, ArrowArray]:
    return _export(pa.FixedSizeListArray.from_arrays(pa.array(BASE.reshape(-1)), M))


def _released(which: str) -> tuple[ArrowSchema, ArrowArray]:
    schema, array = _x()
    if "schema" in which:
        _lib.release_schema(schema)
    if "array" in which:
        _lib.release_array(array)
    return schema, array


@dataclass
class AbiCase:
    id: str
    x: Callable[[], tuple[Any, Any]] = _x
    w: Callable[[], tuple[Any, Any]] | None = None
    h: Callable[[], tuple[Any, Any]] | None = None
    params: bytes | None = GOOD_PARAMS
    out_w: str = "zero"  # zero | null | half | set
    out_h: str = "zero"
    strings: bool = True  # pass out_info_json / out_error
    status: int = _lib.GONMF_ERR_VALUE


def _custom(params: bytes = b'{"n_components": 2, "init": "custom"}') -> bytes:
    return params


ABI_CASES = [
    AbiCase("ok", status=_lib.GONMF_OK),
    AbiCase("ok-no-H-out", out_h="null", status=_lib.GONMF_OK),
    AbiCase("ok-no-strings", strings=False, status=_lib.GONMF_OK),
    AbiCase("ok-null-params", params=None, status=_lib.GONMF_OK),
    AbiCase("x-null", x=lambda: (None, None)),
    AbiCase("x-null-schema", x=lambda: (None, _x()[1])),
    AbiCase("x-null-array", x=lambda: (_x()[0], None)),
    AbiCase("x-released-array", x=lambda: _released("array")),
    AbiCase("x-released-schema", x=lambda: _released("schema")),
    AbiCase("x-released-both", x=lambda: _released("schema+array")),
    AbiCase("x-zeroed", x=lambda: (ArrowSchema(), ArrowArray())),
    AbiCase("x-released-no-strings", x=lambda: _released("array"), strings=False),
    AbiCase("x-string-column", x=lambda: _export(pa.record_batch({"s": ["a", "b"]}))),
    AbiCase("x-nested-struct", x=lambda: _export(pa.record_batch({"s": [{"a": 1.0}]}))),
    AbiCase("x-plain-float-array", x=lambda: _export(pa.array([1.0, 2.0]))),
    AbiCase("out-w-null", out_w="null"),
    AbiCase("out-w-half-null", out_w="half"),
    AbiCase("out-h-half-null", out_h="half"),
    AbiCase("out-w-not-zeroed", out_w="set"),
    AbiCase("custom-W-released", params=_custom(), w=lambda: _released("array"), h=_x),
    AbiCase("custom-H-null", params=_custom(), w=_x, h=lambda: (None, None)),
    AbiCase(
        "update_H-false-H-released", params=b'{"update_H": false}', h=lambda: _released("schema")
    ),
    *(
        AbiCase(f"params-{p!r}", params=p)
        for p in [
            b"",
            b"{",
            b"null",
            b"[]",
            b"42",
            b'"text"',
            b"\xff\xfe",
            b'{"n_components": "x"}',
            b'{"n_components": 0}',
            b'{"n_components": -3}',
            b'{"n_components": 1e300}',
            b'{"n_components": 1.5}',
            b'{"max_iter": 0}',
            b'{"tol": -1}',
            b'{"tol": "NaN"}',
            b'{"bogus": 1}',
            b'{"N_COMPONENTS": 2}',
            b'{"solver": null}',
            b'{"random_state": -1}',
            b'{"random_state": {"keys": [1]}}',
            b'{"random_state": {"keys": [], "pos": 0}}',
            b'{"n_components": 2}' + b" " * 10 + b"trailing",
            b'{"n_components": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        ]
    ),
]


class _NotOurs:
    """A release callback the library must never call (on an output it does not own)."""

    def __init__(self) -> None:
        self.calls = 0
        self.schema = _lib.SCHEMA_RELEASE(self._schema)
        self.array = _lib.ARRAY_RELEASE(self._array)

    def _schema(self, _ptr: Any) -> None:
        self.calls += 1

    def _array(self, _ptr: Any) -> None:
        self.calls += 1


def _out_pair(kind: str, trap: _NotOurs) -> tuple[Any, Any]:
    if kind == "null":
        return None, None
    if kind == "half":
        return ArrowSchema(), None
    schema, array = ArrowSchema(), ArrowArray()
    if kind == "set":
        schema.release, array.release = trap.schema, trap.array
    return schema, array


def _ref(obj: Any) -> Any:
    return ctypes.byref(obj) if obj is not None else None


@pytest.mark.parametrize("case", ABI_CASES, ids=[c.id for c in ABI_CASES])
def test_c_abi_rejects_bad_structs(case: AbiCase, reference) -> None:
    lib = _lib.get_lib()
    trap = _NotOurs()
    inputs = {"x": case.x(), "w": case.w() if case.w else (None, None)}
    inputs["h"] = case.h() if case.h else (None, None)
    out_w = _out_pair(case.out_w, trap)
    out_h = _out_pair(case.out_h, trap)
    info, err = ctypes.c_void_p(), ctypes.c_void_p()
    control = _lib.GonmfControl()
    status = lib.gonmf_fit(
        *(_ref(s) for pair in inputs.values() for s in pair),
        case.params,
        ctypes.byref(control),
        _ref(out_w[0]),
        _ref(out_w[1]),
        _ref(out_h[0]),
        _ref(out_h[1]),
        ctypes.byref(info) if case.strings else None,
        ctypes.byref(err) if case.strings else None,
    )
    info_text = _lib.take_string(lib, info)
    err_text = _lib.take_string(lib, err)
    try:
        assert status == case.status, err_text
        # every non-NULL input was moved in: released, also on error paths
        for name, (schema, array) in inputs.items():
            for struct in (schema, array):
                assert struct is None or not struct.release, f"input {name} was not released"
        assert trap.calls == 0, "the library released an output struct it does not own"
        if status == _lib.GONMF_OK:
            assert err_text is None
            assert info_text is None if not case.strings else '"n_iter"' in info_text
            assert out_w[1].release
            assert out_w[1].length == N
        else:
            assert info_text is None
            if case.strings:
                assert err_text
                assert "internal error" not in err_text
            for pair in (out_w, out_h):  # written only on success
                for struct in pair:
                    assert struct is None or case.out_w == "set" or not struct.release
            exc = _lib.status_to_exception(status, err_text)
            assert isinstance(exc, (ValueError, TypeError))
    finally:
        for schema, array in (out_w, out_h):
            if case.out_w == "set" or case.out_h == "set":
                continue  # holds the trap, not memory of the library
            if array is not None:
                _lib.release_array(array)
            if schema is not None:
                _lib.release_schema(schema)
        for schema, array in inputs.values():  # a non-conforming library must not leak
            if array is not None:
                _lib.release_array(array)
            if schema is not None:
                _lib.release_schema(schema)
    assert_library_healthy(reference)


# ---- memory ---------------------------------------------------------------------------------

_OOM_SCRIPT = """
import resource, warnings
import numpy as np
from gonmf import NMF

warnings.simplefilter("ignore")
X = np.random.RandomState(0).rand(1000, 1000)
ref = NMF(n_components=3, random_state=0, max_iter=50).fit(X[:40, :30]).components_.copy()
# Cap the address space a little above what the process uses now: W alone
# (1000 x k float64) is then more than the process may map.
with open("/proc/self/status") as f:
    vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
cap = vm + 1536 * 2**20
_, hard = resource.getrlimit(resource.RLIMIT_AS)
# Lower only the soft limit, so it can be raised again below.
resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
for k in (300_000, 2_000_000, 10**9):
    try:
        NMF(n_components=k, random_state=0, max_iter=1).fit(X)
    except MemoryError as exc:
        print("MemoryError", k, str(exc).splitlines()[0])
    else:
        print("fitted", k)
resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
H = NMF(n_components=3, random_state=0, max_iter=50).fit(X[:40, :30]).components_
print("alive", bool(np.array_equal(H, ref)))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc")
def test_allocation_failure_is_memory_error():
    """W and H are malloc'ed: a fit too large for the address space is a MemoryError.

    What cannot be caught: the Go runtime's own out-of-memory ('fatal error: runtime: out
    of memory', Go heap allocations in the engine) ends the process.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PACKAGE_PARENT, *filter(None, [env.get("PYTHONPATH")])])
    env["GOMAXPROCS"] = "2"
    res = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_OOM_SCRIPT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=HANG_SECONDS,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    for k in (300_000, 2_000_000, 10**9):
        assert f"MemoryError {k} Unable to allocate" in res.stdout, res.stdout
    assert "alive True" in res.stdout, res.stdout
