"""Elementwise regions with short rows ([rows, cols], cols < 16) run in whole vectors
whose lanes cross row boundaries (loops.Periodic); the interpreter is the oracle."""

import numpy as np
import pytest

import graphc as tf
from tests.backend.test_ops_compiled import assert_same


@pytest.mark.parametrize("cols", [2, 3, 5, 7, 9, 10, 12, 15])
@pytest.mark.parametrize("rows", [1, 7, 37])
def test_broadcasts_of_rows_columns_and_scalars(rows, cols):
    rng = np.random.RandomState(rows * 16 + cols)
    full = tf.placeholder(tf.float32, [rows, cols])
    column = tf.placeholder(tf.float32, [rows, 1])
    row = tf.placeholder(tf.float32, [cols])
    scalar = tf.placeholder(tf.float32, [])
    result = tf.tanh(full * row + column) - scalar * tf.exp(column - row)
    feeds = {full: rng.uniform(-2, 2, (rows, cols)), column: rng.uniform(-2, 2, (rows, 1)),
             row: rng.uniform(-2, 2, cols), scalar: 0.5}
    assert_same([result, tf.nn.relu(full) + row], feeds, rtol=1e-5)


@pytest.mark.parametrize("dtype", [tf.float64, tf.int32, tf.int64])
def test_other_element_types(dtype):
    rng = np.random.RandomState(3)
    x = tf.placeholder(dtype, [23, 6])
    y = tf.placeholder(dtype, [23, 1])
    values = {x: rng.randint(-50, 50, (23, 6)), y: rng.randint(1, 9, (23, 1))}
    assert_same([x * y + x, tf.maximum(x, y), tf.floordiv(x, y), tf.cast(x > y, dtype)], values)


def test_booleans_and_selects():
    rng = np.random.RandomState(4)
    x = tf.placeholder(tf.float32, [19, 5])
    y = tf.placeholder(tf.float32, [5])
    mask = tf.logical_and(x > y, tf.logical_not(x > 1.0))
    assert_same([mask, tf.where(mask, x, y + x), tf.cast(mask, tf.float32)],
                {x: rng.uniform(-2, 2, (19, 5)), y: rng.uniform(-1, 1, 5)})


def test_split_across_threads():
    # Large enough to run on the thread pool: each thread walks whole periods of its rows, then the rest.
    rng = np.random.RandomState(5)
    x = tf.placeholder(tf.float32, [4001, 10])
    b = tf.placeholder(tf.float32, [10])
    assert_same([tf.sigmoid(x + b)], {x: rng.uniform(-3, 3, (4001, 10)), b: rng.uniform(-1, 1, 10)}, rtol=1e-5)


def test_variable_update_with_short_rows():
    w = tf.Variable(np.arange(30, dtype=np.float32).reshape(3, 10))
    g = tf.placeholder(tf.float32, [3, 10])
    update = tf.assign_sub(w, 0.5 * g)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(update, {g: np.ones((3, 10), np.float32)})
        np.testing.assert_array_equal(sess.run(w), np.arange(30, dtype=np.float32).reshape(3, 10) - 0.5)


@pytest.mark.parametrize("cols", [3, 8, 10, 13])
@pytest.mark.parametrize("axis", [0, 1])
def test_reductions_of_fused_producers(cols, axis):
    rng = np.random.RandomState(cols + 10 * axis)
    x = tf.placeholder(tf.float32, [53, cols])
    column = tf.placeholder(tf.float32, [53, 1])
    produced = tf.tanh(x) * column
    reductions = [tf.reduce_sum(produced, axis=axis), tf.reduce_max(produced, axis=axis, keepdims=True),
                  tf.reduce_min(x * 2.0, axis=axis), tf.reduce_mean(produced, axis=axis)]
    assert_same(reductions + [produced], {x: rng.uniform(-2, 2, (53, cols)), column: rng.uniform(-1, 1, (53, 1))},
                rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cols", [2, 6, 10])
def test_row_reductions_of_other_element_types(cols):
    # Row totals of a period share one shuffle tree (loops.horizontal_each), over i1, int64 and float64 lanes too.
    rng = np.random.RandomState(cols)
    x = tf.placeholder(tf.float64, [37, cols])
    n = tf.placeholder(tf.int64, [37, cols])
    feeds = {x: rng.uniform(-2, 2, (37, cols)), n: rng.randint(-1000, 1000, (37, cols))}
    assert_same([tf.reduce_any(x > 1.0, axis=1), tf.reduce_all(x > -1.5, axis=1), tf.reduce_sum(n * 3, axis=1),
                 tf.reduce_max(tf.abs(x), axis=1), tf.reduce_mean(x * x, axis=1, keepdims=True)], feeds)


@pytest.mark.parametrize("axis", [0, 1])
def test_integer_reductions(axis):
    x = tf.placeholder(tf.int32, [41, 6])
    values = np.random.RandomState(6).randint(-1000, 1000, (41, 6))
    assert_same([tf.reduce_sum(x, axis=axis), tf.reduce_max(x + 1, axis=axis), tf.reduce_min(x, axis=axis)],
                {x: values})


def test_reduction_then_update_of_a_variable():
    # The tiny tutorial's bias gradient: a column sum feeding an in-place SGD update.
    rng = np.random.RandomState(7)
    b = tf.Variable(np.zeros(10, np.float32))
    d = tf.placeholder(tf.float32, [200, 10])
    gradient = rng.uniform(-1, 1, (200, 10)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.assign_sub(b, 0.1 * tf.reduce_sum(d, axis=0)), {d: gradient})
        np.testing.assert_allclose(sess.run(b), -0.1 * gradient.sum(axis=0), rtol=1e-5, atol=1e-6)
