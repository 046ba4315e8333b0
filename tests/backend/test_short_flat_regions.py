"""Flat elementwise regions of 16 to 1024 elements run in whole vectors, the last one masked
(ElementwiseRegion._emit_whole_vectors); the interpreter is the oracle."""

import numpy as np
import pytest

import graphc as tf
from tests.backend.test_ops_compiled import assert_same


@pytest.mark.parametrize("size", [16, 17, 31, 200, 1023, 1024, 1025])
def test_float_bodies_with_scalars_and_a_masked_last_vector(size):
    rng = np.random.RandomState(size)
    x = tf.placeholder(tf.float32, [size])
    y = tf.placeholder(tf.float32, [size])
    scalar = tf.placeholder(tf.float32, [])
    # tanh of values on both sides of its split at 1 (vectors that take its tail and vectors that skip it)
    feeds = {x: rng.uniform(-3, 3, size) * (np.arange(size) % 32 < 16), y: rng.uniform(0.5, 2, size), scalar: 0.25}
    assert_same([tf.tanh(x * y + scalar), x / y - scalar, tf.sqrt(y) * tf.exp(-x)], feeds, rtol=1e-5)


@pytest.mark.parametrize("dtype", [tf.float64, tf.int32, tf.int64])
def test_other_element_types(dtype):
    rng = np.random.RandomState(1)
    x = tf.placeholder(dtype, [45])
    y = tf.placeholder(dtype, [45])
    values = {x: rng.randint(-50, 50, 45), y: rng.randint(1, 9, 45)}
    assert_same([x * y + x, tf.maximum(x, y), tf.cast(x > y, dtype), tf.where(x > y, x, y)], values)


def test_variable_update_in_whole_vectors():
    w = tf.Variable(np.arange(50, dtype=np.float32))
    g = tf.placeholder(tf.float32, [50])
    update = tf.assign_sub(w, 0.5 * g)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(update, {g: np.ones(50, np.float32)})
        np.testing.assert_array_equal(sess.run(w), np.arange(50, dtype=np.float32) - 0.5)
