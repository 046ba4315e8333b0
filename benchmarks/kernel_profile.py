"""Where a training step's time goes: each compiled kernel's time, and its share of the FMA peak.

graphc runs the benchmark's CNN and MLP steps (graphc_steps.py) as traced runs
(`RunOptions(trace_level=FULL_TRACE)`: the step compiled with a clock around
each kernel, see graphc/run_trace.py) of many steps in one call
(`Session.run(..., steps=N)`, each step its own batch in turn), and takes each
kernel's median time over the steps. A loop of steps, as the timed steps run:
traced one-step calls leave the pool's worker idle while Python builds each
call's RunMetadata (1-2 ms for the MLP, longer than the worker spins before it
sleeps), and in two `make bench` runs that profile had every MLP kernel at
about one thread's speed, twice the step. A kernel's floating-point work is
that of the products among the graph ops it computes (2 M N K for a MatMul; 2 x output pixels x KH KW C x O
for a convolution and for each of its gradients); elementwise work is not
counted, so memory-bound kernels show no share. Share of peak = GFLOP/s over
the FMA peak measured for the thread count the steps ran with (fma_peak.c)."""

from __future__ import annotations

import math
import statistics

import numpy as np

import graphc as tf
import graphc_steps
import workloads

# Traced calls per workload, each of one step per batch of the workload (20); after a call of
# WARMUP_STEPS that compiles and warms up. About 0.3 s of steps each.
CALLS = {"CNN": 1, "MLP": 10}
WARMUP_STEPS = 3
PRODUCT_TYPES = ("MatMul", "Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")
WORKLOADS = {"CNN": (workloads.cnn_workload, "cnn_trainer"), "MLP": (workloads.mlp_workload, "mlp_trainer")}


def measure(peak: float) -> list:
    """[row] for every kernel of the CNN and MLP steps: {"step", "kernel", "ms", "gflop", "share"}
    (share of `peak` GFLOP/s, None for kernels with no products), slowest first within a step."""
    rows = []
    for step, (make_workload, factory) in WORKLOADS.items():
        workload = make_workload(1)
        trainer = getattr(graphc_steps, factory)(workload)
        feeds = trainer.prepare(np.stack([inputs for inputs, _ in workload.batches]),
                                np.stack([targets for _, targets in workload.batches]))
        options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
        trainer.session.run(trainer.train_op, {tensor: value[:WARMUP_STEPS] for tensor, value in feeds.items()},
                            options=options, steps=WARMUP_STEPS)
        samples = {}
        for _ in range(CALLS[step]):
            metadata = tf.RunMetadata()
            trainer.session.run(trainer.train_op, feeds, options=options, run_metadata=metadata,
                                steps=len(workload.batches))
            for node in metadata.step_stats.dev_stats[0].node_stats:
                samples.setdefault(node.timeline_label, []).append(node.all_end_rel_nanos / 1e9)
        batch = len(workload.batches[0][0])
        for label, seconds in samples.items():
            median = statistics.median(seconds)
            gflop = kernel_flops(trainer.graph, label, batch) / 1e9
            rows.append({"step": step, "kernel": label, "ms": 1e3 * median, "gflop": gflop,
                         "share": gflop / median / peak if gflop else None})
    return sorted(rows, key=lambda row: (list(WORKLOADS).index(row["step"]), -row["ms"]))


def kernel_flops(graph, label: str, batch: int) -> int:
    """The multiply-adds (x2) of the products among the ops a kernel's timeline label names
    ("conv kernel: Conv2D_1, add_1, Relu_1"); unknown (batch) dimensions are `batch`."""
    total = 0
    for name in label.split(": ", 1)[1].split(", "):
        op = graph.get_operation_by_name(name)
        if op.type not in PRODUCT_TYPES:
            continue

        def dims(tensor):
            return [batch if d is None else d for d in tensor.shape.as_list()]

        if op.type == "MatMul":
            a = dims(op.inputs[0])
            depth = a[0] if op.get_attr("transpose_a") else a[1]
            total += 2 * math.prod(dims(op.outputs[0])) * depth
        else:  # graphc's operands: conv2d (x, w), backprop_input (w, dy, sizes), backprop_filter (x, dy, sizes)
            image = dims(op.outputs[0]) if op.type == "Conv2D" else dims(op.inputs[1])
            window = dims(op.inputs[1] if op.type == "Conv2D" else op.inputs[0] if op.type == "Conv2DBackpropInput"
                          else op.outputs[0])
            total += 2 * math.prod(image) * math.prod(window[:3])
    return total


def table(rows: list, peak: float, threads: int) -> str:
    """A markdown table of the kernels, with each step's total and its share of the peak."""
    counts = ", ".join(f"{step} {calls}" for step, calls in CALLS.items())
    lines = [f"Kernels of the graphc steps (traced, medians over the steps of calls of {workloads.MLP_BATCH_COUNT} "
             f"steps, calls: {counts}; {threads} threads; FMA peak {peak:.0f} GFLOP/s):", "",
             "| step | kernel (the graph ops it computes) | ms | % of step | GFLOP | GFLOP/s | share of peak |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for step in WORKLOADS:
        step_rows = [row for row in rows if row["step"] == step]
        total_ms = sum(row["ms"] for row in step_rows)
        total_gflop = sum(row["gflop"] for row in step_rows)
        for row in step_rows:
            rate = f"{row['gflop'] / row['ms'] * 1e3:.0f}" if row["gflop"] else "-"
            share = f"{100 * row['share']:.0f}%" if row["share"] is not None else "-"
            kernel = row["kernel"] if len(row["kernel"]) <= 90 else row["kernel"][:87] + "..."
            lines.append(f"| {step} | {kernel} | {row['ms']:.3f} | {100 * row['ms'] / total_ms:.1f} | "
                         f"{row['gflop']:.3f} | {rate} | {share} |")
        lines.append(f"| {step} | **all kernels** | **{total_ms:.2f}** | 100 | {total_gflop:.3f} | "
                     f"{total_gflop / total_ms * 1e3:.0f} | **{100 * total_gflop / total_ms * 1e3 / peak:.0f}%** |")
    return "\n".join(lines)


def chart(rows: list, peak: float, threads: int, path):
    """A horizontal bar per kernel with products: its share of the FMA peak, and its share of the step's time."""
    import matplotlib.pyplot as plt

    shown = [row for row in rows if row["share"] is not None]
    totals = {step: sum(row["ms"] for row in rows if row["step"] == step) for step in WORKLOADS}
    figure, axes = plt.subplots(figsize=(10, 0.32 * len(shown) + 1.5))
    labels = [f"{row['step']}: {row['kernel'].split(': ', 1)[1][:60]}" for row in shown]
    positions = range(len(shown))
    bars = axes.barh(list(positions), [100 * row["share"] for row in shown],
                     color=["tab:blue" if row["step"] == "CNN" else "tab:orange" for row in shown])
    axes.bar_label(bars, [f"{100 * row['share']:.0f}%  ({100 * row['ms'] / totals[row['step']]:.0f}% of the step)"
                          for row in shown], fontsize=7, padding=3)
    axes.set_yticks(list(positions), labels, fontsize=7)
    axes.invert_yaxis()
    axes.set_xlim(0, 110)
    axes.axvline(100, linestyle="--", linewidth=0.8, color="gray")
    axes.set_xlabel(f"share of the {threads}-thread FMA peak ({peak:.0f} GFLOP/s), %")
    axes.set_title("graphc kernels with products: share of the FMA peak (CNN blue, MLP orange)")
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")  # the long kernel names whole
    plt.close(figure)
    return path


if __name__ == "__main__":  # python benchmarks/kernel_profile.py: the table, with the peak measured now
    import os

    import gemm

    thread_count = os.cpu_count() or 1
    measured_peak = gemm.fma_peak(thread_count)[thread_count]
    print(table(measure(measured_peak), measured_peak, thread_count))
