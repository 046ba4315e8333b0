"""Column slices read in place by loop kernels (OpDef.strided_read, passes/fuse.py): the slices of one
value and the elementwise work on them fuse into one loop kernel, which reads each slice through its
strides from the operand's buffer; and concats of columns stored in place (OpDef.strided_pieces): a loop
kernel computing every operand stores each into its columns of the result. The interpreter is the
oracle, and two threads match one bit for bit."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.runtime import loader
from tests.backend.test_ops_compiled import assert_same


def _gates(rows: int, units: int, seed: int):
    """An LSTM cell's gate arithmetic on four column slices of a product, the first slice also fetched,
    and a concat of columns of three results of that work (one of them also fetched)."""
    rng = np.random.RandomState(seed)
    x = tf.placeholder(tf.float32, [rows, 8])
    w = tf.placeholder(tf.float32, [8, 4 * units])
    c = tf.placeholder(tf.float32, [rows, units])
    i, j, f, o = tf.split(tf.matmul(x, w), 4, axis=1)
    new_c = c * tf.sigmoid(f + 1.0) + tf.sigmoid(i) * tf.tanh(j)
    feeds = {x: rng.uniform(-1, 1, (rows, 8)), w: rng.uniform(-1, 1, (8, 4 * units)),
             c: rng.uniform(-1, 1, (rows, units))}
    h = tf.tanh(new_c) * tf.sigmoid(o)
    return [new_c, h, i, tf.concat([h * 2.0, new_c, tf.sigmoid(j)], axis=1)], feeds


@pytest.mark.parametrize("rows, units", [(3, 5), (7, 16), (100, 128)])
def test_gate_slices_read_in_place_match_the_interpreter(rows, units):
    with tf.Graph().as_default():
        fetches, feeds = _gates(rows, units, rows)
        assert_same(fetches, feeds, rtol=1e-5)


def test_a_slice_broadcast_against_a_larger_shape_and_a_row_slice():
    rng = np.random.RandomState(2)
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [6, 10])
        b = tf.placeholder(tf.float32, [4, 6, 3])
        columns = tf.slice(a * 2.0, [0, 4], [6, 3])   # [6, 3], broadcast against [4, 6, 3]
        inner = tf.slice(a + 1.0, [1, 2], [4, 5])      # a block inside the matrix
        assert_same([b * columns + 1.0, tf.exp(inner)], {a: rng.uniform(-1, 1, (6, 10)),
                                                         b: rng.uniform(-1, 1, (4, 6, 3))})


@pytest.mark.parametrize("rows, cols", [(1, 7), (5, 3), (9, 40)])
def test_concats_of_columns_and_of_a_middle_axis(rows, cols):
    rng = np.random.RandomState(rows + cols)
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [rows, cols])
        b = tf.placeholder(tf.float32, [2, rows, cols])
        twice = tf.exp(a) * 2.0
        feeds = {a: rng.uniform(-1, 1, (rows, cols)), b: rng.uniform(-1, 1, (2, rows, cols))}
        assert_same([tf.concat([twice, a - 1.0], axis=1), twice, tf.concat([b + 1.0, b * b], axis=1),
                     tf.concat([a, a + 1.0], axis=1)], feeds, rtol=1e-5)


def test_a_slice_of_a_concat_stored_in_place_reads_it_after_its_kernel():
    """The slice cannot join the kernel storing its operand's pieces: it would load before they are stored."""
    rng = np.random.RandomState(6)
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [5, 8])
        joined = tf.concat([tf.exp(a), a * 3.0], axis=1)
        assert_same([tf.slice(joined, [0, 4], [5, 8]) + 1.0, joined], {a: rng.uniform(-1, 1, (5, 8))})


@pytest.fixture
def restore_threads():
    yield
    loader.set_num_threads(0)


@pytest.mark.parametrize("rows, units", [(400, 256), (100, 128), (101, 96)])
def test_two_threads_split_a_large_kernel_of_slices_bit_for_bit(restore_threads, rows, units):
    """[400, 256] slices of a [400, 1024] product: above PARALLEL_MIN_ELEMENTS, the kernel's rows split in
    tasks the threads share; [100, 128] (the LSTM's) and [101, 96]: above ALIGNED_MIN_ELEMENTS and _WORK, one share a
    thread (an odd row count: 50 + 51 rows)."""
    driver.load_runtime()
    results = []
    for threads in (1, 2):
        loader.set_num_threads(threads)
        with tf.Graph().as_default():
            fetches, feeds = _gates(rows, units, 9)
            results.append(tf.Session().run(fetches, feeds))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
