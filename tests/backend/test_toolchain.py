"""Compiling several LLVM modules in forked children gives what compiling them in turn gives,
and a child that cannot take llvmlite's lock hands its module back to the parent."""

import threading
import time

import llvmlite.binding.ffi as llvm_ffi

from graphc.backend import target, toolchain
from graphc.backend.kernel_builder import I64, KernelBuilder, i64


def _module(name: str, kernels: int) -> str:
    """A module of `kernels` small loop functions, big enough to be compiled in a child."""
    module = target.new_module(name)
    for index in range(kernels):
        kb = KernelBuilder(module, f"{name}_{index}", ["data", "status"])
        with kb.loop(i64(1000 + index)) as i:
            element = kb.b.gep(kb.arg("data"), [i], source_etype=I64)
            kb.b.store(kb.b.add(kb.b.load(element, typ=I64), i), element)
        kb.finish()
    return str(module)


def _modules():
    texts = [_module("first", 60), _module("second", 60)]
    assert min(map(len, texts)) >= toolchain._PARALLEL_MIN_CHARACTERS
    return texts


def _objects(texts):
    return [compiled.object for compiled in toolchain.compile_modules(texts)]


def test_children_compile_what_the_parent_would(setenv):
    texts = _modules()
    parallel = _objects(texts)
    setenv("GRAPHC_PARALLEL_COMPILE", "0")
    assert _objects(texts) == parallel


def test_a_child_finding_llvmlite_busy_leaves_its_module_to_the_parent():
    texts = _modules()
    expected = _objects(texts)
    held, release = threading.Event(), threading.Event()

    def hold_llvmlite():
        with llvm_ffi.lib._lock._lock:
            held.set()
            release.wait()

    holder = threading.Thread(target=hold_llvmlite)
    holder.start()
    held.wait()
    threading.Timer(0.3, release.set).start()  # the parent waits for the lock, then compiles both
    started = time.perf_counter()
    assert _objects(texts) == expected
    assert time.perf_counter() - started >= 0.3
    holder.join()
