"""Ctrl-C stops a long fit within 2 seconds and leaves the library usable.

SIGINT is sent to a process in the middle of a fit that would otherwise run for hours:
the ``gonmf`` command (exit status 130), a Python script using the API
(KeyboardInterrupt, then a second fit in the same process) and a Jupyter kernel
(KeyboardInterrupt in the cell, then a second fit in the same kernel).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import gonmf
from gonmf import datasets

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

DEADLINE = 2.0  # the contract: a fit stops within 2 seconds of Ctrl-C
SETTLE = 0.5  # how long the fit runs before it is interrupted


def gonmf_env() -> dict[str, str]:
    """The environment of a subprocess that must import this very gonmf."""
    env = dict(os.environ)
    package_parent = str(Path(gonmf.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Lines:
    """The lines a subprocess writes to one pipe, read by a thread, with timeouts."""

    def __init__(self, pipe) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(pipe,), daemon=True).start()

    def _read(self, pipe) -> None:
        for line in pipe:
            self.queue.put(line)
        self.queue.put(None)

    def wait_for(self, text: str, timeout: float = 120) -> str:
        end = time.monotonic() + timeout
        while True:
            try:
                line = self.queue.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {text!r} within {timeout} s; got {self.seen}") from None
            if line is None:
                raise AssertionError(f"the process ended before {text!r}; got {self.seen}")
            self.seen.append(line)
            if text in line:
                return line

    def rest(self, timeout: float = 30) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.queue.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
        return "".join(self.seen)


def interrupt(proc: subprocess.Popen) -> float:
    """Send SIGINT and return the time it was sent (time.monotonic)."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    return sent


def test_cli_exits_130_within_2_seconds(tmp_path):
    effect, _ = datasets.write_sample(tmp_path / "data", 300, 800, seed=0)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gonmf",
            "fit",
            str(effect),
            "--n-components",
            "20",
            "--shift-min",
            "--tol",
            "0",
            "--max-iter",
            "100000000",
            "--out-dir",
            str(tmp_path / "results"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=gonmf_env(),
    )
    try:
        err = Lines(proc.stderr)
        err.wait_for("factorising")
        time.sleep(SETTLE)
        sent = interrupt(proc)
        status = proc.wait(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.rest()
    assert status == 130, text
    assert elapsed < DEADLINE, f"exited {elapsed:.2f} s after SIGINT"
    assert "gonmf fit: interrupted" in text
    assert "Traceback" not in text
    assert not (tmp_path / "results" / "nmf_latent.parquet.gz").exists()


API_SCRIPT = textwrap.dedent(
    """
    import time
    import numpy as np
    import gonmf

    rng = np.random.RandomState(0)
    X = rng.random_sample((300, 400))
    small = X[:40, :30]
    gonmf.NMF(n_components=3, max_iter=5, tol=0).fit(small)  # the library is loaded
    print("ready", flush=True)
    try:
        gonmf.NMF(n_components=20, tol=0, max_iter=100_000_000, random_state=0).fit(X)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
    else:
        print("the fit was not interrupted", flush=True)
    model = gonmf.NMF(n_components=3, max_iter=500, random_state=0)
    W = model.fit_transform(small)
    ref = gonmf.NMF(n_components=3, max_iter=500, random_state=0).fit_transform(small)
    print("second fit", W.shape, model.n_iter_, bool(np.array_equal(W, ref)), flush=True)
    """
)


def test_api_raises_keyboardinterrupt_within_2_seconds_then_fits_again():
    proc = subprocess.Popen(
        [sys.executable, "-c", API_SCRIPT],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=gonmf_env(),
    )
    try:
        out = Lines(proc.stdout)
        out.wait_for("ready")
        time.sleep(SETTLE)
        sent = interrupt(proc)
        out.wait_for("KeyboardInterrupt", timeout=30)
        elapsed = time.monotonic() - sent
        line = out.wait_for("second fit", timeout=120)
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert elapsed < DEADLINE, f"KeyboardInterrupt {elapsed:.2f} s after SIGINT"
    assert status == 0, out.rest()
    assert line.startswith("second fit (40, 3)")
    assert line.strip().endswith("True")


def test_jupyter_kernel_interrupt_keeps_the_kernel_usable():
    """Interrupting the kernel (Ctrl-C in a notebook) ends the cell with KeyboardInterrupt
    within 2 seconds; the next cell fits in the same kernel."""
    pytest.importorskip("ipykernel")
    jupyter_client = pytest.importorskip("jupyter_client")

    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env=gonmf_env())
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)

        def run(code: str, timeout: float = 120) -> dict:
            msg_id = kc.execute(code)
            while True:
                reply = kc.get_shell_msg(timeout=timeout)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return reply["content"]

        setup = run(
            "import numpy as np, gonmf\n"
            "X = np.random.RandomState(0).random_sample((300, 400))\n"
            "gonmf.NMF(n_components=3, max_iter=5, tol=0).fit(X[:40, :30])\n"
            "print('pid', __import__('os').getpid())"
        )
        assert setup["status"] == "ok", setup
        pid = km.provisioner.pid if km.provisioner is not None else None

        msg_id = kc.execute(
            "gonmf.NMF(n_components=20, tol=0, max_iter=100_000_000, random_state=0).fit(X)"
        )
        time.sleep(SETTLE + 0.5)  # the request reaches the kernel and the fit starts
        sent = time.monotonic()
        km.interrupt_kernel()
        while True:
            reply = kc.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        elapsed = time.monotonic() - sent
        assert reply["content"]["status"] == "error", reply["content"]
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert elapsed < DEADLINE, f"the cell ended {elapsed:.2f} s after the interrupt"

        again = run(
            "m = gonmf.NMF(n_components=3, max_iter=500, random_state=0)\n"
            "W = m.fit_transform(X[:40, :30])\n"
            "assert W.shape == (40, 3), W.shape"
        )
        assert again["status"] == "ok", again
        assert km.is_alive()
        if pid is not None:
            assert km.provisioner.pid == pid  # the same kernel process, not a restart
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
