"""histogram_statistics: a histogram summary's buckets, min, max, count, sum and sum of squares, computed
in the step so that only the statistics vector (core/histograms.py) leaves it.

TF1's Histogram::Add sums the values in order, in float64: the sum and the sum
of squares are two dependency chains of one addition a value (3 cycles on Zen 4,
0.83 ns a value at 3.6 GHz). Their rounding is predictable, so blocks of values can
be added at once bit for bit when checks pass (docs/performance-notes.md, "Histogram
sums by block-wise speculation"), but the checks cost 0.64 ns a value of throughput,
more than the chains cost here, hidden behind the counting. Everything else is
exact in any order - the buckets (integers), min and max, the conversion to
float64 and the square (exact for float32) - so none of it is on those chains.

On the pool: task 0 adds every value in order; the other tasks (helpers) find
and count buckets, min and max of chunks of 2,048 values claimed from the back,
each in its own counts (integers: exact in any order) and lanes, merged at the
end. Task 0 claims chunks from the front while the unclaimed ones would keep the
helpers busy past its additions, and for those runs the whole group layout
below; past them, the additions alone. With no helper running (one thread, or
the other core busy) it claims every chunk: the one-thread layout, as fast.
The claims are one atomic word (front count, back count), so each chunk is
counted once whoever counts it, and every result is the same bits on any number
of threads.

The group layout: the group's _LANES values as vectors (their buckets, min, max,
what each adds), then their additions one by one. The additions of one group
hide the vector work of the next (out-of-order execution overlaps them; a chunk
of vector work, then a chunk of additions, would not: the reorder buffer fills
with the waiting additions). The
additions compile to one chain of 2-lane additions (sum, sum of squares) of 3
cycles a value; the conversion, the square and the shuffles are off it.

A value's bucket is the number of limits at or below it (std::upper_bound)
without a search: the limits are ±1e-12·1.1^k, and the top 16 bits of a double
(exponent and 4 bits of significand) cut its binade into intervals of a ratio
below 1.1, so each holds at most one limit. One gathered entry of a table indexed
by them gives the count below the interval and the limit inside (its low bits),
and one integer compare of the low bits tells whether it counts (one compare for
either sign). A float32 tensor indexes a table of int32 entries by its own bits (exponent and 4 bits
of significand), in int32 lanes: no limit is a float32, so one compare serves both signs there without
the step down, the finite test is one integer compare, and min and max are kept in float32 lanes
(_bucket_of_float32; the 4 MLP histograms' call 560 -> 440 us, one thread). The table replaced an
estimate from log2|v| read off the bits, corrected by a compare with the gathered limit: 12 float operations fewer a
vector, 1-3% of the 4 histograms' call (1 thread, within the noise of a loaded
VM). With a placeholder bucket instead (bits 40-49 of the value: no gather, the
increments spread over 1,024 slots), the call took 380 us against 570: the gather
or the repeated increments of the same few counts costs most (not told apart).
Buckets count in int64, in the output's own slots, converted to float64 at the
end; a group's are counted _LAG groups later. Min and max are kept per lane and
reduced at the end: of equal values TF keeps the first, which only shows for
zeros (+0.0 and -0.0), so a zero min or max is the first zero's.

On a 784x300 float32 tensor (one thread, process time, a loaded 2-core VM):
13.2 ns a value with one branchy loop and four dependent compares, 5.3 with two
independent compares and no branch, 4.1 with the buckets found vectorized in
chunks before a loop of additions, counts and min/max in order, 2.05 in this
layout with two compares, 1.69 with one (kernel wall time, 503 -> 398 us at
load average 10). The parts alone: the additions 0.92 ns a value, finding and
counting 1.28 (0.92 + 1.28 > 1.69: the layout overlaps them), so on two free
cores the kernel should take about 250 us (task 0 counting the first 17% of the
chunks itself): an estimate, not seen on the loaded VM, where the second core was
not free (the worker's CPU time shows it taking its share when it runs).
Counting each lane in one of four arrays gained nothing on random values and
5% on a ReLU's (half zeros); counting a chunk's buckets after its additions,
from a buffer, took 2.5.
"""

from __future__ import annotations

import math
import sys

import llvmlite.ir as ir
import numpy as np

from graphc.backend import lowering
from graphc.backend.kernel_builder import (F64, I1, I32, I64, PTR, VOID, KernelBuilder, declare, global_array, i64,
                                          runtime_function)
from graphc.backend.loops import horizontal
from graphc.backend.scalar_ops import convert
from graphc.core import dtypes, histograms

_LANES = 8  # values of a group: found as vectors (AVX-512: 8 float64), then added one by one
# The count table's entries: one for each top 16 bits of a positive double (sign, exponent, 4 bits of
# significand: intervals narrower than a 1.1 ratio, so no more than one limit inside), from 2^-40 (below
# the first limit, 1e-12) to 2^68 (above 1e20, the last but DBL_MAX: the first entry serves the values
# below, the last those above, where DBL_MAX's own count only moves a value past the last bucket, which
# it is already in); an entry packs the count of limits at or below the interval's start (high bits)
# and the low 48 bits of the limit inside (2^48: none).
_TABLE_SHIFT = 48
_TABLE_FIRST = (1023 - 40) << 4
_TABLE_SIZE = ((1023 + 68) << 4) - _TABLE_FIRST
_COUNT_SHIFT = 49
# Groups between finding a group's buckets and counting them: a count's address then waits on no
# recent gather (2.43 ns a value counting each group's own buckets, 2.04 four groups later, 2.06 eight).
_LAG = 4
_CHUNK_GROUPS = 256  # groups of a chunk, the unit the tasks claim: 2,048 values, a few microseconds of work
_MAX_HELPERS = 3  # tasks counting chunks besides the in-order one (their counts live in the kernel's frame)
# A helper's time to count a chunk over the in-order task's to add one, as a fraction (measured 1.4:
# 1.28 and 0.92 ns a value): what the in-order task's claims weigh (_InOrderTask.worth_claiming).
_COUNTING_OVER_ADDING = (3, 2)
_HALF = 32  # the claims word: chunks claimed from the front (low half), from the back (high half)


def lower_histogram_statistics(module, name, inst):
    (source,) = inst.values
    dtype = source.type.dtype
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    out, b = kb.arg("out"), kb.b
    limits = histograms.default_bucket_limits()
    positive = limits[limits > 0]  # p_0 = 1e-12 ... p_774 = DBL_MAX
    if dtype is dtypes.float32:  # the bucket from the value's own bits, 8 int32 lanes (_bucket_of_float32)
        table = global_array(module, f"{name}_counts", dtypes.int32, _float32_count_table(positive))
    else:
        table = global_array(module, f"{name}_counts", dtypes.int64, _count_table(positive))
    shape = _Chunks(dtype, source.type.num_elements, (table, positive.size, int(np.flatnonzero(limits == 0.0)[0])))
    with kb.loop(histograms.STATISTICS_SIZE, "zero") as i:
        kb.store(out, dtypes.int64, i, i64(0))  # counts, as int64 until the end
    helper_counts = kb.local_array(I64, _MAX_HELPERS * histograms.STATISTICS_SIZE)
    extremes = kb.local_array(F64, (1 + _MAX_HELPERS) * 2 * _LANES)  # each task's lanes: min, then max
    context = kb.variable(_CONTEXT)
    for field, value in enumerate((kb.arg("in0"), out, helper_counts, extremes, i64(0))):
        b.store(value, _field(b, context, field))
    tasks = shape.tasks(kb)
    b.call(runtime_function(module, "graphc_parallel_for"), [_task_function(module, name, shape), context, tasks])
    with kb.loop(b.sub(tasks, i64(1)), "helper") as helper:  # every slot is a count: add them
        with kb.loop(histograms.STATISTICS_SIZE, "merge") as i:
            at = b.add(b.mul(helper, i64(histograms.STATISTICS_SIZE)), i)
            helper_count = kb.load(helper_counts, dtypes.int64, at)
            kb.store(out, dtypes.int64, i, b.add(kb.load(out, dtypes.int64, i), helper_count))
    with kb.vector_lanes(_LANES):
        smallest, largest = (_lanes_of_every_task(kb, extremes, tasks, which, order)
                             for which, order in enumerate(("<", ">")))
        smallest, largest = (horizontal(kb, lambda x, y, o=order: b.select(b.fcmp_ordered(o, y, x), y, x), lanes)
                             for lanes, order in ((smallest, "<"), (largest, ">")))
    non_finite = kb.load(out, dtypes.int64, i64(histograms.INFINITIES))
    with kb.loop(histograms.BUCKETS, "convert") as i:
        kb.store(out, dtypes.float64, i, b.sitofp(kb.load(out, dtypes.int64, i), F64))
    smallest, largest = _first_zero_where_zero(kb, dtype, smallest, largest)
    nans = _nans_if_any(kb, dtype, shape.count, non_finite)
    finite_count = b.sitofp(b.sub(i64(shape.count), non_finite), F64)
    sums = [b.load(_field(b, context, field), typ=F64) for field in (_SUM, _SUM_SQUARES)]
    for index, result in ((histograms.MIN, smallest), (histograms.MAX, largest),
                          (histograms.NUM, finite_count), (histograms.SUM, sums[0]),
                          (histograms.SUM_SQUARES, sums[1]),
                          (histograms.NANS, b.sitofp(nans, F64)),
                          (histograms.INFINITIES, b.sitofp(b.sub(non_finite, nans), F64))):
        kb.store(out, dtypes.float64, i64(index), result)
    return kb.finish()


# The tasks' context: the values, the statistics (the in-order task's counts), the helpers' counts, every
# task's min and max lanes, the claims word, and the in-order task's two sums.
_CONTEXT = ir.LiteralStructType([PTR, PTR, PTR, PTR, I64, F64, F64])
_SOURCE, _OUT, _HELPER_COUNTS, _EXTREMES, _CLAIMS, _SUM, _SUM_SQUARES = range(7)


def _field(b, context, index):
    return b.gep(context, [ir.Constant(I32, 0), ir.Constant(I32, index)], source_etype=_CONTEXT)


class _Chunks:
    """The values cut into groups of _LANES (the whole ones, then `rest` values) and the whole groups into
    chunks of _CHUNK_GROUPS (the last one shorter): what the tasks claim."""

    def __init__(self, dtype, count: int, limits):
        self.dtype, self.count, self.limits = dtype, count, limits
        self.whole, self.rest = divmod(count, _LANES)
        self.chunks = -(-self.whole // _CHUNK_GROUPS)

    def tasks(self, kb: KernelBuilder):
        """The in-order task and, on more than one thread and for more than a few chunks, as many helpers
        as threads (at most _MAX_HELPERS): the in-order one's thread joins them when its sums are done."""
        b = kb.b
        if self.chunks < 4:  # less than ~20 us of work: not worth waking the pool
            return i64(1)
        threads = b.sext(b.call(runtime_function(kb.module, "graphc_num_threads"), []), I64)
        helpers = b.select(b.icmp_signed("<", threads, i64(_MAX_HELPERS)), threads, i64(_MAX_HELPERS))
        return b.select(b.icmp_signed(">", threads, i64(1)), b.add(helpers, i64(1)), i64(1))

    def each_group(self, kb: KernelBuilder, source, chunk, add) -> None:
        """add(values) for each whole group of `chunk`, in order."""
        b = kb.b
        first = b.mul(chunk, i64(_CHUNK_GROUPS))
        left = b.sub(i64(self.whole), first)
        with kb.loop(b.select(b.icmp_signed("<", left, i64(_CHUNK_GROUPS)), left, i64(_CHUNK_GROUPS)),
                     "group") as index:
            add(kb.load_vector(source, self.dtype, b.mul(b.add(first, index), i64(_LANES)), _LANES))


def _task_function(module, name: str, shape: _Chunks) -> ir.Function:
    """task(context, index, thread): task 0 adds every value in order (and counts the chunks it claims
    from the front), the others count the chunks they claim from the back."""
    task = KernelBuilder(module, f"{name}_task", ["context", "index", "thread"], [PTR, I64, I64], VOID)
    b, context = task.b, task.arg("context")
    values = [b.load(_field(b, context, field), typ=PTR) for field in (_SOURCE, _OUT, _HELPER_COUNTS, _EXTREMES)]
    source, out, helper_counts, extremes = values
    claims = _field(b, context, _CLAIMS)
    with b.if_else(b.icmp_signed("==", task.arg("index"), i64(0))) as (in_order, helper):
        with in_order:
            _InOrderTask(task, shape, source, claims).emit(out, extremes, context)
        with helper:
            index = b.sub(task.arg("index"), i64(1))
            counts = task.b.gep(helper_counts, [b.mul(index, i64(histograms.STATISTICS_SIZE))], source_etype=I64)
            _helper_task(task, shape, source, claims, counts, b.gep(extremes, [b.mul(
                task.arg("index"), i64(2 * _LANES))], source_etype=F64))
    return task.finish()


class _InOrderTask:
    """Adds every value in order, and finds and counts the values of the chunks it claims as it goes.

    A chunk it claims costs it the whole group layout (about 1.69 ns a value); one it leaves to the
    helpers, the additions alone (0.92). It claims the next chunk from the front while the unclaimed
    ones would keep the helpers busy as long as its additions of the rest take, so that both finish
    together; with no helper running (one thread, or their core busy) it claims them all."""

    def __init__(self, kb: KernelBuilder, shape: _Chunks, source, claims):
        self.kb, self.shape, self.source, self.claims = kb, shape, source, claims

    def emit(self, out, extremes, context) -> None:
        kb, b, shape = self.kb, self.kb.b, self.shape
        with kb.vector_lanes(_LANES):
            lanes = _initial_extremes(kb, shape.dtype)
            sums = [kb.variable(F64, ir.Constant(F64, 0.0)) for _ in range(2)]  # of the values, of their squares
            group = _Group(kb, shape.dtype, shape.limits, out, lanes, sums)
            claimed = kb.variable(I64, i64(0))
            header, body, done = (kb.function.append_basic_block(f"front.{part}")
                                  for part in ("header", "body", "done"))
            b.branch(header)
            b.position_at_end(header)
            chunk = self.claim()
            b.cbranch(b.icmp_signed(">=", chunk, i64(0)), body, done)
            b.position_at_end(body)
            group.begin()
            shape.each_group(kb, self.source, chunk, group.add)
            group.flush()
            kb.set(claimed, b.add(chunk, i64(1)))
            b.branch(header)
            b.position_at_end(done)
            first = b.mul(kb.get(claimed, I64), i64(_CHUNK_GROUPS))  # the helpers' chunks from here on
            with kb.loop(b.sub(i64(shape.whole), first), "added") as index:
                group.add_in_order(kb.load_vector(self.source, shape.dtype, b.mul(b.add(first, index), i64(_LANES)),
                                                  _LANES))
            if shape.rest:
                valid = ir.Constant(ir.VectorType(I1, _LANES), [lane < shape.rest for lane in range(_LANES)])
                group.begin()
                group.add(kb.load_vector_masked(self.source, shape.dtype, i64(shape.whole * _LANES), valid,
                                                kb.constant(shape.dtype, 0)), valid)
                group.flush()
            _store_extremes(kb, shape.dtype, extremes, lanes)
        for slot, field in zip(sums, (_SUM, _SUM_SQUARES)):
            b.store(kb.get(slot, F64), _field(b, context, field))

    def worth_claiming(self, word):
        """Whether to claim the next chunk from the front, given the claims word: yes while the helpers'
        counting of the other unclaimed chunks would outlast its additions of the chunks after it,
        _COUNTING_OVER_ADDING x (unclaimed - 1) >= chunks left - 1. Stopping early costs little (the helper
        task it runs when its additions are done counts what is left), late more (the helpers wait)."""
        b, chunks = self.kb.b, i64(self.shape.chunks)
        front, back = _halves(b, word)
        unclaimed = b.sub(b.sub(chunks, front), back)
        return b.icmp_signed(">=", b.mul(b.sub(unclaimed, i64(1)), i64(_COUNTING_OVER_ADDING[0])),
                             b.mul(b.sub(b.sub(chunks, front), i64(1)), i64(_COUNTING_OVER_ADDING[1])))

    def claim(self):
        """The chunk claimed from the front, or -1 (none left, or the helpers' to count)."""
        kb, b = self.kb, self.kb.b
        result = kb.variable(I64, i64(-1))
        word = b.load_atomic(self.claims, "monotonic", 8, typ=I64)
        with b.if_then(self.worth_claiming(word)):
            old = b.atomic_rmw("add", self.claims, i64(1), "acq_rel")
            with b.if_then(_unclaimed(b, old, self.shape.chunks)):
                kb.set(result, _halves(b, old)[0])
        return kb.get(result, I64)


def _halves(b, word) -> tuple:
    """The claims word's counts: of the chunks claimed from the front, from the back."""
    return b.and_(word, i64((1 << _HALF) - 1)), b.lshr(word, i64(_HALF))


def _unclaimed(b, word, chunks: int):
    """Whether a chunk was still unclaimed when the claims word was `word` (taken by this claim)."""
    front, back = _halves(b, word)
    return b.icmp_signed("<", b.add(front, back), i64(chunks))


def _helper_task(kb: KernelBuilder, shape: _Chunks, source, claims, counts, extremes) -> None:
    """Finds and counts the values of the chunks it claims from the back, in its own counts and lanes."""
    b = kb.b
    with kb.loop(histograms.STATISTICS_SIZE, "zero") as i:
        kb.store(counts, dtypes.int64, i, i64(0))
    with kb.vector_lanes(_LANES):
        lanes = _initial_extremes(kb, shape.dtype)
        group = _Group(kb, shape.dtype, shape.limits, counts, lanes, None)
        header, body, done = (kb.function.append_basic_block(f"back.{part}") for part in ("header", "body", "done"))
        b.branch(header)
        b.position_at_end(header)
        old = b.atomic_rmw("add", claims, i64(1 << _HALF), "acq_rel")
        b.cbranch(_unclaimed(b, old, shape.chunks), body, done)
        b.position_at_end(body)
        group.begin()
        shape.each_group(kb, source, b.sub(i64(shape.chunks - 1), b.lshr(old, i64(_HALF))), group.add)
        group.flush()
        b.branch(header)
        b.position_at_end(done)
        _store_extremes(kb, shape.dtype, extremes, lanes)


def _extremes_dtype(dtype):
    """The type min and max are kept in: a float32 tensor's own (half the vector work of float64 lanes),
    else float64."""
    return dtypes.float32 if dtype is dtypes.float32 else dtypes.float64


def _initial_extremes(kb: KernelBuilder, dtype) -> list:
    """Min and max lanes before any value: DBL_MAX and -DBL_MAX, as TF1's Histogram starts (in float32
    lanes, infinities: no finite value is one, and _store_extremes gives them back as DBL_MAX)."""
    kept = _extremes_dtype(dtype)
    largest = sys.float_info.max if kept is dtypes.float64 else math.inf
    return [kb.variable(kb.register_type(kept), kb.constant(kept, start)) for start in (largest, -largest)]


def _store_extremes(kb: KernelBuilder, dtype, extremes, lanes: list) -> None:
    """Stores the min and max lanes, as float64 (float32 lanes' infinities as DBL_MAX and -DBL_MAX)."""
    b, kept = kb.b, _extremes_dtype(dtype)
    for which, (slot, start) in enumerate(zip(lanes, (sys.float_info.max, -sys.float_info.max))):
        lane = kb.get(slot, kb.register_type(kept))
        if kept is not dtypes.float64:
            lane = b.fpext(lane, kb.register_type(dtypes.float64))
            infinite = b.fcmp_ordered("==", lane, kb.constant(dtypes.float64, math.copysign(math.inf, start)))
            lane = b.select(infinite, kb.constant(dtypes.float64, start), lane)
        kb.store_vector(extremes, dtypes.float64, i64(which * _LANES), lane)


def _lanes_of_every_task(kb: KernelBuilder, extremes, tasks, which: int, order: str):
    """The min (max) lanes of the tasks' lanes, lane by lane."""
    b, vector = kb.b, kb.register_type(dtypes.float64)
    result = kb.variable(vector, kb.load_vector(extremes, dtypes.float64, i64(which * _LANES), _LANES))
    with kb.loop(b.sub(tasks, i64(1)), "extremes") as helper:
        at = b.add(b.mul(b.add(helper, i64(1)), i64(2 * _LANES)), i64(which * _LANES))
        other, current = kb.load_vector(extremes, dtypes.float64, at, _LANES), kb.get(result, vector)
        kb.set(result, b.select(b.fcmp_ordered(order, other, current), other, current))
    return kb.get(result, vector)


class _Group:
    """The statistics of _LANES values at a time: `add` emits one group's part."""

    def __init__(self, kb: KernelBuilder, dtype, limits, counts, extremes: list, sums):
        self.kb, self.dtype, self.limits = kb, dtype, limits
        self.counts, self.extremes, self.sums = counts, extremes, sums
        self.pending = [kb.variable(kb.register_type(dtypes.int32)) for _ in range(_LAG)]

    def begin(self) -> None:
        """Starts a run of groups: nothing pending (placeholders counted in the MIN slot, overwritten)."""
        for slot in self.pending:
            self.kb.set(slot, self.kb.constant(dtypes.int32, histograms.MIN))

    def add(self, values, valid=None) -> None:
        """Adds the vector `values` (in the lanes `valid`, if given: the others are past the end).

        A value that is not finite adds 0 (adding +0.0 changes no partial sum: one
        that starts at +0.0 is never -0.0) and counts in the INFINITIES slot; a lane
        past the end, in the MIN slot; both are overwritten after the loop. Without
        sums (a helper), only the counts and the extremes."""
        kb, b = self.kb, self.kb.b
        value = convert(kb, values, self.dtype, dtypes.float64)
        if self.dtype is dtypes.float32:  # from its bits, in int32 lanes
            bits = b.bitcast(values, kb.register_type(dtypes.int32))
            finite = b.icmp_unsigned("<", b.shl(bits, kb.constant(dtypes.int32, 1)),
                                     kb.constant(dtypes.int32, -(1 << 24)))  # exponent not all ones
            found = _bucket_of_float32(kb, bits, *self.limits)
        else:
            magnitude = kb.intrinsic("fabs", dtypes.float64, [value])
            finite = b.fcmp_ordered("<", magnitude, kb.constant(dtypes.float64, math.inf))  # false for NaN too
            found = _bucket(kb, value, magnitude, *self.limits)
        bucket = b.select(finite, found, kb.constant(dtypes.int32, histograms.INFINITIES))
        if valid is not None:
            finite = b.and_(finite, valid)
            bucket = b.select(valid, bucket, kb.constant(dtypes.int32, histograms.MIN))
        compared = values if self.dtype is dtypes.float32 else value  # as _extremes_dtype keeps them
        for slot, order in zip(self.extremes, ("<", ">")):  # the first of equal values, in each lane
            current = kb.get(slot, compared.type)
            kb.set(slot, b.select(b.and_(finite, b.fcmp_ordered(order, compared, current)), compared, current))
        self.count(bucket)
        if self.sums is not None:
            self._add_lanes(value, finite)

    def add_in_order(self, values) -> None:
        """The sums alone: adds the vector `values`' finite lanes in order."""
        value = convert(self.kb, values, self.dtype, dtypes.float64)
        magnitude = self.kb.intrinsic("fabs", dtypes.float64, [value])
        self._add_lanes(value, self.kb.b.fcmp_ordered("<", magnitude, self.kb.constant(dtypes.float64, math.inf)))

    def _add_lanes(self, value, finite) -> None:
        kb, b = self.kb, self.kb.b
        kept = b.select(finite, value, kb.constant(dtypes.float64, 0.0))
        addends = (kept, b.fmul(kept, kept))
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
    reach = b.sub(bits, b.zext(b.not_(is_positive), bits.type))
    # The count of the limits at or below `reach`: its interval's entry (the ones below 2^-40 share the
    # first, which has none), plus one if the limit inside is at or below it (the same top bits: compare
    # the low ones).
    long = kb.register_type(dtypes.int64)

    def wide(x):
        return kb.constant(dtypes.int64, x)

    index = b.sub(b.ashr(reach, wide(_TABLE_SHIFT)), wide(_TABLE_FIRST))
    index = b.select(b.icmp_signed(">", index, wide(0)), index, wide(0))
    index = b.select(b.icmp_signed("<", index, wide(_TABLE_SIZE - 1)), index, wide(_TABLE_SIZE - 1))  # NaN, inf
    entry = _gather(kb, table, b.trunc(index, kb.register_type(dtypes.int32)))
    inside = b.icmp_signed(">=", b.and_(reach, wide((1 << _TABLE_SHIFT) - 1)),
                           b.and_(entry, wide((1 << _COUNT_SHIFT) - 1)))
    counted = b.trunc(b.add(b.lshr(entry, wide(_COUNT_SHIFT)), b.zext(inside, long)), kb.register_type(dtypes.int32))
    positive_bucket = b.add(integer(zero_index + 1), counted)
    last = integer(2 * positive_count)
    positive_bucket = b.select(b.icmp_signed("<", positive_bucket, last), positive_bucket, last)
    negative_bucket = b.sub(integer(positive_count), counted)
    is_zero = b.fcmp_ordered("==", value, real(0.0))
    return b.select(is_zero, integer(zero_index + 1), b.select(is_positive, positive_bucket, negative_bucket))


def _count_table(positive: np.ndarray) -> np.ndarray:
    """The count table (see _TABLE_SHIFT) of the positive limits `positive`."""
    limits = positive.view(np.int64)
    starts = (np.arange(_TABLE_SIZE, dtype=np.int64) + _TABLE_FIRST) << _TABLE_SHIFT
    ends = starts + (1 << _TABLE_SHIFT)
    below = np.searchsorted(limits, starts, side="right")  # limits at or below each start
    inside = np.searchsorted(limits, ends, side="left") - below  # limits strictly inside
    assert inside.max() <= 1 and inside[0] == 0 and below[0] == 0 and inside[-1] == 0
    assert below[-1] == limits.size - 1 and limits[-2] < ends[-1]  # all but DBL_MAX below the last entry
    low = np.where(inside == 1, limits[np.minimum(below, limits.size - 1)] & ((1 << _TABLE_SHIFT) - 1),
                   1 << _TABLE_SHIFT)
    return (below << _COUNT_SHIFT) | low


# The float32 count table: an entry for each top 12 bits of a float32's magnitude (exponent and 4 bits of
# significand: intervals of a ratio at most 1 + 1/16, so no more than one limit inside), packing the count of
# limits at or below the interval's start (from bit _F32_COUNT_SHIFT) and the low 19 bits of the smallest
# float32 at or above the limit inside (2^19: none) in one int32. It is read at those 12 bits as a signed
# number (the bits shifted left by one, then right arithmetically: two operations, no clamp; exponents from
# 128 up read the first half) from its middle: a 32-bit index that the gather takes as it is (LLVM widens an
# index it knows is not negative to 64 bits: twice the gather's index lanes).
_F32_SHIFT = 19
_F32_TABLE_SIZE = 1 << (31 - _F32_SHIFT)
_F32_COUNT_SHIFT = 20


def _bucket_of_float32(kb: KernelBuilder, bits, table, positive_count: int, zero_index: int):
    """The bucket (int32, in each lane) of a finite float32 value from its `bits` (int32 lanes): as _bucket,
    with half the vector work of int64 lanes and no conversion on the way.

    No limit is a float32 (_float32_count_table checks it), so the limits below |v| are those at or below
    it for either sign; -0.0 counts as +0.0 (its magnitude's count is 0, and it is not "negative")."""
    b = kb.b

    def integer(x):
        return kb.constant(dtypes.int32, x)

    index = b.ashr(b.shl(bits, integer(1)), integer(_F32_SHIFT + 1))
    middle = b.gep(table, [ir.Constant(I32, _F32_TABLE_SIZE // 2)], inbounds=True, source_etype=I32)
    entry = _gather(kb, middle, index, I32)
    inside = b.icmp_signed(">=", b.and_(bits, integer((1 << _F32_SHIFT) - 1)),
                           b.and_(entry, integer((1 << _F32_COUNT_SHIFT) - 1)))
    counted = b.add(b.lshr(entry, integer(_F32_COUNT_SHIFT)), b.zext(inside, entry.type))
    is_negative = b.icmp_unsigned(">", bits, integer(-(1 << 31)))  # sign set and magnitude not 0 (not -0.0)
    # Every finite float32 is below 2^128, where at most all limits but DBL_MAX count: no last-bucket clamp.
    return b.select(is_negative, b.sub(integer(positive_count), counted), b.add(integer(zero_index + 1), counted))


def _float32_count_table(positive: np.ndarray) -> np.ndarray:
    """The float32 count table (see _F32_SHIFT) of the positive limits `positive`, in the order it is read:
    the entries of top bits 2048-4095 (values from 2 up, infinities and NaNs: 0), then those of 0-2047."""
    representable = positive[positive <= np.finfo(np.float32).max]
    assert not np.any(representable.astype(np.float32).astype(np.float64) == representable)  # none a float32
    finite_intervals = 0xFF << 4  # the top bits below the exponent of infinities and NaNs
    start_bits = np.arange(finite_intervals, dtype=np.int64) << _F32_SHIFT
    end_bits = start_bits + (1 << _F32_SHIFT)
    starts, ends = (x.astype(np.uint32).view(np.float32).astype(np.float64) for x in (start_bits, end_bits))
    # DBL_MAX is above every float32 (the last interval ends at infinity: it is not inside).
    below = np.searchsorted(representable, starts, side="right")  # limits at or below each start
    inside = np.searchsorted(representable, ends, side="left") - below  # limits strictly inside
    assert inside.max() <= 1 and below.max() < 1 << (31 - _F32_COUNT_SHIFT)
    limit = representable[np.minimum(below, representable.size - 1)]
    rounded = limit.astype(np.float32)
    up = np.where(rounded.astype(np.float64) < limit, np.nextafter(rounded, np.float32(np.inf)), rounded)
    up_bits = up.view(np.uint32).astype(np.int64)
    # A limit whose float32 above it is the next interval's start counts there (it is below that start).
    counts_here = (inside == 1) & (up_bits < end_bits)
    low = np.where(counts_here, up_bits & ((1 << _F32_SHIFT) - 1), 1 << _F32_SHIFT)
    entries = np.zeros(_F32_TABLE_SIZE, np.int64)
    entries[:finite_intervals] = (below << _F32_COUNT_SHIFT) | low
    return np.roll(entries, _F32_TABLE_SIZE // 2).astype(np.int32)  # read from its middle by signed top bits


def _gather(kb: KernelBuilder, table, index, element=I64):
    """table[index] (`element`: int64 or int32) in each lane of the int32 vector `index` (`table`: a pointer
    to its elements)."""
    b, lanes, size = kb.b, index.type.count, element.width // 8
    pointers = b.gep(table, [index], inbounds=True, source_etype=element)
    pointers.type = ir.VectorType(PTR, lanes)  # llvmlite types a GEP as one pointer; LLVM, as their vector
    vector_type = ir.VectorType(element, lanes)
    mask_type = ir.VectorType(I1, lanes)
    gather = declare(kb.module, f"llvm.masked.gather.v{lanes}i{element.width}.v{lanes}p0", vector_type,
                     [pointers.type, I32, mask_type, vector_type])
    return b.call(gather, [pointers, ir.Constant(I32, size), ir.Constant(mask_type, [True] * lanes),
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
