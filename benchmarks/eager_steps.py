"""The seed-001 TF2 step (issue 14): graphc eager and tf.function against TensorFlow 2 and PyTorch eager.

The step: Flatten -> Dense 100 ReLU -> Dense 10 -> softmax, mean sparse
categorical cross-entropy, Adam 1e-3 (TF2's formula), batches of 50 MNIST-sized
images. Forms: graphc's eager loop (`import graphc.v2 as tf`, the seed's loop
with the loss read every step; also with the replay of recorded steps off, each
step's graph built again), graphc's `tf.function`, TensorFlow 2 eager and
`tf.function` (when tensorflow is installed), PyTorch eager (when torch is). All
start from the same weights and batches; the first two losses must agree.
Prints the median milliseconds per step over blocks and the ratio to graphc's eager loop.

    python benchmarks/eager_steps.py [steps per block, default 100]
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time

import numpy as np

BATCH, ROUNDS = 50, 5


def weights_and_batches():
    rng = np.random.default_rng(0)
    weights = [rng.uniform(-0.08, 0.08, (784, 100)).astype(np.float32), np.zeros(100, np.float32),
               rng.uniform(-0.2, 0.2, (100, 10)).astype(np.float32), np.zeros(10, np.float32)]
    batches = [(rng.random((BATCH, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, BATCH).astype(np.int32))
               for _ in range(8)]
    return weights, batches


def graphc_steps(weights):
    """The eager loop and the tf.function step, each on its own copy of the model."""
    import graphc.v2 as tf

    def make():
        class MLP(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.flatten = tf.keras.layers.Flatten()
                self.dense1 = tf.keras.layers.Dense(units=100, activation=tf.nn.relu)
                self.dense2 = tf.keras.layers.Dense(units=10)

            def call(self, inputs):
                return tf.nn.softmax(self.dense2(self.dense1(self.flatten(inputs))))

        model, optimizer = MLP(), tf.keras.optimizers.Adam(learning_rate=1e-3)
        model(np.zeros((1, 28, 28, 1), np.float32))
        for variable, value in zip(model.variables, weights):
            variable.assign(value)

        def step(X, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y_true=y, y_pred=model(X)))
            grads = tape.gradient(loss, model.variables)
            optimizer.apply_gradients(zip(grads, model.variables))
            return loss
        return step

    from graphc.eager.context import context

    def building(step):
        """`step` with the replay of recorded steps off: every step builds its graph (graphc before it)."""
        def run(X, y):
            context().replay_steps = False
            try:
                return float(step(X, y).numpy())
            finally:
                context().replay_steps = True
        return run

    eager, unreplayed = make(), make()
    function = tf.function(make())
    return {"graphc eager": lambda X, y: float(eager(X, y).numpy()),
            "graphc eager, steps built (no replay)": building(unreplayed),
            "graphc tf.function": lambda X, y: float(function(X, y).numpy())}


def tensorflow_steps(weights):
    import tensorflow as tf

    def make():
        variables = [tf.Variable(w) for w in weights]
        slots = [(tf.Variable(tf.zeros_like(w)), tf.Variable(tf.zeros_like(w))) for w in weights]
        iterations = tf.Variable(0, dtype=tf.int64)

        def step(X, y):
            with tf.GradientTape() as tape:
                hidden = tf.nn.relu(tf.matmul(tf.reshape(X, [-1, 784]), variables[0]) + variables[1])
                probabilities = tf.nn.softmax(tf.matmul(hidden, variables[2]) + variables[3])
                loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, probabilities))
            grads = tape.gradient(loss, variables)
            iterations.assign_add(1)
            t = tf.cast(iterations, tf.float32)
            lr = 1e-3 * tf.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            for g, v, (m, s) in zip(grads, variables, slots):
                m.assign_add((g - m) * 0.1)
                s.assign_add((g * g - s) * 0.001)
                v.assign_sub(lr * m / (tf.sqrt(s) + 1e-7))
            return loss
        return step

    eager, function = make(), tf.function(make())
    return {"TensorFlow 2 eager": lambda X, y: float(eager(X, y).numpy()),
            "TensorFlow 2 tf.function": lambda X, y: float(function(X, y).numpy())}


def torch_steps(weights):
    import torch

    w1, b1, w2, b2 = [torch.tensor(w.T.copy() if w.ndim == 2 else w) for w in weights]
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
    with torch.no_grad():
        model[1].weight.copy_(w1), model[1].bias.copy_(b1), model[3].weight.copy_(w2), model[3].bias.copy_(b2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    def step(X, y):
        optimizer.zero_grad()
        probabilities = torch.softmax(model(torch.from_numpy(X)), dim=-1)
        loss = torch.nn.functional.nll_loss(torch.log(probabilities), torch.from_numpy(y).long())
        loss.backward()
        optimizer.step()
        return float(loss)
    return {"PyTorch eager": step}


def measure(steps: int = 100) -> dict:
    """Median seconds per step of each form, after checking the first two losses agree with graphc's eager."""
    weights, batches = weights_and_batches()
    contenders = graphc_steps(weights)
    for module, make in (("tensorflow", tensorflow_steps), ("torch", torch_steps)):
        if importlib.util.find_spec(module) is None:
            print(f"Note: {module} is not installed: its rows of the TF2 step are left out.")
        else:
            contenders.update(make(weights))
    losses = {name: [step(*batches[0]), step(*batches[1])] for name, step in contenders.items()}
    reference = losses["graphc eager"]
    for name, values in losses.items():
        if not np.allclose(values, reference, rtol=1e-4):
            sys.exit(f"LOSS MISMATCH: {name} {values} vs graphc eager {reference}")
    samples = {name: [] for name in contenders}
    for round_index in range(ROUNDS + 1):
        for name, step in contenders.items():
            start = time.perf_counter()
            for i in range(steps):
                step(*batches[i % len(batches)])
            if round_index:  # the first round warms up
                samples[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(times) for name, times in samples.items()}


def table(medians: dict) -> str:
    """A markdown table of the medians, with the ratio to graphc's eager loop."""
    base = medians["graphc eager"]
    rows = ["| seed-001 step (batch 50) | median ms per step | ratio to graphc eager |", "|---|---:|---:|"]
    rows += [f"| {name} | {seconds * 1e3:.2f} | {seconds / base:.2f} |" for name, seconds in medians.items()]
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 100)))
