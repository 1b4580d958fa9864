"""gonmf against scikit-learn, the oracle, at the same parameters."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import datasets
import gonmf
from helpers import matched_correlations, rel_diff

sk_decomposition = pytest.importorskip("sklearn.decomposition")


def _fit_both(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = gonmf.NMF(**params)
        W_g = g.fit_transform(X)
        s = sk_decomposition.NMF(**params)
        W_s = s.fit_transform(X)
    return g, W_g, s, W_s


def _assert_parity(g, W_g, s, W_s, *, err_rtol=0.005, corr=0.99, same_n_iter=True):
    if same_n_iter:
        assert g.n_iter_ == s.n_iter_
    assert rel_diff(g.reconstruction_err_, s.reconstruction_err_) <= err_rtol, (
        g.reconstruction_err_,
        s.reconstruction_err_,
    )
    assert g.n_components_ == s.n_components_
    assert W_g.shape == W_s.shape
    assert g.components_.shape == s.components_.shape
    assert W_g.dtype == W_s.dtype
    assert g.components_.dtype == s.components_.dtype
    w_corr, h_corr = matched_correlations(W_s, s.components_, W_g, g.components_)
    assert w_corr.min() >= corr, w_corr
    assert h_corr.min() >= corr, h_corr


# ---- the seed workload: 1150 x 2718, 50 components ----------------------------------------


def test_depmap_n_iter(depmap_pair):
    assert depmap_pair.gonmf.n_iter_ == depmap_pair.sklearn.n_iter_


def test_depmap_reconstruction_err(depmap_pair):
    g, s = depmap_pair.gonmf, depmap_pair.sklearn
    assert rel_diff(g.reconstruction_err_, s.reconstruction_err_) <= 0.005
    # and it is the error of the returned factors
    direct = np.linalg.norm(depmap_pair.X - depmap_pair.W_gonmf @ g.components_)
    assert rel_diff(g.reconstruction_err_, direct) <= 1e-6


def test_depmap_components(depmap_pair):
    p = depmap_pair
    _assert_parity(p.gonmf, p.W_gonmf, p.sklearn, p.W_sklearn)


def test_depmap_attributes(depmap_pair):
    g = depmap_pair.gonmf
    assert g.n_components_ == 50
    assert g.n_features_in_ == 2718
    assert g.components_.shape == (50, 2718)
    assert depmap_pair.W_gonmf.shape == (1150, 50)
    assert (depmap_pair.W_gonmf >= 0).all()
    assert (g.components_ >= 0).all()
    assert not hasattr(g, "feature_names_in_")


def test_depmap_transform(depmap_pair):
    """transform with identical components gives sklearn's W."""
    p = depmap_pair
    X_new = p.X[:200]
    g = gonmf.NMF(n_components=50, random_state=0)
    g.components_ = p.sklearn.components_.copy()
    g.n_components_ = 50
    g.n_features_in_ = p.X.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W_g = g.transform(X_new)
        W_s = p.sklearn.transform(X_new)
    scale = np.abs(W_s).max()
    np.testing.assert_allclose(W_g, W_s, rtol=0, atol=1e-6 * scale)


def test_depmap_transform_own_model(depmap_pair):
    p = depmap_pair
    X_new = p.X[::7]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W_g = p.gonmf.transform(X_new)
        W_s = p.sklearn.transform(X_new)
    w_corr, _ = matched_correlations(W_s, p.sklearn.components_, W_g, p.gonmf.components_)
    assert w_corr.min() >= 0.99


def test_depmap_inverse_transform(depmap_pair):
    p = depmap_pair
    X_rec = p.gonmf.inverse_transform(p.W_gonmf)
    np.testing.assert_allclose(X_rec, p.W_gonmf @ p.gonmf.components_)
    X_rec_s = p.sklearn.inverse_transform(p.W_sklearn)
    assert rel_diff(np.linalg.norm(p.X - X_rec), np.linalg.norm(p.X - X_rec_s)) <= 0.005


# ---- small matrices ----------------------------------------------------------------------


SMALL = {
    "small_random": lambda: datasets.small_random(),
    "many_zeros": lambda: datasets.sparse_zeros(),
    "low_rank": lambda: datasets.nonnegative(90, 70, rank=6),
}


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("n_components", [5, 12])
def test_small_default_init(name, n_components):
    X = SMALL[name]()
    _assert_parity(*_fit_both(X, n_components=n_components, random_state=0, solver="cd"))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_random_init(name):
    X = SMALL[name]()
    g, W_g, s, W_s = _fit_both(X, n_components=6, init="random", random_state=0, max_iter=400)
    assert rel_diff(g.reconstruction_err_, s.reconstruction_err_) <= 0.02


@pytest.mark.parametrize("init", ["nndsvd", "nndsvda", "nndsvdar", "random"])
def test_inits(init):
    X = datasets.nonnegative(50, 30, rank=4, seed=3)
    g, W_g, s, W_s = _fit_both(X, n_components=4, init=init, random_state=1)
    assert rel_diff(g.reconstruction_err_, s.reconstruction_err_) <= 0.02
    if init != "random":
        _assert_parity(g, W_g, s, W_s)


def test_random_init_depmap(depmap_X, depmap_pair):
    """init='random' on the seed workload: final error within 2% of scikit-learn's."""
    X = depmap_X[:400, :800]
    g, W_g, s, W_s = _fit_both(X, n_components=20, init="random", random_state=0)
    assert rel_diff(g.reconstruction_err_, s.reconstruction_err_) <= 0.02


def test_more_components_than_min_dimension():
    # init=None falls back to 'random' when n_components > min(n_samples, n_features)
    X = datasets.small_random(10, 8)
    g, W_g, s, W_s = _fit_both(X, n_components=9, random_state=0)
    assert rel_diff(g.reconstruction_err_, s.reconstruction_err_) <= 0.02


def test_float32():
    X = datasets.small_random().astype(np.float32)
    g, W_g, s, W_s = _fit_both(X, n_components=5, random_state=0)
    assert W_g.dtype == np.float32
    assert g.components_.dtype == np.float32
    _assert_parity(g, W_g, s, W_s, err_rtol=0.01, same_n_iter=False)


@pytest.mark.parametrize(
    ("alpha_W", "alpha_H", "l1_ratio"),
    [(0.01, "same", 0.0), (0.01, 0.0, 1.0), (0.005, 0.02, 0.5)],
)
def test_regularization(alpha_W, alpha_H, l1_ratio):
    X = datasets.nonnegative(80, 60, rank=5)
    params = {
        "n_components": 5,
        "random_state": 0,
        "alpha_W": alpha_W,
        "alpha_H": alpha_H,
        "l1_ratio": l1_ratio,
    }
    _assert_parity(*_fit_both(X, **params))


def test_shuffle():
    X = datasets.small_random()
    _assert_parity(*_fit_both(X, n_components=5, random_state=0, shuffle=True))


def test_tol_zero_runs_max_iter():
    X = datasets.small_random()
    g, W_g, s, W_s = _fit_both(X, n_components=5, random_state=0, tol=0.0, max_iter=30)
    assert g.n_iter_ == s.n_iter_ == 30
    _assert_parity(g, W_g, s, W_s)


def test_custom_init():
    X = datasets.nonnegative(40, 30, rank=3)
    rng = np.random.RandomState(0)
    W0 = rng.rand(40, 3)
    H0 = rng.rand(3, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = gonmf.NMF(init="custom", random_state=0)
        W_g = g.fit_transform(X, W=W0.copy(), H=H0.copy())
        s = sk_decomposition.NMF(init="custom", random_state=0)
        W_s = s.fit_transform(X, W=W0.copy(), H=H0.copy())
    assert g.n_components_ == 3  # 'auto' from H
    _assert_parity(g, W_g, s, W_s)


def test_mu_solver():
    X = datasets.nonnegative(50, 40, rank=4) + 0.1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gonmf.NMF(n_components=2, solver="mu", max_iter=1).fit(X)
    except ValueError as exc:
        if "not supported" in str(exc):
            pytest.xfail(f"engine: {exc}")
        raise
    for beta_loss in ("frobenius", "kullback-leibler", "itakura-saito", 1.5):
        g, W_g, s, W_s = _fit_both(
            X, n_components=4, solver="mu", beta_loss=beta_loss, random_state=0, max_iter=300
        )
        assert rel_diff(g.reconstruction_err_, s.reconstruction_err_) <= 0.005, beta_loss
        assert g.n_iter_ == s.n_iter_, beta_loss


def test_non_negative_factorization_parity():
    X = datasets.small_random(50, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W_g, H_g, n_g = gonmf.non_negative_factorization(X, n_components=4, random_state=0)
        W_s, H_s, n_s = sk_decomposition.non_negative_factorization(
            X, n_components=4, random_state=0
        )
        assert n_g == n_s
        w_corr, h_corr = matched_correlations(W_s, H_s, W_g, H_g)
        assert min(w_corr.min(), h_corr.min()) >= 0.99

        # update_H=False solves for W with H fixed (transform), n_components from H
        W2_g, H2_g, _ = gonmf.non_negative_factorization(X, H=H_s, update_H=False)
        W2_s, H2_s, _ = sk_decomposition.non_negative_factorization(X, H=H_s, update_H=False)
    assert H2_g is H_s or np.array_equal(H2_g, H_s)
    np.testing.assert_allclose(W2_g, W2_s, rtol=0, atol=1e-6 * np.abs(W2_s).max())
