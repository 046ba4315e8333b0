"""Fused GEMM and convolution kernels (forward and input gradient) whose epilogue (bias add, ReLU; a
ReLU gradient) writes its value into the product's own buffer (OpDef.epilogue_in_place,
passes/shared_storage.py), compiled: the values equal the reference interpreter's, and are bit-identical
to the same kernel writing a buffer of its own (the product fetched too, so the plan cannot overwrite
it). Every path of the three kernels: the blocked GEMM and the small products' loop nest; direct,
register-tiled, im2col and pointwise convolutions and input gradients."""

import numpy as np
import pytest

import graphc as tf
from graphc.backend.kernels.matmul import SMALL_GEMM_MACS
from graphc.compiler.lower import lower
from graphc.core.windows import Convolution
from graphc.ir.memory_plan import Place
from graphc.ir.program import walk
from graphc.passes.pipeline import run_pipeline
from tests.helpers import feed_types, interpret_graph

rng = np.random.RandomState(19)

# (image [N, H, W, C], filter [KH, KW, C, O], strides): one shape per convolution kernel (kernels/conv.py).
CONVOLUTIONS = {
    "direct": ([3, 12, 12, 1], [5, 5, 1, 32], 1),      # K = 25: taps gathered into registers
    "tiled": ([2, 10, 10, 16], [3, 3, 16, 32], 1),     # a padded image that fits the L2: register tiles
    "im2col": ([2, 96, 96, 24], [3, 3, 24, 16], 2),    # larger: a GEMM over im2col chunks
    "pointwise": ([2, 9, 9, 8], [1, 1, 8, 16], 1),     # x is the im2col matrix
}
# (M, K, N, transpose_b): the blocked GEMM library (with its epilogue callback) and the small loop nest.
PRODUCTS = {"blocked": (96, 80, 72, False), "blocked_bt": (50, 64, 130, True), "small": (8, 6, 4, False)}


def _graph(kind: str, name: str):
    """(the kernel's product, its epilogue's ReLU read by a transpose, the feeds)."""
    if kind == "conv":
        image, kernel, stride = CONVOLUTIONS[name]
        x, w, b = (tf.placeholder(tf.float32, shape) for shape in (image, kernel, [kernel[-1]]))
        product = tf.nn.conv2d(x, w, [1, stride, stride, 1], "SAME")
        perm = [0, 3, 1, 2]
        feeds = {x: rng.normal(size=image), w: rng.normal(size=kernel) * 0.2, b: rng.normal(size=kernel[-1])}
    else:
        m, k, n, transpose_b = PRODUCTS[name]
        x, w, b = (tf.placeholder(tf.float32, shape) for shape in ([m, k], [n, k] if transpose_b else [k, n], [n]))
        product = tf.matmul(x, w, transpose_b=transpose_b)
        perm = [1, 0]
        feeds = {x: rng.normal(size=[m, k]), w: rng.normal(size=w.shape.as_list()) * 0.2, b: rng.normal(size=n)}
    # A transpose is a kernel of its own that copies exactly: the ReLU goes through memory, in place.
    out = tf.transpose(tf.nn.relu(product + b), perm)
    return product, out, {t: v.astype(np.float32) for t, v in feeds.items()}


def _path(anchor) -> str:
    """Which code the fused kernel runs for its product."""
    if anchor.op == "matmul":
        m, n = anchor.result.type.shape
        k = anchor.values[0].type.shape[1]
        return ("blocked_bt" if anchor.attrs["transpose_b"] else "blocked") if m * n * k >= SMALL_GEMM_MACS else "small"
    convolution = Convolution.forward(anchor)
    return ("pointwise" if convolution.window.pointwise else "direct" if convolution.direct else
            "tiled" if convolution.tiled else "im2col")


CASES = [("conv", name) for name in CONVOLUTIONS] + [("gemm", name) for name in PRODUCTS]


@pytest.mark.parametrize("kind, name", CASES)
def test_the_epilogue_in_the_products_buffer_equals_the_reference_and_a_buffer_of_its_own(kind, name):
    with tf.Graph().as_default():
        product, out, feeds = _graph(kind, name)
        program = run_pipeline(lower([out], feed_types(feeds)).program)
        (anchor,) = [inst for inst in walk(program.instructions) if inst.op in ("conv2d", "matmul")]
        (relu,) = [inst for inst in walk(program.instructions) if inst.op == "relu"]
        assert _path(anchor) == name
        plan = program.memory_plan
        assert plan.locations[relu.result.id].place is Place.ARENA
        assert plan.locations[relu.result.id] == plan.locations[anchor.result.id]  # in place
        with tf.Session() as session:
            in_place = session.run(out, feeds)
            own_buffer, _ = session.run([out, product], feeds)  # the product fetched: not overwritten
        reference, = interpret_graph([out], feeds)
    np.testing.assert_array_equal(in_place, own_buffer)
    np.testing.assert_allclose(in_place, reference, rtol=1e-4, atol=1e-4)
    assert (in_place > 0).any() and (in_place == 0).any()  # the ReLU did cut


@pytest.mark.parametrize("kind, name", [("conv", "direct"), ("conv", "tiled"), ("gemm", "blocked"), ("gemm", "small")])
def test_a_fetched_epilogue_value_with_the_product_in_its_output_buffer(kind, name):
    with tf.Graph().as_default():
        product, out, feeds = _graph(kind, name)
        activation = out.op.inputs[0]  # the ReLU, fetched: the product is computed in its output buffer
        program = run_pipeline(lower([activation], feed_types(feeds)).program)
        (anchor,) = [inst for inst in walk(program.instructions) if inst.op in ("conv2d", "matmul")]
        assert program.memory_plan.locations[anchor.result.id].place is Place.OUTPUT
        with tf.Session() as session:
            in_output = session.run(activation, feeds)
            own_buffer, _ = session.run([activation, product], feeds)
        reference, = interpret_graph([activation], feeds)
    np.testing.assert_array_equal(in_output, own_buffer)
    np.testing.assert_allclose(in_output, reference, rtol=1e-4, atol=1e-4)


# (image [N, H, W, C], filter, strides): one shape per input-gradient path (kernels/conv.py).
INPUT_GRADIENTS = {
    "tiled": ([2, 10, 10, 16], [3, 3, 16, 32], 1),     # register tiles, an image at a time
    "tiled_stride": ([2, 12, 12, 32], [3, 3, 32, 8], 2),  # the CNN's second layer's shape, smaller
    "im2col": ([2, 96, 96, 24], [3, 3, 24, 16], 2),    # GEMM chunks of whole images, then col2im
    "pointwise": ([2, 9, 9, 8], [1, 1, 8, 16], 1),     # one GEMM: the epilogue on its blocks
}


def _input_gradient_path(anchor) -> str:
    convolution = Convolution.input_gradient(anchor)
    return "pointwise" if convolution.window.pointwise else "tiled" if convolution.tiled else "im2col"


@pytest.mark.parametrize("name", INPUT_GRADIENTS)
def test_the_relu_gradient_below_a_convolution_runs_in_its_input_gradients_kernel(name):
    """relu(x) -> conv2d: x's gradient is ReluGrad(Conv2DBackpropInput(w, dy), relu(x)), the ReLU
    gradient computed on each finished image of dx, in dx's own buffer."""
    image, kernel, stride = INPUT_GRADIENTS[name]
    with tf.Graph().as_default():
        x, w = tf.placeholder(tf.float32, image), tf.placeholder(tf.float32, kernel)
        activation = tf.nn.relu(x)
        y = tf.nn.conv2d(activation, w, [1, stride, stride, 1], "SAME")
        dy = tf.placeholder(tf.float32, y.shape)
        d_x = tf.gradients(y, x, grad_ys=dy)[0]
        d_activation = d_x.op.inputs[0]  # the ReLU gradient's operand: the input gradient, dx
        feeds = {x: rng.normal(size=image), w: rng.normal(size=kernel) * 0.2, dy: rng.normal(size=y.shape.as_list())}
        feeds = {t: v.astype(np.float32) for t, v in feeds.items()}
        program = run_pipeline(lower([d_x], feed_types(feeds)).program)
        (anchor,) = [inst for inst in walk(program.instructions) if inst.op == "conv2d_backprop_input"]
        (relu_grad,) = [inst for inst in walk(program.instructions) if inst.op == "relu_grad"]
        assert _input_gradient_path(anchor) == name.split("_")[0]
        assert program.kernels[anchor.kernel] == "conv_input_gradient" and relu_grad.kernel == anchor.kernel
        plan = program.memory_plan
        assert plan.locations[relu_grad.result.id] == plan.locations[anchor.result.id]  # in place
        with tf.Session() as session:
            in_place = session.run(d_x, feeds)
            own_buffer, _ = session.run([d_x, d_activation], feeds)  # dx fetched: not overwritten
        reference, = interpret_graph([d_x], feeds)
    np.testing.assert_array_equal(in_place.view(np.uint32), own_buffer.view(np.uint32))
    np.testing.assert_allclose(in_place, reference, rtol=1e-4, atol=1e-4)
    assert (in_place != 0).any() and (in_place == 0).any()  # the mask did cut
