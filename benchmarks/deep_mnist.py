"""A whole program, not a step: TensorFlow's "Deep MNIST for Experts" under graphc, TensorFlow and PyTorch.

The tutorial's model (28x28x1 -> conv 5x5x32 SAME ReLU -> 2x2 max-pool -> conv
5x5x64 SAME ReLU -> 2x2 max-pool -> dense 1024 ReLU -> dropout 0.5 -> dense 10;
softmax cross-entropy on one-hot labels; Adam 1e-4), trained for STEPS steps
on batches of 50, then evaluated on the 10,000 test images in one batch. The
TF1 program (`tf1_program`) runs unchanged under `import graphc as tf` and under
`tensorflow.compat.v1` (graph mode); PyTorch runs the same model eagerly.
Every framework trains on the same batches, from the same initial weights.

Each framework runs in a process of its own, and the row is that process's
wall time, start to end, as a user sees it: importing the framework, building
(and, for graphc, compiling), training and evaluating. The worker also reports
its phases. `python benchmarks/deep_mnist.py [--steps N] [--rounds R]` prints
the table; `make bench` runs it with the tutorial's 1,000 steps.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

STEPS = 1000
BATCH = 50
LEARNING_RATE = 1e-4
KEEP_PROBABILITY = 0.5
SEED = 0
FRAMEWORKS = ("graphc", "tensorflow", "torch")
NAMES = {"graphc": "graphc", "tensorflow": "TensorFlow (tf.compat.v1)", "torch": "PyTorch (eager)"}
TENSORFLOW_LIMIT = 0.6  # issue 19's target: graphc's wall time at most this times TensorFlow's


def data(steps: int):
    """(training batches [(images [50, 784], one-hot labels [50, 10])], test images, test labels, initial
    weights {name: array}), float32, from graphc's bundled MNIST and a fixed seed."""
    import numpy as np

    from graphc.datasets import mnist

    (train_images, train_labels), (test_images, test_labels) = mnist.load_data()
    rng = np.random.default_rng(SEED)
    order = np.concatenate([rng.permutation(len(train_images)) for _ in range(-(-steps * BATCH // len(train_images)))])

    def pixels(images):
        return (images.reshape(len(images), 784) / np.float32(255.0)).astype(np.float32)

    def one_hot(labels):
        return np.eye(10, dtype=np.float32)[labels]

    batches = [(pixels(train_images[order[i * BATCH:(i + 1) * BATCH]]),
                one_hot(train_labels[order[i * BATCH:(i + 1) * BATCH]])) for i in range(steps)]

    def weights(*shape):  # the tutorial's truncated normal, stddev 0.1, drawn here so all start alike
        return np.clip(rng.normal(0.0, 0.1, shape), -0.2, 0.2).astype(np.float32)

    initial = {"w_conv1": weights(5, 5, 1, 32), "w_conv2": weights(5, 5, 32, 64),
               "w_fc1": weights(7 * 7 * 64, 1024), "w_fc2": weights(1024, 10)}
    for name, size in (("b_conv1", 32), ("b_conv2", 64), ("b_fc1", 1024), ("b_fc2", 10)):
        initial[name] = np.full(size, 0.1, np.float32)
    return batches, pixels(test_images), test_labels.astype(np.int64), initial


def tf1_program(tf, batches, test_images, test_labels, initial) -> dict:
    """The tutorial, as TF1 code: returns the phases' seconds, the last loss and the test accuracy."""
    import numpy as np

    phases, start = {}, time.perf_counter()
    x = tf.placeholder(tf.float32, [None, 784])
    y_ = tf.placeholder(tf.float32, [None, 10])
    keep_prob = tf.placeholder(tf.float32)
    v = {name: tf.Variable(value) for name, value in initial.items()}

    def conv2d(x, w):
        return tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME")

    def max_pool_2x2(x):
        return tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")

    x_image = tf.reshape(x, [-1, 28, 28, 1])
    h_pool1 = max_pool_2x2(tf.nn.relu(conv2d(x_image, v["w_conv1"]) + v["b_conv1"]))
    h_pool2 = max_pool_2x2(tf.nn.relu(conv2d(h_pool1, v["w_conv2"]) + v["b_conv2"]))
    h_fc1 = tf.nn.relu(tf.matmul(tf.reshape(h_pool2, [-1, 7 * 7 * 64]), v["w_fc1"]) + v["b_fc1"])
    h_fc1_drop = tf.nn.dropout(h_fc1, keep_prob=keep_prob)
    y_conv = tf.matmul(h_fc1_drop, v["w_fc2"]) + v["b_fc2"]
    cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y_conv))
    train_step = tf.train.AdamOptimizer(LEARNING_RATE).minimize(cross_entropy)
    correct_prediction = tf.equal(tf.argmax(y_conv, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        phases["build"] = time.perf_counter() - start
        start = time.perf_counter()
        for images, labels in batches:
            _, loss = sess.run([train_step, cross_entropy], {x: images, y_: labels, keep_prob: KEEP_PROBABILITY})
        phases["train"] = time.perf_counter() - start
        start = time.perf_counter()
        test_accuracy = sess.run(accuracy, {x: test_images, y_: np.eye(10, dtype=np.float32)[test_labels],
                                            keep_prob: 1.0})
        phases["evaluate"] = time.perf_counter() - start
    return {**phases, "loss": float(loss), "accuracy": float(test_accuracy)}


def torch_program(batches, test_images, test_labels, initial) -> dict:
    """The same model in PyTorch, eager: NCHW, torch.optim.Adam (which adds epsilon after the bias
    correction, TF1 before: the losses differ slightly)."""
    import torch
    import torch.nn.functional as F

    phases, start = {}, time.perf_counter()
    torch.manual_seed(SEED)
    p = {name: torch.tensor(value, requires_grad=True) for name, value in initial.items()}
    conv_filters = {name: p[name].detach().permute(3, 2, 0, 1).contiguous().requires_grad_()
                    for name in ("w_conv1", "w_conv2")}  # HWIO -> OIHW
    p.update(conv_filters)
    optimizer = torch.optim.Adam(p.values(), lr=LEARNING_RATE)

    def logits(images, train: bool):
        h = images.view(-1, 1, 28, 28)
        h = F.max_pool2d(F.relu(F.conv2d(h, p["w_conv1"], p["b_conv1"], padding=2)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, p["w_conv2"], p["b_conv2"], padding=2)), 2)
        h = h.permute(0, 2, 3, 1).reshape(-1, 7 * 7 * 64)  # NHWC order, as the TF1 weights expect
        h = F.dropout(F.relu(h @ p["w_fc1"] + p["b_fc1"]), 1 - KEEP_PROBABILITY, training=train)
        return h @ p["w_fc2"] + p["b_fc2"]

    phases["build"] = time.perf_counter() - start
    start = time.perf_counter()
    for images, labels in batches:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits(torch.from_numpy(images), True), torch.from_numpy(labels.argmax(1)))
        loss.backward()
        optimizer.step()
    phases["train"] = time.perf_counter() - start
    start = time.perf_counter()
    with torch.no_grad():
        predicted = logits(torch.from_numpy(test_images), False).argmax(1)
        accuracy = (predicted == torch.from_numpy(test_labels)).float().mean()
    phases["evaluate"] = time.perf_counter() - start
    return {**phases, "loss": float(loss), "accuracy": float(accuracy)}


def worker(framework: str, steps: int) -> None:
    """One run of the program in this process; prints its phases as JSON."""
    start = time.perf_counter()
    if framework == "graphc":
        import graphc as tf
    elif framework == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow.compat.v1 as tf
        tf.disable_eager_execution()
    else:
        import torch  # noqa: F401
    imported = time.perf_counter() - start
    start = time.perf_counter()
    arrays = data(steps)
    prepared = time.perf_counter() - start
    result = torch_program(*arrays) if framework == "torch" else tf1_program(tf, *arrays)
    print(json.dumps({"import": imported, "data": prepared, **result}), flush=True)


def available(framework: str) -> bool:
    import importlib.util
    return framework == "graphc" or importlib.util.find_spec(framework) is not None


def measure(steps: int = STEPS, rounds: int = 1) -> dict:
    """{framework: {"wall": median seconds of the whole process, phases of its median run...}}, the
    frameworks taking turns for `rounds` rounds; frameworks that are not installed are left out."""
    runs = {framework: [] for framework in FRAMEWORKS if available(framework)}
    for round_index in range(rounds):
        order = list(runs)
        order = order[round_index % len(order):] + order[:round_index % len(order)]
        for framework in order:
            start = time.perf_counter()
            output = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", framework,
                                     "--steps", str(steps)], check=True, capture_output=True, text=True).stdout
            wall = time.perf_counter() - start
            result = json.loads(output.strip().splitlines()[-1])
            runs[framework].append({"wall": wall, **result})
    return {framework: sorted(results, key=lambda run: run["wall"])[len(results) // 2]
            for framework, results in runs.items()}


def table(results: dict, steps: int) -> str:
    """A markdown table: wall time, its phases, accuracy, ratio to graphc's wall time."""
    graphc_wall = results["graphc"]["wall"]
    lines = [f"{steps} training steps of batch 50, then the 10,000 test images in one batch; seconds "
             "(wall time of the whole process; its phases)", "",
             "| framework | wall time | import | build + compile | train | evaluate | test accuracy | "
             "ratio to graphc |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for framework, run in results.items():
        lines.append(f"| {NAMES[framework]} | {run['wall']:.1f} | {run['import']:.1f} | {run['build']:.2f} | "
                     f"{run['train']:.1f} | {run['evaluate']:.2f} | {run['accuracy']:.4f} | "
                     f"{run['wall'] / graphc_wall:.2f} |")
    return "\n".join(lines)


def target(results: dict):
    """issue 19's target, graphc's wall time at most TENSORFLOW_LIMIT x TensorFlow's, as a report.Target."""
    import report

    name = f"Deep MNIST program: graphc / TensorFlow wall time ≤ {TENSORFLOW_LIMIT:g}"
    if "tensorflow" not in results:
        return report.Target(name, "-", None)
    ratio = results["graphc"]["wall"] / results["tensorflow"]["wall"]
    return report.Target(name, f"{ratio:.2f}", ratio <= TENSORFLOW_LIMIT)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps (default: the tutorial's 1,000)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each framework; the median is reported")
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        worker(arguments.worker, arguments.steps)
    else:
        print(table(measure(arguments.steps, arguments.rounds), arguments.steps))
