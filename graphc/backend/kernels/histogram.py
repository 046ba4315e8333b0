"""histogram_statistics: a histogram summary's buckets, min, max, count, sum and sum of squares, computed
in the step so that only the statistics vector (core/histograms.py) leaves it.

Chunks of the values, each in two loops: the first finds every value's bucket
(no dependency between values: LLVM vectorizes it, the table loads become
gathers), the second adds them in order (the sums are sequential in float64, as
TF1's Histogram::Add makes them; they and min/max are its only dependency
chains; no branch: a value that is not finite adds 0 and counts in a slot that
is overwritten after the loop) and counts their buckets. A value's bucket is the
number of limits at or below it (std::upper_bound) without a search: the
limits are ±1e-12·1.1^k, so for |v| = m·2^e the bucket of |v| is about
(log2|v| - log2 1e-12) / log2 1.1, with log2|v| read off the float's bits
(e + m - 1, at most 0.09 below it: less than one bucket, log2 1.1 = 0.14).
Two compares with the exact limits above the estimate, independent of each
other (one compare each for either sign), turn it into the exact count, for any
value. Buckets count in int64, in the output's own slots, converted to float64
at the end. On a 784x300 float32 tensor (one thread, process time, a loaded
2-core VM): 13.2 ns a value with one branchy loop and four dependent compares,
5.3 with two independent compares and no branch, 4.1 with the buckets found
vectorized.
"""

from __future__ import annotations

import math
import sys

import llvmlite.ir as ir
import numpy as np

from graphc.backend import lowering
from graphc.backend.kernel_builder import F64, I64, KernelBuilder, global_array, i64
from graphc.backend.scalar_ops import convert
from graphc.core import dtypes, histograms

_CHUNK = 256  # values whose buckets are found (vectorized) before they are added in order
_COMPARES = 2  # limits compared with a value, from its estimate on (at most 2 below the count)


def lower_histogram_statistics(module, name, inst):
    (source,) = inst.values
    dtype = source.type.dtype
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    out, b = kb.arg("out"), kb.b
    limits = histograms.default_bucket_limits()
    positive = limits[limits > 0]  # p_0 = 1e-12 ... p_774 = DBL_MAX
    zero_index = int(np.flatnonzero(limits == 0.0)[0])
    # The positive limits, then +inf for the compares past the last one.
    table = global_array(module, f"{name}_limits", dtypes.float64,
                         np.concatenate([positive, np.full(_COMPARES, np.inf)]))
    with kb.loop(histograms.STATISTICS_SIZE, "zero") as i:
        kb.store(out, dtypes.int64, i, i64(0))  # counts, as int64 until the end
    zero, infinity = ir.Constant(F64, 0.0), ir.Constant(F64, float("inf"))
    smallest = kb.variable(F64, ir.Constant(F64, sys.float_info.max))
    largest = kb.variable(F64, ir.Constant(F64, -sys.float_info.max))
    total, squares = kb.variable(F64, zero), kb.variable(F64, zero)
    nans = kb.variable(I64, i64(0))
    count = source.type.num_elements
    buckets = kb.local_array(I64, _CHUNK)
    with kb.loop((count + _CHUNK - 1) // _CHUNK, "chunk") as chunk:
        start = b.mul(chunk, i64(_CHUNK))
        length = b.sub(i64(count), start)
        length = b.select(b.icmp_signed("<", length, i64(_CHUNK)), length, i64(_CHUNK))
        with kb.loop(length, "bucket") as j:  # no chain: LLVM vectorizes it
            value = convert(kb, kb.load(kb.arg("in0"), dtype, b.add(start, j)), dtype, dtypes.float64)
            magnitude = kb.intrinsic("fabs", dtypes.float64, [value])
            finite = b.fcmp_ordered("<", magnitude, infinity)
            kb.store(buckets, dtypes.int64, j, b.select(
                finite, _bucket(kb, table, value, magnitude, positive.size, zero_index),
                i64(histograms.INFINITIES)))  # the values not finite count there: overwritten below
        with kb.loop(length, "i") as j:
            _add_in_order(kb, out, kb.load(kb.arg("in0"), dtype, b.add(start, j)), dtype,
                          kb.load(buckets, dtypes.int64, j), (smallest, largest, total, squares, nans))
    non_finite = kb.load(out, dtypes.int64, i64(histograms.INFINITIES))
    with kb.loop(histograms.BUCKETS, "convert") as i:
        kb.store(out, dtypes.float64, i, b.sitofp(kb.load(out, dtypes.int64, i), F64))
    finite_count = b.sitofp(b.sub(i64(count), non_finite), F64)
    for index, result in ((histograms.MIN, kb.get(smallest, F64)), (histograms.MAX, kb.get(largest, F64)),
                          (histograms.NUM, finite_count), (histograms.SUM, kb.get(total, F64)),
                          (histograms.SUM_SQUARES, kb.get(squares, F64)),
                          (histograms.NANS, b.sitofp(kb.get(nans, I64), F64)),
                          (histograms.INFINITIES, b.sitofp(b.sub(non_finite, kb.get(nans, I64)), F64))):
        kb.store(out, dtypes.float64, i64(index), result)
    return kb.finish()


def _add_in_order(kb: KernelBuilder, out, element, dtype, bucket, accumulators) -> None:
    """One value's part of the sequential statistics: NaNs, min, max, sum, sum of squares (of the finite
    values, in order, as TF1's Histogram::Add), and its bucket's count."""
    b = kb.b
    smallest, largest, total, squares, nans = accumulators
    zero, infinity = ir.Constant(F64, 0.0), ir.Constant(F64, float("inf"))
    value = convert(kb, element, dtype, dtypes.float64)
    finite = b.fcmp_ordered("<", kb.intrinsic("fabs", dtypes.float64, [value]), infinity)  # false for NaN too
    kb.set(nans, b.add(kb.get(nans, I64), b.zext(b.fcmp_unordered("uno", value, value), I64)))
    below_smallest = b.and_(finite, b.fcmp_ordered("<", value, kb.get(smallest, F64)))
    kb.set(smallest, b.select(below_smallest, value, kb.get(smallest, F64)))
    above_largest = b.and_(finite, b.fcmp_ordered(">", value, kb.get(largest, F64)))
    kb.set(largest, b.select(above_largest, value, kb.get(largest, F64)))
    # Adding +0.0 changes no partial sum: one that starts at +0.0 is never -0.0.
    kb.set(total, b.fadd(kb.get(total, F64), b.select(finite, value, zero)))
    kb.set(squares, b.fadd(kb.get(squares, F64), b.select(finite, b.fmul(value, value), zero)))
    kb.store(out, dtypes.int64, bucket, b.add(kb.load(out, dtypes.int64, bucket), i64(1)))


def _bucket(kb: KernelBuilder, table, value, magnitude, positive_count: int, zero_index: int):
    """The bucket of a finite value: the limits at or below it, the last bucket at most.

    For v > 0 that is the negative limits, 0, and the positive limits p_k <= v; for v < 0 the
    negative limits -p_k <= v, i.e. all of them less those with p_k < |v|. So one count serves
    both: of the p_k at or below |v| (v > 0) or below it (v < 0)."""
    b = kb.b
    is_positive = b.fcmp_ordered(">", value, ir.Constant(F64, 0.0))
    # p < |v| is p <= the double just below |v| (one less in its bits): one compare serves both signs.
    bits = b.bitcast(magnitude, I64)
    reach = b.bitcast(b.sub(bits, b.zext(b.not_(is_positive), I64)), F64)

    def below(limit):  # whether a positive limit counts
        return b.fcmp_ordered("<=", limit, reach)

    # log2|v| from the bits: (biased exponent + mantissa fraction) - 1023, below it by at most 0.09.
    log2 = b.fsub(b.fmul(b.sitofp(bits, F64), ir.Constant(F64, 2.0 ** -52)),
                  ir.Constant(F64, 1023.0))
    estimate = b.fmul(b.fsub(log2, ir.Constant(F64, math.log2(1e-12))), ir.Constant(F64, 1.0 / math.log2(1.1)))
    estimate = b.select(b.fcmp_ordered(">", estimate, ir.Constant(F64, 0.0)), estimate, ir.Constant(F64, 0.0))
    estimate = b.select(b.fcmp_ordered("<", estimate, ir.Constant(F64, positive_count - 1)), estimate,
                        ir.Constant(F64, positive_count - 1))
    first = b.fptosi(estimate, I64)
    # The count is within [estimate, estimate + 2]: the estimate is below log2|v|'s bucket position by less
    # than 0.63 and above it by rounding only. The limits are sorted, so from limit `first` on, those below
    # |v| come first: the count is `first` plus how many of the next two are.
    counted = first
    for offset in range(_COMPARES):  # independent loads: no chain through the table
        counted = b.add(counted, b.zext(below(kb.load(table, dtypes.float64, b.add(first, i64(offset)))), I64))
    positive_bucket = b.add(i64(zero_index + 1), counted)
    last = i64(2 * positive_count)
    positive_bucket = b.select(b.icmp_signed("<", positive_bucket, last), positive_bucket, last)
    negative_bucket = b.sub(i64(positive_count), counted)
    is_zero = b.fcmp_ordered("==", value, ir.Constant(F64, 0.0))
    return b.select(is_zero, i64(zero_index + 1), b.select(is_positive, positive_bucket, negative_bucket))


lowering.register_kernels({"histogram_statistics": lower_histogram_statistics})
