"""Small fits skip the fixed costs of large ones and behave the same.

cNMF-style workloads run thousands of fits of a few milliseconds each: such a fit runs
in the calling (main) thread instead of a worker thread, with Ctrl-C held back until
the call returns; worker threads are reused; parameter checks of repeated values are
cached. None of this may change a result, an error or the handling of Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import threading
import warnings

import numpy as np
import pytest

from gonmf import NMF, _core, _params
from gonmf._base import InvalidParameterError

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="main-thread paths"
)


def _small_X() -> np.ndarray:
    return np.abs(np.random.RandomState(0).randn(38, 500))


@pytest.mark.parametrize(
    ("shape", "params", "short"),
    [
        ((38, 5000), {"n_components": 3, "init": "random", "max_iter": 1}, True),
        ((38, 5000), {"n_components": 3, "init": "random", "max_iter": 200}, False),
        ((38, 5000), {"n_components": 3, "init": None, "max_iter": 1}, False),  # nndsvda's SVD
        ((38, 5000), {"n_components": 3, "init": "nndsvd", "max_iter": 1, "update_H": False}, True),
        ((10, 10), {"n_components": "auto", "init": "random", "max_iter": 1}, False),
        ((10, 10), {"n_components": None, "init": "random", "max_iter": 1}, True),
    ],
)
def test_is_short(shape, params, short):
    assert _core._is_short(shape, params) is short


def test_short_and_worker_paths_agree(monkeypatch):
    X = _small_X()
    kw = {"n_components": 3, "init": "random", "random_state": 5, "max_iter": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        short = NMF(**kw)
        W_short = short.fit_transform(X)
        monkeypatch.setattr(_core, "_SHORT_WORK", 0)
        worker = NMF(**kw)
        W_worker = worker.fit_transform(X)
    np.testing.assert_array_equal(W_short, W_worker)
    np.testing.assert_array_equal(short.components_, worker.components_)
    assert short.n_iter_ == worker.n_iter_
    assert short.reconstruction_err_ == worker.reconstruction_err_


def test_sigint_during_a_short_call_is_reported_after_it():
    control = _core.GonmfControl()
    steps = []

    def call() -> int:
        os.kill(os.getpid(), signal.SIGINT)  # handled by Python in this thread, now
        steps.append("returned")
        return 0

    status, interrupted = _core._call_interruptibly(call, control, None, short=True)
    assert (status, interrupted, steps) == (0, True, ["returned"])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_short_call_without_sigint_is_not_interrupted():
    status, interrupted = _core._call_interruptibly(lambda: 7, _core.GonmfControl(), short=True)
    assert (status, interrupted) == (7, False)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_short_call_keeps_a_custom_sigint_handler():
    seen = []

    def handler(signum, frame):
        seen.append(signum)

    def call() -> int:
        # Not replaced: the call runs in a worker, the handler stays the user's.
        assert signal.getsignal(signal.SIGINT) is handler
        return threading.current_thread() is threading.main_thread()

    old = signal.signal(signal.SIGINT, handler)
    try:
        status, interrupted = _core._call_interruptibly(call, _core.GonmfControl(), short=True)
    finally:
        signal.signal(signal.SIGINT, old)
    assert (status, interrupted) == (False, False)


def test_workers_are_reused():
    names = []

    def call() -> int:
        names.append(threading.current_thread())
        return 0

    for _ in range(3):
        _core._call_interruptibly(call, _core.GonmfControl())
    assert names[0] is not threading.main_thread()
    assert names[0] is names[1] is names[2]


def test_worker_failure_is_raised():
    def call() -> int:
        raise OSError("ctypes failed")

    with pytest.raises(OSError, match="ctypes failed"):
        _core._call_interruptibly(call, _core.GonmfControl())
    # The worker survives its call's failure.
    assert _core._call_interruptibly(lambda: 3, _core.GonmfControl()) == (3, False)


@pytest.mark.parametrize("repeat", [1, 2])
def test_cached_parameter_checks_still_reject(repeat):
    for _ in range(repeat):
        _params.validate_nmf_params({"tol": 0.5, "max_iter": 3, "init": "random"})
    # The same names with other values, or equal values of other types, are checked.
    for bad in ({"tol": -0.5}, {"max_iter": 3.0}, {"max_iter": 0}, {"init": "randomly"}):
        with pytest.raises(InvalidParameterError):
            _params.validate_nmf_params(bad)
