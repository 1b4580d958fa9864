"""Shared fixtures: the generated matrices and one shared DepMap-shaped fit pair."""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import datasets  # noqa: E402

# A source checkout without an installed gonmf: use python/ and the library built there.
try:
    import gonmf  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(HERE.parent.parent / "python"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    import gonmf
    from gonmf import _base, _lib

    return [
        f"gonmf {gonmf.__version__} from {Path(gonmf.__file__).parent}",
        f"library: {_lib._library_path()} (GONMF_LIBRARY={os.environ.get('GONMF_LIBRARY')})",
        f"scikit-learn base: {_base.HAS_SKLEARN}",
    ]


@dataclass
class FitPair:
    X: np.ndarray
    gonmf: object  # fitted gonmf.NMF
    sklearn: object  # fitted sklearn.decomposition.NMF
    W_gonmf: np.ndarray
    W_sklearn: np.ndarray


@pytest.fixture(scope="session")
def depmap() -> datasets.DepMapLike:
    return datasets.depmap_like()


@pytest.fixture(scope="session")
def depmap_X(depmap: datasets.DepMapLike) -> np.ndarray:
    return datasets.shift_to_nonnegative(depmap.values)


@pytest.fixture(scope="session")
def depmap_pair(depmap_X: np.ndarray) -> FitPair:
    """gonmf and scikit-learn fitted once on the 1150 x 2718 matrix, 50 components.

    scikit-learn takes ~13 s for this; every test that needs the pair shares it.
    """
    sk_decomposition = pytest.importorskip("sklearn.decomposition")
    import gonmf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both reach max_iter on this matrix
        g = gonmf.NMF(n_components=50, random_state=0, solver="cd")
        W_g = g.fit_transform(depmap_X)
        s = sk_decomposition.NMF(n_components=50, random_state=0, solver="cd")
        W_s = s.fit_transform(depmap_X)
    return FitPair(depmap_X, g, s, W_g, W_s)
