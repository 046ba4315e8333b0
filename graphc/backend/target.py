"""The host CPU as LLVM sees it: triple, CPU name, features, and a target machine."""

from __future__ import annotations

import functools

import llvmlite.binding as llvm


@functools.lru_cache(maxsize=None)
def initialize() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@functools.lru_cache(maxsize=None)
def host() -> tuple[str, str, str]:
    """(triple, cpu name, feature string) of this machine."""
    initialize()
    return llvm.get_process_triple(), llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


@functools.lru_cache(maxsize=None)
def target_machine():
    """An O3, position-independent target machine for the host CPU."""
    triple, cpu, features = host()
    target = llvm.Target.from_triple(triple)
    return target.create_target_machine(cpu=cpu, features=features, opt=3, reloc="pic", codemodel="default")


def description() -> str:
    """A one-line description for cache keys and dumps."""
    triple, cpu, features = host()
    return f"{triple} {cpu} {features} llvm-{'.'.join(map(str, llvm.llvm_version_info))}"
