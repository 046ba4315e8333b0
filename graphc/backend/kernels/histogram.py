"""histogram_statistics: a histogram summary's buckets, min, max, count, sum and sum of squares, computed
in the step so that only the statistics vector (core/histograms.py) leaves it.

One pass over the values, in order (the sums are sequential in float64, as
TF1's Histogram::Add makes them; they are the loop's only long dependency
chains). A value's bucket is the number of limits at or below it
(std::upper_bound) without a search: the limits are ±1e-12·1.1^k, so for
|v| = m·2^e the bucket of |v| is about (log2|v| - log2 1e-12) / log2 1.1, with
log2|v| read off the float's bits (e + m - 1, at most 0.09 below it: less than
one bucket, log2 1.1 = 0.14). One compare with the exact limit below and three
with those above turn the estimate into the exact count, for any value.
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

_CORRECTIONS = 3  # compares with the limits above the estimate (it is at most 2 below the count)


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
                         np.concatenate([positive, np.full(_CORRECTIONS + 1, np.inf)]))
    with kb.loop(histograms.STATISTICS_SIZE, "zero") as i:
        kb.store(out, dtypes.float64, i, ir.Constant(F64, 0.0))
    zero, one = ir.Constant(F64, 0.0), ir.Constant(F64, 1.0)
    smallest = kb.variable(F64, ir.Constant(F64, sys.float_info.max))
    largest = kb.variable(F64, ir.Constant(F64, -sys.float_info.max))
    total, squares = kb.variable(F64, zero), kb.variable(F64, zero)
    nans, infinities = kb.variable(I64, i64(0)), kb.variable(I64, i64(0))
    with kb.loop(source.type.num_elements, "i") as i:
        value = convert(kb, kb.load(kb.arg("in0"), dtype, i), dtype, dtypes.float64)
        magnitude = kb.intrinsic("fabs", dtypes.float64, [value])
        is_nan = b.fcmp_unordered("uno", value, value)
        is_infinite = b.fcmp_ordered("==", magnitude, ir.Constant(F64, float("inf")))
        kb.set(nans, b.add(kb.get(nans, I64), b.zext(is_nan, I64)))
        kb.set(infinities, b.add(kb.get(infinities, I64), b.zext(is_infinite, I64)))
        with kb.if_(b.not_(b.or_(is_nan, is_infinite))):
            kb.set(smallest, b.select(b.fcmp_ordered("<", value, kb.get(smallest, F64)), value,
                                      kb.get(smallest, F64)))
            kb.set(largest, b.select(b.fcmp_ordered(">", value, kb.get(largest, F64)), value, kb.get(largest, F64)))
            kb.set(total, b.fadd(kb.get(total, F64), value))
            kb.set(squares, b.fadd(kb.get(squares, F64), b.fmul(value, value)))
            bucket = _bucket(kb, table, value, magnitude, positive.size, zero_index)
            kb.store(out, dtypes.float64, bucket, b.fadd(kb.load(out, dtypes.float64, bucket), one))
    non_finite = b.add(kb.get(nans, I64), kb.get(infinities, I64))
    count = b.sitofp(b.sub(i64(source.type.num_elements), non_finite), F64)
    for index, result in ((histograms.MIN, kb.get(smallest, F64)), (histograms.MAX, kb.get(largest, F64)),
                          (histograms.NUM, count), (histograms.SUM, kb.get(total, F64)),
                          (histograms.SUM_SQUARES, kb.get(squares, F64)),
                          (histograms.NANS, b.sitofp(kb.get(nans, I64), F64)),
                          (histograms.INFINITIES, b.sitofp(kb.get(infinities, I64), F64))):
        kb.store(out, dtypes.float64, i64(index), result)
    return kb.finish()


def _bucket(kb: KernelBuilder, table, value, magnitude, positive_count: int, zero_index: int):
    """The bucket of a finite value: the limits at or below it, the last bucket at most.

    For v > 0 that is the negative limits, 0, and the positive limits p_k <= v; for v < 0 the
    negative limits -p_k <= v, i.e. all of them less those with p_k < |v|. So one count serves
    both: of the p_k at or below |v| (v > 0) or below it (v < 0)."""
    b = kb.b
    is_positive = b.fcmp_ordered(">", value, ir.Constant(F64, 0.0))

    def below(limit):  # whether a positive limit counts
        return b.select(is_positive, b.fcmp_ordered("<=", limit, magnitude), b.fcmp_ordered("<", limit, magnitude))

    # log2|v| from the bits: (biased exponent + mantissa fraction) - 1023, below it by at most 0.09.
    log2 = b.fsub(b.fmul(b.sitofp(b.bitcast(magnitude, I64), F64), ir.Constant(F64, 2.0 ** -52)),
                  ir.Constant(F64, 1023.0))
    estimate = b.fmul(b.fsub(log2, ir.Constant(F64, math.log2(1e-12))), ir.Constant(F64, 1.0 / math.log2(1.1)))
    estimate = b.select(b.fcmp_ordered(">", estimate, ir.Constant(F64, 0.0)), estimate, ir.Constant(F64, 0.0))
    estimate = b.select(b.fcmp_ordered("<", estimate, ir.Constant(F64, positive_count - 1)), estimate,
                        ir.Constant(F64, positive_count - 1))
    counted = b.fptosi(estimate, I64)
    # One step down (the estimate is never more than one above the count), then up to three up.
    previous = kb.load(table, dtypes.float64, b.select(b.icmp_signed(">", counted, i64(0)),
                                                       b.sub(counted, i64(1)), i64(0)))
    step_down = b.and_(b.icmp_signed(">", counted, i64(0)), b.not_(below(previous)))
    counted = b.sub(counted, b.zext(step_down, I64))
    for _ in range(_CORRECTIONS):
        counted = b.add(counted, b.zext(below(kb.load(table, dtypes.float64, counted)), I64))
    positive_bucket = b.add(i64(zero_index + 1), counted)
    last = i64(2 * positive_count)
    positive_bucket = b.select(b.icmp_signed("<", positive_bucket, last), positive_bucket, last)
    negative_bucket = b.sub(i64(positive_count), counted)
    is_zero = b.fcmp_ordered("==", value, ir.Constant(F64, 0.0))
    return b.select(is_zero, i64(zero_index + 1), b.select(is_positive, positive_bucket, negative_bucket))


lowering.register_kernels({"histogram_statistics": lower_histogram_statistics})
