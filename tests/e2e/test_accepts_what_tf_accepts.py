"""What TensorFlow 2.21 accepts, graphc accepts, and answers as TF does.

A table of calls graphc once refused or answered otherwise: each `build(tf)` runs
here with graphc and, in the oracle test, with TensorFlow itself (when it is
installed). The table pins TF 2.21's answer as a literal, in plain Python values
(`repr` of lists, tuples, floats, so that -0.0, inf and NaN stay visible).
"""

from __future__ import annotations

import numpy as np

import graphc as tf
from tests.tf_oracle import table_tests


def _run(tf, fetch, feeds=None):
    with tf.Session() as sess:
        return sess.run(fetch, feeds)


def _fed(tf, build, value, dtype="float32"):
    """`build(x)` run with a placeholder of unknown dims fed `value`."""
    x = tf.placeholder(getattr(tf, dtype), [None] * np.ndim(value))
    return _run(tf, build(x), {x: value})


def _values(array):
    """An array as (dtype name, nested list), comparable across frameworks."""
    array = np.asarray(array)
    return str(array.dtype), array.tolist()


def _dimension_arithmetic(tf):
    d = tf.ones([6, 3]).shape[0]
    unknown = tf.placeholder(tf.float32, [None]).shape[0]
    return ([d + 1, 1 + d, d * 2, 2 * d, d // 4, 13 // d, d % 4, d - 2, 8 - d, d < 7, d > 7, d <= 6, d >= 6, d + d],
            [unknown + 1, unknown - 1, 2 * unknown, unknown // 2, 5 - unknown, unknown % 2, unknown < 3])


def _sizes_from_dimensions(tf):
    x = tf.ones([5, 3])
    return (tf.zeros([x.shape[0] - 1, x.shape[1] * 2]).shape.as_list(),
            _run(tf, tf.reshape(x, [x.shape[0] * x.shape[1]])).shape,
            _run(tf, tf.reshape(tf.ones([6]), tf.ones([2, 3]).shape)).shape)


def _integer_power_gradient(tf):
    x = tf.constant([2, 3])
    return tf.gradients(tf.pow(x, 2), x)


def _big_signed_zeros(tf):
    zeros = np.where(np.arange(5000) % 2, 0.0, -0.0).astype(np.float32)  # a constant passed in, not inlined
    reciprocals = 1.0 / tf.constant(zeros)
    return _values(_run(tf, reciprocals)[:4]), _values(_run(tf, tf.reduce_max(reciprocals)))


# name -> (build(tf), TF 2.21's answer).
ACCEPTED = {
    # -- reshapes of empty tensors, as TF's Reshape kernel resolves them --------------------------------------
    "reshape [0, 6] to [0, -1]": (lambda tf: _run(tf, tf.reshape(tf.zeros([0, 6]), [0, -1])).shape, (0, 6)),
    "reshape [0, 6] to [-1, 0]": (lambda tf: _run(tf, tf.reshape(tf.zeros([0, 6]), [-1, 0])).shape, (6, 0)),
    "reshape [0, 6] to [0, 0, -1]": (lambda tf: _run(tf, tf.reshape(tf.zeros([0, 6]), [0, 0, -1])).shape, (0, 0, 6)),
    "reshape [2, 0, 3] to [0, -1, 3]": (lambda tf: _run(tf, tf.reshape(tf.zeros([2, 0, 3]), [0, -1, 3])).shape,
                                        (0, 2, 3)),
    "reshape [2, 0, 3] to [4, -1]": (lambda tf: _run(tf, tf.reshape(tf.zeros([2, 0, 3]), [4, -1])).shape, (4, 0)),
    "reshape a fed [0, 6] to [-1, 0]": (lambda tf: _fed(tf, lambda x: tf.reshape(x, [-1, 0]), np.ones((0, 6))).shape,
                                        (6, 0)),
    "reshape a fed [0, 6] to [3, -1]": (lambda tf: _fed(tf, lambda x: tf.reshape(x, [3, -1]), np.ones((0, 6))).shape,
                                        (3, 0)),
    "static shape of [?, 0] reshaped to [-1, 5]": (
        lambda tf: tf.reshape(tf.placeholder(tf.float32, [None, 0]), [-1, 5]).shape.as_list(), [0, 5]),
    "static shape of [?, 3] reshaped to [-1, 0]": (
        lambda tf: tf.reshape(tf.placeholder(tf.float32, [None, 3]), [-1, 0]).shape.as_list(), [None, 0]),
    # -- means and other reductions of nothing ---------------------------------------------------------------
    "mean of an empty int32 vector": (lambda tf: _values(_run(tf, tf.reduce_mean(tf.zeros([0], tf.int32)))),
                                      ("int32", 0)),
    "mean of an empty int32 axis": (lambda tf: _values(_run(tf, tf.reduce_mean(tf.zeros([0, 3], tf.int32), 0))),
                                    ("int32", [0, 0, 0])),
    "mean of a fed empty int64 axis, kept": (
        lambda tf: _values(_fed(tf, lambda x: tf.reduce_mean(x, 1, keepdims=True), np.zeros((2, 0), np.int64),
                                "int64")), ("int64", [[0], [0]])),
    "mean of an empty float axis": (lambda tf: _values(_run(tf, tf.reduce_mean(tf.zeros([2, 0]), 1))),
                                    ("float32", [float("nan")] * 2)),
    "argmax along the other axis of an empty matrix": (lambda tf: _run(tf, tf.argmax(tf.zeros([0, 3]), 1)).shape,
                                                       (0,)),
    # -- TF1's Dimension arithmetic ---------------------------------------------------------------------------
    "shape[0] - 1": (lambda tf: repr(tf.ones([5, 3]).shape[0] - 1), "Dimension(4)"),
    "Dimension arithmetic and comparisons": (
        lambda tf: repr(_dimension_arithmetic(tf)),
        ("([Dimension(7), Dimension(7), Dimension(12), Dimension(12), Dimension(1), Dimension(2), Dimension(2), "
         "Dimension(4), Dimension(2), True, False, True, True, Dimension(12)], [Dimension(None), Dimension(None), "
         "Dimension(None), Dimension(None), Dimension(None), Dimension(None), None])")),
    "sizes computed from Dimensions": (_sizes_from_dimensions, ([4, 6], (15,), (2, 3))),
    "truth of Dimensions": (lambda tf: [bool(tf.ones([0]).shape[0]), bool(tf.placeholder(tf.float32, [None]).shape[0]),
                                        bool(tf.ones([2]).shape[0])], [False, False, True]),
    "merging Dimensions": (lambda tf: repr([tf.ones([6]).shape[0].merge_with(None),
                                            tf.placeholder(tf.float32, [None]).shape[0].merge_with(3)]),
                           "[Dimension(6), Dimension(3)]"),
    # -- transposes with negative axes ------------------------------------------------------------------------
    "transpose by [-1, 0, 1]": (lambda tf: _values(_run(tf, tf.transpose(tf.constant([[[0, 1, 2], [3, 4, 5]]]),
                                                                       [-1, 0, 1]))),
                                ("int32", [[[0, 3]], [[1, 4]], [[2, 5]]])),
    "static shape of a transpose by [-1, 0, 1]": (lambda tf: tf.transpose(tf.ones([2, 3, 4]), [-1, 0, 1]).shape
                                                  .as_list(), [4, 2, 3]),
    "fed transpose by [-1, 0, 1]": (lambda tf: _fed(tf, lambda x: tf.transpose(x, [-1, 0, 1]), np.ones((2, 3, 4)))
                                    .shape, (4, 2, 3)),
    # -- integer powers, wrapping as TF's do ------------------------------------------------------------------
    "int32 powers": (lambda tf: _values(_run(tf, tf.pow(tf.constant([0, 0, -2, 2, 3]), tf.constant([0, 1, 3, 62, 2])))),
                     ("int32", [1, 0, -8, 0, 9])),
    "int64 power that wraps": (lambda tf: _values(_run(tf, tf.pow(tf.constant([3], tf.int64),
                                                                  tf.constant([40], tf.int64)))),
                               ("int64", [-6289078614652622815])),
    "int32 ** 2": (lambda tf: _values(_run(tf, tf.constant([2, -3]) ** 2)), ("int32", [4, 9])),
    "fed integer exponents": (lambda tf: _values(_fed(tf, lambda e: tf.pow(tf.constant([2, 5]), e),
                                                      np.array([10, 0]), "int32")), ("int32", [1024, 1])),
    "integer power of nothing to a negative exponent": (
        lambda tf: _fed(tf, lambda x: tf.pow(x, -1), np.zeros(0, np.int32), "int32").shape, (0,)),
    "gradient through an integer power": (_integer_power_gradient, [None]),
    # -- TF1's tf.div: Python 2's division ----------------------------------------------------------------------
    "tf.div of integers floors": (lambda tf: _values(_run(tf, tf.div(tf.constant([7, -7]), tf.constant([2, 2])))),
                                  ("int32", [3, -4])),
    "tf.div of integers is a FloorDiv": (lambda tf: tf.div(tf.constant([7]), 2).op.type, "FloorDiv"),
    "tf.div of floats is a RealDiv": (lambda tf: tf.div(tf.constant([7.0]), 2.0).op.type, "RealDiv"),
    # -- divisions by zero with nothing to divide ------------------------------------------------------------
    "floordiv of nothing by 0": (lambda tf: _run(tf, tf.floordiv(tf.zeros([0], tf.int32), 0)).shape, (0,)),
    "fed floordiv of nothing by 0": (lambda tf: _fed(tf, lambda x: x // 0, np.zeros(0, np.int32), "int32").shape,
                                     (0,)),
    # -- constants and conversions -----------------------------------------------------------------------------
    "float32 constant of a Python int beyond 64 bits": (lambda tf: float(_run(tf, tf.constant(2 ** 70, tf.float32))),
                                                        1.1805916207174113e+21),
    "int32 constant of a NumPy float array": (lambda tf: _values(_run(tf, tf.constant(np.array([2.5, 3.0]),
                                                                                      tf.int32))),
                                              ("int32", [2, 3])),
    "zeros of a scalar shape tensor": (lambda tf: tf.zeros(tf.constant(3)).shape.as_list(), [3]),
    # -- +0.0 and -0.0 are two constants ----------------------------------------------------------------------
    "1 / [0, -0, 0]": (lambda tf: _values(_run(tf, 1.0 / tf.constant([0.0, -0.0, 0.0]))),
                       ("float32", [float("inf"), float("-inf"), float("inf")])),
    "x / [0, -0, 0]": (lambda tf: _values(_fed(tf, lambda x: x / tf.constant([0.0, -0.0, 0.0]), np.ones(3))),
                       ("float32", [float("inf"), float("-inf"), float("inf")])),
    "a large constant of signed zeros": (_big_signed_zeros, (("float32", [float("-inf"), float("inf")] * 2),
                                                             ("float32", float("inf")))),
    "[-0, -0] is a splat of -0": (lambda tf: _values(_run(tf, 1.0 / tf.constant([-0.0, -0.0]))),
                                  ("float32", [float("-inf"), float("-inf")])),
    # -- shapes TF accepts as they are --------------------------------------------------------------------------
    "conv2d to 0 output channels": (lambda tf: _run(tf, tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 0]),
                                                                     [1, 1, 1, 1], "SAME")).shape, (1, 4, 4, 0)),
}


test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "ACCEPTED", ACCEPTED)


def test_the_gradient_of_a_transpose_by_negative_axes():
    # A deliberate better answer: TF 2.21 builds the gradient from InvertPermutation, which refuses
    # the -1 ("-1 is not between 0 and 3"); graphc inverts the permutation the transpose means.
    x = tf.constant(np.arange(24.0).reshape(2, 3, 4))
    y = tf.transpose(x, [-1, 0, 1])
    weights = tf.constant(np.arange(24.0).reshape(4, 2, 3))
    (gradient,) = tf.gradients(tf.reduce_sum(y * weights), x)
    np.testing.assert_array_equal(tf.Session().run(gradient), np.transpose(np.arange(24.0).reshape(4, 2, 3),
                                                                           [1, 2, 0]))
