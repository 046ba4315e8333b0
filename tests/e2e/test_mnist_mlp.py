"""The tutorial MLP on real MNIST: loss parity with a NumPy step, then accuracy."""

import numpy as np
import pytest

import graphc as tf
from graphc.examples.tutorials.mnist import input_data, mnist


def numpy_training_step(params, images, labels, learning_rate):
    """One SGD step of mnist.py's network, written directly in NumPy (float32)."""
    w1, b1, w2, b2, w3, b3 = params
    h1 = np.maximum(images @ w1 + b1, 0)
    h2 = np.maximum(h1 @ w2 + b2, 0)
    logits = h2 @ w3 + b3
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    softmax = exp / exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    loss = np.mean(np.log(exp.sum(axis=1)) - shifted[rows, labels])
    d_logits = softmax
    d_logits[rows, labels] -= 1
    d_logits /= np.float32(len(labels))
    d_h2 = (d_logits @ w3.T) * (h2 > 0)
    d_h1 = (d_h2 @ w2.T) * (h1 > 0)
    grads = [images.T @ d_h1, d_h1.sum(0), h1.T @ d_h2, d_h2.sum(0), h2.T @ d_logits, d_logits.sum(0)]
    return loss, [p - np.float32(learning_rate) * g for p, g in zip(params, grads)]


def build(batch_size=100, seed=1):
    tf.set_random_seed(seed)
    images = tf.placeholder(tf.float32, (batch_size, mnist.IMAGE_PIXELS))
    labels = tf.placeholder(tf.int32, (batch_size,))
    logits = mnist.inference(images, 128, 32)
    loss = mnist.loss(logits, labels)
    train_op = mnist.training(loss, 0.01)
    return images, labels, logits, loss, train_op


def test_loss_matches_numpy_for_100_steps():
    data = input_data.read_data_sets(None, seed=3)
    with tf.Graph().as_default():
        images, labels, _, loss, train_op = build()
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        params = sess.run(tf.trainable_variables())
        for step in range(100):
            batch_images, batch_labels = data.train.next_batch(100)
            _, compiled_loss = sess.run([train_op, loss], {images: batch_images, labels: batch_labels})
            expected_loss, params = numpy_training_step(params, batch_images, batch_labels.astype(np.int64), 0.01)
            assert compiled_loss == pytest.approx(expected_loss, rel=1e-4), f"step {step}"
        for compiled, expected in zip(sess.run(tf.trainable_variables()), params):
            # Summation orders differ (blocked FMA GEMM vs OpenBLAS): weights drift apart by ~1e-5.
            np.testing.assert_allclose(compiled, expected, rtol=1e-3, atol=1e-4)


def test_trains_to_90_percent_after_2000_steps():
    data = input_data.read_data_sets(None, seed=0)
    with tf.Graph().as_default():
        images, labels, logits, _, train_op = build(seed=0)
        correct = mnist.evaluation(logits, labels)
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        for _ in range(2000):
            batch_images, batch_labels = data.train.next_batch(100)
            sess.run(train_op, {images: batch_images, labels: batch_labels})
        true_count = sum(sess.run(correct, {images: data.test.images[i:i + 100], labels: data.test.labels[i:i + 100]})
                         for i in range(0, 10000, 100))
    assert true_count / 10000 >= 0.90
