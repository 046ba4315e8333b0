"""TF1's histograms (tensorflow/core/lib/histogram/histogram.cc): the default bucket edges, and the
statistics a compiled step computes for a histogram summary.

Shared by both stacks: the op library's NumPy reference and serialization
(ops/summary_ops.py, ops/summary_serialization.py) and the backend's kernel
(backend/kernels/histogram.py) compute the same vector, laid out as below, so
that only it (12 KB) leaves the native code, never the values summarised.
"""

from __future__ import annotations

import functools
import sys

import numpy as np


@functools.cache
def default_bucket_limits() -> np.ndarray:
    """TF1's histogram bucket right edges: ±1e-12 growing by 10% to ±1e20, ±DBL_MAX, and 0."""
    positive = []
    limit = 1.0e-12
    while limit < 1.0e20:
        positive.append(limit)
        limit *= 1.1
    positive.append(sys.float_info.max)
    return np.array([-v for v in reversed(positive)] + [0.0] + positive)


BUCKETS = default_bucket_limits().size
# The statistics vector (float64): the count of each bucket, then these, at BUCKETS + their index.
MIN, MAX, NUM, SUM, SUM_SQUARES, NANS, INFINITIES = range(BUCKETS, BUCKETS + 7)
STATISTICS_SIZE = BUCKETS + 7


def statistics(values) -> np.ndarray:
    """The statistics vector of `values` (any real array): a finite value v counts in the first bucket
    whose limit is > v (std::upper_bound, the last bucket at most); min, max, num, sum and sum of squares
    are of the finite values, compared and summed one after another in float64 as TF1's Histogram::Add does
    (so a zero min or max is the first zero, +0.0 or -0.0); NaNs and
    infinities are counted apart (a summary of them is an error)."""
    data = np.asarray(values).astype(np.float64).reshape(-1)
    finite = data[np.isfinite(data)]
    limits = default_bucket_limits()
    index = np.minimum(np.searchsorted(limits, finite, side="right"), limits.size - 1)
    result = np.zeros(STATISTICS_SIZE)
    result[:BUCKETS] = np.bincount(index, minlength=BUCKETS)
    result[MIN] = _first_of_equal(finite, finite.min()) if finite.size else sys.float_info.max
    result[MAX] = _first_of_equal(finite, finite.max()) if finite.size else -sys.float_info.max
    result[NUM] = finite.size
    # cumsum adds in order: a sequential sum, bit for bit the compiled loop's and TF's, once started from
    # +0.0 as TF's is (cumsum starts from the first value: of -0.0 values only, it would be -0.0).
    with np.errstate(over="ignore"):  # squares (and sums) of huge values are inf, as TF's are
        result[SUM] = 0.0 + np.cumsum(finite)[-1] if finite.size else 0.0
        result[SUM_SQUARES] = np.cumsum(finite * finite)[-1] if finite.size else 0.0
    result[NANS] = np.isnan(data).sum()
    result[INFINITIES] = np.isinf(data).sum()
    return result


def _first_of_equal(values: np.ndarray, extreme: float) -> float:
    """The first of `values` equal to `extreme`, as an in-order `if (v < min) min = v` keeps it: only
    zeros tell (+0.0 and -0.0 are equal)."""
    return values[np.flatnonzero(values == extreme)[0]]
