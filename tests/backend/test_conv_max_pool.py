"""A convolution, its bias and ReLU, and the max-pool that alone reads them, in one kernel
(passes/fuse.py's conv_max_pool kind, issue 19): each image of the convolution's result is
computed into a block of the workspace, gets its epilogue there and is pooled, so the
memory plan has no buffer of the convolution's output. Compiled against the reference
interpreter, and bit for bit against the unfused path (the same step with the ReLU's output
fetched too, which keeps the three kernels apart) and with 1 and 2 threads.
"""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.compiler.lower import lower
from graphc.core.windows import Convolution
from graphc.passes.pipeline import run_pipeline
from graphc.runtime import loader
from tests.helpers import feed_types, interpret_graph

# (x shape, filter shape, conv stride, conv padding, pool window, pool stride, pool padding, path):
# the direct path (K <= 32: a first layer) and register tiles (O >= 16), with pools that tile the image,
# overlap (3x3 stride 2), leave rows and columns out (VALID, windows that do not tile) and need padding
# (SAME over an odd image); 20 output channels leave a masked vector.
CASES = [
    ((3, 12, 12, 1), (5, 5, 1, 8), 1, "SAME", 2, 2, "SAME", "direct"),
    ((2, 11, 13, 1), (3, 3, 1, 5), 1, "SAME", 3, 2, "SAME", "direct"),
    ((2, 15, 15, 2), (3, 3, 2, 7), 2, "VALID", 2, 2, "SAME", "direct"),
    ((2, 10, 10, 16), (3, 3, 16, 32), 1, "SAME", 2, 2, "SAME", "tiled"),
    ((2, 9, 9, 16), (3, 3, 16, 20), 1, "VALID", 3, 2, "VALID", "tiled"),
    ((1, 14, 14, 8), (5, 5, 8, 16), 2, "SAME", 3, 3, "VALID", "tiled"),
]


def bits(array):
    array = np.ascontiguousarray(array)
    return array.view(np.uint32 if array.dtype == np.float32 else np.uint64)


def conv_relu_pool(case, dtype, seed=0):
    """(pooled, relu, feeds): max_pool(relu(conv2d(x, w) + bias)), as a CNN's layer builds it."""
    x_shape, w_shape, stride, padding, k, pool_stride, pool_padding, _ = case
    rng = np.random.RandomState(seed)
    x, w = tf.placeholder(dtype, x_shape), tf.placeholder(dtype, w_shape)
    bias = tf.placeholder(dtype, w_shape[-1:])
    relu = tf.nn.relu(tf.nn.conv2d(x, w, [1, stride, stride, 1], padding) + bias)
    pooled = tf.nn.max_pool(relu, [1, k, k, 1], [1, pool_stride, pool_stride, 1], pool_padding)
    feeds = {x: rng.randn(*x_shape), w: rng.randn(*w_shape) * 0.3, bias: rng.randn(w_shape[-1]) * 0.5 - 0.5}
    return pooled, relu, feeds


def planned(fetches, feeds):
    return run_pipeline(lower(fetches, feed_types(feeds)).program)


def fused_conv(program):
    """The program's conv2d instruction, asserting that it is the anchor of a conv_max_pool kernel."""
    (conv,) = [inst for inst in program.instructions if inst.op == "conv2d"]
    (pool,) = [inst for inst in program.instructions if inst.op == "max_pool"]
    assert program.kernels[conv.kernel] == "conv_max_pool" and pool.kernel == conv.kernel
    return conv


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[-1]}-{c[4]}x{c[4]}s{c[5]}{c[6]}-{c[3]}{c[2]}" for c in CASES])
def test_the_fused_pool_matches_the_reference_and_the_unfused_path_bit_for_bit(case, dtype):
    pooled, relu, feeds = conv_relu_pool(case, dtype)
    program = planned([pooled], feeds)
    conv = fused_conv(program)
    path = Convolution.forward(conv)
    assert (path.direct, path.tiled) == (case[-1] == "direct", case[-1] == "tiled")
    plan = program.memory_plan
    (relu_inst,) = [inst for inst in program.instructions if inst.op == "relu"]
    assert not plan.in_memory(conv.result.id) and not plan.in_memory(relu_inst.result.id)  # no buffer of either
    assert conv.result.id in plan.workspaces  # the blocks
    unfused_program = planned([pooled, relu], feeds)
    assert "conv_max_pool" not in unfused_program.kernels.values()
    with tf.Session() as session:
        fused = session.run(pooled, feeds)
        unfused, relu_values = session.run([pooled, relu], feeds)
    np.testing.assert_array_equal(bits(fused), bits(unfused))
    reference = interpret_graph([pooled], feeds)[0]
    np.testing.assert_allclose(fused, reference, rtol=1e-5 if dtype == tf.float32 else 1e-12, atol=1e-6)
    assert (relu_values == 0).any() and (fused > 0).any()  # the ReLU's boundary was crossed


def test_the_im2col_path_keeps_its_kernels_apart_and_is_right():
    case = ((2, 8, 8, 8), (3, 3, 8, 4), 1, "SAME", 2, 2, "SAME", "im2col")  # K = 72, O = 4: neither path
    pooled, _, feeds = conv_relu_pool(case, tf.float32)
    program = planned([pooled], feeds)
    assert "conv_max_pool" not in program.kernels.values()
    with tf.Session() as session:
        compiled = session.run(pooled, feeds)
    np.testing.assert_allclose(compiled, interpret_graph([pooled], feeds)[0], rtol=1e-5, atol=1e-6)


def test_training_reads_the_relu_so_the_pool_stays_a_kernel_of_its_own():
    pooled, _, feeds = conv_relu_pool(CASES[0], tf.float32)
    w = [t for t in feeds if t.shape.as_list() == list(CASES[0][1])][0]
    loss = tf.reduce_sum(pooled * pooled)
    program = planned([loss] + tf.gradients(loss, [w]), feeds)
    assert "conv_max_pool" not in program.kernels.values()
    (conv,) = [inst for inst in program.instructions if inst.op == "conv2d"]
    assert program.kernels[conv.kernel] == "conv"


@pytest.fixture
def restore_threads():
    driver.load_runtime()
    yield
    loader.set_num_threads(0)


@pytest.mark.parametrize("case", [((16, 28, 28, 1), (5, 5, 1, 32), 1, "SAME", 2, 2, "SAME", "direct"),
                                  ((16, 14, 14, 32), (5, 5, 32, 64), 1, "SAME", 2, 2, "SAME", "tiled")],
                         ids=["deep-mnist-conv1", "deep-mnist-conv2"])
def test_one_and_two_threads_are_bit_identical(case, restore_threads):
    results = []
    for threads in (1, 2):
        loader.set_num_threads(threads)
        with tf.Graph().as_default():
            pooled, _, feeds = conv_relu_pool(case, tf.float32, seed=7)
            fused_conv(planned([pooled], feeds))
            with tf.Session() as session:
                results.append(session.run(pooled, feeds))
    np.testing.assert_array_equal(bits(results[0]), bits(results[1]))
