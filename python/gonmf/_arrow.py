"""Moving matrices between Python objects and Arrow C Data Interface structs.

Inputs are described to the library without copying whenever the memory already has a
layout the engine reads in place:

- a C-contiguous 2-D ndarray becomes a ``fixed_size_list<float>[n_features]`` array of
  ``n_samples`` rows that wraps the ndarray's buffer (row-major);
- an F-contiguous ndarray (and a pandas DataFrame, whose float block is stored column by
  column) becomes one ``arrow.fixed_shape_tensor`` of physical shape ``(n_features,
  n_samples)`` with permutation ``[1, 0]`` that wraps the array's buffer (column-major:
  one C struct, whatever the number of columns; beyond 2**31 - 1 values, a struct of
  adjacent columns, which the engine also reads in place);
- a pyarrow Table / RecordBatch, a polars DataFrame, a pandas DataFrame with pyarrow
  dtypes or mixed blocks, and any object exporting the Arrow PyCapsule interface
  (``__arrow_c_array__`` / ``__arrow_c_stream__``, imported by pyarrow without copying)
  go as a record batch of their float columns: read in place when the column buffers
  are adjacent and equally spaced, copied once by the engine otherwise;
- a ``fixed_size_list<float>`` array and pyarrow's ``fixed_shape_tensor`` (``n`` tensors
  of shape ``(m,)``, or one tensor of shape ``(n, m)`` in either dimension order) go as
  the row-major (or column-major) matrix they store.

Anything else is converted exactly once, into a matrix the engine reads in place:
``np.ascontiguousarray``, casts of integer or boolean data to float64 as scikit-learn
does, columns spread over several Arrow chunks gathered into one column-major block.
:attr:`PreparedMatrix.copied` records whether that happened; the engine's ``copied_input``
records whether it had to copy. At most one of them is true.

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
    "fit_info",
    "get_feature_names",
    "import_matrix",
    "prepare_matrix",
    "to_fixed_size_list",
]

_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


@dataclass
class PreparedMatrix:
    """A validated 2-D float input, ready to be exported through the C Data Interface.

    ``copied`` is true when preparing the input copied X (a conversion to float, a
    non-contiguous array, Arrow columns spread over several chunks); the exported data
    then has a layout the engine reads in place.
    """

    obj: Any  # pa.Array (fixed_size_list or fixed_shape_tensor) or pa.RecordBatch
    n_samples: int
    n_features: int
    dtype: np.dtype
    layout: str  # "row" or "column"
    keepalive: list[Any] = field(default_factory=list)
    copied: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_samples, self.n_features)


#: The keys of the engine's info object that :func:`fit_info` exposes.
_FIT_INFO_KEYS = (
    "n_iter",
    "reconstruction_err",
    "converged",
    "copied_input",
    "layout",
    "dtype",
    "n_components",
)


def fit_info(info: dict[str, Any], X: PreparedMatrix) -> dict[str, Any]:
    """The public description of one fit: the engine's info plus the copies made here.

    ``copied_input`` is true when X was copied, by this package while preparing it or by
    the engine; ``layout`` ("row_major" or "col_major") is how the engine read X.
    """
    out = {key: info[key] for key in _FIT_INFO_KEYS if key in info}
    out["copied_input"] = bool(info.get("copied_input")) or X.copied
    return out


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
    from ._parquet import ParquetMatrix

    if isinstance(X, ParquetMatrix):
        return list(X.columns)
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


#: The largest fixed_size_list (an int32 list size): one tensor holds at most this many values.
_MAX_LIST_SIZE = 2**31 - 1


def _column_major_tensor(a: np.ndarray) -> pa.Array:
    """Wrap an F-contiguous 2-D float ndarray, without copying, as one fixed_shape_tensor.

    The canonical extension's ``shape`` is the physical (row-major) shape, here (m, n),
    and ``permutation`` [1, 0] makes the logical tensor its transpose: the n x m matrix.
    """
    n, m = a.shape
    dtype = pa.from_numpy_dtype(a.dtype)
    values = pa.Array.from_buffers(dtype, n * m, [None, pa.py_buffer(a.ravel(order="F"))])
    storage = pa.FixedSizeListArray.from_arrays(values, n * m)
    return pa.ExtensionArray.from_storage(
        pa.fixed_shape_tensor(dtype, [m, n], permutation=[1, 0]), storage
    )


def _prepare_ndarray(a: np.ndarray, whom: str, *, copied: bool = False) -> PreparedMatrix:
    _check_2d(a)
    original = a
    a = _as_float_ndarray(a)
    n, m = a.shape
    _check_shape(n, m, whom)
    if not a.flags.c_contiguous and a.flags.f_contiguous and n * m <= _MAX_LIST_SIZE:
        # Column j is a contiguous run, and the columns follow each other: a column-major
        # matrix, sent as one arrow.fixed_shape_tensor of physical shape (m, n) with
        # permutation [1, 0] that wraps the array in place: one buffer, one C struct,
        # whatever the number of columns.
        copied = copied or a is not original
        return PreparedMatrix(_column_major_tensor(a), n, m, a.dtype, "column", [a], copied)
    if not a.flags.c_contiguous and a.flags.f_contiguous:
        # Too large for one fixed_size_list (its size is an int32): a struct of columns,
        # every one a slice (an offset) of one buffer wrapping the array in place.
        dtype = pa.from_numpy_dtype(a.dtype)
        buf = pa.py_buffer(a.ravel(order="F"))
        cols = [pa.Array.from_buffers(dtype, n, [None, buf], offset=j * n) for j in range(m)]
        batch = pa.RecordBatch.from_arrays(cols, names=[str(j) for j in range(m)])
        copied = copied or a is not original
        return PreparedMatrix(batch, n, m, a.dtype, "column", [a], copied)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    # A fresh array never overlaps its source: may_share_memory (a bounds check) is exact
    # enough to tell a conversion from a view.
    copied = copied or (a is not original and not np.may_share_memory(a, original))
    return PreparedMatrix(to_fixed_size_list(a), n, m, a.dtype, "row", [a], copied)


_NUMERIC_ARROW = (
    pa.types.is_floating,
    pa.types.is_integer,
    pa.types.is_boolean,
    pa.types.is_decimal,
)


def _is_float_type(t: pa.DataType) -> bool:
    return pa.types.is_float32(t) or pa.types.is_float64(t)


def _listing(items: list[str]) -> str:
    return ", ".join(items[:5]) + (", ..." if len(items) > 5 else "")


class _NotNumericError(ValueError, TypeError):
    """X has columns that are not numbers.

    Both a ValueError and a TypeError: scikit-learn lets numpy's conversion error through,
    a ValueError for text and lists, a TypeError for dates, durations and mappings.
    """


def _not_numeric(bad: list[str]) -> _NotNumericError:
    return _NotNumericError(
        f"NMF needs numeric data, but column{'s' if len(bad) > 1 else ''} {_listing(bad)} "
        f"{'are' if len(bad) > 1 else 'is'} not numeric"
    )


def _check_columns(names: list[str], columns: list[Any]) -> None:
    """Reject non-numeric columns and columns with nulls, naming them."""
    bad = [
        f"{name!r} ({col.type})"
        for name, col in zip(names, columns)
        if not any(pred(col.type) for pred in _NUMERIC_ARROW)
    ]
    if bad:
        raise _not_numeric(bad)
    nulls = [repr(name) for name, col in zip(names, columns) if col.null_count > 0]
    if nulls:
        raise ValueError(
            "Input X contains NaN.\nNMF does not accept missing values encoded as NaN "
            f"natively (missing values in column {_listing(nulls)}). Impute or drop them first."
        )


def _gather_columns(columns: list[Any], n: int, dtype: np.dtype) -> np.ndarray:
    """Copy Arrow columns (Arrays or ChunkedArrays) once into a column-major block."""
    out = np.empty((n, len(columns)), dtype=dtype, order="F")
    for j, col in enumerate(columns):
        chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
        start = 0
        for chunk in chunks:
            if len(chunk) == 0:
                continue
            if pa.types.is_decimal(chunk.type):
                chunk = chunk.cast(pa.float64())
            # A view for numbers (bool and decimal: one chunk-sized temporary); the
            # assignment below is the copy, with the conversion to float.
            out[start : start + len(chunk), j] = chunk.to_numpy(zero_copy_only=False)
            start += len(chunk)
    return out


def _prepare_columns(names: list[str], columns: list[Any], n: int, whom: str) -> PreparedMatrix:
    """X from Arrow columns (Arrays, or ChunkedArrays of a Table), no copy when possible.

    Float columns of one chunk each go to the engine as they are: it reads them in place
    when their buffers are adjacent and equally spaced (a pandas block, an F-ordered
    ndarray, a Parquet file read by gonmf) and copies them once otherwise (also mixed
    float32/float64). Anything else (integers, booleans, decimals, several chunks) is
    gathered here, once, into one column-major float block.
    """
    m = len(columns)
    _check_shape(n, m, whom)
    _check_columns(names, columns)
    all_f32 = all(pa.types.is_float32(col.type) for col in columns)
    dtype = np.dtype(np.float32) if all_f32 else np.dtype(np.float64)
    single = all(not isinstance(col, pa.ChunkedArray) or col.num_chunks == 1 for col in columns)
    if single and all(_is_float_type(col.type) for col in columns):
        arrays = [col.chunk(0) if isinstance(col, pa.ChunkedArray) else col for col in columns]
        batch = pa.RecordBatch.from_arrays(arrays, names=[str(name) for name in names])
        return PreparedMatrix(batch, n, m, dtype, "column", [batch])
    block = _gather_columns(columns, n, dtype)
    return _prepare_ndarray(block, whom, copied=True)


def _prepare_batch(batch: pa.RecordBatch, whom: str) -> PreparedMatrix:
    return _prepare_columns(batch.schema.names, list(batch.columns), batch.num_rows, whom)


def _prepare_table(table: pa.Table, whom: str) -> PreparedMatrix:
    return _prepare_columns(table.schema.names, list(table.columns), table.num_rows, whom)


def _prepare_pandas(df: Any, whom: str) -> PreparedMatrix:
    dtypes = list(df.dtypes)
    if dtypes and all(isinstance(d, np.dtype) for d in dtypes):
        uniq = set(dtypes)
        if len(uniq) == 1 and next(iter(uniq)) in _FLOAT_DTYPES:
            # One float dtype: with a single block (a consolidated frame, as after
            # `df.drop(columns=[...]) - m`) to_numpy() is a view, F-contiguous, which the
            # ndarray path passes without copying. Several blocks are interleaved into a
            # new array: the one copy.
            arr = df.to_numpy(copy=False)
            first = df.iloc[:, 0].to_numpy(copy=False)
            return _prepare_ndarray(arr, whom, copied=not np.may_share_memory(arr, first))
    bad = []
    temporal = False
    for name, d in zip(df.columns, dtypes):
        kind = getattr(d, "kind", "O")
        if kind not in "fiub":
            bad.append(f"{name!r} ({d})")
            temporal = temporal or kind in "mM"
    if bad:
        if temporal:  # pandas would turn them into nanoseconds; numpy refuses
            raise _not_numeric(bad)
        # Numbers held as objects (Decimal, Python ints) or as text convert, as in
        # scikit-learn (np.asarray(df, dtype=float64)); anything else is refused.
        try:
            arr = df.to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise _not_numeric(bad) from exc
        return _prepare_ndarray(arr, whom, copied=True)
    try:
        # Mixed blocks, pyarrow-backed and nullable dtypes: each column becomes an Arrow
        # array without copying (a pyarrow-backed column keeps its chunks).
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError):
        # e.g. duplicate column names: fall back to one conversion through numpy.
        return _prepare_ndarray(np.asarray(df, dtype=np.float64), whom, copied=True)
    return _prepare_table(table, whom)


def _prepare_capsule(X: Any, whom: str) -> PreparedMatrix | None:
    """X exporting the Arrow PyCapsule interface, imported by pyarrow without copying.

    pyarrow moves the C structs out of the capsules (the producer's release then runs when
    pyarrow drops the buffers) and wraps the buffers in place; it also knows the canonical
    extension types (``arrow.fixed_shape_tensor``). A struct array or a stream of record
    batches is a table; a fixed_size_list or fixed_shape_tensor array a row-major matrix.
    Returns None for anything else (a 1-D array), which the caller hands to numpy.
    """
    if hasattr(X, "__arrow_c_array__"):
        arr: Any = pa.array(X)
    elif hasattr(X, "__arrow_c_stream__"):
        try:
            arr = pa.chunked_array(X)
        except TypeError:  # pyarrow < 16 reads streams only as tables
            return _prepare_table(pa.table(X), whom)
    else:
        return None
    if pa.types.is_struct(arr.type):
        if arr.null_count:
            raise ValueError("Input X contains null rows.")
        return _prepare_table(pa.Table.from_struct_array(arr), whom)
    if pa.types.is_fixed_size_list(arr.type) or isinstance(arr.type, pa.FixedShapeTensorType):
        return _prepare_arrow_array(arr, whom)
    return None


def _prepare_arrow_array(arr: Any, whom: str) -> PreparedMatrix:
    """A pyarrow (Chunked)Array: fixed_size_list rows or a fixed_shape_tensor."""
    copied = False
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks == 1:
            arr = arr.chunk(0)
        else:
            arr = pa.concat_arrays(arr.chunks)  # the one copy
            copied = True
    if isinstance(arr.type, pa.FixedShapeTensorType):
        return _prepare_tensor(arr, whom, copied)
    if isinstance(arr, pa.FixedSizeListArray):
        return _prepare_fixed_size_list(arr, whom, copied)
    raise ValueError(
        f"NMF needs a 2-D matrix, but got a 1-D Arrow array of type {arr.type}: pass a "
        "table, a record batch, a fixed_size_list array or a fixed_shape_tensor array"
    )


def _prepare_tensor(arr: Any, whom: str, copied: bool) -> PreparedMatrix:
    """pyarrow's fixed_shape_tensor: n tensors of shape (m,), or one of shape (n, m).

    ``shape`` is the physical shape and ``permutation`` maps it to the logical one, so
    one (m, n) tensor with permutation [1, 0] is an n x m column-major matrix.
    """
    t = arr.type
    shape = list(t.shape)
    perm = list(t.permutation) if t.permutation is not None else list(range(len(shape)))
    storage = arr.storage
    if len(shape) == 1:
        return _prepare_fixed_size_list(storage, whom, copied)
    if len(shape) != 2 or len(arr) != 1:
        raise ValueError(
            "NMF needs a 2-D matrix: a fixed_shape_tensor X must hold n tensors of shape "
            f"(m,) or one tensor of shape (n, m), got {len(arr)} of shape {tuple(shape)}"
        )
    if arr.null_count:
        raise ValueError("Input X contains NaN (null entries).")
    if _is_float_type(storage.type.value_type) and perm in ([0, 1], [1, 0]):
        # The engine reads one (n, m) tensor, or one (m, n) with permutation [1, 0] (the
        # n x m column-major matrix), in place from the extension metadata.
        if storage.flatten().null_count:
            raise ValueError("Input X contains NaN (null entries).")
        n, m = (shape[0], shape[1]) if perm == [0, 1] else (shape[1], shape[0])
        _check_shape(n, m, whom)
        dtype = np.dtype(np.float32 if pa.types.is_float32(storage.type.value_type) else np.float64)
        layout = "row" if perm == [0, 1] else "column"
        return PreparedMatrix(arr, n, m, dtype, layout, [arr], copied)
    values = storage.values.slice(storage.offset * storage.type.list_size, shape[0] * shape[1])
    if perm == [0, 1]:
        rows = pa.FixedSizeListArray.from_arrays(values, shape[1])
        return _prepare_fixed_size_list(rows, whom, copied)
    # Physical (m, n) row-major: logical X (n x m) column by column.
    n, m = shape[1], shape[0]
    names = [str(j) for j in range(m)]
    return _prepare_columns(names, [values.slice(j * n, n) for j in range(m)], n, whom)


def prepare_matrix(X: Any, whom: str = "NMF") -> PreparedMatrix:
    """Validate X's container and dtype and describe it for the C Data Interface.

    Values (negative entries, NaN, infinity) are checked by the engine, which reads
    the data anyway; null entries of Arrow data are rejected here.
    """
    if isinstance(X, PreparedMatrix):
        return X
    from ._parquet import ParquetMatrix

    if isinstance(X, ParquetMatrix):
        return _prepare_table(X.to_arrow(), whom)
    if _is_pandas_frame(X):
        return _prepare_pandas(X, whom)
    if _is_polars_frame(X):
        return _prepare_table(X.to_arrow(), whom)
    if isinstance(X, pa.Table):
        return _prepare_table(X, whom)
    if isinstance(X, pa.RecordBatch):
        return _prepare_batch(X, whom)
    if isinstance(X, (pa.Array, pa.ChunkedArray)) and (
        pa.types.is_fixed_size_list(X.type) or isinstance(X.type, pa.FixedShapeTensorType)
    ):
        return _prepare_arrow_array(X, whom)
    if isinstance(X, np.ndarray):
        return _prepare_ndarray(X, whom)
    if hasattr(X, "toarray") and _is_sparse(X):
        # No sparse engine: densify once (scikit-learn would keep it sparse).
        return _prepare_ndarray(X.toarray(), whom, copied=True)
    if not isinstance(X, (pa.Array, pa.ChunkedArray)):
        prepared = _prepare_capsule(X, whom)
        if prepared is not None:
            return prepared
    return _prepare_ndarray(np.asarray(X), whom)


def _is_sparse(X: Any) -> bool:
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(X)


def _prepare_fixed_size_list(
    arr: pa.FixedSizeListArray, whom: str, copied: bool = False
) -> PreparedMatrix:
    value_type = arr.type.value_type
    n, m = len(arr), arr.type.list_size
    _check_shape(n, m, whom)
    if arr.null_count or arr.flatten().null_count:
        raise ValueError("Input X contains NaN (null entries).")
    if _is_float_type(value_type):
        dtype = np.dtype(np.float32 if pa.types.is_float32(value_type) else np.float64)
        return PreparedMatrix(arr, n, m, dtype, "row", [arr], copied)
    if not any(pred(value_type) for pred in _NUMERIC_ARROW):
        raise _NotNumericError(f"NMF needs numeric data, but the list values are {value_type}")
    values = arr.flatten().cast(pa.float64())
    arr = pa.FixedSizeListArray.from_arrays(values, m)
    return PreparedMatrix(arr, n, m, np.dtype(np.float64), "row", [arr], True)


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
