"""How long the MLP training step takes to compile: cold, and from the on-disk cache.

Each measurement is a fresh process (`compile_time.py --worker`) that builds the
TF1 graph, runs the initializer, then times its first `sess.run(train_op,
feed_dict)` from call to return: lowering, passes, LLVM, linking and loading,
and the step itself. "Cold" starts from an empty cache holding only the
per-machine libraries (the C runtime and the GEMM library, which `make` builds
once per machine); "cached" reuses the cache the cold run filled.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 3


def measure() -> dict:
    """{"cold": seconds, "cached": seconds}, medians of REPEATS pairs of processes."""
    cold, cached = [], []
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as directory:
            cache = Path(directory) / "cache"
            _seed_per_machine_libraries(cache)
            cold.append(_run_worker(cache))
            cached.append(_run_worker(cache))
    return {"cold": statistics.median(cold), "cached": statistics.median(cached)}


def _seed_per_machine_libraries(cache: Path) -> None:
    from graphc.compiler import driver
    from graphc.runtime import cache as graphc_cache

    driver.load_runtime()
    cache.mkdir(mode=0o700)
    for library in graphc_cache.cache_dir().glob("libgraphc_*"):
        shutil.copy2(library, cache / library.name)


def _run_worker(cache: Path) -> float:
    environment = dict(os.environ, GRAPHC_CACHE_DIR=str(cache))
    output = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker"], env=environment,
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.splitlines()[-1])["seconds"]


def worker() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import graphc_steps
    import workloads

    workload = workloads.mlp_workload(1)
    trainer = graphc_steps.mlp_trainer(workload)
    feed_dict = trainer.prepare(*workload.batches[0])
    start = time.perf_counter()
    trainer.step(feed_dict)
    print(json.dumps({"seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        print(measure())
