"""Loading compiled libraries into the process: the support libraries once, then steps.

Steps leave their calls into the C runtime (runtime_c/: status, Philox, thread
pool, profiling) and the GEMM library undefined; both are loaded first, once
per process and RTLD_GLOBAL, so those calls resolve against them and the
process has a single thread pool. Building them is the backend's job
(backend/libraries.py); this module only loads paths it is given, so running
a step needs no LLVM.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import cffi

from graphc import environment, errors
from graphc.runtime import abi, profile

_ffi = cffi.FFI()
_ffi.cdef(abi.cdef(abi.RUNTIME_FUNCTIONS.values()))
_lock = threading.Lock()
_runtime = None


def load_support_libraries(runtime_path: Path, gemm_path: Path) -> None:
    """Loads the C runtime and the GEMM library (RTLD_GLOBAL), once per process."""
    global _runtime
    with _lock:
        if _runtime is not None:
            return
        ctypes.CDLL(str(runtime_path), mode=ctypes.RTLD_GLOBAL)
        ctypes.CDLL(str(gemm_path), mode=ctypes.RTLD_GLOBAL)
        _runtime = _ffi.dlopen(str(runtime_path))
        if environment.get().profile:
            profile.report_at_exit(_runtime)


def is_loaded() -> bool:
    """Whether the support libraries are loaded (steps can be loaded and run)."""
    return _runtime is not None


def runtime():
    """The loaded C runtime's functions (`abi.RUNTIME_FUNCTIONS`), through cffi."""
    if _runtime is None:
        raise errors.FailedPreconditionError(None, None, "graphc's C runtime is not loaded yet (it loads with the "
                                                         "first compiled step)")
    return _runtime


def num_threads() -> int:
    """The size of the thread pool (GRAPHC_NUM_THREADS, default the number of CPUs)."""
    return runtime().graphc_num_threads()


def set_num_threads(threads: int) -> int:
    """Resizes the thread pool (threads < 1: back to the default); returns the new size."""
    return runtime().graphc_set_num_threads(int(threads))
