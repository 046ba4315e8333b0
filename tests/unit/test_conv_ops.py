"""Convolution and pooling ops without LLVM: TF's padding arithmetic, the NumPy references
against plain loops, shape rules and their errors, and the workspace the memory plan gives."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler.lower import lower
from graphc.core import windows
from graphc.ops.conv_ops import Window
from graphc.passes.pipeline import run_pipeline
from tests.helpers import feed_types, interpret_graph


@pytest.mark.parametrize("size, k, stride, padding, out, pad_before", [
    (28, 3, 1, "SAME", 28, 1),
    (28, 3, 2, "SAME", 14, 0),   # pad_total 1 goes after
    (28, 2, 2, "SAME", 14, 0),
    (7, 3, 2, "SAME", 4, 1),
    (5, 4, 1, "SAME", 5, 1),     # pad_total 3: one before, two after
    (5, 2, 3, "SAME", 2, 0),     # stride over kernel
    (28, 3, 1, "VALID", 26, 0),
    (5, 2, 3, "VALID", 2, 0),
    (4, 3, 2, "VALID", 1, 0),
    (3, 3, 5, "VALID", 1, 0),
])
def test_window_follows_tf_padding_arithmetic(size, k, stride, padding, out, pad_before):
    window = Window.of(size, size, k, k, (1, stride, stride, 1), padding)
    assert (window.out_h, window.pad_top) == (out, pad_before)


def naive_conv(x, w, stride, padding, dilation=1):
    """Seven plain loops: the definition of a TF convolution, independent of the reference's slicing."""
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    window = Window.of(h, wd, kh, kw, (1, stride, stride, 1), padding, (1, dilation, dilation, 1))
    y = np.zeros((n, window.out_h, window.out_w, o))
    for b in range(n):
        for i in range(window.out_h):
            for j in range(window.out_w):
                for p in range(kh):
                    for q in range(kw):
                        r = i * stride - window.pad_top + p * dilation
                        s = j * stride - window.pad_left + q * dilation
                        if 0 <= r < h and 0 <= s < wd:
                            y[b, i, j] += x[b, r, s] @ w[p, q]
    return y


def naive_pools(x, k, stride, padding):
    n, h, wd, c = x.shape
    window = Window.of(h, wd, k, k, (1, stride, stride, 1), padding)
    shape = (n, window.out_h, window.out_w, c)
    maxima, means = np.zeros(shape), np.zeros(shape)
    for i in range(window.out_h):
        for j in range(window.out_w):
            r0, s0 = i * stride - window.pad_top, j * stride - window.pad_left
            patch = x[:, max(r0, 0):r0 + k, max(s0, 0):s0 + k]
            maxima[:, i, j] = patch.max(axis=(1, 2))
            means[:, i, j] = patch.mean(axis=(1, 2))
    return maxima, means


@pytest.mark.parametrize("shape, k, out, stride, padding, dilation", [
    ((2, 7, 6, 3), 3, 4, 1, "SAME", 1),
    ((1, 9, 8, 2), 3, 5, 2, "SAME", 1),
    ((2, 10, 7, 3), 2, 2, 3, "VALID", 1),
    ((1, 5, 5, 2), 4, 3, 1, "SAME", 1),
    ((1, 7, 7, 2), 3, 2, 1, "SAME", 2),
    ((1, 5, 5, 2), 1, 3, 4, "VALID", 1),
])
def test_conv_reference_matches_plain_loops(shape, k, out, stride, padding, dilation):
    rng = np.random.RandomState(0)
    x, w = rng.randn(*shape), rng.randn(k, k, shape[3], out)
    xp, wp = tf.placeholder(tf.float64, shape), tf.placeholder(tf.float64, w.shape)
    y = tf.nn.conv2d(xp, wp, [1, stride, stride, 1], padding, dilations=[1, dilation, dilation, 1])
    (value,) = interpret_graph([y], {xp: x, wp: w})
    np.testing.assert_allclose(value, naive_conv(x, w, stride, padding, dilation), rtol=1e-12, atol=1e-12)
    assert y.shape.as_list() == list(value.shape)


@pytest.mark.parametrize("shape, k, stride, padding", [
    ((2, 7, 6, 3), 3, 2, "SAME"), ((1, 8, 8, 2), 2, 2, "VALID"), ((2, 5, 7, 3), 2, 3, "SAME"),
    ((1, 6, 6, 1), 3, 1, "SAME"),
])
def test_pool_references_match_plain_loops(shape, k, stride, padding):
    x = np.random.RandomState(1).randn(*shape)
    xp = tf.placeholder(tf.float64, shape)
    ops = [tf.nn.max_pool(xp, [1, k, k, 1], [1, stride, stride, 1], padding),
           tf.nn.avg_pool(xp, [1, k, k, 1], [1, stride, stride, 1], padding)]
    for value, expected in zip(interpret_graph(ops, {xp: x}), naive_pools(x, k, stride, padding)):
        np.testing.assert_allclose(value, expected, rtol=1e-12)


def test_max_pool_grad_routes_to_the_first_maximum():
    x = tf.placeholder(tf.float64, [1, 2, 2, 1])
    (grad,) = tf.gradients(tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"), x)
    (value,) = interpret_graph([grad], {x: np.array([1.0, 3.0, 3.0, 2.0]).reshape(1, 2, 2, 1)})
    np.testing.assert_array_equal(value.reshape(-1), [0, 1, 0, 0])


def test_shape_rules_and_their_errors():
    x = tf.placeholder(tf.float32, [None, 28, 28, 1])
    w = tf.zeros([3, 3, 1, 32])
    assert tf.nn.conv2d(x, w, [1, 2, 2, 1], "SAME").shape.as_list() == [None, 14, 14, 32]
    assert tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID").shape.as_list() == [None, 14, 14, 1]
    with pytest.raises(ValueError, match="input depth"):
        tf.nn.conv2d(x, tf.zeros([3, 3, 2, 4]), [1, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="NHWC"):
        tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME", data_format="NCHW")
    with pytest.raises(ValueError, match="padding"):
        tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "FULL")
    pooled = tf.nn.avg_pool(x, [2, 2, 2, 1], [1, 2, 2, 1], "SAME")  # TF 2.21 builds it and refuses to run it
    with pytest.raises(tf.errors.UnimplementedError, match="batch dimension"):
        tf.Session().run(pooled, {x: np.zeros((2, 28, 28, 1))})
    with pytest.raises(ValueError, match="Negative dimension size caused by subtracting 3 from 2"):
        tf.nn.conv2d(tf.zeros([1, 2, 2, 1]), tf.zeros([3, 3, 1, 1]), [1, 1, 1, 1], "VALID")


def test_memory_plan_gives_convolutions_a_workspace():
    """A forward convolution through im2col gets its chunks as a workspace; a register-tiled one
    reads x in place, even with SAME padding (its zeros come from a constant row), a pointwise one
    reads x as it is, a direct one needs nothing."""
    x = tf.placeholder(tf.float32, [2, 6, 6, 5])
    tiled = tf.nn.conv2d(x, tf.ones([3, 3, 5, 16]), [1, 2, 2, 1], "SAME")  # K = 45, O = 16: register tiles
    im2col = tf.nn.conv2d(x, tf.ones([3, 3, 5, 4]), [1, 1, 1, 1], "SAME")  # O = 4: too few lanes for tiles
    pointwise = tf.nn.conv2d(x, tf.ones([1, 1, 5, 4]), [1, 1, 1, 1], "SAME")
    gray = tf.placeholder(tf.float32, [2, 6, 6, 1])
    direct = tf.nn.conv2d(gray, tf.ones([3, 3, 1, 4]), [1, 1, 1, 1], "SAME")  # K = 9: direct, no im2col
    program = run_pipeline(lower([tiled, im2col, pointwise, direct], feed_types({x: np.zeros([2, 6, 6, 5]),
                                                                                 gray: np.zeros([2, 6, 6, 1])})).program)
    plan = program.memory_plan
    (conv,) = [inst for inst in program.instructions
               if inst.op == "conv2d" and inst.values[1].type.shape[0] == 3 and inst.values[1].type.shape[2:] == (5, 4)]
    assert list(plan.workspaces) == [conv.result.id]
    assert plan.arena_bytes >= 2 * 6 * 6 * 45 * 4  # the im2col rows of two 6x6 images, 45 taps each
    assert "workspace of" in plan.describe()


def test_convolutions_run_register_tiles_over_images_that_fit_the_l2():
    def convolution(product, image, padding="SAME"):
        window = windows.conv_window(image, (3, 3, image[3], 64), {"strides": [1, 2, 2, 1], "padding": padding})
        return windows.Convolution(image, (3, 3, image[3], 64), window, product, 4)

    tutorial = convolution("forward", (100, 28, 28, 32))
    assert tutorial.tiled and tutorial.tasks == 100  # an image a task
    assert (tutorial.window.padded_h, tutorial.window.padded_w) == (29, 29)  # SAME pads one row at the bottom
    assert tutorial.workspace_bytes == 0  # x read in place, the padding's zeros from a constant row
    gradient = convolution("filter_gradient", (100, 28, 28, 32))  # partials of dw^T, and of db's sums
    assert gradient.tiled and gradient.tasks == windows.TILED_FILTER_PARTITIONS
    # A partition's block-sparse scratch too (kernels/conv_sparse.py: the 14x14 output is 7x7 blocks): the
    # padded image, then per output channel its blocks' gradients and offsets and their count.
    assert gradient.block_sparse and gradient.block_sparse_elements == 29 * 29 * 32 + (2 * 7 * 7 + 1) * 64
    assert gradient.workspace_bytes == windows.TILED_FILTER_PARTITIONS * (
        (288 + 1) * 64 + gradient.block_sparse_elements) * 4
    backward = convolution("input_gradient", (100, 28, 28, 32))  # w packed as [KH, KW, O, C]; dx gathered, stored once
    # ... and as [O, KH, KW, C] for the block-sparse path
    assert backward.tiled and backward.block_sparse and backward.workspace_bytes == 2 * 288 * 64 * 4
    # Its thread's scratch: the padded dx, then per block and pixel its channels' gradients and w'' rows and
    # their count.
    assert backward.block_sparse_elements == 29 * 29 * 32 + 4 * 7 * 7 * (2 * 64 + 1)
    assert not convolution("input_gradient", (100, 28, 28, 1)).tiled  # C = 1: 1 lane in 16 busy
    huge = (1, 4096, 4096, 32)  # an image far larger than any L2: im2col chunks
    assert not convolution("forward", huge).tiled


@pytest.mark.parametrize("batch, partitions", [(100, 20), (50, 10), (64, 16), (200, 20), (13, 13), (7, 7), (1, 1),
                                               (97, 8)])  # 97 is prime: no even split from 8 up
def test_tiled_filter_gradients_split_their_images_evenly(batch, partitions):
    image, weights = (batch, 14, 14, 32), (5, 5, 32, 64)
    window = windows.conv_window(image, weights, {"strides": [1, 1, 1, 1], "padding": "SAME"})
    gradient = windows.Convolution(image, weights, window, "filter_gradient", 4)
    assert gradient.tiled and gradient.tasks == partitions


@pytest.mark.parametrize("size, k, stride, padding, dilation, expected", [
    (28, 3, 2, "SAME", 1, [range(0, 14), range(0, 14), range(0, 13)]),  # the tutorial's conv2: pad 0 left, 1 right
    (27, 3, 2, "SAME", 1, [range(1, 14), range(0, 14), range(0, 13)]),  # odd: pad 1 on each side
    (14, 5, 1, "SAME", 1, [range(2, 14), range(1, 14), range(0, 14), range(0, 13), range(0, 12)]),  # Deep MNIST
    (9, 3, 2, "VALID", 1, [range(0, 4)] * 3),
    (7, 3, 1, "SAME", 2, [range(2, 7), range(0, 7), range(0, 5)]),  # dilated: pad 2 on each side
    (2, 5, 1, "SAME", 1, [range(2, 2), range(1, 2), range(0, 2), range(0, 1), range(0, 0)]),  # wider than the image
])
def test_inside_columns_are_the_output_columns_whose_tap_reads_the_image(size, k, stride, padding, dilation,
                                                                          expected):
    window = windows.Window.of(size, size, k, k, [1, stride, stride, 1], padding, [1, dilation, dilation, 1])
    assert [window.inside_columns(kw) for kw in range(k)] == expected
    for kw, columns in enumerate(expected):  # against the padded geometry, column by column
        reads = kw * dilation + stride * np.arange(window.out_w) - window.pad_left
        assert list(columns) == [int(ow) for ow in np.flatnonzero((reads >= 0) & (reads < size))]


def test_small_depths_are_direct_convolutions():
    """K = KH*KW*C up to DIRECT_MAX_DEPTH: forward and filter gradient computed directly; the
    input gradient, deeper windows and pointwise ones go through im2col and the GEMM."""
    window = windows.conv_window((8, 28, 28, 1), (5, 5, 1, 32), {"strides": [1, 1, 1, 1], "padding": "SAME"})

    def convolution(product, channels, k=5):
        return windows.Convolution((8, 28, 28, channels), (k, k, channels, 32), window, product, 4)

    assert convolution("forward", 1).direct and convolution("filter_gradient", 1).direct
    assert not convolution("input_gradient", 1).direct and not convolution("forward", 2).direct
    assert convolution("forward", 1).workspace_bytes == 0
    # the partial filters, each with a row for dy's column sums (a bias gradient summed on the way)
    assert convolution("filter_gradient", 1).workspace_bytes == (windows.FILTER_PARTITIONS - 1) * (25 + 1) * 32 * 4


def test_fusion_runs_bias_and_relu_as_the_convolutions_epilogue():
    x = tf.placeholder(tf.float32, [2, 6, 6, 3])
    conv = tf.nn.conv2d(x, tf.ones([3, 3, 3, 4]), [1, 1, 1, 1], "SAME")
    activation = tf.nn.relu(conv + tf.constant([1.0, 2.0, 3.0, 4.0]))
    per_image = conv * tf.fill([2, 1, 1, 4], 3.0)  # not a per-channel operand: vetoed, a loop kernel of its own
    program = run_pipeline(lower([activation, per_image], feed_types({x: np.zeros([2, 6, 6, 3])})).program)
    kinds = {program.kernels[inst.kernel]: [] for inst in program.instructions if inst.kernel is not None}
    for inst in program.instructions:
        if inst.kernel is not None:
            kinds[program.kernels[inst.kernel]].append(inst.op)
    assert kinds["conv"] == ["conv2d", "add", "relu"]
    assert kinds["loop"] == ["mul"]
