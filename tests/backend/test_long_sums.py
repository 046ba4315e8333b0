"""Long sums keep float32's accuracy (issue 12, item 4): reductions, softmax rows, cross-entropy
means, GEMM's k loop, convolution filter gradients and average pooling, each within 1e-6
(relative) of float64 NumPy on data without cancellation, and bit-identical with 1 and 2
threads. A float32 sum accumulated one element at a time stops at 2**24 = 16,777,216 and
drifts by about one ulp of the total per element.
"""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.core import windows
from graphc.runtime import loader
from tests.helpers import interpret_graph

TARGET = 1e-6


def relative_error(got, exact) -> float:
    got, exact = np.asarray(got, np.float64), np.asarray(exact, np.float64)
    return float(np.max(np.abs(got - exact) / np.abs(exact)))


def run(fetches, feeds):
    with tf.Session() as session:
        return session.run(fetches, feeds)


@pytest.fixture
def restore_threads():
    driver.load_runtime()
    yield
    loader.set_num_threads(0)


def test_sums_and_means_past_two_to_the_24():
    count = 2 ** 24 + 2 ** 22
    x = tf.placeholder(tf.float32, [count])
    total, mean = run([tf.reduce_sum(x), tf.reduce_mean(x)], {x: np.ones(count, np.float32)})
    assert total == count and mean == 1.0  # sequentially: 16,777,216 and 0.8


def test_mean_of_values_near_a_thousand():
    values = np.random.RandomState(0).uniform(1000, 1001, 1_000_000).astype(np.float32)
    x = tf.placeholder(tf.float32, [None])
    mean, l2 = run([tf.reduce_mean(x), tf.nn.l2_loss(x)], {x: values})
    assert relative_error(mean, values.mean(dtype=np.float64)) <= TARGET  # sequentially 1009.998
    assert relative_error(l2, np.sum(np.square(values, dtype=np.float64)) / 2) <= TARGET


@pytest.mark.parametrize("shape, axis", [
    ((64, 300_000), 1),   # long runs, one output each
    ((300_000, 40), 0),   # long columns of a wide row (rows summed across)
    ((1_000_000, 3), 0),  # long columns of a short row (whole vectors spanning rows)
    ((4, 250_000, 3), 1),  # a reduced middle axis
    ((300, 2500), 0),     # rows wider than a tile of columns
])
def test_long_row_and_column_sums(shape, axis):
    values = np.random.RandomState(1).uniform(1000, 1001, shape).astype(np.float32)
    x = tf.placeholder(tf.float32, shape)
    total, mean = run([tf.reduce_sum(x, axis), tf.reduce_mean(x, axis)], {x: values})
    exact = values.sum(axis=axis, dtype=np.float64)
    assert relative_error(total, exact) <= TARGET
    assert relative_error(mean, exact / shape[axis]) <= TARGET


def test_a_hundred_million_values_from_broadcast_producers():
    # x + c over [10**4, 10**4]: 1e8 elements in runs of 10**4, the accumulation lengths of a flat 1e8
    # sum (about 2 x 10**5 leaves), from feeds of 10**4 elements. Every x + c is exact in float32
    # (a multiple of 2**-10 below 1002), so the exact sums are 10**4 (sum(x) + sum(c)).
    rng = np.random.RandomState(9)
    row = (1000 + rng.randint(0, 1024, 10_000) / 1024).astype(np.float32)
    column = (rng.randint(0, 1024, (10_000, 1)) / 1024).astype(np.float32)
    x, c = tf.placeholder(tf.float32, [10_000]), tf.placeholder(tf.float32, [10_000, 1])
    fetches = [tf.reduce_sum(x + c), tf.reduce_mean(x + c)]
    ones = run(fetches, {x: np.ones(10_000, np.float32), c: np.zeros((10_000, 1), np.float32)})
    assert ones == [1e8, 1.0]  # sequentially: 16,777,216 and 0.168
    total, mean = run(fetches, {x: row, c: column})
    exact = 10_000 * (row.sum(dtype=np.float64) + column.sum(dtype=np.float64))
    assert relative_error(total, exact) <= TARGET
    assert relative_error(mean, exact / 1e8) <= TARGET


def test_sums_of_broadcast_producers_over_every_axis():
    # x + column broadcasts along the rows, so the [5000, 4096] input does not coalesce to one run.
    rng = np.random.RandomState(2)
    row, column = rng.uniform(1000, 1001, 4096).astype(np.float32), rng.uniform(0, 1, (5000, 1)).astype(np.float32)
    x, c = tf.placeholder(tf.float32, [4096]), tf.placeholder(tf.float32, [5000, 1])
    total = run(tf.reduce_sum(x + c), {x: row, c: column})
    exact = np.sum(row.astype(np.float64)[None, :] + column.astype(np.float64))
    assert relative_error(total, exact) <= TARGET


def _cross_entropy(logits, labels):
    """(per-row losses, softmax) in float64."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    log_sums = np.log(np.exp(shifted).sum(axis=1))
    return log_sums - shifted[np.arange(len(labels)), labels], np.exp(shifted - log_sums[:, None])


def test_long_cross_entropy_mean():
    rng = np.random.RandomState(3)
    logits = rng.normal(0, 2, (1 << 20, 10)).astype(np.float32)
    labels = rng.randint(0, 10, 1 << 20).astype(np.int32)
    x, y = tf.placeholder(tf.float32, logits.shape), tf.placeholder(tf.int32, labels.shape)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x)
    mean = run(tf.reduce_mean(loss), {x: logits, y: labels})
    assert relative_error(mean, _cross_entropy(logits, labels)[0].mean()) <= TARGET  # sequentially 2.9e-5


def test_softmax_rows_of_a_million_classes():
    rng = np.random.RandomState(4)
    logits = rng.uniform(0, 0.01, (4, 1_000_000)).astype(np.float32)  # every exp near 1: lane sums grow long
    labels = rng.randint(0, 1_000_000, 4).astype(np.int32)
    x, y = tf.placeholder(tf.float32, logits.shape), tf.placeholder(tf.int32, labels.shape)
    losses, softmax, log_softmax = run([tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x),
                                        tf.nn.softmax(x), tf.nn.log_softmax(x)], {x: logits, y: labels})
    exact_losses, exact_softmax = _cross_entropy(logits, labels)
    assert relative_error(losses, exact_losses) <= TARGET  # sequential lanes: 1.1e-5
    assert relative_error(softmax, exact_softmax) <= TARGET  # 1.5e-4
    assert relative_error(log_softmax, np.log(exact_softmax)) <= TARGET


@pytest.mark.parametrize("m, n, transpose_a, transpose_b", [(1, 1, False, False), (2, 16, False, False),
                                                            (2, 16, True, True)])
def test_matmul_with_a_million_terms(m, n, transpose_a, transpose_b):
    k = 1_000_000
    rng = np.random.RandomState(5)
    a, b = rng.uniform(0, 1, (m, k)).astype(np.float32), rng.uniform(0, 1, (k, n)).astype(np.float32)
    a_fed, b_fed = (a.T.copy() if transpose_a else a), (b.T.copy() if transpose_b else b)
    pa, pb = tf.placeholder(tf.float32, a_fed.shape), tf.placeholder(tf.float32, b_fed.shape)
    product = run(tf.matmul(pa, pb, transpose_a=transpose_a, transpose_b=transpose_b), {pa: a_fed, pb: b_fed})
    assert relative_error(product, a.astype(np.float64) @ b.astype(np.float64)) <= TARGET


def test_small_products_sum_their_k_range_in_blocks():
    # 2 x 4000 x 2 stays below the GEMM library's threshold: the plain loop nest.
    rng = np.random.RandomState(5)
    a, b = rng.uniform(1000, 1001, (2, 4000)).astype(np.float32), rng.uniform(1000, 1001, (4000, 2)).astype(np.float32)
    pa, pb = tf.placeholder(tf.float32, a.shape), tf.placeholder(tf.float32, b.shape)
    products = run([tf.matmul(pa, pb), tf.matmul(pa, tf.transpose(pb), transpose_b=True)], {pa: a, pb: b})
    for product in products:
        assert relative_error(product, a.astype(np.float64) @ b.astype(np.float64)) <= TARGET


def exact_filter_gradient(images, grads):
    """The 3x3 SAME filter gradient of 28x28 images, summed in float64."""
    padded = np.pad(images.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    wide = grads.astype(np.float64)
    return np.array([[np.tensordot(padded[:, i:i + 28, j:j + 28], wide, axes=([0, 1, 2], [0, 1, 2]))
                      for j in range(3)] for i in range(3)])


def test_filter_gradient_of_many_chunks(monkeypatch):
    # One output pixel per im2col chunk: 156,800 chunks, 19,600 per partition, each chunk's product
    # added to the partition's partial filter (one after another: 1.6e-6; in segments: 2.4e-7).
    monkeypatch.setattr(windows, "im2col_chunk_bytes", lambda: 3 * 3 * 1 * 4)
    rng = np.random.RandomState(6)
    images = rng.uniform(0, 1, (200, 28, 28, 1)).astype(np.float32)
    grads = rng.uniform(0, 1, (200, 28, 28, 4)).astype(np.float32)
    x, dy = tf.placeholder(tf.float32, images.shape), tf.placeholder(tf.float32, grads.shape)
    filter_gradient = run(tf.nn.conv2d_backprop_filter(x, [3, 3, 1, 4], dy, [1, 1, 1, 1], "SAME"),
                          {x: images, dy: grads})
    assert relative_error(filter_gradient, exact_filter_gradient(images, grads)) <= TARGET


def test_filter_gradient_of_register_tiles():
    # K = 3*3*16: register tiles over the images (kernels/conv_tiled.py), 10 images a partition, each
    # summed in segments of 3 output rows (84 pixels) before joining the partition's partial filter.
    rng = np.random.RandomState(6)
    images = rng.uniform(0, 1, (200, 28, 28, 16)).astype(np.float32)
    grads = rng.uniform(0, 1, (200, 28, 28, 4)).astype(np.float32)
    x, dy = tf.placeholder(tf.float32, images.shape), tf.placeholder(tf.float32, grads.shape)
    filter_gradient = run(tf.nn.conv2d_backprop_filter(x, [3, 3, 16, 4], dy, [1, 1, 1, 1], "SAME"),
                          {x: images, dy: grads})
    assert relative_error(filter_gradient, exact_filter_gradient(images, grads)) <= TARGET


def test_global_average_pool_over_many_pixels():
    grads = np.random.RandomState(6).uniform(0, 1, (200, 28, 28, 4)).astype(np.float32)
    dy = tf.placeholder(tf.float32, grads.shape)
    average = run(tf.nn.avg_pool(dy, [1, 28, 28, 1], [1, 1, 1, 1], "VALID"), {dy: grads})
    assert relative_error(average, grads.astype(np.float64).mean(axis=(1, 2), keepdims=True)) <= TARGET  # 1.4e-6


def test_reference_interpreter_sums_at_least_as_accurately():
    count = 2 ** 24 + 2 ** 22
    x = tf.placeholder(tf.float32, [count])
    y = tf.placeholder(tf.float64, [4])
    total, mean, cancelled = interpret_graph([tf.reduce_sum(x), tf.reduce_mean(x), tf.reduce_sum(y)],
                                             {x: np.ones(count, np.float32), y: [1e16, 1, -1e16, 1]})
    assert total == count and mean == 1.0
    if np.finfo(np.longdouble).nmant >= 63:  # x86's extended long double: float64 sums kept exact here
        assert cancelled == 2.0


def test_long_sums_are_bit_identical_with_one_and_two_threads(restore_threads):
    rng = np.random.RandomState(7)
    feeds_values = {"a": rng.uniform(-1, 1, (600, 5000)).astype(np.float32),
                    "b": rng.uniform(-1, 1, (5000, 40)).astype(np.float32),
                    "images": rng.uniform(-1, 1, (200, 28, 28, 1)).astype(np.float32),
                    "grads": rng.uniform(-1, 1, (200, 28, 28, 4)).astype(np.float32)}
    results = []
    for threads in (1, 2):
        loader.set_num_threads(threads)
        with tf.Graph().as_default():
            a, b = tf.placeholder(tf.float32, [600, 5000]), tf.placeholder(tf.float32, [5000, 40])
            x, dy = tf.placeholder(tf.float32, [200, 28, 28, 1]), tf.placeholder(tf.float32, [200, 28, 28, 4])
            fetches = [tf.matmul(a, b), tf.matmul(b, a, transpose_a=True, transpose_b=True), tf.reduce_sum(a, 0),
                       tf.reduce_sum(b, 0),
                       tf.reduce_sum(tf.reshape(a, [-1, 40]), 0),  # partitions of rows on the pool (reduce_parts.py)
                       tf.nn.conv2d_backprop_filter(x, [3, 3, 1, 4], dy, [1, 1, 1, 1], "SAME"),
                       tf.nn.conv2d_backprop_filter(tf.tile(x, [1, 1, 1, 16]), [3, 3, 16, 4], dy, [1, 1, 1, 1],
                                                    "SAME")]  # register tiles
            results.append(run(fetches, {a: feeds_values["a"], b: feeds_values["b"], x: feeds_values["images"],
                                         dy: feeds_values["grads"]}))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


@pytest.mark.slow
def test_a_hundred_million_values():
    count = 100_000_000
    x = tf.placeholder(tf.float32, [count])
    total, mean = run([tf.reduce_sum(x), tf.reduce_mean(x)], {x: np.ones(count, np.float32)})
    assert total == count and mean == 1.0
    values = np.random.RandomState(8).uniform(1000, 1001, count).astype(np.float32)
    total, mean = run([tf.reduce_sum(x), tf.reduce_mean(x)], {x: values})
    exact = values.sum(dtype=np.float64)
    assert relative_error(total, exact) <= TARGET
    assert relative_error(mean, exact / count) <= TARGET
