"""GRAPHC_PROFILE=1: time every kernel of every compiled step; print a table at exit.

Steps compiled while the variable is set call the runtime's clock around each
kernel (so they are cached apart from unprofiled ones); the runtime sums the
times by kernel label. The table lists the kernels by total time, with calls
and time per call.
"""

from __future__ import annotations

import atexit
import sys

import cffi

_REPORT_BYTES = 1 << 20


def kernel_times(runtime) -> list:
    """[(kernel label, total seconds, calls)] from the loaded runtime (a cffi library), longest first."""
    ffi = cffi.FFI()
    buffer = ffi.new("char[]", _REPORT_BYTES)
    used = runtime.graphc_profile_report(buffer, _REPORT_BYTES)
    rows = []
    for line in ffi.buffer(buffer, used)[:].decode().splitlines():
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


def report_at_exit(runtime) -> None:
    """Prints the table when the process ends (called once the runtime is loaded)."""
    atexit.register(lambda: print(format_table(kernel_times(runtime)), file=sys.stderr))
