"""Mismatches the fuzzer found, pinned as plain tests (each was a compiler bug, now fixed)."""

import numpy as np
import pytest

import graphc as tf
from graphc.frontend.graph import apply_op
from tests.helpers import interpret_graph


def assert_matches_reference(fetches, feeds):
    compiled = tf.Session().run(fetches, feeds)
    for tensor, c, r in zip(fetches, compiled, interpret_graph(fetches, feeds)):
        np.testing.assert_allclose(c, r, rtol=1e-6, equal_nan=True, err_msg=tensor.name)


@pytest.mark.parametrize("shape", [(3, 0), (2, 3, 0)])
def test_reductions_over_an_empty_last_axis_compile(shape):
    # A [rows, 0] region took the short-rows path, whose period lcm(0, lanes) = 0 divided by zero.
    x = tf.placeholder(tf.float32, shape)
    assert_matches_reference([tf.reduce_sum(x, -1), tf.reduce_max(x, -1), tf.reduce_mean(x * 2.0, -1)],
                             {x: np.ones(shape)})


def test_softmax_of_rows_without_classes_and_its_gradient_compile():
    # Unrolled rows of zero chunks started their sum from chunks[0]: IndexError at compile time.
    x = tf.placeholder(tf.float64, [2, 3, 0])
    y = tf.nn.softmax(x)
    assert_matches_reference([y, tf.nn.log_softmax(x), tf.gradients(tf.reduce_sum(y * 2.0), x)[0]],
                             {x: np.ones((2, 3, 0))})


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_log_softmax_keeps_precision_for_huge_logits(dtype):
    # x - (max + log(total)) rounded log(total) away: [1e30, 1e30] gave [0, 0], not [-log 2, -log 2].
    x = tf.placeholder(dtype, [2, 3])
    values = np.array([[1e30, 1.0, 1e30], [3e4, 3e4 + 1, -2.0]])
    assert_matches_reference([tf.nn.log_softmax(x)], {x: values})


def test_integer_mean_over_an_empty_axis_with_no_output_is_not_a_division_by_zero():
    # The reference raised "Integer division by zero" although no element is divided (TF returns
    # an empty tensor); the compiled step was right.
    x = tf.placeholder(tf.int32, [None, None, None])
    assert_matches_reference([tf.reduce_mean(x, 1), tf.reduce_mean(x, [1, 2], keepdims=True)],
                             {x: np.zeros((0, 0, 3), np.int32)})
    # With output elements, the integer mean of nothing is 0, as TF 2.21 gives (not a division by zero).
    assert_matches_reference([tf.reduce_mean(x, 1)], {x: np.zeros((2, 0, 3), np.int32)})
    assert tf.Session().run(tf.reduce_mean(x, 1), {x: np.zeros((2, 0, 3), np.int32)}).tolist() == [[0, 0, 0]] * 2


def test_padding_a_scalar_and_its_gradient():
    # The reference handed NumPy an empty float paddings list (TypeError), and the gradient sliced
    # a [0]-shaped paddings tensor as if it were [0, 2] (ValueError while building).
    x = tf.placeholder(tf.float64, [])
    y = tf.pad(x * 3.0, [])
    assert_matches_reference([y, tf.gradients(y * 2.0, x)[0]], {x: 1.5})


def test_conv_reference_rounds_overflowing_products_beside_a_nan():
    # A NaN elsewhere in the input made the reference's overflow check (a max) NaN, so it summed exact
    # float64 products: 1e30 * -1e30 + (-1.65) * -inf was inf, where float32 products (graphc, TF) give
    # -inf + inf = NaN.
    x = np.zeros((1, 4, 1, 2), np.float32)
    x[0, 0, 0, 1], x[0, 2, 0, 0], x[0, 3, 0, 0] = 1e30, -1.65, np.nan
    w = np.zeros((3, 1, 2, 1), np.float32)
    w[0, 0, 1, 0], w[2, 0, 0, 0] = -1e30, -np.inf
    images = tf.placeholder(tf.float32, x.shape)
    out = tf.nn.conv2d(images, tf.constant(w), [1, 1, 1, 1], "VALID")
    assert_matches_reference([out], {images: x})
    assert np.isnan(interpret_graph([out], {images: x})[0]).all()


def test_matmul_reference_rounds_overflowing_products():
    # The reference summed exact float64 products: 5e37 * 1e30 + -inf * 1e30 was -inf, where float32
    # products (the GEMM, TF) are inf + -inf = NaN.
    a = np.array([[5e37, -np.inf, 1.0]], np.float32)
    b = np.array([[1e30], [1e30], [2.0]], np.float32)
    x, y = tf.placeholder(tf.float32, [1, 3]), tf.placeholder(tf.float32, [3, 1])
    out = tf.matmul(x, y)
    assert_matches_reference([out], {x: a, y: b})
    assert np.isnan(interpret_graph([out], {x: a, y: b})[0]).all()


def test_select_gradient_broadcasts_as_its_op_did():
    # The gradient went through tf.where, whose row select took a condition of unknown length for one
    # choice per row: Select of [0, 1, 1] against [2, 0, 0] failed where the forward op had broadcast.
    c, x = tf.placeholder(tf.bool, [None]), tf.placeholder(tf.float64, [2, None, None])
    y = apply_op("select", [c, x, x * 2.0])
    grads = tf.gradients(tf.reduce_sum(y * y), x)
    assert_matches_reference([y, grads[0]], {c: np.zeros(0, bool), x: np.zeros((2, 0, 0))})
    assert_matches_reference([y, grads[0]], {c: [True, False, True], x: np.ones((2, 2, 3))})


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_small_batched_products_keep_the_sign_of_a_zero_sum(dtype):
    # The plain product loop summed from +0.0: 2 * -0.0 gave 0.0 where TF and the 2-D GEMM give -0.0.
    # An empty sum (k = 0) stays +0.0.
    a, b = tf.placeholder(dtype, [2, 1, 3]), tf.placeholder(dtype, [2, 2, 3])
    product = tf.Session().run(tf.matmul(a, b, adjoint_b=True), {a: np.ones((2, 1, 3)), b: -np.zeros((2, 2, 3))})
    assert np.all(product == 0) and np.all(np.signbit(product))
    a, b = tf.placeholder(dtype, [2, 1, 0]), tf.placeholder(dtype, [2, 0, 3])
    empty = tf.Session().run(tf.matmul(a, b), {a: np.ones((2, 1, 0)), b: np.ones((2, 0, 3))})
    assert np.all(empty == 0) and not np.any(np.signbit(empty))


def test_cumsum_reference_is_exact_where_long_double_is_not():
    # The long-double running sum of [1e300, 1, -1e300] lost the 1; the compensated kernel keeps it.
    x = tf.placeholder(tf.float64, [3])
    compiled, reference = tf.Session().run(tf.cumsum(x), {x: [1e300, 1.0, -1e300]}), \
        interpret_graph([tf.cumsum(x)], {x: np.array([1e300, 1.0, -1e300])})[0]
    np.testing.assert_array_equal(reference, [1e300, 1e300, 1.0])
    np.testing.assert_array_equal(compiled, reference)


@pytest.mark.parametrize("shape, indices, axis", [((0, 0, 0), [[1, 2]], 0), ((3, 0), [5], 0), ((0, 3), [5], 1)])
def test_gather_into_an_empty_result_checks_no_index(shape, indices, axis):
    # TF copies nothing and checks nothing (tf.gather(zeros([3, 0]), [5]) is a [1, 0] tensor); graphc raised
    # InvalidArgumentError, also in unsorted_segment_sum's gradient of empty data.
    params = tf.placeholder(tf.float32, shape)
    gathered = tf.gather(params, tf.constant(indices), axis=axis)
    assert_matches_reference([gathered], {params: np.zeros(shape, np.float32)})


def test_gather_nd_into_params_with_no_element_raises_tensorflows_error():
    # TF refuses index tuples into params of no element even when each tuple's slice is empty; graphc returned
    # the empty result (found by make fuzz-tf).
    params, indices = tf.placeholder(tf.float32, [5, 0, 3]), tf.placeholder(tf.int32, [2, 1])
    message = r"Requested more than 0 entries, but params is empty.  Params shape: \[5,0,3\]"
    feeds = {params: np.zeros((5, 0, 3), np.float32), indices: [[1], [2]]}
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        tf.Session().run(tf.gather_nd(params, indices), feeds)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        interpret_graph([tf.gather_nd(params, indices)], feeds)


def test_bias_add_gradient_of_a_tensor_of_unknown_rank():
    # The bias's gradient summed over range(rank - 1): a ValueError when building the gradient of a tensor of
    # unknown rank (TF's BiasAddGrad takes it); now it sums the rows of the last axis.
    x, bias = tf.placeholder(tf.float32, None), tf.constant([1.0, 2.0, 3.0])
    y = tf.nn.bias_add(x, bias)
    values = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    assert_matches_reference(tf.gradients(tf.reduce_sum(y * y), [x, bias]), {x: values})


def test_an_elementwise_op_after_a_shape_keeping_reduction_reads_no_register_value():
    # reduce_prod over an axis of size 1 keeps its input's shape, so sin(m) of the same shape joined its kernel
    # as the epilogue (a second pass, over the result) and read m, which the first pass keeps in registers:
    # AssertionError at compile time (fuzz-tf, gradients float64).
    a, b = tf.placeholder(tf.float64, [1]), tf.placeholder(tf.float64, [])
    m = tf.maximum(a, b)
    loss = tf.reduce_sum(tf.reduce_prod(tf.floor(m), [0], keepdims=True)) + tf.reduce_sum(tf.sin(m))
    assert_matches_reference([loss] + tf.gradients(loss, [a, b]), {a: np.array([0.3]), b: np.float64(-0.2)})


def test_a_batch_matmul_product_that_overflows_float32_is_rounded_first():
    # -5e37 * 1e30 is -inf in float32 (the kernels, TF), so with -0.87 * -inf = +inf the sum is NaN; the
    # reference summed exact float64 products and said +inf (fuzz-tf, values float32).
    a, b = tf.placeholder(tf.float32, [2, 1, 3]), tf.placeholder(tf.float32, [3, 2])
    y = tf.matmul(a, b)
    values = {a: np.array([[[-5e37, -0.87, 1.0]], [[1.0, 2.0, 3.0]]], np.float32),
              b: np.array([[1e30, 1.0], [-np.inf, 1.0], [2.0, 1.0]], np.float32)}
    (reference,) = interpret_graph([y], values)
    assert np.isnan(reference[0, 0, 0]) and reference[1, 0, 1] == 6.0
    assert_matches_reference([y], values)


def test_a_float32_product_with_a_zero_is_not_nan_when_partial_products_overflow():
    # 5e37 * -100 * ... overflows float32 before the -0.0 comes in, and 0 * inf is NaN; the product is -0.0
    # (fuzz, values float32). graphc multiplies float32 in float64, as its reference does.
    x = tf.placeholder(tf.float32, [4, 3])
    values = np.array([[-0.0, 5e37, -1.83], [-0.87, 0.84, -0.4], [0.54, -0.46, 1.13], [-100.0, -1.76, 1.02]],
                      np.float32)
    (product,) = tf.Session().run([tf.reduce_prod(x, [0, 1], keepdims=True)], {x: values})
    assert product[0, 0] == 0.0 and np.signbit(product[0, 0])
    assert_matches_reference([tf.reduce_prod(x, [0]), tf.reduce_prod(x * 2.0, [1])], {x: values})


def test_an_activation_gradient_of_a_relu_takes_the_relu_s_zero_signs():
    """EluGrad(relu(x), y) passes relu's zeros on: their sign is TF's place-dependent one (a TF-oracle fuzz
    run found TF's -0.0 from a 21-element relu's tail against graphc's 0.0), not compared."""
    from tests.fuzz.oracle import _zero_sign_from

    x, y = tf.placeholder(tf.float32, [3, 7]), tf.placeholder(tf.float32, [3, 7])
    relu = tf.nn.relu(x)
    assert _zero_sign_from(apply_op("elu_grad", [relu, y])) == "Relu"
    assert _zero_sign_from(apply_op("elu_grad", [y, relu])) == "Placeholder"  # relu decides the branch: y's signs count
    assert _zero_sign_from(apply_op("relu_grad", [relu, y])) == "ReluGrad"  # its zeros may be its own +0.0
