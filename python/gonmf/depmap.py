"""DepMap gene-effect tables: the QC filter of the DepMap NMF workflow.

DepMap's ``CRISPRGeneEffect.parquet`` has an ID column (``ModelID``) and one float column
per gene named ``SYMBOL (ENTREZ)``; ``CRISPR_gene_dictionary.parquet`` has ``entrez_id``,
``symbol_id`` and ``qc_pass``. Before factorising, the workflow

1. keeps the gene columns whose Entrez id is in the dictionary with ``qc_pass`` true,
2. renames them to the dictionary's symbol,
3. drops the gene columns that have a missing value (null or NaN),

keeping the order of the columns in the file. :func:`filter_genes` does that on Arrow
tables (the ``gonmf fit --gene-dict`` command uses it); :func:`load_model_data` reads the
two files and returns pandas DataFrames, like the workflow's own loader.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GeneFilterResult",
    "entrez_id",
    "filter_genes",
    "has_missing",
    "load_model_data",
    "qc_passing_symbols",
    "select_gene_columns",
]

PathLike = Union[str, "os.PathLike[str]"]

_GENE_COLUMN = re.compile(r"^(?P<symbol>.*\S)\s*\((?P<entrez>\d+)\)$")
_DICTIONARY_COLUMNS = ("entrez_id", "symbol_id", "qc_pass")


def entrez_id(column: str) -> int | None:
    """The Entrez id of a ``SYMBOL (ENTREZ)`` column name, or None for any other name.

    Examples
    --------
    >>> entrez_id("TP53 (7157)")
    7157
    >>> entrez_id("ModelID") is None
    True
    """
    match = _GENE_COLUMN.match(column)
    return int(match["entrez"]) if match else None


def qc_passing_symbols(gene_dictionary: Any) -> dict[int, str]:
    """Entrez id -> symbol of the genes that pass QC.

    Parameters
    ----------
    gene_dictionary : pyarrow.Table, pandas.DataFrame or Arrow-compatible table
        With columns ``entrez_id`` (integer, or float with missing values as in some
        releases), ``symbol_id`` (string) and ``qc_pass`` (bool; null counts as false).

    Returns
    -------
    symbols : dict of int to str
        The first passing row wins when an Entrez id is listed twice.

    Raises
    ------
    ValueError
        When a column is missing.
    """
    table = _as_table(gene_dictionary, "gene dictionary")
    missing = [c for c in _DICTIONARY_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(
            f"the gene dictionary lacks the column(s) {', '.join(missing)}; it needs "
            f"{', '.join(_DICTIONARY_COLUMNS)} (found: {', '.join(table.column_names)})"
        )
    passing = pc.fill_null(table["qc_pass"].cast(pa.bool_()), False)
    rows = table.filter(passing)
    symbols: dict[int, str] = {}
    for entrez, symbol in zip(rows["entrez_id"].to_pylist(), rows["symbol_id"].to_pylist()):
        if entrez is None or symbol is None or entrez != entrez:  # null or NaN
            continue
        symbols.setdefault(int(entrez), str(symbol))
    return symbols


def select_gene_columns(columns: list[str], gene_dictionary: Any) -> list[tuple[str, str]]:
    """The ``(column, symbol)`` pairs of the columns that pass QC, in column order.

    Parameters
    ----------
    columns : list of str
        Column names of a gene-effect table; names that are not ``SYMBOL (ENTREZ)``
        (such as ``ModelID``) are never selected.

    gene_dictionary : pyarrow.Table, pandas.DataFrame or Arrow-compatible table
        See :func:`qc_passing_symbols`.

    Returns
    -------
    selected : list of (str, str)
        The column name and the dictionary symbol it is renamed to.
    """
    symbols = qc_passing_symbols(gene_dictionary)
    selected = []
    for name in columns:
        entrez = entrez_id(name)
        if entrez is not None and entrez in symbols:
            selected.append((name, symbols[entrez]))
    return selected


def has_missing(column: pa.ChunkedArray | pa.Array) -> bool:
    """Whether an Arrow column has a null, or a NaN when it is floating point."""
    if column.null_count:
        return True
    if pa.types.is_floating(column.type):
        return bool(pc.any(pc.is_nan(column)).as_py())
    return False


@dataclass
class GeneFilterResult:
    """The outcome of :func:`filter_genes`.

    Attributes
    ----------
    table : pyarrow.Table
        The ID column, then the kept gene columns renamed to their symbols.
    n_genes_in : int
        Gene columns in the input (every column but the ID column).
    n_failed_qc : int
        Columns dropped because their Entrez id is not in the dictionary, fails QC, or
        the name is not ``SYMBOL (ENTREZ)``.
    dropped_missing : list of str
        Symbols of the QC-passing genes dropped because they have a missing value.
    """

    table: pa.Table
    n_genes_in: int
    n_failed_qc: int
    dropped_missing: list[str] = field(default_factory=list)

    @property
    def n_genes(self) -> int:
        """Number of gene columns kept."""
        return self.table.num_columns - 1


def filter_genes(
    gene_effect: pa.Table, gene_dictionary: Any | None, *, id_column: str = "ModelID"
) -> GeneFilterResult:
    """Apply the DepMap QC step to a gene-effect table.

    Parameters
    ----------
    gene_effect : pyarrow.Table
        The ID column and one column per gene named ``SYMBOL (ENTREZ)``. Only the ID
        column and the selected gene columns need to have been read.

    gene_dictionary : pyarrow.Table, pandas.DataFrame, Arrow-compatible table or None
        See :func:`qc_passing_symbols`. None keeps every column (under its own name) and
        only drops the columns with missing values.

    id_column : str, default="ModelID"
        Name of the column that identifies the rows; it is kept as the first column.

    Returns
    -------
    result : GeneFilterResult
        The filtered table and what was dropped.

    Raises
    ------
    ValueError
        When the ID column or a dictionary column is missing.
    """
    if id_column not in gene_effect.column_names:
        raise ValueError(_missing_id_message(id_column, gene_effect.column_names))
    gene_columns = [c for c in gene_effect.column_names if c != id_column]
    if gene_dictionary is None:
        selected = [(c, c) for c in gene_columns]
    else:
        selected = select_gene_columns(gene_columns, gene_dictionary)
    kept: list[pa.ChunkedArray] = [gene_effect[id_column]]
    names = [id_column]
    dropped: list[str] = []
    for column, symbol in selected:
        data = gene_effect[column]
        if has_missing(data):
            dropped.append(symbol)
            continue
        kept.append(data)
        names.append(symbol)
    return GeneFilterResult(
        table=pa.table(kept, names=names),
        n_genes_in=len(gene_columns),
        n_failed_qc=len(gene_columns) - len(selected),
        dropped_missing=dropped,
    )


def load_model_data(
    dependency_file: PathLike, gene_dict_file: PathLike, *, id_column: str = "ModelID"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a gene-effect file and its gene dictionary, keeping the genes that pass QC.

    The pandas counterpart of the DepMap workflow's loader: only the ID column and the
    QC-passing gene columns are read from ``dependency_file``.

    Parameters
    ----------
    dependency_file : str or path-like
        ``CRISPRGeneEffect.parquet``.

    gene_dict_file : str or path-like
        ``CRISPR_gene_dictionary.parquet``.

    id_column : str, default="ModelID"
        Name of the ID column.

    Returns
    -------
    dependency_df : pandas.DataFrame
        ``id_column``, then one float column per kept gene, named by its symbol.

    gene_dict_df : pandas.DataFrame
        The gene dictionary as read.

    Examples
    --------
    >>> from gonmf.depmap import load_model_data  # doctest: +SKIP
    >>> dependency_df, gene_dict_df = load_model_data(
    ...     "data/CRISPRGeneEffect.parquet", "data/CRISPR_gene_dictionary.parquet")
    """
    import pyarrow.parquet as pq

    gene_dict = pq.read_table(gene_dict_file)
    names = pq.read_schema(dependency_file).names
    if id_column not in names:
        raise ValueError(_missing_id_message(id_column, names))
    selected = select_gene_columns([c for c in names if c != id_column], gene_dict)
    effect = pq.read_table(dependency_file, columns=[id_column, *(c for c, _ in selected)])
    result = filter_genes(effect, gene_dict, id_column=id_column)
    return result.table.to_pandas(), gene_dict.to_pandas()


def _as_table(obj: Any, whom: str) -> pa.Table:
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    try:
        return pa.table(obj)
    except (TypeError, ValueError, pa.ArrowException) as exc:
        raise TypeError(f"the {whom} must be a table (pyarrow, pandas, polars): {exc}") from exc


def _missing_id_message(id_column: str, names: list[str]) -> str:
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return (
        f"there is no column {id_column!r} (the ID column; set it with --id-column / "
        f"id_column); the first columns are: {shown}"
    )
