"""tf.check_numerics: InvalidArgumentError naming the op and message, and a failed step writes no variable."""

import numpy as np
import pytest

import graphc as tf


def _model():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(tf.ones([3, 2]), name="w")
    b = tf.Variable(tf.zeros([2]), name="b")
    logits = tf.nn.bias_add(tf.matmul(x, w), b)
    return x, w, b, logits


def _train(loss):
    return tf.train.GradientDescentOptimizer(0.1).minimize(loss)


GOOD = np.ones((4, 3), np.float32)
BAD = np.array([[1, 2, 3], [np.nan, 0, 0], [1, 1, 1], [0, 0, 0]], np.float32)
INF = np.array([[1, 2, np.inf]], np.float32)


@pytest.mark.parametrize("where", ["loss", "side_fetch", "control_dependency"])
def test_failed_check_leaves_variables_untouched(where):
    x, w, b, logits = _model()
    loss = tf.reduce_mean(tf.square(logits))
    fetches = []
    if where == "loss":
        loss = tf.check_numerics(loss, "loss is bad", name="check_loss")
        train = _train(loss)
    elif where == "side_fetch":
        train = _train(loss)
        fetches = [tf.check_numerics(logits, "logits is bad", name="check_logits")]
    else:
        check = tf.check_numerics(x, "input is bad", name="check_input")
        with tf.control_dependencies([check]):
            train = _train(tf.identity(loss))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run([train] + fetches, {x: GOOD})
    before = sess.run([w, b])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"is bad : Tensor had NaN values \(op check_"):
        sess.run([train] + fetches, {x: BAD})
    for old, new in zip(before, sess.run([w, b])):
        np.testing.assert_array_equal(old, new)
    sess.run([train] + fetches, {x: GOOD})
    assert not np.array_equal(before[0], sess.run(w))


def test_messages_say_what_was_found_and_keep_percent_signs():
    x = tf.placeholder(tf.float64, [None])
    checked = tf.check_numerics(x, "100% sure")
    sess = tf.Session()
    np.testing.assert_array_equal(sess.run(checked, {x: [1.0, -2.0]}), [1.0, -2.0])
    for values, found in (([np.inf, 1.0], "Inf"), ([np.nan, -np.inf], "Inf and NaN"), ([np.nan], "NaN")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"100% sure : Tensor had {found} values"):
            sess.run(checked, {x: values})
    assert sess.run(checked, {x: np.zeros(0)}).shape == (0,)


def test_gradient_check_names_the_gradient():
    x = tf.placeholder(tf.float32, [2])
    y = tf.check_numerics(x, "of sqrt's input")
    (g,) = tf.gradients(tf.reduce_sum(tf.sqrt(y)), x)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Not a number \(NaN\) or infinity \(Inf\) values detected in gradient\. of sqrt's"):
        tf.Session().run(g, {x: [0.0, 1.0]})


def test_check_numerics_rejects_integers():
    with pytest.raises(TypeError):
        tf.check_numerics(tf.constant([1, 2]), "ints")
