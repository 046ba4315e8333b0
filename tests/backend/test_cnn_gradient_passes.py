"""The CNN step's memory-bound gradient kernels (issue 19), compiled against the reference
interpreter and bit-identical with 1 and 2 threads:

- a ReLU gradient with its bias's gradient, the column sums of [images x pixels, channels]
  cut into fixed partitions of rows summed on the thread pool (kernels/reduce_parts.py);
- the max-pool gradient of windows that tile the image, dx written in one pass (kernels/pool.py);
- the ReLU gradient after a pool of ReLU outputs, the epilogue of the pool gradient's kernel
  (passes/fuse.py's pool_grad kind), in dx's own buffer.
"""

import numpy as np
import pytest

import graphc as tf
from graphc.backend.kernels.reduce_parts import PartitionedColumnSums
from graphc.compiler import driver
from graphc.compiler.lower import lower
from graphc.passes.pipeline import run_pipeline
from graphc.runtime import loader
from tests.helpers import feed_types, interpret_graph

# (images, height, width, channels), each at least reduce_parts.MIN_ELEMENTS: batch 1; odd channel
# counts and ones not a multiple of the vector width; 980 leaves of rows in 16 partitions of 62 (the
# last one's 12 past the end); a last leaf of 15 rows; a wide row of 1000 channels.
BIAS_GRADIENT_SHAPES = [(1, 90, 90, 33), (20, 28, 28, 17), (23, 19, 19, 45), (2, 30, 30, 1000)]


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


# (shape, window, stride, padding): the CNN's pool of ReLU outputs (dx written in one pass), and pools
# whose windows overlap or leave pixels out (dx zeroed, then added into).
RELU_POOLS = [((2, 14, 14, 17), 2, 2, "SAME"), ((2, 9, 11, 5), 3, 2, "SAME"), ((1, 8, 8, 3), 2, 3, "VALID")]


def relu_pool_gradients(shape, k, stride, padding, dtype, seed):
    """(fetches, feeds): the gradients of max_pool(relu(h + bias)) with respect to h (the ReLU gradient
    of the pool's gradient, fused as its epilogue) and to bias, as the CNN's backward pass builds them."""
    rng = np.random.RandomState(seed)
    h, bias = tf.placeholder(dtype, shape), tf.placeholder(dtype, shape[-1:])
    pooled = tf.nn.max_pool(tf.nn.relu(h + bias), [1, k, k, 1], [1, stride, stride, 1], padding)
    grads = rng.randn(*pooled.shape.as_list())
    grads[rng.rand(*grads.shape) < 0.2] = -0.0
    grads.reshape(-1)[:3] = [np.nan, np.inf, -np.inf]
    d_h, d_bias = tf.gradients(pooled, [h, bias], grad_ys=tf.constant(grads, dtype=dtype))
    # Exact zeros and ties: windows all <= 0 (ReLU's boundary at their maximum) and equal maxima.
    return [d_h, d_bias], {h: np.round(rng.randn(*shape), 0) - 0.5, bias: np.full(shape[-1], 0.5)}


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("pool", RELU_POOLS, ids=[f"{k}x{k}s{s}{p}" for _, k, s, p in RELU_POOLS])
def test_the_relu_gradient_runs_in_the_pool_gradients_kernel_bit_for_bit(pool, dtype):
    shape, k, stride, padding = pool
    fetches, feeds = relu_pool_gradients(shape, k, stride, padding, dtype, seed=k + stride)
    program = run_pipeline(lower(fetches, feed_types(feeds)).program)
    (anchor,) = [inst for inst in program.instructions if inst.op == "max_pool_grad"]
    (relu_grad,) = [inst for inst in program.instructions if inst.op == "relu_grad"]
    assert program.kernels[anchor.kernel] == "pool_grad" and relu_grad.kernel == anchor.kernel
    plan = program.memory_plan
    assert plan.locations[relu_grad.result.id] == plan.locations[anchor.result.id]  # in dx's buffer
    pool_gradient = tf.get_default_graph().get_operation_by_name("gradients/MaxPool_grad/MaxPoolGrad").outputs[0]
    with tf.Session() as session:
        fused = session.run(fetches, feeds)
        own_buffer = session.run(fetches + [pool_gradient], feeds)  # dx fetched: the ReLU gradient beside it
    reference = interpret_graph(fetches + [pool_gradient], feeds)
    np.testing.assert_array_equal(bits(fused[0]), bits(own_buffer[0]))
    if k == stride:  # windows that tile: each element of dx is 0 + one gradient, as the reference's
        np.testing.assert_array_equal(bits(fused[0]), bits(reference[0]))
        np.testing.assert_array_equal(bits(own_buffer[2]), bits(reference[2]))
    else:  # overlapping windows add their gradients in another order than the reference's
        np.testing.assert_allclose(fused[0], reference[0], rtol=1e-6)
    np.testing.assert_allclose(fused[1], reference[1], rtol=1e-5, atol=1e-5)
    assert (fused[0] == 0).sum() > fused[0].size / 2 and (fused[0] != 0).any()


def test_the_cnn_pool_of_relus_is_bit_identical_with_one_and_two_threads(restore_threads):
    results = []
    for threads in (1, 2):
        loader.set_num_threads(threads)
        with tf.Graph().as_default():
            fetches, feeds = relu_pool_gradients((100, 14, 14, 64), 2, 2, "SAME", tf.float32, seed=5)
            with tf.Session() as session:
                results.append(session.run(fetches, feeds))
    for one, two in zip(*results):
        np.testing.assert_array_equal(bits(one), bits(two))
