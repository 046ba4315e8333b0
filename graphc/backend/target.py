"""The host CPU as LLVM sees it: triple, CPU name, features, and a target machine."""

from __future__ import annotations

import functools

import llvmlite.binding as llvm
import llvmlite.ir as ir


@functools.lru_cache(maxsize=None)
def initialize() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@functools.lru_cache(maxsize=None)
def host() -> tuple[str, str, str]:
    """(triple, cpu name, feature string) of this machine."""
    initialize()
    return llvm.get_process_triple(), llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


def new_target_machine(speed_level: int = 3):
    """A fresh position-independent target machine for the host CPU (one per thread), generating code at
    `speed_level` (0-3; 0 is LLVM's fast instruction selection)."""
    triple, cpu, features = host()
    target = llvm.Target.from_triple(triple)
    return target.create_target_machine(cpu=cpu, features=features, opt=speed_level, reloc="pic",
                                        codemodel="default")


@functools.lru_cache(maxsize=None)
def data_layout() -> str:
    """The host's data layout string, for the modules graphc builds."""
    return str(new_target_machine().target_data)


def description() -> str:
    """A one-line description for cache keys and dumps."""
    triple, cpu, features = host()
    return f"{triple} {cpu} {features} llvm-{'.'.join(map(str, llvm.llvm_version_info))}"


@functools.lru_cache(maxsize=None)
def vector_bytes() -> int:
    """The widest vector register the host has: 64 (AVX-512), 32 (AVX) or 16 bytes."""
    features = set(host()[2].split(","))
    if "+avx512f" in features:
        return 64
    if "+avx" in features:
        return 32
    return 16


def lanes(dtype) -> int:
    """Elements of `dtype` in the widest vector register the host has (8 float32 with AVX)."""
    return vector_bytes() // dtype.size


@functools.lru_cache(maxsize=None)
def has_fma() -> bool:
    return "+fma" in set(host()[2].split(","))


def new_module(name: str) -> ir.Module:
    """An empty LLVM module for the host."""
    module = ir.Module(name=name)
    module.triple = host()[0]
    module.data_layout = data_layout()
    return module
