"""Write the deterministic DepMap-like sample data: ``gonmf make-sample`` as a script.

The generator lives in the package (:mod:`gonmf.datasets`); this wrapper is kept for the
references to it. The bundled ``examples/data`` was written by::

    gonmf make-sample examples/data --samples 300 --genes 800 --seed 0

Usage: ``python examples/make_sample.py OUT_DIR [--samples N] [--genes M] [--seed S]``
"""

from __future__ import annotations

import sys

from gonmf.cli import main

if __name__ == "__main__":
    sys.exit(main(["make-sample", *sys.argv[1:]]))
