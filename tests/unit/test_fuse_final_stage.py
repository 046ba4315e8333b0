"""A max-pool ending its convolution's kernel (passes/fuse.py, OpDef.final_stage): with the result in
blocks (conv_max_pool) when the pool alone reads the kernel's values, written whole (conv_then_max_pool)
when other kernels read them too (a fetch; in training, the gradients), and not at all when the value the
pool reads would have no buffer or the convolution is not computed an image at a time."""

import numpy as np

import graphc as tf
from graphc.compiler.lower import lower
from graphc.passes.pipeline import run_pipeline
from tests.helpers import feed_types


def layer(x_shape, w_shape, stride=1):
    """(x, w, pre-activation, relu, pooled, feeds) of a CNN's layer: conv, bias, ReLU, 2x2 max-pool."""
    rng = np.random.RandomState(0)
    x, w = tf.placeholder(tf.float32, x_shape), tf.Variable(rng.randn(*w_shape).astype(np.float32))
    biased = tf.nn.conv2d(x, w, [1, stride, stride, 1], "SAME") + tf.Variable(np.zeros(w_shape[-1], np.float32))
    relu = tf.nn.relu(biased)
    pooled = tf.nn.max_pool(relu, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    return x, w, biased, relu, pooled, {x: rng.randn(*x_shape).astype(np.float32)}


def kinds(fetches, feeds):
    """(program, the kind of the conv2d's kernel, whether the max-pool is in that kernel)."""
    program = run_pipeline(lower(fetches, feed_types(feeds)).program)
    (conv,) = [inst for inst in program.instructions if inst.op == "conv2d"]
    (pool,) = [inst for inst in program.instructions if inst.op == "max_pool"]
    return program, program.kernels[conv.kernel], pool.kernel == conv.kernel


TILED = ([4, 28, 28, 32], [3, 3, 32, 64], 2)  # the tutorial CNN's second layer
DIRECT = ([4, 28, 28, 1], [5, 5, 1, 32], 1)  # Deep MNIST's first


def test_a_pool_alone_reading_the_relu_keeps_the_result_in_blocks():
    for case in (TILED, DIRECT):
        with tf.Graph().as_default():
            _, _, _, _, pooled, feeds = layer(*case)
            assert kinds([pooled], feeds)[1:] == ("conv_max_pool", True)


def test_in_training_the_result_is_written_whole_and_pooled_in_the_kernel():
    for case in (TILED, DIRECT):
        with tf.Graph().as_default():
            _, _, _, relu, pooled, feeds = layer(*case)
            train = tf.train.AdamOptimizer(0.01).minimize(tf.reduce_sum(pooled * pooled))
            program, kind, joined = kinds([train], feeds)
            assert (kind, joined) == ("conv_then_max_pool", True)
            (relu_inst,) = [inst for inst in program.instructions if inst.op == "relu"]
            assert program.memory_plan.in_memory(relu_inst.result.id)  # the gradients read it


def test_a_fetched_relu_is_written_whole():
    _, _, _, relu, pooled, feeds = layer(*TILED)
    assert kinds([pooled, relu], feeds)[1:] == ("conv_then_max_pool", True)


def test_the_pool_keeps_its_own_kernel_when_its_operand_would_live_in_the_kernel_alone():
    _, _, biased, _, pooled, feeds = layer(*TILED)  # the bias add fetched, the ReLU read by the pool alone
    _, kind, joined = kinds([pooled, biased], feeds)
    assert (kind, joined) == ("conv", False)


def test_the_im2col_path_keeps_the_pool_apart():
    _, _, _, _, pooled, feeds = layer([2, 8, 8, 8], [3, 3, 8, 4])  # K = 72, O = 4: neither direct nor tiled
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(pooled))
    assert kinds([train], feeds)[1:] == ("conv", False)
