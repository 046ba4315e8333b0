"""Window ops (Conv2D, AvgPool) and integer means at float32's range limits and wrap-around: each case
gives TensorFlow 2.21's answer, compiled and in the reference interpreter. TF sums and multiplies in the
tensor's dtype, so a float32 product or window sum overflows to inf (and inf - inf is NaN) and a huge
tap absorbs a small one; an int64 sum wraps and its mean truncates toward zero. TF's answers are
pinned as literals; when TensorFlow is installed, `test_tensorflow_gives_the_pinned_answers` also asks
it (tests/tf_oracle.py).

Every case is `case(tf) -> (fetches, feeds)`, written once against the TF1 API, so the same function
builds the graph in graphc and, in a child process, in TensorFlow.
"""

import json
import re

import numpy as np
import pytest

import graphc
from tests.helpers import interpret_graph
from tests.tf_oracle import tensorflow_answers

NAN, INF = float("nan"), float("inf")
I64_MIN = -2 ** 63


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


CASES = {  # name: (case, TF 2.21's answer)
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


def assert_answers(results, expected, what):
    for number, (got, want) in enumerate(zip(results, expected)):
        got, want = np.asarray(got), np.asarray(want)
        assert got.shape == want.shape, f"{what}, fetch {number}"
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=0, equal_nan=True, err_msg=f"{what}, fetch {number}")
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"{what}, fetch {number}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_code_gives_tensorflows_answer(name):
    case, expected = CASES[name]
    assert_answers(run(graphc, case), expected, name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_interpreter_gives_tensorflows_answer(name):
    case, expected = CASES[name]
    fetches, feeds = case(graphc)
    assert_answers([np.asarray(value).tolist() for value in interpret_graph(fetches, feeds)], expected, name)


def _parse(text: str):
    """A repr of nested lists of numbers (with nan and inf) as Python values."""
    return json.loads(re.sub(r"\binf\b", "Infinity", re.sub(r"\bnan\b", "NaN", text)))


def test_tensorflow_gives_the_pinned_answers():
    answers = tensorflow_answers(__file__, "TENSORFLOW_RUNS")
    for name, (_, expected) in CASES.items():
        status, text = answers[name]
        assert status == "OK", f"{name}: TensorFlow raised {status}: {text}"
        assert_answers(_parse(text), expected, f"{name} (TensorFlow)")
