"""Native code reports bad data through status codes: TF's exceptions, and the process lives on."""

import numpy as np
import pytest

import graphc as tf


def test_label_out_of_range_raises_invalid_argument():
    logits = tf.placeholder(tf.float32, [None, 10])
    labels = tf.placeholder(tf.int64, [None])
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits,
                                                                         name="xentropy"))
    sess = tf.Session()
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Received a label value of 10 which is outside the valid range of \[0, 10\)"
                             r".*xentropy"):
        sess.run(loss, {logits: np.zeros((3, 10)), labels: [1, 10, 2]})
    with pytest.raises(tf.errors.InvalidArgumentError, match="label value of -1"):
        sess.run(loss, {logits: np.zeros((3, 10)), labels: [-1, 0, 2]})
    assert sess.run(loss, {logits: np.zeros((3, 10)), labels: [1, 9, 2]}) == pytest.approx(np.log(10))


def test_out_of_range_label_in_gradient_only_step_is_caught():
    logits = tf.Variable(tf.zeros([2, 3]))
    labels = tf.placeholder(tf.int32, [2])
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    with pytest.raises(tf.errors.InvalidArgumentError, match="label value of 3"):
        sess.run(train, {labels: [0, 3]})


def test_integer_division_by_zero():
    x = tf.placeholder(tf.int32, [3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Integer division by zero"):
        tf.Session().run(tf.floordiv(tf.constant([1, 2, 3]), x), {x: [1, 0, 2]})


@pytest.mark.parametrize("divide", [tf.floordiv, tf.floormod, tf.truncatediv, tf.truncatemod, lambda x, y: x % y])
@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_integer_remainders_by_zero(divide, dtype):
    x = tf.placeholder(dtype, [3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Integer division by zero"):
        tf.Session().run(divide(tf.constant([1, 2, 3], dtype), x), {x: [1, 0, 2]})
