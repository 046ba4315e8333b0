"""Loop values in rows picked when the step runs (MemoryPlan.rows, passes/shared_storage.py): a loop body's
stashed values computed straight into their row of the stash, a gradient loop's row reads of the stashes
made views of those rows; against the reference interpreter and finite differences, with the plan checked
so that each test runs the path it means to, and the cases where a view would be wrong kept as copies."""

import numpy as np
import pytest

import graphc as tf
from graphc import errors
from graphc.compiler import driver
from graphc.compiler.lower import lower
from graphc.ir.memory_plan import Place
from graphc.ir.program import walk
from graphc.passes.pipeline import run_pipeline
from graphc.runtime import loader
from tests.helpers import feed_types, interpret_graph, numeric_gradient

rng = np.random.RandomState(3)


def _planned(fetches, feeds):
    program = run_pipeline(lower(fetches, feed_types(feeds)).program)
    return program, program.memory_plan


def _row_reads(program):
    return [inst for inst in walk(program.instructions) if inst.op == "row_read"]


def _lstm(dtype=tf.float64):
    """A small dynamic_rnn LSTM whose every output counts in the loss (so its TensorArray's gradient is read)."""
    x = tf.placeholder(dtype, [3, 5, 4])
    cell = tf.nn.rnn_cell.BasicLSTMCell(6)
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=dtype)
    weights = tf.constant(np.random.RandomState(4).uniform(-1, 1, (3, 5, 6)), dtype)
    loss = tf.reduce_sum(outputs * weights) + tf.reduce_sum(state.c * state.h)
    return x, loss


def test_the_lstm_step_stashes_in_rows_and_its_gradient_loop_reads_views_of_them():
    x, loss = _lstm()
    variables = tf.trainable_variables()
    gradients = tf.gradients(loss, [x] + variables)
    feeds = {x: rng.uniform(-1, 1, (3, 5, 4))}
    program, plan = _planned(gradients, feeds)
    stashed = {index for index in plan.rows.values() if index is None}
    assert stashed == {None} and sum(1 for index in plan.rows.values() if index is None) >= 5
    views = [inst for inst in _row_reads(program) if inst.result.id in plan.rows]
    assert len(views) >= 6
    # The row read of the TensorArray's gradient, whose row the loop then overwrites in place (a row write of
    # zeros), must stay a copy: a view would read the zeros.
    overwritten = [inst for inst in _row_reads(program) if any(
        other.op == "row_write" and other.values[0].id == inst.values[0].id for other in walk(program.instructions))]
    assert overwritten and all(inst.result.id not in plan.rows for inst in overwritten)

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        compiled = sess.run(gradients, feeds)
        weights = {v.op.name: sess.run(v) for v in variables}
        for c, r in zip(compiled, interpret_graph(gradients, feeds, weights)):
            np.testing.assert_allclose(c, r, rtol=1e-9, atol=1e-12)
        kernel = variables[0]
        value = weights[kernel.op.name]

        def loss_at(kernel_value):
            return sess.run(loss, {**feeds, kernel: kernel_value})

        np.testing.assert_allclose(compiled[1], numeric_gradient(loss_at, value.copy()), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(compiled[0], numeric_gradient(lambda v: sess.run(loss, {x: v}),
                                                                 feeds[x].copy()), rtol=1e-6, atol=1e-9)


@pytest.fixture
def restore_threads():
    yield
    loader.set_num_threads(0)


def _float32_lstm_gradients(threads: int) -> list:
    driver.load_runtime()
    loader.set_num_threads(threads)
    with tf.Graph().as_default():
        x, loss = _lstm(tf.float32)
        variables = tf.trainable_variables()
        gradients = tf.gradients(loss, [x] + variables)
        feeds = {x: np.random.RandomState(5).uniform(-1, 1, (3, 5, 4)).astype(np.float32)}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for variable in variables:  # the same weights in both runs
                sess.run(variable.assign(np.random.RandomState(6).uniform(-1, 1, variable.shape.as_list())
                                            .astype(np.float32)))
            got = sess.run(gradients, feeds)
            weights = {v.op.name: sess.run(v) for v in variables}
        for c, r in zip(got, interpret_graph(gradients, feeds, weights)):
            np.testing.assert_allclose(c, r, rtol=1e-4, atol=1e-5)
    return got


def test_the_float32_lstm_gradients_are_bit_identical_on_one_and_two_threads(restore_threads):
    for one, two in zip(_float32_lstm_gradients(1), _float32_lstm_gradients(2)):
        np.testing.assert_array_equal(one, two)


def _reads_rows(index):
    """A loop reading row index(i) of a captured matrix: its row read is a view of that row."""
    rows = tf.placeholder(tf.float64, [3, 2])
    _, total = tf.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s * 0.5 + tf.sin(rows[index(i)])),
                             [0, tf.zeros([2], tf.float64)])
    return rows, total


def test_a_row_read_of_a_captured_value_is_a_view_of_the_row():
    rows, total = _reads_rows(lambda i: 2 - i)
    gradient = tf.gradients(tf.reduce_sum(total), rows)[0]
    feeds = {rows: rng.uniform(-1, 1, (3, 2))}
    program, plan = _planned([total], feeds)
    assert [inst.result.id in plan.rows for inst in _row_reads(program)] == [True]
    with tf.Session() as sess:
        compiled = sess.run([total, gradient], feeds)
        np.testing.assert_allclose(compiled[1], numeric_gradient(
            lambda v: sess.run(tf.reduce_sum(total), {rows: v}), feeds[rows].copy()), rtol=1e-6, atol=1e-9)
    for c, r in zip(compiled, interpret_graph([total, gradient], feeds)):
        np.testing.assert_allclose(c, r, rtol=1e-12)


def test_a_view_of_a_row_past_the_end_fails_the_step_as_the_copy_did():
    rows, total = _reads_rows(lambda i: i * 2)
    feeds = {rows: rng.uniform(-1, 1, (3, 2))}
    program, plan = _planned([total], feeds)
    assert [inst.result.id in plan.rows for inst in _row_reads(program)] == [True]
    with tf.Session() as sess, pytest.raises(errors.InvalidArgumentError, match=r"index 4 is not in \[0, 3\)"):
        sess.run(total, feeds)


def test_a_captured_value_used_otherwise_too_is_read_by_copies():
    # Only a param no other op reads is viewed (nothing in the loop can then write its buffer).
    rows = tf.placeholder(tf.float64, [3, 2])
    _, total = tf.while_loop(lambda i, s: i < 3,
                             lambda i, s: (i + 1, s + rows[i] * tf.reduce_sum(rows)), [0, tf.zeros([2], tf.float64)])
    feeds = {rows: rng.uniform(-1, 1, (3, 2))}
    program, plan = _planned([total], feeds)
    assert [inst.result.id in plan.rows for inst in _row_reads(program)] == [False]
    with tf.Session() as sess:
        compiled = sess.run(total, feeds)
    np.testing.assert_allclose(compiled, interpret_graph([total], feeds)[0], rtol=1e-12)


def _loop_and_body(program):
    loop = next(inst for inst in program.instructions if inst.op == "while")
    return loop, loop.regions[1]


def _next_values_in_place(program, plan) -> list:
    """Per carried variable of the program's first loop: whether its next value is in its buffer."""
    loop, body = _loop_and_body(program)
    carried = loop.attrs["carried"]
    return [plan.locations[value.id] == plan.locations[out.id]
            for value, out in zip(body.results[:carried], loop.outputs[:carried])]


def test_the_lstm_loops_compute_each_next_value_in_its_variables_buffer():
    x, loss = _lstm()
    gradients = tf.gradients(loss, [x] + tf.trainable_variables())
    program, plan = _planned(gradients, {x: rng.uniform(-1, 1, (3, 5, 4))})
    loops = [inst for inst in program.instructions if inst.op == "while"]
    assert len(loops) == 2
    for loop in loops:
        body = loop.regions[1]
        # The counter, c, h (not the outputs' TensorArray: the step fetches gradients only, so nothing reads it
        # and it is gone, passes/bound_counter_rows.py);
        # the gradients and accumulators; not those a fetch's buffer holds (the gradients fetched), whose
        # values are copied there.
        in_place = [plan.locations[value.id] == plan.locations[out.id] for value, out in
                    zip(body.results[:loop.attrs["carried"]], loop.outputs)
                    if plan.locations[out.id].place is not Place.OUTPUT]
        assert len(in_place) >= 3 and all(in_place), in_place


def test_a_next_value_keeps_a_buffer_of_its_own_while_a_later_kernel_reads_the_variable():
    # a's next value comes first; the product reads a after it: computing it in a's buffer would be wrong.
    a0 = tf.placeholder(tf.float64, [2, 3])
    w = tf.constant(rng.uniform(-1, 1, (3, 3)))
    _, a, b = tf.while_loop(lambda i, a, b: i < 4,
                            lambda i, a, b: (i + 1, tf.tanh(a) * 0.9, b + tf.matmul(a, w)),
                            [0, a0, tf.zeros([2, 3], tf.float64)])
    feeds, fetches = {a0: rng.uniform(-1, 1, (2, 3))}, [a + 1.0, b + 1.0]  # the loop's results in the arena
    program, plan = _planned(fetches, feeds)
    assert _next_values_in_place(program, plan) == [True, False, True]
    with tf.Session() as sess:
        compiled = sess.run(fetches, feeds)
    for c, r in zip(compiled, interpret_graph(fetches, feeds)):
        np.testing.assert_allclose(c, r, rtol=1e-12)


def test_a_next_value_keeps_a_buffer_of_its_own_while_its_kernel_reads_the_variable_after_it():
    # One loop kernel: a * 0.5 is computed before c + a reads a (element i of a after element i of a's next).
    a0 = tf.placeholder(tf.float64, [5])
    _, a, c = tf.while_loop(lambda i, a, c: i < 3, lambda i, a, c: (i + 1, a * 0.5, c + a),
                            [0, a0, tf.zeros([5], tf.float64)])
    feeds, fetches = {a0: rng.uniform(-1, 1, 5)}, [a + 1.0, c + 1.0]
    program, plan = _planned(fetches, feeds)
    _, body = _loop_and_body(program)
    kernels = {inst.kernel for inst in body.instructions if inst.op in ("mul", "add") and inst.result.type.shape}
    assert len(kernels) == 1  # the case this test is about: both in one kernel
    assert _next_values_in_place(program, plan) == [True, False, True]
    with tf.Session() as sess:
        compiled = sess.run(fetches, feeds)
    for got, r in zip(compiled, interpret_graph(fetches, feeds)):
        np.testing.assert_allclose(got, r, rtol=1e-12)
