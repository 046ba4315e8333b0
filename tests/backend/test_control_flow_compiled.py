"""tf.while_loop, tf.cond and tf.case compiled to native loops and branches: against the reference
interpreter, finite differences, and TensorFlow (its answers pinned in the table below)."""

import numpy as np
import pytest

import graphc as tf
from tests.helpers import interpret_graph, numeric_gradient
from tests.tf_oracle import table_tests

rng = np.random.RandomState(7)


def _compiled_matches_reference(fetches, feeds, rtol=1e-6):
    with tf.Session() as sess:
        compiled = sess.run(fetches, feeds)
    reference = interpret_graph(fetches, feeds)
    for c, r in zip(compiled, reference):
        np.testing.assert_allclose(c, r, rtol=rtol, atol=1e-12)
    return compiled


def test_while_loop_with_captured_tensors():
    x = tf.placeholder(tf.float32, [5])
    w = tf.constant(rng.uniform(-1, 1, 5).astype(np.float32))
    i, y = tf.while_loop(lambda i, y: i < 7, lambda i, y: (i + 1, tf.tanh(y * 1.5 + w)), [tf.constant(0), x])
    got = _compiled_matches_reference([i, y], {x: rng.uniform(-1, 1, 5)})
    assert got[0] == 7


def test_loop_variables_that_swap_go_through_staging():
    a, b = tf.while_loop(lambda a, b: a < 1000.0, lambda a, b: (b, a + b), [tf.constant(1.0), tf.constant(1.0)])
    p, q, r = tf.while_loop(lambda p, q, r: p < 20, lambda p, q, r: (q + 1, r + 1, p + 1), [0, 1, 2])
    got = _compiled_matches_reference([a, b, p, q, r], {})
    assert (got[0], got[1]) == (1597.0, 2584.0)


def test_a_loop_that_never_runs_gives_its_first_values():
    x = tf.placeholder(tf.float32, [3])
    y = tf.while_loop(lambda y: tf.reduce_sum(y) > 100.0, lambda y: y * 2.0, [x])
    np.testing.assert_array_equal(_compiled_matches_reference([y], {x: [1.0, 2.0, 3.0]})[0], [1.0, 2.0, 3.0])


def test_maximum_iterations_stops_the_loop():
    n = tf.placeholder(tf.int32, [])
    y = tf.while_loop(lambda y: y < 1000, lambda y: y + 1, [0], maximum_iterations=n)
    assert _compiled_matches_reference([y], {n: 13})[0] == 13


def test_nested_loops_and_conds():
    n = tf.placeholder(tf.int32, [])
    x = tf.placeholder(tf.float32, [4])

    def outer(j, acc):
        inner = tf.while_loop(lambda k, s: k < j, lambda k, s: (k + 1, s * 0.5 + x), [0, acc])[1]
        return j + 1, tf.cond(tf.equal(j % 2, 1), lambda: inner + 1.0, lambda: tf.sin(inner))

    _, total = tf.while_loop(lambda j, a: j < n, outer, [0, tf.zeros([4])])
    branch = tf.cond(tf.reduce_sum(x) > 0.0,
                     lambda: tf.while_loop(lambda k, v: k < 3, lambda k, v: (k + 1, v * x), [0, x])[1],
                     lambda: -x)
    for values in ([0.5, -0.25, 1.0, 2.0], [-0.5, -0.25, 1.0, -2.0]):
        _compiled_matches_reference([total, branch], {n: 5, x: values})


def test_case_and_cond_pick_branches_at_run_time():
    x = tf.placeholder(tf.int32, [])
    r = tf.case([(tf.equal(x, 1), lambda: tf.constant(10.0)), (tf.greater(x, 0), lambda: tf.constant(20.0))],
                default=lambda: tf.constant(30.0))
    with tf.Session() as sess:
        assert [sess.run(r, {x: v}) for v in (1, 2, -1)] == [10.0, 20.0, 30.0]


def _lstm_weights(inputs, units):
    kernel = tf.constant(rng.uniform(-0.3, 0.3, (inputs + units, 4 * units)))
    bias = tf.constant(rng.uniform(-0.1, 0.1, 4 * units))
    return kernel, bias


def _lstm_loop(x, kernel, bias, steps, units, batch):
    """An LSTM over time-major x [steps, batch, inputs], TF1's gate order i, j, f, o and forget bias 1,
    its per-step outputs written into rows of a [steps, batch, units] tensor."""

    def body(t, c, h, outputs):
        gates = tf.matmul(tf.concat([x[t], h], 1), kernel) + bias
        i, j, f, o = gates[:, :units], gates[:, units:2 * units], gates[:, 2 * units:3 * units], gates[:, 3 * units:]
        c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
        h = tf.sigmoid(o) * tf.tanh(c)
        row = tf.reshape(tf.one_hot(t, steps, dtype=tf.float64), [steps, 1, 1])
        return t + 1, c, h, outputs + row * h

    zeros = tf.zeros([batch, units], tf.float64)
    return tf.while_loop(lambda t, c, h, o: t < steps, body,
                         [tf.constant(0), zeros, zeros, tf.zeros([steps, batch, units], tf.float64)],
                         maximum_iterations=steps)


def _numpy_lstm(x, kernel, bias, units):
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c = h = np.zeros((x.shape[1], units))
    outputs = []
    for step in x:
        gates = np.concatenate([step, h], 1) @ kernel + bias
        i, j, f, o = np.split(gates, 4, axis=1)
        c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs), c, h


def test_an_lstm_loop_matches_numpy_and_its_gradient_finite_differences():
    steps, batch, inputs, units = 4, 2, 3, 5
    x = tf.placeholder(tf.float64, [steps, batch, inputs])
    kernel, bias = _lstm_weights(inputs, units)
    _, c, h, outputs = _lstm_loop(x, kernel, bias, steps, units, batch)
    weights = rng.uniform(-1, 1, (steps, batch, units))
    loss = tf.reduce_sum(outputs * weights) + tf.reduce_sum(c)
    grad_x, grad_kernel = tf.gradients(loss, [x, kernel])
    x_value = rng.uniform(-1, 1, (steps, batch, inputs))
    got = _compiled_matches_reference([outputs, c, h, loss, grad_x, grad_kernel], {x: x_value}, rtol=1e-9)
    with tf.Session() as sess:
        kernel_value, bias_value = sess.run([kernel, bias])
    expected = _numpy_lstm(x_value, kernel_value, bias_value, units)
    for g, e in zip(got[:3], expected):
        np.testing.assert_allclose(g, e, rtol=1e-10)

    def loss_of(value):
        o, c_last, _ = _numpy_lstm(value, kernel_value, bias_value, units)
        return float(np.sum(o * weights) + np.sum(c_last))

    np.testing.assert_allclose(got[4], numeric_gradient(loss_of, x_value.copy()), rtol=1e-5, atol=1e-8)


def test_gradient_of_a_loop_reaches_captured_tensors_and_first_values():
    x = tf.placeholder(tf.float64, [3])
    w = tf.placeholder(tf.float64, [3, 3])
    _, y = tf.while_loop(lambda i, y: i < 5, lambda i, y: (i + 1, tf.sin(tf.matmul(w, y[:, None])[:, 0]) + y),
                         [0, x], maximum_iterations=8)
    loss = tf.reduce_sum(y * y)
    gx, gw = tf.gradients(loss, [x, w])
    x_value, w_value = rng.uniform(-1, 1, 3), rng.uniform(-0.5, 0.5, (3, 3))
    got = _compiled_matches_reference([gx, gw], {x: x_value, w: w_value}, rtol=1e-9)
    with tf.Session() as sess:
        f_x = lambda v: sess.run(loss, {x: v, w: w_value})  # noqa: E731
        f_w = lambda v: sess.run(loss, {x: x_value, w: v})  # noqa: E731
        np.testing.assert_allclose(got[0], numeric_gradient(f_x, x_value.copy()), rtol=1e-6)
        np.testing.assert_allclose(got[1], numeric_gradient(f_w, w_value.copy()), rtol=1e-6)


def test_gradient_of_cond_flows_through_the_branch_taken():
    x = tf.placeholder(tf.float64, [4])
    y = tf.cond(tf.reduce_sum(x) > 0.0, lambda: tf.reduce_sum(tf.exp(x)), lambda: tf.reduce_sum(x * x * 3.0))
    g = tf.gradients(y, x)[0]
    for value in (np.array([0.5, 1.0, -0.2, 0.3]), np.array([-0.5, 1.0, -0.2, -0.3])):
        got = _compiled_matches_reference([g], {x: value}, rtol=1e-12)[0]
        expected = np.exp(value) if value.sum() > 0 else 6.0 * value
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_minimize_through_a_loop_trains_a_variable():
    w = tf.Variable(np.array([2.0, -1.0]), name="w")
    _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * w), [0, tf.constant([1.0, 1.0], tf.float64)],
                         maximum_iterations=3)
    loss = tf.reduce_sum((y - 0.5) ** 2)
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss)
        for _ in range(50):
            sess.run(train)
        assert sess.run(loss) < first / 10


def test_loop_gradients_without_a_static_maximum_iterations_vs_finite_differences():
    # The trip count depends on x (while the sum is small) or on a fed maximum_iterations: no rows to save
    # in, the gradient loop computes each iteration's values again from the first ones.
    x = tf.placeholder(tf.float64, [2])
    w = tf.placeholder(tf.float64, [2, 2])
    limit = tf.placeholder(tf.int32, [])
    _, y = tf.while_loop(lambda i, y: tf.reduce_sum(tf.abs(y)) < 10.0,
                         lambda i, y: (i + 1, tf.tanh(tf.matmul(w, y[:, None])[:, 0]) * 3.0 + y), [0, x])
    z = tf.while_loop(lambda z: tf.reduce_sum(z) < 100.0, lambda z: tf.sin(z) + z * 1.5, [x],
                      maximum_iterations=limit)
    loss_y, loss_z = tf.reduce_sum(y * y), tf.reduce_sum(z * z)
    gx, gw = tf.gradients(loss_y, [x, w])
    gz = tf.gradients(loss_z, x)[0]
    x_value, w_value = np.array([0.3, -0.4]), rng.uniform(-0.5, 0.5, (2, 2))
    feeds = {x: x_value, w: w_value, limit: 4}
    got = _compiled_matches_reference([gx, gw, gz], feeds, rtol=1e-9)
    with tf.Session() as sess:
        for grad, loss, key, value in ((got[0], loss_y, x, x_value), (got[1], loss_y, w, w_value),
                                       (got[2], loss_z, x, x_value)):
            f = lambda v: sess.run(loss, {**feeds, key: v})  # noqa: E731
            np.testing.assert_allclose(grad, numeric_gradient(f, value.copy()), rtol=1e-6)


def test_a_loop_gradient_without_maximum_iterations_names_a_random_op_it_cannot_compute_again():
    x = tf.placeholder(tf.float32, [2])
    y = tf.while_loop(lambda y: tf.reduce_sum(y) < 10.0, lambda y: y * tf.random_uniform([2], 1.5, 2.0), [x])
    with pytest.raises(tf.errors.UnimplementedError, match="maximum_iterations"):
        tf.gradients(y, x)


def test_a_row_index_out_of_range_fails_the_compiled_step():
    x = tf.placeholder(tf.float32, [3, 2])
    y = tf.while_loop(lambda i, s: i < 4, lambda i, s: (i + 1, s + x[i]), [0, tf.zeros([2])])[1]
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="not in"):
            sess.run(y, {x: np.ones((3, 2))})


def test_tensor_array_reads_time_major_input_and_writes_each_step_in_place():
    steps, batch, units = 6, 2, 3
    x = tf.placeholder(tf.float64, [steps, batch, units])
    w = tf.constant(rng.uniform(-1, 1, (units, units)))
    inputs = tf.TensorArray(tf.float64, size=steps).unstack(x)
    outputs = tf.TensorArray(tf.float64, size=steps, element_shape=[batch, units])

    def body(t, h, outputs):
        h = tf.tanh(tf.matmul(inputs.read(t), w) + h)
        return t + 1, h, outputs.write(t, h)

    _, h, outputs = tf.while_loop(lambda t, h, o: t < steps, body, [0, tf.zeros([batch, units], tf.float64),
                                                                   outputs], maximum_iterations=steps)
    stacked = outputs.stack()
    assert outputs.size().op.type == "Const" and stacked.shape.as_list() == [steps, batch, units]
    loss = tf.reduce_sum(stacked * stacked)
    grad = tf.gradients(loss, x)[0]
    x_value = rng.uniform(-1, 1, (steps, batch, units))
    got = _compiled_matches_reference([stacked, h, grad], {x: x_value}, rtol=1e-10)
    np.testing.assert_array_equal(got[0][-1], got[1])
    with tf.Session() as sess:
        f = lambda v: sess.run(loss, {x: v})  # noqa: E731
        np.testing.assert_allclose(got[2], numeric_gradient(f, x_value.copy()), rtol=1e-6, atol=1e-9)
    # The row writes happen in the loop variable's buffer: no copy of all the rows per step.
    from graphc.compiler.lower import lower
    from graphc.ir.program import walk
    from graphc.passes.pipeline import run_pipeline
    from tests.helpers import feed_types

    program = run_pipeline(lower([stacked], feed_types({x: x_value})).program)
    loop = next(inst for inst in program.instructions if inst.op == "while")
    (write,) = [inst for inst in walk(program.instructions) if inst.op == "row_write"]
    assert program.memory_plan.locations[write.result.id] == program.memory_plan.locations[loop.outputs[-1].id]


def test_tensor_array_outside_loops():
    ta = tf.TensorArray(tf.float32, size=3)
    ta = ta.write(0, [1.0, 2.0]).write(2, [5.0, 6.0])
    with tf.Session() as sess:
        stacked, second = sess.run([ta.stack(), ta.read(2)])
    np.testing.assert_array_equal(stacked, [[1.0, 2.0], [0.0, 0.0], [5.0, 6.0]])
    np.testing.assert_array_equal(second, [5.0, 6.0])
    with pytest.raises(tf.errors.UnimplementedError, match="size"):
        tf.TensorArray(tf.float32, size=tf.placeholder(tf.int32, []))


# -- TensorFlow's answers ------------------------------------------------------------------------------------


def _run(tf, fetches, feeds=None):
    with tf.Session() as sess:
        value = sess.run(fetches, feeds)
    return np.asarray(value).round(6).tolist()


def _error(tf, build):
    try:
        build()
    except Exception as e:  # noqa: BLE001 - the class is the answer
        return type(e).__name__
    return "no error"


CONTROL_FLOW = {
    "while_loop sums": (lambda tf: _run(tf, tf.while_loop(lambda i, s: i < 10, lambda i, s: (i + 1, s + i), [0, 0])),
                        [10, 45]),
    "while_loop nested structure": (lambda tf: _run(tf, tf.while_loop(
        lambda v: v["a"] < 5, lambda v: [{"a": v["a"] + 2, "b": (v["b"][0] * 2.0,)}],
        [{"a": tf.constant(0), "b": (tf.constant(1.0),)}])[0]["b"][0]), 8.0),
    "while_loop maximum_iterations": (lambda tf: _run(tf, tf.while_loop(lambda v: v < 100, lambda v: v * 2, [1],
                                                                        maximum_iterations=4)), 16),
    "cond picks": (lambda tf: _run(tf, [tf.cond(tf.constant(3) > 2, lambda: tf.constant(1.5), lambda: tf.constant(2.5)),
                                        tf.cond(tf.constant(3) < 2, lambda: tf.constant(1.5), lambda: tf.constant(2.5))]),
                   [1.5, 2.5]),
    "case": (lambda tf: _run(tf, tf.case([(tf.constant(False), lambda: tf.constant(1)),
                                          (tf.constant(True), lambda: tf.constant(2))], default=lambda: tf.constant(3))),
             2),
    "gradient through while_loop": (lambda tf: _run(tf, _loop_gradient(tf)), [5.6155781745910645, -0.5398569703102112]),
    "gradient through cond": (lambda tf: _run(tf, _cond_gradient(tf)), [3.0, 3.0]),
    "shape change without invariants": (lambda tf: _error(tf, lambda: tf.while_loop(
        lambda v: tf.size(v) < 10, lambda v: tf.concat([v, v], 0), [tf.ones([2])])), "ValueError"),
    "cond of a non-scalar pred": (lambda tf: _error(tf, lambda: tf.cond(
        tf.constant([True, False]), lambda: 1.0, lambda: 2.0)), "ValueError"),
    "while body of another structure": (lambda tf: _error(tf, lambda: tf.while_loop(
        lambda a, b: a < 3, lambda a, b: (a + 1,), [0, 1])), "ValueError"),
}


def _cond_gradient(tf):
    x = tf.constant([0.5, -1.0])
    y = tf.cond(tf.reduce_sum(x) > 0.0, lambda: tf.reduce_sum(x ** 2), lambda: tf.reduce_sum(x * 3.0))
    return tf.gradients(y, x)[0]


def _loop_gradient(tf):
    x = tf.constant([0.5, -1.0])
    # Loop variables as a tuple: with maximum_iterations, TF1 refuses a body returning a tuple for a list.
    y = tf.while_loop(lambda i, y: (i < 3), lambda i, y: (i + 1, tf.sin(y) * y + x), (0, x), maximum_iterations=3)[1]
    return tf.gradients(tf.reduce_sum(y), x)[0]


test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "CONTROL_FLOW", CONTROL_FLOW)


def test_tensor_array_rows_of_a_batch_known_when_the_step_runs():
    x = tf.placeholder(tf.float32, [4, None, 3])  # time-major, batch unknown until fed
    batch = tf.shape(x)[1]
    outputs = tf.TensorArray(tf.float32, size=4, element_shape=[batch, 3])
    assert outputs.stack().shape.as_list() == [4, None, 3]
    _, outputs = tf.while_loop(lambda t, o: t < 4, lambda t, o: (t + 1, o.write(t, tf.tanh(x[t]) * 2.0)),
                               [0, outputs], maximum_iterations=4)
    stacked = outputs.stack()
    for n in (2, 5):
        value = rng.uniform(-1, 1, (4, n, 3)).astype(np.float32)
        got = _compiled_matches_reference([stacked], {x: value})[0]
        np.testing.assert_allclose(got, np.tanh(value) * 2.0, rtol=1e-6)


def test_gradient_of_rows_read_at_the_counter_and_at_repeated_indices_vs_finite_differences():
    # dynamic_rnn reads x[t] at its loop's counter: each row's gradient is written once; a loop reading
    # x[i % 2] reads a row in two iterations: its gradients are summed into the row.
    x = tf.placeholder(tf.float64, [2, 4, 3])
    cell = tf.nn.rnn_cell.BasicRNNCell(3)
    outputs, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float64)
    rows = tf.placeholder(tf.float64, [2, 3])
    _, total = tf.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, tf.tanh(s * rows[i % 2])),
                             [0, tf.ones([3], tf.float64)], maximum_iterations=5)
    weights = rng.uniform(-1, 1, (2, 4, 3))
    loss = tf.reduce_sum(outputs * weights)
    gx, grows = tf.gradients(loss, x)[0], tf.gradients(tf.reduce_sum(total), rows)[0]
    x_value, rows_value = rng.uniform(-1, 1, (2, 4, 3)), rng.uniform(-1, 1, (2, 3))
    got = [None, _compiled_matches_reference([grows], {rows: rows_value}, rtol=1e-9)[0]]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got[0] = sess.run(gx, {x: x_value})
        f_x = lambda v: sess.run(loss, {x: v})  # noqa: E731
        f_rows = lambda v: sess.run(tf.reduce_sum(total), {rows: v})  # noqa: E731
        np.testing.assert_allclose(got[0], numeric_gradient(f_x, x_value.copy()), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(got[1], numeric_gradient(f_rows, rows_value.copy()), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("bounded", [True, False], ids=["maximum_iterations", "no_maximum_iterations"])
def test_gradient_of_a_loop_holding_a_loop_and_a_cond_vs_finite_differences(bounded):
    # The inner loop's rows are stashed per outer iteration; the cond's gradient replays its branch, whose
    # copy of the inner loop shares the body the inner loop's gradient stashes into.
    x = tf.placeholder(tf.float64, [3])

    def outer(j, acc):
        inner = tf.while_loop(lambda k, s: k < 3, lambda k, s: (k + 1, tf.sin(s) * acc + s), [0, acc],
                              maximum_iterations=3)[1]
        return j + 1, tf.cond(j % 2 > 0, lambda: inner * 0.5, lambda: tf.tanh(inner))

    _, y = tf.while_loop(lambda j, a: j < 4, outer, [0, x], maximum_iterations=4 if bounded else None)
    loss = tf.reduce_sum(y * y)
    (grad,) = tf.gradients(loss, [x])
    value = np.array([0.3, -0.2, 0.5])
    got = _compiled_matches_reference([grad], {x: value}, rtol=1e-9)[0]
    with tf.Session() as sess:
        expected = numeric_gradient(lambda v: sess.run(loss, {x: v}), value.copy())
    np.testing.assert_allclose(got, expected, rtol=1e-6)
