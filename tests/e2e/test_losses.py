"""tf.losses (TF1's weights and reductions), tf.nn.l2_loss: compiled values against NumPy."""

import numpy as np
import pytest

import graphc as tf

RNG = np.random.RandomState(0)
LOGITS = RNG.normal(size=(6, 4)).astype(np.float32)
LABELS = RNG.randint(0, 4, size=6).astype(np.int32)
PREDICTIONS = RNG.normal(size=(6, 3)).astype(np.float32)
TARGETS = RNG.normal(size=(6, 3)).astype(np.float32)


def xent(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


def test_losses_reduce_by_nonzero_weights_and_join_the_collection():
    logits = tf.placeholder(tf.float32, [None, 4], name="logits")
    labels = tf.placeholder(tf.int32, [None], name="labels")
    predictions = tf.placeholder(tf.float32, [None, 3], name="predictions")
    targets = tf.placeholder(tf.float32, [None, 3], name="targets")
    row_weights = np.array([1.0, 0.0, 2.0, 0.5, 0.0, 1.0], np.float32)
    column_weights = np.array([[0.0, 1.0, 3.0]], np.float32)
    losses = {
        "xent": tf.losses.sparse_softmax_cross_entropy(labels, logits),
        "xent_weighted": tf.losses.sparse_softmax_cross_entropy(labels, logits, weights=row_weights),
        "xent_all_zero": tf.losses.sparse_softmax_cross_entropy(labels, logits, weights=np.zeros(6, np.float32)),
        "mse": tf.losses.mean_squared_error(targets, predictions),
        "mse_broadcast": tf.losses.mean_squared_error(targets, predictions, weights=column_weights),
        "mse_scalar": tf.losses.mean_squared_error(targets, predictions, weights=2.5),
        "mse_mean": tf.losses.mean_squared_error(targets, predictions, weights=column_weights,
                                                 reduction=tf.losses.Reduction.MEAN),
        "mse_sum": tf.losses.mean_squared_error(targets, predictions, reduction=tf.losses.Reduction.SUM),
        "mse_none": tf.losses.mean_squared_error(targets, predictions, reduction=tf.losses.Reduction.NONE),
    }
    assert tf.get_collection(tf.GraphKeys.LOSSES) == list(losses.values())
    assert losses["xent"].op.name.startswith("sparse_softmax_cross_entropy_loss/")
    assert losses["mse"].shape.as_list() == [] and losses["mse_none"].dtype is tf.float32
    sess = tf.Session()
    got = sess.run(losses, {logits: LOGITS, labels: LABELS, predictions: PREDICTIONS, targets: TARGETS})
    per_example = xent(LOGITS, LABELS)
    squared = (PREDICTIONS - TARGETS) ** 2
    broadcast_weights = np.broadcast_to(column_weights, squared.shape)
    expected = {
        "xent": per_example.mean(),
        "xent_weighted": (per_example * row_weights).sum() / np.count_nonzero(row_weights),
        "xent_all_zero": 0.0,
        "mse": squared.mean(),
        "mse_broadcast": (squared * column_weights).sum() / np.count_nonzero(broadcast_weights),
        "mse_scalar": 2.5 * squared.mean(),
        "mse_mean": (squared * column_weights).sum() / broadcast_weights.sum(),
        "mse_sum": squared.sum(),
        "mse_none": squared,
    }
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-7, err_msg=name)


def test_total_loss_adds_regularization_and_l2_loss_is_half_the_sum_of_squares():
    w = tf.Variable(np.array([[1.0, -2.0], [0.5, 3.0]], np.float32), name="w")
    x = tf.constant([[1.0, 2.0]])
    tf.losses.mean_squared_error(tf.constant([[0.0, 1.0]]), tf.matmul(x, w))
    tf.add_to_collection(tf.GraphKeys.REGULARIZATION_LOSSES, 0.01 * tf.nn.l2_loss(w))
    total = tf.losses.get_total_loss()
    assert total.op.name == "total_loss"
    assert tf.nn.l2_loss(w).op.name == "L2Loss_1" and tf.nn.l2_loss(w).dtype is tf.float32
    # The gradient of the total flows into w: one SGD step from it.
    train_op = tf.train.GradientDescentOptimizer(0.1).minimize(total)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    w0 = sess.run(w)
    (value,) = sess.run([total])
    prediction = np.array([[1.0, 2.0]]) @ w0
    np.testing.assert_allclose(value, ((prediction - [[0.0, 1.0]]) ** 2).mean() + 0.005 * (w0 ** 2).sum(),
                               rtol=1e-6)
    sess.run(train_op)
    gradient = np.array([[1.0], [2.0]]) @ (prediction - [[0.0, 1.0]]) + 0.01 * w0
    np.testing.assert_allclose(sess.run(w), w0 - 0.1 * gradient, rtol=1e-5)


def test_total_loss_without_losses_is_an_error():
    with pytest.raises(ValueError, match="No losses found"):
        tf.losses.get_total_loss()


def test_unknown_reduction_is_an_error():
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        tf.losses.mean_squared_error([1.0], [2.0], reduction="average")
