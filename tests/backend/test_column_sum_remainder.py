"""Column sums (kernels/reduce_columns.py) whose rows end in a partial vector: the last columns of a row
are one vector under a mask where every stream's dtype allows it, a scalar loop otherwise; either way
the sums and the values the kernel stores match the reference interpreter, and a stored tanh has the
bits the same tanh has computed alone (a value's tanh does not depend on the lanes around it)."""

import numpy as np
import pytest

import graphc as tf
from tests.backend.test_ops_compiled import assert_same

# Widths: shorter than one vector, whole vectors and a part (the tiny step's 200), a part past many.
WIDTHS = [8, 37, 200, 203]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_float_column_sums_of_a_stored_tanh(width, dtype):
    rng = np.random.RandomState(width)
    x = tf.placeholder(dtype, [10, width])
    w = tf.placeholder(dtype, [10, 1])
    hidden = tf.tanh(x * w)
    fetches = [hidden, tf.reduce_sum(hidden * w, axis=0), tf.reduce_sum(hidden * w, axis=0, keepdims=True) + 1.0]
    feeds = {x: rng.uniform(-3, 3, (10, width)), w: rng.uniform(-1, 1, (10, 1))}
    assert_same(fetches, feeds, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("width", WIDTHS)
def test_integer_and_bool_column_reductions(width):
    rng = np.random.RandomState(width)
    n = tf.placeholder(tf.int32, [10, width])
    flags = tf.placeholder(tf.bool, [10, width])
    fetches = [tf.reduce_sum(n * 3, axis=0), tf.reduce_max(n - 1, axis=0), tf.reduce_any(flags, axis=0),
               tf.reduce_sum(tf.cast(flags, tf.int32) + n, axis=0)]
    feeds = {n: rng.randint(-1000, 1000, (10, width)), flags: rng.uniform(size=(10, width)) < 0.1}
    assert_same(fetches, feeds)


def test_a_stored_tanh_in_the_masked_columns_has_the_bits_of_tanh_alone():
    rng = np.random.RandomState(0)
    values = np.concatenate([rng.normal(0, 0.5, 1000), rng.normal(0, 3, 1000)]).astype(np.float32)
    values = rng.permutation(values).reshape(10, 200)  # most partial vectors mix values below and above 1
    x = tf.placeholder(tf.float32, [10, 200])
    hidden = tf.tanh(x)
    with tf.Session() as sess:
        summed_with = sess.run([hidden, tf.reduce_sum(hidden, axis=0)], {x: values})[0]
        alone = sess.run(tf.tanh(x), {x: values})
    np.testing.assert_array_equal(summed_with.view(np.uint32), alone.view(np.uint32))
