"""Loading ``libgonmf`` with ctypes, and calling it.

The library is loaded lazily, on the first call that needs it, never at import: the Go
runtime starts with the library, does not survive ``fork()``, and only one Go runtime can
live in a process. Importing :mod:`gonmf` is therefore always safe, also in a process that
forks workers later.
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path

__all__ = [
    "ABI_VERSION",
    "ArrowArray",
    "ArrowSchema",
    "GonmfControl",
    "GonmfLibraryError",
    "check_pid",
    "get_lib",
    "library_version",
    "status_to_exception",
]

#: The ABI version this Python package speaks (GONMF_ABI_VERSION in include/gonmf.h).
ABI_VERSION = 1

_LIB_BASENAME = "libgonmf.so"  # the name build.sh gives it on every platform
_ENV_VAR = "GONMF_LIBRARY"


class GonmfLibraryError(RuntimeError):
    """The native library cannot be found, loaded or used from this process."""


# ---- Arrow C Data Interface -------------------------------------------------------------


class ArrowSchema(ctypes.Structure):
    """``struct ArrowSchema`` of the Arrow C Data Interface."""


class ArrowArray(ctypes.Structure):
    """``struct ArrowArray`` of the Arrow C Data Interface."""


SCHEMA_RELEASE = ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowSchema))
ARRAY_RELEASE = ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowArray))

ArrowSchema._fields_ = [
    ("format", ctypes.c_char_p),
    ("name", ctypes.c_char_p),
    ("metadata", ctypes.c_void_p),  # binary encoded, not a C string
    ("flags", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowSchema))),
    ("dictionary", ctypes.POINTER(ArrowSchema)),
    ("release", SCHEMA_RELEASE),
    ("private_data", ctypes.c_void_p),
]

ArrowArray._fields_ = [
    ("length", ctypes.c_int64),
    ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64),
    ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowArray))),
    ("dictionary", ctypes.POINTER(ArrowArray)),
    ("release", ARRAY_RELEASE),
    ("private_data", ctypes.c_void_p),
]


class GonmfControl(ctypes.Structure):
    """``GonmfControl``: cancel flag (in) and progress (out) shared with a running fit."""

    _fields_ = [
        ("cancel", ctypes.c_int32),
        ("iteration", ctypes.c_int32),
        ("max_iter", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
        ("error", ctypes.c_double),
    ]


# ---- status codes -----------------------------------------------------------------------

GONMF_OK = 0
GONMF_ERR_VALUE = 1
GONMF_ERR_TYPE = 2
GONMF_ERR_INTERRUPTED = 3
GONMF_ERR_MEMORY = 4
GONMF_ERR_INTERNAL = 5

_STATUS_EXCEPTIONS: dict[int, type[BaseException]] = {
    GONMF_ERR_VALUE: ValueError,
    GONMF_ERR_TYPE: TypeError,
    GONMF_ERR_INTERRUPTED: KeyboardInterrupt,
    GONMF_ERR_MEMORY: MemoryError,
    GONMF_ERR_INTERNAL: RuntimeError,
}


def status_to_exception(status: int, message: str | None) -> BaseException:
    """The Python exception for a non-zero status code of the C ABI."""
    exc_type = _STATUS_EXCEPTIONS.get(status, RuntimeError)
    if not message:
        message = f"gonmf failed with status {status}"
    if exc_type is RuntimeError and status != GONMF_ERR_INTERNAL:
        message = f"{message} (unknown status {status})"
    return exc_type(message)


# ---- loading ----------------------------------------------------------------------------

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_loaded_pid: int | None = None

_FORK_MESSAGE = (
    "gonmf: the native library was loaded in process {parent} and this is a forked child "
    "(pid {child}). The Go runtime inside libgonmf does not survive fork(), so it cannot be "
    "used here. Use the 'spawn' or 'forkserver' start method of multiprocessing "
    "(multiprocessing.get_context('spawn') / 'forkserver'; joblib's default 'loky' backend "
    "is fine), or do not use gonmf in the parent before forking."
)


def check_pid() -> None:
    """Raise RuntimeError when called in a forked child of the process that loaded the library.

    Call it before every call into the library: it never touches the Go runtime.
    """
    pid = _loaded_pid
    if pid is not None and pid != os.getpid():
        raise GonmfLibraryError(_FORK_MESSAGE.format(parent=pid, child=os.getpid()))


def is_loaded() -> bool:
    """Whether this process has loaded the native library (never loads it)."""
    return _lib is not None and _loaded_pid == os.getpid()


def _library_path() -> str:
    override = os.environ.get(_ENV_VAR)
    if override:
        return override
    return str(Path(__file__).resolve().parent / _LIB_BASENAME)


def _declare(lib: ctypes.CDLL) -> None:
    schema_p = ctypes.POINTER(ArrowSchema)
    array_p = ctypes.POINTER(ArrowArray)

    lib.gonmf_abi_version.argtypes = []
    lib.gonmf_abi_version.restype = ctypes.c_int32

    lib.gonmf_version.argtypes = []
    lib.gonmf_version.restype = ctypes.c_char_p  # static storage: never freed

    lib.gonmf_free_string.argtypes = [ctypes.c_void_p]
    lib.gonmf_free_string.restype = None

    lib.gonmf_fit.argtypes = [
        schema_p,  # x_schema
        array_p,  # x_array
        schema_p,  # w_schema
        array_p,  # w_array
        schema_p,  # h_schema
        array_p,  # h_array
        ctypes.c_char_p,  # params_json
        ctypes.POINTER(GonmfControl),  # control
        schema_p,  # out_w_schema
        array_p,  # out_w_array
        schema_p,  # out_h_schema
        array_p,  # out_h_array
        ctypes.POINTER(ctypes.c_void_p),  # out_info_json (malloc'ed)
        ctypes.POINTER(ctypes.c_void_p),  # out_error (malloc'ed)
    ]
    lib.gonmf_fit.restype = ctypes.c_int32

    # Parquet helpers (used by the command line tools); declared when the library has them.
    if hasattr(lib, "gonmf_read_parquet"):
        lib.gonmf_read_parquet.argtypes = [
            ctypes.c_char_p,  # path
            ctypes.c_char_p,  # options_json
            schema_p,  # out_schema
            array_p,  # out_array
            ctypes.POINTER(ctypes.c_void_p),  # out_info_json
            ctypes.POINTER(ctypes.c_void_p),  # out_error
        ]
        lib.gonmf_read_parquet.restype = ctypes.c_int32
    if hasattr(lib, "gonmf_write_parquet"):
        lib.gonmf_write_parquet.argtypes = [
            ctypes.c_char_p,  # path
            schema_p,  # schema (moved in)
            array_p,  # array (moved in)
            ctypes.c_char_p,  # options_json
            ctypes.POINTER(ctypes.c_void_p),  # out_error
        ]
        lib.gonmf_write_parquet.restype = ctypes.c_int32


def get_lib() -> ctypes.CDLL:
    """The loaded library, loading it on first use."""
    global _lib, _loaded_pid
    check_pid()
    lib = _lib
    if lib is not None:
        return lib
    with _lock:
        check_pid()
        if _lib is not None:
            return _lib
        path = _library_path()
        if not os.path.exists(path):
            raise GonmfLibraryError(
                f"gonmf: the native library {path} does not exist. Reinstall gonmf "
                "(`pip install .` builds it; Go is needed), run `./build.sh lib` in a source "
                f"checkout, or point {_ENV_VAR} at a built {_LIB_BASENAME}."
            )
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            raise GonmfLibraryError(
                f"gonmf: cannot load the native library {path}: {exc}. Note that only one "
                "Go shared library can be loaded into a process."
            ) from exc
        _loaded_pid = os.getpid()
        try:
            _declare(lib)
        except AttributeError as exc:
            raise GonmfLibraryError(
                f"gonmf: {path} lacks a function of the gonmf C ABI: {exc}"
            ) from exc
        abi = lib.gonmf_abi_version()
        if abi != ABI_VERSION:
            raise GonmfLibraryError(
                f"gonmf: {path} implements C ABI version {abi}, but this Python package "
                f"needs version {ABI_VERSION}. Rebuild the library (./build.sh lib) or "
                "reinstall gonmf."
            )
        _lib = lib
        return lib


def library_version() -> str:
    """The version string of the loaded native library (loads it)."""
    raw = get_lib().gonmf_version()
    return raw.decode("utf-8", "replace") if raw else ""


def take_string(lib: ctypes.CDLL, ptr: ctypes.c_void_p) -> str | None:
    """Decode a malloc'ed string returned by the library and free it."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value).decode("utf-8", "replace")
    finally:
        lib.gonmf_free_string(ptr.value)
        ptr.value = None


def release_schema(schema: ArrowSchema) -> None:
    """Release an ArrowSchema we still own (no-op when moved or released)."""
    if schema.release:
        schema.release(ctypes.byref(schema))
        schema.release = SCHEMA_RELEASE()


def release_array(array: ArrowArray) -> None:
    """Release an ArrowArray we still own (no-op when moved or released)."""
    if array.release:
        array.release(ctypes.byref(array))
        array.release = ARRAY_RELEASE()
