"""The per-machine libraries every step links against when loaded, and the cache keys of steps.

- the C runtime (runtime_c/: status, Philox, thread pool, profiling), built with cc;
- the GEMM library (kernels/gemm.py), generated as LLVM IR for this host.

Both are built into the cache the first time and reused after; runtime/loader.py
loads them from the descriptors the cache verified them through. A step's
cache key hashes its program's text together with a fingerprint of the
compiler itself (graphc's sources by size and modification time, runtime_c,
LLVM version, host CPU), so a new graphc or another CPU never reuses a stale
library.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from graphc import environment
from graphc.backend import target, toolchain
from graphc.backend.kernels.gemm import emit_gemm_functions
from graphc.runtime import abi, cache

_PACKAGE = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=None)
def compiler_fingerprint() -> str:
    """A hash of everything besides the program that decides the generated code.

    graphc's sources count by path, size and modification time, as Python's own bytecode cache
    decides a .pyc is stale: reading and hashing all of them was 20 ms of every process's first
    compile, a cache hit's budget twice over; their stat is 1-2 ms.
    """
    digest = hashlib.sha256()
    sources = sorted(os.path.join(directory, name) for directory, _, names in os.walk(_PACKAGE)
                     for name in names if name.endswith(".py"))  # os.walk: a tenth of Path.rglob's time
    for path in sources:
        status = os.stat(path)
        digest.update(f"{path[len(str(_PACKAGE)):]}:{status.st_size}:{status.st_mtime_ns}\n".encode())
    digest.update(toolchain.runtime_digest().encode())
    digest.update(target.description().encode())
    return digest.hexdigest()


def step_key(program_text: str) -> str:
    """The cache name of the library compiled from a program with this text."""
    digest = hashlib.sha256()
    digest.update(compiler_fingerprint().encode())
    digest.update(program_text.encode())
    return f"{digest.hexdigest()[:32]}.so"


def runtime_library() -> cache.Library:
    """runtime_c as a shared library (open, verified), built into the cache the first time."""
    flavour = "-sanitize" if environment.get().sanitize else ""
    name = f"libgraphc_runtime-{toolchain.runtime_digest()}{flavour}.so"
    return cache.cached_file(name) or cache.store_file(name, toolchain.build_runtime_library)


def gemm_library() -> cache.Library:
    """The GEMM library for this host and compiler (`abi.gemm_functions()`, open, verified), built into the
    cache the first time; its calls into the runtime resolve once the runtime is loaded."""
    name = f"libgraphc_gemm-{compiler_fingerprint()[:16]}.so"
    return cache.cached_file(name) or cache.store_file(name, _build_gemm_library)


def _build_gemm_library(output: Path) -> None:
    modules = []
    for dtype in abi.GEMM_DTYPES:  # one module per element type, compiled in parallel
        modules.append(target.new_module(f"graphc_gemm_{dtype.name}"))
        emit_gemm_functions(modules[-1], dtype)
    objects = [compiled.object for compiled in toolchain.compile_modules([str(m) for m in modules])]
    toolchain.link_shared_library(objects, output, output.parent)
