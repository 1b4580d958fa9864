"""The parity matrix: gonmf against scikit-learn (the oracle) cell by cell.

A cell is solver x beta_loss x init x dtype x (alpha_W, alpha_H, l1_ratio) on a dataset.
In each cell both libraries fit the same X with the same parameters and ``random_state``:

- deterministic inits (None, 'nndsvd', 'nndsvda', 'nndsvdar', 'custom': the random draws
  of 'nndsvdar' and of the randomized SVD come from the same seeded MT19937 stream, which
  gonmf reproduces) must give the same ``n_iter_`` and a ``reconstruction_err_`` within
  0.5%; ``init='random'`` a ``reconstruction_err_`` within 2%;
- the outputs keep X's dtype (float32 stays float32);
- ``transform`` of each fitted model reconstructs X as well as scikit-learn's (beta
  divergence within 0.5%), and ``non_negative_factorization(update_H=False)`` with the
  same fixed H returns the same W (relative Frobenius difference within 0.5%);
- when scikit-learn raises (beta_loss <= 0 on a matrix with zeros), gonmf raises the same
  exception type.

Datasets:

- ``small_random`` (60 x 40, dense uniform, k=5) and ``sparse_zeros`` (120 x 80, ~80%
  zeros plus a zero row and a zero column, k=6): the FULL product, 360 cells each;
- ``depmap_slice``: a DepMap-shaped 300 x 800 gene-effect matrix shifted by its minimum
  (k=10). scikit-learn's mu on it costs seconds per fit on the 2-core machine, so it gets
  a covering subset (every solver, beta_loss, init, dtype and regularisation value at
  least once) instead of the product;
- the seed workload itself (1,150 x 2,718, k=50, cd, nndsvda, float64) through the
  session fixture ``depmap_pair`` shared with test_parity.py: its fit cell is asserted
  there; here its transform and ``non_negative_factorization(update_H=False)`` cells.

Float32 against float64 (gonmf's own fits, same cell otherwise): float32 in gives float32
out and a ``reconstruction_err_`` within 0.5% of the float64 fit's.

The 'hals' solver (gonmf's accelerated HALS, not in scikit-learn) must reach an error
within 0.5% of, or below, scikit-learn's 'cd' on every dataset.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import datasets
import gonmf
from helpers import rel_diff

sk_decomposition = pytest.importorskip("sklearn.decomposition")

DETERMINISTIC_RTOL = 0.005
RANDOM_RTOL = 0.02
TRANSFORM_RTOL = 0.005
DTYPE_RTOL = 0.005

SOLVER_BETAS = [
    ("cd", "frobenius"),
    ("mu", "frobenius"),
    ("mu", "kullback-leibler"),
    ("mu", "itakura-saito"),
    ("mu", 1.5),
]
INITS = [None, "nndsvd", "nndsvda", "nndsvdar", "random", "custom"]
DTYPES = ["float64", "float32"]
REGS = [(0.0, "same", 0.0), (0.01, "same", 0.5), (0.005, 0.02, 1.0)]


@dataclass(frozen=True)
class Dataset:
    make: Any
    n_components: int


DATASETS = {
    "small_random": Dataset(lambda: datasets.small_random(60, 40), 5),
    "sparse_zeros": Dataset(lambda: datasets.sparse_zeros(120, 80), 6),
    "depmap_slice": Dataset(
        lambda: datasets.shift_to_nonnegative(
            datasets.depmap_like(300, 800, rank=12, seed=1).values
        ),
        10,
    ),
}


@functools.cache
def _data(name: str, dtype: str) -> np.ndarray:
    X = DATASETS[name].make().astype(dtype)
    X.setflags(write=False)
    return X


def _cell_id(cell: tuple[Any, ...]) -> str:
    ds, solver, beta, init, dtype, (aw, ah, l1) = cell
    return f"{ds}-{solver}-{beta}-{init}-{dtype}-aW{aw}-aH{ah}-l1{l1}"


FULL_CELLS = [
    (ds, solver, beta, init, dtype, reg)
    for ds in ("small_random", "sparse_zeros")
    for (solver, beta), init, dtype, reg in itertools.product(SOLVER_BETAS, INITS, DTYPES, REGS)
]

# depmap_slice: each solver, both dtypes, every regularisation and five of the six inits
# (beta_loss 1.5 and nndsvdar are covered by the full product on the small datasets, the
# 'random' init with cd on a larger DepMap slice by test_parity.py). The shifted slice
# contains a 0 (its minimum), so the itakura-saito cell checks the beta_loss <= 0 error.
R0, R1, R2 = REGS
DEPMAP_CELLS = [
    ("depmap_slice", "cd", "frobenius", None, "float64", R0),
    ("depmap_slice", "cd", "frobenius", None, "float32", R0),
    ("depmap_slice", "cd", "frobenius", "nndsvd", "float64", R2),
    ("depmap_slice", "cd", "frobenius", "custom", "float32", R1),
    ("depmap_slice", "mu", "frobenius", "nndsvda", "float32", R0),
    ("depmap_slice", "mu", "frobenius", "random", "float32", R1),
    ("depmap_slice", "mu", "kullback-leibler", None, "float64", R2),
    ("depmap_slice", "mu", "itakura-saito", None, "float64", R0),
]

# Cells where scikit-learn's float32 n_iter_ is decided by float32 rounding in its own
# loss: mu stops when the decrease of the error over 10 iterations falls below
# tol * error_at_init, and on sparse_zeros with kullback-leibler that decrease sits within
# 0.3% of the threshold at iteration 80 (0.009422 in float32 against 0.009454 in float64,
# threshold ~0.0094), so scikit-learn's float32 run stops at 80 while its float64 run
# continues to 170. gonmf accumulates the loss in float64 for either dtype and takes
# scikit-learn's float64 decision. For these cells the test asserts exactly that: gonmf's
# n_iter_ equals scikit-learn's float64 n_iter_, and the errors still agree within 0.5%.
FLOAT32_LOSS_ROUNDING_CELLS = {
    "sparse_zeros-mu-kullback-leibler-None-float32-aW0.0-aHsame-l10.0",
    "sparse_zeros-mu-kullback-leibler-nndsvda-float32-aW0.0-aHsame-l10.0",
}


def _params(cell: tuple[Any, ...]) -> dict[str, Any]:
    ds, solver, beta, init, dtype, (aw, ah, l1) = cell
    return {
        "n_components": DATASETS[ds].n_components,
        "solver": solver,
        "beta_loss": beta,
        "init": init,
        "random_state": 0,
        "alpha_W": aw,
        "alpha_H": ah,
        "l1_ratio": l1,
    }


def _custom_start(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(42)
    scale = np.sqrt(X.mean() / k)
    W0 = (scale * rng.rand(X.shape[0], k)).astype(X.dtype)
    H0 = (scale * rng.rand(k, X.shape[1])).astype(X.dtype)
    return W0, H0


def _beta_divergence(X: np.ndarray, W: np.ndarray, H: np.ndarray, beta: Any) -> float:
    """sqrt(2 * D_beta(X | WH)) in float64, scikit-learn's reconstruction_err_ formula."""
    beta = {"frobenius": 2.0, "kullback-leibler": 1.0, "itakura-saito": 0.0}.get(beta, beta)
    X = np.asarray(X, dtype=np.float64)
    WH = np.asarray(W, dtype=np.float64) @ np.asarray(H, dtype=np.float64)
    eps = np.finfo(np.float32).eps
    if beta == 2:
        return float(np.linalg.norm(X - WH))
    mask = eps < X
    x, wh = X[mask], np.maximum(WH[mask], eps)
    if beta == 1:
        res = np.dot(x, np.log(x / wh)) + WH.sum() - x.sum()
    elif beta == 0:
        div = x / wh
        res = div.sum() - X.size - np.log(div).sum()
    else:
        res = (
            (x**beta).sum() - beta * np.dot(x, wh ** (beta - 1)) + (beta - 1) * (WH**beta).sum()
        ) / (beta * (beta - 1))
    return float(np.sqrt(2 * max(res, 0.0)))


@dataclass
class Outcome:
    model: Any = None
    W: np.ndarray | None = None
    error: BaseException | None = None


def _fit(cls: Any, cell: tuple[Any, ...]) -> Outcome:
    ds, *_, dtype, _reg = cell
    X = _data(ds, dtype)
    params = _params(cell)
    fit_kw: dict[str, Any] = {}
    if params["init"] == "custom":
        W0, H0 = _custom_start(X, params["n_components"])
        fit_kw = {"W": W0, "H": H0}
    model = cls(**params)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning, mu + nndsvd advice
            W = model.fit_transform(X.copy(), **fit_kw)
    except (ValueError, TypeError) as exc:
        return Outcome(error=exc)
    return Outcome(model=model, W=W)


@functools.cache
def _pair(cell: tuple[Any, ...]) -> tuple[Outcome, Outcome]:
    return _fit(gonmf.NMF, cell), _fit(sk_decomposition.NMF, cell)


def _check_cell(cell: tuple[Any, ...]) -> None:
    ds, solver, beta, init, dtype, reg = cell
    g, s = _pair(cell)
    if s.error is not None:
        assert g.error is not None, f"scikit-learn raised {s.error!r}, gonmf did not"
        assert type(g.error) is type(s.error), (g.error, s.error)
        return
    assert g.error is None, g.error
    gm, sm = g.model, s.model
    assert g.W is not None
    assert s.W is not None

    # dtypes: float32 in, float32 out
    assert g.W.dtype == s.W.dtype == np.dtype(dtype)
    assert gm.components_.dtype == sm.components_.dtype == np.dtype(dtype)
    assert gm.n_components_ == sm.n_components_
    assert g.W.shape == s.W.shape

    # the fit
    if init == "random":
        assert rel_diff(gm.reconstruction_err_, sm.reconstruction_err_) <= RANDOM_RTOL, (
            gm.reconstruction_err_,
            sm.reconstruction_err_,
        )
    else:
        if _cell_id(cell) in FLOAT32_LOSS_ROUNDING_CELLS:
            _, s64 = _pair((ds, solver, beta, init, "float64", reg))
            assert gm.n_iter_ == s64.model.n_iter_
        else:
            assert gm.n_iter_ == sm.n_iter_
        assert rel_diff(gm.reconstruction_err_, sm.reconstruction_err_) <= DETERMINISTIC_RTOL, (
            gm.reconstruction_err_,
            sm.reconstruction_err_,
        )
    # reconstruction_err_ is the divergence of the returned factors
    direct = _beta_divergence(_data(ds, dtype), g.W, gm.components_, beta)
    assert rel_diff(gm.reconstruction_err_, direct) <= 1e-4

    X = _data(ds, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # transform with each library's own model
        Wt_g = gm.transform(X)
        Wt_s = sm.transform(X)
        # non_negative_factorization(update_H=False) with the same fixed H
        H = sm.components_
        nnf_kw = {
            "n_components": H.shape[0],
            "solver": solver,
            "beta_loss": beta,
            "alpha_W": reg[0],
            "alpha_H": reg[1],
            "l1_ratio": reg[2],
            "update_H": False,
        }
        W2_g, H2_g, n2_g = gonmf.non_negative_factorization(X, H=H, **nnf_kw)
        W2_s, _, n2_s = sk_decomposition.non_negative_factorization(X, H=H, **nnf_kw)
    assert Wt_g.dtype == np.dtype(dtype)
    assert W2_g.dtype == np.dtype(dtype)
    err_t_g = _beta_divergence(X, Wt_g, gm.components_, beta)
    err_t_s = _beta_divergence(X, Wt_s, sm.components_, beta)
    assert rel_diff(err_t_g, err_t_s) <= TRANSFORM_RTOL, (err_t_g, err_t_s)
    np.testing.assert_array_equal(H2_g, H)
    assert n2_g == n2_s
    diff = np.linalg.norm(W2_g.astype(np.float64) - W2_s) / np.linalg.norm(W2_s)
    assert diff <= TRANSFORM_RTOL, diff


@pytest.mark.parametrize("cell", FULL_CELLS + DEPMAP_CELLS, ids=_cell_id)
def test_cell(cell):
    _check_cell(cell)


# ---- float32 against float64 ----------------------------------------------------------


F32_ROWS = sorted(
    {(ds, solver, beta, init, reg) for ds, solver, beta, init, _dt, reg in FULL_CELLS},
    key=str,
)


@pytest.mark.parametrize("row", F32_ROWS, ids=lambda r: _cell_id((*r[:4], "f32vs64", r[4])))
def test_float32_error_close_to_float64(row):
    ds, solver, beta, init, reg = row
    g64, _ = _pair((ds, solver, beta, init, "float64", reg))
    g32, _ = _pair((ds, solver, beta, init, "float32", reg))
    if g64.error is not None:
        assert type(g32.error) is type(g64.error)
        return
    assert g32.error is None, g32.error
    assert g32.W.dtype == np.float32
    assert g32.model.components_.dtype == np.float32
    assert g64.W.dtype == np.float64
    rtol = RANDOM_RTOL if init == "random" else DTYPE_RTOL
    err32, err64 = g32.model.reconstruction_err_, g64.model.reconstruction_err_
    assert rel_diff(err32, err64) <= rtol, (err32, err64)


# ---- the seed workload (1150 x 2718, k=50) ------------------------------------------------


def test_depmap_full_transform_and_update_H_false(depmap_pair):
    """transform and non_negative_factorization(update_H=False) on the seed workload."""
    p = depmap_pair
    X = p.X[::5]  # 230 cell lines: transform costs scikit-learn ~1 s here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Wt_g = p.gonmf.transform(X)
        Wt_s = p.sklearn.transform(X)
        H = p.sklearn.components_
        W2_g, _, n_g = gonmf.non_negative_factorization(X, H=H, update_H=False)
        W2_s, _, n_s = sk_decomposition.non_negative_factorization(X, H=H, update_H=False)
    err_g = _beta_divergence(X, Wt_g, p.gonmf.components_, 2)
    err_s = _beta_divergence(X, Wt_s, p.sklearn.components_, 2)
    assert rel_diff(err_g, err_s) <= TRANSFORM_RTOL
    assert n_g == n_s
    assert np.linalg.norm(W2_g - W2_s) / np.linalg.norm(W2_s) <= TRANSFORM_RTOL


# ---- hals (gonmf only) against scikit-learn's cd -----------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ds", sorted(DATASETS))
def test_hals_reaches_sklearn_cd_error(ds, dtype):
    cd_cell = (ds, "cd", "frobenius", None, dtype, R0)
    _, s = _pair(cd_cell)
    X = _data(ds, dtype)
    k = DATASETS[ds].n_components
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = gonmf.NMF(k, solver="hals", random_state=0).fit(X)
    assert h.components_.dtype == np.dtype(dtype)
    assert h.reconstruction_err_ <= s.model.reconstruction_err_ * (1 + DETERMINISTIC_RTOL), (
        h.reconstruction_err_,
        s.model.reconstruction_err_,
    )


def test_hals_reaches_sklearn_cd_error_depmap_full(depmap_pair):
    """On the seed workload hals gets within 0.5% of cd's error in 30 iterations.

    scikit-learn's cd takes its full 200 iterations here; 30 hals iterations cost about a
    quarter of that (hals at the default max_iter=200 does not meet its tol here and runs
    all 200, reaching a lower error still).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = gonmf.NMF(50, solver="hals", random_state=0, max_iter=30).fit(depmap_pair.X)
    sk_err = depmap_pair.sklearn.reconstruction_err_
    assert h.n_iter_ <= 30
    assert h.reconstruction_err_ <= sk_err * (1 + DETERMINISTIC_RTOL), (
        h.reconstruction_err_,
        sk_err,
    )
