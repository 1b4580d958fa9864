"""Comparing factorisations up to the order of their components."""

from __future__ import annotations

import numpy as np


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation between the rows of a and the rows of b (k_a x k_b).

    Constant rows (e.g. all zero) correlate 1 with an identical row and 0 otherwise.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ac = a - a.mean(axis=1, keepdims=True)
    bc = b - b.mean(axis=1, keepdims=True)
    na = np.linalg.norm(ac, axis=1)
    nb = np.linalg.norm(bc, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (ac @ bc.T) / np.outer(na, nb)
    flat_a = na == 0
    flat_b = nb == 0
    for i in np.flatnonzero(flat_a):
        for j in range(b.shape[0]):
            c[i, j] = 1.0 if flat_b[j] and np.allclose(a[i], b[j]) else 0.0
    for j in np.flatnonzero(flat_b):
        for i in range(a.shape[0]):
            if not flat_a[i]:
                c[i, j] = 0.0
    return c


def match_components(H_a: np.ndarray, H_b: np.ndarray) -> np.ndarray:
    """perm such that H_b[perm] best matches H_a row by row (Hungarian on correlation)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-_corr(H_a, H_b))
    perm = np.empty(len(rows), dtype=int)
    perm[rows] = cols
    return perm


def matched_correlations(
    W_a: np.ndarray, H_a: np.ndarray, W_b: np.ndarray, H_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-component correlations of H rows and W columns after matching b to a."""
    perm = match_components(H_a, H_b)
    h_corr = np.diag(_corr(H_a, H_b[perm]))
    w_corr = np.diag(_corr(W_a.T, W_b[:, perm].T))
    return w_corr, h_corr


def rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)
