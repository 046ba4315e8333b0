"""A traced run (`RunOptions(trace_level=FULL_TRACE)`): its kernels' timings as TF's `RunMetadata.step_stats`.

The session runs a step compiled with profiling (graphc/runtime/profile.py)
between the runtime's trace start and stop, then fills the RunMetadata as TF's
executor does: one DeviceStepStats for the host CPU, one NodeExecStats per
kernel call, in order. A kernel computes several graph ops at once (fusion), so
its NodeExecStats is named after the first of them and its timeline label
lists them all: `"elementwise kernel: hidden1/MatMul, hidden1/add, hidden1/Relu"`.
Start times are wall-clock microseconds (and nanoseconds) since the epoch, as
TF's are; the op's time is the kernel's, so op and "all" end at the same time.
"""

from __future__ import annotations

import contextlib
import threading
import time

from graphc.placement import cpu_device

_trace_lock = threading.Lock()  # the runtime keeps one trace: traced runs take turns


@contextlib.contextmanager
def tracing():
    """Runs the block with the runtime tracing; yields the list that receives the events
    [(kernel label, wall-clock start ns, ns)] when the block ends."""
    from graphc.runtime import loader, profile

    events: list = []
    with _trace_lock:
        wall_minus_monotonic = time.time_ns() - time.monotonic_ns()  # the runtime's clock is CLOCK_MONOTONIC
        profile.trace_start(loader.runtime())
        try:
            yield events
        finally:
            events += [(label, started + wall_minus_monotonic, nanoseconds)
                       for label, started, nanoseconds in profile.trace_stop(loader.runtime())]


def fill_step_stats(run_metadata, events: list, kernel_labels: dict) -> None:
    """Replaces `run_metadata`'s step_stats with `events` of the step whose kernels `kernel_labels` names
    ({label: (kind, graph op names)}); events of other steps (another thread's profiled ones) are left out."""
    run_metadata.step_stats.Clear()
    device = run_metadata.step_stats.dev_stats.add(device=cpu_device(0))
    thread = threading.get_ident() & 0xFFFFFFFF  # the kernels' calls run on the caller's thread
    for label, started, nanoseconds in events:
        if label not in kernel_labels:
            continue
        kind, ops = kernel_labels[label]
        node = device.node_stats.add(node_name=ops[0] if ops else label,
                                     timeline_label=f"{kind} kernel: {', '.join(ops)}", thread_id=thread)
        node.all_start_nanos, node.all_start_micros = started, started // 1000
        node.op_start_rel_nanos = node.op_start_rel_micros = 0
        node.op_end_rel_nanos = node.all_end_rel_nanos = nanoseconds
        node.op_end_rel_micros = node.all_end_rel_micros = nanoseconds // 1000
