"""Parquet -> NMF end to end: gonmf's Go reader against pandas.read_parquet.

Each path runs in a fresh interpreter; the script prints wall time and the
process's peak RSS (VmHWM) for both. Usage:

    python -m gonmf make-sample /tmp/big18k --samples 1150 --genes 18000
    python bench/parquet_path.py /tmp/big18k/CRISPRGeneEffect.parquet [--max-iter 20]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

FIT = "NMF(n_components=50, random_state=0, max_iter={max_iter}).fit_transform(X)"

GO_PATH = """
import time, warnings
warnings.simplefilter("ignore")
start = time.perf_counter()
import gonmf
from gonmf import NMF
X = gonmf.read_parquet({path!r}, id_column="ModelID")
X = X.drop(X.nan_columns).to_numpy()  # one F-ordered copy without the NaN genes
X -= min(X.min(), 0.0)  # the seed's shift, in place
W = {fit}
"""

PANDAS_PATH = """
import time, warnings
warnings.simplefilter("ignore")
start = time.perf_counter()
import pandas as pd
from gonmf import NMF
df = pd.read_parquet({path!r})
X = df.drop(columns=["ModelID"])
X = X.loc[:, ~X.isna().any()]
X = X - min(X.min().min(), 0.0)
W = {fit}
"""

REPORT = """
elapsed = time.perf_counter() - start
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
import json
print(json.dumps({"seconds": elapsed, "peak_mib": peak / 1024, "shape": list(W.shape)}))
"""


def run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    fit = FIT.format(max_iter=args.max_iter)
    rows = {"gonmf.read_parquet": [], "pandas.read_parquet": []}
    paths = {"gonmf.read_parquet": GO_PATH, "pandas.read_parquet": PANDAS_PATH}
    for _ in range(args.repeats):  # alternate, so machine noise hits both
        for name, code in paths.items():
            rows[name].append(run(code.format(path=args.path, fit=fit) + REPORT))
    print("| path | median time | median peak RSS | W |")
    print("| --- | --- | --- | --- |")
    for name, runs in rows.items():
        t = sorted(r["seconds"] for r in runs)[len(runs) // 2]
        m = sorted(r["peak_mib"] for r in runs)[len(runs) // 2]
        print(f"| {name} | {t:.2f} s | {m:.0f} MiB | {runs[0]['shape']} |")


if __name__ == "__main__":
    main()
