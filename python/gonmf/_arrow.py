"""Moving matrices between Python objects and Arrow C Data Interface structs.

Inputs are described to the library without copying whenever the memory already has a
layout the engine reads in place:

- a C-contiguous 2-D ndarray becomes a ``fixed_size_list<float>[n_features]`` array of
  ``n_samples`` rows that wraps the ndarray's buffer (row-major);
- an F-contiguous ndarray (and a pandas DataFrame, whose float block is stored column by
  column) becomes a struct (record batch) of ``n_features`` columns whose buffers are the
  adjacent columns of the array (column-major); the engine notices they are adjacent;
- a pyarrow Table / RecordBatch (and a polars DataFrame) goes as a record batch.

Anything else is converted once (``np.ascontiguousarray``, casts of integer or boolean data
to float64 as scikit-learn does).

Outputs (W and H) come back as ``fixed_size_list<float>[k]`` arrays in malloc'ed memory.
They are exposed as writable ndarrays that view that memory; it is released (through the
array's release callback) when the last ndarray referring to it is garbage collected.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from . import _lib
from ._lib import ArrowArray, ArrowSchema

__all__ = [
    "PreparedMatrix",
    "export_to_c",
    "get_feature_names",
    "import_matrix",
    "prepare_matrix",
    "to_fixed_size_list",
]

_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


@dataclass
class PreparedMatrix:
    """A validated 2-D float input, ready to be exported through the C Data Interface."""

    obj: Any  # pa.Array (fixed_size_list, row-major) or pa.RecordBatch (column-major)
    n_samples: int
    n_features: int
    dtype: np.dtype
    layout: str  # "row" or "column"
    keepalive: list[Any] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_samples, self.n_features)


# ---- feature names ----------------------------------------------------------------------


def _module_type(name: str, attr: str) -> type | None:
    mod = sys.modules.get(name)
    return getattr(mod, attr, None) if mod is not None else None


def _is_pandas_frame(X: Any) -> bool:
    t = _module_type("pandas", "DataFrame")
    return t is not None and isinstance(X, t)


def _is_polars_frame(X: Any) -> bool:
    t = _module_type("polars", "DataFrame")
    return t is not None and isinstance(X, t)


def _column_names(X: Any) -> list[Any] | None:
    if _is_pandas_frame(X) or _is_polars_frame(X):
        return list(X.columns)
    if isinstance(X, (pa.Table, pa.RecordBatch)):
        return list(X.schema.names)
    return None


def get_feature_names(X: Any) -> np.ndarray | None:
    """Feature names of a data frame, with scikit-learn's rules.

    Names are returned only when all of them are strings; a mix of strings and other
    types is a TypeError; anything that is not a data frame has no names.
    """
    names = _column_names(X)
    if not names:
        return None
    types = sorted({type(v).__qualname__ for v in names})
    if len(types) > 1 and "str" in types:
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {types} as feature name / column name types. "
            "If you want feature names to be stored and validated, you must convert "
            "them all to strings, by using X.columns = X.columns.astype(str) for "
            "example. Otherwise you can remove feature / column names from your input "
            "data, or convert them all to a non-string data type."
        )
    if types == ["str"]:
        return np.asarray(names, dtype=object)
    return None


# ---- inputs -----------------------------------------------------------------------------


def _check_shape(n_samples: int, n_features: int, whom: str) -> None:
    shape = (n_samples, n_features)
    if n_samples < 1:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={shape}) while a minimum of 1 "
            f"is required by {whom}."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with {n_features} feature(s) (shape={shape}) while a minimum of 1 "
            f"is required by {whom}."
        )


def _as_float_ndarray(a: np.ndarray, *, allow_float32: bool = True) -> np.ndarray:
    """Convert an ndarray to float64 (or keep float32), like check_array's dtype list."""
    if a.dtype.kind == "c":
        raise ValueError(f"Complex data not supported\n{a}\n")
    if a.dtype in _FLOAT_DTYPES and (allow_float32 or a.dtype == np.float64):
        if a.dtype.isnative:
            return a
        return a.astype(a.dtype.newbyteorder("="))
    if a.dtype.kind in "fiub" or a.dtype.kind == "O":
        # numpy's own errors, as scikit-learn lets them through: ValueError for strings
        # that are no numbers, TypeError for objects that are neither.
        return a.astype(np.float64)
    raise ValueError(
        f"Input has dtype {a.dtype}, which cannot be used as numeric data: NMF needs "
        "float, integer or boolean values"
    )


def _check_2d(a: np.ndarray) -> None:
    if a.ndim == 2:
        return
    if a.ndim < 2:
        raise ValueError(
            f"Expected 2D array, got {'scalar' if a.ndim == 0 else '1D'} array instead:\n"
            f"array={a}.\nReshape your data either using array.reshape(-1, 1) if your data "
            "has a single feature or array.reshape(1, -1) if it contains a single sample."
        )
    raise ValueError(f"Found array with dim {a.ndim}, while dim <= 2 is required by NMF.")


def to_fixed_size_list(a: np.ndarray) -> pa.Array:
    """Wrap a C-contiguous 2-D float ndarray as fixed_size_list rows, without copying."""
    a = np.ascontiguousarray(a)
    values = pa.array(a.reshape(-1), type=pa.from_numpy_dtype(a.dtype))
    return pa.FixedSizeListArray.from_arrays(values, a.shape[1])


def _prepare_ndarray(a: np.ndarray, whom: str) -> PreparedMatrix:
    _check_2d(a)
    a = _as_float_ndarray(a)
    n, m = a.shape
    _check_shape(n, m, whom)
    if not a.flags.c_contiguous and a.flags.f_contiguous:
        # Column j is a contiguous run, and the columns follow each other: a column-major
        # matrix. Each pa.array() below wraps one column in place.
        dtype = pa.from_numpy_dtype(a.dtype)
        cols = [pa.array(a[:, j], type=dtype) for j in range(m)]
        batch = pa.RecordBatch.from_arrays(cols, names=[str(j) for j in range(m)])
        return PreparedMatrix(batch, n, m, a.dtype, "column", [a])
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return PreparedMatrix(to_fixed_size_list(a), n, m, a.dtype, "row", [a])


_NUMERIC_ARROW = (
    pa.types.is_floating,
    pa.types.is_integer,
    pa.types.is_boolean,
    pa.types.is_decimal,
)


def _prepare_batch(batch: pa.RecordBatch, whom: str) -> PreparedMatrix:
    n, m = batch.num_rows, batch.num_columns
    _check_shape(n, m, whom)
    names = batch.schema.names
    bad = [
        f"{name!r} ({col.type})"
        for name, col in zip(names, batch.columns)
        if not any(pred(col.type) for pred in _NUMERIC_ARROW)
    ]
    if bad:
        shown = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise ValueError(
            f"NMF needs numeric data, but column{'s' if len(bad) > 1 else ''} {shown} "
            f"{'are' if len(bad) > 1 else 'is'} not numeric"
        )
    nulls = [name for name, col in zip(names, batch.columns) if col.null_count > 0]
    if nulls:
        shown = ", ".join(repr(s) for s in nulls[:5]) + (", ..." if len(nulls) > 5 else "")
        raise ValueError(
            "Input X contains NaN.\nNMF does not accept missing values encoded as NaN "
            f"natively (missing values in column {shown}). Impute or drop them first."
        )
    all_f32 = all(pa.types.is_float32(col.type) for col in batch.columns)
    target = pa.float32() if all_f32 else pa.float64()
    cols = list(batch.columns)
    cast = False
    for j, col in enumerate(cols):
        if col.type != target:
            cols[j] = col.cast(target)
            cast = True
    if cast:
        batch = pa.RecordBatch.from_arrays(cols, names=names)
    dtype = np.dtype(np.float32) if all_f32 else np.dtype(np.float64)
    return PreparedMatrix(batch, n, m, dtype, "column", [batch])


def _table_to_batch(table: pa.Table) -> pa.RecordBatch:
    if table.num_rows == 0:
        return pa.RecordBatch.from_arrays(
            [pa.array([], type=f.type) for f in table.schema], schema=table.schema
        )
    batches = table.combine_chunks().to_batches()
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _prepare_pandas(df: Any, whom: str) -> PreparedMatrix:
    dtypes = list(df.dtypes)
    if dtypes and all(isinstance(d, np.dtype) for d in dtypes):
        uniq = set(dtypes)
        if len(uniq) == 1 and next(iter(uniq)) in _FLOAT_DTYPES:
            # One float dtype: a single block, whose to_numpy() is a view (C- or
            # F-contiguous); the ndarray path then passes it without copying.
            return _prepare_ndarray(df.to_numpy(copy=False), whom)
    bad = []
    for name, d in zip(df.columns, dtypes):
        kind = getattr(d, "kind", "O")
        if kind not in "fiub":
            bad.append(f"{name!r} ({d})")
    if bad:
        shown = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise ValueError(
            f"NMF needs numeric data, but column{'s' if len(bad) > 1 else ''} {shown} "
            f"{'are' if len(bad) > 1 else 'is'} not numeric"
        )
    try:
        batch = pa.RecordBatch.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError):
        # e.g. duplicate column names: fall back to one conversion through numpy.
        return _prepare_ndarray(np.asarray(df, dtype=np.float64), whom)
    return _prepare_batch(batch, whom)


def prepare_matrix(X: Any, whom: str = "NMF") -> PreparedMatrix:
    """Validate X's container and dtype and describe it for the C Data Interface.

    Values (negative entries, NaN, infinity) are checked by the engine, which reads
    the data anyway; null entries of Arrow data are rejected here.
    """
    if isinstance(X, PreparedMatrix):
        return X
    if _is_pandas_frame(X):
        return _prepare_pandas(X, whom)
    if _is_polars_frame(X):
        return _prepare_batch(_table_to_batch(X.to_arrow()), whom)
    if isinstance(X, pa.Table):
        return _prepare_batch(_table_to_batch(X), whom)
    if isinstance(X, pa.RecordBatch):
        return _prepare_batch(X, whom)
    if isinstance(X, pa.ChunkedArray) and pa.types.is_fixed_size_list(X.type):
        X = X.combine_chunks()
    if isinstance(X, pa.FixedSizeListArray):
        return _prepare_fixed_size_list(X, whom)
    if isinstance(X, np.ndarray):
        return _prepare_ndarray(X, whom)
    if hasattr(X, "toarray") and _is_sparse(X):
        # No sparse engine: densify once (scikit-learn would keep it sparse).
        return _prepare_ndarray(X.toarray(), whom)
    if hasattr(X, "__arrow_c_stream__") and not hasattr(X, "__array__"):
        return _prepare_batch(_table_to_batch(pa.table(X)), whom)
    return _prepare_ndarray(np.asarray(X), whom)


def _is_sparse(X: Any) -> bool:
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(X)


def _prepare_fixed_size_list(arr: pa.FixedSizeListArray, whom: str) -> PreparedMatrix:
    value_type = arr.type.value_type
    n, m = len(arr), arr.type.list_size
    _check_shape(n, m, whom)
    if arr.null_count or arr.flatten().null_count:
        raise ValueError("Input X contains NaN (null entries).")
    if pa.types.is_float32(value_type) or pa.types.is_float64(value_type):
        dtype = np.dtype(np.float32 if pa.types.is_float32(value_type) else np.float64)
        return PreparedMatrix(arr, n, m, dtype, "row", [arr])
    if not any(pred(value_type) for pred in _NUMERIC_ARROW):
        raise ValueError(f"NMF needs numeric data, but the list values are {value_type}")
    values = arr.flatten().cast(pa.float64())
    arr = pa.FixedSizeListArray.from_arrays(values, m)
    return PreparedMatrix(arr, n, m, np.dtype(np.float64), "row", [arr])


def export_to_c(obj: Any) -> tuple[ArrowSchema, ArrowArray]:
    """Export a pyarrow Array or RecordBatch into fresh C structs (which we then own)."""
    schema = ArrowSchema()
    array = ArrowArray()
    obj._export_to_c(ctypes.addressof(array), ctypes.addressof(schema))
    return schema, array


# ---- outputs ----------------------------------------------------------------------------


class _OwnedArrow:
    """Owns an ArrowArray/ArrowSchema pair that the library produced.

    Releases both when garbage collected, in the process that received them. In a forked
    child the release callback would call into a Go runtime that does not exist there, so
    the memory is leaked instead (it is a copy-on-write page of the parent anyway).
    """

    __slots__ = ("__weakref__", "array", "pid", "schema")

    def __init__(self, schema: ArrowSchema, array: ArrowArray) -> None:
        self.schema = schema
        self.array = array
        self.pid = os.getpid()

    def release(self) -> None:
        if self.pid != os.getpid():
            return
        _lib.release_array(self.array)
        _lib.release_schema(self.schema)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.release()


class _ArrayInterface:
    """Exposes a block of owned memory to numpy and keeps its owner alive."""

    __slots__ = ("__array_interface__", "owner")

    def __init__(self, owner: _OwnedArrow, address: int, shape: tuple[int, int], dtype: np.dtype):
        self.owner = owner
        self.__array_interface__ = {
            "shape": shape,
            "typestr": dtype.str,
            "data": (address, False),  # writable
            "strides": None,
            "version": 3,
        }


_FORMAT_DTYPES = {b"g": np.dtype(np.float64), b"f": np.dtype(np.float32)}


def import_matrix(
    schema: ArrowSchema, array: ArrowArray, rows: int, cols: int, dtype: np.dtype, what: str
) -> np.ndarray:
    """Take ownership of a fixed_size_list<float>[cols] array and view it as an ndarray.

    ``schema``/``array`` are moved: their release members are NULL afterwards.
    """
    owned_schema = ArrowSchema()
    owned_array = ArrowArray()
    ctypes.memmove(ctypes.addressof(owned_schema), ctypes.addressof(schema), ctypes.sizeof(schema))
    ctypes.memmove(ctypes.addressof(owned_array), ctypes.addressof(array), ctypes.sizeof(array))
    schema.release = _lib.SCHEMA_RELEASE()
    array.release = _lib.ARRAY_RELEASE()
    owner = _OwnedArrow(owned_schema, owned_array)
    if not owned_array.release or not owned_schema.release:
        raise RuntimeError(f"gonmf: the library returned no {what} array")

    def bad(msg: str) -> RuntimeError:
        return RuntimeError(f"gonmf: the library returned an invalid {what}: {msg}")

    fmt = owned_schema.format or b""
    expected_fmt = f"+w:{cols}".encode()
    if fmt != expected_fmt:
        raise bad(f"format {fmt!r}, expected {expected_fmt!r}")
    if owned_schema.n_children != 1 or owned_array.n_children != 1:
        raise bad("a fixed_size_list needs exactly one child")
    child_schema = owned_schema.children[0].contents
    child = owned_array.children[0].contents
    got_dtype = _FORMAT_DTYPES.get(child_schema.format or b"")
    if got_dtype is None:
        raise bad(f"value format {child_schema.format!r}")
    if got_dtype != dtype:
        raise bad(f"dtype {got_dtype}, expected {dtype}")
    if owned_array.length != rows:
        raise bad(f"{owned_array.length} rows, expected {rows}")
    if owned_array.null_count not in (0, -1) or child.null_count not in (0, -1):
        raise bad("it contains nulls")
    if owned_array.n_buffers != 1 or child.n_buffers != 2:
        raise bad("unexpected buffer count")
    if owned_array.null_count == -1 and owned_array.buffers[0]:
        raise bad("it has a validity bitmap")
    if child.null_count == -1 and child.buffers[0]:
        raise bad("its values have a validity bitmap")
    start = (owned_array.offset * cols) + child.offset
    if (
        owned_array.offset < 0
        or child.offset < 0
        or child.length < (owned_array.offset + rows) * cols
    ):
        raise bad("its values are too short")
    if rows * cols == 0:
        owner.release()
        return np.zeros((rows, cols), dtype=dtype)
    data = child.buffers[1]
    if not data:
        raise bad("its values have no data buffer")
    address = data + start * dtype.itemsize
    if address % dtype.itemsize:
        raise bad("its values are not aligned")
    return np.asarray(_ArrayInterface(owner, address, (rows, cols), dtype))
