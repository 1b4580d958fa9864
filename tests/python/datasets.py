"""Deterministic test matrices, shaped like the data gonmf's users factorise.

``depmap_like`` imitates DepMap's CRISPRGeneEffect after the seed notebook's filtering:
1,150 cell lines x 2,718 genes of gene-effect scores (mostly near 0, essential genes
around -1, a few strong dependencies down to about -3), built from a low-rank non-negative
structure plus Gaussian noise. Nothing is downloaded: every matrix is generated from a seed.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DepMapLike",
    "depmap_like",
    "nonnegative",
    "shift_to_nonnegative",
    "small_random",
    "sparse_zeros",
]


@dataclass
class DepMapLike:
    """A generated gene-effect matrix with DepMap-like labels."""

    model_ids: list[str]  # "ACH-000001", ...
    symbols: list[str]  # gene symbols, unique
    entrez_ids: list[int]
    values: np.ndarray  # (n_samples, n_features) gene effects, float64, with negatives

    @property
    def gene_columns(self) -> list[str]:
        """Column names as in CRISPRGeneEffect: ``SYMBOL (ENTREZ)``."""
        return [f"{s} ({e})" for s, e in zip(self.symbols, self.entrez_ids)]

    def frame(self):  # -> pandas.DataFrame
        """The CRISPRGeneEffect-like frame: a ``ModelID`` column then one column per gene."""
        import pandas as pd

        genes = pd.DataFrame(self.values, columns=self.gene_columns)
        return pd.concat([pd.DataFrame({"ModelID": self.model_ids}), genes], axis="columns")


def _symbols(rng: np.random.RandomState, n: int) -> list[str]:
    letters = np.array(list(string.ascii_uppercase))
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        length = rng.randint(3, 6)
        sym = "".join(rng.choice(letters, size=length)) + str(rng.randint(1, 20))
        if sym not in seen:
            seen.add(sym)
            out.append(sym)
    return out


def depmap_like(
    n_samples: int = 1150,
    n_features: int = 2718,
    rank: int = 30,
    seed: int = 0,
    noise: float = 0.15,
) -> DepMapLike:
    """A DepMap-shaped gene-effect matrix (values roughly -3..1, most near 0).

    Structure: ``-(A @ B)`` with A (n_samples x rank) sparse-ish non-negative loadings of
    cell lines on programs and B (rank x n_features) sparse non-negative gene memberships,
    plus a common-essential program that affects every line, plus Gaussian noise.
    """
    rng = np.random.RandomState(seed)
    # cell-line loadings: each line uses a few programs strongly
    A = rng.gamma(shape=0.6, scale=0.5, size=(n_samples, rank))
    A *= rng.rand(n_samples, rank) < 0.35
    # gene memberships: each program touches ~4% of genes
    B = rng.gamma(shape=1.5, scale=0.4, size=(rank, n_features))
    B *= rng.rand(rank, n_features) < 0.04
    effects = -(A @ B)
    # common essentials: ~8% of genes near -1 in every line
    essential = rng.rand(n_features) < 0.08
    effects[:, essential] -= rng.normal(1.0, 0.25, size=essential.sum())
    effects += rng.normal(0.0, noise, size=effects.shape)
    effects = np.clip(effects, -3.5, 1.2)
    model_ids = [f"ACH-{i:06d}" for i in range(1, n_samples + 1)]
    symbols = _symbols(rng, n_features)
    entrez = sorted(rng.choice(np.arange(1, 120_000), size=n_features, replace=False).tolist())
    return DepMapLike(model_ids, symbols, entrez, np.ascontiguousarray(effects))


def shift_to_nonnegative(values: np.ndarray) -> np.ndarray:
    """Shift by the global minimum, as the seed notebook does."""
    lo = values.min()
    return values - lo if lo < 0 else values.copy()


def small_random(n_samples: int = 60, n_features: int = 40, seed: int = 0) -> np.ndarray:
    """A small dense uniform random non-negative matrix."""
    return np.random.RandomState(seed).rand(n_samples, n_features)


def sparse_zeros(
    n_samples: int = 120, n_features: int = 80, density: float = 0.2, seed: int = 0
) -> np.ndarray:
    """A non-negative matrix in which about ``1 - density`` of the entries are zero,
    with a whole zero row and a whole zero column."""
    rng = np.random.RandomState(seed)
    X = rng.exponential(1.0, size=(n_samples, n_features))
    X *= rng.rand(n_samples, n_features) < density
    X[3, :] = 0.0
    X[:, 5] = 0.0
    return X


def nonnegative(n_samples: int, n_features: int, rank: int, seed: int = 0) -> np.ndarray:
    """An exactly low-rank non-negative matrix plus small non-negative noise."""
    rng = np.random.RandomState(seed)
    W = rng.rand(n_samples, rank)
    H = rng.rand(rank, n_features)
    return W @ H + 0.01 * rng.rand(n_samples, n_features)
