"""Softmax rows are computed a vector at a time, the last chunk masked: every row length,
short and long, against the reference interpreter (and labels checked)."""

import numpy as np
import pytest

import graphc as tf
from graphc import errors
from tests.backend.test_ops_compiled import assert_same


@pytest.mark.parametrize("classes", [1, 3, 8, 10, 17, 40, 1000])
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_softmax_and_log_softmax(classes, dtype):
    logits = tf.placeholder(dtype, [7, classes])
    values = np.random.RandomState(classes).uniform(-20, 20, (7, classes))
    values[0, :] = -np.inf if classes > 1 else 0.0  # a row whose maximum is -inf gives NaN, as in NumPy
    values[1, 0] = np.inf
    assert_same([tf.nn.softmax(logits), tf.nn.log_softmax(logits)], {logits: values}, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("classes", [2, 10, 13, 40])
def test_cross_entropy_loss_and_gradient(classes):
    rng = np.random.RandomState(classes)
    logits = tf.placeholder(tf.float32, [33, classes])
    labels = tf.placeholder(tf.int32, [33])
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    gradient, = tf.gradients(loss, [logits])
    assert_same([loss, gradient], {logits: rng.uniform(-5, 5, (33, classes)), labels: rng.randint(0, classes, 33)},
                rtol=1e-5, atol=1e-7)


def test_label_out_of_range_is_reported_not_read():
    logits = tf.placeholder(tf.float32, [2, 10])
    labels = tf.placeholder(tf.int32, [2])
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    with pytest.raises(errors.InvalidArgumentError, match="label value of 10"):
        tf.Session().run(loss, {logits: np.zeros((2, 10)), labels: [3, 10]})
