"""Results are bit-identical whatever the thread count (GEMMs split C into whole panels,
loops split their outer dimension, reductions run in one fixed order)."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.runtime import loader


@pytest.fixture
def restore_threads():
    yield
    loader.set_num_threads(0)


def train(threads: int, steps: int = 5):
    driver.load_runtime()
    loader.set_num_threads(threads)
    rng = np.random.RandomState(0)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 784])
        y = tf.placeholder(tf.int32, [None])
        params = [(tf.Variable(rng.normal(0, 0.05, (i, o)).astype(np.float32)), tf.Variable(np.zeros(o, np.float32)))
                  for i, o in ((784, 300), (300, 100), (100, 10))]
        h = x
        for w, b in params[:-1]:
            h = tf.nn.relu(tf.matmul(h, w) + b)
        logits = tf.matmul(h, params[-1][0]) + params[-1][1]
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        losses = [sess.run([train_op, loss], {x: rng.rand(128, 784).astype(np.float32), y: rng.randint(0, 10, 128)})[1]
                  for _ in range(steps)]
        return losses, sess.run(tf.trainable_variables())


def test_one_and_two_threads_give_identical_bits(restore_threads):
    losses_1, weights_1 = train(1)
    losses_2, weights_2 = train(2)
    assert losses_1 == losses_2
    for a, b in zip(weights_1, weights_2):
        np.testing.assert_array_equal(a, b)
