"""Wrong input at every public entry point gets the exception a TF1 user expects, naming the tensor or op.

One table: each case builds a small graph, does one wrong thing, and names the
exception class and a pattern its message must match. After every failing
case the same session must still run a correct call (nothing half-done).
A second group checks that a failing run changes no variable at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import graphc as tf

Errors = tf.errors


@dataclass(frozen=True)
class Case:
    name: str
    act: Callable  # (model) -> anything; must raise
    error: type
    message: str


class Model:
    """x:[?, 2] float32 fed, i:[2] int32 fed, w a variable, y = x @ w, in one initialised session."""

    def __init__(self):
        self.x = tf.placeholder(tf.float32, [None, 2], name="x")
        self.i = tf.placeholder(tf.int32, [2], name="i")
        self.w = tf.Variable([[1.0], [2.0]], name="w")
        self.y = tf.matmul(self.x, self.w, name="y")
        self.sess = tf.Session()
        self.sess.run(self.w.initializer)

    def feed_x(self, value):
        return self.sess.run(self.y, {self.x: value})

    def feed_i(self, value, dtype=None):
        return self.sess.run(self.i + 1, {self.i: value if dtype is None else np.array(value, dtype)})

    def check_still_works(self):
        assert self.sess.run(self.y, {self.x: [[1.0, 1.0]]}).tolist() == [[3.0]]


def _other_graph_tensor():
    with tf.Graph().as_default():
        return tf.placeholder(tf.float32, [2], name="foreign")


def _run(fetch, feeds=None):
    return tf.Session().run(fetch, feeds)


def _dynamic(build, *shapes):
    """Placeholders of unknown shape, fed arrays of `shapes`: the shape error shows only at run time."""
    placeholders = [tf.placeholder(tf.float32, [None] * len(s)) for s in shapes]
    return _run(build(*placeholders), {p: np.ones(s) for p, s in zip(placeholders, shapes)})


def _labels_run(labels):
    logits = tf.placeholder(tf.float32, [None, 3])
    targets = tf.placeholder(tf.int64, [None])
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits, name="xent")
    return _run(loss, {logits: np.zeros((len(labels), 3)), targets: labels})


def _uninitialised_initializer():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(a * 2.0, name="b")
    return _run(b.initializer)


def _closed(model, use):
    model.sess.close()
    return use(model)


def _huge_variable():
    v = tf.Variable(tf.zeros([100000, 100000]), name="huge")
    return _run(v.initializer)


SHAPE = r"Cannot feed value of shape {} for Tensor 'x:0', which has shape '\(\?, 2\)'"
OUTSIDE_INT32 = r"Cannot feed values outside \[-2147483648, 2147483647\] for Tensor 'i:0'"
GIB = 1 << 30

CASES = [
    # -- feed values: rank, dimensions, dtype, raggedness, None, non-numeric, range --------------
    Case("feed rank 1 for rank 2", lambda m: m.feed_x(np.ones(2)), ValueError, SHAPE.format(r"\(2,\)")),
    Case("feed scalar for rank 2", lambda m: m.feed_x(1.0), ValueError, SHAPE.format(r"\(\)")),
    Case("feed rank 3 for rank 2", lambda m: m.feed_x(np.ones((1, 1, 2))), ValueError, SHAPE.format(r"\(1, 1, 2\)")),
    Case("feed wrong dimension", lambda m: m.feed_x(np.ones((2, 3))), ValueError, SHAPE.format(r"\(2, 3\)")),
    Case("feed ragged list", lambda m: m.feed_x([[1.0, 2.0], [3.0]]), ValueError, "ragged.*'x:0'"),
    Case("feed None", lambda m: m.feed_x(None), ValueError, "Cannot feed None for Tensor 'x:0'"),
    Case("feed strings", lambda m: m.feed_x([["a", "b"]]), ValueError, "non-numeric.*'x:0'"),
    Case("feed bytes", lambda m: m.feed_x(b"ab"), ValueError, "non-numeric.*'x:0'"),
    Case("feed a dict", lambda m: m.feed_x({"a": 1.0}), ValueError, "non-numeric.*'x:0'"),
    Case("feed an object array", lambda m: m.feed_x(np.array([[1.0, 2.0]], dtype=object)), ValueError,
         "non-numeric.*'x:0'"),
    Case("feed dates", lambda m: m.feed_x(np.array([["2020-01-01", "2020-01-02"]], dtype="datetime64[D]")),
         ValueError, "non-numeric.*'x:0'"),
    Case("feed complex numbers", lambda m: m.feed_x(np.array([[1 + 2j, 3.0]])), ValueError,
         "complex values for Tensor 'x:0'"),
    Case("feed int64 values into int32", lambda m: m.feed_i([1, 2 ** 40], np.int64), ValueError, OUTSIDE_INT32),
    Case("feed negative int64 values into int32", lambda m: m.feed_i([-(2 ** 31) - 1, 0], np.int64), ValueError,
         OUTSIDE_INT32),
    Case("feed Python ints beyond 64 bits", lambda m: m.feed_i([2 ** 70, 1]), ValueError, OUTSIDE_INT32),
    Case("feed uint64 beyond int32", lambda m: m.feed_i([2 ** 64 - 1, 1], np.uint64), ValueError, OUTSIDE_INT32),
    Case("feed fractions into int32", lambda m: m.feed_i([1.5, 2.0]), ValueError, "non-integer.*'i:0'"),
    Case("feed NaN into int32", lambda m: m.feed_i([np.nan, 2.0]), ValueError, "non-integer.*'i:0'"),
    Case("feed inf into int32", lambda m: m.feed_i([np.inf, 2.0]), ValueError, "non-integer.*'i:0'"),
    Case("feed wrong length into int32", lambda m: m.feed_i([1, 2, 3]), ValueError, r"shape \(3,\).*'i:0'"),
    Case("feed a Tensor as a value", lambda m: m.sess.run(m.y, {m.x: m.y}), TypeError, "cannot be a tf.Tensor"),
    # -- feed keys and fetches: missing, unknown, foreign ------------------------------------------
    Case("missing feed", lambda m: m.sess.run(m.y), Errors.InvalidArgumentError,
         "must feed a value for placeholder tensor 'x' with dtype float32"),
    Case("feed key of another type", lambda m: m.sess.run(m.y, {3: 1.0}), TypeError,
         "Cannot interpret feed_dict key"),
    Case("feed key naming no tensor", lambda m: m.sess.run(m.y, {"nothing:0": 1.0}), TypeError,
         "Cannot interpret feed_dict key.*nothing:0"),
    Case("feed key naming an operation", lambda m: m.sess.run(m.y, {"x": [[1.0, 1.0]]}), TypeError,
         "Cannot interpret feed_dict key.*'x' refers to an Operation"),
    Case("feed key from another graph",
         lambda m: m.sess.run(m.y, {m.x: [[1.0, 1.0]], _other_graph_tensor(): [1.0, 2.0]}),
         TypeError, "Cannot interpret feed_dict key.*not an element of this graph"),
    Case("one tensor fed twice", lambda m: m.sess.run(m.y, {m.x: [[1.0, 1.0]], "x:0": [[1.0, 1.0]]}), ValueError,
         "feeds one tensor twice"),
    Case("fetch naming no tensor", lambda m: m.sess.run("nothing:0"), ValueError, "nothing:0"),
    Case("fetch naming no operation", lambda m: m.sess.run("nothing"), ValueError, "nothing"),
    Case("fetch None", lambda m: m.sess.run(None), TypeError, "Fetch argument None"),
    Case("fetch a number", lambda m: m.sess.run(3), TypeError, "Fetch argument 3"),
    Case("fetch from another graph", lambda m: m.sess.run(_other_graph_tensor()), ValueError,
         "foreign.*not an element of this graph"),
    Case("fetch inside a list from another graph", lambda m: m.sess.run([m.w, [_other_graph_tensor()]]),
         ValueError, "not an element of this graph"),
    # -- shape and dtype errors while building -------------------------------------------------------
    Case("matmul of mismatched shapes", lambda m: tf.matmul(tf.ones([2, 3]), tf.ones([4, 2]), name="mm"),
         ValueError, r"Dimensions must be equal, but are 3 and 4 for 'mm' \(op: 'MatMul'\)"),
    Case("add of unbroadcastable shapes", lambda m: tf.add(tf.ones([2, 3]), tf.ones([4]), name="sum"),
         ValueError, "Dimensions must be equal.*'sum'"),
    Case("add of float and int", lambda m: tf.add(tf.ones([2]), tf.constant([1, 2]), name="mixed"), TypeError,
         "int32 that does not match type float32.*'mixed'"),
    Case("reshape to another size", lambda m: tf.reshape(tf.ones([2, 3]), [4, 2], name="r"), ValueError,
         "6 values, but the requested shape has 8 for 'r'"),
    Case("transpose with a wrong permutation", lambda m: tf.transpose(tf.ones([2, 3]), [0, 1, 2], name="t"),
         ValueError, "permutation.*'t'"),
    Case("reduction over a missing axis", lambda m: tf.reduce_sum(tf.ones([2, 3]), 2, name="s"), ValueError,
         "Invalid reduction dimension 2.*'s'"),
    Case("softmax of a scalar", lambda m: tf.nn.softmax(tf.constant(1.0), name="sm"), ValueError,
         "at least one dimension.*'sm'"),
    Case("labels of the wrong rank", lambda m: tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.constant([[1]]), logits=tf.ones([1, 3])), ValueError, "Rank mismatch"),
    Case("softmax cross entropy without classes", lambda m: tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.constant([0]), logits=tf.ones([1, 0]), name="xent"), ValueError, "at least one class.*'xent'"),
    Case("argmax over an empty axis", lambda m: tf.argmax(tf.zeros([0, 3]), 0, name="am"), ValueError,
         "Reduction axis 0 is empty.*'am'"),
    Case("placeholder of negative size", lambda m: tf.placeholder(tf.float32, [-2, 3]), ValueError,
         "Dimension -2 must be >= 0"),
    Case("op over tensors of two graphs", lambda m: tf.constant(2.0) + _other_graph_tensor(), ValueError,
         "must be from the same graph"),
    # -- shape errors that only show at run time ----------------------------------------------------
    Case("reshape of a fed batch to a wrong size", lambda m: _dynamic(lambda x: tf.reshape(x, [3, -1], name="r"),
                                                                      (5, 4)),
         Errors.InvalidArgumentError, "20 values, but the requested shape requires a multiple of 3 for 'r'"),
    Case("matmul of fed mismatched shapes", lambda m: _dynamic(lambda a, b: tf.matmul(a, b, name="mm"), (2, 4), (5, 3)),
         Errors.InvalidArgumentError, "Dimensions must be equal, but are 4 and 5 for 'mm'"),
    Case("add of fed unbroadcastable shapes", lambda m: _dynamic(lambda a, b: tf.add(a, b, name="sum"), (3,), (4,)),
         Errors.InvalidArgumentError, "Dimensions must be equal, but are 3 and 4 for 'sum'"),
    Case("broadcast_to of a fed wrong shape", lambda m: _dynamic(lambda a: tf.broadcast_to(a, [2, 3], name="b"), (4,)),
         Errors.InvalidArgumentError, r"Incompatible shapes: \[4\] vs. \[2, 3\] for 'b'"),
    Case("argmax over a fed empty axis", lambda m: _dynamic(lambda a: tf.argmax(a, 0, name="am"), (0, 3)),
         Errors.InvalidArgumentError, "Reduction axis 0 is empty.*'am'"),
    # -- bad data seen by native code -----------------------------------------------------------------
    Case("label above the range", lambda m: _labels_run([0, 3]), Errors.InvalidArgumentError,
         r"label value of 3 which is outside the valid range of \[0, 3\).*xent"),
    Case("negative label", lambda m: _labels_run([-1, 0]), Errors.InvalidArgumentError, "label value of -1.*xent"),
    Case("integer division by zero", lambda m: m.sess.run(tf.floordiv(tf.constant([4, 5]), m.i), {m.i: [1, 0]}),
         Errors.InvalidArgumentError, "Integer division by zero"),
    # -- session state -----------------------------------------------------------------------------------
    Case("run on a closed session", lambda m: _closed(m, lambda m: m.sess.run(m.w)), RuntimeError,
         "closed Session"),
    Case("eval on a closed session", lambda m: _closed(m, lambda m: m.w.eval(session=m.sess)), RuntimeError,
         "closed Session"),
    Case("uninitialised variable", lambda m: tf.Session().run(m.y, {m.x: [[1.0, 1.0]]}),
         Errors.FailedPreconditionError, "Attempting to use uninitialized value w"),
    Case("initialiser reading an uninitialised variable", lambda m: _uninitialised_initializer(),
         Errors.FailedPreconditionError, "uninitialized value a"),
    Case("eval without a default session", lambda m: m.y.eval({m.x: [[1.0, 1.0]]}), ValueError,
         "No default session"),
    # -- sizes: element counts that overflow, tensors larger than the machine -------------------------
    Case("constant whose element count overflows", lambda m: tf.zeros([2 ** 40, 2 ** 40], name="z"), ValueError,
         "overflow a 64-bit byte count"),
    Case("constant larger than memory", lambda m: _run(tf.reduce_sum(tf.zeros([2 ** 20, 2 ** 20], name="z"))),
         Errors.ResourceExhaustedError, r"OOM when allocating tensor with shape\[1048576,1048576\].*'z'"),
    Case("variable larger than memory", lambda m: _huge_variable(), Errors.ResourceExhaustedError,
         r"OOM when allocating variable huge with shape\[100000,100000\]"),
    Case("random tensor larger than memory", lambda m: _run(tf.random_uniform([2 ** 20, 2 ** 20], name="rnd")),
         Errors.ResourceExhaustedError, "OOM.*'rnd/RandomUniform'"),
    Case("fill larger than memory", lambda m: _run(tf.fill(tf.constant([2 ** 31 - 1, 2 ** 31 - 1]), 1.0, name="f")),
         Errors.ResourceExhaustedError, "OOM.*'f'"),
    Case("shape beyond int32", lambda m: tf.random_uniform([2 ** 31, 2]), ValueError, "does not fit in int32"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_raises_what_tf1_raises(case):
    model = Model()
    with pytest.raises(case.error, match=case.message):
        case.act(model)
    if not model.sess._closed:
        model.check_still_works()


def test_the_table_is_large():
    assert len(CASES) >= 60


# -- a failing run leaves every variable as it was ----------------------------------------------------


def _two_optimizers():
    """Two losses trained in one run; the second one's labels go bad."""
    x = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int32, [None])
    w1 = tf.Variable(tf.ones([3, 4]), name="w1")
    w2 = tf.Variable(tf.ones([3, 4]), name="w2")
    step = tf.Variable(0, name="step", trainable=False)
    squares = tf.reduce_mean(tf.square(tf.matmul(x, w1)))
    xent = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.matmul(x, w2)))
    optimizer = tf.train.GradientDescentOptimizer(0.1)
    fetch = [optimizer.minimize(squares), optimizer.minimize(xent, global_step=step)]
    good = {x: np.ones((2, 3)), labels: [1, 2]}
    return fetch, good, {x: np.ones((2, 3)), labels: [1, 9]}


def _mlp_step():
    x = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int32, [None])
    w = tf.Variable(tf.ones([3, 4]), name="w")
    b = tf.Variable(tf.zeros([4]), name="b")
    step = tf.Variable(0, name="step", trainable=False)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.matmul(x, w) + b))
    fetch = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
    return fetch, {x: np.ones((2, 3)), labels: [1, 2]}, {x: np.ones((2, 3)), labels: [1, -1]}


def _assignment_beside_a_division():
    v = tf.Variable(5, name="v")
    z = tf.placeholder(tf.int32, [])
    return [v.assign_add(1), tf.floordiv(10, z)], {z: 1}, {z: 0}


def _assignment_of_a_division():
    u = tf.Variable(0, name="u")
    v = tf.Variable(5, name="v")
    z = tf.placeholder(tf.int32, [])
    return [u.assign_add(3), v.assign(tf.floordiv(10, z))], {z: 1}, {z: 0}


@pytest.mark.parametrize("build", [_two_optimizers, _mlp_step, _assignment_beside_a_division,
                                   _assignment_of_a_division])
def test_failed_run_after_training_changes_no_variable(build):
    fetch, good, bad = build()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    for _ in range(3):
        sess.run(fetch, good)
    variables = tf.global_variables()
    before = [np.array(sess.run(v)) for v in variables]
    with pytest.raises(tf.errors.InvalidArgumentError):
        sess.run(fetch, bad)
    for variable, value in zip(variables, before):
        np.testing.assert_array_equal(sess.run(variable), value, err_msg=variable.name)
    sess.run(fetch, good)  # and training goes on
    assert any(not np.array_equal(sess.run(v), b) for v, b in zip(variables, before))


def test_failed_run_does_not_advance_random_numbers():
    z = tf.placeholder(tf.int32, [])
    numbers = tf.random_uniform([4], seed=7)
    fetch = [numbers, tf.floordiv(10, z)]
    reference = tf.Session()
    expected = [reference.run(fetch, {z: 1})[0] for _ in range(2)]
    sess = tf.Session()
    first = sess.run(fetch, {z: 1})[0]
    with pytest.raises(tf.errors.InvalidArgumentError):
        sess.run(fetch, {z: 0})
    np.testing.assert_array_equal([first, sess.run(fetch, {z: 1})[0]], expected)


def test_huge_shapes_are_refused_before_allocating():
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(tf.errors.ResourceExhaustedError):
        _huge_variable()
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < GIB // 1024


def test_an_ordinary_training_step_copies_no_weights_per_run():
    # Its labels are checked before the first weight update: at most the global step (scheduled
    # first) is saved per run, never a copy of the weights.
    fetch, good, _ = _mlp_step()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run(fetch, good)
    training_step = list(sess._steps.values())[-1]
    saved = {training_step.program.variables[i].name for i in training_step.executable._rollback_indices}
    assert {"w", "b"} <= set(training_step.lowered.writes) and saved <= {"step"}
