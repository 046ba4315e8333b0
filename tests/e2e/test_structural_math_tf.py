"""Structural math (reductions, scans, batched products, selection, tensordot and einsum, moments and
batch normalization, top_k, LRN) answers as TensorFlow 2.21 does: values, gradients and errors.

Each `build(tf)` runs here with graphc and, in the oracle test, with TensorFlow itself (when it is
installed); the table pins TF 2.21's answer as a literal (`repr` of plain Python values), so the
graphc test checks something without TF.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc as tf
from tests.tf_oracle import table_tests


def _run(tf, fetch, feeds=None):
    with tf.Session() as sess:
        return sess.run(fetch, feeds)


def _values(array, decimals=5):
    """An array (or a list of them) as (dtype name, nested list rounded to `decimals`), comparable across
    frameworks."""
    if isinstance(array, list):
        return [_values(a, decimals) for a in array]
    array = np.asarray(array)
    rounded = np.round(array.astype(np.float64), decimals) if array.dtype.kind == "f" else array
    return str(array.dtype), rounded.tolist()


def _arange(tf, count, shape):
    """0, 1, ... count - 1 as a float32 constant of `shape`."""
    return tf.constant(np.arange(count, dtype=np.float32).reshape(shape))


def _fails(tf, build, fragment):
    """(exception class name, whether `fragment` is in its message) of building and running `build(tf)`."""
    try:
        _run(tf, build())
    except Exception as e:  # noqa: BLE001 - the class is the answer
        return type(e).__name__, fragment in str(e)
    return "no error", False


def _gradient(tf, build, value):
    """d sum(build(x) * weights) / dx at `value` (float32), weights 1, 2, 3 ... in the output's shape."""
    x = tf.constant(np.asarray(value, np.float32))
    y = build(x)
    shape = y.shape.as_list()
    weights = tf.constant(np.arange(1, np.prod(shape, dtype=int) + 1, dtype=np.float32).reshape(shape))
    return _values(_run(tf, tf.gradients(tf.reduce_sum(y * weights), x)[0]))


_WITH_ZEROS = [[1.0, 0.0, 3.0], [0.0, 4.0, 0.0], [2.0, 4.0, -1.0]]

# name -> (build(tf), TF 2.21's answer).
ANSWERS = {
    # -- reductions ------------------------------------------------------------------------------------
    "reduce_prod rows": (lambda tf: _values(_run(tf, tf.reduce_prod(tf.constant(_WITH_ZEROS), 1))),
                         ("float32", [0.0, 0.0, -8.0])),
    "reduce_prod of nothing": (lambda tf: _values(_run(tf, tf.reduce_prod(tf.zeros([0, 3], tf.int32), 0))),
                               ("int32", [1, 1, 1])),
    "reduce_prod int32 wraps": (lambda tf: _values(_run(tf, tf.reduce_prod(tf.constant([65536, 65536, 3])))),
                                ("int32", 0)),
    "reduce_prod gradient with zeros": (lambda tf: _gradient(tf, lambda x: tf.reduce_prod(x, 1), _WITH_ZEROS),
                                        ("float32", [[0.0, 3.0, 0.0], [0.0, 0.0, 0.0], [-12.0, -6.0, 24.0]])),
    "reduce_prod gradient over axis 0 keepdims": (
        lambda tf: _gradient(tf, lambda x: tf.reduce_prod(x, 0, keep_dims=True), _WITH_ZEROS),
        ("float32", [[0.0, 32.0, -0.0], [2.0, 0.0, -9.0], [0.0, 0.0, 0.0]])),
    "reduce_prod with a repeated axis": (
        lambda tf: _fails(tf, lambda: tf.reduce_prod(tf.constant([[1, 2], [3, 4]]), [1, 1]),
                          "Axes contains duplicate dimension: 1"), ("InvalidArgumentError", True)),
    "reduce_any": (lambda tf: _values(_run(tf, [tf.reduce_any(tf.constant([[True, False], [False, False]]), 1),
                                                tf.reduce_any(tf.zeros([0], tf.bool))])),
                   [("bool", [True, False]), ("bool", False)]),
    "reduce_all": (lambda tf: _values(_run(tf, [tf.reduce_all(tf.constant([[True, False], [True, True]]), axis=1,
                                                               keepdims=True),
                                                tf.reduce_all(tf.zeros([0, 3], tf.bool), 0)])),
                   [("bool", [[False], [True]]), ("bool", [True, True, True])]),
    "reduce_any of floats": (lambda tf: _fails(tf, lambda: tf.reduce_any(tf.constant([1.0])), "float32"),
                             ("TypeError", True)),
    "reduce_logsumexp with infinities": (
        lambda tf: _values(_run(tf, tf.reduce_logsumexp(
            tf.constant([[-np.inf, -np.inf], [np.inf, 1.0], [1.0, 2.0], [np.nan, 1.0], [1000.0, 1000.0]]), 1))),
        ("float32", [-np.inf, np.inf, 2.31326, np.nan, 1000.69318])),
    "reduce_logsumexp keepdims": (
        lambda tf: _values(_run(tf, tf.reduce_logsumexp(tf.constant([[1.0, 2.0], [3.0, 4.0]]), reduction_indices=0,
                                                        keep_dims=True))), ("float32", [[3.12693, 4.12693]])),
    "reduce_logsumexp gradient": (lambda tf: _gradient(tf, lambda x: tf.reduce_logsumexp(x, 1), [[1.0, 2.0, 3.0]]),
                                  ("float32", [[0.09003, 0.24473, 0.66524]])),
    # -- scans -----------------------------------------------------------------------------------------
    "cumsum exclusive reverse int32": (
        lambda tf: _values(_run(tf, tf.cumsum(tf.constant([1, 2, 3]), 0, exclusive=True, reverse=True))),
        ("int32", [5, 3, 0])),
    "cumsum along axis 1": (lambda tf: _values(_run(tf, tf.cumsum(tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
                                                                  axis=1))),
                            ("float32", [[1.0, 3.0, 6.0], [4.0, 9.0, 15.0]])),
    "cumprod exclusive": (lambda tf: _values(_run(tf, tf.cumprod(tf.constant([1.0, 2.0, 3.0]), exclusive=True))),
                          ("float32", [1.0, 1.0, 2.0])),
    "cumsum gradient": (lambda tf: _gradient(tf, lambda x: tf.cumsum(x, 1, exclusive=True), [[1.0, 2.0, 3.0]]),
                        ("float32", [[5.0, 3.0, 0.0]])),
    "cumprod gradient": (lambda tf: _gradient(tf, lambda x: tf.cumprod(x, 0, reverse=True), [2.0, 3.0, 4.0]),
                         ("float32", [12.0, 16.0, 15.0])),
    "cumprod gradient at a zero": (lambda tf: _gradient(tf, tf.cumprod, [1.0, 0.0, 3.0]),
                                   ("float32", [1.0, 0.0, 0.0])),
    "cumsum axis out of range": (
        lambda tf: _fails(tf, lambda: tf.cumsum(tf.ones([2, 3]), 2),
                          "Expected scan axis in the range [-2, 2), but got 2"),
        ("InvalidArgumentError", True)),
    "cumsum axis not a scalar": (
        lambda tf: _fails(tf, lambda: tf.cumsum(tf.ones([2, 3]), [0]), "axis must be a scalar, not [1]"),
        ("InvalidArgumentError", True)),
    "cumsum of bools": (lambda tf: _fails(tf, lambda: tf.cumsum(tf.constant([True]), 0), "bool"),
                        ("TypeError", True)),
    # -- batched matmul ---------------------------------------------------------------------------------
    "matmul of batches broadcast": (
        lambda tf: _values(_run(tf, tf.matmul(_arange(tf, 12, [2, 1, 2, 3]),
                                              _arange(tf, 18, [3, 3, 2]), adjoint_b=False))[:, 1]),
        ("float32", [[[28.0, 31.0], [100.0, 112.0]], [[172.0, 193.0], [244.0, 274.0]]])),
    "matmul op type and static shape": (
        lambda tf: (lambda y: (y.op.type, y.shape.as_list()))(
            tf.matmul(tf.placeholder(tf.float32, [None, 4, 3]), tf.ones([5, 1, 4, 2]), transpose_a=True)),
        ("BatchMatMulV2", [5, None, 3, 2])),
    "matmul gradient reduces broadcast batch dimensions": (
        lambda tf: _gradient(tf, lambda x: tf.matmul(x, _arange(tf, 12, [2, 3, 2])), [[1.0, 2.0, 3.0]]),
        ("float32", [[48.0, 68.0, 88.0]])),
    "batch matmul adjoint gradient": (
        lambda tf: _gradient(tf, lambda x: tf.matmul(_arange(tf, 12, [2, 3, 2]), x, adjoint_a=True,
                                                     adjoint_b=True), [[[1.0, 2.0, 0.5], [0.0, -1.0, 2.0]]]),
        ("float32", [[[82.0, 114.0, 146.0], [96.0, 136.0, 176.0]]])),
    "batch matmul of int32": (
        lambda tf: _values(_run(tf, tf.matmul(tf.ones([2, 3, 4], tf.int32), tf.ones([4, 2], tf.int32)))[1]),
        ("int32", [[4, 4], [4, 4], [4, 4]])),
    "batch matmul inner dimensions differ": (
        lambda tf: _fails(tf, lambda: tf.matmul(tf.ones([2, 3, 4]), tf.ones([2, 5, 6])),
                          "Dimensions must be equal, but are 4 and 5"), ("ValueError", True)),
    "batch matmul batch dimensions differ": (
        lambda tf: _fails(tf, lambda: tf.matmul(tf.ones([2, 3, 4]), tf.ones([3, 4, 6])),
                          "Dimensions must be equal, but are 2 and 3"), ("ValueError", True)),
    "batch matmul of a vector": (
        lambda tf: _fails(tf, lambda: tf.matmul(tf.ones([2, 3, 4]), tf.ones([4])),
                          "Shape must be at least rank 2 but is rank 1"), ("ValueError", True)),
    "matmul transpose and adjoint": (
        lambda tf: _fails(tf, lambda: tf.matmul(tf.ones([2, 3, 4]), tf.ones([4, 2]), transpose_a=True, adjoint_a=True),
                          "Only one of `transpose_a` and `adjoint_a` can be True."), ("ValueError", True)),
    # -- where -----------------------------------------------------------------------------------------
    "where of a matrix": (lambda tf: _values(_run(tf, tf.where(tf.constant([[True, False], [False, True]])))),
                          ("int64", [[0, 0], [1, 1]])),
    "where of floats": (lambda tf: _values(_run(tf, tf.where(tf.constant([[0.0, 1.5, 0.0], [-2.0, 0.0, np.nan]])))),
                        ("int64", [[0, 1], [1, 0], [1, 2]])),
    "where of nothing true": (lambda tf: _values(_run(tf, tf.where(tf.zeros([2, 0, 3], tf.bool)))),
                              ("int64", [])),
    "where of a fed condition": (
        lambda tf: (lambda c: (c.shape.as_list(), tf.where(c).shape.as_list(),
                               _values(_run(tf, tf.where(c > 0.5), {c: [[0.2, 0.9, 0.7]]}))))(
            tf.placeholder(tf.float32, [None, 3])),
        ([None, 3], [None, 2], ("int64", [[0, 1], [0, 2]]))),
    "where of a scalar": (lambda tf: _fails(tf, lambda: tf.where(tf.constant(True)),
                                            "WhereOp : Unhandled input dimensions: 0"), ("InvalidArgumentError", True)),
    "where with x alone": (lambda tf: _fails(tf, lambda: tf.where(tf.constant([True]), x=tf.ones([1])),
                                             "x and y must both be non-None or both be None."), ("ValueError", True)),
    "where selecting rows": (
        lambda tf: _values(_run(tf, tf.where(tf.constant([True, False]), tf.ones([2, 3, 2]), tf.zeros([2, 3, 2])))),
        ("float32", [[[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])),
    "where selecting rows of a square matrix": (
        lambda tf: _values(_run(tf, tf.where(tf.constant([False, True]), _arange(tf, 4, [2, 2]),
                                             -_arange(tf, 4, [2, 2])))),
        ("float32", [[-0.0, -1.0], [2.0, 3.0]])),
    "where selecting rows, gradient": (
        lambda tf: _gradient(tf, lambda x: tf.where(tf.constant([False, True]), x, x * x), [[1.0, 2.0], [3.0, 4.0]]),
        ("float32", [[2.0, 8.0], [3.0, 4.0]])),
    # -- tensordot and einsum ----------------------------------------------------------------------------
    "tensordot of an int": (lambda tf: _values(_run(tf, tf.tensordot(_arange(tf, 6, [2, 3]), _arange(tf, 12, [3, 4]),
                                                                     1))), ("float32", [[20.0, 23.0, 26.0, 29.0],
                                                                                        [56.0, 68.0, 80.0, 92.0]])),
    "tensordot of axis lists": (
        lambda tf: (lambda y: (y.shape.as_list(), _values(_run(tf, y))))(
            tf.tensordot(_arange(tf, 24, [2, 3, 4]), _arange(tf, 24, [4, 3, 2]), [[1, 2], [1, 0]])),
        ([2, 2], ("float32", [[880.0, 946.0], [2464.0, 2674.0]]))),
    "tensordot of 0 axes (outer product)": (
        lambda tf: _values(_run(tf, tf.tensordot(tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0, 5.0]), 0))),
        ("float32", [[3.0, 4.0, 5.0], [6.0, 8.0, 10.0]])),
    "tensordot of unknown batch size": (
        lambda tf: (lambda x: (tf.tensordot(x, tf.ones([3, 2]), [[2], [0]]).shape.as_list(),
                               _values(_run(tf, tf.tensordot(x, tf.ones([3, 2]), [[2], [0]]),
                                            {x: np.ones((2, 1, 3))}))))(tf.placeholder(tf.float32, [None, 1, 3])),
        ([None, 1, 2], ("float32", [[[3.0, 3.0]], [[3.0, 3.0]]]))),
    "tensordot gradient": (
        lambda tf: _gradient(tf, lambda x: tf.tensordot(x, _arange(tf, 6, [3, 2]), [[1], [0]]), [[1.0, 2.0, 3.0]]),
        ("float32", [[2.0, 8.0, 14.0]])),
    "tensordot axes too many": (
        lambda tf: _fails(tf, lambda: tf.tensordot(tf.ones([2, 3]), tf.ones([3, 2]), 3),
                          "must not be larger than the number of dimensions of tensor"), ("ValueError", True)),
    "tensordot axes of other counts": (
        lambda tf: _fails(tf, lambda: tf.tensordot(tf.ones([2, 3]), tf.ones([3, 2]), [[0, 1], [0]]),
                          "Different number of contraction axes `a` and `b`, 2 != 1."), ("ValueError", True)),
    "tensordot negative axes": (
        lambda tf: _fails(tf, lambda: tf.tensordot(tf.ones([2, 3]), tf.ones([3, 2]), -1),
                          "`axes` must be at least 0. Received: -1."), ("ValueError", True)),
    "tensordot sizes differ": (
        lambda tf: _fails(tf, lambda: tf.tensordot(tf.ones([2, 3]), tf.ones([4, 2]), 1),
                          "Dimensions must be equal, but are 3 and 4"), ("ValueError", True)),
    **{f"einsum {equation}": (
        lambda tf, equation=equation, shapes=shapes: (lambda y: (y.shape.as_list(), _values(_run(tf, y), 3)))(
            tf.einsum(equation, *[_arange(tf, int(np.prod(s)), s) - 2.5 for s in shapes])), answer)
       for equation, shapes, answer in [
           ("ij,jk->ik", [[2, 3], [3, 2]], ([2, 2], ("float32", [[6.25, 1.75], [1.75, 6.25]]))),
           ("bij,bjk->bik", [[2, 1, 2], [2, 2, 2]], ([2, 1, 2], ("float32", [[[7.0, 3.0]], [[1.0, 1.0]]]))),
           ("ij->ji", [[2, 3]], ([3, 2], ("float32", [[-2.5, 0.5], [-1.5, 1.5], [-0.5, 2.5]]))),
           ("ii->i", [[3, 3]], ([3], ("float32", [-2.5, 1.5, 5.5]))),
           ("ii", [[3, 3]], ([], ("float32", 4.5))),
           ("i,i->", [[4], [4]], ([], ("float32", 9.0))),
           ("ij,j->i", [[2, 3], [3]], ([2], ("float32", [8.75, -4.75]))),
           ("bi,bi->b", [[2, 3], [2, 3]], ([2], ("float32", [8.75, 8.75]))),
           ("bij,jk->bik", [[2, 1, 3], [3, 2]], ([2, 1, 2], ("float32", [[[6.25, 1.75]], [[1.75, 6.25]]]))),
           ("ij,jk,kl->il", [[1, 2], [2, 2], [2, 1]], ([1, 1], ("float32", [[-22.0]]))),
           ("abc,cd->dba", [[1, 2, 2], [2, 1]], ([1, 2, 1], ("float32", [[[8.5], [0.5]]]))),
           ("ij,ik", [[2, 2], [2, 3]], ([2, 3], ("float32", [[6.0, 3.0, 0.0], [4.0, 3.0, 2.0]]))),
       ]},
    "einsum gradient": (
        lambda tf: _gradient(tf, lambda x: tf.einsum("bij,jk->bik", x, _arange(tf, 6, [3, 2])),
                             [[[1.0, 2.0, 3.0]], [[0.5, 0.0, -1.0]]]),
        ("float32", [[[2.0, 8.0, 14.0]], [[4.0, 18.0, 32.0]]])),
    "einsum inputs of another count": (
        lambda tf: _fails(tf, lambda: tf.einsum("ij,jk->ik", tf.ones([2, 3])),
                          'Got 1 inputs for equation "ij,jk->ik", expecting 2'), ("ValueError", True)),
    "einsum input of another rank": (
        lambda tf: _fails(tf, lambda: tf.einsum("ij,jk->ik", tf.ones([2, 3]), tf.ones([3])),
                          "Shape must be rank 2 but is rank 1"), ("ValueError", True)),
    "einsum sizes differ": (
        lambda tf: _fails(tf, lambda: tf.einsum("ij,jk->ik", tf.ones([2, 3]), tf.ones([4, 2])),
                          "Dimensions must be equal, but are 3 and 4"), ("ValueError", True)),
    # -- moments and batch normalization ---------------------------------------------------------------
    "moments": (lambda tf: _values(_run(tf, list(tf.nn.moments(_arange(tf, 12, [2, 3, 2]) ** 1.5, [0, 2]))), 3),
                [("float32", [8.554, 14.413, 21.821]), ("float32", [66.824, 111.265, 153.822])]),
    "moments keep_dims": (lambda tf: [m.shape.as_list() for m in tf.nn.moments(tf.ones([2, 3, 4]), [1],
                                                                                keep_dims=True)],
                          [[2, 1, 4], [2, 1, 4]]),
    "moments gradient": (lambda tf: _gradient(tf, lambda x: tf.stack(tf.nn.moments(x, [1])), [[1.0, 2.0, 4.0]]),
                         ("float32", [[-1.44444, -0.11111, 2.55556]])),
    "batch_normalization": (
        lambda tf: _values(_run(tf, tf.nn.batch_normalization(_arange(tf, 6, [2, 3]), tf.constant([1.0, 2.0, 3.0]),
                                                              tf.constant([4.0, 1.0, 0.25]), tf.constant(0.5),
                                                              tf.constant([1.0, -1.0, 2.0]), 1e-3))),
        ("float32", [[6e-05, 1.4995, -3.49202], [1.49988, -1.499, 8.48405]])),
    "batch_normalization without offset and scale": (
        lambda tf: _values(_run(tf, tf.nn.batch_normalization(_arange(tf, 3, [3]), 1.0, 4.0, None, None, 0.0))),
        ("float32", [-0.5, 0.0, 0.5])),
    # -- top_k and LRN -----------------------------------------------------------------------------------
    "top_k with ties and signed zeros": (
        lambda tf: _values(_run(tf, list(tf.nn.top_k(tf.constant([[1.0, 3.0, 3.0, 2.0, 3.0],
                                                               [1.0, 0.0, -0.0, 0.0, -1.0]]), 4)))),
        [("float32", [[3.0, 3.0, 3.0, 2.0], [1.0, 0.0, -0.0, 0.0]]), ("int32", [[1, 2, 4, 3], [0, 1, 2, 3]])]),
    "top_k of int32 rows": (lambda tf: _values(_run(tf, list(tf.nn.top_k(tf.constant([5, 1, 5, 7]), 2)))),
                            [("int32", [7, 5]), ("int32", [3, 0])]),
    "top_k of 0": (lambda tf: (lambda r: ([t.shape.as_list() for t in r], _values(_run(tf, list(r)))))(
        tf.nn.top_k(tf.ones([2, 3]), 0)), ([[2, 0], [2, 0]], [("float32", [[], []]), ("int32", [[], []])])),
    "top_k gradient": (lambda tf: _gradient(tf, lambda x: tf.nn.top_k(x, 2).values, [[1.0, 4.0, 2.0, 3.0]]),
                       ("float32", [[0.0, 1.0, 0.0, 2.0]])),
    "top_k k beyond the row": (
        lambda tf: _fails(tf, lambda: tf.nn.top_k(tf.constant([5, 1, 5, 7]), 5)[0],
                          "input must have last dimension >= k = 5 but is 4"), ("ValueError", True)),
    "top_k negative k": (
        lambda tf: _fails(tf, lambda: tf.nn.top_k(tf.constant([5, 1, 5, 7]), -1)[0],
                          "must be non-negative but is -1"), ("ValueError", True)),
    "top_k of a scalar": (lambda tf: _fails(tf, lambda: tf.nn.top_k(tf.constant(5.0), 1)[0],
                                            "Shape must be at least rank 1 but is rank 0"), ("ValueError", True)),
    "top_k of bools": (lambda tf: _fails(tf, lambda: tf.nn.top_k(tf.constant([True]), 1)[0], "bool"),
                       ("TypeError", True)),
    "lrn": (lambda tf: _values(_run(tf, tf.nn.lrn(_arange(tf, 6, [1, 1, 2, 3]) - 2.0, 1, 1.5, 0.5, 0.75)), 4),
            ("float32", [[[[-0.7071, -0.3536, 0.0], [0.3536, 0.4018, 0.6307]]]])),
    "local_response_normalization defaults": (
        lambda tf: _values(_run(tf, tf.nn.local_response_normalization(tf.ones([1, 1, 1, 3])))),
        ("float32", [[[[0.5, 0.5, 0.5]]]])),
    "lrn gradient": (lambda tf: _gradient(tf, lambda x: tf.nn.lrn(x, 1, 1.0, 0.2, 0.5),
                                          [[[[1.0, -2.0, 0.5, 3.0]]]]),
                     ("float32", [[[[0.90895, 1.07921, 1.43563, 0.74387]]]])),
    "lrn of rank 3": (lambda tf: _fails(tf, lambda: tf.nn.lrn(tf.ones([1, 1, 3])),
                                        "Shape must be rank 4 but is rank 3"), ("ValueError", True)),
    "lrn of float64": (lambda tf: _fails(tf, lambda: tf.nn.lrn(tf.ones([1, 1, 1, 3], tf.float64)),
                                         "DataType float64 not in list of allowed values"), ("TypeError", True)),
    # -- integer pooling and convolution; Dimension arithmetic ----------------------------------------
    "max_pool of int32": (
        lambda tf: _values(_run(tf, tf.nn.max_pool(tf.constant(np.arange(9, dtype=np.int32).reshape(1, 3, 3, 1)),
                                                   [1, 2, 2, 1], [1, 1, 1, 1], "VALID"))),
        ("int32", [[[[4], [5]], [[7], [8]]]])),
    "max_pool of int64 with SAME padding": (
        lambda tf: _values(_run(tf, tf.nn.max_pool(tf.constant(-np.arange(9, dtype=np.int64).reshape(1, 3, 3, 1)),
                                                   [1, 2, 2, 1], [1, 2, 2, 1], "SAME"))),
        ("int64", [[[[0], [-2]], [[-6], [-8]]]])),
    "avg_pool of int32": (lambda tf: _fails(tf, lambda: tf.nn.avg_pool(tf.ones([1, 3, 3, 1], tf.int32), [1, 2, 2, 1],
                                                                       [1, 1, 1, 1], "SAME"), "DataType int32"),
                          ("TypeError", True)),
    "conv2d of int64": (lambda tf: _fails(tf, lambda: tf.nn.conv2d(tf.ones([1, 3, 3, 1], tf.int64),
                                                                   tf.ones([1, 1, 1, 1], tf.int64), [1, 1, 1, 1],
                                                                   "SAME"), "DataType int64"), ("TypeError", True)),
    "Dimension arithmetic": (
        lambda tf: (lambda d, unknown: [repr(v) for v in (d - 1, int(d), d.value, unknown + 1, (unknown + 1).value,
                                                          d * 2 // 4, d == 6, d > 3, d <= 5)])(
            tf.ones([6, 3]).shape[0], tf.placeholder(tf.float32, [None]).shape[0]),
        ["Dimension(5)", "6", "6", "Dimension(None)", "None", "Dimension(3)", "True", "True", "False"]),
}


test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "ANSWERS", ANSWERS)


def test_where_coordinates_can_be_fetched_but_not_used_inside_the_step():
    """Where's row count depends on values and a compiled step has static shapes: graphc finishes it
    on the host (see math_ops.where_p) and refuses an op of the step that would use it."""
    condition = tf.placeholder(tf.bool, [3])
    coordinates = tf.where(condition)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(coordinates, {condition: [True, False, True]}), [[0], [2]])
        with pytest.raises(tf.errors.UnimplementedError, match="Where:0 is computed on the host .* shape depends on"):
            sess.run(tf.cast(coordinates, tf.float32) * 2.0, {condition: [True, False, True]})


def test_einsum_refuses_what_graphc_does_not_build_naming_the_equation():
    """Deliberate limits: ellipses, and the diagonal of an index whose size is unknown while building."""
    with pytest.raises(ValueError, match=r"ellipses .* 'bi...,bi...->b'"):
        tf.einsum("bi...,bi...->b", tf.ones([2, 3]), tf.ones([2, 3]))
    with pytest.raises(ValueError, match=r"diagonal of index 'i' \(equation 'ii->i'\)"):
        tf.einsum("ii->i", tf.placeholder(tf.float32, [None, None]))


def test_integer_conv2d_is_refused():
    """A deliberate difference: TF 2.21 has an int32 Conv2D CPU kernel (TF 1.15 refused int32, with
    this TypeError); graphc's convolutions are float GEMMs, and refuse integers as TF 1.15 did."""
    with pytest.raises(TypeError, match=r"DataType int32 not in list of allowed values: float16, float32, float64 .*Conv2D"):
        tf.nn.conv2d(tf.ones([1, 3, 3, 1], tf.int32), tf.ones([1, 1, 1, 1], tf.int32), [1, 1, 1, 1], "SAME")


def test_where_broadcasts_a_condition_that_does_not_select_rows():
    """A deliberate extension, as graphc's where was before the row select: TF 1.15 and 2.21's v1
    where refuse a vector condition of another length than x's rows ("Dimension 0 in both shapes
    must be equal"); graphc broadcasts it against x's last dimension (SelectV2's rule)."""
    chosen = tf.where(tf.constant([True, False, True]), tf.ones([2, 3]), tf.zeros([2, 3]))
    np.testing.assert_array_equal(tf.Session().run(chosen), [[1, 0, 1], [1, 0, 1]])
