"""The libraries every step uses, loaded once per process and opened RTLD_GLOBAL:

- the C runtime (runtime_c/: status, Philox, thread pool, profiling), built with cc;
- the GEMM library (kernels/gemm.py), generated as LLVM IR for this host.

Both are built into the cache the first time and then reused. Step libraries
leave calls into them undefined; loading these globally first resolves those
calls, and gives the process a single thread pool.
"""

from __future__ import annotations

import ctypes
import functools
import threading

import cffi

from graphc.runtime import profile
from graphc.runtime import cache
from graphc.backend import codegen, toolchain
from graphc.backend.kernels.gemm import GEMM_DTYPES, emit_gemm_functions

_ffi = cffi.FFI()
_ffi.cdef("""
    int32_t graphc_num_threads(void);
    int32_t graphc_set_num_threads(int32_t threads);
""")
_lock = threading.Lock()


def _build_gemm_library(output) -> None:
    modules = []
    for dtype in GEMM_DTYPES:  # one module per element type, compiled in parallel
        modules.append(codegen.new_module(f"graphc_gemm_{dtype.name}"))
        emit_gemm_functions(modules[-1], dtype)
    toolchain.link_shared_library(toolchain.compile_to_objects([str(m) for m in modules]), output, output.parent)


@functools.lru_cache(maxsize=None)
def _runtime():
    with _lock:
        flavour = "-sanitize" if toolchain.sanitizing() else ""
        name = f"libgraphc_runtime-{toolchain.runtime_digest()}{flavour}.so"
        path = cache.cached_file(name) or cache.store_file(name, toolchain.build_runtime_library)
        ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        if profile.enabled():
            profile.report_at_exit(str(path))
        ctypes.CDLL(str(gemm_library_path()), mode=ctypes.RTLD_GLOBAL)
        return _ffi.dlopen(str(path))


@functools.lru_cache(maxsize=None)
def gemm_library_path():
    """The GEMM library for this host and compiler, built into the cache the first time.

    It exports `int32_t graphc_gemm_<f32|f64>_<n|t><n|t>(m, n, k, a, b, c, epilogue,
    context, status)` (kernels/gemm.py); its calls into the runtime resolve once the
    runtime is loaded (`ensure_loaded`).
    """
    name = f"libgraphc_gemm-{cache.compiler_fingerprint()[:16]}.so"
    return cache.cached_file(name) or cache.store_file(name, _build_gemm_library)


def ensure_loaded() -> None:
    """Loads the runtime and the GEMM library (building them into the cache the first time)."""
    _runtime()


def num_threads() -> int:
    """The size of the thread pool (GRAPHC_NUM_THREADS, default the number of CPUs)."""
    return _runtime().graphc_num_threads()


def set_num_threads(threads: int) -> int:
    """Resizes the thread pool (threads < 1: back to the default); returns the new size."""
    return _runtime().graphc_set_num_threads(int(threads))

