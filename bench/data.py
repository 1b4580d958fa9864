"""Deterministic benchmark matrices, built with gonmf's DepMap-like generator.

:func:`gonmf.datasets.make_gene_effect` (the generator behind ``gonmf make-sample`` and the
bundled sample) gives a gene-effect table with a few NaN, as DepMap's. Workloads (A) and (B)
follow the seed notebook:
drop the columns that contain NaN, keep the first ``n_genes`` complete ones, shift the whole
matrix by its minimum. (C) and (D) have so many rows that nearly every column would hold a NaN,
so there the NaN (2e-4 of the entries) are set to 0 (no effect) before the shift.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "python") not in sys.path:
    sys.path.insert(0, str(ROOT / "python"))  # a source checkout without an installed gonmf

_NAN_RATE = 2e-4  # make_gene_effect's rate of missing entries


def _values(n_samples: int, n_genes: int, seed: int) -> np.ndarray:
    from gonmf.datasets import make_gene_effect

    effect, _ = make_gene_effect(n_samples, n_genes, seed=seed)
    cols = effect.columns[1:]  # drop ModelID
    return np.column_stack([c.to_numpy(zero_copy_only=False) for c in cols])


def depmap_dropna(n_samples: int, n_genes: int, seed: int = 0) -> np.ndarray:
    """n_samples x n_genes: complete columns of a larger generated table, shifted by the min."""
    p_complete = (1 - _NAN_RATE) ** n_samples
    total = math.ceil(n_genes / p_complete * 1.05) + 16
    while True:
        V = _values(n_samples, total, seed)
        keep = ~np.isnan(V).any(axis=0)
        if keep.sum() >= n_genes:
            break
        total = int(total * 1.2)
    X = np.ascontiguousarray(V[:, np.flatnonzero(keep)[:n_genes]])
    return X - X.min()


def depmap_filled(n_samples: int, n_genes: int, seed: int = 0) -> np.ndarray:
    """n_samples x n_genes with NaN set to 0, shifted by the min."""
    X = _values(n_samples, n_genes, seed)
    X[np.isnan(X)] = 0.0
    return X - X.min()
