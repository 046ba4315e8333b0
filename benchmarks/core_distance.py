"""How far apart the host runs the machine's first two CPUs, in ns of a cache line's round trip between them
(`core_distance.c`, compiled with cc): on the benchmarks' 2-vCPU VM the 2-thread steps follow it (see the
C file), so `make bench` gives it beside each training-step table."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


TIMEOUT_SECONDS = 30  # a thread pinned to a CPU that a real-time process holds may wait that long for its turn


def round_trip_ns():
    """The median round trip in ns, or None on a machine of one CPU or past TIMEOUT_SECONDS."""
    with tempfile.TemporaryDirectory() as directory:
        program = Path(directory) / "core_distance"
        subprocess.run(["cc", "-O2", "-pthread", str(HERE / "core_distance.c"), "-o", str(program)], check=True)
        try:
            result = subprocess.run([str(program)], capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            return None
    return float(result.stdout) if result.returncode == 0 else None


def note(before, after) -> str:
    """The sentence under a step's table: the round trip measured before and after its blocks."""
    if before is None or after is None:
        return "The CPUs' cache-line round trip was not measured (one CPU, or no answer in time)."
    return (f"The first two CPUs' cache-line round trip before and after these blocks (benchmarks/core_distance.c): "
            f"{before:.0f} / {after:.0f} ns (on the 2-vCPU VM ~60 ns when the host runs them in one core complex, "
            f"300-350 ns apart, where the 2-thread MLP step takes about 1.25 times as long; thousands: a CPU "
            f"was busy).")
