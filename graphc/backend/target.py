"""The host CPU as LLVM sees it: triple, CPU name, features, and a target machine."""

from __future__ import annotations

import functools
from pathlib import Path

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


def new_target_machine():
    """A fresh O3, position-independent target machine for the host CPU (one per thread)."""
    triple, cpu, features = host()
    target = llvm.Target.from_triple(triple)
    return target.create_target_machine(cpu=cpu, features=features, opt=3, reloc="pic", codemodel="default")


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


@functools.lru_cache(maxsize=None)
def has_fma() -> bool:
    return "+fma" in set(host()[2].split(","))


@functools.lru_cache(maxsize=None)
def data_cache_bytes() -> dict:
    """Per-level data cache sizes {1: L1d, 2: L2, 3: L3} from sysfs, with common defaults."""
    sizes = {1: 32 * 1024, 2: 512 * 1024, 3: 8 * 1024 * 1024}
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            if (index / "type").read_text().strip() == "Instruction":
                continue
            text = (index / "size").read_text().strip()
            level = int((index / "level").read_text())
        except (OSError, ValueError):
            continue
        multiplier = {"K": 1024, "M": 1024 * 1024}.get(text[-1], 1)
        sizes[level] = int(text.rstrip("KM")) * multiplier
    return sizes
