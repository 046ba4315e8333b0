"""Every environment variable graphc reads, parsed in one place.

(Not `flags`: that name is TF1's `tf.flags`, the command-line flags module.)

| variable                 | default          | what it does                                              |
|--------------------------|------------------|-----------------------------------------------------------|
| GRAPHC_CACHE_DIR         | ~/.cache/graphc  | where compiled libraries are cached (private to the user) |
| GRAPHC_CACHE_MAX_BYTES   | 1G               | the disk cache's size bound (bytes, or K/M/G); least      |
|                          |                  | recently used libraries are deleted beyond it             |
| GRAPHC_MAX_LOADED_STEPS  | 64               | compiled steps a session keeps loaded; the least recently |
|                          |                  | used is unloaded beyond it (and reloaded when run again)  |
| GRAPHC_DUMP              | off              | a directory: every compiled signature's stages go there   |
| GRAPHC_VERIFY            | 0                | 1: verify the IR after every stage (the tests set it)     |
| GRAPHC_TIMING            | 0                | 1: print each compile's stage times to stderr             |
| GRAPHC_PROFILE           | 0                | 1: time every kernel of every step; a table at exit       |
| GRAPHC_NUM_THREADS       | the CPU count    | the thread pool's size (read by runtime_c itself; a       |
|                          |                  | ConfigProto's intra_op_parallelism_threads overrides it)  |
| GRAPHC_PARALLEL_COMPILE  | 1                | 0: compile LLVM modules one after another, in-process     |
| GRAPHC_SANITIZE          | 0                | 1: build runtime_c with ASan and UBSan (`make sanitize`)  |
| CC                       | cc               | the C compiler that builds runtime_c and links steps      |

The environment is read once, on first use (`get()`); code that changes it
while graphc runs (`graphc dump`, tests) calls `reload()`. GRAPHC_NUM_THREADS
is the C runtime's own: it reads it when its thread pool starts.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class Environment:
    """The parsed environment (see the module docstring for each variable)."""

    cache_dir: Path
    cache_max_bytes: int
    max_loaded_steps: int
    dump_dir: Optional[Path]
    verify: bool
    timing: bool
    profile: bool
    parallel_compile: bool
    sanitize: bool
    c_compiler: str


def _switch(name: str, default: bool) -> bool:
    value = os.environ.get(name, "")
    return default if value == "" else value != "0"


_BYTE_UNITS = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}


def _byte_count(name: str, default: str) -> int:
    value = os.environ.get(name) or default
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)\s*", value, re.IGNORECASE)
    if match is None:
        raise ValueError(f"{name}={value!r}: expected a number of bytes, optionally with K, M or G (e.g. 500M)")
    return int(match[1]) * _BYTE_UNITS[match[2].upper()]


def _count(name: str, default: int, minimum: int) -> int:
    value = os.environ.get(name, "")
    if value == "":
        return default
    if not value.strip().isdigit() or int(value) < minimum:
        raise ValueError(f"{name}={value!r}: expected a whole number of at least {minimum}")
    return int(value)


def _parse() -> Environment:
    dump = os.environ.get("GRAPHC_DUMP", "")
    return Environment(
        cache_dir=Path(os.environ.get("GRAPHC_CACHE_DIR") or Path.home() / ".cache" / "graphc"),
        cache_max_bytes=_byte_count("GRAPHC_CACHE_MAX_BYTES", "1G"),
        max_loaded_steps=_count("GRAPHC_MAX_LOADED_STEPS", 64, minimum=1),
        dump_dir=Path(dump) if dump else None,
        verify=_switch("GRAPHC_VERIFY", False),
        timing=_switch("GRAPHC_TIMING", False),
        profile=_switch("GRAPHC_PROFILE", False),
        parallel_compile=_switch("GRAPHC_PARALLEL_COMPILE", True),
        sanitize=_switch("GRAPHC_SANITIZE", False),
        c_compiler=os.environ.get("CC") or "cc",
    )


@functools.lru_cache(maxsize=1)
def get() -> Environment:
    """The environment's GRAPHC_* variables (and CC), parsed on the first call."""
    return _parse()


def reload() -> Environment:
    """Parses the environment again (after a change to it) and returns what it says now."""
    get.cache_clear()
    return get()
