"""Blocks of [N, K] work summing short rows, computed as [K, N] (passes/transpose_short_rows.py): the
compiled step against the interpreter, and the same bits on one and two threads."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.runtime import loader
from tests.backend.test_ops_compiled import assert_same


def tiny_network(units: int, parameter):
    """(x, y, parameters, loss) of a 1-units-1 tanh regression; parameter(shape) makes each of w1, b1, w2, b2."""
    x = tf.placeholder(tf.float32, [None, 1])
    y = tf.placeholder(tf.float32, [None, 1])
    w1, b1, w2, b2 = parameters = [parameter((1, units)), parameter((1, units)), parameter((units, 1)),
                                   parameter((1, 1))]
    prediction = tf.tanh(tf.matmul(tf.tanh(tf.matmul(x, w1) + b1), w2) + b2)
    return x, y, parameters, tf.reduce_mean(tf.square(y - prediction))


@pytest.mark.parametrize("units", [2, 10, 15])
@pytest.mark.parametrize("points", [16, 37, 200])
def test_forward_and_gradients_equal_the_reference(points, units):
    rng = np.random.RandomState(points + units)
    x, y, parameters, loss = tiny_network(units, lambda shape: tf.placeholder(tf.float32, shape))
    inputs = rng.uniform(-2, 2, (points, 1)).astype(np.float32)
    feeds = {x: inputs, y: np.square(inputs)}
    feeds.update((p, rng.normal(0, 1, p.shape.as_list()).astype(np.float32)) for p in parameters)
    assert_same([loss] + tf.gradients(loss, parameters), feeds, rtol=1e-5, atol=1e-6)


@pytest.fixture
def restore_threads():
    yield
    loader.set_num_threads(0)


def train(threads: int):
    driver.load_runtime()
    loader.set_num_threads(threads)
    rng = np.random.RandomState(7)
    with tf.Graph().as_default():
        x, y, variables, loss = tiny_network(10, lambda shape: tf.Variable(rng.normal(0, 1, shape).astype(np.float32)))
        train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        inputs = np.linspace(-0.5, 0.5, 200, dtype=np.float32)[:, None]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train_op, {x: inputs, y: np.square(inputs)}, steps=300)
            return sess.run(variables + [loss], {x: inputs, y: np.square(inputs)})


def test_one_and_two_threads_give_identical_bits(restore_threads):
    for one, two in zip(train(1), train(2)):
        np.testing.assert_array_equal(one, two)
