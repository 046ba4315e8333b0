"""GradientDescentOptimizer's API: minimize with var_list, compute_gradients + apply_gradients."""

import numpy as np
import pytest

import graphc as tf


def make_problem():
    a = tf.Variable(np.array([1.0, 2.0], dtype=np.float32), name="a")
    b = tf.Variable(np.float64(3.0), name="b")
    loss = tf.reduce_sum(tf.square(a)) + tf.cast(tf.square(b), tf.float32)
    return a, b, loss


def test_variables_from_numpy_keep_their_dtype():
    a, b, _ = make_problem()
    assert a.dtype is tf.float32 and b.dtype is tf.float64
    assert tf.Variable(np.zeros(3), dtype=tf.float32).dtype is tf.float32


def test_minimize_only_updates_var_list():
    a, b, loss = make_problem()
    train = tf.train.GradientDescentOptimizer(0.25).minimize(loss, var_list=[a])
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run(train)
    np.testing.assert_allclose(sess.run(a), [0.5, 1.0])
    assert sess.run(b) == 3.0


def test_compute_then_apply_gradients():
    a, b, loss = make_problem()
    optimizer = tf.train.GradientDescentOptimizer(0.1)
    grads_and_vars = optimizer.compute_gradients(loss)
    assert [v for _, v in grads_and_vars] == [a, b]
    clipped = [(tf.minimum(g, 1.0), v) for g, v in grads_and_vars]
    step = tf.Variable(0, trainable=False, name="global_step")
    train = optimizer.apply_gradients(clipped, global_step=step)
    assert train.name == "GradientDescent"
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run(train)
    np.testing.assert_allclose(sess.run(a), [0.9, 1.9])
    assert sess.run(b) == pytest.approx(2.9) and sess.run(step) == 1


def test_no_gradients_is_an_error():
    v = tf.Variable(1.0)
    loss = tf.constant(2.0) * 3.0
    with pytest.raises(ValueError, match="No gradients provided"):
        tf.train.GradientDescentOptimizer(0.1).minimize(loss, var_list=[v])
