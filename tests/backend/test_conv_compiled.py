"""Compiled convolutions and pooling agree with the NumPy references, forward and backward,
and a CNN training step gives identical bits on one and two threads."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.core import windows
from graphc.runtime import loader
from tests.backend.test_ops_compiled import assert_same

# (input shape, kernel size, output channels, stride, padding, dilation)
# K = KH*KW*C at most windows.DIRECT_MAX_DEPTH: the forward and filter gradient are direct (no im2col);
# others (not pointwise) with at least 16 channels along the vectors (O forward, C backward) run register
# tiles over the image (kernels/conv_tiled.py).
CONVOLUTIONS = [
    ((2, 7, 6, 3), 3, 4, 1, "SAME", 1),       # direct (K = 27)
    ((2, 7, 6, 5), 3, 4, 1, "SAME", 1),       # the same through im2col (K = 45)
    ((2, 9, 9, 1), 5, 20, 1, "SAME", 1),      # direct, Deep MNIST's 5x5x1; 20 channels: a masked vector;
                                              # pixels whose window is inside the image read it untested
    ((1, 3, 4, 1), 5, 4, 1, "SAME", 1),       # direct, a window larger than the image: every tap tested
    ((2, 3, 700, 3), 3, 24, 1, "SAME", 1),    # direct, rows too wide for one input strip: blocks of columns
    ((2, 2, 1201, 2), 3, 8, 2, "SAME", 1),    # the same at stride 2, the last block cut
    ((2, 7, 7, 4), 3, 3, 1, "SAME", 2),       # dilated, im2col
    ((1, 9, 8, 2), 3, 5, 2, "SAME", 1),       # batch 1, odd sizes
    ((2, 10, 7, 3), 2, 2, 3, "VALID", 1),     # stride over kernel
    ((1, 8, 8, 1), 5, 3, 2, "SAME", 1),       # one input channel, pad 2/1
    ((2, 7, 7, 2), 3, 3, 1, "SAME", 2),       # dilated
    ((1, 5, 5, 2), 1, 3, 4, "VALID", 1),      # 1x1 with a stride: still im2col
    ((3, 4, 4, 20), 1, 9, 1, "SAME", 1),      # pointwise: the input is the im2col matrix
    ((2, 6, 6, 17), 3, 19, 2, "SAME", 1),     # channels not a multiple of the vector width
    ((2, 9, 31, 16), 3, 40, 1, "VALID", 1),   # register tiles read x in place (no padding): an output row
                                              # of 29 = 14 + 14 + 1 pixels, 40 channels = 32 + 8 (masked)
    ((3, 16, 17, 20), 3, 33, 1, "SAME", 1),   # register tiles, SAME read in place; 33 = 32 + 1, C = 16 + 4
    ((2, 9, 9, 16), 3, 5, 1, "SAME", 2),      # dilated; O = 5: the forward through im2col, the gradients tiled
    ((1, 12, 11, 18), 3, 16, 2, "SAME", 1),   # batch 1: one partition of the filter gradient has an image
    ((3, 28, 28, 32), 3, 64, 2, "SAME", 1),   # the tutorial's second layer: blocked, threaded; input-gradient
                                              # chunks of whole images (with a 1 MB L2: 2 and 1)
    ((0, 5, 5, 2), 3, 3, 1, "SAME", 1),       # an empty batch: the filter gradient is zeros
    ((2, 5, 5, 1), 3, 0, 1, "SAME", 1),       # no output channels (direct): empty y and dw
]
# (input shape, window, stride, padding)
POOLS = [((2, 7, 6, 3), 3, 2, "SAME"), ((1, 8, 8, 2), 2, 2, "VALID"), ((2, 5, 7, 19), 2, 3, "SAME"),
         ((1, 6, 6, 1), 3, 1, "SAME"), ((4, 14, 14, 64), 2, 2, "SAME"), ((0, 4, 4, 2), 2, 2, "SAME")]


# Through im2col chunks and the GEMM (images too large for register tiles; made so here by a limit of 0).
IM2COL_CONVOLUTIONS = [
    ((2, 7, 6, 5), 3, 4, 1, "SAME", 1),
    ((2, 7, 7, 4), 3, 3, 1, "SAME", 2),
    ((1, 5, 5, 2), 1, 3, 4, "VALID", 1),
    ((2, 6, 6, 17), 3, 19, 2, "SAME", 1),
    ((2, 9, 31, 6), 3, 40, 1, "VALID", 1),
]


def test_convolutions_and_their_gradients():
    """float32 here; the float64 kernels run in tests/gradient_cases.py."""
    assert_convolutions_match_reference(CONVOLUTIONS)


def test_register_tiles_in_float64():
    """Half as many lanes a vector: other tile widths (NR) and masks."""
    assert_convolutions_match_reference([((2, 9, 31, 16), 3, 40, 1, "VALID", 1), ((2, 8, 9, 21), 3, 19, 2, "SAME", 1)],
                                        tf.float64)


def test_convolutions_through_im2col(monkeypatch):
    monkeypatch.setattr(windows, "tiled_image_bytes", lambda: 0)
    assert_convolutions_match_reference(IM2COL_CONVOLUTIONS)


def assert_convolutions_match_reference(convolutions, dtype=tf.float32):
    rng = np.random.RandomState(0)
    fetches, feeds = [], {}
    for shape, k, out, stride, padding, dilation in convolutions:
        x, w = tf.placeholder(dtype, shape), tf.placeholder(dtype, [k, k, shape[3], out])
        y = tf.nn.conv2d(x, w, [1, stride, stride, 1], padding, dilations=[1, dilation, dilation, 1])
        dy = tf.constant(rng.randn(*y.shape.as_list()), dtype=dtype)
        fetches += [y] + tf.gradients(y, [x, w], grad_ys=dy)
        feeds[x], feeds[w] = rng.randn(*shape), rng.randn(k, k, shape[3], out)
    assert_same(fetches, feeds, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_pooling_and_its_gradients(dtype):
    rng = np.random.RandomState(1)
    fetches, feeds = [], {}
    for shape, k, stride, padding in POOLS:
        x = tf.placeholder(dtype, shape)
        pools = [tf.nn.max_pool(x, [1, k, k, 1], [1, stride, stride, 1], padding),
                 tf.nn.avg_pool(x, [1, k, k, 1], [1, stride, stride, 1], padding)]
        dy = tf.constant(rng.randn(*pools[0].shape.as_list()), dtype=dtype)
        fetches += pools + [tf.gradients(pool, x, grad_ys=dy)[0] for pool in pools]
        # Rounded values: windows with equal maxima test that the first one wins.
        feeds[x] = np.round(rng.randn(*shape), 1)
    assert_same(fetches, feeds, rtol=1e-6, atol=1e-6)


@pytest.fixture
def restore_threads():
    yield
    loader.set_num_threads(0)


def train_cnn(threads: int, steps: int = 3):
    """The TF1 tutorial CNN (smaller batch), SGD on one batch: the losses and final weights. Its first
    convolution (3x3x1) is a direct one, the second an im2col GEMM."""
    driver.load_runtime()
    loader.set_num_threads(threads)
    rng = np.random.RandomState(0)
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [None, 28, 28, 1])
        labels = tf.placeholder(tf.int32, [None])
        tf.set_random_seed(1)
        h = tf.nn.relu(tf.nn.conv2d(images, tf.Variable(tf.truncated_normal([3, 3, 1, 32], stddev=0.1)),
                                    [1, 1, 1, 1], "SAME"))
        h = tf.nn.relu(tf.nn.conv2d(h, tf.Variable(tf.truncated_normal([3, 3, 32, 64], stddev=0.1)),
                                    [1, 2, 2, 1], "SAME"))
        h = tf.reshape(tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"), [-1, 7 * 7 * 64])
        logits = tf.matmul(h, tf.Variable(tf.truncated_normal([7 * 7 * 64, 10], stddev=0.05)))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            feeds = {images: rng.rand(16, 28, 28, 1).astype(np.float32), labels: rng.randint(0, 10, 16)}
            losses = [sess.run([train_op, loss], feeds)[1] for _ in range(steps)]
            return losses, sess.run(tf.trainable_variables())


def test_cnn_training_is_bit_identical_on_one_and_two_threads(restore_threads):
    losses_1, weights_1 = train_cnn(1)
    losses_2, weights_2 = train_cnn(2)
    assert losses_1 == losses_2 and losses_1[-1] < losses_1[0]
    for a, b in zip(weights_1, weights_2):
        np.testing.assert_array_equal(a, b)
