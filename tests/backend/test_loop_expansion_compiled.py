"""Loops whose loop variables change shape, expanded into copies of their body (ops/loop_expansion.py),
compiled: against the reference interpreter, finite differences for gradients, and TensorFlow (its answers
pinned in the table)."""

import numpy as np

import graphc as tf
from tests.helpers import interpret_graph, numeric_gradient
from tests.tf_oracle import table_tests


def _documentation_example(tf):
    """TF's own while_loop documentation example: the static shape is the invariant's, the value 2048 rows."""
    i0, m0 = tf.constant(0), tf.ones([2, 2])
    r = tf.while_loop(lambda i, m: i < 10, lambda i, m: [i + 1, tf.concat([m, m], axis=0)], loop_vars=[i0, m0],
                      shape_invariants=[i0.get_shape(), tf.TensorShape([None, 2])])
    with tf.Session() as sess:
        i, m = sess.run(r)
    return [r[1].shape.as_list(), int(i), list(m.shape), float(m.sum())]


def _rows_of_each_iteration(tf):
    """A tensor grown by one row per iteration, each from the iteration's values, used after the loop."""
    w = tf.constant([[0.5, -1.0, 2.0]])

    def body(i, acc, rows):
        acc = tf.tanh(acc * 1.5 + w * tf.cast(i, tf.float32))
        return i + 1, acc, tf.concat([rows, acc], 0)

    _, _, rows = tf.while_loop(lambda i, acc, rows: i < 5, body, [0, tf.ones([1, 3]), tf.zeros([0, 3])],
                               shape_invariants=[tf.TensorShape([]), tf.TensorShape([1, 3]), tf.TensorShape([None, 3])])
    total = tf.reduce_sum(rows * tf.constant(np.arange(15.0).reshape(5, 3), tf.float32), axis=1)
    with tf.Session() as sess:
        value, summed = sess.run([rows, total])
    return [rows.shape.as_list(), np.round(value.astype(np.float64), 5).tolist(),
            np.round(summed.astype(np.float64), 4).tolist()]


def _counter_sized_blocks(tf):
    """Iteration i appends i rows of i: the shape follows the counter's value."""
    def body(i, m):
        return i + 1, tf.concat([m, tf.fill(tf.stack([i, 2]), tf.cast(i, tf.float32))], 0)

    _, m = tf.while_loop(lambda i, m: i < 4, body, [0, tf.zeros([0, 2])],
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 2])])
    with tf.Session() as sess:
        return [m.shape.as_list(), sess.run(m)[:, 0].tolist()]


def _assignments_in_order(tf):
    """v += 1 in each iteration, and each iteration appends what v holds after its write."""
    v = tf.Variable(0.0)

    def body(i, m):
        with tf.control_dependencies([tf.assign_add(v, 1.0)]):
            return i + 1, tf.concat([m, tf.reshape(v.read_value() * 10.0, [1])], 0)

    _, m = tf.while_loop(lambda i, m: i < 4, body, [0, tf.zeros([1])], parallel_iterations=1,
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None])])
    with tf.Session() as sess:
        sess.run(v.initializer)
        grown = sess.run(m)
        return [grown.tolist(), float(sess.run(v))]


def _nested_structure(tf):
    def body(i, state):
        grown = tf.concat([state["rows"], tf.fill([1, 2], tf.cast(i, tf.float32))], 0)
        return i + 1, {"rows": grown, "pair": (state["pair"][0] * 2, state["pair"][1] + 0.5)}

    invariants = [tf.TensorShape([]), {"rows": tf.TensorShape([None, 2]),
                                       "pair": (tf.TensorShape([]), tf.TensorShape([]))}]
    _, out = tf.while_loop(lambda i, s: i < 3, body, [0, {"rows": tf.ones([1, 2]), "pair": (1, tf.constant(0.0))}],
                           shape_invariants=invariants)
    with tf.Session() as sess:
        rows, (a, b) = sess.run([out["rows"], out["pair"]])
    return [sorted(out), out["rows"].shape.as_list(), rows.tolist(), int(a), float(b)]


EXPANDED = {
    "documentation example": (_documentation_example, [[None, 2], 10, [2048, 2], 4096.0]),
    "rows of each iteration": (_rows_of_each_iteration, [
        [None, 3],
        [[0.90515, 0.90515, 0.90515], [0.95247, 0.34321, 0.99758], [0.98458, -0.90244, 0.99997],
         [0.99482, -0.99967, 1.0], [0.99815, -0.99997, 1.0]],
        [2.7154, 9.2181, 7.5902, 9.9567, 12.9782]]),
    "counter-sized blocks": (_counter_sized_blocks, [[None, 2], [1.0, 2.0, 2.0, 3.0, 3.0, 3.0]]),
    "assignments in order": (_assignments_in_order, [[0.0, 10.0, 20.0, 30.0, 40.0], 4.0]),
    "nested structure": (_nested_structure, [["pair", "rows"], [None, 2], [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0],
                                                                         [2.0, 2.0]], 8, 1.5]),
}

test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "EXPANDED", EXPANDED)


def _growing_loop(x):
    """Appends a row computed from the last one in each of 4 iterations; returns the rows and a loss."""
    w = tf.constant([0.5, -1.0, 2.0], tf.float64)

    def body(i, m):
        return i + 1, tf.concat([m, tf.tanh(m[-1:] * w + tf.cast(i, tf.float64))], 0)

    _, m = tf.while_loop(lambda i, m: i < 4, body, [0, tf.reshape(x, [1, 3])],
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 3])])
    return m, tf.reduce_sum(m * tf.constant(np.arange(15.0).reshape(5, 3) / 7.0))


def test_compiled_expansion_matches_the_reference_interpreter():
    x = tf.placeholder(tf.float64, [3])
    m, loss = _growing_loop(x)
    feeds = {x: np.array([0.3, -0.2, 0.9])}
    with tf.Session() as sess:
        compiled = sess.run([m, loss], feeds)
    reference = interpret_graph([m, loss], feeds)
    assert compiled[0].shape == (5, 3)
    for c, r in zip(compiled, reference):
        np.testing.assert_allclose(c, r, rtol=1e-12)


def test_gradient_through_an_expanded_loop_vs_finite_differences():
    x = tf.placeholder(tf.float64, [3])
    _, loss = _growing_loop(x)
    gradient, = tf.gradients(loss, [x])
    at = np.array([0.3, -0.2, 0.9])
    with tf.Session() as sess:
        got = sess.run(gradient, {x: at})
        expected = numeric_gradient(lambda v: sess.run(loss, {x: v}), at.copy())
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def test_minimize_through_an_expanded_loop_trains_a_variable():
    w = tf.Variable(np.array([[0.2, -0.1]], np.float32))

    def body(i, m):
        return i + 1, tf.concat([m, tf.tanh(m[-1:] + w)], 0)

    _, m = tf.while_loop(lambda i, m: i < 3, body, [0, tf.zeros([1, 2])],
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 2])])
    loss = tf.reduce_sum(tf.square(m - 0.5))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(loss)
        for _ in range(20):
            sess.run(train)
        assert sess.run(loss) < 0.5 * before


def test_a_random_op_in_an_expanded_body_draws_what_it_draws_in_a_native_loop():
    """The copies share the op's random state: iteration k draws its k-th numbers (not the same k times),
    as the op running in a native loop does, and the next run goes on from there."""
    def body(i, m):
        return i + 1, tf.concat([m, tf.random_uniform([1, 2], seed=5)], 0)

    _, grown = tf.while_loop(lambda i, m: i < 3, body, [0, tf.zeros([0, 2])],
                             shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 2])])

    def native_body(i, rows):
        return i + 1, rows + tf.expand_dims(tf.one_hot(i, 3), 1) * tf.random_uniform([1, 2], seed=5)

    _, native = tf.while_loop(lambda i, rows: i < 3, native_body, [0, tf.zeros([3, 2])])
    assert grown.op.type == "Identity" and native.op.type == "While"
    with tf.Session() as sess:
        first, second = sess.run([grown, native]), sess.run([grown, native])
    np.testing.assert_array_equal(first[0], first[1])
    np.testing.assert_array_equal(second[0], second[1])
    assert len({tuple(row) for row in np.concatenate([first[0], second[0]])}) == 6


def test_gradient_through_a_loop_and_a_cond_inside_an_expanded_body_vs_finite_differences():
    x = tf.placeholder(tf.float64, [1, 2])

    def body(i, m):
        last = m[-1:]
        inner = tf.while_loop(lambda k, v: k < 2, lambda k, v: (k + 1, tf.sin(v) * 1.1), [0, last])[1]
        return i + 1, tf.concat([m, tf.cond(tf.reduce_sum(last) > 0.0, lambda: inner * 2.0, lambda: inner - 1.0)], 0)

    _, m = tf.while_loop(lambda i, m: i < 3, body, [0, x],
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 2])])
    loss = tf.reduce_sum(m * m)
    gradient, = tf.gradients(loss, [x])
    at = np.array([[0.3, 0.4]])
    with tf.Session() as sess:
        got = sess.run(gradient, {x: at})
        expected = numeric_gradient(lambda v: sess.run(loss, {x: v}), at.copy())
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(interpret_graph([gradient], {x: at})[0], got, rtol=1e-12)
