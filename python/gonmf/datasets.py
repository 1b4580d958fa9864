"""Deterministic, DepMap-shaped synthetic data: nothing is downloaded.

:func:`make_gene_effect` builds two tables in the layout of DepMap's CRISPR release, and
:func:`write_sample` writes them as Parquet files (``gonmf make-sample OUT_DIR`` on the
command line):

* a gene-effect table, ``CRISPRGeneEffect.parquet``: a ``ModelID`` string column
  (``ACH-000001`` ...) and one float64 column per gene named ``SYMBOL (ENTREZ)``. The
  values look like CRISPR gene effects: most near 0, common-essential genes near -1 to -2,
  sparse lineage-specific dependencies, a low-rank shared structure and Gaussian noise,
  with a few missing screens (nulls);
* a gene dictionary, ``CRISPR_gene_dictionary.parquet``: ``entrez_id``, ``symbol_id`` and
  ``qc_pass`` (about 85% of the genes pass).

The same arguments always give the same tables, bit for bit. The sample bundled in the
source tree (``examples/data``) is ``write_sample(..., n_samples=300, n_genes=800, seed=0)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np
import pyarrow as pa

__all__ = ["GENE_DICTIONARY_FILE", "GENE_EFFECT_FILE", "make_gene_effect", "write_sample"]

#: File name of the gene-effect table written by :func:`write_sample` (DepMap's name).
GENE_EFFECT_FILE = "CRISPRGeneEffect.parquet"
#: File name of the gene dictionary written by :func:`write_sample` (DepMap's name).
GENE_DICTIONARY_FILE = "CRISPR_gene_dictionary.parquet"

PathLike = Union[str, "os.PathLike[str]"]


def make_gene_effect(
    n_samples: int = 1150, n_genes: int = 2718, *, seed: int = 0
) -> tuple[pa.Table, pa.Table]:
    """Generate a DepMap-like gene-effect table and its gene dictionary.

    Parameters
    ----------
    n_samples : int, default=1150
        Number of cell lines (rows), with IDs ``ACH-000001``, ``ACH-000002``, ...

    n_genes : int, default=2718
        Number of genes (columns besides ``ModelID``), named ``SYMBOL (ENTREZ)`` with
        symbols ``G00000``, ``G00001``, ... and distinct random Entrez ids.

    seed : int, default=0
        Seed of :func:`numpy.random.default_rng`; the tables depend on nothing else.

    Returns
    -------
    gene_effect : pyarrow.Table
        ``ModelID`` (string) and ``n_genes`` float64 columns; about 0.02% of the values
        are null (a missing screen), so that about one gene in five has a missing value
        at 1,150 samples.

    gene_dictionary : pyarrow.Table
        One row per gene: ``entrez_id`` (int64), ``symbol_id`` (string) and ``qc_pass``
        (bool, true for about 85% of the genes).

    Examples
    --------
    >>> from gonmf.datasets import make_gene_effect
    >>> effect, genes = make_gene_effect(n_samples=4, n_genes=3)
    >>> effect.column_names[0], effect.num_rows, effect.num_columns
    ('ModelID', 4, 4)
    >>> genes.column_names
    ['entrez_id', 'symbol_id', 'qc_pass']
    """
    if n_samples < 1 or n_genes < 1:
        raise ValueError(f"n_samples and n_genes must be >= 1, got {n_samples}, {n_genes}")
    rng = np.random.default_rng(seed)
    n_lineages = 12
    lineage = rng.integers(0, n_lineages, size=n_samples)

    # Common-essential genes: strongly negative everywhere.
    essential = rng.random(n_genes) < 0.08
    base = np.where(essential, rng.normal(-1.3, 0.35, n_genes), rng.normal(-0.05, 0.08, n_genes))
    # Lineage-specific dependencies: a sparse lineage x gene effect.
    lineage_effect = np.where(
        rng.random((n_lineages, n_genes)) < 0.02, rng.normal(-0.7, 0.25, (n_lineages, n_genes)), 0.0
    )
    # Continuous biological programmes shared across lineages (low rank).
    rank = 8
    programmes = rng.gamma(1.0, 0.15, (n_samples, rank)) @ rng.normal(0, 0.25, (rank, n_genes))
    noise = rng.normal(0, 0.18, (n_samples, n_genes))
    X = base + lineage_effect[lineage] + programmes + noise
    # A few missing screens, as in the real table.
    X[rng.random(X.shape) < 2e-4] = np.nan

    entrez = rng.choice(np.arange(1, 200_000), size=n_genes, replace=False)
    symbols = [f"G{i:05d}" for i in range(n_genes)]
    columns = [f"{s} ({e})" for s, e in zip(symbols, entrez)]
    ids = [f"ACH-{i + 1:06d}" for i in range(n_samples)]
    effect = pa.table(
        [pa.array(ids)] + [pa.array(X[:, j], from_pandas=True) for j in range(n_genes)],
        names=["ModelID", *columns],
    )
    dictionary = pa.table(
        {
            "entrez_id": pa.array(entrez, pa.int64()),
            "symbol_id": pa.array(symbols),
            "qc_pass": pa.array(rng.random(n_genes) < 0.85),
        }
    )
    return effect, dictionary


def write_sample(
    out_dir: PathLike, n_samples: int = 1150, n_genes: int = 2718, *, seed: int = 0
) -> tuple[Path, Path]:
    """Write :func:`make_gene_effect`'s tables as DepMap-named Parquet files.

    Parameters
    ----------
    out_dir : str or path-like
        Directory to write into; created (with its parents) when missing.

    n_samples, n_genes, seed : int
        Passed to :func:`make_gene_effect`.

    Returns
    -------
    gene_effect_path : pathlib.Path
        ``out_dir / "CRISPRGeneEffect.parquet"`` (zstd-compressed).

    gene_dictionary_path : pathlib.Path
        ``out_dir / "CRISPR_gene_dictionary.parquet"``.
    """
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    effect, dictionary = make_gene_effect(n_samples, n_genes, seed=seed)
    effect_path = out / GENE_EFFECT_FILE
    dictionary_path = out / GENE_DICTIONARY_FILE
    pq.write_table(effect, effect_path, compression="zstd")
    pq.write_table(dictionary, dictionary_path)
    return effect_path, dictionary_path
