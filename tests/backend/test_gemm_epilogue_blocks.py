"""A GEMM's epilogue on blocks of C of every shape the library hands it: several row blocks
(a C too large for the epilogue's share of L2, GemmEmitter._epilogue_rows), whole-row blocks
walked as one run, and the column ranges of a two-thread column split (emit_block)."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.runtime import loader


@pytest.fixture
def restore_threads():
    yield
    loader.set_num_threads(0)


def sgd_step(threads: int, rows: int, cols: int, depth: int):
    """relu(d · Wᵀ + h), then W -= 0.5 * (xᵀ · d): each fused into its product's epilogue, whose
    streams all walk C's own layout."""
    driver.load_runtime()
    loader.set_num_threads(threads)
    rng = np.random.RandomState(1)
    w0 = rng.standard_normal((rows, cols)).astype(np.float32)
    x, d = rng.standard_normal((depth, rows)).astype(np.float32), rng.standard_normal((depth, cols)).astype(np.float32)
    h = rng.standard_normal((depth, rows)).astype(np.float32)
    with tf.Graph().as_default():
        w = tf.Variable(w0)
        back = tf.nn.relu(tf.matmul(tf.constant(d), w, transpose_b=True) + tf.constant(h))
        with tf.control_dependencies([back]):  # TF's order: the product reads W before its update
            update = tf.assign_sub(w, 0.5 * tf.matmul(tf.constant(x), tf.constant(d), transpose_a=True))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            result = sess.run([back, update])
    expected_w = w0 - 0.5 * (x.astype(np.float64).T @ d)
    expected_back = np.maximum(d.astype(np.float64) @ w0.T + h, 0)
    return result, (expected_back, expected_w)


@pytest.mark.parametrize("rows, cols, depth", [
    (784, 300, 100),  # the MLP's dW1: four blocks of 196 rows; d·Wᵀ [100, 784] split in columns on 2 threads
    (40, 600, 50),    # the update's C, 19 panels wide and 4 high, split in columns on 2 threads
    (1100, 70, 30),   # rows of 70 (not a multiple of 16): two blocks of 550 rows
])
def test_epilogue_blocks_match_float64_and_are_the_same_on_one_and_two_threads(restore_threads, rows, cols, depth):
    (back_1, w_1), expected = sgd_step(1, rows, cols, depth)
    (back_2, w_2), _ = sgd_step(2, rows, cols, depth)
    np.testing.assert_array_equal(w_1, w_2)
    np.testing.assert_array_equal(back_1, back_2)
    tolerance = 1e-5 * np.sqrt(depth) * 4
    np.testing.assert_allclose(back_1, expected[0], rtol=1e-4, atol=tolerance)
    np.testing.assert_allclose(w_1, expected[1], rtol=1e-4, atol=tolerance)


def dense_relu(threads: int, x, w0, h):
    """relu(x · W + h) with its bias and ReLU fused into the product's epilogue."""
    driver.load_runtime()
    loader.set_num_threads(threads)
    with tf.Graph().as_default():
        w = tf.Variable(w0)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            return sess.run(tf.nn.relu(tf.matmul(tf.constant(x), w) + tf.constant(h)))


def test_epilogue_of_a_product_summed_in_halves_runs_once_they_are_joined(restore_threads):
    # W [1500, 400] (2.4 MB) is larger than L2 under 20 rows of x: K is summed in two halves, each
    # a task of its own (GemmEmitter._depth_halves); the epilogue must see their sum, not a half.
    rng = np.random.RandomState(2)
    x = rng.standard_normal((20, 1500)).astype(np.float32)
    w0 = rng.standard_normal((1500, 400)).astype(np.float32)
    h = rng.standard_normal((20, 400)).astype(np.float32)
    one, two = dense_relu(1, x, w0, h), dense_relu(2, x, w0, h)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_allclose(one, np.maximum(x.astype(np.float64) @ w0 + h, 0), rtol=1e-4, atol=1e-3)
