"""The C runtime, loaded once per process: built into the cache, then opened RTLD_GLOBAL.

Step libraries leave their runtime calls (graphc_fail, graphc_parallel_for,
the Philox generators ...) undefined; loading this library globally first
resolves them, and gives the process a single thread pool.
"""

from __future__ import annotations

import ctypes
import functools
import threading

import cffi

from graphc import profile
from graphc.backend import cache, toolchain

_ffi = cffi.FFI()
_ffi.cdef("""
    int32_t graphc_num_threads(void);
    int32_t graphc_set_num_threads(int32_t threads);
""")
_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _library():
    with _lock:
        name = f"libgraphc_runtime-{toolchain.runtime_digest()}.so"
        path = cache.cached_file(name) or cache.store_file(name, toolchain.build_runtime_library)
        ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        if profile.enabled():
            profile.report_at_exit(str(path))
        return _ffi.dlopen(str(path))


def ensure_loaded() -> None:
    """Loads the runtime (building it into the cache the first time)."""
    _library()


def num_threads() -> int:
    """The size of the thread pool (GRAPHC_NUM_THREADS, default the number of CPUs)."""
    return _library().graphc_num_threads()


def set_num_threads(threads: int) -> int:
    """Resizes the thread pool (threads < 1: back to the default); returns the new size."""
    return _library().graphc_set_num_threads(int(threads))
