"""A convolution, its bias and ReLU, and the max-pool that reads them, in one kernel (issue 19).
passes/fuse.py's conv_max_pool kind, where the pool alone reads them: each image of the
convolution's result is computed into a block of the workspace, gets its epilogue there and is
pooled, so the memory plan has no buffer of the convolution's output. Its conv_then_max_pool kind,
where other kernels read them too (the ReLU fetched; in training, the gradients): the result is
written whole and each image pooled once its epilogue is done. Compiled against the reference
interpreter, bit for bit against the unfused path (the conv kernel alone, then the pool kernel on
its ReLU's values) and with 1 and 2 threads.
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
    whole = planned([pooled, relu], feeds)  # the ReLU fetched: written whole, pooled in the same kernel
    assert {whole.kernels[inst.kernel] for inst in whole.instructions if inst.op in ("conv2d", "max_pool")} == {
        "conv_then_max_pool"}
    alone = planned([relu], feeds)  # no pool: the conv kernel
    assert {alone.kernels[inst.kernel] for inst in alone.instructions if inst.op == "conv2d"} == {"conv"}
    relu_values_fed = tf.placeholder(dtype, relu.shape)
    pool = pooled.op
    pooled_alone = tf.nn.max_pool(relu_values_fed, pool.get_attr("ksize"), pool.get_attr("strides"),
                                  pool.get_attr("padding"))
    with tf.Session() as session:
        fused = session.run(pooled, feeds)
        whole_pooled, relu_values = session.run([pooled, relu], feeds)
        relu_alone = session.run(relu, feeds)  # the conv kernel
        unfused = session.run(pooled_alone, {relu_values_fed: relu_alone})  # the pool kernel
    np.testing.assert_array_equal(bits(relu_values), bits(relu_alone))
    np.testing.assert_array_equal(bits(fused), bits(unfused))
    np.testing.assert_array_equal(bits(whole_pooled), bits(unfused))
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


def training(case, dtype, seed=0):
    """(fetches, feeds, w): the loss of the pooled layer and its gradients as training computes them."""
    pooled, _, feeds = conv_relu_pool(case, dtype, seed)
    w = [t for t in feeds if t.shape.as_list() == list(case[1])][0]
    bias = [t for t in feeds if t.shape.as_list() == [case[1][-1]]][0]
    loss = tf.reduce_sum(pooled * pooled)
    return [pooled] + tf.gradients(loss, [w, bias]), feeds


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[4]], ids=["direct", "tiled", "tiled-masked"])
def test_in_training_the_result_is_written_whole_and_pooled_in_the_kernel(case):
    fetches, feeds = training(case, tf.float64)
    program = planned(fetches, feeds)
    (conv,) = [inst for inst in program.instructions if inst.op == "conv2d"]
    (pool,) = [inst for inst in program.instructions if inst.op == "max_pool"]
    assert program.kernels[conv.kernel] == "conv_then_max_pool" and pool.kernel == conv.kernel
    assert program.memory_plan.in_memory(pool.values[0].id)  # the ReLU, which the gradients read
    with tf.Session() as session:
        compiled = session.run(fetches, feeds)
    for value, expected in zip(compiled, interpret_graph(fetches, feeds)):
        np.testing.assert_allclose(value, expected, rtol=1e-11, atol=1e-11)


@pytest.fixture
def restore_threads():
    driver.load_runtime()
    yield
    loader.set_num_threads(0)


@pytest.mark.parametrize("case", [((16, 28, 28, 1), (5, 5, 1, 32), 1, "SAME", 2, 2, "SAME", "direct"),
                                  ((16, 14, 14, 32), (5, 5, 32, 64), 1, "SAME", 2, 2, "SAME", "tiled"),
                                  ((16, 28, 28, 32), (3, 3, 32, 64), 2, "SAME", 2, 2, "VALID", "tiled")],
                         ids=["deep-mnist-conv1", "deep-mnist-conv2", "tutorial-conv2"])
@pytest.mark.parametrize("train", [False, True], ids=["evaluation", "training"])
def test_one_and_two_threads_are_bit_identical(case, train, restore_threads):
    results = []
    for threads in (1, 2):
        loader.set_num_threads(threads)
        with tf.Graph().as_default():
            if train:
                fetches, feeds = training(case, tf.float32, seed=7)
            else:
                pooled, _, feeds = conv_relu_pool(case, tf.float32, seed=7)
                fetches = [pooled]
                fused_conv(planned(fetches, feeds))
            with tf.Session() as session:
                results.append(session.run(fetches, feeds))
    for one, two in zip(*results):
        np.testing.assert_array_equal(bits(one), bits(two))
