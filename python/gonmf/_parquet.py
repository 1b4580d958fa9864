"""Parquet in and out through the Go library, without pyarrow's reader in between.

:func:`read_parquet` decodes a file in Go straight into ONE column-major block of C
memory: the matrix a fit reads in place. :func:`write_parquet` writes a factor (W, or H
transposed) with its row labels in the layout of the workflow gonmf replaces::

    import gonmf

    data = gonmf.read_parquet("CRISPRGeneEffect.parquet", id_column="ModelID")
    X = data.drop(data.nan_columns)             # one copy, in the fit, only if needed
    model = gonmf.NMF(n_components=50, random_state=0)
    W = model.fit_transform(X)                  # reads the block in place when it can
    gonmf.write_parquet("nmf_latent.parquet.gz", W, index=data.ids, index_name="ModelID")
    gonmf.write_parquet(
        "NMF_weight_matrix_gsea.parquet", model.components_.T,
        index=X.columns, index_name="genes",
    )
"""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Sequence
from typing import Any, Literal, Union

import numpy as np
import pyarrow as pa

from . import _lib
from ._arrow import export_to_c
from ._lib import ArrowArray, ArrowSchema

__all__ = ["ParquetMatrix", "read_parquet", "write_parquet"]

PathLike = Union[str, "os.PathLike[str]"]

_ERRNO_PREFIX = "[Errno "


def _get_parquet_lib() -> ctypes.CDLL:
    lib = _lib.get_lib()
    if not hasattr(lib, "gonmf_read_parquet") or not hasattr(lib, "gonmf_write_parquet"):
        raise _lib.GonmfLibraryError(
            "gonmf: this build of the native library has no Parquet support "
            "(gonmf_read_parquet / gonmf_write_parquet); rebuild it with ./build.sh lib"
        )
    return lib


def _raise(status: int, message: str | None, path: str) -> None:
    """Raise the Python exception for a failed Parquet call (OSError for file errors)."""
    if message and message.startswith(_ERRNO_PREFIX):
        # "[Errno 2] No such file or directory: 'x.parquet'", worded like OSError's str().
        code_text, _, rest = message[len(_ERRNO_PREFIX) :].partition("] ")
        if code_text.isdigit():
            code = int(code_text)
            strerror = rest.rsplit(": ", 1)[0] if ": " in rest else rest
            raise OSError(code, strerror, path)
    raise _lib.status_to_exception(status, message)


def _fspath(path: PathLike) -> tuple[str, bytes]:
    text = os.fspath(path)
    if not isinstance(text, str):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return text, os.fsencode(text)


class ParquetMatrix:
    """A matrix read from Parquet by :func:`read_parquet`, in one block of C memory.

    Pass it to :meth:`NMF.fit`, :meth:`NMF.fit_transform`, :meth:`NMF.transform` or
    :func:`non_negative_factorization` as X: the id column is left out, the float columns
    are the features (and their names the feature names). When the columns are those
    the file was read into, the engine reads the block in place; after :meth:`drop`
    or :meth:`select` it copies the remaining columns once.

    The memory is freed when this object and every array obtained from it
    (:meth:`to_numpy`, :meth:`to_arrow`, :meth:`to_pandas`, :attr:`ids`) are gone.

    Attributes
    ----------
    id_column : str or None
        Name of the id column (row labels), or None when none was asked for.
    info : dict
        What the reader reported: ``n_rows``, ``n_columns``, ``id_column``,
        ``nan_columns``, ``dtype`` and ``index_columns`` (pandas index columns left out).
    """

    __slots__ = ("_ids", "_table", "id_column", "info")

    def __init__(
        self, table: pa.Table, ids: pa.Array | None, id_column: str | None, info: dict[str, Any]
    ) -> None:
        self._table = table
        self._ids = ids
        self.id_column = id_column
        self.info = info

    @property
    def ids(self) -> pa.Array | None:
        """The id column (row labels), or None; an Arrow array in C memory."""
        return self._ids

    @property
    def columns(self) -> list[str]:
        """Names of the float columns, the features."""
        return list(self._table.column_names)

    @property
    def nan_columns(self) -> list[str]:
        """Names of the columns (of those still selected) holding NaN or nulls."""
        keep = set(self._table.column_names)
        return [c for c in self.info.get("nan_columns") or [] if c in keep]

    @property
    def shape(self) -> tuple[int, int]:
        """(n_rows, n_columns) of the float columns."""
        return (self._table.num_rows, self._table.num_columns)

    @property
    def dtype(self) -> np.dtype:
        """float64 or float32, as asked of :func:`read_parquet`."""
        return np.dtype(self.info.get("dtype", "float64"))

    def __repr__(self) -> str:
        n, m = self.shape
        ident = f", id_column={self.id_column!r}" if self.id_column is not None else ""
        return f"ParquetMatrix({n} x {m}, dtype={self.dtype}{ident})"

    def __len__(self) -> int:
        return self._table.num_rows

    def _with(self, table: pa.Table) -> ParquetMatrix:
        return ParquetMatrix(table, self._ids, self.id_column, self.info)

    def select(self, columns: Sequence[str]) -> ParquetMatrix:
        """The matrix restricted to ``columns``, in that order (no copy).

        Parameters
        ----------
        columns : sequence of str
            Names of float columns.

        Returns
        -------
        ParquetMatrix
            A matrix sharing this one's memory.
        """
        return self._with(self._table.select(list(columns)))

    def drop(self, columns: Sequence[str]) -> ParquetMatrix:
        """The matrix without ``columns`` (no copy), e.g. ``data.drop(data.nan_columns)``.

        Parameters
        ----------
        columns : sequence of str
            Names of float columns to leave out; unknown names are an error.

        Returns
        -------
        ParquetMatrix
            A matrix sharing this one's memory.
        """
        # Table.drop_columns looks each name up in turn: quadratic, seconds for the
        # thousands of NaN genes of a DepMap table. One pass over a set instead.
        names = self._table.column_names
        dropped = set(columns)
        unknown = dropped.difference(names)
        if unknown:
            raise KeyError(f"Column(s) {sorted(unknown)!r} not found in the matrix")
        keep = [i for i, name in enumerate(names) if name not in dropped]
        return self._with(self._table.select(keep))

    def rename(self, names: Sequence[str]) -> ParquetMatrix:
        """The matrix with its float columns renamed (no copy).

        Parameters
        ----------
        names : sequence of str
            One new name per column, in order.

        Returns
        -------
        ParquetMatrix
            A matrix sharing this one's memory.
        """
        return self._with(self._table.rename_columns(list(names)))

    def to_arrow(self) -> pa.Table:
        """The float columns as a pyarrow Table viewing the block (no copy).

        Returns
        -------
        pyarrow.Table
            One chunk per column; no validity bitmaps (missing values are NaN).
        """
        return self._table

    def to_numpy(self) -> np.ndarray:
        """The float columns as an F-ordered ndarray viewing the block, when they are one.

        Returns
        -------
        ndarray of shape (n_rows, n_columns)
            Writable; a view of the C memory (no copy) when the columns are adjacent and
            equally spaced (as read, or after selecting a contiguous run of them), else
            a new F-ordered array.
        """
        n, m = self.shape
        dtype = self.dtype
        if n == 0 or m == 0:
            return np.zeros((n, m), dtype=dtype, order="F")
        columns = [c.chunk(0) for c in self._table.columns]
        addresses = [c.buffers()[1].address + c.offset * dtype.itemsize for c in columns]
        step = addresses[1] - addresses[0] if m > 1 else n * dtype.itemsize
        uniform = step >= n * dtype.itemsize and step % dtype.itemsize == 0
        uniform = uniform and all(a == addresses[0] + j * step for j, a in enumerate(addresses))
        if not uniform:
            out = np.empty((n, m), dtype=dtype, order="F")
            for j, c in enumerate(columns):
                out[:, j] = c.to_numpy()
            return out
        return np.asarray(
            _BlockView(self._table, addresses[0], (n, m), (dtype.itemsize, step), dtype)
        )

    def to_pandas(self) -> Any:
        """A pandas DataFrame of the float columns, indexed by the ids (no copy when it can).

        Returns
        -------
        pandas.DataFrame
            One float block viewing the C memory (see :meth:`to_numpy`), the id column as
            the index (named after it) when there is one.
        """
        import pandas as pd

        index = None
        if self._ids is not None:
            index = pd.Index(self._ids.to_pandas(), name=self.id_column)
        return pd.DataFrame(self.to_numpy(), index=index, columns=self.columns, copy=False)


class _BlockView:
    """Exposes the block behind a table's columns to numpy; keeps the table alive."""

    __slots__ = ("__array_interface__", "owner")

    def __init__(
        self,
        owner: Any,
        address: int,
        shape: tuple[int, int],
        strides: tuple[int, int],
        dtype: np.dtype,
    ) -> None:
        self.owner = owner
        self.__array_interface__ = {
            "shape": shape,
            "typestr": dtype.str,
            "data": (address, False),
            "strides": strides,
            "version": 3,
        }


def read_parquet(
    path: PathLike,
    id_column: str | None = None,
    columns: Sequence[str] | None = None,
    dtype: Literal["float64", "float32"] | type[np.floating[Any]] | np.dtype = "float64",
) -> ParquetMatrix:
    """Read a Parquet file in Go into a matrix that a fit reads in place.

    Every float (or integer) column is decoded straight into one column-major block of C
    memory; nulls and NaN both become NaN (see :attr:`ParquetMatrix.nan_columns`). No
    pyarrow reader and no pandas are involved, so reading costs the matrix once.

    Parameters
    ----------
    path : str or os.PathLike
        The Parquet file.
    id_column : str, default=None
        A column kept aside as row labels (:attr:`ParquetMatrix.ids`), e.g. ``"ModelID"``.
    columns : sequence of str, default=None
        The float columns to read, in this order. None reads every column but the id
        column and pandas index columns.
    dtype : {"float64", "float32"}, default="float64"
        Element type of the block.

    Returns
    -------
    ParquetMatrix
        The matrix, its ids and what the reader reported.

    Raises
    ------
    FileNotFoundError, PermissionError, IsADirectoryError, OSError
        The file cannot be opened.
    ValueError
        The file is not Parquet or is corrupt, a column to read is not numeric (named in
        the message) or does not exist.
    MemoryError
        The block cannot be allocated.

    See Also
    --------
    write_parquet : Write W or H with its row labels.

    Examples
    --------
    >>> data = gonmf.read_parquet("CRISPRGeneEffect.parquet", id_column="ModelID")
    ...                                                   # doctest: +SKIP
    >>> W = gonmf.NMF(n_components=50).fit_transform(data.drop(data.nan_columns))
    ...                                                   # doctest: +SKIP
    """
    text, raw = _fspath(path)
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {dtype!r}")
    if id_column is not None and not isinstance(id_column, str):
        raise TypeError(f"id_column must be a str or None, got {type(id_column).__name__}")
    if isinstance(columns, str):
        raise TypeError("columns must be a sequence of column names, not a str")
    options: dict[str, Any] = {"dtype": dt.name}
    if id_column is not None:
        options["id_column"] = id_column
    if columns is not None:
        options["columns"] = [str(c) for c in columns]

    lib = _get_parquet_lib()
    out_schema, out_array = ArrowSchema(), ArrowArray()
    info_ptr, err_ptr = ctypes.c_void_p(), ctypes.c_void_p()
    status = lib.gonmf_read_parquet(
        raw,
        json.dumps(options).encode(),
        ctypes.byref(out_schema),
        ctypes.byref(out_array),
        ctypes.byref(info_ptr),
        ctypes.byref(err_ptr),
    )
    info_text = _lib.take_string(lib, info_ptr)
    error_text = _lib.take_string(lib, err_ptr)
    if status != _lib.GONMF_OK:
        _lib.release_array(out_array)
        _lib.release_schema(out_schema)
        _raise(status, error_text, text)
    try:
        # pyarrow takes the structs over (no copy): the block is freed through their
        # release callback when the last Arrow buffer viewing it goes.
        batch = pa.RecordBatch._import_from_c(
            ctypes.addressof(out_array), ctypes.addressof(out_schema)
        )
    finally:
        _lib.release_array(out_array)
        _lib.release_schema(out_schema)
    info = json.loads(info_text) if info_text else {}
    table = pa.Table.from_batches([batch])
    ids = None
    if id_column is not None:
        ids = table.column(0).chunk(0)
        table = table.drop_columns([table.column_names[0]])
    return ParquetMatrix(table, ids, id_column, info)


def _labels(index: Any, n: int, what: str) -> pa.Array:
    if isinstance(index, pa.ChunkedArray):
        arr = index.combine_chunks()
    elif isinstance(index, pa.Array):
        arr = index
    else:
        to_numpy = getattr(index, "to_numpy", None)  # pandas Index / Series, polars Series
        values = to_numpy() if callable(to_numpy) else index
        arr = pa.array(list(values) if not isinstance(values, np.ndarray) else values)
    if len(arr) != n:
        raise ValueError(f"{what} has {len(arr)} labels for {n} rows")
    if arr.null_count:
        raise ValueError(f"{what} contains nulls")
    return arr


def write_parquet(
    path: PathLike,
    data: Any,
    *,
    index: Any = None,
    index_name: str = "index",
    columns: Sequence[str] | None = None,
    prefix: str = "NMF_",
    compression: Literal["snappy", "gzip", "zstd", "brotli", "none"] | None = None,
) -> None:
    """Write a matrix (W, or H transposed) to Parquet in Go, with optional row labels.

    The file has the label column first (when ``index`` is given), then one float column
    per matrix column: ``ModelID, NMF_0 .. NMF_49`` for W and ``genes, NMF_0 .. NMF_49``
    for H transposed. pyarrow and pandas read it back with the same types.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create (or truncate); removed again if the write fails.
    data : ndarray of shape (n_rows, n_columns), pyarrow Table or RecordBatch
        The matrix (written as float columns, in its dtype), or a table written as is
        (then ``columns`` and ``prefix`` are not used).
    index : array-like of length n_rows, default=None
        Row labels written as the first column (strings, integers...), e.g.
        ``ParquetMatrix.ids`` or a list of gene names.
    index_name : str, default="index"
        Name of the label column.
    columns : sequence of str, default=None
        Names of the matrix columns; None names them ``prefix + str(j)``.
    prefix : str, default="NMF_"
        Prefix of the default column names.
    compression : {"snappy", "gzip", "zstd", "brotli", "none"}, default=None
        None picks gzip when ``path`` ends in ``.gz``, else snappy.

    Raises
    ------
    OSError
        The file cannot be written.
    ValueError
        Shapes or names do not match.
    TypeError
        A column type cannot be written.

    See Also
    --------
    read_parquet : Read a matrix into C memory.

    Examples
    --------
    >>> gonmf.write_parquet("nmf_latent.parquet.gz", W, index=ids, index_name="ModelID")
    ...                                                   # doctest: +SKIP
    """
    text, raw = _fspath(path)
    if isinstance(data, pa.Table):
        names = list(data.column_names)
        arrays = [c.chunk(0) if c.num_chunks == 1 else c.combine_chunks() for c in data.columns]
    elif isinstance(data, pa.RecordBatch):
        names, arrays = list(data.schema.names), list(data.columns)
    else:
        arr = np.asarray(data)
        if arr.ndim != 2:
            raise ValueError(f"data must be a 2-D matrix, got {arr.ndim} dimension(s)")
        if arr.dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
            arr = arr.astype(np.float64)
        m = arr.shape[1]
        if columns is None:
            names = [f"{prefix}{j}" for j in range(m)]
        else:
            names = [str(c) for c in columns]
            if len(names) != m:
                raise ValueError(f"{len(names)} column names for {m} columns")
        # A column of an F-ordered matrix (e.g. components_.T) is wrapped in place; a
        # column of a C-ordered one (W) is copied, n_rows values at a time.
        arrays = [pa.array(np.ascontiguousarray(arr[:, j])) for j in range(m)]
    n_rows = len(arrays[0]) if arrays else 0
    if index is not None:
        if index_name in names:
            raise ValueError(f"index_name {index_name!r} is also a column name")
        names = [index_name, *names]
        arrays = [_labels(index, n_rows, "index"), *arrays]
    if not arrays:
        raise ValueError("nothing to write: no columns")
    batch_out = pa.RecordBatch.from_arrays(arrays, names=names)
    options: dict[str, Any] = {}
    if compression is not None:
        options["compression"] = compression

    lib = _get_parquet_lib()
    schema_c, array_c = export_to_c(batch_out)
    err_ptr = ctypes.c_void_p()
    try:
        status = lib.gonmf_write_parquet(
            raw,
            ctypes.byref(schema_c),
            ctypes.byref(array_c),
            json.dumps(options).encode() if options else None,
            ctypes.byref(err_ptr),
        )
    finally:
        # Moved in on every path by a conforming library; never leak on an early error.
        _lib.release_array(array_c)
        _lib.release_schema(schema_c)
    error_text = _lib.take_string(lib, err_ptr)
    if status != _lib.GONMF_OK:
        _raise(status, error_text, text)
