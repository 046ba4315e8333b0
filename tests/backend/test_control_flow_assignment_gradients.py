"""Gradients of tf.while_loop bodies and tf.cond branches that assign variables, compiled: as TF1's, the
gradient loop takes every forward value it needs from the rows the forward loop stashes per iteration, and a
cond's gradient the values its forward branch computed (never running the body or branch, and so the
assignments, again), so each assignment runs once per forward iteration and a value read from a variable is
the one its iteration read. Against TensorFlow 2.21 (its answers pinned in the table; parallel_iterations=1,
where TF's reads of a variable the body writes are determined), the reference interpreter and finite
differences; and the refusals that remain (no bound on the iterations, a bare variable reference)."""

import numpy as np
import pytest

import graphc as tf
from tests.helpers import interpret_graph, run_and_read_variables as _run
from tests.tf_oracle import table_tests


def _example(tf):
    """Issue 15's example: v += 1 before each iteration's read; the loop has no maximum_iterations, but its
    trip count is fixed by constants, which bounds the rows it stashes."""
    v = tf.Variable(1.0)
    x = tf.placeholder(tf.float32, ())

    def body(i, acc):
        with tf.control_dependencies([tf.assign_add(v, 1.0)]):
            return i + 1, acc * x + v.read_value()

    acc = tf.while_loop(lambda i, a: i < 3, body, [0, tf.constant(1.0)], parallel_iterations=1)[1]
    return _run(tf, [acc, tf.gradients(acc, [x])[0]], {x: 2.0})


def _loss_reads_the_variable_after_the_loop(tf):
    """v *= x in each iteration (the assignment has no gradient, as in TF1); sin's input is each iteration's."""
    v = tf.Variable(0.5)
    x = tf.placeholder(tf.float32, ())

    def body(i, acc):
        with tf.control_dependencies([tf.assign(v, v * x)]):
            return i + 1, acc + tf.sin(x * (v.read_value() + 0.0))

    acc = tf.while_loop(lambda i, a: i < 4, body, [0, tf.constant(0.0)], parallel_iterations=1)[1]
    with tf.control_dependencies([acc]):
        loss = acc * v.read_value()
    return _run(tf, [loss, tf.gradients(loss, [x])[0]], {x: 1.5})


def _read_before_and_after_the_assignment(tf):
    """One iteration reads v before and after v += x; with a maximum_iterations larger than the trip count."""
    v = tf.Variable(2.0)
    x = tf.placeholder(tf.float32, ())

    def body(i, acc):
        before = v.read_value() + 0.0
        with tf.control_dependencies([before]):
            written = tf.assign_add(v, x)
        with tf.control_dependencies([written]):
            after = v.read_value() + 0.0
        return [i + 1, acc * before + tf.square(after) * x]

    acc = tf.while_loop(lambda i, a: i < 3, body, [0, tf.constant(1.0)], parallel_iterations=1,
                        maximum_iterations=5)[1]
    return _run(tf, [acc, tf.gradients(acc, [x])[0]], {x: 0.5})


def _minimize(tf):
    """Two training steps of a loss computed by a loop that counts its iterations in a variable."""
    w = tf.Variable(0.5)
    steps = tf.Variable(0.0, trainable=False)

    def body(i, acc):
        with tf.control_dependencies([tf.assign_add(steps, 1.0)]):
            return i + 1, acc * w + steps.read_value()

    acc = tf.while_loop(lambda i, a: i < 3, body, [0, tf.constant(1.0)], parallel_iterations=1)[1]
    loss = tf.square(acc - 2.0)
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        losses = [float(sess.run([loss, train])[0]) for _ in range(2)]
        return [round(float(value), 5) for value in losses + sess.run([w, steps])]


def _cond_whose_taken_branch_assigns(tf):
    """The branch reads v before and after v += x; the other branch does not assign."""
    v = tf.Variable(1.0)
    x = tf.placeholder(tf.float32, ())
    p = tf.placeholder(tf.bool, ())

    def taken():
        before = v.read_value() + 0.0
        with tf.control_dependencies([before]):
            written = tf.assign_add(v, x)
        with tf.control_dependencies([written]):
            return tf.sin(x * before) * (v.read_value() + 0.0)

    y = tf.cond(p, taken, lambda: x * x)
    grad = tf.gradients(y, [x])[0]
    return [_run(tf, [y, grad], {x: 0.7, p: True}), _run(tf, [y, grad], {x: 0.7, p: False})]


def _cond_that_assigns_in_a_loop(tf):
    """Every other iteration takes the branch that assigns; the loop's gradient runs the cond's gradient."""
    v = tf.Variable(0.0)
    x = tf.placeholder(tf.float32, ())

    def body(i, acc):
        def taken():
            with tf.control_dependencies([tf.assign_add(v, 1.0)]):
                return acc * x + (v.read_value() + 0.0)
        return [i + 1, tf.cond(tf.equal(i % 2, 0), taken, lambda: acc * acc)]

    acc = tf.while_loop(lambda i, a: i < 4, body, [0, tf.constant(1.0)], parallel_iterations=1)[1]
    return _run(tf, [acc, tf.gradients(acc, [x])[0]], {x: 0.5})


def _two_gradients_of_one_cond(tf):
    """The second tf.gradients of the cond reuses the outputs the first one added to it."""
    v = tf.Variable(1.0)
    x = tf.placeholder(tf.float32, ())

    def taken():
        with tf.control_dependencies([tf.assign_add(v, 1.0)]):
            return tf.sin(x * (v.read_value() + 0.0))

    y = tf.cond(x > 0.0, taken, lambda: x)
    return _run(tf, [y, tf.gradients(y, [x])[0], tf.gradients(y * y, [x])[0]], {x: 0.7})


def _loop_that_assigns_in_a_cond(tf):
    v = tf.Variable(1.0)
    x = tf.placeholder(tf.float32, ())

    def loop():
        def body(i, a):
            with tf.control_dependencies([tf.assign(v, v * 1.5)]):
                return [i + 1, a * x + (v.read_value() + 0.0)]
        return tf.while_loop(lambda i, a: i < 3, body, [0, x], parallel_iterations=1)[1]

    y = tf.cond(x > 0.0, loop, lambda: x * 2.0)
    return _run(tf, [y, tf.gradients(y, [x])[0]], {x: 0.7})


def _minimize_through_a_cond_that_assigns(tf):
    """Three training steps; the taken branch counts them in a variable the loss reads."""
    w = tf.Variable(0.5)
    n = tf.Variable(0.0, trainable=False)
    x = tf.placeholder(tf.float32, ())

    def taken():
        with tf.control_dependencies([tf.assign_add(n, 1.0)]):
            return w * x + (n.read_value() + 0.0)

    loss = tf.square(tf.cond(x > 0.0, taken, lambda: w * w) - 1.0)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        losses = [float(sess.run([loss, train], {x: 0.5})[0]) for _ in range(3)]
        return [round(float(value), 5) for value in losses + sess.run([w, n])]


GRADIENTS = {
    "two gradients of one cond": (_two_gradients_of_one_cond, ([0.98545, 0.339934, 0.669976], [2.0])),
    "loop that assigns in a cond": (_loop_that_assigns_in_a_cond, ([5.9251, 5.722], [3.375])),
    "minimize through a cond that assigns": (_minimize_through_a_cond_that_assigns,
                                             [0.0625, 1.53141, 4.73334, 0.13369, 3.0]),
    "cond whose taken branch assigns": (_cond_whose_taken_branch_assigns,
                                        [([1.09517, 1.300232], [1.7]), ([0.49, 1.4], [1.0])]),
    "cond that assigns in a loop": (_cond_that_assigns_in_a_loop, ([9.765625, 23.4375], [2.0])),
    "issue 15's example": (_example, ([26.0, 23.0], [4.0])),
    "loss reads the variable after the loop": (_loss_reads_the_variable_after_the_loop,
                                               ([4.706177, -8.093427], [2.53125])),
    "read before and after the assignment": (_read_before_and_after_the_assignment, ([58.0625, 86.125], [3.5])),
    "minimize": (_minimize, [5.64062, 36.6889, -0.63343, 6.0]),
}

test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "GRADIENTS", GRADIENTS)


def _assigning_loop(trip_count_fixed=True):
    v = tf.Variable(np.array([1.0, -0.5], np.float32), name="v")
    x = tf.placeholder(tf.float32, [2])
    n = tf.constant(4) if trip_count_fixed else tf.placeholder(tf.int32, [])

    def body(i, acc):
        with tf.control_dependencies([tf.assign(v, v * 0.5 + 1.0)]):
            return i + 1, tf.tanh(acc * x) + v.read_value() * 1.0

    acc = tf.while_loop(lambda i, a: i < n, body, [0, x], parallel_iterations=1)[1]
    return v, x, n, tf.reduce_sum(acc * acc)


def test_compiled_gradient_matches_the_reference_interpreter_and_assigns_once_per_iteration():
    v, x, _, loss = _assigning_loop()
    (grad,) = tf.gradients(loss, [x])
    feeds = {x: np.array([0.3, -0.8], np.float32)}
    start = np.array([1.0, -0.5], np.float32)
    with tf.Session() as sess:
        sess.run(v.initializer)
        compiled = sess.run([loss, grad], feeds)
        after = sess.run(v)
    reference = interpret_graph([loss, grad], feeds, {"v": start})
    for c, r in zip(compiled, reference):
        np.testing.assert_allclose(c, r, rtol=1e-5)
    expected = start
    for _ in range(4):  # the forward loop's four writes, none by the gradient loop
        expected = expected * 0.5 + 1.0
    np.testing.assert_allclose(after, expected, rtol=1e-6)


def test_gradient_matches_finite_differences():
    """The assignments do not depend on x, so the loss is a differentiable function of x alone."""
    v, x, _, loss = _assigning_loop()
    (grad,) = tf.gradients(loss, [x])
    point = np.array([0.3, -0.8], np.float64)
    with tf.Session() as sess:
        def value(at):
            sess.run(v.initializer)  # each run starts from the same variable
            return float(sess.run(loss, {x: at.astype(np.float32)}))

        sess.run(v.initializer)
        analytic = sess.run(grad, {x: point.astype(np.float32)})
        eps = 1e-3
        numeric = np.array([(value(point + eps * e) - value(point - eps * e)) / (2 * eps) for e in np.eye(2)])
    np.testing.assert_allclose(analytic, numeric, rtol=2e-3, atol=2e-3)


def test_a_loop_without_a_bound_known_when_the_graph_is_built_is_refused_naming_the_remedy():
    _, x, _, loss = _assigning_loop(trip_count_fixed=False)
    with pytest.raises(tf.errors.UnimplementedError,
                       match=r"cannot differentiate while/While: its function assigns a variable \(while/Assign\).*"
                             r"constant maximum_iterations"):
        tf.gradients(loss, [x])


def test_a_bound_maximum_iterations_makes_the_same_loop_differentiable():
    v = tf.Variable(1.0)
    x = tf.placeholder(tf.float32, ())
    n = tf.placeholder(tf.int32, ())

    def body(i, acc):
        with tf.control_dependencies([tf.assign_add(v, 1.0)]):
            return i + 1, acc * x + v.read_value()

    acc = tf.while_loop(lambda i, a: i < n, body, [0, tf.constant(1.0)], maximum_iterations=10)[1]
    (grad,) = tf.gradients(acc, [x])
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run([acc, grad], {x: 2.0, n: 3}) == [26.0, 23.0]  # issue 15's example's answer
        assert sess.run(v) == 4.0


def test_a_bare_reference_to_a_written_variable_the_gradient_needs_is_refused():
    """x * v.read_value() reads v where the product runs; its gradient needs that value, which graphc cannot
    stash (TF1 does not stash it either: it takes an identity of a variable for a loop constant, and its
    gradient reads v's value after the loop)."""
    v = tf.Variable(0.5)
    x = tf.placeholder(tf.float32, ())

    def body(i, acc):
        with tf.control_dependencies([tf.assign(v, v * x)]):
            return i + 1, acc + x * v.read_value()

    acc = tf.while_loop(lambda i, a: i < 4, body, [0, tf.constant(0.0)], parallel_iterations=1)[1]
    with pytest.raises(tf.errors.UnimplementedError, match=r"needs the value of while/read.*read_value\(\) \+ 0\.0"):
        tf.gradients(acc, [x])


def test_cond_gradient_matches_the_reference_interpreter_and_finite_differences():
    v = tf.Variable(np.array([0.5, 2.0], np.float32), name="v")
    x = tf.placeholder(tf.float32, [2])
    p = tf.placeholder(tf.bool, ())

    def taken():
        with tf.control_dependencies([tf.assign(v, v * 2.0)]):
            return tf.tanh(x * (v.read_value() + 0.0))

    loss = tf.reduce_sum(tf.cond(p, taken, lambda: x * 3.0))
    (grad,) = tf.gradients(loss, [x])
    point = np.array([0.4, -0.3], np.float32)
    start = np.array([0.5, 2.0], np.float32)
    with tf.Session() as sess:
        def value(at):
            sess.run(v.initializer)
            return float(sess.run(loss, {x: at, p: True}))

        sess.run(v.initializer)
        compiled = sess.run([loss, grad], {x: point, p: True})
        np.testing.assert_allclose(sess.run(v), start * 2.0)  # written once: by the forward branch only
        eps = np.float32(1e-2)
        numeric = [(value(point + eps * e) - value(point - eps * e)) / (2 * eps) for e in np.eye(2, dtype=np.float32)]
    reference = interpret_graph([loss, grad], {x: point, p: True}, {"v": start})
    for c, r in zip(compiled, reference):
        np.testing.assert_allclose(c, r, rtol=1e-5)
    np.testing.assert_allclose(compiled[1], numeric, rtol=2e-3, atol=2e-3)


def test_a_bare_reference_to_a_variable_a_cond_writes_is_refused():
    v = tf.Variable(0.5)
    x = tf.placeholder(tf.float32, ())

    def taken():
        with tf.control_dependencies([tf.assign(v, 2.0)]):
            return x * v.read_value()

    y = tf.cond(x > 0.0, taken, lambda: x)
    with pytest.raises(tf.errors.UnimplementedError, match=r"cannot differentiate cond/If: .*needs the value of "):
        tf.gradients(y, [x])
