"""`make bench-distributed`: images per second of data parallel training at 1 and 2 ranks, one thread each.

The MLP (SGD) and the tutorial CNN (Adam) of workloads.py, batches of 100 per
rank: graphc synchronous (hvd.DistributedOptimizer: one MPI_Allreduce inside
each compiled step) and asynchronous (graphc.distribute.AsyncOptimizer: a
parameter server in an MPI window), and PyTorch DistributedDataParallel over
gloo (synchronous) when torch imports. Each configuration is a fresh
`mpirun -np R` of distributed_worker.py on this machine (loopback). Prints a
table and the issue's targets and writes benchmarks/results/distributed.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = {"mlp": 300, "cnn": 40}
CONFIGURATIONS = [("graphc", "sync"), ("graphc", "async"), ("torch", "sync")]
LABELS = {("graphc", "sync"): "graphc sync (Horovod API)", ("graphc", "async"): "graphc async (parameter server)",
          ("torch", "sync"): "PyTorch DDP (gloo)"}


def run(framework: str, model: str, mode: str, ranks: int) -> dict:
    """One configuration under mpirun: its worker's JSON line."""
    from graphc.tools import launch

    with socket.socket() as probe:  # a free port for gloo's rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = dict(os.environ, BENCH_PORT=str(port),
                       PYTHONPATH=os.pathsep.join([str(HERE.parent), str(HERE), os.environ.get("PYTHONPATH", "")]))
    command = launch.mpirun_command(ranks, str(HERE / "distributed_worker.py"),
                                    [framework, model, mode, str(STEPS[model])], oversubscribe=True)
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=1800)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"{framework} {model} {mode} on {ranks} ranks failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(lines[-1])


def measure() -> list:
    """Every configuration's result (PyTorch's only when torch imports)."""
    has_torch = importlib.util.find_spec("torch") is not None
    if not has_torch:
        print("Note: PyTorch is not installed (pip install -e '.[bench]'); its DDP column is left out.")
    results = []
    for model in STEPS:
        for framework, mode in CONFIGURATIONS:
            if framework == "torch" and not has_torch:
                continue
            for ranks in (1, 2):
                results.append(run(framework, model, mode, ranks))
                print(json.dumps(results[-1]), flush=True)
    return results


def table(results: list) -> str:
    """images/s per model, configuration and rank count, with the scaling from 1 to 2 ranks."""
    rows = ["| model | implementation | 1 rank | 2 ranks | 2 / 1 |", "|---|---|---:|---:|---:|"]
    for model in STEPS:
        for framework, mode in CONFIGURATIONS:
            by_ranks = {r["ranks"]: r["images_per_second"] for r in results
                        if (r["framework"], r["model"], r["mode"]) == (framework, model, mode)}
            if len(by_ranks) == 2:
                rows.append(f"| {model.upper()} | {LABELS[framework, mode]} | {by_ranks[1]:,.0f} img/s | "
                            f"{by_ranks[2]:,.0f} img/s | {by_ranks[2] / by_ranks[1]:.2f} |")
    return "\n".join(rows)


def targets(results: list) -> str:
    """The issue's targets: CNN 2 ranks >= 1.8 x 1 rank; graphc's sync step <= 0.5 x PyTorch DDP's (2 ranks)."""
    def rate(framework, model, mode, ranks):
        return next((r["images_per_second"] for r in results if (r["framework"], r["model"], r["mode"], r["ranks"])
                     == (framework, model, mode, ranks)), None)

    lines = ["| target | measured | verdict |", "|---|---:|---|"]
    for mode in ("sync", "async"):
        one, two = rate("graphc", "cnn", mode, 1), rate("graphc", "cnn", mode, 2)
        lines.append(f"| CNN, graphc {mode}: 2 ranks ≥ 1.8 × 1 rank | {two / one:.2f} | "
                     f"{'met' if two / one >= 1.8 else 'not met'} |")
    for model in STEPS:
        ours, theirs = rate("graphc", model, "sync", 2), rate("torch", model, "sync", 2)
        if theirs is None:
            lines.append(f"| {model.upper()}, graphc sync step ≤ 0.5 × PyTorch DDP's | — | "
                         "PyTorch not installed |")
        else:
            ratio = theirs / ours  # step time ratio = inverse throughput ratio
            lines.append(f"| {model.upper()}, graphc sync step ≤ 0.5 × PyTorch DDP's (2 ranks) | {ratio:.2f} | "
                         f"{'met' if ratio <= 0.5 else 'not met'} |")
    return "\n".join(lines)


def main() -> None:
    results = measure()
    text = (f"### Data parallel training: images/s, batch 100 per rank, 1 thread per rank "
            f"({os.cpu_count()} cores)\n\n{table(results)}\n\n{targets(results)}\n")
    print("\n" + text)
    output = HERE / "results" / "distributed.md"
    output.parent.mkdir(exist_ok=True)
    output.write_text(text)
    print(f"Wrote {output}")


if __name__ == "__main__":
    sys.exit(main())
