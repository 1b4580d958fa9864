"""examples/apply_nmf.ipynb runs, headless, in a real Jupyter kernel on the bundled sample."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pd = pytest.importorskip("pandas")

import gonmf  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "apply_nmf.ipynb"
NMF_COLUMNS = [f"NMF_{i}" for i in range(50)]


def test_notebook_is_committed_without_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == []
            assert cell["execution_count"] is None


def text_of(cell: dict, stream: str | None = None) -> str:
    """The text a code cell printed (on one stream) or displayed as text/plain."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream" and stream in (None, output["name"]):
            parts.append(output["text"])
        elif output["output_type"] in ("execute_result", "display_data") and stream is None:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def test_notebook_executes_in_a_jupyter_kernel(tmp_path, monkeypatch):
    # The notebook reads data/ and writes results/ next to itself: run a copy in tmp_path.
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    shutil.copytree(ROOT / "examples" / "data", tmp_path / "data")
    # The kernel is a subprocess: make it import this very gonmf.
    package_parent = str(Path(gonmf.__file__).resolve().parents[1])
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])),
    )

    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError when a cell fails

    cells = {cell["id"]: cell for cell in nb.cells}
    imports = text_of(cells["imports"])
    assert "Error" not in imports
    assert text_of(cells["load"]).strip() == "(300, 646)"  # ModelID + 645 genes
    assert "(300, 51)" in text_of(cells["latent"])
    assert "(645, 51)" in text_of(cells["weights"])
    # verbose=1: a progress bar (a widget with ipywidgets, else text on stderr) and the
    # summary line
    nmf_cell = cells["nmf"]
    widgets = [
        o
        for o in nmf_cell["outputs"]
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widgets or "200/200" in text_of(nmf_cell, "stderr")
    assert "gonmf: 200 iterations" in text_of(nmf_cell, "stdout")

    latent = pd.read_parquet(tmp_path / "results" / "nmf_latent.parquet.gz")
    weights = pd.read_parquet(tmp_path / "results" / "NMF_weight_matrix_gsea.parquet")
    assert latent.columns.tolist() == ["ModelID", *NMF_COLUMNS]
    assert weights.columns.tolist() == ["genes", *NMF_COLUMNS]
    assert latent.shape == (300, 51)
    assert weights.shape == (645, 51)
    assert np.isfinite(latent[NMF_COLUMNS].to_numpy()).all()
    assert (weights[NMF_COLUMNS].to_numpy() >= 0).all()
