"""Exceptions and warnings raised by gonmf.

They are scikit-learn's own classes when scikit-learn is installed (so existing
``except sklearn.exceptions.NotFittedError`` code keeps working), and compatible
stand-ins otherwise.
"""

from __future__ import annotations

from ._base import ConvergenceWarning, InvalidParameterError, NotFittedError
from ._lib import GonmfLibraryError

__all__ = ["ConvergenceWarning", "GonmfLibraryError", "InvalidParameterError", "NotFittedError"]
