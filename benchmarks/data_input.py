"""tf.data against feed_dict (issue 16): the time per training step when a one-shot iterator feeds the
compiled step, against feeding the same batches by `feed_dict`.

The MLP and CNN steps of workloads.py, on a pool of their MNIST images (batches of 100), in five forms:

- feed_dict, sequential: `sess.run(train_op, {X: X[i:i+100], y: ...})`, the batches views of the pool;
- tf.data, sequential: `Dataset.from_tensor_slices((X, y)).batch(100).repeat()` — the same batches (the
  first two losses of the two forms must agree), fed without copies;
- feed_dict, shuffled: the tutorial's loop, each batch gathered as `X[permutation[i:i+100]]`;
- tf.data, shuffled: `.shuffle(len(X)).batch(100).repeat()`, each batch gathered by one NumPy take;
- tf.data, shuffled and prefetched: the same with `.prefetch(1)`, the next batch gathered on a worker
  thread while the step runs.

The forms take turns timing blocks of steps (round-robin); the table gives the median time per step and its
ratio to the feed_dict form of the same order (the target: within 5%). A second table gives the host time
to make one batch of the MLP's pool, without a step: what each form adds to a step when nothing overlaps it.

    python benchmarks/data_input.py [mlp|cnn ...]
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

import graphc as tf
import graphc_steps
from graphc.data.pipeline import Pipeline
import workloads

ROUNDS = 9
STEPS_PER_BLOCK = {"mlp": 60, "cnn": 6}
WORKLOADS = {"mlp": (workloads.mlp_workload, graphc_steps._mlp_loss),
             "cnn": (workloads.cnn_workload, graphc_steps._cnn_loss)}


class Form:
    """One way of feeding one model: its own graph and session, from the workload's initial weights."""

    def __init__(self, name, workload, build_loss, pool, dataset=None):
        self.name = name
        self.pool = pool
        self.graph = tf.Graph()
        with self.graph.as_default():
            images, labels = pool
            if dataset is None:
                self.inputs = (tf.placeholder(tf.float32, (None,) + images.shape[1:]),
                               tf.placeholder(tf.int32, [None]))
            else:
                self.inputs = dataset(tf.data.Dataset.from_tensor_slices(pool)).make_one_shot_iterator().get_next()
            variables = [(tf.Variable(weights), tf.Variable(biases)) for weights, biases in workload.params]
            self.loss = build_loss(*self.inputs, variables)
            optimizer = (tf.train.AdamOptimizer(workload.learning_rate, workloads.ADAM_BETA1, workloads.ADAM_BETA2,
                                                workloads.ADAM_EPSILON) if workload.optimizer == "adam"
                         else tf.train.GradientDescentOptimizer(workload.learning_rate))
            self.train_op = optimizer.minimize(self.loss)
            self.session = tf.Session(graph=self.graph)
            self.session.run(tf.global_variables_initializer())
        self.fed = dataset is None
        self.batches = self._feeds() if self.fed else None

    def _feeds(self):
        raise NotImplementedError

    def step(self):
        self.session.run(self.train_op, next(self.batches) if self.fed else None)

    def first_losses(self, count=2) -> list:
        losses = []
        for _ in range(count):
            _, loss = self.session.run([self.train_op, self.loss], next(self.batches) if self.fed else None)
            losses.append(float(loss))
        return losses


class SequentialFeeds(Form):
    def _feeds(self):
        images, labels = self.pool
        while True:
            for start in range(0, len(images), workloads.MLP_BATCH_SIZE):
                end = start + workloads.MLP_BATCH_SIZE
                yield {self.inputs[0]: images[start:end], self.inputs[1]: labels[start:end]}


class ShuffledFeeds(Form):
    def _feeds(self):
        images, labels = self.pool
        rng = np.random.default_rng(0)
        while True:  # the tutorial's shuffle_batch
            for batch in np.array_split(rng.permutation(len(images)), len(images) // workloads.MLP_BATCH_SIZE):
                yield {self.inputs[0]: images[batch], self.inputs[1]: labels[batch]}


def forms(name: str) -> list:
    make_workload, build_loss = WORKLOADS[name]
    workload = make_workload(STEPS_PER_BLOCK[name])
    pool = tuple(np.concatenate(parts) for parts in zip(*workload.batches))
    size, batch = len(pool[0]), workloads.MLP_BATCH_SIZE
    return [SequentialFeeds("feed_dict, sequential", workload, build_loss, pool),
            Form("tf.data, sequential", workload, build_loss, pool, lambda d: d.batch(batch).repeat()),
            ShuffledFeeds("feed_dict, shuffled (X[permutation])", workload, build_loss, pool),
            Form("tf.data, shuffled", workload, build_loss, pool,
                 lambda d: d.shuffle(size, seed=1).batch(batch).repeat()),
            Form("tf.data, shuffled, prefetch(1)", workload, build_loss, pool,
                 lambda d: d.shuffle(size, seed=1).batch(batch).repeat().prefetch(1))]


def measure(name: str) -> dict:
    """{form name: median seconds per step}; checks first that the sequential forms train alike."""
    contenders = forms(name)
    fed, dataset = contenders[0].first_losses(), contenders[1].first_losses()
    if not np.allclose(fed, dataset, rtol=1e-5):
        raise AssertionError(f"{name}: feed_dict and tf.data disagree on the same batches: {fed} vs {dataset}")
    steps = STEPS_PER_BLOCK[name]
    for form in contenders:  # warm-up: compiled, caches and threads awake
        for _ in range(steps):
            form.step()
    times = {form.name: [] for form in contenders}
    for round_index in range(ROUNDS):
        for form in contenders[round_index % len(contenders):] + contenders[:round_index % len(contenders)]:
            time.sleep(0.05)
            start = time.perf_counter()
            for _ in range(steps):
                form.step()
            times[form.name].append((time.perf_counter() - start) / steps)
    for form in contenders:
        form.session.close()
    return {form_name: statistics.median(values) for form_name, values in times.items()}


def table(name: str, medians: dict) -> str:
    """A markdown table: ms per step, and the ratio to the feed_dict form of the same order."""
    rows = [f"{name.upper()} step | ms per step | vs feed_dict", "--- | --- | ---"]
    baseline = None
    for form_name, seconds in medians.items():
        if form_name.startswith("feed_dict"):
            baseline = seconds
        rows.append(f"{form_name} | {seconds * 1e3:.3f} | {seconds / baseline:.3f}")
    return "\n".join(rows)


def host_costs(batches: int = 500) -> dict:
    """{how: µs to make one batch of the MLP's pool (the median over rounds of the mean)} for feed_dict's slicing and gathering and for
    the tf.data pipelines of the forms above (their elements, as the session takes them before a step)."""
    workload = workloads.mlp_workload(STEPS_PER_BLOCK["mlp"])
    images, labels = tuple(np.concatenate(parts) for parts in zip(*workload.batches))
    size, batch = len(images), workloads.MLP_BATCH_SIZE
    permutation = np.random.default_rng(0).permutation(size)
    slices = [(start % size, start % size + batch) for start in range(0, batches * batch, batch)]
    makers = {
        "feed_dict: X[i:i+100]": lambda i: (images[slices[i][0]:slices[i][1]], labels[slices[i][0]:slices[i][1]]),
        "feed_dict: X[permutation[i:i+100]]": lambda i: (images[permutation[slices[i][0]:slices[i][1]]],
                                                         labels[permutation[slices[i][0]:slices[i][1]]]),
    }
    source = tf.data.Dataset.from_tensor_slices((images, labels))
    for name, dataset in (("tf.data: batch().repeat()", source.batch(batch).repeat()),
                          ("tf.data: shuffle(n).batch().repeat()", source.shuffle(size, seed=1).batch(batch).repeat())):
        pipeline = Pipeline(dataset, {})
        pipeline.next_element()  # the shuffle buffer fills with the first batch
        makers[name] = lambda i, pipeline=pipeline: pipeline.next_element()
    means = {}
    for name, make in makers.items():
        rounds = []
        for _ in range(5):  # the mean of a round counts the batches that do a chunk's shuffling
            start = time.perf_counter()
            for i in range(batches):
                make(i)
            rounds.append((time.perf_counter() - start) / batches)
        means[name] = statistics.median(rounds) * 1e6
    return means


def host_table(medians: dict) -> str:
    """A markdown table of `host_costs`."""
    return "host work per batch | µs (mean)\n--- | ---\n" + "\n".join(
        f"{name} | {micros:.1f}" for name, micros in medians.items())


if __name__ == "__main__":
    for workload_name in sys.argv[1:] or list(WORKLOADS):
        print(table(workload_name, measure(workload_name)) + "\n")
    print(host_table(host_costs()))
