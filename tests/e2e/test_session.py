"""Session.run as TF1 users know it: fetch structures, feeds, default sessions and errors."""

import collections

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver


@pytest.fixture
def model():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    w = tf.Variable([[1.0], [2.0]], name="w")
    y = tf.matmul(x, w, name="y")
    return x, w, y


def test_fetch_structures_are_preserved(model):
    x, w, y = model
    sess = tf.Session()
    sess.run(w.initializer)
    feed = {x: [[1.0, 1.0]]}
    Pair = collections.namedtuple("Pair", "a b")
    result = sess.run({"y": y, "both": [y, (w, "y:0")], "pair": Pair(y, w.initializer)}, feed)
    assert result["y"].tolist() == [[3.0]]
    assert isinstance(result["both"], list) and isinstance(result["both"][1], tuple)
    assert result["both"][1][0].tolist() == [[1.0], [2.0]]
    assert result["both"][1][1].tolist() == [[3.0]]
    assert isinstance(result["pair"], Pair) and result["pair"].b is None


def test_feeds_by_name_and_scalars(model):
    x, w, y = model
    sess = tf.Session()
    sess.run(w.initializer)
    assert sess.run("y:0", {"x:0": [[2.0, 0.0]]}).tolist() == [[2.0]]
    total = sess.run(tf.reduce_sum(y), {x: [[1.0, 1.0]]})
    assert isinstance(total, np.float32) and total == 3.0


def test_eval_and_run_with_default_sessions(model):
    x, w, y = model
    with tf.Session() as sess:
        w.initializer.run()
        assert y.eval({x: [[1.0, 0.0]]}).tolist() == [[1.0]]
        assert tf.get_default_session() is sess
    assert tf.get_default_session() is None
    with pytest.raises(ValueError, match="No default session"):
        y.eval({x: [[1.0, 0.0]]})
    interactive = tf.InteractiveSession()
    w.initializer.run()
    assert w.eval().shape == (2, 1)
    interactive.close()


def test_assignments_update_variables_in_place():
    v = tf.Variable(10, name="counter")
    add = tf.assign_add(v, 5)
    sub = v.assign_sub(3)
    sess = tf.Session()
    sess.run(v.initializer)
    assert sess.run(add) == 15
    assert sess.run(sub) == 12
    assert sess.run(v) == 12
    sess.run(v.assign(0))
    assert sess.run(v) == 0


def test_training_updates_weights_and_global_step():
    x = tf.placeholder(tf.float32, [None, 1])
    w = tf.Variable([[0.0]])
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - 2.0 * x))
    step = tf.Variable(0, trainable=False)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    for _ in range(100):
        result = sess.run(train, {x: [[1.0], [2.0]]})
    assert result is None
    assert sess.run(w)[0, 0] == pytest.approx(2.0, abs=1e-4)
    assert sess.run(step) == 100


def test_one_compilation_per_signature(model, monkeypatch):
    x, w, y = model
    compiled = []
    original = driver.compile_step
    monkeypatch.setattr(driver, "compile_step", lambda *a: compiled.append(1) or original(*a))
    sess = tf.Session()
    sess.run(w.initializer)
    for _ in range(3):
        sess.run(y, {x: np.ones((4, 2))})
    sess.run(y, {x: np.ones((5, 2))})
    assert len(compiled) == 3  # the initializer, batch 4, batch 5


def test_empty_batch_gives_tf_answers():
    x = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int32, [None])
    w = tf.Variable(tf.ones([3, 4]))
    logits = tf.matmul(x, w)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    correct = tf.reduce_sum(tf.cast(tf.nn.in_top_k(logits, labels, 1), tf.int32))
    sess = tf.Session()
    sess.run(w.initializer)
    _, loss_value, logits_value, correct_value = sess.run(
        [train, loss, logits, correct], {x: np.zeros((0, 3)), labels: np.zeros(0)})
    assert np.isnan(loss_value) and logits_value.shape == (0, 4) and correct_value == 0
    np.testing.assert_array_equal(sess.run(w), np.ones((3, 4)))


# -- errors ------------------------------------------------------------------------------


def test_missing_feed(model):
    x, w, y = model
    sess = tf.Session()
    sess.run(w.initializer)
    with pytest.raises(tf.errors.InvalidArgumentError, match="placeholder tensor 'x'"):
        sess.run(y)


@pytest.mark.parametrize("value, message", [
    (np.ones((2, 3)), r"Cannot feed value of shape \(2, 3\) for Tensor 'x:0', which has shape '\(\?, 2\)'"),
    ([[1.0, 2.0], [3.0]], "ragged.*'x:0'"),
    ([["a", "b"]], "non-numeric.*'x:0'"),
    (None, "Cannot feed None for Tensor 'x:0'"),
])
def test_bad_feed_values(model, value, message):
    x, w, y = model
    sess = tf.Session()
    sess.run(w.initializer)
    with pytest.raises(ValueError, match=message):
        sess.run(y, {x: value})


def test_integer_feeds_must_fit():
    i = tf.placeholder(tf.int32, [2], name="i")
    sess = tf.Session()
    with pytest.raises(ValueError, match="outside.*'i:0'"):
        sess.run(i + 1, {i: np.array([1, 2 ** 40])})
    with pytest.raises(ValueError, match="non-integer"):
        sess.run(i + 1, {i: [1.5, 2.0]})
    assert sess.run(i + 1, {i: np.array([1, 2], dtype=np.int64)}).tolist() == [2, 3]


def test_bad_fetches(model):
    x, w, y = model
    sess = tf.Session()
    with pytest.raises(TypeError, match="Fetch argument 3"):
        sess.run(3)
    with pytest.raises(TypeError):
        sess.run(None)
    other = tf.Graph()
    with other.as_default():
        foreign = tf.constant(1.0)
    with pytest.raises(ValueError, match="not an element of this graph"):
        sess.run(foreign)
    with pytest.raises(ValueError):
        sess.run("nothing:0")


def test_bad_feed_keys_and_values(model):
    x, w, y = model
    sess = tf.Session()
    with pytest.raises(TypeError, match="Cannot interpret feed_dict key"):
        sess.run(y, {3: 1.0})
    with pytest.raises(TypeError, match="cannot be a tf.Tensor"):
        sess.run(y, {x: y})


def test_uninitialized_variable(model):
    x, w, y = model
    with pytest.raises(tf.errors.FailedPreconditionError, match="Attempting to use uninitialized value w"):
        tf.Session().run(y, {x: [[1.0, 1.0]]})


def test_closed_session(model):
    x, w, y = model
    sess = tf.Session()
    sess.close()
    with pytest.raises(RuntimeError, match="closed Session"):
        sess.run(w.initializer)


def test_repeated_calls_see_each_feeds_current_contents():
    """The fast path reuses the pointer of an array fed again: writes into it between runs count."""
    a = tf.placeholder(tf.float32, [3], name="b_second")  # named so the step's order is not the dict's
    b = tf.placeholder(tf.float32, [3], name="a_first")
    y = a * 10.0 + b
    sess = tf.Session()
    x, z = np.array([1, 2, 3], np.float32), np.zeros(3, np.float32)
    np.testing.assert_array_equal(sess.run(y, {a: x, b: z}), [10, 20, 30])
    x[:] = [4, 5, 6]
    z[:] = 1
    np.testing.assert_array_equal(sess.run(y, {a: x, b: z}), [41, 51, 61])
    np.testing.assert_array_equal(sess.run(y, {a: x.copy() * 2, b: z}), [81, 101, 121])
    np.testing.assert_array_equal(sess.run(y, {b: x, a: z}), [14, 15, 16])
    np.testing.assert_array_equal(sess.run([y, y * 2], {a: z, b: x})[1], [28, 30, 32])


def test_a_step_runs_once_its_variables_are_initialized(model):
    x, w, y = model
    sess = tf.Session()
    feed = {x: np.ones((1, 2), np.float32)}
    with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value w"):
        sess.run(y, feed)
    sess.run(w.initializer)
    for _ in range(3):
        np.testing.assert_array_equal(sess.run(y, feed), [[3.0]])
    sess.run(w.assign([[2.0], [2.0]]))
    np.testing.assert_array_equal(sess.run(y, feed), [[4.0]])
