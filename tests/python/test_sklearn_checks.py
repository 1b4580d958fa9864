"""scikit-learn's own estimator checks, run against gonmf.NMF."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks

from gonmf import NMF


@parametrize_with_checks([NMF(n_components=2, max_iter=500)])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
