"""Compiling several LLVM modules in worker processes gives what compiling them in turn here gives,
submitted at once or one by one (a Compilation), and the workers need none of this process's locks."""

import threading

import llvmlite.binding.ffi as llvm_ffi
import pytest

from graphc import errors
from graphc.backend import target, toolchain
from graphc.backend.kernel_builder import I64, KernelBuilder, i64


def _module(name: str, kernels: int) -> str:
    """A module of `kernels` small loop functions."""
    module = target.new_module(name)
    for index in range(kernels):
        kb = KernelBuilder(module, f"{name}_{index}", ["data", "status"])
        with kb.loop(i64(1000 + index)) as i:
            element = kb.b.gep(kb.arg("data"), [i], source_etype=I64)
            kb.b.store(kb.b.add(kb.b.load(element, typ=I64), i), element)
        kb.finish()
    return str(module)


def _modules():
    return [_module("first", 60), _module("second", 60)]


def _objects(texts):
    return [compiled.object for compiled in toolchain.compile_modules(texts)]


def test_children_compile_what_the_parent_would(setenv):
    texts = _modules()
    parallel = _objects(texts)
    setenv("GRAPHC_PARALLEL_COMPILE", "0")
    assert _objects(texts) == parallel


def test_workers_compile_while_another_thread_holds_llvmlite():
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
    try:
        assert _objects(texts) == expected  # the workers are processes of their own, with their own llvmlite
    finally:
        release.set()
        holder.join()


def test_a_compilation_takes_modules_as_they_come_and_answers_in_their_order():
    texts = [_module(f"part{index}", 5 + 20 * index) for index in range(5)]
    expected = _objects(texts)
    with toolchain.Compilation() as compilation:
        for text in texts:  # each one to a worker as soon as one is idle, while the next is made
            compilation.submit(text)
        assert [compiled.object for compiled in compilation.results()] == expected


def test_a_compilation_left_unfinished_frees_the_workers_and_a_failed_one_raises_in_results():
    texts = _modules()
    with pytest.raises(RuntimeError, match="emission failed"):
        with toolchain.Compilation() as compilation:
            compilation.submit(texts[0])
            raise RuntimeError("emission failed")
    with toolchain.Compilation() as compilation:
        compilation.submit("this is not LLVM IR")
        with pytest.raises(errors.InternalError):
            compilation.results()
    assert _objects(texts) == [compiled.object for compiled in toolchain.compile_modules(texts)]
