"""LLVM modules -> optimized objects -> shared library linked with runtime_c.

The objects come from llvmlite (O3 for the host CPU), one module per core in
parallel (see compile_to_objects); the system C compiler (`$CC`, default `cc`) compiles runtime_c once
per cache directory and links each step's objects into a shared library.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import NamedTuple, Optional

import llvmlite.binding as llvm
import llvmlite.binding.ffi as llvm_ffi

from graphc import environment, errors
from graphc.backend import target


def optimize(module_ref, machine) -> None:
    """Runs LLVM's O3 pipeline with loop and SLP vectorization for the host."""
    tuning = llvm.create_pipeline_tuning_options(speed_level=3)
    tuning.loop_vectorization = True
    tuning.slp_vectorization = True
    # Unrolling every loop of every kernel tripled compile time (0.31 s -> 0.94 s
    # for the MNIST training step) for loops that are vectorized already.
    tuning.loop_unrolling = False
    builder = llvm.create_pass_builder(machine, tuning)
    builder.getModulePassManager().run(module_ref, builder)


class CompiledModule(NamedTuple):
    """One LLVM module compiled: its object code, and (when asked for) its optimized IR and assembly."""

    object: bytes
    optimized_ir: Optional[str]
    assembly: Optional[str]


def compile_modules(llvm_irs: list, keep_texts: bool = False) -> list:
    """Verifies, optimizes and assembles each LLVM IR text; returns a CompiledModule each, in order.

    llvmlite holds one global lock around every LLVM call, so threads cannot
    compile modules in parallel; forked processes can. On Linux, each module but
    the first compiles in a child forked for it (which runs nothing but LLVM and
    exits), while this process compiles the first. `keep_texts` keeps the
    optimized IR and the assembly (for dumps).
    """
    with _COMPILE_LOCK:  # none of our threads is inside LLVM while we fork
        children = [_fork_compile(text, keep_texts) for text in llvm_irs[1:]] if _can_fork(llvm_irs) else []
        results = [_compile_one(llvm_irs[0], keep_texts)]
        for index, child in enumerate(children, start=1):
            results.append(_child_result(child) or _compile_one(llvm_irs[index], keep_texts))
        results += [_compile_one(text, keep_texts) for text in llvm_irs[len(results):]]
    return [CompiledModule(*result) for result in results]


_COMPILE_LOCK = threading.Lock()


# A fork costs a few milliseconds: modules smaller than this compile faster in turn.
_PARALLEL_MIN_CHARACTERS = 20_000


def _can_fork(llvm_irs: list) -> bool:
    return (len(llvm_irs) > 1 and min(map(len, llvm_irs)) >= _PARALLEL_MIN_CHARACTERS
            and sys.platform.startswith("linux") and environment.get().parallel_compile)


def _fork_compile(llvm_ir: str, keep_texts: bool):
    """Starts a child compiling `llvm_ir`; returns (pid, pipe to read its pickled result from)."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ (DeprecationWarning) and JAX (RuntimeWarning) warn about forking a
        # process with threads, whose locks a child may need. This child needs none of
        # theirs: it runs LLVM through llvmlite (backing out if another thread holds
        # llvmlite's lock), pickles bytes into a pipe and leaves with os._exit.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        pid = os.fork()
    if pid:
        os.close(write_end)
        return pid, read_end
    try:  # the child: compile, send, exit without running any of the parent's cleanup
        os.close(read_end)
        lock = llvm_ffi.lib._lock._lock
        if lock.acquire(blocking=False):
            lock.release()
            result = ("ok", _compile_one(llvm_ir, keep_texts))
        else:
            result = ("busy", None)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(pickle.dumps(result))
    finally:
        os._exit(0)


def _child_result(child):
    """The child's (object, texts...), or None when it could not compile (the caller then does)."""
    pid, read_end = child
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    os.waitpid(pid, 0)
    if not payload:
        return None
    status, result = pickle.loads(payload)
    return result if status == "ok" else None


def _compile_one(llvm_ir: str, keep_texts: bool) -> tuple:
    """(object, optimized IR text, assembly) of one module; the texts only if `keep_texts`."""
    context = llvm.create_context()
    module_ref = llvm.parse_assembly(llvm_ir, context=context)
    try:
        module_ref.verify()
    except RuntimeError as e:
        raise errors.InternalError(None, None, f"graphc generated invalid LLVM IR ({e}); run with "
                                               "GRAPHC_DUMP=DIR to see it (stage llvm)") from None
    machine = target.new_target_machine()
    optimize(module_ref, machine)
    optimized = str(module_ref) if keep_texts else None
    assembly = machine.emit_assembly(module_ref) if keep_texts else None
    return machine.emit_object(module_ref), optimized, assembly


def c_compiler() -> str:
    compiler = environment.get().c_compiler
    if shutil.which(compiler) is None:
        raise errors.UnavailableError(None, None, f"graphc needs a C compiler to link compiled steps, and "
                                                  f"'{compiler}' was not found (install gcc or clang, or set CC)")
    return compiler


def _run(command: list) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise errors.InternalError(None, None, f"command failed: {' '.join(command)}\n{result.stderr}")


def runtime_source_dir() -> Path:
    return Path(str(importlib.resources.files("graphc.runtime_c")))


@functools.lru_cache(maxsize=None)
def runtime_digest() -> str:
    digest = hashlib.sha256()
    for name in sorted(os.listdir(runtime_source_dir())):
        if name.endswith((".c", ".h")):
            digest.update(name.encode())
            digest.update((runtime_source_dir() / name).read_bytes())
    return digest.hexdigest()[:16]


SANITIZER_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-g"]


def build_runtime_library(output: Path) -> None:
    """Compiles runtime_c into the shared library every step resolves its runtime calls against."""
    sources = sorted(str(p) for p in runtime_source_dir().glob("*.c"))
    sanitizer = SANITIZER_FLAGS if environment.get().sanitize else []
    _run([c_compiler(), "-O2", "-fPIC", "-std=c11", *sanitizer, "-shared", "-o", str(output), *sources, "-lm",
          "-lpthread"])


def link_shared_library(objects: list, output: Path, work_dir: Path) -> None:
    """Links a step's objects into the shared library `output`.

    Calls into runtime_c stay undefined here: they resolve, when the step is
    loaded, against the one runtime library the process loaded (so there is
    one thread pool per process, whatever the number of steps).
    """
    with tempfile.TemporaryDirectory(dir=work_dir) as work:
        paths = []
        for index, code in enumerate(objects):
            paths.append(Path(work) / f"part{index}.o")
            paths[-1].write_bytes(code)
        _run([c_compiler(), "-shared", "-o", str(output), *map(str, paths)])
