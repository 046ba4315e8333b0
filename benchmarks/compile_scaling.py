"""How compile time grows with the graph: graphc and JAX compiling the same graphs at several sizes.

Two graphs (issue 12, item 9), their size in ops of graphc's graph:

- chain: `tanh(x @ W + b)` repeated, three ops a layer, x 4x8, W 8x8, forward only;
- gradient: the gradient of `sum(tanh(tanh(...(x))))`, x of 16 float32, about two
  ops a tanh (the tanh and its gradient).

Each measurement is a fresh process. graphc builds the TF1 graph and runs it
once (`sess.run`: lowering, passes, LLVM, linking, loading, the run) on a step
cache of its own holding only the per-machine libraries (as compile_time.py);
JAX traces the same function with `jax.jit` (`jax.grad` for the gradient) and
runs it once (tracing, XLA, the run). Both start their clock before building
the graph (graphc) or tracing it (JAX). graphc's times are medians of
GRAPHC_REPEATS processes, with its stages from GRAPHC_TIMING: graph building,
lowering and the passes, LLVM IR emission, LLVM (objects), linking. JAX runs
once per size (it takes minutes at the larger ones) and is cut after
JAX_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRAPHC_REPEATS = 3
JAX_TIMEOUT_SECONDS = 300
SIZES = {"chain": (1_000, 2_500, 5_000, 10_000), "gradient": (1_000, 2_500, 5_000)}
TARGET_SECONDS = {("chain", 10_000): 15.0, ("gradient", 5_000): 30.0}  # issue 12's
LINEAR_RATIO = 2.5  # doubling the graph may at most about double the time (quadratic would quadruple it)
_PASS_STAGES = "lowered verify check_values_fit fold_constants simplify eliminate_common_subexpressions " \
               "eliminate_dead_code place_free_computations fuse plan_memory check_plan_fits cache".split()


def measure() -> list:
    """One row per graph and size: {graph, ops, graphc (seconds), stages {name: seconds}, jax (seconds or None)}."""
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        cache = Path(directory) / "cache"
        _seed_per_machine_libraries(cache)
        for graph, sizes in SIZES.items():
            for size in sizes:
                runs = [_run_worker("graphc", graph, size, cache) for _ in range(GRAPHC_REPEATS)]
                median = statistics.median(run["seconds"] for run in runs)
                stages = {name: statistics.median(run["stages"][name] for run in runs) for name in runs[0]["stages"]}
                jax = _jax_seconds(graph, size, cache)
                rows.append({"graph": graph, "ops": runs[0]["ops"], "size": size, "graphc": median, "stages": stages,
                             "jax": jax})
                print(f"  {graph}, {runs[0]['ops']} ops: graphc {median:.2f} s, JAX {jax}", file=sys.stderr)
    return rows


def _jax_seconds(graph: str, size: int, cache: Path) -> str:
    """JAX's time as the table shows it: seconds, "> limit" when cut, "-" without JAX."""
    if importlib.util.find_spec("jax") is None:
        return "-"
    measurement = _run_worker("jax", graph, size, cache, timeout=JAX_TIMEOUT_SECONDS)
    return f"> {JAX_TIMEOUT_SECONDS}" if measurement is None else f"{measurement['seconds']:.2f}"


def table(rows: list) -> str:
    """A markdown table: graph, ops, graphc's stages, its total and per 1,000 ops, and JAX's."""
    lines = ["| graph | ops | graph building s | lowering + passes s | LLVM IR s | LLVM s | link, load, run s "
             "| graphc s | graphc s per 1,000 ops | JAX jit s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        stages = row["stages"]
        rest = row["graphc"] - sum(stages.values())
        lines.append(f"| {row['graph']} | {row['ops']:,} | {stages['graph']:.2f} | {stages['passes']:.2f} | "
                     f"{stages['llvm']:.2f} | {stages['objects']:.2f} | {rest:.2f} | {row['graphc']:.2f} | "
                     f"{1000 * row['graphc'] / row['ops']:.3f} | {row['jax']} |")
    return "\n".join(lines)


def targets(rows: list) -> list:
    """(name, measured, met) of issue 12's targets: the two sizes' times, and linear growth."""
    import report

    found = []
    by_size = {(row["graph"], row["size"]): row for row in rows}
    for (graph, size), limit in TARGET_SECONDS.items():
        row = by_size[(graph, size)]
        found.append(report.Target(f"compile the {size:,}-op {graph}: ≤ {limit:g} s", f"{row['graphc']:.2f} s",
                                   row["graphc"] <= limit))
    for graph, sizes in SIZES.items():
        small, large = by_size[(graph, sizes[-2])], by_size[(graph, sizes[-1])]
        ratio = (large["graphc"] / small["graphc"]) / (large["ops"] / small["ops"]) * 2
        found.append(report.Target(f"compile time of the {graph} linear in ops: time ratio for twice the ops "
                                   f"≤ {LINEAR_RATIO:g}", f"{ratio:.2f}", ratio <= LINEAR_RATIO))
    return found


def _seed_per_machine_libraries(cache: Path) -> None:
    from graphc.compiler import driver
    from graphc.runtime import cache as graphc_cache

    driver.load_runtime()
    cache.mkdir(mode=0o700)
    for library in graphc_cache.cache_dir().glob("libgraphc_*"):
        shutil.copy2(library, cache / library.name)


def _run_worker(framework: str, graph: str, size: int, cache: Path, timeout: float = None):
    """The worker's measurement, a fresh process; None if it ran out of time."""
    environment = dict(os.environ, GRAPHC_CACHE_DIR=str(cache), GRAPHC_TIMING="1")
    for stale in cache.glob("[0-9a-f]*"):  # the steps compiled before: every measurement compiles
        stale.unlink()
    try:
        result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", framework, graph,
                                 str(size)], env=environment, check=True, capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    measurement = json.loads(result.stdout.splitlines()[-1])
    if framework == "graphc":
        measurement["stages"] = dict(graph=measurement.pop("graph_seconds"), **_stage_seconds(result.stderr))
    return measurement


def _stage_seconds(timing: str) -> dict:
    """Seconds of the passes, LLVM IR emission and LLVM, from GRAPHC_TIMING's line."""
    line = next(line for line in timing.splitlines() if line.startswith("graphc: compiled"))
    stages = {name: float(ms) / 1e3 for name, ms in re.findall(r"(\w+) ([\d.]+)(?:,|\))", line.split("(", 1)[1])}
    return {"passes": sum(stages.get(name, 0.0) for name in _PASS_STAGES), "llvm": stages.get("llvm", 0.0),
            "objects": stages.get("objects", 0.0)}


def _graphc_worker(graph: str, size: int) -> dict:
    import numpy as np

    import graphc as tf

    started = time.perf_counter()
    if graph == "chain":
        x = tf.placeholder(tf.float32, [4, 8])
        w, b = tf.constant(np.eye(8, dtype=np.float32) * 0.5), tf.constant(np.full(8, 0.01, np.float32))
        y = x
        for _ in range(size // 3):
            y = tf.tanh(tf.matmul(y, w) + b)
        feed = {x: np.ones((4, 8), np.float32)}
    else:
        x = tf.placeholder(tf.float32, [16])
        y = x
        for _ in range(size // 2):
            y = tf.tanh(y)
        y = tf.gradients(tf.reduce_sum(y), x)[0]
        feed = {x: np.linspace(-1, 1, 16).astype(np.float32)}
    built = time.perf_counter()
    with tf.Session() as sess:
        sess.run(y, feed)
    return {"seconds": time.perf_counter() - started, "graph_seconds": built - started,
            "ops": len(tf.get_default_graph().get_operations())}


def _jax_worker(graph: str, size: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    started = time.perf_counter()
    if graph == "chain":
        w, b = jnp.asarray(np.eye(8, dtype=np.float32) * 0.5), jnp.asarray(np.full(8, 0.01, np.float32))

        def function(x):
            for _ in range(size // 3):
                x = jnp.tanh(x @ w + b)
            return x

        x = np.ones((4, 8), np.float32)
    else:
        def chain(x):
            for _ in range(size // 2):
                x = jnp.tanh(x)
            return jnp.sum(x)

        function, x = jax.grad(chain), np.linspace(-1, 1, 16).astype(np.float32)
    jax.jit(function)(x).block_until_ready()
    return {"seconds": time.perf_counter() - started}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        framework, graph, size = sys.argv[2], sys.argv[3], int(sys.argv[4])
        worker = _graphc_worker if framework == "graphc" else _jax_worker
        print(json.dumps(worker(graph, size)))
    else:
        print(table(measure()))
