"""How long the MLP and CNN training steps take to compile: cold, and from the on-disk cache.

Each measurement is a fresh process (`compile_time.py --worker NAME`) that builds the
TF1 graph, runs the initializer, then times its first `sess.run(train_op,
feed_dict)` from call to return, and three more steps. "Cold" starts from an empty
cache holding only the per-machine libraries (the C runtime and the GEMM library,
which `make` builds once per machine); "cached" reuses the cache the cold run
filled. The worker runs with GRAPHC_TIMING=1, so each run says where its compile
time went, stage by stage (compiler/driver.py's instrument).

The cold compile time is the first run's time less the median of the others
(lowering, passes, LLVM, linking and loading). From the cache, the compile is
its stages: finding the step by its graph's key, loading its record, verifying
its library, loading the library and making its arena (the "load" phase) — the
step is then ready to run. The first run of a new process also pays for its
first touch of the arena's pages (33 MB for the CNN: page faults, and on a VM
the host backing them) and cold caches; that rest of the first run, less the
steady step, is shown beside it.
"""

from __future__ import annotations

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

REPEATS = 3
WORKLOADS = ("mlp", "cnn")
# Issue 19's targets, seconds: each step cold, and any step from the disk cache in a new process.
COLD_LIMITS = {"mlp": 0.25, "cnn": 0.5}
CACHED_LIMIT = 0.010
_TIMING_LINE = re.compile(r"graphc: compiled (\S+) in [\d.]+ ms \((.*)\)")


def measure() -> dict:
    """{workload: {"cold": s, "cold cpu": s, "load": 1-minute load average, "cached": s, "first run rest": s,
    "step": s, "stages": {stage: ms}}}: medians of REPEATS pairs of processes (the stages of the median cold
    run)."""
    results = {}
    for name in WORKLOADS:
        cold, cached = [], []
        for _ in range(REPEATS):
            with tempfile.TemporaryDirectory() as directory:
                cache = Path(directory) / "cache"
                _seed_per_machine_libraries(cache)
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
                cold.append(dict(_run_worker(cache, name), load=load))
                cached.append(_run_worker(cache, name))
        cold.sort(key=lambda run: run["seconds"])
        ready = [sum(run["stages"].values()) / 1000 for run in cached]
        results[name] = {"cold": cold[len(cold) // 2]["seconds"], "stages": cold[len(cold) // 2]["stages"],
                         "cold cpu": _median_known(run["cpu"] for run in cold),
                         "load": _median_known(run["load"] for run in cold),
                         "cached": statistics.median(ready),
                         "first run rest": statistics.median(run["seconds"] - r for run, r in zip(cached, ready)),
                         "step": statistics.median(run["step"] for run in cold + cached)}
    return results


def table(results: dict) -> str:
    """A markdown table of the compile times, and one of the cold compiles' stages."""
    rows = ["| training step | compile cold (s) | target | its CPU (s) | load average | from the disk cache, ready to "
            "run (ms) | target | the first run's rest (ms) | the step (ms) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, result in results.items():
        rows.append(f"| {name.upper()} | {result['cold']:.3f} | ≤ {COLD_LIMITS[name]:g} | "
                    f"{_format(result['cold cpu'], '.3f')} | {_format(result['load'], '.1f')} | "
                    f"{1000 * result['cached']:.1f} | ≤ {1000 * CACHED_LIMIT:g} | "
                    f"{1000 * result['first run rest']:.1f} | {1000 * result['step']:.2f} |")
    stages = list(dict.fromkeys(stage for result in results.values() for stage in result["stages"]))
    rows += ["", "| cold compile, ms | " + " | ".join(stages) + " |", "|---|" + "---:|" * len(stages)]
    for name, result in results.items():
        rows.append(f"| {name.upper()} | " + " | ".join(f"{result['stages'].get(stage, 0.0):.0f}"
                                                       for stage in stages) + " |")
    return "\n".join(rows)


def _median_known(values):
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def _format(value, spec: str) -> str:
    return "?" if value is None else format(value, spec)


def _seed_per_machine_libraries(cache: Path) -> None:
    from graphc.compiler import driver
    from graphc.runtime import cache as graphc_cache

    driver.load_runtime()
    cache.mkdir(mode=0o700)
    for library in graphc_cache.cache_dir().glob("libgraphc_*"):
        shutil.copy2(library, cache / library.name)


def _run_worker(cache: Path, name: str) -> dict:
    environment = dict(os.environ, GRAPHC_CACHE_DIR=str(cache), GRAPHC_TIMING="1")
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", name], env=environment,
                            check=True, capture_output=True, text=True)
    measured = json.loads(result.stdout.splitlines()[-1])
    # The training step's line (the initializer compiles before the timed run, and prints first).
    timing = [match for match in map(_TIMING_LINE.search, result.stderr.splitlines()) if match]
    measured["stages"] = {}
    if timing:
        for part in timing[-1].group(2).split(", "):
            stage, milliseconds = part.rsplit(" ", 1)
            measured["stages"][stage] = float(milliseconds)
    return measured


def worker(name: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import graphc_steps
    import workloads

    workload = {"mlp": workloads.mlp_workload, "cnn": workloads.cnn_workload}[name](1)
    trainer = getattr(graphc_steps, f"{name}_trainer")(workload)
    feed_dict = trainer.prepare(*workload.batches[0])
    times, cpu = [], []
    for _ in range(4):
        start, start_cpu = time.perf_counter(), _tree_cpu()
        trainer.step(feed_dict)
        times.append(time.perf_counter() - start)
        cpu.append(None if start_cpu is None else _tree_cpu() - start_cpu)
    step = statistics.median(times[1:])
    cold_cpu = None if cpu[0] is None else cpu[0] - statistics.median(cpu[1:])
    print(json.dumps({"seconds": times[0] - step, "step": step, "cpu": cold_cpu}))


def _tree_cpu():
    """CPU seconds of this process and of its child processes still running (graphc's LLVM workers, whose
    time a parent sees only once they end), from /proc; None where there is no /proc."""
    clock = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        children = [pid for task in os.listdir("/proc/self/task")
                    for pid in Path(f"/proc/self/task/{task}/children").read_text().split()]
        seconds = sum(os.times()[:2])
        for pid in children:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # it ended meanwhile
            seconds += (int(fields[11]) + int(fields[12])) / clock  # utime, stime
        return seconds
    except OSError:
        return None


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2])
    else:
        print(table(measure()))
