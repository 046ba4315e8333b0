"""The register-tiled filter and input gradients' block-sparse paths (kernels/conv_sparse.py): a dy with at
most one nonzero in each 2x2 block of a channel (the gradient through a 2x2 max-pool) against the NumPy
reference interpreter, images that must take the dense tiles (two nonzeros in a block, a non-finite x or w),
and the same bits with one and two threads."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.core.windows import Convolution
from graphc.runtime import loader
from tests.helpers import interpret_graph
from tests.unit.test_fuse_column_sum import fused

# (x shape, filter shape, padding, strides): Deep MNIST's conv2 (its 50 images: 10 partitions of 5), 20
# output channels (a masked vector of g and offsets) and 3 x 16 channels a window row, a VALID window; the
# tutorial CNN's conv2 (3x3, stride 2), a VALID window of stride 2, strides of 2 rows and 1 column.
CASES = [([50, 14, 14, 32], [5, 5, 32, 64], "SAME", 1), ([3, 8, 8, 16], [3, 3, 16, 20], "SAME", 1),
         ([2, 11, 11, 16], [4, 4, 16, 24], "VALID", 1), ([4, 28, 28, 32], [3, 3, 32, 64], "SAME", 2),
         ([2, 13, 13, 16], [3, 3, 16, 24], "VALID", 2), ([2, 16, 8, 16], [3, 3, 16, 20], "SAME", (2, 1))]


def pooled_layer(x_shape, w_shape, padding, strides=1, dtype=np.float32):
    """(loss, w, b, x, x's value) of sum(max_pool_2x2(relu(conv2d(x, w, strides) + b)) * c)."""
    rng = np.random.RandomState(0)
    x = tf.placeholder(tf.as_dtype(dtype), x_shape)
    w = tf.Variable((0.2 * rng.randn(*w_shape)).astype(dtype))
    b = tf.Variable(np.full(w_shape[-1], 0.1, dtype))
    stride_h, stride_w = (strides, strides) if isinstance(strides, int) else strides
    h = tf.nn.relu(tf.nn.conv2d(x, w, [1, stride_h, stride_w, 1], padding) + b)
    pooled = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    loss = tf.reduce_sum(pooled * tf.constant(rng.randn(*pooled.shape.as_list()).astype(dtype)))
    return loss, w, b, x, rng.randn(*x_shape).astype(dtype)


def gradients_and_reference(case, dtype=np.float32):
    loss, w, b, x, value = pooled_layer(*case, dtype=dtype)
    feeds = {x: value}
    gradients = tf.gradients(loss, [w, b, x])
    program = fused(gradients, feeds)
    (gradient,) = [inst for inst in program.instructions if inst.op == "conv2d_backprop_filter"]
    assert Convolution.filter_gradient(gradient).block_sparse
    (gradient,) = [inst for inst in program.instructions if inst.op == "conv2d_backprop_input"]
    assert Convolution.input_gradient(gradient).block_sparse
    with tf.Session() as session:
        session.run(tf.global_variables_initializer())
        got = session.run(gradients, feeds)
        variables = {v.op.name: v_value for v, v_value in zip([w, b], session.run([w, b]))}
    return got, interpret_graph(gradients, feeds, variables)


@pytest.mark.parametrize("case, dtype", [(case, np.float32) for case in CASES] + [(CASES[1], np.float64)],
                         ids=["deep-mnist-conv2", "masked", "valid", "cnn-conv2-stride-2", "valid-stride-2",
                              "strides-2-1", "masked-float64"])
def test_a_pooled_layers_gradients_match_the_reference(case, dtype):
    (dw, db, dx), (reference_dw, reference_db, reference_dx) = gradients_and_reference(case, dtype)
    np.testing.assert_allclose(dw, reference_dw, rtol=2e-5, atol=2e-4)
    np.testing.assert_allclose(db, reference_db, rtol=2e-5, atol=2e-4)
    np.testing.assert_allclose(dx, reference_dx, rtol=2e-5, atol=2e-5)
    assert np.abs(dw).max() > 0 and np.abs(dx).max() > 0


def test_a_dense_dy_and_a_non_finite_image_take_the_dense_tiles():
    """A direct conv2d_backprop_filter with dy fed: image 0 block-sparse, image 1 with two nonzeros in a
    block, image 2 block-sparse with an inf in x where dy is 0 (0 * inf is NaN, as in the reference)."""
    rng = np.random.RandomState(1)
    x_value = rng.randn(3, 8, 8, 16).astype(np.float32)
    dy_value = np.zeros((3, 8, 8, 20), np.float32)
    for n in range(3):
        for i in range(4):
            for j in range(4):
                for o in range(20):
                    a, c = rng.randint(2, size=2)
                    dy_value[n, 2 * i + a, 2 * j + c, o] = rng.randn()
    dy_value[1, 0, 1, 3] = 1.5  # a second nonzero in image 1's first block of channel 3
    dy_value[1, 0, 0, 3] = -0.5
    x_value[2, 5, 5, 7] = np.inf
    x = tf.placeholder(tf.float32, x_value.shape)
    dy = tf.placeholder(tf.float32, dy_value.shape)
    dw = tf.nn.conv2d_backprop_filter(x, [3, 3, 16, 20], dy, [1, 1, 1, 1], "SAME")
    feeds = {x: x_value, dy: dy_value}
    with tf.Session() as session:
        got = session.run(dw, feeds)
    reference = interpret_graph([dw], feeds, {})[0]
    assert np.isnan(reference).any() and not np.isnan(reference).all()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(reference))
    finite = ~np.isnan(reference)
    np.testing.assert_allclose(got[finite], reference[finite], rtol=2e-5, atol=2e-4)


def test_the_input_gradient_with_a_dense_dy_or_a_non_finite_w_takes_the_dense_tiles():
    """conv2d_backprop_input with dy fed: image 1 has two nonzeros in a block; then w with an inf, whose
    products with dy's zeros are NaN in every image, as in the reference."""
    rng = np.random.RandomState(2)
    dy_value = np.zeros((2, 8, 8, 20), np.float32)
    for n, i, j, o in np.ndindex(2, 4, 4, 20):
        a, c = rng.randint(2, size=2)
        dy_value[n, 2 * i + a, 2 * j + c, o] = rng.randn()
    dy_value[1, 2, 2, 5], dy_value[1, 3, 3, 5] = 1.25, -2.0
    for infinite in (False, True):
        w_value = rng.randn(3, 3, 16, 20).astype(np.float32)
        if infinite:
            w_value[1, 1, 4, 9] = np.inf
        with tf.Graph().as_default():
            w = tf.placeholder(tf.float32, w_value.shape)
            dy = tf.placeholder(tf.float32, dy_value.shape)
            dx = tf.nn.conv2d_backprop_input([2, 8, 8, 16], w, dy, [1, 1, 1, 1], "SAME")
            feeds = {w: w_value, dy: dy_value}
            with tf.Session() as session:
                got = session.run(dx, feeds)
            reference = interpret_graph([dx], feeds, {})[0]
        assert np.isnan(reference).any() == infinite
        np.testing.assert_array_equal(np.isnan(got), np.isnan(reference))
        finite = ~np.isnan(reference)
        np.testing.assert_allclose(got[finite], reference[finite], rtol=2e-5, atol=2e-5)


@pytest.fixture
def restore_threads():
    driver.load_runtime()
    yield
    loader.set_num_threads(0)


@pytest.mark.parametrize("case", [CASES[0], CASES[3]], ids=["deep-mnist-conv2", "cnn-conv2-stride-2"])
def test_the_same_bits_on_one_and_two_threads(restore_threads, case):
    results = []
    for threads in (1, 2):
        loader.set_num_threads(threads)
        with tf.Graph().as_default():
            results.append(gradients_and_reference(case)[0])
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_blocks_without_a_nonzero_are_left_out_and_a_nan_is_kept():
    """Both gradients with dy fed: blocks with no nonzero (a ReLU's; here half of them, and all of channel
    0, whose list is empty), a -0 and a NaN as a block's g; the NaN reaches dw and dx, as in the reference."""
    rng = np.random.RandomState(3)
    x_value = rng.randn(2, 8, 8, 16).astype(np.float32)
    w_value = rng.randn(3, 3, 16, 20).astype(np.float32)
    dy_value = np.zeros((2, 8, 8, 20), np.float32)
    for n, i, j, o in np.ndindex(2, 4, 4, 20):
        a, c = rng.randint(2, size=2)
        if o > 0 and rng.rand() < 0.5:
            dy_value[n, 2 * i + a, 2 * j + c, o] = rng.randn()
    dy_value[0, 4, 4, 2] = dy_value[0, 4, 5, 2] = dy_value[0, 5, 4, 2] = 0.0
    dy_value[0, 5, 5, 2] = -0.0
    dy_value[1, 4, 4, 6] = dy_value[1, 4, 5, 6] = dy_value[1, 5, 4, 6] = 0.0
    dy_value[1, 5, 5, 6] = np.nan
    x = tf.placeholder(tf.float32, x_value.shape)
    w = tf.placeholder(tf.float32, w_value.shape)
    dy = tf.placeholder(tf.float32, dy_value.shape)
    dw = tf.nn.conv2d_backprop_filter(x, [3, 3, 16, 20], dy, [1, 1, 1, 1], "SAME")
    dx = tf.nn.conv2d_backprop_input([2, 8, 8, 16], w, dy, [1, 1, 1, 1], "SAME")
    feeds = {x: x_value, w: w_value, dy: dy_value}
    with tf.Session() as session:
        got = session.run([dw, dx], feeds)
    for value, reference in zip(got, interpret_graph([dw, dx], feeds, {})):
        assert np.isnan(reference).any() and not np.isnan(reference).all()
        np.testing.assert_array_equal(np.isnan(value), np.isnan(reference))
        finite = ~np.isnan(reference)
        np.testing.assert_allclose(value[finite], reference[finite], rtol=2e-5, atol=2e-4)
    assert not got[0][..., 0].any()  # channel 0's dy is all zeros
