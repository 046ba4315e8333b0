"""histogram_statistics: a histogram summary's buckets, min, max, count, sum and sum of squares, computed
in the step so that only the statistics vector (core/histograms.py) leaves it.

TF1's Histogram::Add sums the values in order, in float64: the sum and the sum
of squares are two dependency chains of one addition a value (3 cycles on Zen 4,
0.83 ns a value at 3.6 GHz), which no reordering may shorten. Everything else is
exact in any order - the buckets (integers), min and max, the conversion to
float64 and the square (exact for float32) - so none of it is on those chains.
One loop over groups of _LANES values: the group's values as vectors (their
buckets, min, max, what each adds), then their additions one by one. The
additions of one group hide the vector work of the next (out-of-order
execution overlaps them; a chunk of vector work, then a chunk of additions,
would not: the reorder buffer fills with the waiting additions).

A value's bucket is the number of limits at or below it (std::upper_bound)
without a search: the limits are ±1e-12·1.1^k, so for |v| = m·2^e the bucket of
|v| is about (log2|v| - log2 1e-12) / log2 1.1, with log2|v| read off the
float's bits (e + m - 1, at most 0.09 below it: less than one bucket, log2 1.1
= 0.14). Two compares with the exact limits above the estimate (gathered from
the table), independent of each other (one compare each for either sign), turn
it into the exact count, for any value. Buckets count in int64, in the output's
own slots, converted to float64 at the end; a group's are counted _LAG groups
later. Min and max are kept per lane and reduced at the end: of equal values TF
keeps the first, which only shows for zeros (+0.0 and -0.0), so a zero min or
max is the first zero's.

On a 784x300 float32 tensor (one thread, process time, a loaded 2-core VM):
13.2 ns a value with one branchy loop and four dependent compares, 5.3 with two
independent compares and no branch, 4.1 with the buckets found vectorized in
chunks before a loop of additions, counts and min/max in order (3.55 on a
quieter machine), 2.05 in this layout. Without the counts it runs at the
additions' floor (0.87): the increments (a load and a store each) are what keeps
it above, together with the table loads - finding and counting without the
additions costs 0.95 ns a value with the limits replaced by arithmetic, 2.25
with them loaded (this VM has no performance counters to say which limit of the
core they meet). Counting each lane in one of four arrays, so that
a run of one bucket is no chain through memory, gained nothing on random values
(2.05) and 5% on a ReLU's (half zeros), less than zeroing and merging the
arrays costs a small tensor; counting a chunk's buckets after its additions,
from a buffer, took 2.5.

The pool's second thread is not used. Tried: one task adding all the values in
order while seven others found and counted parts of them (counts merged in
order, min and max exact: the same bits on any thread count). But finding and
counting alone costs 2.25 ns a value, adding in order alone 0.84: together 3.3
ns of process time a value against 2.05 here, so at best 1.6 ns of wall time on
two idle cores, and 3.3 on a loaded machine (the caller ends up running every
task), where this layout stays at 2.05.
"""

from __future__ import annotations

import math
import sys

import llvmlite.ir as ir
import numpy as np

from graphc.backend import lowering
from graphc.backend.kernel_builder import F64, I1, I32, I64, PTR, KernelBuilder, declare, global_array, i64
from graphc.backend.loops import horizontal
from graphc.backend.scalar_ops import convert
from graphc.core import dtypes, histograms

_LANES = 8  # values of a group: found as vectors (AVX-512: 8 float64), then added one by one
_COMPARES = 2  # limits compared with a value, from its estimate on (at most 2 below the count)
# Groups between finding a group's buckets and counting them: a count's address then waits on no
# recent gather (2.43 ns a value counting each group's own buckets, 2.04 four groups later, 2.06 eight).
_LAG = 4


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
    count = source.type.num_elements
    with kb.loop(histograms.STATISTICS_SIZE, "zero") as i:
        kb.store(out, dtypes.int64, i, i64(0))  # counts, as int64 until the end
    with kb.vector_lanes(_LANES):
        extremes = [kb.variable(kb.register_type(dtypes.float64), kb.constant(dtypes.float64, start))
                    for start in (sys.float_info.max, -sys.float_info.max)]
        sums = [kb.variable(F64, ir.Constant(F64, 0.0)) for _ in range(2)]  # of the values, of their squares
        group = _Group(kb, dtype, (table, positive.size, zero_index), out, extremes, sums)
        whole, rest = divmod(count, _LANES)
        with kb.loop(whole, "group") as index:
            group.add(kb.load_vector(kb.arg("in0"), dtype, b.mul(index, i64(_LANES)), _LANES))
        if rest:
            valid = ir.Constant(ir.VectorType(I1, _LANES), [lane < rest for lane in range(_LANES)])
            group.add(kb.load_vector_masked(kb.arg("in0"), dtype, i64(whole * _LANES), valid,
                                            kb.constant(dtype, 0)), valid)
        group.flush()
        smallest, largest = (horizontal(kb, lambda x, y, o=order: b.select(b.fcmp_ordered(o, y, x), y, x),
                                        kb.get(slot, kb.register_type(dtypes.float64)))
                             for slot, order in zip(extremes, ("<", ">")))
    non_finite = kb.load(out, dtypes.int64, i64(histograms.INFINITIES))
    with kb.loop(histograms.BUCKETS, "convert") as i:
        kb.store(out, dtypes.float64, i, b.sitofp(kb.load(out, dtypes.int64, i), F64))
    smallest, largest = _first_zero_where_zero(kb, dtype, smallest, largest)
    nans = _nans_if_any(kb, dtype, count, non_finite)
    finite_count = b.sitofp(b.sub(i64(count), non_finite), F64)
    for index, result in ((histograms.MIN, smallest), (histograms.MAX, largest),
                          (histograms.NUM, finite_count), (histograms.SUM, kb.get(sums[0], F64)),
                          (histograms.SUM_SQUARES, kb.get(sums[1], F64)),
                          (histograms.NANS, b.sitofp(nans, F64)),
                          (histograms.INFINITIES, b.sitofp(b.sub(non_finite, nans), F64))):
        kb.store(out, dtypes.float64, i64(index), result)
    return kb.finish()


class _Group:
    """The statistics of _LANES values at a time: `add` emits one group's part."""

    def __init__(self, kb: KernelBuilder, dtype, limits, counts, extremes: list, sums: list):
        self.kb, self.dtype, self.limits = kb, dtype, limits
        self.counts, self.extremes, self.sums = counts, extremes, sums
        self.pending = [kb.variable(kb.register_type(dtypes.int32), kb.constant(dtypes.int32, histograms.MIN))
                        for _ in range(_LAG)]

    def add(self, values, valid=None) -> None:
        """Adds the vector `values` (in the lanes `valid`, if given: the others are past the end).

        A value that is not finite adds 0 (adding +0.0 changes no partial sum: one
        that starts at +0.0 is never -0.0) and counts in the INFINITIES slot; a lane
        past the end, in the MIN slot; both are overwritten after the loop."""
        kb, b = self.kb, self.kb.b
        value = convert(kb, values, self.dtype, dtypes.float64)
        magnitude = kb.intrinsic("fabs", dtypes.float64, [value])
        finite = b.fcmp_ordered("<", magnitude, kb.constant(dtypes.float64, math.inf))  # false for NaN too
        bucket = b.select(finite, _bucket(kb, value, magnitude, *self.limits),
                          kb.constant(dtypes.int32, histograms.INFINITIES))
        if valid is not None:
            finite = b.and_(finite, valid)
            bucket = b.select(valid, bucket, kb.constant(dtypes.int32, histograms.MIN))
        for slot, order in zip(self.extremes, ("<", ">")):  # the first of equal values, in each lane
            current = kb.get(slot, value.type)
            kb.set(slot, b.select(b.and_(finite, b.fcmp_ordered(order, value, current)), value, current))
        kept = b.select(finite, value, kb.constant(dtypes.float64, 0.0))
        addends = (kept, b.fmul(kept, kept))
        self.count(bucket)
        for lane in range(_LANES):  # in order: the only dependency chains of the loop
            at = ir.Constant(I32, lane)
            for slot, addend in zip(self.sums, addends):
                kb.set(slot, b.fadd(kb.get(slot, F64), b.extract_element(addend, at)))

    def count(self, bucket) -> None:
        """Counts the buckets of the group _LAG groups back, and keeps `bucket` for later."""
        kb, b = self.kb, self.kb.b
        oldest = kb.get(self.pending[-1], bucket.type)
        for later, earlier in zip(self.pending[::-1], self.pending[-2::-1]):
            kb.set(later, kb.get(earlier, bucket.type))
        kb.set(self.pending[0], bucket)
        for lane in range(_LANES):
            index = b.extract_element(oldest, ir.Constant(I32, lane))
            kb.store(self.counts, dtypes.int64, index, b.add(kb.load(self.counts, dtypes.int64, index), i64(1)))

    def flush(self) -> None:
        """Counts the buckets still kept (the last _LAG groups'); those kept at first count in the MIN slot."""
        for _ in range(_LAG):
            self.count(self.kb.constant(dtypes.int32, histograms.MIN))


def _bucket(kb: KernelBuilder, value, magnitude, table, positive_count: int, zero_index: int):
    """The bucket (int32, in each lane) of a finite value: the limits at or below it, the last bucket at most.

    For v > 0 that is the negative limits, 0, and the positive limits p_k <= v; for v < 0 the
    negative limits -p_k <= v, i.e. all of them less those with p_k < |v|. So one count serves
    both: of the p_k at or below |v| (v > 0) or below it (v < 0)."""
    b = kb.b

    def real(x):
        return kb.constant(dtypes.float64, x)

    def integer(x):
        return kb.constant(dtypes.int32, x)

    is_positive = b.fcmp_ordered(">", value, real(0.0))
    # p < |v| is p <= the double just below |v| (one less in its bits): one compare serves both signs.
    bits = b.bitcast(magnitude, kb.register_type(dtypes.int64))
    reach = b.bitcast(b.sub(bits, b.zext(b.not_(is_positive), bits.type)), value.type)
    # log2|v| from the bits: (biased exponent + mantissa fraction) - 1023, below it by at most 0.09.
    log2 = b.fsub(b.fmul(b.sitofp(bits, value.type), real(2.0 ** -52)), real(1023.0))
    estimate = b.fmul(b.fsub(log2, real(math.log2(1e-12))), real(1.0 / math.log2(1.1)))
    estimate = b.select(b.fcmp_ordered(">", estimate, real(0.0)), estimate, real(0.0))
    estimate = b.select(b.fcmp_ordered("<", estimate, real(positive_count - 1)), estimate,
                        real(positive_count - 1))
    first = b.fptosi(estimate, kb.register_type(dtypes.int32))
    # The count is within [estimate, estimate + 2]: the estimate is below log2|v|'s bucket position by less
    # than 0.63 and above it by rounding only. The limits are sorted, so from limit `first` on, those below
    # |v| come first: the count is `first` plus how many of the next two are.
    counted = first
    for offset in range(_COMPARES):  # independent loads: no chain through the table
        limit = _gather(kb, table, b.add(first, integer(offset)))
        counted = b.add(counted, b.zext(b.fcmp_ordered("<=", limit, reach), first.type))
    positive_bucket = b.add(integer(zero_index + 1), counted)
    last = integer(2 * positive_count)
    positive_bucket = b.select(b.icmp_signed("<", positive_bucket, last), positive_bucket, last)
    negative_bucket = b.sub(integer(positive_count), counted)
    is_zero = b.fcmp_ordered("==", value, real(0.0))
    return b.select(is_zero, integer(zero_index + 1), b.select(is_positive, positive_bucket, negative_bucket))


def _gather(kb: KernelBuilder, table, index):
    """table[index] (float64) in each lane of the int32 vector `index`."""
    b, lanes = kb.b, index.type.count
    pointers = b.gep(table, [index], inbounds=True, source_etype=F64)
    pointers.type = ir.VectorType(PTR, lanes)  # llvmlite types a GEP as one pointer; LLVM, as their vector
    vector_type = ir.VectorType(F64, lanes)
    mask_type = ir.VectorType(I1, lanes)
    gather = declare(kb.module, f"llvm.masked.gather.v{lanes}f64.v{lanes}p0", vector_type,
                     [pointers.type, I32, mask_type, vector_type])
    return b.call(gather, [pointers, ir.Constant(I32, 8), ir.Constant(mask_type, [True] * lanes),
                           ir.Constant(vector_type, ir.Undefined)])


def _first_zero_where_zero(kb: KernelBuilder, dtype, smallest, largest) -> list:
    """Min and max as TF1's in-order compares leave them: of equal values, the first. Lanes and their
    reduction may keep another, which differs only for zeros: a zero min or max is the first zero."""
    b, zero = kb.b, ir.Constant(F64, 0.0)
    results = [kb.variable(F64, smallest), kb.variable(F64, largest)]
    is_zero = [b.fcmp_ordered("==", extreme, zero) for extreme in (smallest, largest)]
    with b.if_then(b.or_(*is_zero)):
        first = _first_zero(kb, dtype)
        for slot, extreme, zero_extreme in zip(results, (smallest, largest), is_zero):
            kb.set(slot, b.select(zero_extreme, first, extreme))
    return [kb.get(slot, F64) for slot in results]


def _first_zero(kb: KernelBuilder, dtype):
    """The first value (as float64) equal to zero; there is one."""
    b = kb.b
    index = kb.variable(I64, i64(0))
    header, following, found = (kb.function.append_basic_block(f"zero.{part}") for part in ("header", "next", "found"))
    b.branch(header)
    b.position_at_end(header)
    at = kb.get(index, I64)
    value = convert(kb, kb.load(kb.arg("in0"), dtype, at), dtype, dtypes.float64)
    b.cbranch(b.fcmp_ordered("==", value, ir.Constant(F64, 0.0)), found, following)
    b.position_at_end(following)
    kb.set(index, b.add(at, i64(1)))
    b.branch(header)
    b.position_at_end(found)
    return value


def _nans_if_any(kb: KernelBuilder, dtype, count: int, non_finite):
    """How many values are NaN: counted only when some value is not finite (then the summary fails)."""
    b = kb.b
    nans = kb.variable(I64, i64(0))
    with b.if_then(b.icmp_signed(">", non_finite, i64(0)), likely=False):
        with kb.loop(count, "nan") as i:
            value = convert(kb, kb.load(kb.arg("in0"), dtype, i), dtype, dtypes.float64)
            kb.set(nans, b.add(kb.get(nans, I64), b.zext(b.fcmp_unordered("uno", value, value), I64)))
    return kb.get(nans, I64)


lowering.register_kernels({"histogram_statistics": lower_histogram_statistics})
