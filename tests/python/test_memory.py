"""Memory: a fit costs little beyond its input, and repeated fits do not leak.

Each measurement runs in a fresh interpreter, so that nothing else the test session did
shows up in its resident set. Peak RSS is VmHWM from /proc/self/status, reset to the
current RSS (by writing 5 to /proc/self/clear_refs) just before the fit, after the input
is built and the library is loaded (a tiny warm-up fit: the Go runtime and the library's
own pages are a one-off cost, not a function of the input).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gonmf

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc"
)

_PYTHONPATH = str(Path(gonmf.__file__).resolve().parent.parent)

_COMMON = textwrap.dedent(
    """
    import gc, json, sys, warnings
    import numpy as np

    def status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(key)
    """
)

_PEAK = _COMMON + textwrap.dedent(
    """
    engine, kind = sys.argv[1], sys.argv[2]
    n, m = 1150, 18000
    rng = np.random.default_rng(0)
    if kind == "numpy_f":
        X = np.asfortranarray(rng.random((n, m)))
        nbytes = X.nbytes
    else:
        import pandas as pd
        frame = pd.DataFrame(rng.random((n, m)), columns=[f"G{j} ({j})" for j in range(m)])
        frame.insert(0, "ModelID", [f"ACH-{i:06d}" for i in range(n)])
        X = frame.drop(columns=["ModelID"]) - 0.0  # one consolidated float block
        del frame
        nbytes = X.to_numpy(copy=False).nbytes
    if engine == "gonmf":
        from gonmf import NMF
    else:
        from sklearn.decomposition import NMF
    warnings.simplefilter("ignore")
    NMF(n_components=2, max_iter=2, random_state=0).fit_transform(rng.random((20, 10)))
    gc.collect()
    before = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    # Memory does not depend on the number of iterations: a few are enough.
    model = NMF(n_components=50, max_iter=5, random_state=0)
    W = model.fit_transform(X)
    peak = status("VmHWM")
    print(json.dumps({
        "input_bytes": int(nbytes),
        "before": before,
        "peak": peak,
        "copied_input": getattr(model, "fit_info_", {}).get("copied_input"),
    }))
    """
)

_LEAK = _COMMON + textwrap.dedent(
    """
    import os
    import pandas as pd
    import pyarrow as pa
    import polars as pl
    import gonmf

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(1)
    n, m, k = 60, 40, 4
    base = rng.random((n, m))
    names = [f"G{j}" for j in range(m)]
    path = sys.argv[1]
    gonmf.write_parquet(path, base, index=[f"ACH-{i}" for i in range(n)],
                        index_name="ModelID", columns=names)

    def make_input(i):
        # A different input kind each round, so every path in and out is repeated.
        X = base + i * 1e-3
        F = np.asfortranarray(X)
        kind = i % 8
        if kind == 0:
            return X
        if kind == 1:
            return F
        if kind == 2:
            return pd.DataFrame(F, columns=names, copy=False)
        if kind == 3:
            return pa.table({name: F[:, j] for j, name in enumerate(names)})
        if kind == 4:
            return pl.DataFrame({name: F[:, j] for j, name in enumerate(names)})
        if kind == 5:
            return pa.FixedShapeTensorArray.from_numpy_ndarray(X)
        if kind == 6:
            return pd.DataFrame(X, columns=names).astype({names[0]: np.float32})  # copied
        return gonmf.read_parquet(path, id_column="ModelID")

    def one(i):
        X = make_input(i)
        model = gonmf.NMF(n_components=k, max_iter=20, random_state=i)
        W = model.fit_transform(X)
        model.transform(X)
        gonmf.write_parquet(path + ".out", W, compression="none")

    for i in range(10):
        one(i)
    gc.collect()
    after_first = status("VmRSS")
    for i in range(10, int(sys.argv[2]) if len(sys.argv) > 2 else 200):
        one(i)
    gc.collect()
    after_200 = status("VmRSS")
    print(json.dumps({"after_first": after_first, "after_200": after_200}))
    """
)


def _run(script: str, *args: str) -> dict[str, int]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PYTHONPATH, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mb(nbytes: float) -> str:
    return f"{nbytes / 2**20:.0f} MiB"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["numpy_f", "pandas"])
def test_fit_peak_memory_is_small_next_to_the_input(kind: str, capsys) -> None:
    got = _run(_PEAK, "gonmf", kind)
    delta = got["peak"] - got["before"]
    ratio = delta / got["input_bytes"]
    lines = [
        f"{kind} 1150 x 18000 float64 ({_mb(got['input_bytes'])}), k=50: "
        f"gonmf peak +{_mb(delta)} ({ratio:.0%} of the input), "
        f"copied_input={got['copied_input']}"
    ]
    try:
        import sklearn  # noqa: F401
    except ImportError:
        pass
    else:
        sk = _run(_PEAK, "sklearn", kind)
        sk_delta = sk["peak"] - sk["before"]
        lines.append(
            f"{kind}: scikit-learn peak +{_mb(sk_delta)} "
            f"({sk_delta / sk['input_bytes']:.0%} of the input)"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert got["copied_input"] is False
    assert ratio < 0.25, lines[0]


def test_repeated_fits_do_not_leak(tmp_path: Path, capsys) -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("polars")
    got = _run(_LEAK, str(tmp_path / "leak.parquet"))
    growth = got["after_200"] - got["after_first"]
    with capsys.disabled():
        print(
            f"\nRSS after 10 rounds {_mb(got['after_first'])}, after 200 "
            f"{_mb(got['after_200'])} ({growth / 2**20:+.1f} MiB)"
        )
    assert growth < 10 * 2**20
