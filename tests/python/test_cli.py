"""The ``gonmf`` command: the DepMap workflow on the bundled sample and on DepMap-shaped data.

The workflow's own steps (QC by the gene dictionary, dropping genes with missing values,
shifting by the global minimum) are recomputed here with pandas, as the seed notebook
does, and the command's files are checked against them and against ``gonmf.NMF``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pq = pytest.importorskip("pyarrow.parquet")

import gonmf  # noqa: E402
from gonmf import NMF, cli, datasets  # noqa: E402
from gonmf.exceptions import ConvergenceWarning  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "data"
EFFECT = SAMPLE / "CRISPRGeneEffect.parquet"
GENE_DICT = SAMPLE / "CRISPR_gene_dictionary.parquet"
NMF_COLUMNS = [f"NMF_{i}" for i in range(50)]

# What build.sh's `sample` runs (after `pip install .`), with the output directory moved.
SAMPLE_ARGS = [
    "fit",
    str(EFFECT),
    "--gene-dict",
    str(GENE_DICT),
    "--id-column",
    "ModelID",
    "--n-components",
    "50",
    "--shift-min",
]


def gonmf_env() -> dict[str, str]:
    """The environment of a subprocess that must import this very gonmf."""
    env = dict(os.environ)
    package_parent = str(Path(gonmf.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    return env


def seed_loader(dependency_file: Path, gene_dict_file: Path) -> pd.DataFrame:
    """The seed workflow's QC, with pandas: keep QC-passing genes by Entrez id, rename
    them to their symbols, drop genes with NaN."""
    dependency_df = pd.read_parquet(dependency_file)
    gene_dict_df = pd.read_parquet(gene_dict_file)
    passing = gene_dict_df[gene_dict_df["qc_pass"]]
    symbol_of = dict(zip(passing["entrez_id"], passing["symbol_id"]))
    keep = {}
    for column in dependency_df.columns[1:]:
        entrez = int(column.rsplit("(", 1)[1].rstrip(")"))
        if entrez in symbol_of:
            keep[column] = symbol_of[entrez]
    dependency_df = dependency_df.loc[:, ["ModelID", *keep]].rename(columns=keep)
    return dependency_df.dropna(axis="columns")


def shifted(dependency_df: pd.DataFrame) -> pd.DataFrame:
    """The seed's shift by the global minimum."""
    genes = dependency_df.drop(columns=["ModelID"])
    min_value = genes.min().min()
    return genes - min_value if min_value < 0 else genes


# ---- 1. the sample workflow ---------------------------------------------------------------


def test_sample_workflow_writes_the_seed_layout(tmp_path, capsys):
    out = tmp_path / "results"
    assert cli.main([*SAMPLE_ARGS, "--out-dir", str(out)]) == 0
    err = capsys.readouterr().err
    assert "wrote" in err
    assert "shifted by the global minimum" in err

    latent_file = out / "nmf_latent.parquet.gz"
    weights_file = out / "NMF_weight_matrix_gsea.parquet"
    latent_schema = pq.read_schema(latent_file)
    weights_schema = pq.read_schema(weights_file)
    assert latent_schema.names == ["ModelID", *NMF_COLUMNS]
    assert weights_schema.names == ["genes", *NMF_COLUMNS]
    assert str(latent_schema.field("ModelID").type) in ("string", "large_string")
    assert str(weights_schema.field("genes").type) in ("string", "large_string")
    for schema in (latent_schema, weights_schema):
        assert all(str(schema.field(c).type) == "double" for c in NMF_COLUMNS)
    assert pq.read_metadata(latent_file).row_group(0).column(1).compression == "GZIP"

    expected = seed_loader(EFFECT, GENE_DICT)
    X = shifted(expected).to_numpy()
    latent = pd.read_parquet(latent_file)
    weights = pd.read_parquet(weights_file)
    assert latent.shape == (300, 51)
    assert weights.shape == (X.shape[1], 51) == (645, 51)
    assert latent["ModelID"].tolist() == expected["ModelID"].tolist()
    assert weights["genes"].tolist() == expected.columns[1:].tolist()

    W = latent[NMF_COLUMNS].to_numpy()
    H = weights[NMF_COLUMNS].to_numpy().T
    assert W.min() >= 0
    assert H.min() >= 0
    # W H approximates the shifted input nearly as well as its best rank-50 approximation.
    residual = np.linalg.norm(X - W @ H)
    singular = np.linalg.svd(X, compute_uv=False)
    best = np.sqrt(np.sum(singular[50:] ** 2))
    assert residual <= 1.1 * best
    assert residual <= 0.06 * np.linalg.norm(X)


def test_bundled_sample_is_the_generators_output():
    effect, dictionary = datasets.make_gene_effect(300, 800, seed=0)
    assert pq.read_table(EFFECT).equals(effect)
    assert pq.read_table(GENE_DICT).equals(dictionary)


def test_make_sample_command(tmp_path, capsys):
    assert cli.main(["make-sample", str(tmp_path / "d"), "--samples", "7", "--genes", "5"]) == 0
    effect, dictionary = datasets.make_gene_effect(7, 5, seed=0)
    assert pq.read_table(tmp_path / "d" / datasets.GENE_EFFECT_FILE).equals(effect)
    assert pq.read_table(tmp_path / "d" / datasets.GENE_DICTIONARY_FILE).equals(dictionary)
    assert "wrote" in capsys.readouterr().err
    other, _ = datasets.make_gene_effect(7, 5, seed=1)
    assert not other.equals(effect)


def test_gene_filter_rules():
    """Matched by Entrez id, kept when qc_pass, renamed to the dictionary's symbol, then
    genes with a missing value dropped; the column order of the file is kept."""
    import pyarrow as pa

    from gonmf.depmap import entrez_id, filter_genes

    effect = pa.table(
        {
            "ModelID": ["a", "b"],
            "OLDNAME (10)": [0.1, 0.2],  # renamed by Entrez id
            "B (20)": [0.3, None],  # passes QC, has a null: dropped
            "C (30)": [0.5, float("nan")],  # passes QC, has a NaN: dropped
            "D (40)": [0.7, 0.8],  # fails QC
            "E (50)": [0.9, 1.0],  # not in the dictionary
            "F (60)": [1.1, 1.2],  # qc_pass null: fails
            "no entrez": [1.3, 1.4],  # not SYMBOL (ENTREZ)
            "G (70)": [1.5, 1.6],  # listed twice: the first passing row wins
        }
    )
    dictionary = pd.DataFrame(
        {
            "entrez_id": [10.0, 20.0, 30.0, 40.0, np.nan, 60.0, 70.0, 70.0],
            "symbol_id": ["A", "B", "C", "D", "X", "F", "G1", "G2"],
            "qc_pass": pd.array([True, True, True, False, True, None, True, True]),
        }
    )
    result = filter_genes(effect, dictionary)
    assert result.table.column_names == ["ModelID", "A", "G1"]
    assert result.table["A"].to_pylist() == [0.1, 0.2]
    assert result.dropped_missing == ["B", "C"]
    assert result.n_genes_in == 8
    assert result.n_failed_qc == 4
    assert result.n_genes == 2
    assert entrez_id("TP53 (7157)") == 7157
    assert entrez_id("ModelID") is None
    with pytest.raises(ValueError, match="no column 'CellLine'"):
        filter_genes(effect, dictionary, id_column="CellLine")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) qc_pass"):
        filter_genes(effect, dictionary.drop(columns=["qc_pass"]))


def test_load_model_data_is_the_seed_loader():
    from gonmf.depmap import load_model_data

    dependency_df, gene_dict_df = load_model_data(EFFECT, GENE_DICT)
    expected = seed_loader(EFFECT, GENE_DICT)
    assert dependency_df.columns.tolist() == expected.columns.tolist()
    np.testing.assert_array_equal(
        dependency_df.drop(columns=["ModelID"]).to_numpy(),
        expected.drop(columns=["ModelID"]).to_numpy(),
    )
    assert dependency_df["ModelID"].tolist() == expected["ModelID"].tolist()
    assert gene_dict_df.shape == (800, 3)


# ---- 2. the command against the Python API on DepMap-shaped data ----------------------


@pytest.fixture(scope="module")
def depmap_files(tmp_path_factory):
    """Generated files whose QC and NaN filtering leave exactly 1,150 x 2,718.

    4,200 genes are generated (about 68% survive QC and the NaN filter); the file keeps
    the first columns up to the 2,718th survivor, failing genes included.
    """
    effect, dictionary = datasets.make_gene_effect(1150, 4200, seed=3)
    passing = set(dictionary.filter(dictionary["qc_pass"])["entrez_id"].to_pylist())
    survivors = 0
    for j, name in enumerate(effect.column_names[1:], start=1):  # noqa: B007
        if int(name.rsplit("(", 1)[1].rstrip(")")) in passing and not effect[name].null_count:
            survivors += 1
            if survivors == 2718:
                break
    assert survivors == 2718
    effect = effect.select(list(range(j + 1)))
    d = tmp_path_factory.mktemp("depmap")
    pq.write_table(effect, d / "CRISPRGeneEffect.parquet")
    pq.write_table(dictionary, d / "CRISPR_gene_dictionary.parquet")
    return d / "CRISPRGeneEffect.parquet", d / "CRISPR_gene_dictionary.parquet"


def test_cli_matches_the_python_api_on_depmap_shaped_data(depmap_files, tmp_path):
    effect_file, dict_file = depmap_files
    max_iter = 10  # short, the same for both; the numbers must be identical
    latent_file = tmp_path / "out" / "nmf_latent.parquet.gz"
    weights_file = tmp_path / "gsea" / "NMF_weight_matrix_gsea.parquet"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gonmf",
            "fit",
            str(effect_file),
            "--id-column",
            "ModelID",
            "--gene-dict",
            str(dict_file),
            "--n-components",
            "50",
            "--shift-min",
            "--max-iter",
            str(max_iter),
            "--latent-out",
            str(latent_file),
            "--weights-out",
            str(weights_file),
        ],
        env=gonmf_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "factorising 1150 x 2718" in proc.stderr
    assert f"Maximum number of iterations {max_iter} reached" in proc.stderr

    dependency_df = seed_loader(effect_file, dict_file)
    X = shifted(dependency_df)
    assert X.shape == (1150, 2718)
    model = NMF(n_components=50, random_state=0, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        W = model.fit_transform(X)
    H = model.components_

    latent = pd.read_parquet(latent_file)
    weights = pd.read_parquet(weights_file)
    assert latent.columns.tolist() == ["ModelID", *NMF_COLUMNS]
    assert weights.columns.tolist() == ["genes", *NMF_COLUMNS]
    assert latent["ModelID"].tolist() == dependency_df["ModelID"].tolist()
    assert weights["genes"].tolist() == X.columns.tolist()
    np.testing.assert_array_equal(latent[NMF_COLUMNS].to_numpy(), W)
    np.testing.assert_array_equal(weights[NMF_COLUMNS].to_numpy(), H.T)


# ---- failures: exit status and message ----------------------------------------------------


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    try:
        status = cli.main(args)
    except SystemExit as exc:  # argparse
        status = exc.code
    return status, capsys.readouterr().err


def test_missing_input_file(tmp_path, capsys):
    status, err = run_cli(["fit", str(tmp_path / "nope.parquet"), "-k", "2"], capsys)
    assert status == cli.EXIT_ERROR == 1
    assert err.strip() == f"gonmf fit: error: the input {tmp_path / 'nope.parquet'} does not exist"


def test_input_that_is_not_parquet(tmp_path, capsys):
    bad = tmp_path / "bad.parquet"
    bad.write_text("ModelID,a\nx,1\n")
    status, err = run_cli(["fit", str(bad), "-k", "2"], capsys)
    assert status == 1
    assert "error: cannot read the input" in err
    assert "as Parquet" in err


def test_missing_gene_dictionary(tmp_path, capsys):
    status, err = run_cli(
        ["fit", str(EFFECT), "-k", "2", "--gene-dict", str(tmp_path / "dict.parquet")], capsys
    )
    assert status == 1
    assert "error: the gene dictionary" in err
    assert "does not exist" in err


def test_gene_dictionary_without_its_columns(tmp_path, capsys):
    bad = tmp_path / "dict.parquet"
    pq.write_table(pq.read_table(GENE_DICT).drop_columns(["qc_pass"]), bad)
    status, err = run_cli(["fit", str(EFFECT), "-k", "2", "--gene-dict", str(bad)], capsys)
    assert status == 1
    assert "lacks the column(s) qc_pass" in err


def test_bad_id_column(tmp_path, capsys):
    status, err = run_cli(
        ["fit", str(EFFECT), "-k", "2", "--id-column", "CellLine", "--out-dir", str(tmp_path)],
        capsys,
    )
    assert status == 1
    assert "has no column 'CellLine'" in err
    assert "--id-column" in err
    assert "ModelID" in err


def test_non_numeric_column(tmp_path, capsys):
    table = pq.read_table(EFFECT).select([0, 1, 2])
    table = table.append_column("lineage", pq.read_table(EFFECT)["ModelID"])
    path = tmp_path / "mixed.parquet"
    pq.write_table(table, path)
    status, err = run_cli(["fit", str(path), "-k", "1", "--out-dir", str(tmp_path)], capsys)
    assert status == 1
    assert "lineage" in err


def test_negative_data_without_shift_min(tmp_path, capsys):
    status, err = run_cli(
        ["fit", str(EFFECT), "--gene-dict", str(GENE_DICT), "-k", "5", "--out-dir", str(tmp_path)],
        capsys,
    )
    assert status == 1
    assert "negative values" in err
    assert "--shift-min" in err
    assert not (tmp_path / "nmf_latent.parquet.gz").exists()


def test_fit_error_is_one_line(tmp_path, capsys):
    args = [
        *SAMPLE_ARGS[:-2],
        "5000",
        "--shift-min",
        "--init",
        "nndsvd",
        "--out-dir",
        str(tmp_path),
    ]
    status, err = run_cli(args, capsys)
    assert status == 1
    assert "error: the fit failed: init = 'nndsvd' can only be used when" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "x.parquet"], "the following arguments are required: -k/--n-components"),
        (["fit", "x.parquet", "-k", "0"], "expected a positive integer, got '0'"),
        (["fit", "x.parquet", "-k", "2", "--solver", "als"], "invalid choice: 'als'"),
        (["fit", "x.parquet", "-k", "2", "--l1-ratio", "2"], "expected a number in [0, 1]"),
        (["fit", "x.parquet", "-k", "2", "--random-state", "x"], "an integer or 'none'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_usage_errors_exit_2(args, message, capsys):
    status, err = run_cli(args, capsys)
    assert status == cli.EXIT_USAGE == 2
    assert message in err


def test_help_names_every_nmf_parameter(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["fit", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in [
        "--n-components",
        "--init",
        "--solver",
        "--beta-loss",
        "--tol",
        "--max-iter",
        "--random-state",
        "--alpha-W",
        "--alpha-H",
        "--l1-ratio",
        "--verbose",
        "--shuffle",
        "--gene-dict",
        "--id-column",
        "--shift-min",
        "--latent-out",
        "--weights-out",
        "--out-dir",
        "130 interrupted",
    ]:
        assert option in text, option


def test_nmf_options_reach_the_estimator(tmp_path, capsys):
    """--solver/--beta-loss/--alpha-*/... give the fit of the same NMF parameters."""
    args = [
        *SAMPLE_ARGS[:-2],
        "4",
        "--shift-min",
        "--solver",
        "mu",
        "--beta-loss",
        "kullback-leibler",
        "--init",
        "nndsvda",
        "--tol",
        "1e-3",
        "--max-iter",
        "40",
        "--random-state",
        "7",
        "--alpha-W",
        "0.001",
        "--alpha-H",
        "0.002",
        "--l1-ratio",
        "0.5",
        "--dtype",
        "float32",
        "--out-dir",
        str(tmp_path),
    ]
    assert cli.main(args) == 0, capsys.readouterr().err
    # --dtype float32 reads the data as float32, then shifts it in float32
    X = (
        seed_loader(EFFECT, GENE_DICT)
        .drop(columns=["ModelID"])
        .to_numpy(dtype=np.float32, copy=True)
    )
    X -= X.min()
    model = NMF(
        n_components=4,
        solver="mu",
        beta_loss="kullback-leibler",
        init="nndsvda",
        tol=1e-3,
        max_iter=40,
        random_state=7,
        alpha_W=0.001,
        alpha_H=0.002,
        l1_ratio=0.5,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        W = model.fit_transform(np.asfortranarray(X))
    latent = pd.read_parquet(tmp_path / "nmf_latent.parquet.gz")
    assert latent.columns.tolist() == ["ModelID", "NMF_0", "NMF_1", "NMF_2", "NMF_3"]
    assert latent["NMF_0"].dtype == np.float32
    np.testing.assert_array_equal(latent.iloc[:, 1:].to_numpy(), W)


# ---- progress on a terminal -------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_bar_on_a_terminal(tmp_path):
    """With stderr on a terminal the command shows a tqdm bar: iterations, criterion, time."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    leader, follower = pty.openpty()
    # a terminal of 24 x 120 (a new pseudo-terminal has 0 columns, and tqdm fits the bar
    # to the width)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gonmf",
            "fit",
            str(EFFECT),
            "-k",
            "5",
            "--shift-min",
            "--max-iter",
            "30",
            "--tol",
            "0",
            "--out-dir",
            str(tmp_path),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env=gonmf_env(),
    )
    os.close(follower)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 120)
            if not ready:
                break
            try:
                data = os.read(leader, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
        status = proc.wait(timeout=120)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert status == 0, text
    assert "gonmf: 100%" in text
    assert "30/30" in text
    assert "criterion=" in text
    assert "it/s" in text or "s/it" in text
