"""The direct and register-tiled filter gradients that sum the bias gradient on the way (kind
conv_filter_gradient_sum, passes/fuse.py): dw and db against the NumPy reference interpreter, the bias's
Adam update (the kernel's epilogue) against Adam's formula, and the same bits with one and two threads."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.core.windows import Convolution
from graphc.runtime import loader
from tests.helpers import interpret_graph
from tests.unit.test_fuse_column_sum import conv_bias_relu, fused, kernel_of

# (x shape, filter shape, stride, padding). Direct: the tutorial CNN's first layer (on the thread pool, 8
# partitions), Deep MNIST's 5x5x1 with 20 channels (a masked vector), a stride and VALID, one image.
DIRECT = [([6, 28, 28, 1], [3, 3, 1, 32], 1, "SAME"), ([2, 9, 9, 1], [5, 5, 1, 20], 1, "SAME"),
          ([2, 15, 15, 2], [3, 3, 2, 7], 2, "VALID"), ([1, 5, 6, 1], [3, 3, 1, 3], 1, "SAME")]
# Register tiles: the tutorial CNN's second layer (stride 2, SAME; 24 images, 12 partitions of 2 on the
# pool), 20 output channels (a masked vector of sums), a VALID window on 23 images (8 partitions of 2 or 3),
# one image.
TILED = [([24, 28, 28, 32], [3, 3, 32, 64], 2, "SAME"), ([3, 11, 11, 16], [3, 3, 16, 20], 1, "SAME"),
         ([23, 12, 12, 16], [5, 5, 16, 32], 1, "VALID"), ([1, 7, 7, 16], [3, 3, 16, 16], 1, "SAME")]
CASES = DIRECT + TILED


def case_id(case) -> str:
    return f"{case[1][0]}x{case[1][0]}x{case[1][2]}x{case[1][3]}-n{case[0][0]}"


@pytest.mark.parametrize("case, dtype", [(c, np.float32) for c in CASES] + [(DIRECT[1], np.float64),
                                                                           (TILED[1], np.float64)],
                         ids=[case_id(c) for c in CASES] + [case_id(DIRECT[1]) + "-float64",
                                                            case_id(TILED[1]) + "-float64"])
def test_filter_and_bias_gradients_match_the_reference(case, dtype):
    loss, w, b, feeds = conv_bias_relu(*case, dtype=dtype)
    gradients = tf.gradients(loss, [w, b])
    program = fused(gradients, feeds)
    assert program.kernels[kernel_of(program, "reduce_sum")] == "conv_filter_gradient_sum"
    (gradient,) = [inst for inst in program.instructions if inst.op == "conv2d_backprop_filter"]
    convolution = Convolution.filter_gradient(gradient)
    assert convolution.tiled if case in TILED else convolution.direct
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


def adam_steps(threads: int, steps: int = 2, case=DIRECT[0]):
    """The reference's db, then the variables after `steps` Adam steps on a layer (the tutorial CNN's first)."""
    loader.set_num_threads(threads)
    with tf.Graph().as_default():
        loss, w, b, feeds = conv_bias_relu(*case)
        (db,) = tf.gradients(loss, [b])
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            variables = {v.op.name: value for v, value in zip([w, b], session.run([w, b]))}
            reference_db = interpret_graph([db], feeds, variables)[0]
            for _ in range(steps):
                session.run(train, feeds)
            return reference_db, session.run([w, b])


@pytest.mark.parametrize("case", [DIRECT[0], TILED[0]], ids=["direct", "tiled"])
def test_the_bias_update_is_adams_and_the_same_bits_on_one_and_two_threads(restore_threads, case):
    reference_db, (w1, b1) = adam_steps(1, steps=1, case=case)
    # One Adam step from zero slots: b -= lr * sqrt(1 - beta2) / (1 - beta1) * m / (sqrt(v) + eps)
    m, v = 0.1 * reference_db, 0.001 * np.square(reference_db)
    expected = -0.01 * np.sqrt(1 - 0.999) / (1 - 0.9) * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(b1, expected, rtol=1e-4)
    _, (w_one, b_one) = adam_steps(1, case=case)
    _, (w_two, b_two) = adam_steps(2, case=case)
    np.testing.assert_array_equal(w_one, w_two)
    np.testing.assert_array_equal(b_one, b_two)
