"""Facts about this machine that need no compiler: its memory and its data caches.

The memory check (passes/check_memory.py), the convolutions' im2col chunks
(core/windows.py) and the GEMM's blocking (backend/kernels/gemm.py) size
themselves from these, so they agree with each other and with the hardware.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

# An innermost dimension shorter than this (two AVX2 vectors of float32) is short: the backend
# flattens it into the outer ones (a [200, 10] loop would run a fifth of its elements in the
# vectorizer's scalar remainder) or spreads vectors across its rows (backend/loops.py), and
# passes/transpose_short_rows.py puts a long axis on the lanes in its place.
SHORT_INNER_LOOP = 16

# Used where sysfs does not say (not Linux, or a container hiding it): common x86 sizes.
_DEFAULT_CACHE_BYTES = {1: 32 * 1024, 2: 512 * 1024, 3: 8 * 1024 * 1024}


@functools.lru_cache(maxsize=None)
def memory_bytes() -> int:
    """The machine's physical memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@functools.lru_cache(maxsize=None)
def data_cache_bytes() -> dict:
    """Per-level data cache sizes of one core, {1: L1d, 2: L2, 3: L3}, from sysfs."""
    sizes = dict(_DEFAULT_CACHE_BYTES)
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
