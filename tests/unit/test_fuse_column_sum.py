"""Fusion of a bias gradient into the direct or register-tiled filter gradient (passes/fuse.py,
OpDef.column_sum): the sum of dy over all axes but the last joins the kernel of the conv2d_backprop_filter
that reads the same dy, with the optimizer's update of the bias as its epilogue; other sums and the
im2col filter gradient do not."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler.lower import lower
from graphc.core.windows import Convolution
from graphc.passes.pipeline import run_pipeline
from tests.helpers import feed_types


def conv_bias_relu(x_shape, w_shape, stride=1, padding="SAME", dtype=np.float32):
    """(loss, w, b, feeds) of sum(relu(conv2d(x, w) + b) * c): a first layer as a CNN builds it."""
    rng = np.random.RandomState(0)
    x = tf.placeholder(tf.as_dtype(dtype), x_shape)
    w, b = tf.Variable(rng.randn(*w_shape).astype(dtype)), tf.Variable(np.zeros(w_shape[-1], dtype))
    y = tf.nn.relu(tf.nn.conv2d(x, w, [1, stride, stride, 1], padding) + b)
    loss = tf.reduce_sum(y * tf.constant(rng.randn(*y.shape.as_list()).astype(dtype)))
    return loss, w, b, {x: rng.randn(*x_shape).astype(dtype)}


def fused(fetches, feeds):
    return run_pipeline(lower(fetches, feed_types(feeds)).program)


def kernel_of(program, op):
    (inst,) = [inst for inst in program.instructions if inst.op == op]
    return inst.kernel


@pytest.mark.parametrize("images, filters, path", [
    ([4, 12, 12, 1], [3, 3, 1, 32], "direct"),
    ([2, 10, 10, 16], [3, 3, 16, 32], "tiled"),  # K = 144: register-tiled, not direct
])
def test_the_bias_sum_joins_the_filter_gradient(images, filters, path):
    loss, w, b, feeds = conv_bias_relu(images, filters)
    program = fused(tf.gradients(loss, [w, b]), feeds)
    gradient = [inst for inst in program.instructions if inst.op == "conv2d_backprop_filter"][0]
    assert getattr(Convolution.filter_gradient(gradient), path)
    kernel = kernel_of(program, "reduce_sum")
    assert program.kernels[kernel] == "conv_filter_gradient_sum" and gradient.kernel == kernel


def test_with_adam_the_bias_update_is_its_epilogue():
    loss, w, b, feeds = conv_bias_relu([2, 9, 9, 1], [5, 5, 1, 20])
    train = tf.train.AdamOptimizer(0.01).minimize(loss)
    program = fused([train], feeds)
    kernel = kernel_of(program, "reduce_sum")
    assert program.kernels[kernel] == "conv_filter_gradient_sum"
    members = [inst for inst in program.instructions if inst.kernel == kernel]
    written = {inst.operands[0].name for inst in members if inst.op == "write"}
    assert written == {b.op.name, b.op.name + "/Adam", b.op.name + "/Adam_1"}  # the bias's update, in the kernel
    assert [inst.op for inst in members].count("conv2d_backprop_filter") == 1


def test_a_filter_gradient_through_im2col_keeps_its_own_kernel():
    loss, w, b, feeds = conv_bias_relu([2, 10, 10, 8], [3, 3, 8, 32])  # K = 72, 8 lanes of 16: the GEMM
    program = fused(tf.gradients(loss, [w, b]), feeds)
    gradient = [inst for inst in program.instructions if inst.op == "conv2d_backprop_filter"][0]
    assert not Convolution.filter_gradient(gradient).direct and not Convolution.filter_gradient(gradient).tiled
    assert program.kernels[kernel_of(program, "reduce_sum")] == "reduce"
    assert program.kernels[kernel_of(program, "conv2d_backprop_filter")] == "opaque"


def sum_then_filter_gradient(axes):
    """The kind of the kernel of reduce_sum(dy, axes), built before the filter gradient reading dy."""
    rng = np.random.RandomState(1)
    with tf.Graph().as_default():
        x, dy = tf.placeholder(tf.float32, [2, 8, 8, 1]), tf.placeholder(tf.float32, [2, 8, 8, 4])
        total = tf.reduce_sum(dy, axes)
        dw = tf.nn.conv2d_backprop_filter(x, [3, 3, 1, 4], dy, [1, 1, 1, 1], "SAME")
        program = fused([total, dw], {x: rng.randn(2, 8, 8, 1), dy: rng.randn(2, 8, 8, 4)})
        return program.kernels[kernel_of(program, "reduce_sum")]


def test_only_a_sum_over_all_axes_but_the_last_joins():
    assert sum_then_filter_gradient([0, 1, 2]) == "conv_filter_gradient_sum"
    assert sum_then_filter_gradient([-4, -3, -2]) == "conv_filter_gradient_sum"
    assert sum_then_filter_gradient([1, 2]) == "reduce"  # per image: not one row of sums
    assert sum_then_filter_gradient([0, 1, 2, 3]) == "reduce"
