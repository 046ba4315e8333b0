"""GRAPHC_PROFILE=1: time every kernel of every compiled step; print a table at exit. And traces.

Steps compiled while the variable is set (or for a traced run) call the
runtime's clock around each kernel (so they are cached apart from unprofiled
ones); the runtime sums the times by kernel label. The table lists the kernels
by total time, with calls and time per call. Between `trace_start` and
`trace_stop` the runtime also keeps each call, for a run's RunMetadata.
"""

from __future__ import annotations

import atexit
import sys

import cffi

_REPORT_BYTES = 1 << 20
_TRACE_BYTES = 1 << 24  # the runtime keeps at most 65536 events


def _report_rows(report, size: int) -> list:
    """[(label, int, int)] of the "label\tint\tint" lines `report(buffer, size)` writes (a cut last line
    is left out)."""
    ffi = cffi.FFI()
    buffer = ffi.new("char[]", size)
    used = report(buffer, size)
    rows = []
    for line in ffi.buffer(buffer, used)[:].decode().split("\n")[:-1]:
        label, first, second = line.rsplit("\t", 2)
        rows.append((label, int(first), int(second)))
    return rows


def kernel_times(runtime) -> list:
    """[(kernel label, total seconds, calls)] from the loaded runtime (a cffi library), longest first."""
    rows = [(label, nanoseconds / 1e9, calls)
            for label, nanoseconds, calls in _report_rows(runtime.graphc_profile_report, _REPORT_BYTES)]
    return sorted(rows, key=lambda row: -row[1])


def trace_start(runtime) -> None:
    """From now on the runtime keeps each kernel call of a profiled step as an event, until `trace_stop`."""
    runtime.graphc_trace_start()


def trace_stop(runtime) -> list:
    """[(kernel label, start in CLOCK_MONOTONIC ns, ns)] of the kernel calls since `trace_start`, in order."""
    return _report_rows(runtime.graphc_trace_stop, _TRACE_BYTES)


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
