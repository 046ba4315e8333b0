"""Edge values (issue 12, item 7, and what `make fuzz-tf` found): each gives TensorFlow 2.21's
answer, compiled and in the reference interpreter. TF's answers are pinned as literals below; when
TensorFlow is installed, `test_tensorflow_gives_the_pinned_answers` also asks it (tests/tf_oracle.py).

Every case is `case(tf) -> (fetches, feeds)`, written once against the TF1 API, so the
same function builds the graph in graphc and, in a child process, in TensorFlow.
"""

import json
import re

import numpy as np
import pytest

import graphc
from tests.helpers import interpret_graph
from tests.tf_oracle import tensorflow_answers

NAN, INF = float("nan"), float("inf")
F32_LOWEST = float(np.finfo(np.float32).min)
I32_MIN, I64_MIN = -2 ** 31, -2 ** 63


def rsqrt_of_signed_zeros(tf):
    values = [-0.0, 0.0, -1.0, INF, -INF, NAN]
    x32, x64 = tf.placeholder(tf.float32, [6]), tf.placeholder(tf.float64, [6])
    return [tf.rsqrt(x32), tf.rsqrt(x64)], {x32: values, x64: values}


ARG_ROWS = [[1, NAN, 3, NAN], [NAN, 5, 1, 2], [1, 2, 3, NAN], [INF, NAN, 1, 2], [-INF, 0, NAN, 9]]


def arg_extrema_with_nan(tf):
    x32, x64 = tf.placeholder(tf.float32, [5, 4]), tf.placeholder(tf.float64, [5, 4])
    pair = tf.placeholder(tf.float32, [3, 2])
    fetches = [f(x, axis) for x in (x32, x64) for f in (tf.argmax, tf.argmin) for axis in (1, 0)]
    fetches += [tf.argmax(pair, 1), tf.argmin(pair, 1)]
    return fetches, {x32: ARG_ROWS, x64: ARG_ROWS, pair: [[NAN, -INF], [NAN, NAN], [-INF, -INF]]}


POOL_WINDOWS = [[1, 2, NAN, 4], [NAN, 1, 2, 3], [1, 2, 3, NAN], [5, NAN, 1, 2], [-INF, NAN, -INF, -INF],
                [NAN, NAN, NAN, NAN], [-INF, -INF, -INF, -INF], [-INF, NAN, -5, NAN], [NAN, -INF, NAN, -INF]]


def max_pool_windows_with_nan(tf):
    """Each 2x2 window alone (batch of windows), in 1 channel and in 8 (the kernel's vector path)."""
    windows = np.array(POOL_WINDOWS).reshape(-1, 2, 2, 1)
    x1 = tf.placeholder(tf.float32, windows.shape)
    x8 = tf.placeholder(tf.float32, windows.shape[:3] + (8,))
    x64 = tf.placeholder(tf.float64, windows.shape)
    pooled = [tf.nn.max_pool(x, [1, 2, 2, 1], [1, 1, 1, 1], "VALID") for x in (x1, x8, x64)]
    (routed,) = tf.gradients(tf.reduce_sum(pooled[0]), [x1])
    return pooled + [routed], {x1: windows, x8: np.repeat(windows, 8, axis=3), x64: windows}


CAST_VALUES = [NAN, INF, -INF, 3e9, -3e9, 2.5, -2.5, 2147483647.0, 2147483648.0, -2147483648.0, 1e19, -1e19, 9.3e18,
               -2147483904.0]


def float_to_int_casts(tf):
    x32, x64 = tf.placeholder(tf.float32, [len(CAST_VALUES)]), tf.placeholder(tf.float64, [len(CAST_VALUES)])
    return [tf.cast(x, target) for x in (x32, x64) for target in (tf.int32, tf.int64)], \
        {x32: CAST_VALUES, x64: CAST_VALUES}


def integer_means_past_the_range(tf):
    flat = tf.placeholder(tf.int32, [3])
    rows = tf.placeholder(tf.int32, [2, 3])
    wide = tf.placeholder(tf.int64, [2])
    table = [[2 ** 31 - 1, 2 ** 31 - 1, 2], [2 ** 30, 2 ** 30, 2 ** 30]]
    fetches = [tf.reduce_mean(flat), tf.reduce_mean(rows, 1), tf.reduce_mean(tf.transpose(rows), 0),
               tf.reduce_sum(flat), tf.reduce_mean(wide)]
    return fetches, {flat: table[0], rows: table, wide: [2 ** 63 - 1, 2 ** 63 - 1]}


def softmax_rows_with_infinities(tf):
    logits = tf.placeholder(tf.float32, [5, 3])
    labels = tf.constant([0, 0, 0, 0, 2])
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    (grad,) = tf.gradients(tf.reduce_sum(loss), [logits])
    rows = [[INF, 1, 2], [-INF, 1, 2], [-INF, -INF, -INF], [NAN, 1, 2], [INF, INF, 2]]
    return [tf.nn.softmax(logits), tf.nn.log_softmax(logits), loss, grad], {logits: rows}


SIGNED = [-0.0] * 8 + [0.0, NAN, -1.0, 2.0] + [-0.0] * 5  # zeros in a whole vector and in the tail


def odd_functions_of_signed_zeros(tf):
    x32, x64 = tf.placeholder(tf.float32, [len(SIGNED)]), tf.placeholder(tf.float64, [len(SIGNED)])
    return [f(x) for x in (x32, x64) for f in (tf.tanh, tf.sign)], {x32: SIGNED, x64: SIGNED}


def float64_sums_that_cancel(tf):
    x, y = tf.placeholder(tf.float64, [None]), tf.placeholder(tf.float64, [None])
    return [tf.reduce_sum(x), tf.reduce_sum(y)], {x: [1e16, 1, -1e16, 1], y: [1e16, 1, -1e16, 1] * 3}


RELU_X = [0.0, -1.0, 0.0, -1.0, -2.0, -0.0, 3.0, NAN, NAN, -0.0, 5.0]  # 11: a whole float32 vector and a tail
RELU_DY = [-1.0, -1.0, INF, -INF, NAN, INF, NAN, 1.0, -1.0, 2.0, -2.0]


def relu_grad_of_signs_and_non_finites(tf):
    """ReluGrad(dy, relu(x)) through tf.gradients with dy as grad_ys."""
    x32, x64 = tf.placeholder(tf.float32, [11]), tf.placeholder(tf.float64, [11])
    dy32, dy64 = tf.placeholder(tf.float32, [11]), tf.placeholder(tf.float64, [11])
    fetches = [tf.gradients(tf.nn.relu(x), [x], grad_ys=dy)[0] for x, dy in ((x32, dy32), (x64, dy64))]
    return fetches, {x32: RELU_X, x64: RELU_X, dy32: RELU_DY, dy64: RELU_DY}


SQRT_X = [0.0, NAN, 0.0, -0.0, 0.0, 16.0, INF, 0.0, -0.0, 16.0, -16.0]
SQRT_DY = [0.0, 0.0, -0.0, 0.0, 1.0, 0.0, 1.0, NAN, -1.0, -0.0, 0.0]


def sqrt_grad_of_zeros(tf):
    """SqrtGrad(sqrt(x), dy) through tf.gradients with dy as grad_ys."""
    x32, x64 = tf.placeholder(tf.float32, [11]), tf.placeholder(tf.float64, [11])
    dy32, dy64 = tf.placeholder(tf.float32, [11]), tf.placeholder(tf.float64, [11])
    fetches = [tf.gradients(tf.sqrt(x), [x], grad_ys=dy)[0] for x, dy in ((x32, dy32), (x64, dy64))]
    return fetches, {x32: SQRT_X, x64: SQRT_X, dy32: SQRT_DY, dy64: SQRT_DY}


SIGMOID_Y = [1e30, 1e30, -5e37, 1e30, 88.0, -100.0, 0.5, -1e30]  # 8: one whole float32 vector in TF
SIGMOID_DY = [0.0, -0.0, 0.0, 3e-37, 3e-37, 1e30, 2.0, 1e-30]


def sigmoid_grad_grouping(tf):
    """SigmoidGrad(y, dy) of huge outputs: TF computes dy * (y * (1 - y)) in whole vectors, so a zero dy times
    an overflowed y * (1 - y) is NaN and 3e-37 times it is -inf (grouped as (dy * y) * (1 - y), as TF's tail
    code does, they were 0 and -3e23: tests/fuzz/tensorflow_differences.PLACE_DEPENDENT_GROUPING)."""
    y, dy = tf.placeholder(tf.float32, [8]), tf.placeholder(tf.float32, [8])
    if tf.__name__.startswith("graphc"):  # graphc has no tf.raw_ops: its builder by op name
        from graphc.ops.math_ops import apply_op
        fetch = apply_op("sigmoid_grad", [y, dy])
    else:
        fetch = tf.raw_ops.SigmoidGrad(y=y, dy=dy)
    return [fetch], {y: SIGMOID_Y, dy: SIGMOID_DY}


def mirror_pad_grad_keeps_negative_zeros(tf):
    """MirrorPadGrad through tf.gradients: the middle element of REFLECT's gradient sums three -0.0s."""
    x, y = tf.placeholder(tf.float32, [1, 3]), tf.placeholder(tf.float32, [1, 4])
    dy = [[-0.0, 1.0, -0.0, 2.0, -0.0]]
    reflect = tf.gradients(tf.pad(x, [[0, 0], [1, 1]], "REFLECT"), [x], grad_ys=tf.constant(dy))[0]
    symmetric = tf.gradients(tf.pad(y, [[0, 0], [1, 0]], "SYMMETRIC"), [y], grad_ys=tf.constant(dy))[0]
    return [reflect, symmetric], {x: [[1.0, 2.0, 3.0]], y: [[1.0, 2.0, 3.0, 4.0]]}


TOP_K_ROWS = [[1, NAN, 3], [1, 2, 3], [INF, 1, 2], [1, 2, -INF], [3, 2, 1]]


def in_top_k_with_non_finite_scores(tf):
    x = tf.placeholder(tf.float32, [5, 3])  # InTopKV2 takes float32 predictions only
    return [tf.nn.in_top_k(x, [2, 2, 0, 0, 0], 1), tf.nn.in_top_k(x, [0, 0, 1, 1, 2], 3)], {x: TOP_K_ROWS}


SPECIALS = [NAN, 0.0, -0.0, INF, -INF] + [NAN] * 4 + [-0.0] * 4 + [0.0] * 4  # 17: vectors and a tail


def sigmoid_of_nan(tf):
    x32, x64 = tf.placeholder(tf.float32, [17]), tf.placeholder(tf.float64, [17])
    return [f(x) for x in (x32, x64) for f in (tf.sigmoid, lambda x: tf.rsqrt(tf.sigmoid(x) + 0.5))], \
        {x32: SPECIALS, x64: SPECIALS}


def neg_sqrt_and_casts_of_signed_zeros(tf):
    x32, x64 = tf.placeholder(tf.float32, [17]), tf.placeholder(tf.float64, [17])
    return [tf.negative(x32), tf.sqrt(x32), tf.cast(x32, tf.float64), tf.cast(x64, tf.float32)], \
        {x32: SPECIALS, x64: SPECIALS}


SOFTMAX = [[NAN, NAN, NAN], [0.0, 0.26894143, 0.7310586], [NAN, NAN, NAN], [NAN, NAN, NAN], [NAN, NAN, NAN]]
LOG_SOFTMAX = [[NAN, NAN, NAN], [-INF, -1.3132616, -0.31326166], [NAN, NAN, NAN], [NAN, NAN, NAN], [NAN, NAN, NAN]]

# What TF 2.21 (tensorflow-cpu, x86-64) answers for each case.

# Window ops and integer means at the range limits: TF multiplies and sums in the tensor's dtype, so a
# float32 product or window sum overflows to inf (and inf - inf is NaN) and a huge tap absorbs a small
# one; an int64 sum wraps and its mean truncates toward zero.
def conv_product_overflows(tf):
    # 5e37 * 10 overflows float32 to inf; with the other channel's -inf the sum is NaN.
    x = tf.placeholder(tf.float32, [1, 1, 2, 2])
    w = tf.placeholder(tf.float32, [1, 1, 2, 1])
    same = tf.nn.conv2d(x, w, (1, 1, 1, 1), "SAME")
    return [same], {x: [[[[5e37, -INF], [5e37, 1.0]]]], w: [[[[10.0], [1.0]]]]}


def avg_pool_sum_overflows(tf):
    # -2e38 + -2e38 is -inf in float32, so the average is -inf (not -2e38). (Not a 2x2 window of these:
    # graphc sums rows first, -inf + inf = NaN, where TF's sum in row-major order stays -inf.)
    x = tf.placeholder(tf.float32, [1, 2, 2, 1])
    fetches = [tf.nn.avg_pool(x, (1, 1, 2, 1), (1, 1, 1, 1), "VALID"),
               tf.nn.avg_pool(x, (1, 2, 1, 1), (1, 1, 1, 1), "VALID")]
    return fetches, {x: [[[[-2e38], [-2e38]], [[2e38], [2e38]]]]}


def avg_pool_huge_taps_cancel(tf):
    # 0.14 + 1e9 rounds to 1e9 in float32 (not in float64), so the window's sum (and average) is 0.
    x = tf.placeholder(tf.float32, [1, 1, 3, 1])
    y = tf.placeholder(tf.float32, [1, 3, 1, 1])
    fetches = [tf.nn.avg_pool(x, (1, 1, 3, 1), (1, 1, 1, 1), "VALID"),
               tf.nn.avg_pool(y, (1, 3, 1, 1), (1, 1, 1, 1), "VALID")]
    taps = [0.14, 1e9, -1e9]
    return fetches, {x: [[[[t] for t in taps]]], y: [[[[t]] for t in taps]]}


def int64_mean_of_lowest(tf):
    # The sum INT64_MIN over 3 truncates toward zero; [INT64_MIN, -1] wraps to INT64_MAX first.
    x = tf.placeholder(tf.int64, [3])
    y = tf.placeholder(tf.int64, [2])
    return [tf.reduce_mean(x), tf.reduce_mean(y)], {x: [I64_MIN, -11, 11], y: [I64_MIN, -1]}


CASES = {
    "rsqrt_of_signed_zeros": (rsqrt_of_signed_zeros, [[-INF, INF, NAN, 0.0, NAN, NAN]] * 2),
    # Eigen's ArgMax reducer: from index 0 and the lowest value, strictly greater wins, so NaN never does.
    "arg_extrema_with_nan": (arg_extrema_with_nan, [[2, 1, 2, 0, 3], [3, 1, 0, 4], [0, 2, 0, 2, 0], [4, 4, 1, 1]] * 2
                             + [[0, 0, 0], [1, 0, 0]]),
    # MaxPool starts from the lowest float and ignores NaN; MaxPoolGrad routes to the first tap
    # unless a later one is strictly greater.
    "max_pool_windows_with_nan": (max_pool_windows_with_nan, [
        [[[[4.0]]], [[[3.0]]], [[[3.0]]], [[[5.0]]], [[[F32_LOWEST]]], [[[F32_LOWEST]]], [[[F32_LOWEST]]],
         [[[-5.0]]], [[[F32_LOWEST]]]],
        None,  # the same windows in 8 channels: checked against the first
        [[[[4.0]]], [[[3.0]]], [[[3.0]]], [[[5.0]]], [[[float(np.finfo(np.float64).min)]]],
         [[[float(np.finfo(np.float64).min)]]], [[[float(np.finfo(np.float64).min)]]], [[[-5.0]]],
         [[[float(np.finfo(np.float64).min)]]]],
        [[[[0.0], [0.0]], [[0.0], [1.0]]], [[[1.0], [0.0]], [[0.0], [0.0]]], [[[0.0], [0.0]], [[1.0], [0.0]]],
         [[[1.0], [0.0]], [[0.0], [0.0]]], [[[1.0], [0.0]], [[0.0], [0.0]]], [[[1.0], [0.0]], [[0.0], [0.0]]],
         [[[1.0], [0.0]], [[0.0], [0.0]]], [[[0.0], [0.0]], [[1.0], [0.0]]], [[[1.0], [0.0]], [[0.0], [0.0]]]]]),
    # x86's cvttss2si: NaN, infinities and values out of range all give the lowest integer.
    "float_to_int_casts": (float_to_int_casts, [
        [I32_MIN] * 5 + [2, -2, I32_MIN, I32_MIN, I32_MIN, I32_MIN, I32_MIN, I32_MIN, I32_MIN],
        [I64_MIN] * 3 + [3000000000, -3000000000, 2, -2, 2147483648, 2147483648, -2147483648, I64_MIN, I64_MIN,
                         I64_MIN, -2147483904],
        [I32_MIN] * 5 + [2, -2, 2147483647, I32_MIN, I32_MIN, I32_MIN, I32_MIN, I32_MIN, I32_MIN],
        [I64_MIN] * 3 + [3000000000, -3000000000, 2, -2, 2147483647, 2147483648, -2147483648, I64_MIN, I64_MIN,
                         I64_MIN, -2147483904]]),
    # An int32 mean sums in int64; int32 sums and int64 means wrap.
    "integer_means_past_the_range": (integer_means_past_the_range, [
        1431655765, [1431655765, 1073741824], [1431655765, 1073741824], 0, -1]),
    "softmax_rows_with_infinities": (softmax_rows_with_infinities, [
        SOFTMAX, LOG_SOFTMAX, [NAN, INF, NAN, NAN, NAN],
        [[NAN, NAN, NAN], [-1.0, 0.26894143, 0.7310586], [NAN, NAN, NAN], [NAN, NAN, NAN], [NAN, NAN, NAN]]]),
    # tanh keeps a zero's sign; sign() of either zero is +0.0.
    "odd_functions_of_signed_zeros": (odd_functions_of_signed_zeros, [
        [-0.0] * 8 + [0.0, NAN, -0.7615942, 0.9640276] + [-0.0] * 5, [0.0] * 8 + [0.0, NAN, -1.0, 1.0] + [0.0] * 5] * 2),
    # TF's ReluGrad is dy * (x > 0): -1 * 0 is -0.0, inf or NaN times 0 is NaN, a NaN x counts as not positive.
    "relu_grad_of_signs_and_non_finites": (relu_grad_of_signs_and_non_finites, [
        [-0.0, -0.0, NAN, NAN, NAN, NAN, NAN, 0.0, -0.0, 0.0, -2.0]] * 2),
    # TF's SqrtGrad is +0 wherever dy == 0 (even where y is 0, -0.0, negative or NaN), else dy * 0.5 / y.
    "sqrt_grad_of_zeros": (sqrt_grad_of_zeros, [[0.0, 0.0, 0.0, 0.0, INF, 0.0, 0.0, NAN, INF, 0.0, 0.0]] * 2),
    "sigmoid_grad_grouping": (sigmoid_grad_grouping, [[NAN, NAN, NAN, -INF, -2.2968e-33, -1.01e34, 0.5, -INF]]),
    # MirrorPadGrad copies an element nothing is folded into, -0.0 included.
    "mirror_pad_grad_keeps_negative_zeros": (mirror_pad_grad_keeps_negative_zeros, [
        [[1.0, -0.0, 2.0]], [[1.0, -0.0, 2.0, -0.0]]]),
    # A row with a non-finite score is never in the top k.
    "in_top_k_with_non_finite_scores": (in_top_k_with_non_finite_scores, [[False, True, False, False, True]] * 2),
    "sigmoid_of_nan": (sigmoid_of_nan, [
        [NAN, 0.5, 0.5, 1.0, 0.0] + [NAN] * 4 + [0.5] * 8,
        [NAN, 1.0, 1.0, 0.81649655, 1.4142135] + [NAN] * 4 + [1.0] * 8] * 2),
    # neg, sqrt and casts keep a zero's sign.
    "neg_sqrt_and_casts_of_signed_zeros": (neg_sqrt_and_casts_of_signed_zeros, [
        [NAN, -0.0, 0.0, -INF, INF] + [NAN] * 4 + [0.0] * 4 + [-0.0] * 4,
        [NAN, 0.0, -0.0, INF, NAN] + [NAN] * 4 + [-0.0] * 4 + [0.0] * 4,
        SPECIALS, SPECIALS]),
    # Eigen sums float64 in vector lanes and folds the lanes by halves: (1e16 + -1e16) + (1 + 1).
    "float64_sums_that_cancel": (float64_sums_that_cancel, [2.0, 6.0]),
    # Window ops and integer means at the range limits (above).
    "conv_product_overflows": (conv_product_overflows, [[[[[NAN], [INF]]]]]),
    "avg_pool_sum_overflows": (avg_pool_sum_overflows, [[[[[-INF]], [[INF]]]], [[[[0.0], [0.0]]]]]),
    "avg_pool_huge_taps_cancel": (avg_pool_huge_taps_cancel, [[[[[0.0]]]], [[[[0.0]]]]]),
    "int64_mean_of_lowest": (int64_mean_of_lowest, [-3074457345618258602, 4611686018427387903]),
}


def run(tf, case):
    """The case's fetches as lists, run in `tf` (graphc or TensorFlow) in a graph of its own."""
    with tf.Graph().as_default():
        fetches, feeds = case(tf)
        with tf.Session() as session:
            return [np.asarray(value).tolist() for value in session.run(fetches, feeds)]


TENSORFLOW_RUNS = {name: (lambda tf, case=case: run(tf, case)) for name, (case, _) in CASES.items()}


def assert_answer(got, expected, what):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, what
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0, equal_nan=True, err_msg=what)
        zeros = expected == 0
        np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(expected[zeros]), err_msg=f"{what}: zero signs")
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)


def assert_answers(results, expected, what):
    for number, (got, want) in enumerate(zip(results, expected)):
        if want is not None:
            assert_answer(got, want, f"{what}, fetch {number}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_code_gives_tensorflows_answer(name):
    case, expected = CASES[name]
    results = run(graphc, case)
    assert_answers(results, expected, name)
    if name == "max_pool_windows_with_nan":  # 8 channels, each the 1-channel answer
        np.testing.assert_array_equal(np.asarray(results[1]), np.repeat(np.asarray(results[0]), 8, axis=3))


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_interpreter_gives_tensorflows_answer(name):
    case, expected = CASES[name]
    fetches, feeds = case(graphc)
    results = [np.asarray(value).tolist() for value in interpret_graph(fetches, feeds)]
    assert_answers(results, expected, name)


def _parse(text: str):
    """A repr of nested lists of numbers (with nan and inf) and booleans as Python values."""
    for python, javascript in (("nan", "NaN"), ("inf", "Infinity"), ("True", "true"), ("False", "false")):
        text = re.sub(rf"\b{python}\b", javascript, text)
    return json.loads(text)


def test_tensorflow_gives_the_pinned_answers():
    answers = tensorflow_answers(__file__, "TENSORFLOW_RUNS")
    for name, (_, expected) in CASES.items():
        status, text = answers[name]
        assert status == "OK", f"{name}: TensorFlow raised {status}: {text}"
        assert_answers(_parse(text), expected, f"{name} (TensorFlow)")
