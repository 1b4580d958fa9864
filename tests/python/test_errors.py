"""Error parity: every error case raises the exception type scikit-learn raises.

Each case is run against gonmf and against scikit-learn (the oracle). Both must raise,
with the same exception class (``type(g) is type(s)``: scikit-learn's own
InvalidParameterError, NotFittedError, ... since gonmf uses scikit-learn's classes when it
is installed), and with messages that say the same: parameter errors word for word (up to
the order in which a set of options is listed, which is Python's set order in
scikit-learn, and gonmf's extra solver 'hals'), the others sharing the key phrase given
with the case.

Deliberate differences, asserted separately at the end: gonmf refuses NaN/inf in a
custom W or H (scikit-learn does not check them and returns NaN factors), and accepts
lists as custom W/H (scikit-learn fails there with an AttributeError on ``H.dtype``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

import datasets
import gonmf
import gonmf.exceptions

skd = pytest.importorskip("sklearn.decomposition")
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402

X = datasets.nonnegative(20, 12, rank=3)
W0 = np.full((20, 3), 0.5)
H0 = np.full((3, 12), 0.5)


def _with(A: np.ndarray, value: float) -> np.ndarray:
    A = A.copy()
    A[1, 2] = value
    return A


def _fitted(lib: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lib.NMF(3, random_state=0, max_iter=400).fit(X)


@dataclass
class Case:
    id: str
    call: Callable[[Any], Any]  # called with the gonmf module or sklearn.decomposition
    phrase: str | None = None  # regex both messages contain; None: same message


CASES = [
    # X: negative values, NaN, inf; in fit, transform and non_negative_factorization
    Case("negative", lambda L: L.NMF(2).fit(_with(X, -1)), "Negative values in data passed to"),
    Case("nan", lambda L: L.NMF(2).fit(_with(X, np.nan)), "Input X contains NaN"),
    Case("inf", lambda L: L.NMF(2).fit(_with(X, np.inf)), "Input X contains infinity"),
    Case(
        "nnf_negative",
        lambda L: L.non_negative_factorization(_with(X, -1), n_components=2),
        "Negative values in data passed to",
    ),
    Case(
        "nnf_nan",
        lambda L: L.non_negative_factorization(_with(X, np.nan), n_components=2),
        "contains NaN",
    ),
    Case("transform_negative", lambda L: _fitted(L).transform(_with(X, -1))),
    Case("transform_nan", lambda L: _fitted(L).transform(_with(X, np.nan)), "Input X contains NaN"),
    Case("transform_inf", lambda L: _fitted(L).transform(_with(X, np.inf)), "infinity"),
    # zeros with beta_loss <= 0
    Case(
        "zeros_itakura_saito",
        lambda L: L.NMF(2, solver="mu", beta_loss="itakura-saito").fit(_with(X, 0)),
    ),
    Case("zeros_beta_negative", lambda L: L.NMF(2, solver="mu", beta_loss=-0.5).fit(_with(X, 0))),
    Case(
        "zeros_beta_0_transform",
        lambda L: L.NMF(2, solver="mu", beta_loss=0.0).fit(X).transform(_with(X, 0)),
    ),
    Case(
        "nnf_zeros_itakura_saito",
        lambda L: L.non_negative_factorization(
            _with(X, 0), n_components=2, solver="mu", beta_loss="itakura-saito"
        ),
    ),
    # nndsvd* with too many components
    Case("nndsvd_k", lambda L: L.NMF(13, init="nndsvd").fit(X)),
    Case("nndsvda_k", lambda L: L.NMF(13, init="nndsvda").fit(X)),
    Case("nndsvdar_k", lambda L: L.NMF(21, init="nndsvdar").fit(X)),
    Case("nnf_nndsvd_k", lambda L: L.non_negative_factorization(X, n_components=13, init="nndsvd")),
    # beta_loss needs solver='mu'
    Case("cd_kullback_leibler", lambda L: L.NMF(2, beta_loss="kullback-leibler").fit(X)),
    Case("cd_beta_1.5", lambda L: L.NMF(2, beta_loss=1.5).fit(X)),
    # custom W/H: shape, dtype, values, missing
    Case("custom_W_rows", lambda L: L.NMF(3, init="custom").fit(X, W=W0[:5], H=H0)),
    Case("custom_H_cols", lambda L: L.NMF(3, init="custom").fit(X, W=W0, H=H0[:, :5])),
    Case("custom_H_k", lambda L: L.NMF(2, init="custom").fit(X, W=W0, H=H0)),
    Case(
        "custom_W_dtype",
        lambda L: L.NMF(3, init="custom").fit(X, W=W0.astype(np.float32), H=H0),
    ),
    Case(
        "custom_H_dtype",
        lambda L: L.NMF(3, init="custom").fit(X, W=W0, H=H0.astype(np.float32)),
    ),
    Case("custom_H_missing", lambda L: L.NMF(3, init="custom").fit(X, W=W0), ""),
    Case("custom_W_missing", lambda L: L.NMF(3, init="custom").fit(X, H=H0), ""),
    Case("custom_negative", lambda L: L.NMF(3, init="custom").fit(X, W=W0, H=-H0)),
    Case("custom_zeros", lambda L: L.NMF(3, init="custom").fit(X, W=0 * W0, H=H0)),
    Case("custom_1d", lambda L: L.NMF(3, init="custom").fit(X, W=W0, H=H0[0]), "Expected 2D"),
    Case(
        "nnf_update_H_false_H_dtype",
        lambda L: L.non_negative_factorization(X, H=H0.astype(np.float32), update_H=False),
    ),
    Case(
        "nnf_update_H_false_H_cols",
        lambda L: L.non_negative_factorization(X, H=H0[:, :5], update_H=False),
    ),
    Case(
        "nnf_update_H_false_no_H",
        lambda L: L.non_negative_factorization(X, n_components=3, update_H=False),
        "",
    ),
    # transform: wrong number of features, dtype other than the fitted H's
    Case("transform_n_features", lambda L: _fitted(L).transform(X[:, :5])),
    Case("transform_float32", lambda L: _fitted(L).transform(X.astype(np.float32))),
    # use before fit
    Case("not_fitted_transform", lambda L: L.NMF(2).transform(X)),
    Case("not_fitted_inverse_transform", lambda L: L.NMF(2).inverse_transform(W0)),
    Case("not_fitted_feature_names_out", lambda L: L.NMF(2).get_feature_names_out()),
    # X that is not a non-empty 2-D numeric matrix
    Case("X_1d", lambda L: L.NMF(2).fit(X[0]), "Expected 2D array, got 1D array"),
    Case("X_3d", lambda L: L.NMF(2).fit(X[None])),
    Case("X_no_samples", lambda L: L.NMF(2).fit(X[:0])),
    Case("X_no_features", lambda L: L.NMF(2).fit(X[:, :0])),
    Case("X_complex", lambda L: L.NMF(2).fit(X.astype(complex))),
    Case("X_strings", lambda L: L.NMF(2).fit(np.array([["a", "b"], ["c", "d"]])), ""),
    Case("X_scalar", lambda L: L.NMF(2).fit(3.0)),
    Case("X_None", lambda L: L.NMF(2).fit(None), "Expected 2D array, got scalar array"),
    # non_negative_factorization's own arguments
    Case("nnf_X_None", lambda L: L.non_negative_factorization(None)),
    Case("nnf_X_scalar", lambda L: L.non_negative_factorization(3.0)),
    Case("nnf_W_str", lambda L: L.non_negative_factorization(X, W="abc", n_components=2)),
    Case("nnf_H_int", lambda L: L.non_negative_factorization(X, H=5, update_H=False)),
    Case("nnf_update_H_str", lambda L: L.non_negative_factorization(X, H=H0, update_H="no")),
]

BAD_PARAMS = {
    "n_components": [0, -1, 1.5, "all", np.float64(2.0)],
    "init": ["svd", 1],
    "solver": ["als", None],
    "beta_loss": ["kl", None, [2]],
    "tol": [-1, "1e-4", None],
    "max_iter": [0, 1.5, None, "10"],
    "random_state": ["zero", -1, 2**32, 1.5, np.random.default_rng(0)],
    "alpha_W": [-0.1, "0", None],
    "alpha_H": [-0.1, "different", None],
    "l1_ratio": [1.5, -0.1, None],
    "verbose": [-1, "yes", 1.5],
    "shuffle": [1, "yes", None],
}

for _name, _values in BAD_PARAMS.items():
    for _i, _v in enumerate(_values):
        CASES.append(Case(f"param_{_name}_{_i}", lambda L, n=_name, v=_v: L.NMF(**{n: v}).fit(X)))
        CASES.append(
            Case(
                f"nnf_param_{_name}_{_i}",
                lambda L, n=_name, v=_v: L.non_negative_factorization(X, **{n: v}),
            )
        )


def _raised(call: Callable[[], Any]) -> BaseException | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except Exception as exc:
            return exc
    return None


def _normalise(message: str) -> str:
    """Option sets in a canonical order, without gonmf's extra solver."""

    def canon(m: re.Match[str]) -> str:
        items = sorted(i.strip() for i in m.group(1).split(",") if i.strip() != "'hals'")
        return "{" + ", ".join(items) + "}"

    return re.sub(r"\{([^{}]*)\}", canon, message)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_same_exception_as_sklearn(case):
    s = _raised(lambda: case.call(skd))
    g = _raised(lambda: case.call(gonmf))
    assert s is not None, "not an error case for scikit-learn"
    assert g is not None, f"scikit-learn raises {s!r}, gonmf does not"
    assert type(g) is type(s), (g, s)
    if isinstance(s, InvalidParameterError):
        assert _normalise(str(g)) == _normalise(str(s))
    elif case.phrase is None:
        assert str(g) == str(s)
    elif case.phrase:
        assert re.search(case.phrase, str(s)), (case.phrase, str(s))
        assert re.search(case.phrase, str(g)), (case.phrase, str(g))
    else:  # the same class, a different (gonmf: clearer) wording
        assert str(g)


def test_custom_w_with_fewer_components_than_h():
    """W (n x 2) with H (3 x m) and n_components='auto'.

    Not run through scikit-learn: its Cython coordinate descent reads W out of bounds
    here and can crash the interpreter (seen as a segfault in this suite). gonmf checks
    the shapes and raises a ValueError.
    """
    with pytest.raises(ValueError, match="input W"):
        gonmf.NMF(init="custom").fit(X, W=W0[:, :2], H=H0)


def test_error_classes_are_sklearns():
    from sklearn.exceptions import ConvergenceWarning, NotFittedError

    assert gonmf.exceptions.InvalidParameterError is InvalidParameterError
    assert gonmf.exceptions.NotFittedError is NotFittedError
    assert gonmf.exceptions.ConvergenceWarning is ConvergenceWarning
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)


# ---- deliberate differences ---------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("which", ["W", "H"])
def test_custom_init_with_nan_or_inf_is_refused(which, bad):
    """scikit-learn checks custom W/H with assume_finite=True and returns NaN factors."""
    start = {"W": W0.copy(), "H": H0.copy()}
    start[which] = _with(start[which], bad)
    with pytest.raises(ValueError, match="NaN" if np.isnan(bad) else "infinity"):
        gonmf.NMF(3, init="custom").fit(X, **start)


def test_custom_init_accepts_lists():
    """scikit-learn fails with AttributeError ('list' has no dtype); gonmf converts."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = gonmf.NMF(3, init="custom").fit(X, W=W0.tolist(), H=H0.tolist())
        b = gonmf.NMF(3, init="custom").fit(X, W=W0, H=H0)
    np.testing.assert_array_equal(a.components_, b.components_)
