"""Layout ops compiled through LLVM agree with the reference interpreter (and with NumPy's indexing).

Each test builds many ops into one graph (one compile) and feeds several shapes
through the same placeholders, size-0 and size-1 dimensions among them.
"""

import numpy as np
import pytest

import graphc as tf
from graphc.frontend.graph import apply_op
from tests.backend.test_ops_compiled import assert_same
from tests.helpers import interpret_graph

DTYPES = [tf.float32, tf.float64, tf.int32, tf.int64, tf.bool]


def _values(dtype, shape, seed=0):
    rng = np.random.RandomState(seed)
    if dtype is tf.bool:
        return rng.rand(*shape) > 0.5
    return (rng.uniform(-50, 50, shape)).astype(dtype.np_dtype)


def test_layout_ops_on_every_dtype():
    """Every op in float32; the kernels' loads and stores (copy, fill) in every other dtype."""
    xs = {dtype: tf.placeholder(dtype, [None, None, 4]) for dtype in DTYPES}
    ys = {dtype: tf.placeholder(dtype, [None, None, 2]) for dtype in DTYPES}
    x, y = xs[tf.float32], ys[tf.float32]
    ops = [tf.concat([x, x], axis=0), tf.stack([x, x, x], axis=1), tf.slice(x, [0, 0, 1], [-1, -1, 2]),
           tf.slice(y, [0, 0, 1], [-1, -1, 0]), x[..., 1], x[-1:, None, :, 1::2], tf.expand_dims(x, 0),
           tf.squeeze(tf.expand_dims(y, 2), axis=2), tf.unstack(x, axis=2)[3]]
    for dtype in DTYPES:
        x, y = xs[dtype], ys[dtype]
        ops += [tf.concat([x, y, x], axis=-1), x[:, 1:, ::-1]]
        if dtype is not tf.bool:
            ops += [tf.pad(y, [[1, 0], [2, 1], [0, 1]], constant_values=3)]
    for rows, cols in ((2, 3), (1, 1), (0, 2), (3, 0)):
        feeds = {xs[d]: _values(d, (rows, cols, 4)) for d in DTYPES}
        feeds.update({ys[d]: _values(d, (rows, cols, 2), 1) for d in DTYPES})
        assert_same(ops, feeds)


def test_getitem_matches_numpy_indexing():
    array = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    x = tf.placeholder(tf.float32, [2, 5, 3])
    keys = [0, -1, (1, 2), (slice(None), slice(1, -1)), (Ellipsis, 0), (slice(None, None, -1), 3),
            (slice(None), slice(4, 0, -2), None), (None, Ellipsis, None), (1, slice(-2, None), slice(None, None, 2)),
            (slice(5, 7),), (slice(1, 1),), (slice(None), slice(-100, 100, 3))]
    compiled = tf.Session().run([x[key] for key in keys], {x: array})
    for key, value in zip(keys, compiled):
        np.testing.assert_array_equal(value, array[key], err_msg=str(key))


def test_one_hot_bias_add_and_clip_by_value():
    indices = tf.placeholder(tf.int64, [None])
    grid = tf.placeholder(tf.int32, [2, None])
    x = tf.placeholder(tf.float32, [None, 2, 3])
    bias = tf.placeholder(tf.float32, [3])
    ops = [tf.one_hot(indices, 4), tf.one_hot(indices, 3, on_value=5.0, off_value=-1.0, dtype=tf.float64),
           tf.one_hot(grid, 3, axis=0, dtype=tf.int32), tf.one_hot(grid, 2, axis=1, on_value=True, off_value=False),
           tf.nn.bias_add(x, bias), tf.nn.relu(tf.nn.bias_add(x, bias)), tf.clip_by_value(x, -1.0, 2.0),
           tf.clip_by_value(x, bias - 2.0, bias)]
    rng = np.random.RandomState(2)
    for n in (5, 1, 0):
        assert_same(ops, {indices: np.array([0, 3, -1, 4, 2])[:n], grid: rng.randint(-1, 4, (2, max(n, 1))),
                          x: rng.uniform(-3, 3, (n, 2, 3)), bias: [0.5, -1.0, 2.0]})


def test_dynamic_shapes_resolve_when_compiled():
    x = tf.placeholder(tf.float32, [None, None])
    n = tf.placeholder(tf.int32, [None])
    sliced = tf.slice(x, [1, 0], [-1, 2])
    hot = tf.one_hot(n, 3)
    assert sliced.shape.as_list() == [None, 2] and hot.shape.as_list() == [None, 3]
    sess = tf.Session()
    for rows in (3, 6):
        values = np.arange(rows * 4, dtype=np.float32).reshape(rows, 4)
        np.testing.assert_array_equal(sess.run(sliced, {x: values}), values[1:, :2])
        assert sess.run(hot, {n: np.zeros(rows, np.int32)}).shape == (rows, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected size\[1\] in \[0, 1\], but got 2"):
        sess.run(sliced, {x: np.zeros((3, 1), np.float32)})
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected begin\[0\] in \[0, 0\], but got 1"):
        sess.run(sliced, {x: np.zeros((0, 2), np.float32)})


def test_build_time_shape_errors():
    x = tf.placeholder(tf.float32, [2, 3])
    cases = [
        (lambda: tf.concat([x, tf.zeros([2, 3, 1])], 0), "Shape must be rank 2 but is rank 3"),
        (lambda: tf.concat([x, tf.zeros([3, 4])], 1), "Dimension 0 in both shapes must be equal, but are 2 and 3"),
        (lambda: tf.concat([x, x], 2), r"Expected axis in the range \[-2, 2\), but got 2"),
        (lambda: tf.stack([x, tf.zeros([3, 2])]), "incompatible"),
        (lambda: tf.slice(x, [0], [1]), "Expected begin and size arguments to be 1-D tensors of size 2"),
        (lambda: x[2], "slice index 2 of dimension 0 out of bounds"),
        (lambda: x[0, 0, 0], "Index out of range using input dim 2"),
        (lambda: tf.squeeze(x, [0]), r"Can not squeeze dim\[0\], expected a dimension of 1, got 2"),
        (lambda: tf.expand_dims(x, 4), "Tried to expand dim index 4 for tensor with 2 dimensions"),
        (lambda: tf.pad(x, [[1, 1]]), "The first dimension of paddings must be the rank of inputs"),
        (lambda: tf.pad(x, [[1, 1], [-1, 0]]), "Paddings must be non-negative"),
        (lambda: tf.nn.bias_add(x, tf.zeros([2])), "Dimensions must be equal, but are 3 and 2"),
        (lambda: tf.nn.bias_add(tf.zeros([3]), tf.zeros([3])), "Shape must be at least rank 2 but is rank 1"),
        (lambda: tf.clip_by_value(x, tf.zeros([4, 2, 3]), 1.0), "are not compatible"),
        (lambda: tf.unstack(tf.placeholder(tf.float32, [None, 2])), "Cannot infer num from shape"),
    ]
    for build, message in cases:
        with pytest.raises(ValueError, match=message):
            build()
    with pytest.raises(ValueError, match="Paddings must be non-negative"):
        tf.pad(x, [[1, 1], [-1, 0]], mode="SYMMETRIC")
    # TF 2.21 builds these and refuses them when they run.
    run_time_cases = [
        (lambda: tf.slice(x, [0, 0], [3, 1]), r"Expected size\[0\] in \[0, 2\], but got 3"),
        (lambda: tf.one_hot([1, 2], 3, axis=3), "Expected axis to be -1 or between"),
        (lambda: tf.pad(x, [[2, 0], [1, 1]], mode="REFLECT"),
         "paddings must be less than the dimension size: 2, 0 not less than 2"),
        (lambda: tf.pad(x, [[0, 0], [1, 3]], mode="reflect"),
         "paddings must be less than the dimension size: 1, 3 not less than 3"),
        (lambda: tf.pad(x, [[0, 3], [0, 0]], mode="SYMMETRIC"),
         "paddings must be no greater than the dimension size: 0, 3 greater than 2"),
    ]
    for build, message in run_time_cases:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            tf.Session().run(build(), {x: np.zeros((2, 3))})
    with pytest.raises(ValueError, match="Unknown padding mode: WRAP"):
        tf.pad(x, [[1, 1], [1, 1]], mode="wrap")


@pytest.mark.parametrize("mode", ["REFLECT", "SYMMETRIC"])
def test_mirror_pad_and_its_gradient_on_ranks_1_to_4(mode):
    """MirrorPad against np.pad's reflect/symmetric, MirrorPadGrad against the reference
    scatter-add, in three dtypes; paddings of 9 stand for the largest legal padding."""
    cases = [((5,), [[0, 0]]), ((4,), [[9, 1]]), ((1,), [[9, 9]]), ((3, 4), [[9, 0], [1, 9]]),
             ((2, 1, 3), [[1, 9], [0, 0], [9, 9]]), ((2, 3, 2, 3), [[1, 0], [9, 9], [1, 9], [0, 2]])]
    limit = {"REFLECT": 1, "SYMMETRIC": 0}[mode]
    ops, feeds = [], {}
    for dtype in (tf.float32, tf.float64, tf.int32):
        for shape, paddings in cases:
            paddings = [[min(p, d - limit) for p in pair] for pair, d in zip(paddings, shape)]
            x = tf.placeholder(dtype, [None] * len(shape))
            padded = tf.pad(x, paddings, mode=mode)
            ops += [padded, apply_op("mirror_pad_grad", [padded, tf.constant(paddings)], {"mode": mode})]
            if dtype is tf.float64:
                ops += tf.gradients(tf.reduce_sum(padded * tf.tanh(padded)), x)
            feeds[x] = _values(dtype, shape)
    assert_same(ops, feeds, rtol=1e-5)
    reflected = tf.Session().run(tf.pad(tf.constant([[1, 2, 3], [4, 5, 6]]), [[1, 1], [2, 2]], mode=mode))
    np.testing.assert_array_equal(reflected, np.pad([[1, 2, 3], [4, 5, 6]], [(1, 1), (2, 2)], mode=mode.lower()))


def test_mirror_pad_checks_paddings_of_shapes_known_only_when_run():
    x = tf.placeholder(tf.float32, [None, 3])
    padded = tf.pad(x, [[2, 2], [0, 0]], mode="REFLECT", constant_values=7.0)  # TF ignores the value here
    sess = tf.Session()
    assert sess.run(padded, {x: np.zeros((3, 3))}).shape == (7, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="2, 2 not less than 2"):
        sess.run(padded, {x: np.zeros((2, 3))})


def test_mirror_pad_and_its_gradient_reject_rank_6_when_run_as_tf1():
    """TF1's kernels take ranks 0 to 5 (UnimplementedError 'inputs rank not in [0,5]: 6', checked against
    TensorFlow 2.21); the graph builds, as TF1's shape functions allow it."""
    x = tf.placeholder(tf.float32, [2] * 6)
    paddings = [[1, 0]] * 6
    padded = tf.pad(x, paddings, mode="SYMMETRIC")
    assert padded.shape.as_list() == [3] * 6
    gradient = apply_op("mirror_pad_grad", [x, tf.constant(paddings)], {"mode": "REFLECT"})
    for op in (padded, gradient):
        with pytest.raises(tf.errors.UnimplementedError, match=r"inputs rank not in \[0,5\]: 6"):
            tf.Session().run(op, {x: np.zeros([2] * 6, np.float32)})


def test_names_and_static_shapes_follow_tf1():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    assert x[:, 1].name == "strided_slice:0" and x[:, 1].shape.as_list() == [None]
    assert tf.concat([x, x], 1).name == "concat:0"
    assert tf.stack([x, x]).shape.as_list() == [2, None, 3]
    assert [t.shape.as_list() for t in tf.unstack(x, axis=1)] == [[None]] * 3
    assert tf.pad(x, [[1, 1], [0, 2]]).shape.as_list() == [None, 5]
    assert tf.squeeze(tf.zeros([1, 2, 1])).shape.as_list() == [2]
    assert tf.one_hot(tf.placeholder(tf.int32, [None, 2]), 5, axis=1).shape.as_list() == [None, 5, 2]


def test_identity_where_reduce_min_and_argmin_exist_and_compile():
    x = tf.placeholder(tf.float32, [3, 4])
    rng = np.random.RandomState(3)
    assert_same([tf.identity(x), tf.stop_gradient(x), tf.where(x > 0, x, -2 * x), tf.reduce_min(x, axis=1),
                 tf.argmin(x, axis=1), tf.argmin(x, axis=0, output_type=tf.int32)], {x: rng.uniform(-1, 1, (3, 4))})
    (g,) = tf.gradients(tf.reduce_sum(tf.where(x > 0, x * 3.0, x)), x)
    values = rng.uniform(-1, 1, (3, 4))
    np.testing.assert_array_equal(interpret_graph([g], {x: values})[0], np.where(values > 0, 3.0, 1.0))
