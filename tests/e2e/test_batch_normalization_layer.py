"""`tf.layers.batch_normalization` as TF 1.15 builds it: its variables, its updates in UPDATE_OPS, the
values it normalizes by, and the moving averages a training loop leaves.

TF 2.21's Keras 3 no longer has the TF1 layer, so the expected values are TF 1.15's formulas
written in NumPy: the output (x - mean) / sqrt(var + epsilon) * gamma + beta with the batch's
biased variance while training, the moving averages var -= (var - batch value) * (1 - momentum),
and for rank-4 inputs (FusedBatchNorm in TF) the moving variance averaging the unbiased variance.
"""

import numpy as np
import pytest

import graphc as tf

X = (np.arange(24, dtype=np.float32).reshape(8, 3) ** 1.5) / 10.0
EPSILON = 1e-3


def _normalized(x, mean, variance, gamma=1.0, beta=0.0):
    return (x - mean) / np.sqrt(variance + EPSILON) * gamma + beta


def _moving_values(sess):
    names = ("batch_normalization/moving_mean:0", "batch_normalization/moving_variance:0")
    return sess.run([v for v in tf.global_variables() if v.name in names])


def test_variables_and_update_ops_are_named_as_tf1_names_them():
    y = tf.layers.batch_normalization(tf.constant(X), training=True)
    assert [v.name for v in tf.global_variables()] == [
        "batch_normalization/gamma:0", "batch_normalization/beta:0", "batch_normalization/moving_mean:0",
        "batch_normalization/moving_variance:0"]
    assert [v.name for v in tf.trainable_variables()] == ["batch_normalization/gamma:0", "batch_normalization/beta:0"]
    assert [u.name for u in tf.get_collection(tf.GraphKeys.UPDATE_OPS)] == [
        "batch_normalization/AssignMovingAvg:0", "batch_normalization/AssignMovingAvg_1:0"]
    assert y.shape.as_list() == [8, 3]
    tf.layers.batch_normalization(tf.constant(X), training=False)
    assert len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) == 2  # not training: no update
    assert "batch_normalization_1/gamma:0" in [v.name for v in tf.global_variables()]


@pytest.mark.parametrize("shape, unbiased", [((8, 3), False), ((2, 2, 2, 3), True)])
def test_training_normalizes_by_the_batch_and_updates_the_moving_averages(shape, unbiased):
    y = tf.layers.batch_normalization(tf.constant(X.reshape(shape)), training=True, momentum=0.9)
    mean, variance = X.mean(0), X.var(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(y).reshape(8, 3), _normalized(X, mean, variance), rtol=1e-5, atol=1e-5)
        sess.run(tf.get_collection(tf.GraphKeys.UPDATE_OPS))
        moving_mean, moving_variance = _moving_values(sess)
    batch_variance = X.var(0, ddof=1) if unbiased else variance
    np.testing.assert_allclose(moving_mean, 0.1 * mean, rtol=1e-6)
    np.testing.assert_allclose(moving_variance, 0.9 + 0.1 * batch_variance, rtol=1e-6)


def test_inference_normalizes_by_the_moving_averages_along_axis_1():
    x = np.random.RandomState(0).normal(size=(4, 3, 5)).astype(np.float32)
    y = tf.layers.batch_normalization(tf.constant(x), axis=1, training=False,
                                      moving_mean_initializer=tf.constant_initializer(0.5),
                                      moving_variance_initializer=tf.constant_initializer(4.0),
                                      gamma_initializer=tf.constant_initializer(2.0))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(y), _normalized(x, 0.5, 4.0, gamma=2.0), rtol=1e-5, atol=1e-6)


def test_a_bool_tensor_chooses_between_batch_and_moving_statistics():
    training = tf.placeholder(tf.bool, [])
    y = tf.layers.batch_normalization(tf.constant(X), training=training, momentum=0.5)
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(y, {training: False}), _normalized(X, 0.0, 1.0), rtol=1e-5)
        sess.run(updates, {training: False})
        np.testing.assert_array_equal(_moving_values(sess), [np.zeros(3), np.ones(3)])  # no update
        outputs, _ = sess.run([y, updates], {training: True})
        np.testing.assert_allclose(outputs, _normalized(X, X.mean(0), X.var(0)), rtol=1e-5, atol=1e-5)
        moving_mean, moving_variance = _moving_values(sess)
    np.testing.assert_allclose(moving_mean, 0.5 * X.mean(0), rtol=1e-6)
    np.testing.assert_allclose(moving_variance, 0.5 + 0.5 * X.var(0), rtol=1e-6)


def test_update_ops_run_with_the_train_op_as_tf1_programs_ask():
    """The TF1 pattern: the train op depends on UPDATE_OPS; after k steps on a fixed batch, the moving
    mean is mean * (1 - momentum ** k), while gamma and beta learn."""
    x = tf.placeholder(tf.float32, [None, 3])
    target = tf.placeholder(tf.float32, [None, 1])
    hidden = tf.layers.batch_normalization(x, training=True)
    loss = tf.reduce_mean(tf.square(tf.layers.dense(hidden, 1, kernel_initializer=tf.ones_initializer()) - target))
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    feeds = {x: X, target: X[:, :1] * 0.5}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        losses = [sess.run([train_op, loss], feeds)[1] for _ in range(5)]
        moving_mean, _ = _moving_values(sess)
        gamma = sess.run([v for v in tf.trainable_variables() if v.name == "batch_normalization/gamma:0"][0])
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(moving_mean, X.mean(0) * (1 - 0.99 ** 5), rtol=1e-5)
    assert not np.allclose(gamma, 1.0)


def test_refused_options_are_named():
    with pytest.raises(ValueError, match="does not support renorm"):
        tf.layers.batch_normalization(tf.constant(X), renorm=True)
