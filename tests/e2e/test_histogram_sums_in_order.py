"""A histogram summary's sum and sum of squares are TF1's Histogram::Add ones, bit for bit: float64
additions one after another (`sum_ += v; sum_squares_ += v * v`), checked against a plain Python loop
on inputs built to make a faster order round differently: sums crossing binades, exact ties (values half
an ulp of the running sum off its grid), tiny and huge values mixed, denormals, zeros of both signs,
sign changes near zero, lengths around 64-value blocks and the pool's chunks, and weights like the
MLP's."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.core import histograms
from graphc.ops import summary_serialization as serialization
from graphc.runtime import loader


def in_order_sums(values) -> tuple:
    """The sum and sum of squares of the finite values, added one by one in float64 (Python floats)."""
    total, squares = 0.0, 0.0
    for v in np.asarray(values, np.float64).reshape(-1).tolist():
        if abs(v) != float("inf") and v == v:
            total += v
            squares += v * v
    return total, squares


def ties_in_the_squares(count: int, rng) -> np.ndarray:
    """float32 values whose squares are ties for the running sum of squares: a first value puts it in
    [2^21, 2^22) (ulp 2^-31), the others are odd multiples of 2^-16 (squares: odd multiples of 2^-32,
    half an ulp off the grid), with ordinary values between."""
    odd = (2 * rng.randint(0, 2 ** 14, count) + 1) * 2.0 ** -16
    ordinary = rng.standard_normal(count) * 0.05
    values = np.where(rng.rand(count) < 0.3, odd, ordinary)
    values[0] = 1500.0
    return values.astype(np.float32)


def ties_in_the_sum(count: int, rng) -> np.ndarray:
    """float64 values that are ties for the running sum: it starts at 1.0 (ulp 2^-52) and the others
    are odd multiples of 2^-53, of both signs, so that ties-to-even decides each addition."""
    values = (2 * rng.randint(0, 8, count) + 1) * 2.0 ** -53 * rng.choice([-1.0, 1.0], count)
    values[0] = 1.0
    return values


def crossing_binades(count: int, rng) -> np.ndarray:
    """A sum that crosses powers of two again and again, up and down (float64 values of ~0.3)."""
    steps = 0.3 + rng.standard_normal(count) * 1e-3
    return np.where(np.arange(count) // 500 % 2 == 0, steps, -steps)


CASES = {
    "weights like the MLP's": lambda rng: (rng.standard_normal(20000) * 0.05).astype(np.float32),
    "ReLU outputs": lambda rng: np.maximum(rng.standard_normal(6000), 0).astype(np.float32),
    "ties in the squares": lambda rng: ties_in_the_squares(5000, rng),
    "ties in the sum": lambda rng: ties_in_the_sum(5000, rng),
    "crossing binades": lambda rng: crossing_binades(5000, rng),
    "tiny and huge": lambda rng: rng.choice([1e-300, -1e-300, 1e300, -1e300, 1.0, 3e-310, 1e150], 3000),
    "float32 denormals": lambda rng: (rng.standard_normal(3000) * 1e-40).astype(np.float32),
    "float64 denormals": lambda rng: rng.randint(-50, 50, 3000) * 5e-324,
    "all zeros": lambda rng: np.zeros(3000, np.float32),
    "negative zeros": lambda rng: np.full(3000, -0.0, np.float32),
    "sign changes near zero": lambda rng: (rng.choice([-1.0, 1.0], 3000) * (1.0 + rng.rand(3000) * 2.0 ** -20)),
    "many scales": lambda rng: (rng.standard_normal(8000) * 10.0 ** rng.randint(-20, 20, 8000)).astype(np.float32),
    "squares past float64": lambda rng: rng.choice([1e200, 1.0, -2.5], 3000),
}


def histo_of(values):
    data = np.asarray(values)
    x = tf.placeholder(tf.as_dtype(data.dtype), [None])
    summary = tf.summary.histogram("h", x)
    with tf.Session() as session:
        return tf.Summary.FromString(session.run(summary, {x: data})).value[0].histo


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_sums_are_the_in_order_ones(case):
    values = CASES[case](np.random.RandomState(sorted(CASES).index(case)))
    histo = histo_of(values)
    with np.errstate(over="ignore"):
        assert (histo.sum, histo.sum_squares) == in_order_sums(values), case
        assert histo == serialization.histogram_proto(histograms.statistics(values))


def test_lengths_around_the_blocks():
    """Lengths around the kernel's groups of 8 values and blocks of 64 (a block-wise sum's unit: whole
    and part groups after them), of values with ties in their squares."""
    data = ties_in_the_squares(200, np.random.RandomState(1))
    x = tf.placeholder(tf.float32, [None])
    summary = tf.summary.histogram("h", x)
    with tf.Session() as session:
        for length in (0, 1, 7, 8, 9, 63, 64, 65, 71, 72, 127, 128, 129, 191, 192, 193, 200):
            histo = tf.Summary.FromString(session.run(summary, {x: data[:length]})).value[0].histo
            assert (histo.sum, histo.sum_squares) == in_order_sums(data[:length]), length


@pytest.fixture
def restore_threads():
    yield
    loader.set_num_threads(0)


@pytest.mark.parametrize("threads", [1, 2])
def test_long_tensors_on_the_pool(threads, restore_threads):
    """Past the pool's threshold, with ties and binade crossings: the same sums on 1 and 2 threads."""
    driver.load_runtime()
    loader.set_num_threads(threads)
    rng = np.random.RandomState(13)
    for values in (ties_in_the_squares(4 * 2048 + 77, rng), ties_in_the_sum(5 * 2048 + 3, rng),
                   crossing_binades(6 * 2048, rng)):
        histo = histo_of(values)
        assert (histo.sum, histo.sum_squares) == in_order_sums(values)
