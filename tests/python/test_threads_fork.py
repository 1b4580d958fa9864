"""Issue #7: threads and processes cannot take the Python process down.

- 8 Python threads fitting different data at once give exactly the sequential results
  (ctypes releases the GIL, so the fits really run in parallel in the Go runtime);
- the library loads lazily, so a process that forks before using gonmf is fine;
- multiprocessing with 'spawn' and 'forkserver' works after the parent loaded the library;
- a child forked after the library was loaded gets a RuntimeError naming the fix, not a
  deadlock.

Process tests run in a fresh interpreter, so pytest's own process never forks with the Go
runtime inside.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import datasets
import gonmf
from gonmf import NMF

# warnings.catch_warnings is not thread-safe: fits in threads may still warn
pytestmark = pytest.mark.filterwarnings("ignore:Maximum number of iterations")

PACKAGE_PARENT = str(Path(gonmf.__file__).resolve().parent.parent)
TIMEOUT = 300  # a deadlock fails the test instead of hanging the run


def _fits() -> list[tuple[str, object, dict]]:
    """8 different fits: data, container and parameters all differ."""
    pd = pytest.importorskip("pandas")
    out = []
    for i in range(8):
        X = datasets.nonnegative(50 + 7 * i, 30 + 3 * i, rank=3 + i % 3, seed=100 + i)
        params = {"n_components": 3 + i % 4, "random_state": i, "max_iter": 150}
        if i % 4 == 1:
            X = X.astype(np.float32)
        if i % 4 == 2:
            X = pd.DataFrame(X, columns=[f"g{j}" for j in range(X.shape[1])])
        if i % 4 == 3:
            X = np.asfortranarray(X)
        params["solver"] = ("cd", "mu", "hals", "cd")[i % 4]
        if i == 5:
            params["init"] = "random"
        if i == 6:
            params.update(shuffle=True, alpha_W=0.01, l1_ratio=0.5)
        out.append((f"fit{i}", X, params))
    return out


def _fit(X, params) -> tuple[np.ndarray, np.ndarray, int, float]:
    model = NMF(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = model.fit_transform(X)
    return np.array(W), np.array(model.components_), model.n_iter_, model.reconstruction_err_


def test_eight_threads_match_sequential_fits():
    fits = _fits()
    sequential = [_fit(X, params) for _, X, params in fits]

    start = threading.Barrier(len(fits))
    results: list = [None] * len(fits)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait(timeout=TIMEOUT)
            _, X, params = fits[i]
            results[i] = _fit(X, params)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    for _round in range(2):  # twice: the Go runtime's threads are reused the second time
        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(fits))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
        assert not any(t.is_alive() for t in threads), "a fitting thread hung"
        assert not errors, errors
        for (name, _, _), got, want in zip(fits, results, sequential):
            np.testing.assert_array_equal(got[0], want[0], err_msg=name)
            np.testing.assert_array_equal(got[1], want[1], err_msg=name)
            assert got[2:] == want[2:], name
        start.reset()


def test_threads_transform_one_shared_model():
    """transform on one fitted model from 8 threads (components_ is shared C memory)."""
    X = datasets.nonnegative(80, 40, rank=4, seed=1)
    model = NMF(n_components=4, random_state=0, max_iter=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    inputs = [datasets.nonnegative(20 + i, 40, rank=4, seed=i) for i in range(8)]
    want = [np.array(model.transform(x)) for x in inputs]
    got: list = [None] * 8

    def work(i: int) -> None:
        got[i] = np.array(model.transform(inputs[i]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


# ---- processes ------------------------------------------------------------------------------


def _run_script(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    # A file, not -c: spawn and forkserver children re-import the main module.
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PACKAGE_PARENT, *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        check=False,
        cwd=tmp_path,
    )


_WORKER = """
import multiprocessing as mp
import os
import sys
import warnings

import numpy as np

from gonmf import NMF, _lib


def data(seed):
    return np.random.RandomState(seed).rand(30, 12)


def work(seed):
    warnings.simplefilter("ignore")
    model = NMF(n_components=3, random_state=0, max_iter=100)
    W = model.fit_transform(data(seed))
    return os.getpid(), np.array(W), np.array(model.components_)
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_pool_after_library_loaded(tmp_path, method):
    if method not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    res = _run_script(
        tmp_path,
        _WORKER
        + f"""
if __name__ == "__main__":
    warnings.simplefilter("ignore")
    local = [work(s) for s in (0, 1)]   # the parent loads the library first
    assert _lib.is_loaded()
    with mp.get_context({method!r}).Pool(2) as pool:
        remote = pool.map_async(work, [0, 1]).get(timeout=240)
    for (pid, W, H), (_, W0, H0) in zip(remote, local):
        assert pid != os.getpid()
        assert np.array_equal(W, W0) and np.array_equal(H, H0)
    print("pool ok", len(remote))
    # and the parent still fits
    assert np.array_equal(work(0)[2], local[0][2])
    print("parent ok")
""",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "pool ok 2" in res.stdout
    assert "parent ok" in res.stdout


def test_fork_before_first_use_is_fine(tmp_path):
    """Importing gonmf loads nothing, so fork-based pools work until the parent fits."""
    res = _run_script(
        tmp_path,
        _WORKER
        + """
if __name__ == "__main__":
    warnings.simplefilter("ignore")
    assert not _lib.is_loaded()
    with mp.get_context("fork").Pool(2) as pool:
        remote = pool.map_async(work, [0, 1]).get(timeout=240)
    assert not _lib.is_loaded()  # only the children loaded it
    local = [work(s) for s in (0, 1)]
    for (_, W, H), (_, W0, H0) in zip(remote, local):
        assert np.array_equal(W, W0) and np.array_equal(H, H0)
    print("fork before load ok")
""",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "fork before load ok" in res.stdout


def test_fork_after_load_raises_runtime_error_naming_the_fix(tmp_path):
    res = _run_script(
        tmp_path,
        _WORKER
        + """
def use_parent_model(model):
    # components_ views the parent's C memory; transform must refuse before Go is touched
    return model.transform(data(3))


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    model = NMF(n_components=3, random_state=0, max_iter=50)
    model.fit(data(0))
    assert _lib.is_loaded()
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        for name, call in [
            ("fit", pool.apply_async(work, (1,))),
            ("transform", pool.apply_async(use_parent_model, (model,))),
        ]:
            try:
                call.get(timeout=240)
            except RuntimeError as exc:
                msg = str(exc)
                print(name, type(exc).__name__, "spawn" in msg, "forkserver" in msg)
            else:
                print(name, "no error")
    # a bare os.fork child: the same, and it exits cleanly (no release into Go)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            model.transform(data(3))
        except RuntimeError as exc:
            code = 0 if "spawn" in str(exc) else 2
        finally:
            del model
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status))
    print("parent", model.transform(data(3)).shape)
""",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "fit GonmfLibraryError True True" in res.stdout, res.stdout
    assert "transform GonmfLibraryError True True" in res.stdout, res.stdout
    assert "child exit 0" in res.stdout, res.stdout
    assert "parent (30, 3)" in res.stdout, res.stdout
    from gonmf.exceptions import GonmfLibraryError

    assert issubclass(GonmfLibraryError, RuntimeError)
