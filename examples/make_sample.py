"""Write a deterministic, DepMap-shaped synthetic dataset.

Two Parquet files in the layout of DepMap's release:

* a gene-effect table: a ``ModelID`` string column (``ACH-000001`` ...) and one
  float64 column per gene named ``SYMBOL (ENTREZ)``; values look like CRISPR gene
  effects (most near 0, common-essential genes near -1 to -2, lineage-specific
  dependencies), with a few NaN;
* a gene dictionary with ``entrez_id``, ``symbol_id`` and ``qc_pass``.

Usage: ``python examples/make_sample.py OUT_DIR [--samples N] [--genes M] [--seed S]``
"""

from __future__ import annotations

import argparse
import pathlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def gene_effect(n_samples: int, n_genes: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """Return (gene_effect_table, gene_dictionary_table)."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=pathlib.Path)
    parser.add_argument("--samples", type=int, default=1150)
    parser.add_argument("--genes", type=int, default=2718)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    effect, dictionary = gene_effect(args.samples, args.genes, args.seed)
    pq.write_table(effect, args.out_dir / "CRISPRGeneEffect.parquet", compression="zstd")
    pq.write_table(dictionary, args.out_dir / "CRISPR_gene_dictionary.parquet")
    print(f"wrote {args.out_dir}: {effect.num_rows} x {effect.num_columns - 1} gene effects")


if __name__ == "__main__":
    main()
