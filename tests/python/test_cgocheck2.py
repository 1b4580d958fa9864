"""Issue #7 under GOEXPERIMENT=cgocheck2: the cgo pointer rules are checked on every store.

A separate build of the library with the experiment on (build/cgocheck2/libgonmf.so,
built once per run; Go's build cache makes later runs take seconds, a cold build a minute
or two) runs the reliability table and the thread/process tests in a subprocess through
GONMF_LIBRARY. A violation of the cgo pointer rules aborts that subprocess ("fatal error:
Go pointer stored into non-Go memory"), which fails the test here.

Set GONMF_SKIP_CGOCHECK2=1 to skip it (e.g. in a quick local loop).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gonmf

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PACKAGE_PARENT = str(Path(gonmf.__file__).resolve().parent.parent)
INNER_TESTS = ["test_reliability.py", "test_threads_fork.py"]

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("GONMF_SKIP_CGOCHECK2") == "1", reason="GONMF_SKIP_CGOCHECK2=1"
    ),
    pytest.mark.skipif(shutil.which("go") is None, reason="cgocheck2 build needs Go"),
    pytest.mark.skipif(not (REPO / "capi").is_dir(), reason="cgocheck2 build needs the Go sources"),
]


@pytest.fixture(scope="session")
def cgocheck2_library() -> Path:
    """libgonmf.so built with GOEXPERIMENT=cgocheck2, once per pytest run."""
    out_dir = REPO / "build" / "cgocheck2"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "libgonmf.so"
    # Build beside it and rename: several developers' runs may build at once.
    tmp = out_dir / f"libgonmf.{os.getpid()}.so.tmp"
    env = dict(os.environ, GOEXPERIMENT="cgocheck2", CGO_ENABLED="1")
    try:
        res = subprocess.run(
            ["go", "build", "-buildmode=c-shared", "-o", str(tmp), "./capi"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        assert res.returncode == 0, f"cgocheck2 build failed:\n{res.stderr[-5000:]}"
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".h").unlink(missing_ok=True)  # cgo's header, not needed
    return out


def _env(library: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GONMF_LIBRARY"] = str(library)
    env["PYTHONPATH"] = os.pathsep.join([PACKAGE_PARENT, *filter(None, [env.get("PYTHONPATH")])])
    env["GONMF_SKIP_CGOCHECK2"] = "1"  # never recurse
    return env


def test_cgocheck2_library_is_built_with_the_experiment(cgocheck2_library):
    res = subprocess.run(
        ["go", "version", "-m", str(cgocheck2_library)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "GOEXPERIMENT=cgocheck2" in res.stdout, res.stdout
    # and a process given GONMF_LIBRARY really maps that file
    code = (
        "import numpy as np, gonmf\n"
        "gonmf.NMF(n_components=2, max_iter=5).fit(np.random.RandomState(0).rand(6, 4))\n"
        "print([l.split()[-1] for l in open('/proc/self/maps') if 'libgonmf' in l][0])\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_env(cgocheck2_library),
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip() == str(cgocheck2_library)


def test_cgocheck2_reliability_threads_and_processes(cgocheck2_library, capsys):
    """The reliability table, the C ABI cases, threads and processes, under cgocheck2."""
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *(str(HERE / name) for name in INNER_TESTS),
        ],
        capture_output=True,
        text=True,
        env=_env(cgocheck2_library),
        cwd=REPO,
        timeout=1800,
        check=False,
    )
    summary = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else "(no output)"
    with capsys.disabled():
        print(f"\n[cgocheck2] {cgocheck2_library}: {summary}")
    assert res.returncode == 0, (
        f"under GOEXPERIMENT=cgocheck2 (exit {res.returncode}):\n"
        f"{res.stdout[-6000:]}\n{res.stderr[-4000:]}"
    )
    assert not re.search(r"\d+ (failed|error)", summary), summary
    assert re.search(r"\d+ passed", summary), summary
