"""gonmf: scikit-learn's NMF, computed by a Go engine.

``from gonmf import NMF`` replaces ``from sklearn.decomposition import NMF``. The native
library is loaded on first use, never at import, so importing gonmf is cheap and safe in
processes that fork afterwards.
"""

from __future__ import annotations

from ._nmf import NMF, non_negative_factorization
from ._parquet import ParquetMatrix, read_parquet, write_parquet

__version__ = "0.1.0"

__all__ = [
    "NMF",
    "ParquetMatrix",
    "__version__",
    "non_negative_factorization",
    "read_parquet",
    "write_parquet",
]
