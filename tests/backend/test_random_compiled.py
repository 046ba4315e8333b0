"""Random ops: the C runtime's Philox draws what the NumPy reference draws, run after run."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.ops import philox
from graphc.runtime import loader


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_compiled_draws_match_the_reference(dtype):
    ops = [tf.random_uniform([1001], dtype=dtype, seed=1), tf.random_normal([1001], dtype=dtype, seed=2),
           tf.truncated_normal([1001], dtype=dtype, seed=3)]
    draws = [philox.uniform, philox.normal, philox.truncated_normal]
    sess = tf.Session()
    for run in range(2):
        values = sess.run(ops)
        for op, value, draw in zip(ops, values, draws):
            raw = op.op.inputs[0].op  # the RandomX op under the `x * scale + offset` wrapper
            while raw.type not in ("RandomUniform", "RandomStandardNormal", "TruncatedNormal"):
                raw = raw.inputs[0].op
            expected = draw(1001, dtype.np_dtype, (raw.get_attr("seed"), raw.get_attr("seed2")), run)
            np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_uniform_draws_are_the_references_bits(dtype):
    """runtime_c draws uniforms 16 Philox blocks at a time, the rest block by block: both paths, and a
    result shorter than one batch, give the reference's values exactly."""
    sizes = (3, 64, 1001, 2 * 4096 + 37)
    with tf.Graph().as_default():
        ops = [tf.random_uniform([size], dtype=dtype, seed=7) for size in sizes]
        values = tf.Session().run(ops)
    for op, value, size in zip(ops, values, sizes):
        raw = op.op
        while raw.type != "RandomUniform":
            raw = raw.inputs[0].op
        expected = philox.uniform(size, dtype.np_dtype, (raw.get_attr("seed"), raw.get_attr("seed2")), 0)
        np.testing.assert_array_equal(value, expected)


def test_seeded_graphs_are_reproducible_across_sessions():
    tf.set_random_seed(42)
    v = tf.Variable(tf.truncated_normal([50, 5]))
    first = tf.Session()
    first.run(v.initializer)
    second = tf.Session()
    second.run(v.initializer)
    np.testing.assert_array_equal(first.run(v), second.run(v))


def test_each_run_draws_new_numbers():
    r = tf.random_uniform([4], seed=5)
    sess = tf.Session()
    assert not np.array_equal(sess.run(r), sess.run(r))


def test_random_uniform_range():
    r = tf.random_uniform([10000], minval=-3.0, maxval=5.0, seed=1)
    values = tf.Session().run(r)
    assert values.min() >= -3 and values.max() < 5 and abs(values.mean() - 1) < 0.1


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_draws_shared_out_in_chunks_match_the_reference(dtype, threads):
    """Uniform and normal draws of more than two chunks (kernels/random.py: the pool's tasks fill
    4096 elements each, the last one cut) are the reference's, on one thread and on two."""
    driver.load_runtime()
    loader.set_num_threads(threads)
    try:
        with tf.Graph().as_default():
            ops = [tf.random_uniform([3, 4001], dtype=dtype, seed=4), tf.random_normal([12003], dtype=dtype, seed=5)]
            draws = [philox.uniform, philox.normal]
            with tf.Session() as sess:
                for run in range(2):
                    for op, value, draw in zip(ops, sess.run(ops), draws):
                        raw = op.op
                        while raw.type not in ("RandomUniform", "RandomStandardNormal"):
                            raw = raw.inputs[0].op
                        expected = draw(12003, dtype.np_dtype, (raw.get_attr("seed"), raw.get_attr("seed2")), run)
                        np.testing.assert_allclose(value.reshape(-1), expected, rtol=1e-6, atol=1e-6)
    finally:
        loader.set_num_threads(0)
