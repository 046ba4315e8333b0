"""tf.train.exponential_decay of the global step, smooth and staircase; global step helpers."""

import numpy as np
import pytest

import graphc as tf


def test_exponential_decay_follows_the_global_step():
    global_step = tf.train.get_or_create_global_step()
    smooth = tf.train.exponential_decay(0.1, global_step, decay_steps=4, decay_rate=0.5)
    staircase = tf.train.exponential_decay(0.1, global_step, 4, 0.5, staircase=True)
    assert smooth.op.name == "ExponentialDecay" and smooth.dtype is tf.float32
    increment = tf.assign_add(global_step, 3)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    for step in (0, 3, 6, 9, 12):
        got_smooth, got_staircase = sess.run([smooth, staircase])
        np.testing.assert_allclose(got_smooth, 0.1 * 0.5 ** (step / 4), rtol=1e-6)
        np.testing.assert_allclose(got_staircase, 0.1 * 0.5 ** (step // 4), rtol=1e-6)
        sess.run(increment)


def test_decayed_learning_rate_drives_an_optimizer():
    global_step = tf.train.get_or_create_global_step()
    learning_rate = tf.train.exponential_decay(1.0, global_step, 1, 0.5, staircase=True)
    v = tf.Variable(0.0, name="v")
    train_op = tf.train.GradientDescentOptimizer(learning_rate).minimize(-v, global_step=global_step)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    for _ in range(3):
        sess.run(train_op)
    # Each step moves v by the learning rate at that step: 1 + 0.5 + 0.25.
    assert sess.run(v) == pytest.approx(1.75) and sess.run(global_step) == 3


def test_global_step_helpers():
    assert tf.train.get_global_step() is None
    step = tf.train.create_global_step()
    assert step.op.name == "global_step" and step.dtype is tf.int64 and not step.trainable
    assert tf.train.get_global_step() is step and tf.train.get_or_create_global_step() is step
    with pytest.raises(ValueError, match="already exists"):
        tf.train.create_global_step()
    with pytest.raises(ValueError, match="global_step is required"):
        tf.train.exponential_decay(0.1, None, 10, 0.9)
