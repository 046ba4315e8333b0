"""The CNN step's memory-bound gradient kernels (issue 19), compiled against the reference
interpreter and bit-identical with 1 and 2 threads:

- a ReLU gradient with its bias's gradient, the column sums of [images x pixels, channels]
  cut into fixed partitions of rows summed on the thread pool (kernels/reduce_parts.py);
- the max-pool gradient of windows that tile the image, dx written in one pass (kernels/pool.py).
"""

import numpy as np
import pytest

import graphc as tf
from graphc.backend.kernels.reduce_parts import PartitionedColumnSums
from graphc.compiler import driver
from graphc.runtime import loader
from tests.helpers import interpret_graph

# (images, height, width, channels): batch 1; odd channel counts and ones not a multiple of the
# vector width; 147 leaves of rows in 15 partitions of 10 (the last one's 3 past the end); a last
# leaf of 15 rows; a wide row of 1000 channels.
BIAS_GRADIENT_SHAPES = [(1, 32, 32, 33), (3, 28, 28, 17), (7, 19, 19, 45), (2, 30, 30, 1000)]


def bits(array):
    """The bit patterns of a float array (so -0.0 and 0.0, or two NaNs, differ as TF's would)."""
    array = np.ascontiguousarray(array)
    return array.view(np.uint32 if array.dtype == np.float32 else np.uint64)


def relu_and_bias_gradients(shape, dtype):
    """(fetches, feeds): the gradients of relu(h + bias) with respect to h (a ReluGrad) and to bias
    (its sum over every pixel of every image), as a CNN's backward pass builds them, and a mean
    over the same rows."""
    rng = np.random.RandomState(sum(shape))
    h, bias = tf.placeholder(dtype, shape), tf.placeholder(dtype, shape[-1:])
    dy = tf.placeholder(dtype, shape)
    d_h, d_bias = tf.gradients(tf.nn.relu(h + bias), [h, bias], grad_ys=dy)
    h_values = np.round(rng.randn(*shape), 1)  # some exact zeros: relu's boundary
    dy_values = rng.randn(*shape)
    dy_values[rng.rand(*shape) < 0.05] = -0.0
    feeds = {h: h_values, bias: np.zeros(shape[-1]), dy: dy_values}
    return [d_h, d_bias, tf.reduce_mean(dy * 3.0, axis=[0, 1, 2])], feeds


@pytest.mark.parametrize("shape", BIAS_GRADIENT_SHAPES)
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_relu_and_bias_gradients_match_the_reference(shape, dtype):
    rows = int(np.prod(shape[:-1]))
    assert PartitionedColumnSums.applies((rows, shape[-1]), (0, 1))  # the path under test
    fetches, feeds = relu_and_bias_gradients(shape, dtype)
    with tf.Session() as session:
        compiled = session.run(fetches, feeds)
    reference = interpret_graph(fetches, feeds)
    np.testing.assert_array_equal(bits(compiled[0]), bits(reference[0]))  # elementwise: exact, -0.0 included
    for got, exact in zip(compiled[1:], reference[1:]):
        np.testing.assert_allclose(got, exact, rtol=1e-5, atol=1e-5)


# (shape, window, stride, padding): windows that tile the image, so dx is written in one pass.
TILING_POOLS = [((1, 8, 10, 3), 2, 2, "VALID"), ((2, 28, 28, 32), 2, 2, "SAME"), ((3, 6, 9, 5), 3, 3, "VALID"),
                ((2, 14, 14, 17), 2, 2, "SAME")]


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_max_pool_gradient_of_tiling_windows_is_the_references_bit_for_bit(dtype):
    rng = np.random.RandomState(3)
    fetches, feeds = [], {}
    for shape, k, stride, padding in TILING_POOLS:
        x = tf.placeholder(dtype, shape)
        pooled = tf.nn.max_pool(x, [1, k, k, 1], [1, stride, stride, 1], padding)
        grads = rng.randn(*pooled.shape.as_list())
        grads[rng.rand(*grads.shape) < 0.2] = -0.0  # routed as 0 + -0.0 = +0.0, as TF adds into zeros
        grads.reshape(-1)[:3] = [np.nan, np.inf, -np.inf]
        dy = tf.constant(grads, dtype=dtype)
        fetches.append(tf.gradients(pooled, x, grad_ys=dy)[0])
        feeds[x] = np.round(rng.randn(*shape), 0)  # many equal maxima: the first one wins
    # A window as large as the image: strides beside the point.
    x = tf.placeholder(dtype, [2, 4, 6, 7])
    pooled = tf.nn.max_pool(x, [1, 4, 6, 1], [1, 1, 1, 1], "VALID")
    fetches.append(tf.gradients(pooled, x, grad_ys=tf.constant(rng.randn(2, 1, 1, 7), dtype=dtype))[0])
    feeds[x] = np.round(rng.randn(2, 4, 6, 7), 0)
    with tf.Session() as session:
        compiled = session.run(fetches, feeds)
    for got, exact in zip(compiled, interpret_graph(fetches, feeds)):
        np.testing.assert_array_equal(bits(got), bits(exact))


@pytest.fixture
def restore_threads():
    driver.load_runtime()
    yield
    loader.set_num_threads(0)


def test_the_cnn_shapes_are_bit_identical_with_one_and_two_threads(restore_threads):
    rng = np.random.RandomState(4)
    conv1 = (100, 28, 28, 32)  # the tutorial CNN's first ReLU and bias, and its 2x2 max-pool
    images, pooled_grads = np.round(rng.randn(*conv1), 1), rng.randn(100, 14, 14, 32)
    results = []
    for threads in (1, 2):
        loader.set_num_threads(threads)
        with tf.Graph().as_default():
            fetches, feeds = relu_and_bias_gradients(conv1, tf.float32)
            x = tf.placeholder(tf.float32, conv1)
            pooled = tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
            fetches.append(tf.gradients(pooled, x, grad_ys=tf.constant(pooled_grads, dtype=tf.float32))[0])
            feeds[x] = images
            with tf.Session() as session:
                results.append(session.run(fetches, feeds))
    for one, two in zip(*results):
        np.testing.assert_array_equal(bits(one), bits(two))
