"""The direct filter gradient that sums the bias gradient on the way (kind conv_filter_gradient_sum,
passes/fuse.py): dw and db against the NumPy reference interpreter, the bias's Adam update (the kernel's
epilogue) against Adam's formula, and the same bits with one and two threads."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.runtime import loader
from tests.helpers import interpret_graph
from tests.unit.test_fuse_column_sum import conv_bias_relu, fused, kernel_of

# (x shape, filter shape, stride, padding): the tutorial CNN's first layer (on the thread pool, 8
# partitions), Deep MNIST's 5x5x1 with 20 channels (a masked vector), a stride and VALID, one image.
CASES = [([6, 28, 28, 1], [3, 3, 1, 32], 1, "SAME"), ([2, 9, 9, 1], [5, 5, 1, 20], 1, "SAME"),
         ([2, 15, 15, 2], [3, 3, 2, 7], 2, "VALID"), ([1, 5, 6, 1], [3, 3, 1, 3], 1, "SAME")]


@pytest.mark.parametrize("case, dtype", [(c, np.float32) for c in CASES] + [(CASES[1], np.float64)],
                         ids=[f"{c[1][0]}x{c[1][0]}x{c[1][2]}x{c[1][3]}" for c in CASES] + ["5x5x1x20-float64"])
def test_filter_and_bias_gradients_match_the_reference(case, dtype):
    loss, w, b, feeds = conv_bias_relu(*case, dtype=dtype)
    gradients = tf.gradients(loss, [w, b])
    program = fused(gradients, feeds)
    assert program.kernels[kernel_of(program, "reduce_sum")] == "conv_filter_gradient_sum"
    with tf.Session() as session:
        session.run(tf.global_variables_initializer())
        dw, db = session.run(gradients, feeds)
        variables = {v.op.name: value for v, value in zip([w, b], session.run([w, b]))}
    reference = interpret_graph(gradients, feeds, variables)
    np.testing.assert_allclose(dw, reference[0], rtol=2e-5, atol=2e-4)
    np.testing.assert_allclose(db, reference[1], rtol=2e-5, atol=2e-4)
    assert np.abs(db).min() > 0  # every channel has a gradient to sum


@pytest.fixture
def restore_threads():
    driver.load_runtime()
    yield
    loader.set_num_threads(0)


def adam_steps(threads: int, steps: int = 2):
    """The reference's db, then the variables after `steps` Adam steps on the tutorial CNN's first layer."""
    loader.set_num_threads(threads)
    with tf.Graph().as_default():
        loss, w, b, feeds = conv_bias_relu(*CASES[0])
        (db,) = tf.gradients(loss, [b])
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            variables = {v.op.name: value for v, value in zip([w, b], session.run([w, b]))}
            reference_db = interpret_graph([db], feeds, variables)[0]
            for _ in range(steps):
                session.run(train, feeds)
            return reference_db, session.run([w, b])


def test_the_bias_update_is_adams_and_the_same_bits_on_one_and_two_threads(restore_threads):
    reference_db, (w1, b1) = adam_steps(1, steps=1)
    # One Adam step from zero slots: b -= lr * sqrt(1 - beta2) / (1 - beta1) * m / (sqrt(v) + eps)
    m, v = 0.1 * reference_db, 0.001 * np.square(reference_db)
    expected = -0.01 * np.sqrt(1 - 0.999) / (1 - 0.9) * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(b1, expected, rtol=1e-4)
    _, (w_one, b_one) = adam_steps(1)
    _, (w_two, b_two) = adam_steps(2)
    np.testing.assert_array_equal(w_one, w_two)
    np.testing.assert_array_equal(b_one, b_two)
