"""histogram_statistics: a histogram summary's buckets, min, max, count, sum and sum of squares, computed
in the step so that only the statistics vector (core/histograms.py) leaves it.

One pass over the values, in order (the sums are sequential in float64, as
TF1's Histogram::Add makes them). A value's bucket is the number of limits
at or below it (std::upper_bound), found by a branchless binary search over
the limits padded with +inf to a power of two: log2 steps of a compare and a
select, no branch to mispredict on the data.
"""

from __future__ import annotations

import sys

import llvmlite.ir as ir
import numpy as np

from graphc.backend import lowering
from graphc.backend.kernel_builder import F64, KernelBuilder, global_array, i64
from graphc.backend.scalar_ops import convert
from graphc.core import dtypes, histograms


def lower_histogram_statistics(module, name, inst):
    (source,) = inst.values
    dtype = source.type.dtype
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    out, b = kb.arg("out"), kb.b
    limits = histograms.default_bucket_limits()
    padded_size = 1 << int(limits.size - 1).bit_length()
    table = global_array(module, f"{name}_limits", dtypes.float64,
                         np.concatenate([limits, np.full(padded_size - limits.size, np.inf)]))
    with kb.loop(histograms.STATISTICS_SIZE, "zero") as i:
        kb.store(out, dtypes.float64, i, ir.Constant(F64, 0.0))
    zero, one, infinity = ir.Constant(F64, 0.0), ir.Constant(F64, 1.0), ir.Constant(F64, float("inf"))
    smallest = kb.variable(F64, ir.Constant(F64, sys.float_info.max))
    largest = kb.variable(F64, ir.Constant(F64, -sys.float_info.max))
    count, total, squares = (kb.variable(F64, zero) for _ in range(3))
    nans, infinities = kb.variable(F64, zero), kb.variable(F64, zero)
    with kb.loop(source.type.num_elements, "i") as i:
        value = convert(kb, kb.load(kb.arg("in0"), dtype, i), dtype, dtypes.float64)
        is_nan = b.fcmp_unordered("uno", value, value)
        is_infinite = b.fcmp_ordered("==", kb.intrinsic("fabs", dtypes.float64, [value]), infinity)
        kb.set(nans, b.fadd(kb.get(nans, F64), b.select(is_nan, one, zero)))
        kb.set(infinities, b.fadd(kb.get(infinities, F64), b.select(is_infinite, one, zero)))
        with kb.if_(b.not_(b.or_(is_nan, is_infinite))):
            kb.set(smallest, b.select(b.fcmp_ordered("<", value, kb.get(smallest, F64)), value,
                                      kb.get(smallest, F64)))
            kb.set(largest, b.select(b.fcmp_ordered(">", value, kb.get(largest, F64)), value, kb.get(largest, F64)))
            kb.set(count, b.fadd(kb.get(count, F64), one))
            kb.set(total, b.fadd(kb.get(total, F64), value))
            kb.set(squares, b.fadd(kb.get(squares, F64), b.fmul(value, value)))
            position = i64(0)  # limits at or below the value, found a power of two at a time
            step = padded_size
            while step > 1:
                step //= 2
                limit = kb.load(table, dtypes.float64, b.add(position, i64(step - 1)))
                position = b.select(b.fcmp_ordered("<=", limit, value), b.add(position, i64(step)), position)
            bucket = b.select(b.icmp_signed("<", position, i64(limits.size)), position, i64(limits.size - 1))
            kb.store(out, dtypes.float64, bucket, b.fadd(kb.load(out, dtypes.float64, bucket), one))
    for index, variable in ((histograms.MIN, smallest), (histograms.MAX, largest), (histograms.NUM, count),
                            (histograms.SUM, total), (histograms.SUM_SQUARES, squares), (histograms.NANS, nans),
                            (histograms.INFINITIES, infinities)):
        kb.store(out, dtypes.float64, i64(index), kb.get(variable, F64))
    return kb.finish()


lowering.register_kernels({"histogram_statistics": lower_histogram_statistics})
