"""Edge values (issue 12, item 7, what `make fuzz-tf` found, issue 13's elementwise math): each gives
TensorFlow 2.21's answer, compiled and in the reference interpreter. TF's answers are pinned as literals below; when
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


REMAINDER_X = [-3.0, 3.0, -0.0, 0.0, -1.0, 1.0, INF, -INF, NAN, 5.5, -5.5, 1.0, -0.0]
REMAINDER_Y = [2.0, -2.0, 1.0, -1.0, 1.0, -1.0, 2.0, 3.0, 1.0, INF, INF, 0.0, 0.0]


def float_remainders_of_zeros_and_infinities(tf):
    x32, y32 = tf.placeholder(tf.float32, [13]), tf.placeholder(tf.float32, [13])
    x64, y64 = tf.placeholder(tf.float64, [13]), tf.placeholder(tf.float64, [13])
    fetches = [f(x, y) for x, y in ((x32, y32), (x64, y64)) for f in (tf.floormod, tf.truncatemod, tf.truncatediv)]
    return fetches, {x32: REMAINDER_X, y32: REMAINDER_Y, x64: REMAINDER_X, y64: REMAINDER_Y}


def integer_remainders_of_the_lowest(tf):
    x32, y32 = tf.placeholder(tf.int32, [6]), tf.placeholder(tf.int32, [6])
    x64, y64 = tf.placeholder(tf.int64, [6]), tf.placeholder(tf.int64, [6])
    fetches = [f(x, y) for x, y in ((x32, y32), (x64, y64)) for f in (tf.floormod, tf.truncatemod, tf.truncatediv)]
    divisors = [3, 3, -3, -3, -1, 1]
    return fetches, {x32: [7, -7, 7, -7, I32_MIN, I32_MIN], y32: divisors,
                     x64: [7, -7, 7, -7, I64_MIN, I64_MIN], y64: divisors}


ROUNDING = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, -0.0, 0.49999997, NAN, INF, -INF, 0.0, -0.2, 8388609.0, -7.5, 1e30, 2.7]


def rounding_ties_and_specials(tf):
    x32, x64 = tf.placeholder(tf.float32, [17]), tf.placeholder(tf.float64, [17])
    return [f(x) for x in (x32, x64) for f in (tf.round, tf.floor, tf.ceil)], {x32: ROUNDING, x64: ROUNDING}


FUNCTION_X = [-0.0, 0.0, INF, -INF, NAN, -1.0, 1e-30, -1e-30, 1e-8, -2.0, 0.5, 100.0, -100.0, 3.0, -0.99, 1e-4, 30.0]
# TF 2.21's float64 erf is NaN at +-inf (TF 1.15's and C's: +-1, graphc's: test_ops_compiled.py), so the
# float64 erf here sees +-40 instead.
FINITE_FUNCTION_X = [{INF: 40.0, -INF: -40.0}.get(x, x) for x in FUNCTION_X]


def elementary_functions_of_specials(tf):
    x32, x64 = tf.placeholder(tf.float32, [17]), tf.placeholder(tf.float64, [17])
    finite64 = tf.placeholder(tf.float64, [17])
    fetches = [f(x) for x in (x32, x64) for f in (tf.sin, tf.cos, tf.tan, tf.log1p, tf.expm1)]
    return fetches + [tf.erf(x32), tf.erf(finite64)], {x32: FUNCTION_X, x64: FUNCTION_X, finite64: FINITE_FUNCTION_X}


ATAN2_Y = [0.0, -0.0, 0.0, -0.0, 1.0, INF, -INF, INF, NAN, 1.0, -1.0, 0.0, -0.0, 1.0, -1.0, 3.0, -2.0]
ATAN2_X = [0.0, 0.0, -0.0, -0.0, INF, INF, INF, -INF, 1.0, -INF, -INF, -1.0, -1.0, 0.0, 0.0, -4.0, 1e-30]


def atan2_of_signed_zeros_and_infinities(tf):
    y32, x32 = tf.placeholder(tf.float32, [17]), tf.placeholder(tf.float32, [17])
    y64, x64 = tf.placeholder(tf.float64, [17]), tf.placeholder(tf.float64, [17])
    return [tf.atan2(y32, x32), tf.atan2(y64, x64)], {y32: ATAN2_Y, x32: ATAN2_X, y64: ATAN2_Y, x64: ATAN2_X}


ACTIVATION_X = [-1e-8, -0.0, 0.0, -1.0, NAN, -INF, INF, 20.0, -20.0, 14.0, -14.0, 13.0, 1.0, -80.0, 80.0, -0.5, 2.0]


def activations_at_their_edges(tf):
    x32, x64 = tf.placeholder(tf.float32, [17]), tf.placeholder(tf.float64, [17])
    return [f(x) for x in (x32, x64) for f in (tf.nn.softplus, tf.nn.elu, tf.nn.selu, tf.nn.leaky_relu,
                                               tf.log_sigmoid)], {x32: ACTIVATION_X, x64: ACTIVATION_X}


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
    # FloorMod is fmod moved by y where the signs differ (a zero keeps fmod's sign); x % 0 is NaN.
    "float_remainders_of_zeros_and_infinities": (float_remainders_of_zeros_and_infinities, [
        [1.0, -1.0, -0.0, 0.0, -0.0, 0.0, NAN, NAN, NAN, 5.5, INF, NAN, NAN],
        [-1.0, 1.0, -0.0, 0.0, -0.0, 0.0, NAN, NAN, NAN, 5.5, -5.5, NAN, NAN],
        [-1.0, -1.0, -0.0, -0.0, -1.0, -1.0, INF, -INF, NAN, 0.0, -0.0, INF, NAN],
        [1.0, -1.0, -0.0, 0.0, -0.0, 0.0, NAN, NAN, NAN, 5.5, INF, NAN, NAN],
        [-1.0, 1.0, -0.0, 0.0, -0.0, 0.0, NAN, NAN, NAN, 5.5, -5.5, NAN, NAN],
        [-1.0, -1.0, -0.0, -0.0, -1.0, -1.0, INF, -INF, NAN, 0.0, -0.0, INF, NAN]]),
    # MIN % -1 is 0 and MIN / -1 wraps to MIN.
    "integer_remainders_of_the_lowest": (integer_remainders_of_the_lowest, [
        [1, 2, -2, -1, 0, 0],
        [1, -1, 1, -1, 0, 0],
        [2, -2, -2, 2, I32_MIN, I32_MIN],
        [1, 2, -2, -1, 0, 0],
        [1, -1, 1, -1, 0, 0],
        [2, -2, -2, 2, I64_MIN, I64_MIN]]),
    # Round is half to even (banker's rounding); zeros keep their sign.
    "rounding_ties_and_specials": (rounding_ties_and_specials, [
        [0.0, 2.0, 2.0, -0.0, -2.0, -2.0, -0.0, 0.0, NAN, INF, -INF, 0.0, -0.0, 8388609.0, -8.0,
        1.0000000150474662e+30, 3.0],
        [0.0, 1.0, 2.0, -1.0, -2.0, -3.0, -0.0, 0.0, NAN, INF, -INF, 0.0, -1.0, 8388609.0, -8.0,
        1.0000000150474662e+30, 2.0],
        [1.0, 2.0, 3.0, -0.0, -1.0, -2.0, -0.0, 1.0, NAN, INF, -INF, 0.0, -0.0, 8388609.0, -7.0,
        1.0000000150474662e+30, 3.0],
        [0.0, 2.0, 2.0, -0.0, -2.0, -2.0, -0.0, 0.0, NAN, INF, -INF, 0.0, -0.0, 8388609.0, -8.0, 1e+30, 3.0],
        [0.0, 1.0, 2.0, -1.0, -2.0, -3.0, -0.0, 0.0, NAN, INF, -INF, 0.0, -1.0, 8388609.0, -8.0, 1e+30, 2.0],
        [1.0, 2.0, 3.0, -0.0, -1.0, -2.0, -0.0, 1.0, NAN, INF, -INF, 0.0, -0.0, 8388609.0, -7.0, 1e+30, 3.0]]),
    # sin, cos, tan, log1p, expm1 (float32, float64), then erf.
    "elementary_functions_of_specials": (elementary_functions_of_specials, [
        [-0.0, 0.0, NAN, NAN, NAN, -0.8414709568023682, 1.0000000031710769e-30, -1.0000000031710769e-30,
        9.99999993922529e-09, -0.9092974066734314, 0.4794255495071411, -0.5063656568527222, 0.5063656568527222,
        0.14112000167369843, -0.8360259532928467, 9.999999747378752e-05, -0.9880316257476807],
        [1.0, 1.0, NAN, NAN, NAN, 0.5403022766113281, 1.0, 1.0, 1.0, -0.41614681482315063, 0.8775825500488281,
        0.8623188734054565, 0.8623188734054565, -0.9899924993515015, 0.5486898422241211, 1.0, 0.15425145626068115],
        [-0.0, 0.0, NAN, NAN, NAN, -1.5574077367782593, 1.0000000031710769e-30, -1.0000000031710769e-30,
        9.99999993922529e-09, 2.185039758682251, 0.5463024973869324, -0.587213933467865, 0.587213933467865,
        -0.14254654943943024, -1.5236767530441284, 9.999999747378752e-05, -6.405331134796143],
        [-0.0, 0.0, INF, NAN, NAN, -INF, 1.0000000031710769e-30, -1.0000000031710769e-30, 9.99999993922529e-09, NAN,
        0.40546509623527527, 4.6151204109191895, NAN, 1.3862943649291992, -4.605171203613281, 9.999499161494896e-05,
        3.4339871406555176],
        [-0.0, 0.0, INF, -1.0, NAN, -0.6321205496788025, 1.0000000031710769e-30, -1.0000000031710769e-30,
        9.99999993922529e-09, -0.8646647334098816, 0.6487212777137756, INF, -1.0, 19.08553695678711,
        -0.6284233331680298, 0.00010000500333262607, 10686474223616.0],
        [-0.0, 0.0, NAN, NAN, NAN, -0.8414709848078965, 1e-30, -1e-30, 1e-08, -0.9092974268256817,
        0.479425538604203, -0.5063656411097588, 0.5063656411097588, 0.1411200080598672, -0.8360259786005205,
        9.999999983333334e-05, -0.9880316240928618],
        [1.0, 1.0, NAN, NAN, NAN, 0.5403023058681398, 1.0, 1.0, 1.0, -0.4161468365471424, 0.8775825618903728,
        0.8623188722876839, 0.8623188722876839, -0.9899924966004454, 0.5486898605815875, 0.999999995,
        0.15425144988758405],
        [-0.0, 0.0, NAN, NAN, NAN, -1.5574077246549023, 1e-30, -1e-30, 1e-08, 2.185039863261519, 0.5463024898437905,
        -0.5872139151569291, 0.5872139151569291, -0.1425465430742778, -1.5236767410179022, 0.00010000000033333334,
        -6.405331196646276],
        [-0.0, 0.0, INF, NAN, NAN, -INF, 1e-30, -1e-30, 9.999999950000001e-09, NAN, 0.4054651081081644,
        4.615120516841259, NAN, 1.3862943611198906, -4.60517018598809, 9.999500033330834e-05, 3.4339872044851463],
        [-0.0, 0.0, INF, -1.0, NAN, -0.6321205588285577, 1e-30, -1e-30, 1.000000005e-08, -0.8646647167633875,
        0.6487212707001282, 2.6881171418161356e+43, -1.0, 19.085536923187668, -0.6284233089779544,
        0.00010000500016667084, 10686474581523.463],
        [-0.0, 0.0, 1.0, -1.0, NAN, -0.8427008390426636, 1.1283791266481092e-30, -1.1283791266481092e-30,
        1.1283790790628245e-08, -0.9953223466873169, 0.5204998850822449, 1.0, -1.0, 0.9999780058860779,
        -0.8385080695152283, 0.00011283790809102356, 1.0],
        [-0.0, 0.0, 1.0, -1.0, NAN, -0.8427007929497148, 1.1283791670955127e-30, -1.1283791670955127e-30,
        1.1283791670955126e-08, -0.9953222650189528, 0.5204998778130466, 1.0, -1.0, 0.9999779095030014,
        -0.8385080695553699, 0.00011283791633342486, 1.0]]),
    # atan2 as C's: the signs of zeros pick the quadrant.
    "atan2_of_signed_zeros_and_infinities": (atan2_of_signed_zeros_and_infinities, [
        [0.0, -0.0, 3.1415927410125732, -3.1415927410125732, 0.0, 0.7853981256484985, -0.7853981256484985,
        2.356194496154785, NAN, 3.1415927410125732, -3.1415927410125732, 3.1415927410125732, -3.1415927410125732,
        1.5707963705062866, -1.5707963705062866, 2.498091697692871, -1.5707963705062866],
        [0.0, -0.0, 3.141592653589793, -3.141592653589793, 0.0, 0.7853981633974484, -0.7853981633974484,
        2.356194490192345, NAN, 3.141592653589793, -3.141592653589793, 3.141592653589793, -3.141592653589793,
        1.5707963267948966, -1.5707963267948966, 2.498091544796509, -1.5707963267948966]]),
    # softplus, elu, selu, leaky_relu, log_sigmoid (float32, then float64); elu(-1e-8) is exp(x) - 1, 0.0.
    "activations_at_their_edges": (activations_at_their_edges, [
        [0.6931471824645996, 0.6931471824645996, 0.6931471824645996, 0.3132616877555847, NAN, 0.0, INF, 20.0,
        2.06115369216775e-09, 14.0, 8.315287232107949e-07, 13.000001907348633, 1.31326162815094,
        1.8048513285848406e-35, 80.0, 0.4740769863128662, 2.1269280910491943],
        [0.0, -0.0, 0.0, -0.6321205496788025, NAN, -1.0, INF, 20.0, -1.0, 14.0, -0.9999991655349731, 13.0, 1.0,
        -1.0, 80.0, -0.39346933364868164, 2.0],
        [0.0, -0.0, 0.0, -1.1113307476043701, NAN, -1.7580993175506592, INF, 21.014020919799805,
        -1.7580993175506592, 14.709814071655273, -1.7580978870391846, 13.659112930297852, 1.0507010221481323,
        -1.7580993175506592, 84.05608367919922, -0.6917581558227539, 2.1014020442962646],
        [-1.999999943436137e-09, -0.0, 0.0, -0.20000000298023224, NAN, -INF, INF, 20.0, -4.0, 14.0,
        -2.799999952316284, 13.0, 1.0, -16.0, 80.0, -0.10000000149011612, 2.0],
        [-0.6931471824645996, -0.6931471824645996, -0.6931471824645996, -1.31326162815094, NAN, -INF, -0.0,
        -2.06115369216775e-09, -20.0, -8.315287232107949e-07, -14.0, -2.260326937175705e-06, -0.3132616877555847,
        -80.0, -1.8048513285848406e-35, -0.9740769267082214, -0.12692800164222717],
        [0.6931471755599453, 0.6931471805599453, 0.6931471805599453, 0.3132616875182228, NAN, 0.0, INF,
        20.000000002061153, 2.061153620314381e-09, 14.000000831528373, 8.315283733837541e-07, 13.000002260326852,
        1.3132616875182228, 1.804851387845415e-35, 80.0, 0.4740769841801067, 2.1269280110429727],
        [-9.99999993922529e-09, -0.0, 0.0, -0.6321205588285577, NAN, -1.0, INF, 20.0, -0.9999999979388464, 14.0,
        -0.9999991684712809, 13.0, 1.0, -1.0, 80.0, -0.3934693402873666, 2.0],
        [-1.758099330162579e-08, -0.0, 0.0, -1.1113307378125628, NAN, -1.7580993408473768, INF, 21.014019747109607,
        -1.7580993372236642, 14.709813822976727, -1.7580978789372839, 13.659112835621245, 1.0507009873554805,
        -1.7580993408473768, 84.05607898843843, -0.6917581878028713, 2.101401974710961],
        [-2.0000000298023225e-09, -0.0, 0.0, -0.20000000298023224, NAN, -INF, INF, 20.0, -4.000000059604645, 14.0,
        -2.8000000417232513, 13.0, 1.0, -16.00000023841858, 80.0, -0.10000000149011612, 2.0],
        [-0.6931471855599453, -0.6931471805599453, -0.6931471805599453, -1.3132616875182228, NAN, -INF, -0.0,
        -2.061153620314381e-09, -20.000000002061153, -8.315283733837541e-07, -14.000000831528373,
        -2.2603268524403896e-06, -0.3132616875182228, -80.0, -1.804851387845415e-35, -0.9740769841801067,
        -0.1269280110429725]]),
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


def assert_tensorflow_gives(path: str, cases: dict):
    """TensorFlow's runs of the `cases` (name -> (case, expected)) of the test module at `path`, whose
    TENSORFLOW_RUNS runs them, give the expected answers."""
    answers = tensorflow_answers(path, "TENSORFLOW_RUNS")
    for name, (_, expected) in cases.items():
        status, text = answers[name]
        assert status == "OK", f"{name}: TensorFlow raised {status}: {text}"
        assert_answers(_parse(text), expected, f"{name} (TensorFlow)")


def test_tensorflow_gives_the_pinned_answers():
    assert_tensorflow_gives(__file__, CASES)
