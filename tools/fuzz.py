"""`make fuzz`: random graphs compiled vs the reference interpreter, for a time budget.

Runs the generator of tests/fuzz in every mode, round robin, in batches of
fresh random examples (no derandomising, no shrinking), keeps going after a
mismatch, and prints how many graphs, ops and runs it checked and every
mismatch with the graph and feeds that show it.

`--oracle tf` (`make fuzz-tf`) also runs every graph in TensorFlow, in a
worker process, and compares graphc's values, gradients, variables and
exceptions with TF's; its graphs get wider inputs (signed zeros, huge and
tiny values, long reductions): tests/fuzz/tensorflow_oracle.py.

    python tools/fuzz.py --seconds 600 [--oracle reference|tf] [--max-ops 12] [--out mismatches.txt]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("GRAPHC_VERIFY", "1")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import graphc as tf  # noqa: E402
from tests.fuzz.context import FINITE_DIFFERENCES, GRADIENTS, STATE, VALUES  # noqa: E402
from tests.fuzz.oracle import STATS, Mismatch, check_graph  # noqa: E402
from tests.fuzz.tensorflow_oracle import INSTALL_HINT, TensorFlowWorker, tensorflow_installed  # noqa: E402

MODES = [(VALUES, tf.float32), (VALUES, tf.float64), (GRADIENTS, tf.float32), (GRADIENTS, tf.float64),
         (FINITE_DIFFERENCES, tf.float64), (VALUES, tf.float32), (STATE, tf.float32), (STATE, tf.float64)]


def run_batch(mode, dtype, examples: int, max_ops: int, failures: list, tensorflow=None) -> None:
    """`examples` random graphs (also run by `tensorflow`, a TensorFlowWorker, when given); mismatches (and
    crashes of the harness) are collected, not raised."""

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        try:
            check_graph(data.draw, mode, dtype, max_ops=max_ops, tensorflow=tensorflow)
        except Mismatch as mismatch:
            failures.append(f"[{mode} {dtype.name}] {mismatch}")
        except Exception as error:  # a graph the generator should not have built, or a crash
            where = "".join(traceback.format_exception(error)[-4:])
            failures.append(f"[{mode} {dtype.name}] {type(error).__name__}: {error}\n{where}")

    check()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--max-ops", type=int, default=12)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--out", type=Path, help="write every mismatch here too")
    parser.add_argument("--oracle", choices=("reference", "tf"), default="reference",
                        help="tf: TensorFlow as a second oracle (needs tensorflow; `make fuzz-tf` installs it)")
    args = parser.parse_args()
    if args.oracle == "tf" and not tensorflow_installed():
        print(f"--oracle tf needs TensorFlow: {INSTALL_HINT}", file=sys.stderr)
        return 2
    failures: list[str] = []
    with TensorFlowWorker() if args.oracle == "tf" else contextlib.nullcontext() as tensorflow:
        start = time.monotonic()
        batches = 0
        while time.monotonic() - start < args.seconds:
            mode, dtype = MODES[batches % len(MODES)]
            run_batch(mode, dtype, args.batch, args.max_ops, failures, tensorflow)
            batches += 1
        elapsed = time.monotonic() - start
        versus = (f" (also against TensorFlow {tensorflow.version}: {STATS.tensorflow_runs} runs)"
                  if tensorflow else "")
    for failure in failures:
        print(failure, end="\n\n")
    if args.out:
        args.out.write_text("\n\n".join(failures))
    print(f"fuzzed {STATS.graphs} graphs ({STATS.ops} ops, {len(STATS.op_types)} op types, {STATS.runs} runs, "
          f"{STATS.skipped} finite-difference checks skipped){versus} in {elapsed:.0f} s: {len(failures)} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
