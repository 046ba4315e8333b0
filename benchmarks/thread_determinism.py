"""Whether the MLP training gives bit-identical weights with 1 and with N threads.

Each thread count runs in its own process (`thread_determinism.py --worker`,
GRAPHC_NUM_THREADS set), trains STEPS SGD steps from the benchmark's initial
weights and prints the SHA-256 of every weight and bias, bytes as stored.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

STEPS = 20


def weights_digest(threads: int) -> str:
    environment = dict(os.environ, GRAPHC_NUM_THREADS=str(threads))
    output = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker"], env=environment,
                            check=True, capture_output=True, text=True).stdout
    return output.split()[-1]


def identical(thread_counts: list) -> bool:
    """True when every thread count gives the same weights, bit for bit."""
    return len({weights_digest(threads) for threads in thread_counts}) == 1


def worker() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import graphc_steps
    import workloads

    import graphc as tf

    workload = workloads.mlp_workload(1)
    trainer = graphc_steps.mlp_trainer(workload)
    for step in range(STEPS):
        trainer.step(trainer.prepare(*workload.batches[step % len(workload.batches)]))
    digest = hashlib.sha256()
    with trainer.graph.as_default():
        for value in trainer.session.run(tf.trainable_variables()):
            digest.update(value.tobytes())
    print(digest.hexdigest())


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        print(identical(sorted({1, os.cpu_count() or 1})))
