"""Structural math ops compiled through LLVM agree with the NumPy reference interpreter:
products, any/all and logsumexp over every reduce-kernel path, scans (cumsum, cumprod)."""

import numpy as np
import pytest

import graphc as tf
from tests.backend.test_ops_compiled import assert_same

AXES = (None, 0, 1, -1, [0, 2], [1, 2])


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32, tf.int64])
def test_reduce_prod(dtype):
    x = tf.placeholder(dtype, [3, 4, 5])
    rng = np.random.RandomState(5)
    values = rng.uniform(0.6, 1.6, (3, 4, 5)) if dtype.is_floating else rng.randint(-3, 4, (3, 4, 5))
    values[1, 2, 3] = 0
    ops = [tf.reduce_prod(x, axis=axis) for axis in AXES] + [tf.reduce_prod(x, 1, keepdims=True)]
    assert_same(ops, {x: values}, rtol=1e-5)


@pytest.mark.parametrize("shape, axis", [((40, 7), 1), ((40, 7), 0), ((3, 300), 1), ((300, 3), 0), ((5, 4, 3), 1),
                                         ((2000,), 0), ((17, 1100), 0)])
def test_reduce_any_all_prod_on_each_kernel_path(shape, axis):
    """Short rows (the periodic path), long runs (cascaded leaves), kept columns wider than a tile."""
    b = tf.placeholder(tf.bool, shape)
    x = tf.placeholder(tf.float64, shape)
    rng = np.random.RandomState(6)
    bits = rng.rand(*shape) > 0.97
    ops = [tf.reduce_any(b, axis), tf.reduce_all(tf.logical_not(b), axis), tf.reduce_any(b), tf.reduce_all(b),
           tf.reduce_prod(x, axis), tf.reduce_any(x > 0.999, axis)]
    assert_same(ops, {b: bits, x: rng.uniform(0.999, 1.001, shape)}, rtol=1e-12)


def test_reductions_of_empty_axes_give_their_identities():
    x = tf.placeholder(tf.float32, [None, 3])
    b = tf.placeholder(tf.bool, [None, 3])
    assert_same([tf.reduce_prod(x, 0), tf.reduce_any(b, 0), tf.reduce_all(b, 0), tf.reduce_logsumexp(x, 0)],
                {x: np.zeros((0, 3)), b: np.zeros((0, 3), bool)})


def test_reduce_logsumexp_is_stable():
    x = tf.placeholder(tf.float32, [4, 3])
    values = np.array([[1000.0, 1000.0, 999.0], [-1000.0, -1001.0, -np.inf], [-np.inf] * 3, [np.inf, 0.0, 1.0]])
    assert_same([tf.reduce_logsumexp(x, 1), tf.reduce_logsumexp(x, 0, keepdims=True)], {x: values})


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32, tf.int64])
@pytest.mark.parametrize("exclusive, reverse", [(False, False), (True, False), (False, True), (True, True)])
def test_scans(dtype, exclusive, reverse):
    x = tf.placeholder(dtype, [3, 4, 5])
    rng = np.random.RandomState(7)
    values = rng.uniform(-2, 2, (3, 4, 5)) if dtype.is_floating else rng.randint(-9, 9, (3, 4, 5))
    ops = [scan(x, axis, exclusive=exclusive, reverse=reverse) for scan in (tf.cumsum, tf.cumprod)
           for axis in (0, 1, -1)]
    assert_same(ops, {x: values}, rtol=1e-5)


def test_scans_with_inner_rows_wider_than_a_tile_and_non_finite_values():
    x = tf.placeholder(tf.float32, [3, 1100])
    values = np.random.RandomState(8).normal(size=(3, 1100))
    values[0, 5], values[1, 7], values[2, 9], values[2, 10] = np.inf, np.nan, np.inf, -np.inf
    assert_same([tf.cumsum(x, 0), tf.cumsum(x, 1, reverse=True), tf.cumprod(x, 0, exclusive=True)], {x: values})


def test_float32_cumsum_is_accurate_over_long_runs():
    """A float32 running sum of 3e6 values of 0.1 drifts by percents; graphc's is right to the last bit."""
    x = tf.placeholder(tf.float32, [3_000_000])
    values = np.full(3_000_000, 0.1, np.float32)
    compiled = tf.Session().run(tf.cumsum(x), {x: values})
    exact = np.cumsum(values.astype(np.float64)).astype(np.float32)
    assert np.max(np.abs(compiled - exact) / exact) <= np.finfo(np.float32).eps
    assert abs(np.cumsum(values)[-1] - exact[-1]) / exact[-1] > 1e-3  # what a float32 accumulation gives


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32, tf.int64])
@pytest.mark.parametrize("adj_x, adj_y", [(False, False), (True, False), (False, True), (True, True)])
def test_batch_matmul_with_broadcast_batch_dimensions(dtype, adj_x, adj_y):
    rng = np.random.RandomState(9)
    ops, feeds = [], {}
    # Small products (the plain loop nest), products for the GEMM library (40 x 50 x 30 each), rank 2
    # against rank 4, an empty batch, and batches of at least MIN_BATCH_TASKS split across the pool
    # (small products, and large ones on each thread's GEMM).
    for a_batch, b_batch, m, k, n in [((2,), (2,), 3, 4, 5), ((3, 1), (4,), 2, 3, 2), ((), (2, 1), 3, 2, 4),
                                      ((2,), (), 40, 50, 30), ((0,), (1,), 2, 3, 4), ((3, 1), (1, 3), 40, 50, 30),
                                      ((9,), (), 5, 6, 7)]:
        a = tf.placeholder(dtype, a_batch + ((k, m) if adj_x else (m, k)))
        b = tf.placeholder(dtype, b_batch + ((n, k) if adj_y else (k, n)))
        for p in (a, b):
            shape = p.shape.as_list()
            feeds[p] = rng.uniform(-1, 1, shape) if dtype.is_floating else rng.randint(-9, 9, shape)
        ops.append(tf.matmul(a, b, adjoint_a=adj_x, transpose_b=adj_y))
    assert all(op.op.type == "BatchMatMulV2" for op in ops)
    assert_same(ops, feeds, rtol=1e-5, atol=1e-5)


def test_batch_matmul_of_unknown_batch_sizes():
    a = tf.placeholder(tf.float32, [None, None, 3])
    b = tf.placeholder(tf.float32, [3, 2])
    y = tf.matmul(a, b)
    assert y.shape.as_list() == [None, None, 2]
    assert_same([y], {a: np.ones((4, 5, 3)), b: np.arange(6.0).reshape(3, 2)})


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32, tf.int64])
def test_top_k_values_and_indices(dtype):
    x = tf.placeholder(dtype, [3, 7])
    rng = np.random.RandomState(10)
    values = rng.randint(-3, 4, (3, 7)).astype(dtype.np_dtype)  # many ties: lower index first
    if dtype.is_floating:
        values[0, 2], values[1, 4], values[1, 5], values[2, 0] = np.nan, np.inf, -0.0, -np.inf
    ops = []
    for k in (0, 1, 3, 7):
        ops += list(tf.nn.top_k(x, k))
    ops += list(tf.nn.top_k(tf.reshape(x, [3, 1, 7]), 2, sorted=False))
    assert_same(ops, {x: values})


def test_top_k_of_a_long_row_and_of_no_rows():
    x = tf.placeholder(tf.float32, [None, 1000])
    values = np.random.RandomState(11).normal(size=(2, 1000))
    assert_same(list(tf.nn.top_k(x, 50)), {x: values})
    assert_same(list(tf.nn.top_k(x, 5)), {x: np.zeros((0, 1000))})


def test_lrn_and_its_gradient_follow_tf_formulas():
    """LRN's output and TF's LRNGrad formula: dx = dy * scale ** -beta - 2 * alpha * beta * x *
    sum over the window of dy * y / scale, scale = bias + alpha * sum over the window of x ** 2."""
    x = tf.placeholder(tf.float32, [2, 2, 3, 6])
    values = np.random.RandomState(12).normal(size=(2, 2, 3, 6)).astype(np.float32)
    radius, bias, alpha, beta = 2, 1.5, 0.3, 0.75
    y = tf.nn.lrn(x, radius, bias, alpha, beta)
    dy = np.random.RandomState(13).normal(size=(2, 2, 3, 6)).astype(np.float32)
    (dx,) = tf.gradients(y, x, grad_ys=tf.constant(dy))
    compiled_y, compiled_dx = tf.Session().run([y, dx], {x: values})

    def window_sum(a):
        padded = np.pad(a.astype(np.float64), [(0, 0)] * 3 + [(radius, radius)])
        return sum(padded[..., i:i + a.shape[-1]] for i in range(2 * radius + 1))

    scale = bias + alpha * window_sum(values ** 2)
    expected_y = values * scale ** -beta
    expected_dx = dy * scale ** -beta - 2 * alpha * beta * values * window_sum(dy * expected_y / scale)
    np.testing.assert_allclose(compiled_y, expected_y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(compiled_dx, expected_dx, rtol=1e-4, atol=1e-5)
    assert_same([y, dx], {x: values}, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_integer_max_pool(dtype):
    x = tf.placeholder(dtype, [2, 5, 6, 9])
    values = np.random.RandomState(14).randint(-2 ** 30, 2 ** 30, (2, 5, 6, 9))
    values[0, :2, :2, 0] = np.iinfo(dtype.np_dtype).min  # a window of the lowest value
    assert_same([tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME"), tf.nn.max_pool(x, [1, 3, 3, 1], [1, 1, 1, 1],
                                                                                       "VALID")], {x: values})
