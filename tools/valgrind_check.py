"""`make valgrind`: a compiled MLP training loop under valgrind's memcheck.

Runs the same program (784-64-10 MLP, softmax cross-entropy, SGD, batches of
100 — GEMM library, fused loops, softmax kernels, the thread pool) for two step
counts under `valgrind --leak-check=full` and prints, for each, the errors
memcheck reports (invalid reads and writes, uses of uninitialised values) and
the bytes definitely lost. It fails when there is any error or when the lost
bytes grow with the steps. The step library is compiled into the cache first,
outside valgrind, so valgrind watches the runs (and the library's loading),
not LLVM.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

PROGRAM = """
import sys
import numpy as np
import graphc as tf

steps = int(sys.argv[1])
rng = np.random.RandomState(0)
images = rng.rand(100, 784).astype(np.float32)
labels = rng.randint(0, 10, 100).astype(np.int32)
x = tf.placeholder(tf.float32, [None, 784])
y = tf.placeholder(tf.int32, [None])
w1 = tf.Variable(tf.truncated_normal([784, 64], stddev=0.05, seed=1))
w2 = tf.Variable(tf.truncated_normal([64, 10], stddev=0.05, seed=2))
logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for _ in range(steps):
        _, value = sess.run([train, loss], {x: images, y: labels})
print("loss", value)
"""

# The suppressions are known false positives in the dynamic loader and CPython; see the file.
SUPPRESSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "valgrind.supp")
VALGRIND_FLAGS = ["--leak-check=full", "--show-leak-kinds=definite", "--errors-for-leak-kinds=none",
                  "--num-callers=30", f"--suppressions={SUPPRESSIONS}"]


def run(command: list, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, capture_output=True, text=True)


def memcheck(program: str, steps: int, env: dict) -> tuple[int, int, str]:
    """(errors, bytes definitely lost, valgrind's report) for `steps` runs of the program."""
    result = run(["valgrind", *VALGRIND_FLAGS, sys.executable, program, str(steps)], env)
    if result.returncode != 0:
        raise SystemExit(f"the program failed under valgrind:\n{result.stderr[-4000:]}")
    errors = int(re.search(r"ERROR SUMMARY: ([\d,]+) errors", result.stderr).group(1).replace(",", ""))
    lost = re.search(r"definitely lost: ([\d,]+) bytes", result.stderr)
    return errors, int(lost.group(1).replace(",", "")) if lost else 0, result.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs=2, default=(5, 50), help="the two step counts compared")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        program = os.path.join(work, "train.py")
        with open(program, "w") as f:
            f.write(PROGRAM)
        # The system allocator, so memcheck sees every block; one thread keeps valgrind's serialised run short.
        env = dict(os.environ, PYTHONMALLOC="malloc", GRAPHC_CACHE_DIR=os.path.join(work, "cache"),
                   GRAPHC_NUM_THREADS=os.environ.get("GRAPHC_NUM_THREADS", "2"))
        warm = run([sys.executable, program, "1"], env)
        if warm.returncode != 0:
            raise SystemExit(f"the program failed:\n{warm.stderr}")
        rows = [(steps, *memcheck(program, steps, env)) for steps in args.steps]
    print("| steps | memcheck errors | definitely lost (bytes) |")
    print("|---:|---:|---:|")
    for steps, errors, lost, _ in rows:
        print(f"| {steps} | {errors} | {lost} |")
    failed = any(errors for _, errors, _, _ in rows) or rows[1][2] > rows[0][2]
    if failed:
        print(rows[-1][3][-6000:], file=sys.stderr)
        print("FAILED: memcheck errors, or lost memory growing with the steps", file=sys.stderr)
        return 1
    print("clean: no invalid reads or writes, and nothing lost grows with the steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
