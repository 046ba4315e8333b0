"""Training inside a loop: `tf.gradients` and `optimizer.minimize` called in a tf.while_loop body or a tf.cond
branch, differentiating with respect to outer variables and outer tensors the function captures. Each
iteration computes its gradient from the variables as the iterations before left them and updates them, as
TF1 does with parallel_iterations=1. Against TensorFlow (its answers pinned in the table), the same steps
run as separate session runs, and the reference interpreter."""

import numpy as np

import graphc as tf
from tests.helpers import interpret_graph, numeric_gradient, run_and_read_variables
from tests.tf_oracle import table_tests

X = [[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-1.0, 2.0]]
Y = [[1.0], [2.0], [0.0], [-1.0]]


def _regression(tf):
    """The variables w [2, 1] and b of a linear regression, and its loss (a callable, built where called)."""
    w = tf.Variable([[0.1], [-0.1]], name="w")
    b = tf.Variable(0.0, name="b")
    x, y = tf.constant(X), tf.constant(Y)
    return w, b, lambda: tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))


def _train_in_a_loop(tf, optimizer, steps=10, **minimize):
    """`steps` iterations of a loop whose body minimizes the loss: [trip count, the loss the last iteration
    saw], and every global variable (slots included) by name."""
    _, _, loss = _regression(tf)

    def body(i, _):
        current = loss()
        with tf.control_dependencies([optimizer.minimize(current, **minimize)]):
            return i + 1, tf.identity(current)

    result = tf.while_loop(lambda i, _: i < steps, body, [0, 0.0], parallel_iterations=1)
    values, variables = run_and_read_variables(tf, list(result), decimals=5)
    return values, sorted(zip([v.op.name for v in tf.global_variables()], variables))


def _gradient_descent(tf):
    return _train_in_a_loop(tf, tf.train.GradientDescentOptimizer(0.1))


def _global_step(tf):
    step = tf.train.get_or_create_global_step()
    return _train_in_a_loop(tf, tf.train.GradientDescentOptimizer(0.05), steps=4, global_step=step)


def _momentum(tf):
    return _train_in_a_loop(tf, tf.train.MomentumOptimizer(0.05, 0.9))


def _adam(tf):
    return _train_in_a_loop(tf, tf.train.AdamOptimizer(0.1))


def _gradients_and_an_assignment(tf):
    """tf.gradients of the body's loss with respect to the outer variables, applied by hand."""
    w, b, loss = _regression(tf)

    def body(i):
        gw, gb = tf.gradients(loss(), [w, b])
        with tf.control_dependencies([tf.assign_sub(w, 0.1 * gw), tf.assign_sub(b, 0.1 * gb)]):
            return i + 1

    return run_and_read_variables(tf, [tf.while_loop(lambda i: i < 5, body, [0], parallel_iterations=1)],
                                  decimals=5)


def _gradient_of_a_captured_tensor(tf):
    """The gradient with respect to an outer tensor (not a variable) the body reads, summed in a loop
    variable: sum over i of i * cos(i * x)."""
    x = tf.constant([0.5, -1.0, 2.0])

    def body(i, total):
        y = tf.reduce_sum(tf.sin(x * tf.cast(i, tf.float32)))
        return i + 1, total + tf.gradients(y, x)[0]

    return run_and_read_variables(tf, tf.while_loop(lambda i, _: i < 4, body, [0, tf.zeros([3])])[1:],
                                  decimals=5)


def _minimize_in_a_cond(tf):
    """A cond branch trains one step; the other branch does not touch the variables."""
    _, _, loss = _regression(tf)
    p = tf.placeholder(tf.bool, [])

    def train():
        current = loss()
        with tf.control_dependencies([tf.train.GradientDescentOptimizer(0.1).minimize(current)]):
            return tf.identity(current)

    result = tf.cond(p, train, lambda: tf.constant(-1.0))
    return [run_and_read_variables(tf, [result], {p: taken}, decimals=5) for taken in (True, False)]


def _minimize_in_a_loop_in_a_loop(tf):
    """The inner loop trains; the outer loop runs it three times: 3 x 2 steps."""
    _, _, loss = _regression(tf)
    optimizer = tf.train.GradientDescentOptimizer(0.1)

    def outer(j):
        def inner(k):
            with tf.control_dependencies([optimizer.minimize(loss())]):
                return k + 1
        with tf.control_dependencies([tf.while_loop(lambda k: k < 2, inner, [0], parallel_iterations=1)]):
            return j + 1

    return run_and_read_variables(tf, [tf.while_loop(lambda j: j < 3, outer, [0], parallel_iterations=1)],
                                  decimals=5)


TRAINING = {
    "gradient descent": (_gradient_descent, ([10, 0.08862], [("b", 0.02069), ("w", [[0.68127], [-0.04073]])])),
    "global step": (_global_step, (
        [4, 0.21844], [("b", 0.11354), ("global_step", 4), ("w", [[0.50954], [-0.12752]])])),
    "momentum": (_momentum, ([10, 0.24945], [
        ("b", -0.28107), ("b/Momentum", 1.93775), ("w", [[0.4873], [0.12322]]), ("w/Momentum", [[0.76969], [-0.12124]])])),
    "adam": (_adam, ([10, 0.31643], [
        ("b", 0.38647), ("b/Adam", 0.21088), ("b/Adam_1", 0.00481), ("w", [[0.72662], [-0.17819]]),
        ("w/Adam", [[-0.05251], [-0.00447]]), ("w/Adam_1", [[0.02344], [0.00034]]), ("while/beta1_power", 0.31381),
        ("while/beta2_power", 0.98905)])),
    "gradients and an assignment": (_gradients_and_an_assignment, ([5], [[[0.63748], [-0.09118]], 0.10506])),
    "gradient of a captured tensor": (_gradient_of_a_captured_tensor, ([[2.1704, -3.26197, 1.15708]], [])),
    "minimize in a cond": (_minimize_in_a_cond, [
        ([1.065], [[[0.43], [-0.14]], 0.1]), ([-1.0], [[[0.1], [-0.1]], 0.0])]),
    "loop in a loop": (_minimize_in_a_loop_in_a_loop, ([3], [[[0.64798], [-0.07974]], 0.08844])),
}

test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "TRAINING", TRAINING)


def _final_variables(build_and_run) -> dict:
    """{variable name: value} after `build_and_run(sess)` in a new graph and session."""
    with tf.Graph().as_default(), tf.Session() as sess:
        build_and_run(sess)
        return {v.op.name: sess.run(v) for v in tf.global_variables()}


def test_a_loop_of_adam_steps_matches_as_many_session_runs():
    def looped(sess):
        _, _, loss = _regression(tf)
        optimizer = tf.train.AdamOptimizer(0.1)

        def body(i):
            with tf.control_dependencies([optimizer.minimize(loss())]):
                return i + 1

        trips = tf.while_loop(lambda i: i < 10, body, [0], parallel_iterations=1)
        sess.run(tf.global_variables_initializer())
        assert sess.run(trips) == 10

    def stepped(sess):
        _, _, loss = _regression(tf)
        train = tf.train.AdamOptimizer(0.1).minimize(loss())
        sess.run(tf.global_variables_initializer())
        for _ in range(10):
            sess.run(train)

    # The beta powers made in the loop take its name scope, as in TF1 (`while/beta1_power`).
    in_a_loop = {name.removeprefix("while/"): value for name, value in _final_variables(looped).items()}
    run_by_run = _final_variables(stepped)
    assert sorted(in_a_loop) == sorted(run_by_run) == ["b", "b/Adam", "b/Adam_1", "beta1_power", "beta2_power",
                                                       "w", "w/Adam", "w/Adam_1"]
    for name, value in run_by_run.items():
        np.testing.assert_allclose(in_a_loop[name], value, rtol=1e-5, atol=1e-7, err_msg=name)


def test_compiled_training_loop_matches_the_reference_interpreter():
    w, b, loss = _regression(tf)
    x = tf.placeholder(tf.float32, [4, 2])
    optimizer = tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True)

    def body(i, losses):
        current = tf.reduce_mean(tf.tanh(tf.matmul(x, w) + b))
        with tf.control_dependencies([optimizer.minimize(current + loss())]):
            return i + 1, losses + current

    i, losses = tf.while_loop(lambda i, _: i < 6, body, [0, 0.0], parallel_iterations=1)
    with tf.control_dependencies([losses]):
        after = [w.read_value(), b.read_value(), optimizer.get_slot(w, "momentum").read_value()]
    feeds = {x: np.array(X, np.float32) * 0.5}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        initial = {v.op.name: sess.run(v) for v in tf.global_variables()}
        compiled = sess.run([i, losses] + after, feeds)
    reference = interpret_graph([i, losses] + after, feeds, initial)
    assert compiled[0] == 6
    for c, r in zip(compiled, reference):
        np.testing.assert_allclose(c, r, rtol=1e-5, atol=1e-7)


def test_a_gradient_in_a_body_flows_through_outer_ops_to_an_outer_placeholder_as_finite_differences_say():
    x = tf.placeholder(tf.float64, [3])
    h = tf.tanh(x) * 2.0  # outside the loop: its gradient is built in the body, where tf.gradients is called

    def body(i, total):
        y = tf.reduce_sum(tf.sin(h * tf.cast(i + 1, tf.float64)))
        return i + 1, total + tf.gradients(y, x)[0]

    total = tf.while_loop(lambda i, _: i < 3, body, [0, tf.zeros([3], tf.float64)])[1]
    point = np.array([0.3, -0.8, 1.2])
    with tf.Session() as sess:
        compiled = sess.run(total, {x: point})

    def f(p):
        return sum(np.sin(2.0 * np.tanh(p) * k).sum() for k in (1, 2, 3))

    np.testing.assert_allclose(compiled, numeric_gradient(f, point.copy()), rtol=1e-7, atol=1e-9)
