"""`sess.run(fetches, feed_dict, steps=N)`: N runs of a step in one native call (graphc_steps).

The oracle is the same program run as N ordinary calls: variables, fetches and
summaries must be equal bit for bit (it is the same compiled step, looped in
native code), and errors those a TF user gets for the feed at fault.
"""

import numpy as np
import pytest

import graphc as tf
from graphc import errors

STEPS = 7
RNG = np.random.RandomState(0)
X_BATCHES = RNG.rand(STEPS, 20, 3).astype(np.float32)
LABELS = RNG.randint(0, 4, (STEPS, 20)).astype(np.int32)

OPTIMIZERS = {
    "sgd": lambda: tf.train.GradientDescentOptimizer(0.3),
    "momentum": lambda: tf.train.MomentumOptimizer(0.1, 0.9),
    "adam": lambda: tf.train.AdamOptimizer(0.05),
}


class Model:
    """A 3-8-4 classifier with dropout (a random op: its draws must follow the step count), a global step
    and a scalar summary of the loss, in a graph and session of its own."""

    def __init__(self, optimizer):
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.set_random_seed(3)
            self.x = tf.placeholder(tf.float32, [None, 3], name="x")
            self.labels = tf.placeholder(tf.int32, [None], name="labels")
            hidden = tf.layers.dense(self.x, 8, activation=tf.nn.tanh)
            logits = tf.layers.dense(tf.nn.dropout(hidden, keep_prob=0.8), 4)
            self.loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.labels,
                                                                                      logits=logits))
            self.global_step = tf.train.get_or_create_global_step()
            self.train = optimizer().minimize(self.loss, global_step=self.global_step)
            self.summary = tf.summary.scalar("loss", self.loss)
            self.session = tf.Session(graph=self.graph)
            self.session.run(tf.global_variables_initializer())
            self.variables = tf.global_variables()

    def values(self):
        return self.session.run(self.variables)


def assert_same_values(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_n_steps_in_one_call_equal_n_calls_bit_for_bit(name):
    one_by_one, repeated = Model(OPTIMIZERS[name]), Model(OPTIMIZERS[name])
    for k in range(STEPS):
        expected = one_by_one.session.run([one_by_one.train, one_by_one.loss, one_by_one.summary],
                                          {one_by_one.x: X_BATCHES[k], one_by_one.labels: LABELS[k]})
    got = repeated.session.run([repeated.train, repeated.loss, repeated.summary],
                               {repeated.x: X_BATCHES, repeated.labels: LABELS}, steps=STEPS)
    assert got[0] is None
    assert got[1] == expected[1] and got[2] == expected[2]  # the loss and summary of the last step
    assert_same_values(repeated.values(), one_by_one.values())
    assert repeated.session.run(repeated.global_step) == STEPS


def test_one_batch_for_every_step_and_mixed_feeds():
    """A feed of the tensor's own rank is every run's batch; one with a leading axis of N, run k's."""
    one_by_one, repeated = Model(OPTIMIZERS["sgd"]), Model(OPTIMIZERS["sgd"])
    for k in range(STEPS):
        one_by_one.session.run(one_by_one.train, {one_by_one.x: X_BATCHES[0], one_by_one.labels: LABELS[k]})
    repeated.session.run(repeated.train, {repeated.x: X_BATCHES[0].tolist(), repeated.labels: LABELS},
                         steps=STEPS)
    assert_same_values(repeated.values(), one_by_one.values())


def test_feeds_that_need_converting_and_a_single_step():
    """Feeds of another dtype or layout are converted as a single run's are; steps=1 is one run."""
    one_by_one, repeated = Model(OPTIMIZERS["adam"]), Model(OPTIMIZERS["adam"])
    for k in range(3):
        one_by_one.session.run(one_by_one.train, {one_by_one.x: X_BATCHES[k], one_by_one.labels: LABELS[k]})
    x64 = np.asfortranarray(X_BATCHES[:3].astype(np.float64))
    repeated.session.run(repeated.train, {repeated.x: x64, repeated.labels: LABELS[:3].astype(np.int64)}, steps=3)
    assert_same_values(repeated.values(), one_by_one.values())
    one_by_one.session.run(one_by_one.train, {one_by_one.x: X_BATCHES[3], one_by_one.labels: LABELS[3]})
    repeated.session.run(repeated.train, {repeated.x: X_BATCHES[3:4], repeated.labels: LABELS[3:4]}, steps=1)
    assert_same_values(repeated.values(), one_by_one.values())


def test_steps_with_no_feeds():
    with tf.Graph().as_default():
        counter = tf.Variable(0, dtype=tf.int32)
        total = tf.Variable(1.0)
        increment = tf.group(tf.assign_add(counter, 1), tf.assign(total, total * 1.5))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            session.run(increment, steps=10)
            assert session.run(counter) == 10
            assert session.run(total) == np.float32(1.5) ** 10


@pytest.mark.parametrize("steps, error", [(0, ValueError), (-2, ValueError), (2.0, TypeError), ("3", TypeError),
                                          (True, TypeError)])
def test_a_bad_step_count(steps, error):
    model = Model(OPTIMIZERS["sgd"])
    with pytest.raises(error, match="steps"):
        model.session.run(model.train, {model.x: X_BATCHES[0], model.labels: LABELS[0]}, steps=steps)


def test_a_stacked_feed_of_the_wrong_length_or_shape():
    model = Model(OPTIMIZERS["sgd"])
    before = model.values()
    with pytest.raises(ValueError, match=r"Cannot feed value of shape \(7, 20, 3\) for Tensor 'x:0', which has "
                                         r"shape '\(\?, 3\)': a run of 5 steps"):
        model.session.run(model.train, {model.x: X_BATCHES, model.labels: LABELS[:5]}, steps=5)
    # TF's error for a batch its tensor does not accept, whichever way it is fed.
    with pytest.raises(ValueError, match=r"Cannot feed value of shape \(20, 2\) for Tensor 'x:0', which has "
                                         r"shape '\(\?, 3\)'"):
        model.session.run(model.train, {model.x: X_BATCHES[:, :, :2], model.labels: LABELS}, steps=STEPS)
    with pytest.raises(ValueError, match=r"Cannot feed value of shape \(7, 20, 3, 1\)"):
        model.session.run(model.train, {model.x: X_BATCHES[..., None], model.labels: LABELS}, steps=STEPS)
    assert_same_values(model.values(), before)  # nothing ran


def test_a_failing_run_leaves_the_runs_before_it():
    """Run 4 of 7 has a label out of range: TF's InvalidArgumentError, the variables after runs 1-3."""
    labels = LABELS.copy()
    labels[3, 5] = 9
    one_by_one, repeated = Model(OPTIMIZERS["momentum"]), Model(OPTIMIZERS["momentum"])
    for k in range(3):
        one_by_one.session.run(one_by_one.train, {one_by_one.x: X_BATCHES[k], one_by_one.labels: labels[k]})
    with pytest.raises(errors.InvalidArgumentError, match=r"Received a label value of 9.*run 4 of the 7 steps"):
        repeated.session.run(repeated.train, {repeated.x: X_BATCHES, repeated.labels: labels}, steps=STEPS)
    assert_same_values(repeated.values(), one_by_one.values())
    # The step's feed pointers were put back: an ordinary run afterwards reads its own feeds.
    one_by_one.session.run(one_by_one.train, {one_by_one.x: X_BATCHES[6], one_by_one.labels: LABELS[6]})
    repeated.session.run(repeated.train, {repeated.x: X_BATCHES[6], repeated.labels: LABELS[6]})
    assert_same_values(repeated.values(), one_by_one.values())


def test_a_rollback_variable_restored_in_the_failing_run():
    """A variable written before a kernel that can fail (the library's rollback table: here the state of
    a random op) is as the runs before the failing one left it."""
    divisor = tf.placeholder(tf.int32, [])
    fetch = [tf.random_uniform([4], seed=7), tf.floordiv(10, divisor)]
    reference = tf.Session()
    expected = [reference.run(fetch, {divisor: 1})[0] for _ in range(3)]
    session = tf.Session()
    session.run(fetch, {divisor: 1})
    step = list(session._steps.values())[-1]
    assert step.executable._rollback_indices  # the random state is saved before each run
    with pytest.raises(errors.InvalidArgumentError, match="run 2 of the 3 steps"):
        session.run(fetch, {divisor: np.array([1, 0, 1], np.int32)}, steps=3)
    np.testing.assert_array_equal(session.run(fetch, {divisor: 1})[0], expected[2])


def test_a_traced_run_of_several_steps_times_every_kernel_call_of_each_step():
    """The traced run trains as the untraced one does, and its RunMetadata holds each kernel once a step,
    in the steps' order (graphc's kernel profile times a loop of steps this way)."""
    traced, plain = Model(OPTIMIZERS["sgd"]), Model(OPTIMIZERS["sgd"])
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    one_step, several = tf.RunMetadata(), tf.RunMetadata()
    traced.session.run([traced.train, traced.loss], {traced.x: X_BATCHES[0], traced.labels: LABELS[0]},
                       options=options, run_metadata=one_step)
    plain.session.run([plain.train, plain.loss], {plain.x: X_BATCHES[0], plain.labels: LABELS[0]})
    loss = traced.session.run([traced.train, traced.loss], {traced.x: X_BATCHES[1:], traced.labels: LABELS[1:]},
                              steps=STEPS - 1, options=options, run_metadata=several)[1]
    assert loss == plain.session.run([plain.train, plain.loss], {plain.x: X_BATCHES[1:], plain.labels: LABELS[1:]},
                                     steps=STEPS - 1)[1]
    assert_same_values(traced.values(), plain.values())
    (device,) = several.step_stats.dev_stats
    labels = [node.timeline_label for node in device.node_stats]
    per_step = [node.timeline_label for node in one_step.step_stats.dev_stats[0].node_stats]
    assert len(per_step) >= 3 and labels == per_step * (STEPS - 1)
    starts = [node.all_start_nanos for node in device.node_stats]
    assert starts == sorted(starts)
