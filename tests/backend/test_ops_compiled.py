"""Every op compiled through LLVM agrees with the NumPy reference interpreter.

Each test builds one graph holding many ops (one compile), runs it in a
Session and through the interpreter on the same inputs, and compares.
"""

import numpy as np
import pytest

import graphc as tf
from tests.helpers import interpret_graph

SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-30, -1e30, 88.0, -88.0, np.inf, -np.inf, np.nan])


def assert_same(fetches, feeds, rtol=2e-6, atol=1e-6):
    compiled = tf.Session().run(list(fetches), feeds)
    reference = interpret_graph(list(fetches), feeds)
    for tensor, c, r in zip(fetches, compiled, reference):
        c, r = np.asarray(c), np.asarray(r)
        assert c.dtype == r.dtype and c.shape == r.shape, tensor.name
        if c.dtype.kind == "f":
            np.testing.assert_allclose(c, r, rtol=rtol, atol=atol, equal_nan=True, err_msg=tensor.name)
        else:
            np.testing.assert_array_equal(c, r, err_msg=tensor.name)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_float_unary_ops_on_special_values(dtype):
    x = tf.placeholder(dtype, [None])
    ops = [-x, tf.square(x), tf.sqrt(x), tf.rsqrt(x), tf.exp(x), tf.log(x), tf.abs(x), tf.sign(x), tf.tanh(x),
           tf.sigmoid(x), tf.reciprocal(x), tf.nn.relu(x)]
    assert_same(ops, {x: SPECIAL})


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_elementary_functions_and_activations_on_special_values(dtype):
    x = tf.placeholder(dtype, [None])
    ops = [tf.sin(x), tf.cos(x), tf.tan(x), tf.erf(x), tf.log1p(x), tf.expm1(x), tf.floor(x), tf.ceil(x),
           tf.round(x), tf.nn.softplus(x), tf.nn.elu(x), tf.nn.selu(x), tf.nn.leaky_relu(x),
           tf.nn.leaky_relu(x, alpha=1.5), tf.log_sigmoid(x)]
    values = np.concatenate([SPECIAL, [0.5, 1.5, 2.5, -0.5, -1.5, 1e-8, -1e-8, -0.99, -1.0, -1.5, 14.0, -14.0, 20.0]])
    assert_same(ops, {x: values}, rtol=4e-6)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_erf_of_infinities_is_one(dtype):
    # As C's erf and TF 1.15 give; TF 2.21's float64 Erf gives NaN there.
    x = tf.placeholder(dtype, [2])
    np.testing.assert_array_equal(tf.Session().run(tf.erf(x), {x: [np.inf, -np.inf]}), [1.0, -1.0])


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_integer_remainders(dtype):
    x = tf.placeholder(dtype, [None])
    y = tf.placeholder(dtype, [None])
    lowest = np.iinfo(dtype.as_numpy_dtype).min
    feeds = {x: [7, -7, 7, -7, 0, lowest, lowest, 5], y: [3, 3, -3, -3, -4, -1, 1, 7]}
    assert_same([tf.floormod(x, y), x % y, 7 % y, tf.truncatediv(x, y), tf.truncatemod(x, y)], feeds)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_float_remainders_and_atan2(dtype):
    x = tf.placeholder(dtype, [3, 1, 4])
    y = tf.placeholder(dtype, [5, 1])
    rng = np.random.RandomState(3)
    xs, ys = rng.uniform(-9, 9, (3, 1, 4)), rng.uniform(-4, 4, (5, 1))
    xs[0, 0, :] = [np.nan, np.inf, -0.0, 0.0]
    ys[:4, 0] = [0.0, -0.0, np.inf, -np.inf]
    assert_same([tf.floormod(x, y), x % y, tf.truncatediv(x, y), tf.truncatemod(x, y), tf.atan2(x, y)], {x: xs, y: ys})


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_integer_unary_ops(dtype):
    x = tf.placeholder(dtype, [None])
    values = np.array([0, 1, -1, 7, -300, 2 ** 20, -(2 ** 20)])
    assert_same([-x, tf.square(x), tf.abs(x), tf.sign(x), tf.nn.relu(x)], {x: values})


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32, tf.int64])
def test_binary_ops_with_broadcasting(dtype):
    x = tf.placeholder(dtype, [3, 1, 4])
    y = tf.placeholder(dtype, [5, 1])
    rng = np.random.RandomState(0)
    if dtype.is_floating:
        xs, ys = rng.uniform(-3, 3, (3, 1, 4)), rng.uniform(0.5, 3, (5, 1))
        xs[0, 0, 0], ys[0, 0] = np.nan, np.inf
    else:
        xs, ys = rng.randint(-50, 50, (3, 1, 4)), rng.randint(1, 9, (5, 1)) * rng.choice([-1, 1], (5, 1))
    ops = [x + y, x - y, x * y, tf.maximum(x, y), tf.minimum(x, y), tf.floordiv(x, y), tf.equal(x, y),
           tf.not_equal(x, y), x < y, x <= y, x > y, x >= y]
    if dtype.is_floating:
        ops += [x / y, tf.pow(tf.abs(x), y)]
    assert_same(ops, {x: xs, y: ys})


def test_logical_select_and_add_n():
    a = tf.placeholder(tf.bool, [4])
    b = tf.placeholder(tf.bool, [4])
    x = tf.placeholder(tf.float32, [2, 4])
    feeds = {a: [True, False, True, False], b: [True, True, False, False], x: np.arange(8.0).reshape(2, 4)}
    assert_same([tf.logical_and(a, b), tf.logical_or(a, b), tf.logical_not(a), tf.where(a, x, -x),
                 tf.add_n([x, x * 2, x * 3])], feeds)


def test_casts_between_all_dtypes():  # float -> int edge values: tests/backend/test_edge_values.py
    values = np.array([0.0, 1.9, -1.9, 3e9, -3e9, 1e20, np.nan, np.inf, -np.inf, 255.5])
    x = tf.placeholder(tf.float64, [None])
    ops = []
    for source in (tf.float64, tf.float32):
        for target in (tf.float32, tf.float64, tf.int32, tf.int64, tf.bool):
            ops.append(tf.cast(tf.cast(x, source), target))
    i = tf.placeholder(tf.int64, [None])
    ops += [tf.cast(i, d) for d in (tf.int32, tf.float32, tf.float64, tf.bool)]
    ops += [tf.cast(tf.cast(i, tf.bool), d) for d in (tf.int32, tf.float32)]
    assert_same(ops, {x: values, i: np.array([0, 5, -7, 2 ** 40, -(2 ** 33)])})


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32])
@pytest.mark.parametrize("transpose_a, transpose_b", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_layouts(dtype, transpose_a, transpose_b):
    rng = np.random.RandomState(1)
    m, k, n = 7, 5, 9
    a_shape = (k, m) if transpose_a else (m, k)
    b_shape = (n, k) if transpose_b else (k, n)
    a = tf.placeholder(dtype, a_shape)
    b = tf.placeholder(dtype, b_shape)
    sample = (lambda s: rng.uniform(-1, 1, s)) if dtype.is_floating else (lambda s: rng.randint(-9, 9, s))
    assert_same([tf.matmul(a, b, transpose_a=transpose_a, transpose_b=transpose_b)],
                {a: sample(a_shape), b: sample(b_shape)}, rtol=1e-5)


# Shapes that take the GEMM library (above the small-product threshold) and reach its
# edges: M past one MC block (252 here), K past one KC block (256), partial MR x NR tiles,
# blocks one panel wide, which read A in place instead of packing it, and edge panels at most
# one vector wide, which take the narrow micro-kernel (packed A: n = 17, 37, 100; in place: n = 5).
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("transpose_a, transpose_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("m, k, n", [(300, 70, 17), (13, 300, 37), (100, 100, 10), (37, 300, 9), (64, 48, 96),
                                     (100, 300, 100), (60, 200, 5)])
def test_library_gemm_with_fused_epilogue(dtype, transpose_a, transpose_b, m, k, n):
    rng = np.random.RandomState(m + k + n)
    a = tf.placeholder(dtype, (k, m) if transpose_a else (m, k))
    b = tf.placeholder(dtype, (n, k) if transpose_b else (k, n))
    bias = tf.placeholder(dtype, (n,))
    product = tf.matmul(a, b, transpose_a=transpose_a, transpose_b=transpose_b)
    feeds = {a: rng.uniform(-1, 1, a.shape.as_list()), b: rng.uniform(-1, 1, b.shape.as_list()),
             bias: rng.uniform(-1, 1, n)}
    assert_same([tf.nn.relu(product + bias)], feeds, rtol=1e-4, atol=1e-4)


def test_matmul_with_empty_dimensions():
    a = tf.placeholder(tf.float32, [None, None])
    b = tf.placeholder(tf.float32, [None, 3])
    assert_same([tf.matmul(a, b)], {a: np.zeros((0, 4)), b: np.ones((4, 3))})
    assert_same([tf.matmul(a, b)], {a: np.zeros((2, 0)), b: np.ones((0, 3))})


@pytest.mark.parametrize("dtype", [tf.float32, tf.int32])
def test_reductions(dtype):
    x = tf.placeholder(dtype, [3, 4, 5])
    values = np.random.RandomState(2).uniform(-5, 5, (3, 4, 5))
    values = values if dtype.is_floating else np.round(values)
    ops = []
    for reduce in (tf.reduce_sum, tf.reduce_mean, tf.reduce_max, tf.reduce_min):
        for axis in (None, 0, 1, -1, [0, 2], [1, 2]):
            ops.append(reduce(x, axis=axis))
        ops.append(reduce(x, axis=1, keepdims=True))
    ops += [tf.argmax(x, 1), tf.argmin(x, 0), tf.argmax(x, -1, output_type=tf.int32)]
    assert_same(ops, {x: values}, rtol=1e-5)


def test_reductions_over_empty_axes_give_tf_answers():
    x = tf.placeholder(tf.float32, [None, 3])
    assert_same([tf.reduce_sum(x, 0), tf.reduce_mean(x, 0), tf.reduce_max(x, 0), tf.reduce_min(x)],
                {x: np.zeros((0, 3))})


def test_argmax_ties_go_to_the_first_index_and_nan_never_wins():
    x = tf.placeholder(tf.float32, [3, 4])
    values = np.array([[1, 3, 3, 0], [np.nan, 2, np.nan, 5], [-1, -1, -1, -1]])
    assert_same([tf.argmax(x, 1), tf.argmin(x, 1)], {x: values})


@pytest.mark.parametrize("shape", [(5,), (4, 7), (2, 3, 6)])
def test_softmax_family(shape):
    x = tf.placeholder(tf.float32, shape)
    values = np.random.RandomState(3).normal(0, 3, shape)
    assert_same([tf.nn.softmax(x), tf.nn.log_softmax(x), tf.nn.softmax(x, axis=0)], {x: values})


@pytest.mark.parametrize("label_dtype", [tf.int32, tf.int64])
def test_sparse_cross_entropy_and_its_gradient(label_dtype):
    logits = tf.placeholder(tf.float32, [None, 10])
    labels = tf.placeholder(label_dtype, [None])
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    (grad,) = tf.gradients(tf.reduce_mean(loss), logits)
    rng = np.random.RandomState(4)
    assert_same([loss, grad], {logits: rng.normal(0, 5, (8, 10)), labels: rng.randint(0, 10, 8)})


def test_in_top_k_follows_tf_rules():
    predictions = tf.placeholder(tf.float32, [5, 4])
    targets = tf.placeholder(tf.int32, [5])
    values = np.array([[0.1, 0.9, 0.5, 0.2], [0.3, 0.3, 0.3, 0.1], [1, 2, 3, 4], [1, np.inf, 0, 0], [1, 2, 3, 4]])
    feeds = {predictions: values, targets: np.array([1, 0, 1, 0, 7])}
    assert_same([tf.nn.in_top_k(predictions, targets, 1), tf.nn.in_top_k(predictions, targets, 3)], feeds)


def test_layout_ops():
    x = tf.placeholder(tf.float32, [2, 3, 4])
    s = tf.placeholder(tf.float32, [])
    values = np.arange(24.0).reshape(2, 3, 4)
    assert_same([tf.reshape(x, [4, -1]), tf.transpose(x, [2, 0, 1]), tf.transpose(x), tf.transpose(x, [0, 2, 1]),
                 tf.broadcast_to(tf.reshape(tf.reduce_sum(x, 0), [1, 3, 4]), [5, 3, 4]),
                 tf.fill([2, 2], s), tf.zeros_like(x) + s, tf.identity(x)], {x: values, s: 2.5})


def test_tile_zeros_like_and_shape_n():
    from graphc.frontend.graph import apply_op

    x = tf.placeholder(tf.float32, [None, 3, 2])
    flags = tf.placeholder(tf.bool, [2])
    values = np.arange(24.0).reshape(4, 3, 2)
    fetches = [tf.tile(x, [2, 1, 3]), tf.tile(x, [1, 0, 2]), tf.tile(flags, [3]), tf.tile(x[0, 0, 0], []),
               apply_op("zeros_like", [x]), apply_op("zeros_like", [flags])]
    fetches += tf.shape_n([x, flags, tf.tile(x, [3, 1, 1])])
    assert [t.op.type for t in fetches[:6]] == ["Tile"] * 4 + ["ZerosLike"] * 2
    assert_same(fetches, {x: values, flags: [True, False]})
    np.testing.assert_array_equal(tf.Session().run(fetches[0], {x: values}), np.tile(values, [2, 1, 3]))


def test_apply_adam_updates_var_and_both_slots_as_tfs_kernel():
    from graphc.ops import state_ops

    rng = np.random.RandomState(2)
    w, m, v, g = (rng.rand(3, 2).astype(np.float32) for _ in range(4))
    var, m_var, v_var = tf.Variable(w), tf.Variable(m), tf.Variable(v)
    update = state_ops.apply_adam(var, m_var, v_var, 0.81, 0.998, 0.01, 0.9, 0.999, 1e-8, tf.constant(g))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        new_w = sess.run(update)
        new_m, new_v = sess.run([m_var, v_var])
    # TF1's ApplyAdam kernel (training_ops.cc), in float64
    lr_t = 0.01 * np.sqrt(1 - 0.998) / (1 - 0.81)
    expected_m = m + (g - m) * (1 - 0.9)
    expected_v = v + (g * g - v) * (1 - 0.999)
    np.testing.assert_allclose(new_m, expected_m, rtol=1e-6)
    np.testing.assert_allclose(new_v, expected_v, rtol=1e-6)
    np.testing.assert_allclose(new_w, w - lr_t * expected_m / (np.sqrt(expected_v) + 1e-8), rtol=1e-5)


def test_momentum_adagrad_and_rmsprop_updates_as_tfs_kernels():
    from graphc.ops import state_ops

    rng = np.random.RandomState(4)
    w, a, b, g = (rng.rand(2, 3).astype(np.float32) + 0.1 for _ in range(4))
    variables = [tf.Variable(value) for value in (w, a, w, a, w, a, b)]
    updates = [state_ops.apply_momentum(variables[0], variables[1], 0.1, tf.constant(g), 0.9),
               state_ops.apply_adagrad(variables[2], variables[3], 0.1, tf.constant(g)),
               state_ops.apply_rms_prop(variables[4], variables[5], variables[6], 0.01, 0.9, 0.5, 1e-10,
                                        tf.constant(g))]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(updates)
        got = sess.run(variables)
    # TF1's kernels (training_ops.cc)
    accum = a * 0.9 + g
    np.testing.assert_allclose(got[:2], [w - 0.1 * accum, accum], rtol=1e-6)
    accum = a + g * g
    np.testing.assert_allclose(got[2:4], [w - 0.1 * g / np.sqrt(accum), accum], rtol=1e-6)
    ms = a + (g * g - a) * (1 - 0.9)
    mom = b * 0.5 + 0.01 * g / np.sqrt(ms + 1e-10)
    np.testing.assert_allclose(got[4:], [w - mom, ms, mom], rtol=1e-5)


def test_rmsprop_update_groups_as_tfs_kernel():
    # TF's ms += (g * g - ms) * (1 - rho) turns an infinite ms into NaN (inf - inf) where ms * rho + g * g *
    # (1 - rho) stays infinite (a fuzz-tf finding).
    from graphc.ops import state_ops

    var, ms, mom = (tf.Variable(np.float32([1.0, 1.0])) for _ in range(3))
    update = state_ops.apply_rms_prop(var, ms, mom, 0.01, 0.9, 0.5, 1e-10, tf.constant(np.float32([1e30, 1.0])))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(update)  # ms[0] = inf
        sess.run(update)
        assert np.isnan(sess.run(ms)[0]) and np.isfinite(sess.run(ms)[1])
