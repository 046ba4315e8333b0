"""A repeated eager step replays its recorded trace instead of building its graph (graphc/eager/trace.py).

Oracle: the same program with replay switched off (`context().replay_steps = False`: every step builds
its graph, the path before traces existed). Replayed and diverging steps must give bit-identical
values, and a matched step must build no graph operation.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import graphc.v2 as tf
from graphc.eager.context import context
from graphc.frontend.graph import Graph

RNG = np.random.default_rng(7)
WEIGHTS = [RNG.uniform(-0.3, 0.3, (12, 8)).astype(np.float32), RNG.uniform(-0.1, 0.1, 8).astype(np.float32),
           RNG.uniform(-0.3, 0.3, (8, 4)).astype(np.float32), np.zeros(4, np.float32)]
BATCHES = [(RNG.random((6, 3, 4, 1), dtype=np.float32), RNG.integers(0, 4, 6).astype(np.int32)) for _ in range(4)]


class MLP(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.flatten = tf.keras.layers.Flatten()
        self.dense1 = tf.keras.layers.Dense(units=8, activation=tf.nn.relu)
        self.dense2 = tf.keras.layers.Dense(units=4)

    def call(self, inputs):
        return tf.nn.softmax(self.dense2(self.dense1(self.flatten(inputs))))


def seed_model():
    model, optimizer = MLP(), tf.keras.optimizers.Adam(learning_rate=1e-2)
    model(np.zeros((1, 3, 4, 1), np.float32))
    for variable, value in zip(model.variables, WEIGHTS):
        variable.assign(value)
    return model, optimizer


def seed_step(model, optimizer, X, y, extra=None):
    """The seed's loop body; `extra(loss)`, if given, changes the loss inside the tape (a branch)."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y_true=y, y_pred=model(X)))
        if extra is not None:
            loss = extra(loss)
    grads = tape.gradient(loss, model.variables)
    optimizer.apply_gradients(zip(grads, model.variables))
    return loss


def both_ways(program):
    """`program()`'s values (a list of arrays) with replay off, then on: they must be equal bit for bit."""
    ctx = context()
    results = []
    for replay in (False, True):
        ctx.replay_steps, ctx.templates = replay, {}
        try:
            results.append([np.asarray(v) for v in program()])
        finally:
            ctx.replay_steps = True
    unmatched, matched = results
    assert len(unmatched) == len(matched)
    for a, b in zip(unmatched, matched):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return matched


class OpCounter:
    """Counts the graph operations created while active."""

    def __init__(self, monkeypatch):
        self.count = 0
        create_op = Graph.create_op

        def counting(graph, *args, **kwargs):
            self.count += 1
            return create_op(graph, *args, **kwargs)
        monkeypatch.setattr(Graph, "create_op", counting)


def test_the_seed_loop_replayed_builds_no_operation_and_gives_the_same_numbers(monkeypatch):
    def program():
        model, optimizer = seed_model()
        losses = [seed_step(model, optimizer, *BATCHES[i % 4]).numpy() for i in range(6)]
        return losses + [v.numpy() for v in model.variables]
    both_ways(program)

    model, optimizer = seed_model()
    for i in range(3):  # the first creates Adam's slots, the second is recorded, the third replays it
        seed_step(model, optimizer, *BATCHES[i % 4]).numpy()
    compiled = context().session.compilations
    counter = OpCounter(monkeypatch)
    losses = [float(seed_step(model, optimizer, *BATCHES[i % 4]).numpy()) for i in range(3, 9)]
    assert counter.count == 0 and context().session.compilations == compiled
    assert all(np.isfinite(losses))


def test_a_branch_taken_once_diverges_and_the_loop_replays_again(monkeypatch):
    def program(counts=None):
        model, optimizer = seed_model()
        values = []
        for i in range(9):
            counter = OpCounter(monkeypatch) if counts is not None else None
            extra = (lambda loss: loss + tf.reduce_sum(tf.square(model.variables[0])) * 0.01) if i == 5 else None
            values.append(seed_step(model, optimizer, *BATCHES[i % 4], extra=extra).numpy())
            if counts is not None:
                counts.append(counter.count)
                monkeypatch.undo()
        return values + [v.numpy() for v in model.variables]
    both_ways(program)

    counts = []
    context().templates = {}
    program(counts)
    # 0: slots created, 1: recorded, 2-4 replayed, 5 diverges (builds), 6 recorded anew, 7-8 replayed
    assert counts[2:5] == [0, 0, 0] and counts[5] > 0 and counts[6] > 0 and counts[7:] == [0, 0]


def test_values_asked_for_at_other_points_variables_created_and_hyperparameters_changed_mid_loop():
    def program():
        model, optimizer = seed_model()
        values, scale = [], None
        for i in range(10):
            X, y = BATCHES[i % 4]
            with tf.GradientTape() as tape:
                hidden = model.dense1(model.flatten(X))
                if i in (0, 3):
                    values.append(hidden.numpy())  # a run inside the tape, on some iterations only
                loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
                    y_true=y, y_pred=tf.nn.softmax(model.dense2(hidden))))
                if scale is not None:
                    loss = loss * scale
                values.append(loss.numpy())
            if i == 4:
                scale = tf.Variable(np.float32(0.5), name="scale")  # a variable created mid-loop, used after
            if i == 7:  # (step 6 was recorded, 7 replayed it, 8 would)
                optimizer.learning_rate = 5e-3  # a hyperparameter changed: the update is built again
            grads = tape.gradient(loss, model.variables)
            optimizer.apply_gradients(zip(grads, model.variables))
        return values + [v.numpy() for v in model.variables]
    both_ways(program)


def test_nested_and_persistent_tapes_and_a_last_smaller_batch():
    def program():
        x = tf.Variable(np.array([0.5, -1.0, 2.0], np.float32), name="x")
        values, previous = [], tf.constant(np.zeros(3, np.float32))
        for i in range(6):
            with tf.GradientTape() as outer:
                with tf.GradientTape() as inner:
                    y = tf.reduce_sum(x * x * x)
                dy = inner.gradient(y, x)
            d2y = outer.gradient(dy, x)
            with tf.GradientTape(persistent=True) as tape:
                z = tf.reduce_sum(tf.tanh(x) * 2.0) + tf.reduce_sum(previous * previous)  # an earlier value, twice
                w = tf.reduce_sum(tf.exp(x))
            gz, gw = tape.gradient(z, x), tape.gradient(w, x)
            previous = gz
            del tape
            x.assign_sub(0.01 * (gz + gw))
            values += [dy.numpy(), d2y.numpy(), gz.numpy(), gw.numpy()]
        model, optimizer = seed_model()
        for i in range(6):  # batches of 6, 6, then 2 (the epoch's last), twice: two templates
            X, y = BATCHES[i % 4]
            X, y = (X[:2], y[:2]) if i % 3 == 2 else (X, y)
            values.append(seed_step(model, optimizer, X, y).numpy())
        return values + [x.numpy()] + [v.numpy() for v in model.variables]
    both_ways(program)


def test_a_replayed_step_is_still_dumped(tmp_path):
    program = tmp_path / "loop.py"
    program.write_text(
        "import numpy as np\nimport graphc.v2 as tf\n"
        "w = tf.Variable(np.ones((3, 2), np.float32))\nopt = tf.keras.optimizers.SGD(0.1)\n"
        "for i in range(5):\n"
        "    with tf.GradientTape() as tape:\n"
        "        loss = tf.reduce_sum(tf.square(tf.matmul(np.full((4, 3), i, np.float32), w)))\n"
        "    opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))\n"
        "    print(float(loss.numpy()))\n")
    env = dict(os.environ, GRAPHC_DUMP=str(tmp_path / "dump"))
    result = subprocess.run([sys.executable, str(program)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    graphs = [p.read_text() for p in (tmp_path / "dump").glob("*/000_graph.txt")]
    assert any("MatMul" in text and "AssignSub" in text for text in graphs)


@pytest.mark.parametrize("replay", [False, True])
def test_errors_are_raised_the_same_way(replay):
    ctx = context()
    ctx.replay_steps = replay
    try:
        a = tf.Variable(np.ones((2, 3), np.float32))
        for shape in [(3, 2), (3, 2), (3, 2), (4, 2)]:
            b = np.ones(shape, np.float32)
            if shape[0] != 3:
                with pytest.raises(tf.errors.InvalidArgumentError, match="matmul"):
                    tf.matmul(a, b)
            else:
                assert tf.matmul(a, b).numpy().tolist() == [[3.0, 3.0]] * 2
    finally:
        ctx.replay_steps = True
