"""The estimator base: scikit-learn's when it is installed, a small stand-in otherwise.

scikit-learn is an optional dependency. With it, :class:`gonmf.NMF` is a genuine
scikit-learn transformer (``clone``, ``Pipeline``, ``set_output``, ``get_params`` all work
natively) and raises scikit-learn's ``NotFittedError`` and ``ConvergenceWarning``.
Without it, the classes below provide the same surface for everyday use.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

__all__ = [
    "HAS_SKLEARN",
    "BaseEstimator",
    "ClassNamePrefixFeaturesOutMixin",
    "ConvergenceWarning",
    "InvalidParameterError",
    "NotFittedError",
    "TransformerMixin",
]

try:  # pragma: no cover - which branch runs depends on the environment
    from sklearn.base import (
        BaseEstimator,
        ClassNamePrefixFeaturesOutMixin,
        TransformerMixin,
    )
    from sklearn.exceptions import ConvergenceWarning, NotFittedError

    try:
        from sklearn.utils._param_validation import InvalidParameterError
    except ImportError:

        class InvalidParameterError(ValueError, TypeError):  # type: ignore[no-redef]
            """A constructor parameter has a wrong type or value."""

    HAS_SKLEARN = True

except ImportError:
    HAS_SKLEARN = False

    class NotFittedError(ValueError, AttributeError):  # type: ignore[no-redef]
        """The estimator is used before it was fitted."""

    class ConvergenceWarning(UserWarning):  # type: ignore[no-redef]
        """The solver stopped at max_iter before reaching its tolerance."""

    class InvalidParameterError(ValueError, TypeError):  # type: ignore[no-redef]
        """A constructor parameter has a wrong type or value."""

    class BaseEstimator:  # type: ignore[no-redef]
        """get_params / set_params / repr in scikit-learn's style."""

        @classmethod
        def _get_param_names(cls) -> list[str]:
            init = cls.__init__
            if init is object.__init__:
                return []
            params = inspect.signature(init).parameters.values()
            return sorted(
                p.name
                for p in params
                if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
            )

        def get_params(self, deep: bool = True) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key in self._get_param_names():
                value = getattr(self, key)
                if deep and hasattr(value, "get_params") and not isinstance(value, type):
                    out.update((f"{key}__{k}", v) for k, v in value.get_params().items())
                out[key] = value
            return out

        def set_params(self, **params: Any) -> BaseEstimator:
            if not params:
                return self
            valid = self.get_params(deep=True)
            nested: dict[str, dict[str, Any]] = {}
            for key, value in params.items():
                name, delim, sub = key.partition("__")
                if name not in valid:
                    raise ValueError(
                        f"Invalid parameter {name!r} for estimator {self}. Valid parameters "
                        f"are: {self._get_param_names()!r}."
                    )
                if delim:
                    nested.setdefault(name, {})[sub] = value
                else:
                    setattr(self, name, value)
                    valid[name] = value
            for name, sub_params in nested.items():
                valid[name].set_params(**sub_params)
            return self

        def _changed_params(self) -> dict[str, Any]:
            sig = inspect.signature(type(self).__init__).parameters
            changed = {}
            for name in self._get_param_names():
                value = getattr(self, name)
                default = sig[name].default
                if _same_param(value, default):
                    continue
                changed[name] = value
            return changed

        def __repr__(self) -> str:
            changed = self._changed_params()  # by name, as scikit-learn prints them
            args = ", ".join(f"{k}={changed[k]!r}" for k in sorted(changed))
            return f"{type(self).__name__}({args})"

        def __getstate__(self) -> dict[str, Any]:
            return dict(self.__dict__)

        def __setstate__(self, state: dict[str, Any]) -> None:
            self.__dict__.update(state)

    class TransformerMixin:  # type: ignore[no-redef]
        """fit_transform as fit followed by transform."""

        def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
            return self.fit(X, y, **fit_params).transform(X)  # type: ignore[attr-defined]

    class ClassNamePrefixFeaturesOutMixin:  # type: ignore[no-redef]
        """Output feature names ``<classname><i>``, e.g. ``nmf0``, ``nmf1``."""

        def get_feature_names_out(self, input_features: Any | None = None) -> np.ndarray:
            n_out = getattr(self, "_n_features_out", None)
            if n_out is None:
                raise NotFittedError(
                    f"This {type(self).__name__} instance is not fitted yet. Call 'fit' "
                    "with appropriate arguments before using this estimator."
                )
            prefix = type(self).__name__.lower()
            return np.asarray([f"{prefix}{i}" for i in range(n_out)], dtype=object)


def _same_param(value: Any, default: Any) -> bool:
    # scikit-learn's rule: a parameter is shown when its repr differs from the default's.
    if value is default:
        return True
    both_nan = (
        isinstance(value, float)
        and isinstance(default, float)
        and np.isnan(value)
        and np.isnan(default)
    )
    return both_nan or repr(value) == repr(default)
