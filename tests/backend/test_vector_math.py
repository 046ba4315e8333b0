"""The float32 elementary functions (vectorized exp/log/tanh/sigmoid/log1p/expm1, libm's others) against
correctly rounded results, over the whole range."""

import math

import numpy as np
import pytest

import graphc as tf


def float32_sweep():
    """Every 4099th float32 bit pattern (both signs), plus the special values."""
    bits = np.arange(0, 2 ** 32, 4099, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 88.7, 88.8, -103.9, -104.0, 1.0],
                        dtype=np.float32)
    return np.concatenate([values, specials])


def ulp_error(actual, exact):
    """|actual - exact| in units of the float32 spacing at exact (0 when both agree, NaNs included)."""
    with np.errstate(over="ignore"):
        exact32 = exact.astype(np.float32)
    same = (actual == exact32) | (np.isnan(actual) & np.isnan(exact32))
    spacing = np.spacing(np.abs(exact32)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        error = np.abs(actual.astype(np.float64) - exact) / spacing
    return np.where(same, 0.0, error)


@pytest.mark.parametrize("name, op, exact", [
    ("exp", tf.exp, np.exp),
    ("log", tf.log, np.log),
    ("tanh", tf.tanh, np.tanh),
    ("sigmoid", tf.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    ("log1p", tf.log1p, np.log1p),
    ("expm1", tf.expm1, np.expm1),
    ("erf", tf.erf, np.vectorize(math.erf, otypes=[np.float64])),
    # libm's, through LLVM intrinsics.
    ("sin", tf.sin, np.sin),
    ("cos", tf.cos, np.cos),
    ("tan", tf.tan, np.tan),
    ("atan2 with 1.5", lambda x: tf.atan2(x, 1.5), lambda x: np.arctan2(x, 1.5)),
])
def test_within_two_ulp(name, op, exact):
    x = float32_sweep()
    placeholder = tf.placeholder(tf.float32, [None])
    actual = tf.Session().run(op(placeholder), {placeholder: x})
    with np.errstate(all="ignore"):
        reference = exact(x.astype(np.float64))
    errors = ulp_error(actual, reference)
    # Below float32's normal range the formulas underflow (as the NumPy references do): any
    # result there that is itself tiny is right.
    tiny = np.abs(reference) < np.finfo(np.float32).tiny
    errors[tiny & (np.abs(actual) < np.finfo(np.float32).tiny)] = 0
    worst = int(np.nanargmax(errors))
    assert errors[worst] <= 2.5, f"{name}({x[worst]!r}) = {actual[worst]!r}, exact {reference[worst]!r}"


def test_tanh_of_a_value_does_not_depend_on_its_vector():
    """Where graphc emits whole vectors (here a row sum's producers), tanh computes its tail (|x| >= 1) only
    for vectors with a lane there: a value's result is the same bits whether its vector holds only values
    below 1, only values above, or both (the same values shuffled)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.0, scale, 4000) for scale in (0.3, 1.0, 4.0)]).astype(np.float32)
    x = np.concatenate([x, np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1.0, 9.1, 20.0, 0.5], np.float32)])
    in_order = np.sort(x)  # NaN last: nearly every vector is all below 1 or all above
    permutation = rng.permutation(in_order.size)
    shuffled = in_order[permutation]  # most vectors mix the two
    placeholder = tf.placeholder(tf.float32, [None, 10])
    tanh = tf.tanh(placeholder)
    fetches = [tanh, tf.reduce_sum(tanh, axis=1)]  # one reduce kernel, which stores tanh as it sums it
    with tf.Session() as sess:
        of_sorted = sess.run(fetches, {placeholder: in_order.reshape(-1, 10)})[0].reshape(-1)
        of_shuffled = sess.run(fetches, {placeholder: shuffled.reshape(-1, 10)})[0].reshape(-1)
    np.testing.assert_array_equal(of_sorted[permutation].view(np.uint32), of_shuffled.view(np.uint32))
    assert ulp_error(of_sorted, np.tanh(in_order.astype(np.float64))).max() <= 2.5
