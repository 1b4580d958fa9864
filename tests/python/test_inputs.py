"""Every input kind people hold gives the numpy result, without copying X where it can.

``NMF.fit_info_["copied_input"]`` is the introspection hook: False means the engine read
the caller's memory in place (neither gonmf's Python layer nor the engine copied X).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import gonmf

N, M, K = 48, 30, 4


class ArrayCapsule:
    """Only the Arrow PyCapsule array interface (no pyarrow, numpy or pandas type)."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def __arrow_c_array__(self, requested_schema: Any = None) -> Any:
        return self._obj.__arrow_c_array__(requested_schema)


class StreamCapsule:
    """Only the Arrow PyCapsule stream interface."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self._obj.__arrow_c_stream__(requested_schema)


def _data(dtype: Any = np.float64) -> np.ndarray:
    rng = np.random.RandomState(7)
    return (rng.rand(N, K) @ rng.rand(K, M) + 0.05 * rng.rand(N, M)).astype(dtype)


def _names() -> list[str]:
    return [f"G{j} ({1000 + j})" for j in range(M)]


def _fit(X: Any) -> tuple[gonmf.NMF, np.ndarray]:
    model = gonmf.NMF(n_components=K, random_state=0, max_iter=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = model.fit_transform(X)
    return model, W


# ---- builders: name -> (X, dtype of the reference, copied_input expected) ----------------


def _pandas_consolidated(dtype: Any = np.float64) -> Any:
    pd = pytest.importorskip("pandas")
    # As in the seed notebook: an id column, then `df.drop(columns=[...]) - m`, which
    # leaves one consolidated float block (stored column by column).
    frame = pd.DataFrame(_data(dtype) + 1.0, columns=_names())
    frame.insert(0, "ModelID", [f"ACH-{i:06d}" for i in range(N)])
    return frame.drop(columns=["ModelID"]) - 1.0


def _column_major_table() -> pa.Table:
    F = np.asfortranarray(_data())
    return pa.table({name: F[:, j] for j, name in enumerate(_names())})


def _tensor_rows() -> Any:
    X = _data()
    return pa.FixedShapeTensorArray.from_numpy_ndarray(X)  # N tensors of shape (M,)


def _tensor_one_row_major() -> Any:
    X = _data()
    return pa.FixedShapeTensorArray.from_numpy_ndarray(X.reshape(1, N, M).copy())


def _tensor_one_col_major() -> Any:
    # Physical shape (M, N) with permutation [1, 0]: the logical N x M matrix stored
    # column by column, here the memory of an F-ordered ndarray.
    F = np.asfortranarray(_data())
    tensor_type = pa.fixed_shape_tensor(pa.float64(), (M, N), permutation=[1, 0])
    storage = pa.FixedSizeListArray.from_arrays(pa.array(F.ravel(order="K")), N * M)
    return pa.ExtensionArray.from_storage(tensor_type, storage)


def _fixed_size_list() -> pa.Array:
    X = _data()
    return pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)), M)


def _polars_column_major() -> Any:
    pl = pytest.importorskip("polars")
    F = np.asfortranarray(_data())
    return pl.DataFrame({name: F[:, j] for j, name in enumerate(_names())})


ZERO_COPY: dict[str, tuple[Callable[[], Any], Any]] = {
    "numpy C float64": (lambda: _data(), np.float64),
    "numpy F float64": (lambda: np.asfortranarray(_data()), np.float64),
    "numpy C float32": (lambda: _data(np.float32), np.float32),
    "numpy F float32": (lambda: np.asfortranarray(_data(np.float32)), np.float32),
    "pandas consolidated float64": (_pandas_consolidated, np.float64),
    "pandas consolidated float32": (lambda: _pandas_consolidated(np.float32), np.float32),
    "pandas pyarrow dtypes": (
        lambda: _pandas_consolidated().astype("float64[pyarrow]"),
        np.float64,
    ),
    "pyarrow Table": (_column_major_table, np.float64),
    "pyarrow RecordBatch": (lambda: _column_major_table().to_batches()[0], np.float64),
    "pyarrow ChunkedArray columns (one chunk)": (
        lambda: pa.table(list(_column_major_table().columns), names=_names()),
        np.float64,
    ),
    "pyarrow FixedSizeList": (_fixed_size_list, np.float64),
    "pyarrow ChunkedArray of FixedSizeList": (
        lambda: pa.chunked_array([_fixed_size_list()]),
        np.float64,
    ),
    "fixed_shape_tensor N x (M,)": (_tensor_rows, np.float64),
    "fixed_shape_tensor 1 x (N, M)": (_tensor_one_row_major, np.float64),
    "fixed_shape_tensor 1 x (M, N) permutation [1, 0]": (_tensor_one_col_major, np.float64),
    "polars (columns of an F-ordered array)": (_polars_column_major, np.float64),
    "capsule array: struct": (
        lambda: ArrayCapsule(_column_major_table().to_batches()[0]),
        np.float64,
    ),
    "capsule stream: record batches": (
        lambda: StreamCapsule(_column_major_table()),
        np.float64,
    ),
    "capsule array: fixed_size_list": (lambda: ArrayCapsule(_fixed_size_list()), np.float64),
    "capsule array: fixed_shape_tensor": (
        lambda: ArrayCapsule(_tensor_one_col_major()),
        np.float64,
    ),
}


def _pandas_mixed_float() -> Any:
    frame = _pandas_consolidated()
    return frame.astype({_names()[0]: np.float32})


def _pandas_with_int_column() -> Any:
    frame = _pandas_consolidated()
    frame[_names()[0]] = np.arange(N, dtype=np.int64)
    return frame


def _pandas_two_blocks() -> Any:
    pd = pytest.importorskip("pandas")
    frame = _pandas_consolidated()
    half = M // 2
    return pd.concat([frame.iloc[:, :half], frame.iloc[:, half:].copy()], axis="columns")


def _multi_chunk_table() -> pa.Table:
    table = _column_major_table()
    return pa.concat_tables([table.slice(0, N // 3), table.slice(N // 3)])


def _reversed_columns() -> list[np.ndarray]:
    # The columns of X in memory, last column first: each is contiguous, but they are
    # not in order, so no single matrix views them.
    X = _data()
    G = np.asfortranarray(X[:, ::-1])
    return [G[:, M - 1 - j] for j in range(M)]


def _separate_columns_table() -> pa.Table:
    return pa.table(dict(zip(_names(), _reversed_columns())))


def _polars_separate_columns() -> Any:
    pl = pytest.importorskip("polars")
    return pl.DataFrame(dict(zip(_names(), _reversed_columns())))


COPIED_ONCE: dict[str, Callable[[], Any]] = {
    "numpy strided view": lambda: np.hstack([_data(), _data()])[:, :M],
    "numpy int64": lambda: (_data() * 1000).astype(np.int64),
    "pandas mixed float32/float64 blocks": _pandas_mixed_float,
    "pandas int64 and float64 blocks": _pandas_with_int_column,
    "pandas two float64 blocks": _pandas_two_blocks,
    "pyarrow Table, several chunks": _multi_chunk_table,
    "pyarrow Table, columns out of order in memory": _separate_columns_table,
    "polars, columns out of order in memory": _polars_separate_columns,
    "pyarrow ChunkedArray of FixedSizeList, several chunks": lambda: pa.chunked_array(
        [_fixed_size_list().slice(0, 10), _fixed_size_list().slice(10)]
    ),
}


def _reference(dtype: Any) -> tuple[gonmf.NMF, np.ndarray]:
    return _fit(np.ascontiguousarray(_data(dtype)))


def _assert_same_fit(model: gonmf.NMF, W: np.ndarray, ref: gonmf.NMF, W_ref: np.ndarray) -> None:
    assert W.dtype == W_ref.dtype
    assert model.components_.dtype == W_ref.dtype
    if W_ref.dtype == np.float64:
        tol = {"rtol": 1e-9, "atol": 1e-12}
    else:
        tol = {"rtol": 2e-4, "atol": 1e-5}
    np.testing.assert_allclose(W, W_ref, **tol)
    np.testing.assert_allclose(model.components_, ref.components_, **tol)
    assert model.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("kind", list(ZERO_COPY))
def test_zero_copy_inputs(kind: str) -> None:
    build, dtype = ZERO_COPY[kind]
    X = build()
    model, W = _fit(X)
    ref, W_ref = _reference(dtype)
    _assert_same_fit(model, W, ref, W_ref)
    info = model.fit_info_
    assert info["copied_input"] is False, info
    assert info["dtype"] == np.dtype(dtype).name
    assert info["layout"] in ("row_major", "col_major")


@pytest.mark.parametrize(
    ("kind", "layout"),
    [
        ("numpy C float64", "row_major"),
        ("numpy F float64", "col_major"),
        ("pandas consolidated float64", "col_major"),
        ("pyarrow Table", "col_major"),
        ("pyarrow FixedSizeList", "row_major"),
        ("fixed_shape_tensor 1 x (N, M)", "row_major"),
        ("fixed_shape_tensor 1 x (M, N) permutation [1, 0]", "col_major"),
    ],
)
def test_column_major_data_is_used_in_place(kind: str, layout: str) -> None:
    model, _ = _fit(ZERO_COPY[kind][0]())
    assert model.fit_info_["layout"] == layout


@pytest.mark.parametrize("kind", list(COPIED_ONCE))
def test_inputs_copied_once(kind: str) -> None:
    X = COPIED_ONCE[kind]()
    model, W = _fit(X)
    if kind in ("numpy int64", "pandas int64 and float64 blocks"):
        # Other values: the result is compared with the same values in float64.
        if kind == "numpy int64":
            ref, W_ref = _fit(np.asarray(X, dtype=np.float64))
        else:
            ref, W_ref = _fit(X.to_numpy(dtype=np.float64))
    else:
        ref, W_ref = _reference(np.float64)
    if kind == "pandas mixed float32/float64 blocks":
        # One column went through float32: close to, not equal to, the float64 result.
        np.testing.assert_allclose(W, W_ref, rtol=1e-4, atol=1e-6)
        assert W.dtype == np.float64
    else:
        _assert_same_fit(model, W, ref, W_ref)
    assert model.fit_info_["copied_input"] is True, model.fit_info_


def test_fit_info_is_set_only_by_fit() -> None:
    model = gonmf.NMF(n_components=K, random_state=0, max_iter=60)
    assert not hasattr(model, "fit_info_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(np.asfortranarray(_data()))
        first = dict(model.fit_info_)
        model.transform(_data())  # transform does not touch fit_info_
    assert model.fit_info_ == first
    assert set(first) >= {"copied_input", "layout", "dtype", "n_iter", "n_components"}
    assert first["n_iter"] == model.n_iter_
    assert first["n_components"] == model.n_components_


def test_transform_accepts_every_zero_copy_kind() -> None:
    model, W_ref = _fit(_data())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = model.transform(_data())
        for kind in ("numpy F float64", "pyarrow Table", "fixed_shape_tensor N x (M,)"):
            X = ZERO_COPY[kind][0]()
            np.testing.assert_allclose(model.transform(X), expected, rtol=1e-9, atol=1e-12)


def _frames_with_model_id() -> dict[str, Any]:
    pd = pytest.importorskip("pandas")
    X = _data()
    ids = [f"ACH-{i:06d}" for i in range(N)]
    frame = pd.DataFrame(X, columns=_names())
    frame.insert(0, "ModelID", ids)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    kinds: dict[str, Any] = {
        "pandas": frame,
        "pandas pyarrow dtypes": frame.convert_dtypes(dtype_backend="pyarrow"),
        "pyarrow Table": table,
        "pyarrow RecordBatch": table.to_batches()[0],
        "capsule stream": StreamCapsule(table),
        "capsule array": ArrayCapsule(table.to_batches()[0]),
    }
    try:
        import polars as pl
    except ImportError:
        pass
    else:
        kinds["polars"] = pl.from_pandas(frame)
    return kinds


def test_non_float_column_names_it() -> None:
    for kind, X in _frames_with_model_id().items():
        with pytest.raises(ValueError, match="ModelID") as excinfo:
            _fit(X)
        assert "numeric" in str(excinfo.value), kind


def test_nulls_are_named() -> None:
    table = _column_major_table()
    column = pa.array([None, *_data()[1:, 3].tolist()])
    table = table.set_column(3, _names()[3], column)
    with pytest.raises(ValueError, match=r"NaN.*G3 \(1003\)"):
        _fit(table)


def test_tensor_of_other_shapes_is_refused() -> None:
    cube = pa.FixedShapeTensorArray.from_numpy_ndarray(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="fixed_shape_tensor"):
        _fit(cube)
