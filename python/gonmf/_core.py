"""One call into the engine: export the inputs, run ``gonmf_fit``, import W and H."""

from __future__ import annotations

import ctypes
import importlib.util
import json
import math
import numbers
import os
import queue
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _lib
from ._arrow import PreparedMatrix, export_to_c, import_matrix, to_fixed_size_list
from ._lib import ArrowArray, ArrowSchema, GonmfControl

__all__ = ["FitOutput", "random_state_param", "run_fit"]


@dataclass
class FitOutput:
    W: np.ndarray
    H: np.ndarray | None
    info: dict[str, Any]


# ---- random_state -----------------------------------------------------------------------


def random_state_param(random_state: Any) -> tuple[Any, np.random.RandomState | None]:
    """The JSON value for ``random_state`` and the RandomState to write the final state into.

    Mirrors sklearn.utils.check_random_state: an integer seeds a fresh RandomState at each
    use; None means numpy's global RandomState; a RandomState is used (and advanced) as is.
    """
    if random_state is None or random_state is np.random:
        rs = np.random.mtrand._rand
    elif isinstance(random_state, numbers.Integral):
        seed = int(random_state)
        if not 0 <= seed <= 2**32 - 1:
            raise ValueError("Seed must be between 0 and 2**32 - 1")
        return seed, None
    elif isinstance(random_state, np.random.RandomState):
        rs = random_state
    else:
        raise ValueError(
            f"{random_state!r} cannot be used to seed a numpy.random.RandomState instance"
        )
    state = rs.get_state(legacy=True)
    if not isinstance(state, tuple) or state[0] != "MT19937":
        raise ValueError(f"unsupported RandomState bit generator: {state!r}")
    _, keys, pos, has_gauss, cached = state
    obj = {
        "keys": [int(k) for k in keys],
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }
    return obj, rs


def _restore_random_state(rs: np.random.RandomState, state: dict[str, Any]) -> None:
    keys = np.asarray(state["keys"], dtype=np.uint32)
    if keys.shape != (624,):
        raise RuntimeError("gonmf: the library returned a malformed random_state")
    rs.set_state(
        (
            "MT19937",
            keys,
            int(state["pos"]),
            int(state.get("has_gauss", 0)),
            float(state.get("cached_gaussian", 0.0)),
        )
    )


# ---- the call ---------------------------------------------------------------------------


class _Worker:
    """A daemon thread that runs calls for ``_call_interruptibly``, kept for the next one.

    Starting a thread for every call cost about half a millisecond (the Go runtime also
    has to adopt each new thread that calls into it), as much as a whole small fit.
    Idle workers wait in ``_idle``; a call takes one or starts a new one, so concurrent
    callers (threads with a reporter) each get their own.
    """

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="gonmf-fit", daemon=True).start()

    def _loop(self) -> None:
        while True:
            call, result, failure, done = self.jobs.get()
            try:
                result.append(call())
            except BaseException as exc:  # pragma: no cover - ctypes itself failed
                failure.append(exc)
            finally:
                # Idle again before the caller wakes up, so that its next call reuses us.
                with _idle_lock:
                    _idle.append(self)
                done.release()


_idle: list[_Worker] = []
_idle_lock = threading.Lock()


def _forget_workers() -> None:
    """In a forked child the workers' threads do not exist."""
    global _idle_lock
    _idle.clear()
    _idle_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def _call_interruptibly(
    call: Any, control: GonmfControl, reporter: _Reporter | None = None, short: bool = False
) -> tuple[int, bool]:
    """Run ``call()`` (which releases the GIL) so that Ctrl-C cancels it.

    In the main thread the call runs in a worker thread while the main thread waits in an
    interruptible loop: a KeyboardInterrupt sets the cancel flag, and we wait for the
    engine to notice (at least once per iteration) before returning. Elsewhere the call
    runs directly, unless a ``reporter`` shows progress, which the waiting thread reads
    from the control block (so that it reaches sys.stdout or a notebook cell).

    A ``short`` call (a few milliseconds at most) runs directly in the main thread too:
    handing it to a worker and back cost more than a small fit's engine work. Ctrl-C
    during it is held back by a temporary SIGINT handler and reported once the call
    returns, as the loop below reports it, so no KeyboardInterrupt can separate the call
    from the handling of its outputs. This is done only when SIGINT raises
    KeyboardInterrupt as by default.
    """
    main = threading.current_thread() is threading.main_thread()
    if not main and reporter is None:
        return call(), False
    if short and reporter is None and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        caught: list[int] = []
        signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
        try:
            status = call()
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        return status, bool(caught)
    result: list[int] = []
    failure: list[BaseException] = []
    # `done` is held until the call returns. Thread.join() is not used to wait: on
    # Python < 3.12 a KeyboardInterrupt inside join() can mark a running thread as stopped.
    done = threading.Lock()
    done.acquire()
    with _idle_lock:
        worker = _idle.pop() if _idle else None
    if worker is None:
        worker = _Worker()
    worker.jobs.put((call, result, failure, done))
    interrupted = False
    while True:
        try:
            # Wake up regularly: SIGINT may be delivered to one of the Go runtime's threads,
            # and then only sets Python's flag without interrupting this wait. The handler
            # (KeyboardInterrupt) runs when this thread is back in the interpreter.
            if done.acquire(timeout=0.05):
                break
            if reporter is not None:
                reporter.update(control)
        except KeyboardInterrupt:
            control.cancel = 1
            interrupted = True
    if failure:
        raise failure[0]
    return result[0], interrupted


class _Reporter:
    """Shows the progress of a fit; the base class prints scikit-learn's verbose lines.

    ``update`` is called about every 50 ms while the fit runs, ``close`` once after it,
    ``report`` with the engine's info once the fit succeeded. The base class prints,
    from the per-iteration history the engine records for verbose fits, the lines
    scikit-learn prints (they appear when the fit returns, not live: use a terminal or
    Jupyter for a live progress bar).
    """

    def __init__(self, params: dict[str, Any]) -> None:
        self.last = 0
        self.solver = params.get("solver", "cd")
        self.tol = float(params.get("tol", 1e-4))

    def update(self, control: GonmfControl) -> None:
        self.last = max(int(control.iteration), self.last)

    def close(self, control: GonmfControl, status: int | None) -> None:
        self.update(control)

    def report(self, info: dict[str, Any]) -> None:
        history = info.get("history") or []
        if self.solver == "mu":
            # scikit-learn measures the error every 10 iterations when tol > 0.
            for entry in history:
                if self.tol > 0 and entry["iter"] % 10 == 0 and entry["value"] is not None:
                    print(
                        f"Epoch {entry['iter']:02d} reached after {entry['seconds']:.3f} "
                        f"seconds, error: {entry['value']:f}"
                    )
            if history and history[-1]["iter"] % 10 != 0:
                last = history[-1]
                print(f"Epoch {last['iter']} reached after {last['seconds']:.3f} seconds.")
        else:
            for entry in history:
                if entry["value"] is not None:
                    print("violation:", float(entry["value"]))
            if info.get("converged"):
                # scikit-learn prints n_iter + 1 here.
                print("Converged at iteration", int(info.get("n_iter", 0)) + 1)
        sys.stdout.flush()


class _BarReporter(_Reporter):
    """A tqdm progress bar: iterations, the engine's criterion, elapsed and rate.

    The criterion is the loss for 'mu' (computed every 10 iterations) and, for 'cd' and
    'hals', the projected-gradient ratio that stops the fit when it falls below ``tol``.
    """

    def __init__(self, params: dict[str, Any], bar_class: Any, file: Any) -> None:
        super().__init__(params)
        self.label = "loss" if params.get("solver") == "mu" else "criterion"
        total = int(params.get("max_iter", 0)) or None
        self.bar = bar_class(total=total, desc="gonmf", unit="it", file=file, leave=True)

    def update(self, control: GonmfControl) -> None:
        iteration = int(control.iteration)
        if iteration <= self.last:
            return
        err = float(control.error)
        if not math.isnan(err):
            self.bar.set_postfix_str(f"{self.label}={err:.4g}", refresh=False)
        self.bar.update(iteration - self.last)
        self.last = iteration

    def close(self, control: GonmfControl, status: int | None) -> None:
        self.update(control)
        if status == _lib.GONMF_OK and self.bar.total and self.bar.n < self.bar.total:
            self.bar.total = self.bar.n  # converged early: a finished bar, not a failed one
        elif status == _lib.GONMF_ERR_INTERRUPTED or status is None:
            self.bar.set_description_str("gonmf (interrupted)", refresh=False)
        self.bar.close()

    def report(self, info: dict[str, Any]) -> None:
        """The bar has shown the progress live: no per-iteration lines after it."""


def _in_jupyter_kernel() -> bool:
    """Whether this is an IPython kernel (Jupyter), as tqdm.autonotebook decides it."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
        return shell is not None and "IPKernelApp" in shell.config
    except Exception:  # pragma: no cover - an unusual IPython
        return False


def _make_reporter(params: dict[str, Any]) -> _Reporter | None:
    """The progress display for ``verbose``: none, a progress bar or printed lines.

    A Jupyter kernel gets tqdm's notebook widget (text on stderr without ipywidgets), a
    terminal a tqdm bar on stderr; elsewhere (a log file, a pipe, captured output) one
    line per iteration on stdout.
    """
    if not int(params.get("verbose", 0) or 0):
        return None
    in_kernel = _in_jupyter_kernel()
    stderr = sys.stderr
    try:
        on_terminal = stderr is not None and stderr.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        on_terminal = False
    if not (in_kernel or on_terminal):
        return _Reporter(params)
    try:
        # tqdm.auto's choice, without its warning when ipywidgets is missing (the
        # `notebook` extra installs it): the text bar works in a notebook too.
        if in_kernel and importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.notebook import tqdm
        else:
            from tqdm.std import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return _Reporter(params)
    return _BarReporter(params, tqdm, stderr)


# A fit whose estimated work (multiply-adds with X) is below this takes a millisecond or
# two: it runs without a worker thread (see _call_interruptibly). The library's
# engineHops (capi/fit.go) keeps such a fit on the calling thread by the same rule.
_SHORT_WORK = 4_000_000


def _is_short(shape: tuple[int, int], params: dict[str, Any]) -> bool:
    """Whether a fit is surely short: X's size times the columns it is multiplied by.

    Each iteration multiplies X by k columns twice; the nndsvd inits add a randomized SVD
    (about ten passes over X with k + 10 columns).
    """
    n, m = shape
    try:
        k = int(params.get("n_components") or m)
        iters = int(params.get("max_iter", 200))
    except (TypeError, ValueError):
        return False
    init = params.get("init")
    svd = 0 if init in ("random", "custom") or not params.get("update_H", True) else 10 * (k + 10)
    return n * m * (2 * k * iters + svd) < _SHORT_WORK


def run_fit(
    x: PreparedMatrix,
    params: dict[str, Any],
    *,
    w: np.ndarray | None = None,
    h: np.ndarray | None = None,
    random_state: Any = None,
    want_h: bool = True,
) -> FitOutput:
    """Fit ``x`` with ``params`` (the JSON keys of the C ABI, without random_state).

    ``w``/``h`` are optional initial (or, with update_H false, fixed) factors of x's dtype.
    Returns W (n_samples x k), H (k x n_features, None unless ``want_h``) and the info
    object of the library.
    """
    rs_json, rs_target = random_state_param(random_state)
    payload = dict(params)
    payload["random_state"] = rs_json
    params_json = json.dumps(payload, allow_nan=False).encode()

    lib = _lib.get_lib()  # raises in a forked child before touching Go

    k = int(params["n_components"])
    inputs: list[tuple[ArrowSchema, ArrowArray]] = []
    keepalive: list[Any] = [x.keepalive]
    try:
        x_c = export_to_c(x.obj)
        inputs.append(x_c)
        w_c: tuple[ArrowSchema, ArrowArray] | None = None
        h_c: tuple[ArrowSchema, ArrowArray] | None = None
        if w is not None:
            w_arrow = to_fixed_size_list(w)
            keepalive.append((w, w_arrow))
            w_c = export_to_c(w_arrow)
            inputs.append(w_c)
        if h is not None:
            h_arrow = to_fixed_size_list(h)
            keepalive.append((h, h_arrow))
            h_c = export_to_c(h_arrow)
            inputs.append(h_c)

        out_w = (ArrowSchema(), ArrowArray())
        out_h = (ArrowSchema(), ArrowArray()) if want_h else None
        info_ptr = ctypes.c_void_p()
        err_ptr = ctypes.c_void_p()
        control = GonmfControl()

        def ref(obj: Any) -> Any:
            return ctypes.byref(obj) if obj is not None else None

        texts: dict[str, str | None] = {}

        def call() -> int:
            status = lib.gonmf_fit(
                ref(x_c[0]),
                ref(x_c[1]),
                ref(w_c[0]) if w_c else None,
                ref(w_c[1]) if w_c else None,
                ref(h_c[0]) if h_c else None,
                ref(h_c[1]) if h_c else None,
                params_json,
                ctypes.byref(control),
                ref(out_w[0]),
                ref(out_w[1]),
                ref(out_h[0]) if out_h else None,
                ref(out_h[1]) if out_h else None,
                ctypes.byref(info_ptr),
                ctypes.byref(err_ptr),
            )
            # Take the strings on this thread, which the Go runtime has just run on:
            # from another one, the call into Go waited for the runtime (~0.1 ms).
            texts["info"] = _lib.take_string(lib, info_ptr)
            texts["error"] = _lib.take_string(lib, err_ptr)
            return status

        verbose = int(params.get("verbose", 0) or 0)
        reporter = _make_reporter(params)
        status: int | None = None
        try:
            status, interrupted = _call_interruptibly(
                call, control, reporter, short=_is_short(x.shape, params)
            )
        finally:
            if reporter is not None:
                reporter.close(control, status)
    finally:
        # The library moves its inputs; release whatever it did not take (never on success
        # of a conforming library, but an early error path must not leak).
        for schema, array in inputs:
            _lib.release_array(array)
            _lib.release_schema(schema)
        del keepalive

    # call() took both strings before returning a status (an exception in it propagates).
    info_text, error_text = texts["info"], texts["error"]
    if status != _lib.GONMF_OK:
        for schema, array in [out_w, *([out_h] if out_h else [])]:
            _lib.release_array(array)
            _lib.release_schema(schema)
        raise _lib.status_to_exception(status, error_text)

    n_samples, n_features = x.shape
    W = import_matrix(out_w[0], out_w[1], n_samples, k, x.dtype, "W")
    H = None
    if out_h is not None:
        H = import_matrix(out_h[0], out_h[1], k, n_features, x.dtype, "H")
    if interrupted:
        raise KeyboardInterrupt
    try:
        info = json.loads(info_text) if info_text else {}
    except ValueError as exc:
        raise RuntimeError(f"gonmf: the library returned malformed info JSON: {exc}") from exc
    if reporter is not None:
        reporter.report(info)
    if verbose:
        print(
            f"gonmf: {info.get('n_iter')} iterations, "
            f"{'converged' if info.get('converged') else 'not converged'}, "
            f"reconstruction error {info.get('reconstruction_err')}",
            flush=True,
        )
    final_state = info.get("random_state")
    if rs_target is not None and isinstance(final_state, dict):
        _restore_random_state(rs_target, final_state)
    return FitOutput(W, H, info)
