"""gonmf.read_parquet / gonmf.write_parquet: Parquet through Go, fits without copies."""

from __future__ import annotations

import gc
import warnings
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gonmf

N, M, K = 40, 24, 3


def _values(nan_columns: tuple[int, ...] = ()) -> np.ndarray:
    rng = np.random.RandomState(3)
    X = rng.rand(N, K) @ rng.rand(K, M) + 0.05 * rng.rand(N, M)
    for j in nan_columns:
        X[j % N, j] = np.nan
    return X


def _names() -> list[str]:
    return [f"G{j} ({2000 + j})" for j in range(M)]


def _ids() -> list[str]:
    return [f"ACH-{i:06d}" for i in range(N)]


def _write_effect(path: Path, X: np.ndarray) -> Path:
    """A CRISPRGeneEffect-like file: ModelID then one float64 column per gene."""
    columns: dict[str, Any] = {"ModelID": _ids()}
    columns.update({name: X[:, j] for j, name in enumerate(_names())})
    pq.write_table(pa.table(columns), path)
    return path


def _fit(X: Any) -> tuple[gonmf.NMF, np.ndarray]:
    model = gonmf.NMF(n_components=K, random_state=0, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = model.fit_transform(X)
    return model, W


@pytest.fixture
def effect_file(tmp_path: Path) -> Path:
    return _write_effect(tmp_path / "effect.parquet", _values())


def test_read_parquet_gives_the_values_ids_and_names(effect_file: Path) -> None:
    data = gonmf.read_parquet(effect_file, id_column="ModelID")
    assert isinstance(data, gonmf.ParquetMatrix)
    assert data.shape == (N, M)
    assert len(data) == N
    assert data.columns == _names()
    assert data.id_column == "ModelID"
    assert data.ids is not None
    assert data.ids.to_pylist() == _ids()
    assert data.nan_columns == []
    assert data.dtype == np.float64
    np.testing.assert_array_equal(data.to_numpy(), _values())
    expected = pq.read_table(effect_file).drop_columns(["ModelID"])
    assert data.to_arrow().equals(expected)


def test_to_numpy_views_the_block(effect_file: Path) -> None:
    data = gonmf.read_parquet(effect_file, id_column="ModelID")
    A = data.to_numpy()
    assert A.flags.f_contiguous
    assert not A.flags.owndata
    assert A.flags.writeable
    # Every view is the same memory: one column-major block, no copy.
    assert np.shares_memory(A, data.to_numpy())
    first = data.to_arrow().column(0).chunk(0)
    assert A.ctypes.data == first.buffers()[1].address
    # The memory lives as long as a view of it.
    owner = weakref.ref(A.base.owner)
    del data
    gc.collect()
    assert owner() is not None
    np.testing.assert_array_equal(A, _values())


def test_fit_on_read_parquet_is_zero_copy_and_equals_numpy(effect_file: Path) -> None:
    data = gonmf.read_parquet(effect_file, id_column="ModelID")
    model, W = _fit(data)
    ref, W_ref = _fit(_values())
    np.testing.assert_allclose(W, W_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.components_, ref.components_, rtol=1e-9, atol=1e-12)
    assert model.fit_info_["copied_input"] is False
    assert model.fit_info_["layout"] == "col_major"
    assert model.feature_names_in_.tolist() == _names()
    # The F-ordered view and the DataFrame over the block are zero-copy inputs too.
    for X in (data.to_numpy(), data.to_pandas()):
        model, W = _fit(X)
        np.testing.assert_allclose(W, W_ref, rtol=1e-9, atol=1e-12)
        assert model.fit_info_["copied_input"] is False


def test_to_pandas_indexes_by_id(effect_file: Path) -> None:
    pytest.importorskip("pandas")
    frame = gonmf.read_parquet(effect_file, id_column="ModelID").to_pandas()
    assert frame.index.name == "ModelID"
    assert frame.index.tolist() == _ids()
    assert frame.columns.tolist() == _names()
    np.testing.assert_array_equal(frame.to_numpy(), _values())


def test_nan_columns_and_drop(tmp_path: Path) -> None:
    X = _values(nan_columns=(2, 9))
    data = gonmf.read_parquet(_write_effect(tmp_path / "nan.parquet", X), id_column="ModelID")
    assert data.nan_columns == [_names()[2], _names()[9]]
    with pytest.raises(ValueError, match="NaN"):
        _fit(data)
    kept = data.drop(data.nan_columns)
    assert kept.nan_columns == []
    assert kept.columns == [n for j, n in enumerate(_names()) if j not in (2, 9)]
    model, W = _fit(kept)
    ref, W_ref = _fit(np.delete(X, [2, 9], axis=1))
    np.testing.assert_allclose(W, W_ref, rtol=1e-9, atol=1e-12)
    # The remaining columns are not one evenly spaced block: copied once.
    assert model.fit_info_["copied_input"] is True
    # A contiguous run of columns still is one.
    tail = data.select(_names()[10:])
    model, W = _fit(tail)
    assert model.fit_info_["copied_input"] is False
    np.testing.assert_allclose(W, _fit(X[:, 10:])[1], rtol=1e-9, atol=1e-12)


def test_columns_and_float32(effect_file: Path) -> None:
    wanted = [_names()[5], _names()[1], _names()[7]]
    data = gonmf.read_parquet(effect_file, columns=wanted, dtype="float32")
    assert data.columns == wanted
    assert data.ids is None
    assert data.dtype == np.float32
    np.testing.assert_array_equal(data.to_numpy(), _values()[:, [5, 1, 7]].astype(np.float32))
    model = gonmf.NMF(n_components=2, random_state=0, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = model.fit_transform(data)
    assert W.dtype == np.float32
    assert model.fit_info_["dtype"] == "float32"
    assert model.fit_info_["copied_input"] is False


def test_non_float_column_is_named(effect_file: Path) -> None:
    with pytest.raises(ValueError, match="ModelID"):
        gonmf.read_parquet(effect_file)  # the id column not set aside


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        gonmf.read_parquet(tmp_path / "missing.parquet")
    not_parquet = tmp_path / "plain.parquet"
    not_parquet.write_text("ModelID,G1\nACH-1,0.5\n")
    with pytest.raises(ValueError, match="Parquet"):
        gonmf.read_parquet(not_parquet)
    with pytest.raises(ValueError, match="dtype"):
        gonmf.read_parquet(tmp_path / "missing.parquet", dtype="int64")


def test_write_parquet_in_the_seed_layout(effect_file: Path, tmp_path: Path) -> None:
    data = gonmf.read_parquet(effect_file, id_column="ModelID")
    model, W = _fit(data)
    latent = tmp_path / "nmf_latent.parquet.gz"
    weights = tmp_path / "NMF_weight_matrix_gsea.parquet"
    gonmf.write_parquet(latent, W, index=data.ids, index_name="ModelID")
    gonmf.write_parquet(weights, model.components_.T, index=data.columns, index_name="genes")

    names = [f"NMF_{i}" for i in range(K)]
    got_w = pq.read_table(latent)
    assert got_w.column_names == ["ModelID", *names]
    assert got_w["ModelID"].to_pylist() == _ids()
    np.testing.assert_array_equal(np.column_stack([got_w[c].to_numpy() for c in names]), W)
    got_h = pq.read_table(weights)
    assert got_h.column_names == ["genes", *names]
    assert got_h["genes"].to_pylist() == _names()
    H_t = np.column_stack([got_h[c].to_numpy() for c in names])
    np.testing.assert_array_equal(H_t, model.components_.T)
    # gzip for .gz, snappy otherwise, unless asked.
    assert pq.ParquetFile(latent).metadata.row_group(0).column(1).compression == "GZIP"
    assert pq.ParquetFile(weights).metadata.row_group(0).column(1).compression == "SNAPPY"
    plain = tmp_path / "plain.parquet"
    gonmf.write_parquet(plain, W, compression="none", columns=["a", "b", "c"])
    assert pq.read_table(plain).column_names == ["a", "b", "c"]
    assert pq.ParquetFile(plain).metadata.row_group(0).column(0).compression == "UNCOMPRESSED"
    # And gonmf reads its own output back.
    back = gonmf.read_parquet(latent, id_column="ModelID")
    np.testing.assert_array_equal(back.to_numpy(), W)


def test_write_parquet_checks(tmp_path: Path) -> None:
    W = np.ones((4, 2))
    with pytest.raises(ValueError, match="labels"):
        gonmf.write_parquet(tmp_path / "x.parquet", W, index=["a", "b"])
    with pytest.raises(ValueError, match="column names"):
        gonmf.write_parquet(tmp_path / "x.parquet", W, columns=["only"])
    with pytest.raises(ValueError, match="2-D"):
        gonmf.write_parquet(tmp_path / "x.parquet", np.ones(3))
    with pytest.raises(FileNotFoundError):
        gonmf.write_parquet(tmp_path / "no" / "such" / "dir.parquet", W)
    table = pa.table({"x": [1, 2], "y": ["a", "b"]})
    gonmf.write_parquet(tmp_path / "t.parquet", table)
    assert pq.read_table(tmp_path / "t.parquet").equals(table)
