"""GRAPHC_PROFILE=1: time every kernel of every compiled step; print a table at exit.

Steps compiled while the variable is set call the runtime's clock around each
kernel (so they are cached apart from unprofiled ones). The table lists the
kernels by total time, with calls and time per call.
"""

from __future__ import annotations

import atexit
import os
import sys

import cffi

_ffi = cffi.FFI()
_ffi.cdef("int64_t graphc_profile_report(char *text, int64_t size);")


def enabled() -> bool:
    return os.environ.get("GRAPHC_PROFILE", "") not in ("", "0")


def kernel_times(library) -> list:
    """[(kernel label, total seconds, calls)] from the loaded runtime, longest first."""
    buffer = _ffi.new("char[]", 1 << 20)
    runtime = _ffi.dlopen(library)
    used = runtime.graphc_profile_report(buffer, 1 << 20)
    rows = []
    for line in _ffi.buffer(buffer, used)[:].decode().splitlines():
        label, nanoseconds, calls = line.rsplit("\t", 2)
        rows.append((label, int(nanoseconds) / 1e9, int(calls)))
    return sorted(rows, key=lambda row: -row[1])


def format_table(rows) -> str:
    total = sum(seconds for _, seconds, _ in rows) or 1.0
    lines = ["graphc profile: kernels by total time", f"{'total ms':>10} {'%':>6} {'calls':>8} {'us/call':>9}  kernel"]
    for label, seconds, calls in rows:
        lines.append(f"{seconds * 1e3:10.2f} {100 * seconds / total:6.1f} {calls:8d} "
                     f"{seconds / max(calls, 1) * 1e6:9.1f}  {label}")
    return "\n".join(lines)


def report_at_exit(library) -> None:
    """Prints the table when the process ends (called once the runtime is loaded)."""
    atexit.register(lambda: print(format_table(kernel_times(library)), file=sys.stderr))
