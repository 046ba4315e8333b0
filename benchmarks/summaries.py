"""What 4 histogram summaries add to the training step they are fetched with.

The MLP step (784-300-100-10, batch 100, SGD) of graphc_steps.py, with
`tf.summary.histogram` of its three weight matrices and its first hidden
layer merged into one summary: the step alone, `[train_op, merged]` (the
buckets counted by the compiled step, core/histograms.py), and for reference
the same statistics computed on the host in NumPy from the four tensors (what
graphc did before the buckets moved into the step; TF1's kernel runs the same
per-value bucket search in C++). And, when TensorFlow is installed, the same step with and
without the same 4 summaries under TensorFlow (`tensorflow.compat.v1`, graph mode, the same
weights and batch). Medians over run.py's interleaved rounds, in one run.
"""

from __future__ import annotations

import graphc as tf
import graphc_steps
import report
import workloads
from graphc.core import histograms

STEPS_PER_BLOCK = 20


def measure() -> dict:
    """{"step": s, "step with 4 histograms": s, "4 histograms in NumPy": s}, medians per step."""
    workload = workloads.mlp_workload(STEPS_PER_BLOCK)
    trainer = graphc_steps.mlp_trainer(workload)
    with trainer.graph.as_default():
        weights = [v for v in tf.trainable_variables() if len(v.shape) == 2]
        hidden = trainer.graph.get_tensor_by_name("Relu:0")
        tensors = weights + [hidden]
        merged = tf.summary.merge([tf.summary.histogram(f"h{i}", t) for i, t in enumerate(tensors)])
    feed = trainer.prepare(*workload.batches[0])
    session = trainer.session

    def plain(feed_dict):
        session.run(trainer.train_op, feed_dict)

    def with_summaries(feed_dict):
        session.run([trainer.train_op, merged], feed_dict)

    def in_numpy(feed_dict):
        session.run(trainer.train_op, feed_dict)
        for value in session.run(tensors, feed_dict):
            histograms.statistics(value)

    import run  # the benchmark's driver, which imports this module: its round-robin timing

    functions = [("step", plain), ("step with 4 histograms", with_summaries),
                 ("step, then 4 histograms in NumPy", in_numpy)] + _tensorflow_steps(workload)
    contenders = [run.Contender(name, _Steps(function), [feed]) for name, function in functions]
    return run.median_seconds_per_step(contenders, STEPS_PER_BLOCK)


def _tensorflow_steps(workload) -> list:
    """[(name, function of graphc's feed dict)]: TensorFlow's step alone and with the same 4 histogram
    summaries merged, on the first batch; none, with a note, when TensorFlow does not import."""
    try:
        import tensorflow.compat.v1 as tf1
    except ImportError as error:
        print(f"Note: skipping TensorFlow, which does not import ({error}).")
        return []
    graph = tf1.Graph()
    with graph.as_default():
        batch = workload.batches[0]
        images, labels = (tf1.placeholder(tf1.as_dtype(value.dtype), value.shape) for value in batch)
        layers = [(tf1.Variable(weights), tf1.Variable(biases)) for weights, biases in workload.params]
        activations, hidden = images, []
        for weights, biases in layers[:-1]:
            activations = tf1.nn.relu(tf1.matmul(activations, weights) + biases)
            hidden.append(activations)
        logits = tf1.matmul(activations, layers[-1][0]) + layers[-1][1]
        loss = tf1.reduce_mean(tf1.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        train_op = tf1.train.GradientDescentOptimizer(workload.learning_rate).minimize(loss)
        tensors = [weights for weights, _ in layers] + hidden[:1]
        merged = tf1.summary.merge([tf1.summary.histogram(f"h{i}", t) for i, t in enumerate(tensors)])
        session = tf1.Session(graph=graph)
        session.run(tf1.global_variables_initializer())
    feed = dict(zip((images, labels), batch))  # fed at every step, as graphc's
    return [("TensorFlow: step", lambda feed_dict: session.run(train_op, feed)),
            ("TensorFlow: step with 4 histograms", lambda feed_dict: session.run([train_op, merged], feed))]


class _Steps:
    """One way of running the step, as the benchmark's driver times a trainer."""

    def __init__(self, function):
        self.step = function

    def wait(self):
        """Nothing to wait for: `sess.run` returns when the step is done."""


def table(medians: dict) -> str:
    """A markdown table: each kind of step, its median time and its ratio to the step alone (of the same
    framework)."""
    rows = ["| MLP step | median ms | ratio to the step alone |", "|---|---:|---:|"]
    for name, seconds in medians.items():
        alone = medians["TensorFlow: step" if name.startswith("TensorFlow") else "step"]
        rows.append(f"| {name} | {1000 * seconds:.3f} | {seconds / alone:.3f} |")
    return "\n".join(rows)


def target(medians: dict):
    """Issue 19's: the 4 histograms add at most 5% to the step."""
    ratio = medians["step with 4 histograms"] / medians["step"]
    return report.Target("4 histogram summaries add ≤ 5% to the MLP step", f"+{100 * (ratio - 1):.0f}%",
                         ratio <= 1.05)


if __name__ == "__main__":
    print(table(measure()))
