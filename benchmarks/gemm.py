"""graphc's GEMM against OpenBLAS (NumPy's sgemm) and against the FMA peak.

The products are 1024^3 and every matrix product of the MLP training step
(784-300-100-10, batch 100): forward `x @ W`, the weight gradients `x^T @ dy`
(transposed A) and the input gradients `dy @ W^T` (transposed B). graphc's
side calls the GEMM library its compiled steps call (`graphc_gemm_f32_<ta><tb>`,
no epilogue) through cffi; OpenBLAS's is `np.matmul` into a preallocated output,
on transposed views where the product is transposed, which NumPy hands to sgemm
as transpose flags without copying.

Thread counts are fixed when a process starts (OPENBLAS_NUM_THREADS,
GRAPHC_NUM_THREADS), so each count runs in its own worker process
(`gemm.py --worker THREADS`, printing JSON); in it, the two libraries take turns
timing blocks of calls, each after a pause and a few untimed calls, and the
medians are compared. The peak is measured by
`fma_peak.c`, compiled with cc for this CPU.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROUNDS = 9
# Long enough for several calls of the largest product (1024^3 takes ~15 ms on 2 threads):
# a block of one or two calls measured its first call's wake-up more than the steady rate.
BLOCK_SECONDS = 0.06
# Before each timed block: a pause, so that the other library's threads have gone
# idle (OpenBLAS's workers spin for about 0.1 s after a call), then untimed calls
# (at least WARMUP_CALLS), so that the cores are awake again when timing starts.
SETTLE_SECONDS = 0.15
WARMUP_SECONDS = 0.01
WARMUP_CALLS = 2
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Product:
    """C[m, n] = op(A) @ op(B) with op(A) [m, k], op(B) [k, n]."""

    label: str
    m: int
    n: int
    k: int
    transpose_a: bool = False
    transpose_b: bool = False

    @property
    def flops(self) -> int:
        return 2 * self.m * self.n * self.k

    @property
    def shape(self) -> str:
        """M×N×K, and which operands are transposed."""
        return f"{self.m}×{self.n}×{self.k}" + (", Aᵀ" if self.transpose_a else "") + (", Bᵀ" if self.transpose_b else "")


def products() -> list:
    """1024^3, then the MLP step's products: forward, weight gradients, input gradients."""
    return [
        Product("1024³", 1024, 1024, 1024),
        Product("layer 1 forward x·W1", 100, 300, 784),
        Product("layer 2 forward h1·W2", 100, 100, 300),
        Product("layer 3 forward h2·W3", 100, 10, 100),
        Product("layer 1 dW1 = xᵀ·d1", 784, 300, 100, transpose_a=True),
        Product("layer 2 dW2 = h1ᵀ·d2", 300, 100, 100, transpose_a=True),
        Product("layer 3 dW3 = h2ᵀ·d3", 100, 10, 100, transpose_a=True),
        Product("layer 3 dh2 = d3·W3ᵀ", 100, 100, 10, transpose_b=True),
        Product("layer 2 dh1 = d2·W2ᵀ", 100, 300, 100, transpose_b=True),
    ]


def measure(thread_counts: list, only: str = "") -> tuple:
    """({threads: peak GFLOP/s}, [row, ...]) with one row per product (those whose label
    contains `only`) and thread count."""
    peaks = fma_peak(max(thread_counts))
    rows = []
    for threads in thread_counts:
        rows += run_worker(threads, only)
    return peaks, rows


def fma_peak(max_threads: int) -> dict:
    """{threads: GFLOP/s} for 1..max_threads, from fma_peak.c compiled for this CPU."""
    with tempfile.TemporaryDirectory() as directory:
        program = Path(directory) / "fma_peak"
        subprocess.run(["cc", "-O2", "-march=native", "-ffp-contract=fast", "-pthread",
                        str(HERE / "fma_peak.c"), "-o", str(program)], check=True)
        output = subprocess.run([str(program), str(max_threads)], check=True, capture_output=True, text=True).stdout
    return {int(threads): float(rate) for threads, rate in (line.split() for line in output.splitlines())}


def run_worker(threads: int, only: str) -> list:
    environment = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), GRAPHC_NUM_THREADS=str(threads),
                       OMP_NUM_THREADS=str(threads))
    output = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", str(threads), only],
                            env=environment, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def table(peaks: dict, rows: list) -> str:
    """A markdown table: GFLOP/s of both libraries, their ratio, graphc's share of the FMA peak."""
    lines = ["| product | threads | graphc GFLOP/s | OpenBLAS GFLOP/s | graphc / OpenBLAS | graphc % of FMA peak |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        peak = peaks[row["threads"]]
        lines.append(f"| {row['label']} ({row['shape']}) | {row['threads']} | {row['graphc']:.1f} | "
                     f"{row['openblas']:.1f} | {row['graphc'] / row['openblas']:.2f} | "
                     f"{100 * row['graphc'] / peak:.0f}% |")
    peak_text = ", ".join(f"{peak:.0f} GFLOP/s on {threads} thread{'s' if threads > 1 else ''}"
                          for threads, peak in peaks.items())
    return "\n".join(lines) + f"\n\nFMA peak measured by benchmarks/fma_peak.c: {peak_text}."


# --- the worker process -------------------------------------------------------------------


def worker(threads: int, only: str) -> None:
    import cffi
    import numpy as np

    from graphc.backend import libraries
    from graphc.compiler import driver
    from graphc.core import dtypes
    from graphc.runtime import abi, loader

    driver.load_runtime()
    assert loader.num_threads() == threads, (loader.num_threads(), threads)
    ffi = cffi.FFI()
    ffi.cdef(abi.cdef(abi.gemm_function(dtypes.float32, a, b) for a in (False, True) for b in (False, True)))
    with libraries.gemm_library() as verified:
        loaded = loader.load_library(ffi, verified)  # unloaded when collected: kept to the end
    library = loaded.lib
    status = ffi.new("graphc_status *")
    random = np.random.default_rng(0)
    for product in (p for p in products() if only in p.label):
        a = random.standard_normal((product.k, product.m) if product.transpose_a else (product.m, product.k),
                                   dtype=np.float32)
        b = random.standard_normal((product.n, product.k) if product.transpose_b else (product.k, product.n),
                                   dtype=np.float32)
        ours, theirs = np.empty((product.m, product.n), np.float32), np.empty((product.m, product.n), np.float32)
        op_a, op_b = (a.T if product.transpose_a else a), (b.T if product.transpose_b else b)
        gemm = getattr(library, f"graphc_gemm_f32_{'t' if product.transpose_a else 'n'}"
                                f"{'t' if product.transpose_b else 'n'}")
        pointers = (product.m, product.n, product.k, ffi.from_buffer("float[]", a), ffi.from_buffer("float[]", b),
                    ffi.from_buffer("float[]", ours), ffi.NULL, ffi.NULL, status)

        def graphc_call(gemm=gemm, pointers=pointers):
            gemm(*pointers)

        def openblas_call(op_a=op_a, op_b=op_b, theirs=theirs):
            np.matmul(op_a, op_b, out=theirs)

        graphc_call()
        openblas_call()
        scale = np.sqrt(product.k)
        if not np.allclose(ours, theirs, rtol=1e-4, atol=1e-4 * scale):
            sys.exit(f"graphc's GEMM disagrees with NumPy's on {product.label}")
        seconds = interleaved_medians({"graphc": graphc_call, "openblas": openblas_call})
        print(json.dumps({"label": product.label, "shape": product.shape, "threads": threads,
                          **{name: product.flops / value / 1e9 for name, value in seconds.items()}}), flush=True)


def interleaved_medians(calls: dict) -> dict:
    """Median seconds per call of each function, timed in alternating blocks of about BLOCK_SECONDS."""
    repeats = {}
    for name, call in calls.items():  # warm up and size the blocks
        start, count = time.perf_counter(), 0
        while time.perf_counter() - start < BLOCK_SECONDS:
            call()
            count += 1
        repeats[name] = max(count, 1)
    samples = {name: [] for name in calls}
    for round_index in range(ROUNDS):
        order = list(calls.items())
        if round_index % 2:
            order.reverse()
        for name, call in order:
            time.sleep(SETTLE_SECONDS)
            warm_until, warm_calls = time.perf_counter() + WARMUP_SECONDS, 0
            while time.perf_counter() < warm_until or warm_calls < WARMUP_CALLS:
                call()
                warm_calls += 1
            start = time.perf_counter()
            for _ in range(repeats[name]):
                call()
            samples[name].append((time.perf_counter() - start) / repeats[name])
    return {name: statistics.median(values) for name, values in samples.items()}


if __name__ == "__main__":  # gemm.py [TEXT]: the products whose label contains TEXT (default all)
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), sys.argv[3])
    else:
        counts = sorted({1, os.cpu_count() or 1})
        print(table(*measure(counts, sys.argv[1] if len(sys.argv) > 1 else "")))
