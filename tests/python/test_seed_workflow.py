"""The seed notebook (shared/seed/apply_nmf_notebook.txt) with only its import changed.

The DepMap files are generated (CRISPRGeneEffect-like with 3,018 genes of which 300 fail
QC or have NaN, and a gene dictionary), so that the notebook's own filtering leaves the
1,150 x 2,718 matrix it factorises.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow.parquet")

N_FAIL_QC = 200
N_WITH_NAN = 100


@pytest.fixture(scope="module")
def data_directory(tmp_path_factory, depmap):
    """CRISPRGeneEffect.parquet and CRISPR_gene_dictionary.parquet, DepMap-like."""
    rng = np.random.RandomState(1)
    d = tmp_path_factory.mktemp("0.data-download") / "data"
    d.mkdir()
    n = len(depmap.model_ids)

    extra_symbols = [f"XQC{i}" for i in range(N_FAIL_QC + N_WITH_NAN)]
    extra_entrez = list(range(900_000, 900_000 + N_FAIL_QC + N_WITH_NAN))
    extra = rng.normal(-0.1, 0.3, size=(n, N_FAIL_QC + N_WITH_NAN))
    extra[rng.rand(n) < 0.05, N_FAIL_QC:] = np.nan  # the NaN genes
    extra[0, N_FAIL_QC:] = np.nan

    symbols = depmap.symbols + extra_symbols
    entrez = depmap.entrez_ids + extra_entrez
    values = np.hstack([depmap.values, extra])
    order = rng.permutation(len(symbols))  # QC-failing genes are interleaved
    columns = [f"{symbols[j]} ({entrez[j]})" for j in order]
    genes = pd.DataFrame(values[:, order], columns=columns)
    effect = pd.concat([pd.DataFrame({"ModelID": depmap.model_ids}), genes], axis="columns")
    effect.to_parquet(d / "CRISPRGeneEffect.parquet", index=False)

    qc_pass = [True] * len(depmap.symbols) + [False] * N_FAIL_QC + [True] * N_WITH_NAN
    gene_dict = pd.DataFrame({"entrez_id": entrez, "symbol_id": symbols, "qc_pass": qc_pass})
    gene_dict.to_parquet(d / "CRISPR_gene_dictionary.parquet", index=False)
    return d


def load_model_data(dependency_file, gene_dict_file):
    """Stand-in for the users' ``utils/data_loader.load_model_data``.

    Keeps the genes that pass QC, renames ``SYMBOL (ENTREZ)`` columns to symbols, drops
    genes with NaN.
    """
    dependency_df = pd.read_parquet(dependency_file)
    gene_dict_df = pd.read_parquet(gene_dict_file)
    print(dependency_df.shape)
    passing = gene_dict_df.query("qc_pass")
    keep = {f"{s} ({e})": s for s, e in zip(passing.symbol_id, passing.entrez_id)}
    gene_cols = [c for c in dependency_df.columns if c in keep]
    dependency_df = dependency_df.loc[:, ["ModelID", *gene_cols]].rename(columns=keep)
    dependency_df = dependency_df.dropna(axis="columns")
    return dependency_df, gene_dict_df


def test_seed_notebook(data_directory, tmp_path, monkeypatch, capsys, depmap_pair, depmap):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()

    # ---- In [1] (only the NMF import differs from the notebook) ----
    import pathlib

    from gonmf import NMF

    # ---- In [2] ----
    data_directory_ = pathlib.Path(data_directory).resolve()
    dependency_file = pathlib.Path(f"{data_directory_}/CRISPRGeneEffect.parquet").resolve()
    gene_dict_file = pathlib.Path(f"{data_directory_}/CRISPR_gene_dictionary.parquet").resolve()

    output_dir = pathlib.Path("results").resolve()
    nmf_output_file = pathlib.Path(f"{output_dir}/nmf_latent.parquet.gz").resolve()
    output_nmf_weights_file = pathlib.Path(f"{output_dir}/NMF_weight_matrix_gsea.parquet").resolve()

    # ---- In [3] ----
    nmf_components = 50

    # ---- In [4] ----
    dependency_df, gene_dict_df = load_model_data(dependency_file, gene_dict_file)

    # ---- In [5] ----
    min_value = dependency_df.drop(columns=["ModelID"]).min().min()
    if min_value < 0:
        dependency_df_non_negative = dependency_df.drop(columns=["ModelID"]) - min_value
    else:
        dependency_df_non_negative = dependency_df.drop(columns=["ModelID"])

    # ---- In [6] ----
    nmf = NMF(n_components=nmf_components, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning, as in the notebook
        W = nmf.fit_transform(dependency_df_non_negative)
    H = nmf.components_

    # ---- In [7] ----
    dependency_df_transformed = pd.DataFrame(W)

    # ---- In [8] ----
    dependency_df_transformed.columns = [
        f"NMF_{x}" for x in range(0, dependency_df_transformed.shape[1])
    ]
    dependency_df_transformed = pd.concat(
        [dependency_df.loc[:, "ModelID"], dependency_df_transformed], axis="columns"
    )
    dependency_df_transformed.to_parquet(nmf_output_file, index=False)
    print(dependency_df_transformed.shape)
    dependency_df_transformed.head(3)

    # ---- In [9] ----
    nmf_weights = pd.DataFrame(H, columns=dependency_df_non_negative.columns.tolist()).transpose()
    nmf_weights.columns = [f"NMF_{x}" for x in range(nmf_weights.shape[1])]
    nmf_weights = nmf_weights.reset_index().rename(columns={"index": "genes"})
    nmf_weights.to_parquet(output_nmf_weights_file, index=False)
    print(nmf_weights.shape)
    nmf_weights.head(3)

    # ---- checks ----
    out = capsys.readouterr().out.split()
    assert "(1150, 51)" in " ".join(out)
    assert "(2718, 51)" in " ".join(out)
    assert dependency_df_non_negative.shape == (1150, 2718)
    assert W.shape == (1150, 50)
    assert H.shape == (50, 2718)
    assert list(nmf.feature_names_in_) == dependency_df_non_negative.columns.tolist()
    assert nmf.get_feature_names_out().tolist() == [f"nmf{i}" for i in range(50)]

    latent = pd.read_parquet(nmf_output_file)
    assert latent.columns.tolist() == ["ModelID"] + [f"NMF_{i}" for i in range(50)]
    assert latent.shape == (1150, 51)
    assert latent["ModelID"].tolist() == depmap.model_ids
    np.testing.assert_array_equal(latent.iloc[:, 1:].to_numpy(), W)

    weights = pd.read_parquet(output_nmf_weights_file)
    assert weights.columns.tolist() == ["genes"] + [f"NMF_{i}" for i in range(50)]
    assert weights.shape == (2718, 51)
    assert set(weights["genes"]) == set(depmap.symbols)
    np.testing.assert_array_equal(weights.iloc[:, 1:].to_numpy(), H.T)

    # The frame is the depmap fixture's matrix with its genes permuted: the fit must be
    # the one of the ndarray (same random_state), up to the permutation of H's columns.
    col_of = {s: j for j, s in enumerate(depmap.symbols)}
    perm = [col_of[g] for g in dependency_df_non_negative.columns]
    ref = depmap_pair
    assert nmf.n_iter_ == ref.gonmf.n_iter_
    assert abs(nmf.reconstruction_err_ - ref.gonmf.reconstruction_err_) <= 1e-6 * abs(
        ref.gonmf.reconstruction_err_
    )
    scale = np.abs(ref.W_gonmf).max()
    np.testing.assert_allclose(W, ref.W_gonmf, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(
        H, ref.gonmf.components_[:, perm], rtol=0, atol=1e-5 * np.abs(H).max()
    )
