"""Validation of NMF's constructor parameters, with scikit-learn's rules and messages."""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np

from ._base import InvalidParameterError

__all__ = ["validate_nmf_params"]


class _Constraint:
    def __init__(self, test: Callable[[Any], bool], text: str) -> None:
        self.test = test
        self.text = text


def _interval(kind: type, left: float, right: float, closed: str) -> _Constraint:
    def test(v: Any) -> bool:
        if kind is numbers.Integral:
            if not isinstance(v, numbers.Integral):
                return False
        elif not isinstance(v, numbers.Real):
            return False
        try:
            fv = float(v)
        except (TypeError, ValueError, OverflowError):
            return False
        if math.isnan(fv):
            return False
        lo_ok = fv >= left if closed in ("left", "both") else fv > left
        hi_ok = fv <= right if closed in ("right", "both") else fv < right
        return lo_ok and hi_ok

    def fmt(x: float) -> str:
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return str(int(x)) if kind is numbers.Integral else str(float(x))

    lb = "[" if closed in ("left", "both") else "("
    rb = "]" if closed in ("right", "both") else ")"
    noun = "an int" if kind is numbers.Integral else "a float"
    return _Constraint(test, f"{noun} in the range {lb}{fmt(left)}, {fmt(right)}{rb}")


def _options(*values: str) -> _Constraint:
    shown = "{" + ", ".join(repr(v) for v in sorted(values)) + "}"
    return _Constraint(lambda v: isinstance(v, str) and v in values, f"a str among {shown}")


def _instance(t: type, name: str) -> _Constraint:
    return _Constraint(lambda v: isinstance(v, t), f"an instance of {name!r}")


def _is_arraylike_not_scalar(v: Any) -> bool:
    arraylike = hasattr(v, "__len__") or hasattr(v, "shape") or hasattr(v, "__array__")
    return arraylike and not np.isscalar(v)


def _is_sparse(v: Any) -> bool:
    try:
        import scipy.sparse
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        return False
    return bool(scipy.sparse.issparse(v))


_NONE = _Constraint(lambda v: v is None, "None")
# numbers.Real as scikit-learn checks and names it: "an instance of 'float'"; a bool is an
# int and so a Real (beta_loss=True is 1, kullback-leibler), as in scikit-learn.
_REAL = _Constraint(lambda v: isinstance(v, numbers.Real), "an instance of 'float'")
_ARRAY_LIKE = _Constraint(_is_arraylike_not_scalar, "an array-like")
_SPARSE = _Constraint(_is_sparse, "a sparse array or matrix")
_BOOLEAN = [_instance(bool, "bool"), _instance(np.bool_, "numpy.bool")]
_INF = float("inf")

_CONSTRAINTS: dict[str, list[_Constraint]] = {
    "n_components": [
        _interval(numbers.Integral, 1, _INF, "left"),
        _NONE,
        _options("auto"),
    ],
    "init": [_options("random", "nndsvd", "nndsvda", "nndsvdar", "custom"), _NONE],
    "solver": [_options("mu", "cd", "hals")],
    "beta_loss": [_options("frobenius", "kullback-leibler", "itakura-saito"), _REAL],
    "tol": [_interval(numbers.Real, 0, _INF, "left")],
    "max_iter": [_interval(numbers.Integral, 1, _INF, "left")],
    "random_state": [
        _interval(numbers.Integral, 0, 2**32 - 1, "both"),
        _instance(np.random.RandomState, "numpy.random.mtrand.RandomState"),
        _NONE,
    ],
    "alpha_W": [_interval(numbers.Real, 0, _INF, "left")],
    "alpha_H": [_interval(numbers.Real, 0, _INF, "left"), _options("same")],
    "l1_ratio": [_interval(numbers.Real, 0, 1, "both")],
    "verbose": [_interval(numbers.Integral, 0, _INF, "left"), *_BOOLEAN],
    "shuffle": _BOOLEAN,
    # non_negative_factorization's own arguments
    "X": [_ARRAY_LIKE, _SPARSE],
    "W": [_ARRAY_LIKE, _NONE],
    "H": [_ARRAY_LIKE, _NONE],
    "update_H": _BOOLEAN,
}


def validate_nmf_params(params: dict[str, Any], caller: str = "NMF") -> None:
    """Raise InvalidParameterError (a ValueError and TypeError) for an invalid parameter."""
    for name, value in params.items():
        constraints = _CONSTRAINTS.get(name)
        if constraints is None or any(c.test(value) for c in constraints):
            continue
        texts = [c.text for c in constraints]
        joined = texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} or {texts[-1]}"
        raise InvalidParameterError(
            f"The {name!r} parameter of {caller} must be {joined}. Got {value!r} instead."
        )
