"""float16, int8, int16, uint8 and uint16 compiled: stored, cast and computed as TensorFlow does.

Each test runs one graph compiled and through the NumPy reference interpreter and
compares (`assert_same`); the casts also against TF 2.21's answers pinned as literals
(Eigen's casts: a float reaches a narrow integer through int32 and keeps its low bits,
anything reaches float16 through float32), asked of TF itself when it is installed.
"""

import numpy as np
import pytest

import graphc as tf
from tests.helpers import interpret_graph
from tests.tf_oracle import tensorflow_answers

NARROW = [tf.float16, tf.int8, tf.int16, tf.uint8, tf.uint16]
SIGNED_NARROW = [tf.float16, tf.int8, tf.int16]
ALL = [tf.float16, tf.float32, tf.float64, tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.uint16, tf.bool]


def assert_same(fetches, feeds, rtol=0.0):
    compiled = tf.Session().run(list(fetches), feeds)
    reference = interpret_graph(list(fetches), feeds)
    for tensor, c, r in zip(fetches, compiled, reference):
        c, r = np.asarray(c), np.asarray(r)
        assert c.dtype == r.dtype and c.shape == r.shape, tensor.name
        if c.dtype.kind == "f" and rtol:
            np.testing.assert_allclose(c, r, rtol=rtol, equal_nan=True, err_msg=tensor.name)
        else:
            np.testing.assert_array_equal(c, r, err_msg=tensor.name)


def values_of(dtype, shape, seed=0):
    """Values spanning `dtype`'s range (its extremes included), NaN and infinities for float16."""
    rng = np.random.default_rng(seed)
    if dtype.is_floating:
        values = rng.uniform(-300, 300, shape).astype(np.float16)
        flat = values.reshape(-1)
        flat[:6] = [np.nan, np.inf, -np.inf, 65504, -0.0, 6e-8]
        return values
    info = np.iinfo(dtype.as_numpy_dtype)
    values = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype.as_numpy_dtype)
    values.reshape(-1)[:2] = [info.min, info.max]
    return values


@pytest.mark.parametrize("dtype", NARROW, ids=lambda d: d.name)
def test_placeholders_constants_and_variables_keep_their_values(dtype):
    x = tf.placeholder(dtype, [None, 5])
    values = values_of(dtype, (7, 5))
    variable = tf.Variable(values[:2], name="v")
    update = tf.assign(variable, x[:2])
    with tf.Session() as sess:
        sess.run(variable.initializer)
        fetched, constant, before, after = sess.run([tf.identity(x), tf.constant(values), variable.value(), update],
                                                    {x: values[::-1]})
    assert fetched.dtype == dtype.as_numpy_dtype and constant.dtype == dtype.as_numpy_dtype
    np.testing.assert_array_equal(fetched, values[::-1])
    np.testing.assert_array_equal(constant, values)
    np.testing.assert_array_equal(after, values[::-1][:2])


def test_casts_between_every_pair_of_dtypes():
    floats = np.array([0.0, 1.9, -1.9, 127.5, -128.5, 255.9, 300.7, -200.5, 40000.5, 70000.5, -70000.0, 65519.99,
                       65520.0, 3e9, -3e9, 1e20, 1 + 2 ** -11 + 2 ** -40, np.nan, np.inf, -np.inf])
    integers = np.array([0, 1, -1, 127, -128, 200, 255, 300, -200, 2049, 32767, -32768, 40000, 65535, 70000,
                         2 ** 31 - 1, -2 ** 31, 2 ** 40])
    x, i = tf.placeholder(tf.float64, [None]), tf.placeholder(tf.int64, [None])
    fetches = []
    for source in ALL:
        for target in ALL:
            fetches += [tf.cast(tf.cast(x, source), target), tf.cast(tf.cast(i, source), target)]
    assert_same(fetches, {x: floats, i: integers})


def _cast_cases(tf):
    floats = [300.7, -200.5, -1.0, 70000.5, -70000.0, float("nan"), float("inf"), 65504.0, 1e10, 2.5, -2.5]
    integers = [300, -200, -1, 70000, 2 ** 31 - 1, -2 ** 31, 2049, 65519, 65520]
    x, i = tf.placeholder(tf.float32, [None]), tf.placeholder(tf.int32, [None])
    wide = tf.placeholder(tf.float64, [None])
    fetches = [tf.cast(x, d) for d in (tf.int8, tf.int16, tf.uint8, tf.uint16, tf.float16)]
    fetches += [tf.cast(i, d) for d in (tf.int8, tf.uint8, tf.uint16, tf.float16)]
    fetches += [tf.cast(tf.cast(x, tf.float16), d) for d in (tf.int8, tf.uint16, tf.int32)]
    fetches += [tf.cast(wide, tf.float16), tf.cast(tf.constant([255, 128], tf.uint8), tf.int8),
                tf.cast(tf.constant([-1, -128], tf.int8), tf.uint16),
                tf.cast(tf.constant([65535], tf.uint16), tf.float16)]
    return fetches, {x: floats, i: integers, wide: [1 + 2 ** -11 + 2 ** -40, 65519.99]}


def _run_casts(tf):
    fetches, feeds = _cast_cases(tf)
    with tf.Session() as sess:
        return [np.asarray(v).tolist() for v in sess.run(fetches, feeds)]


NAN, INF = float("nan"), float("inf")
# TF 2.21's answers (x86, TF_ENABLE_ONEDNN_OPTS=0).
TF_CASTS = [
    [44, 56, -1, 112, -112, 0, 0, -32, 0, 2, -2],
    [300, -200, -1, 4464, -4464, 0, 0, -32, 0, 2, -2],
    [44, 56, 255, 112, 144, 0, 0, 224, 0, 2, 254],
    [300, 65336, 65535, 4464, 61072, 0, 0, 65504, 0, 2, 65534],
    [300.75, -200.5, -1.0, INF, -INF, NAN, INF, 65504.0, INF, 2.5, -2.5],
    [44, 56, -1, 112, -1, 0, 1, -17, -16],
    [44, 56, 255, 112, 255, 0, 1, 239, 240],
    [300, 65336, 65535, 4464, 65535, 0, 2049, 65519, 65520],
    [300.0, -200.0, -1.0, INF, INF, -INF, 2048.0, 65504.0, INF],
    [44, 56, -1, 0, 0, 0, 0, -32, 0, 2, -2],
    [300, 65336, 65535, 0, 0, 0, 0, 65504, 0, 2, 65534],
    [300, -200, -1, -2 ** 31, -2 ** 31, -2 ** 31, -2 ** 31, 65504, -2 ** 31, 2, -2],
    [1.0, 65504.0], [-1, -128], [65535, 65408], [INF],
]
CASTS = {"casts": (_run_casts, TF_CASTS)}


def test_casts_give_tensorflows_answers():
    assert repr(_run_casts(tf)) == repr(TF_CASTS)
    fetches, feeds = _cast_cases(tf)
    assert repr([np.asarray(v).tolist() for v in interpret_graph(fetches, feeds)]) == repr(TF_CASTS)


def test_tensorflow_gives_the_pinned_casts():
    assert tensorflow_answers(__file__, "CASTS")["casts"] == ["OK", repr(TF_CASTS)]


@pytest.mark.parametrize("dtype", NARROW, ids=lambda d: d.name)
def test_elementwise_arithmetic_and_comparisons(dtype):
    # Shapes long enough for the vector loops, with broadcasting; integers wrap as TF's do.
    x, y = tf.placeholder(dtype, [3, 37]), tf.placeholder(dtype, [37])
    xs, ys = values_of(dtype, (3, 37)), values_of(dtype, (37,), seed=1)
    if not dtype.is_floating:
        ys[ys == 0] = 3  # floordiv by zero fails: tests/e2e below
    fetches = [x + y, x - y, x * y, tf.floordiv(x, y), tf.maximum(x, y), tf.minimum(x, y), tf.square(x),
               tf.nn.relu(x), tf.equal(x, y), tf.not_equal(x, y), x < y, x <= y, x > y, x >= y,
               tf.where(x > y, x, y), tf.add_n([x, x * x, x]), tf.nn.bias_add(x, y)]
    if dtype in SIGNED_NARROW:
        fetches += [-x, tf.abs(x), tf.sign(x)]
    if not dtype.is_floating:  # unsigned ones divide as unsigned (udiv, urem)
        fetches += [x % y, tf.truncatemod(x, y), tf.truncatediv(x, y)]
    if dtype.is_floating:
        fetches += [x / y, tf.sqrt(x), tf.rsqrt(x), tf.exp(x / 50), tf.log(x), tf.tanh(x / 100), tf.sigmoid(x / 100),
                    tf.reciprocal(x), tf.pow(tf.abs(x) / 100, y / 100)]
    with np.errstate(all="ignore"):
        assert_same(fetches, {x: xs, y: ys}, rtol=1e-3 if dtype.is_floating else 0.0)


def test_float16_arithmetic_rounds_to_half_after_each_op():
    # TF computes each float16 op in float32 and rounds to half, as NumPy does: a fused chain of
    # them gives NumPy's answer exactly, not that of the chain computed in float32 and rounded once.
    x, y, z = (tf.placeholder(tf.float16, [4096]) for _ in range(3))
    rng = np.random.default_rng(2)
    xs, ys, zs = (rng.uniform(-100, 100, 4096).astype(np.float16) for _ in range(3))
    with tf.Session() as sess:
        got = sess.run((x * y + z) / y - x, {x: xs, y: ys, z: zs})
    with np.errstate(all="ignore"):
        expected = (xs * ys + zs) / ys - xs
        once = ((xs.astype(np.float32) * ys + zs) / ys - xs).astype(np.float16)
    np.testing.assert_array_equal(got, expected)
    assert np.any(expected != once)  # the test tells the two apart


@pytest.mark.parametrize("dtype", NARROW, ids=lambda d: d.name)
def test_reductions(dtype):
    x = tf.placeholder(dtype, [33, 64])
    xs = values_of(dtype, (33, 64))
    if dtype.is_floating:
        xs = np.abs(np.nan_to_num(xs, posinf=1.0, neginf=1.0))
    fetches = []
    for axes in (None, 0, 1):
        fetches += [tf.reduce_sum(x, axes), tf.reduce_mean(x, axes), tf.reduce_max(x, axes), tf.reduce_min(x, axes),
                    tf.argmax(x, axes or 0), tf.argmin(x, axes or 0)]
    assert_same(fetches, {x: xs}, rtol=2e-3 if dtype.is_floating else 0.0)


def test_reductions_accumulate_as_tensorflow():
    # TF 2.21: float16 sums accumulate in float32; narrow integer sums wrap, their means do not.
    with tf.Session() as sess:
        assert sess.run(tf.reduce_sum(tf.ones([5000], tf.float16))) == 5000
        small = tf.placeholder(tf.int8, [3])
        assert sess.run(tf.reduce_sum(small), {small: [100, 100, 100]}) == 44
        x = tf.placeholder(tf.uint8, [3])
        assert sess.run(tf.reduce_mean(x), {x: [200, 200, 255]}) == 218


@pytest.mark.parametrize("dtype", NARROW, ids=lambda d: d.name)
def test_layout_ops_copy_every_dtype(dtype):
    x = tf.placeholder(dtype, [4, 5, 6])
    xs = values_of(dtype, (4, 5, 6))
    fetches = [tf.transpose(x, [2, 0, 1]), tf.reshape(x, [20, 6]), x[1:3, ::2, ::-1], tf.slice(x, [1, 0, 2], [2, 3, 4]),
               tf.concat([x, x[:, :1]], 1), tf.pad(x, [[1, 0], [0, 2], [1, 1]]), tf.expand_dims(x, 1),
               tf.broadcast_to(x[:1], [3, 4, 5, 6]), tf.fill([3], x[0, 0, 0]), tf.zeros_like(x)]
    assert_same(fetches, {x: xs})


def test_what_tensorflow_refuses_for_narrow_types():
    small, unsigned = tf.placeholder(tf.int8, [2, 2]), tf.placeholder(tf.uint8, [2])
    with pytest.raises(TypeError, match="int8 not in list of allowed values"):
        tf.matmul(small, small)  # TF has no int8 MatMul
    for refused in (tf.negative, tf.abs, tf.sign, tf.sqrt):
        with pytest.raises(TypeError, match="uint8 not in list of allowed values"):
            refused(unsigned)


def test_kernels_graphc_lacks_for_narrow_types_are_named():
    # float16 runs through float32 code (tests/backend/test_half_in_float32.py); narrow integers have none.
    x = tf.placeholder(tf.int8, [1, 4, 4, 1])
    with tf.Session() as sess, pytest.raises(tf.errors.UnimplementedError,
                                             match=r"graphc has no code for MaxPool on int8 \('pool'\)"):
        sess.run(tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID", name="pool"), {x: np.ones((1, 4, 4, 1))})


def test_integer_division_by_zero_fails_for_narrow_integers():
    x = tf.placeholder(tf.uint8, [3])
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match="Integer division by zero"):
        sess.run(tf.floordiv(x, x), {x: [1, 0, 2]})


def test_check_numerics_of_float16_sees_what_overflows_half():
    x = tf.placeholder(tf.float16, [None])
    checked = tf.check_numerics(x * 2, "doubled")
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(checked, {x: np.arange(40.0)}), np.arange(40.0) * 2)
        with pytest.raises(tf.errors.InvalidArgumentError, match="doubled : Tensor had Inf values"):
            sess.run(checked, {x: [40000.0] + [1.0] * 33})  # 80000 is beyond half's 65504
        with pytest.raises(tf.errors.InvalidArgumentError, match="doubled : Tensor had NaN values"):
            sess.run(checked, {x: [1.0, np.nan]})
