"""The DepMap workflow on the bundled sample: ``gonmf fit`` with the seed's settings.

Equivalent to::

    gonmf fit examples/data/CRISPRGeneEffect.parquet \\
        --gene-dict examples/data/CRISPR_gene_dictionary.parquet \\
        --id-column ModelID --n-components 50 --shift-min --out-dir results

It keeps the genes that pass QC (renamed to their symbols), drops genes with missing
values, shifts the matrix by its global minimum, factorises it with ``gonmf.NMF`` and
writes ``results/nmf_latent.parquet.gz`` (``ModelID, NMF_0 .. NMF_49``: W) and
``results/NMF_weight_matrix_gsea.parquet`` (``genes, NMF_0 .. NMF_49``: H transposed).
Further arguments are passed on, e.g. ``--solver hals`` or ``--out-dir elsewhere``.
"""

from __future__ import annotations

import pathlib
import sys

from gonmf.cli import main

DATA = pathlib.Path(__file__).resolve().parent / "data"

if __name__ == "__main__":
    sys.exit(
        main(
            [
                "fit",
                str(DATA / "CRISPRGeneEffect.parquet"),
                "--gene-dict",
                str(DATA / "CRISPR_gene_dictionary.parquet"),
                "--id-column",
                "ModelID",
                "--n-components",
                "50",
                "--shift-min",
                "--out-dir",
                "results",
                *sys.argv[1:],
            ]
        )
    )
