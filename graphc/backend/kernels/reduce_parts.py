"""The main pass of a reduce kernel summing many rows into one output row (a bias gradient:
the [images x pixels, channels] ReLU gradient summed over its rows), on the thread pool.

The rows are cut into at most PARTS partitions of whole leaves (reduce_columns.ROWS_PER_LEAF
rows each), a cut fixed by the shape alone. A task of the pool sums a partition's leaves into
its own partial row in the kernel's stack frame (leaves added pairwise, as ColumnReduction
does), and the kernel then adds the partial rows by a fixed tree of halves. So a long sum
stays as accurate as ColumnReduction's and the result does not depend on the thread count.
(The CNN's conv1 ReLU gradient and bias sum, 2.5 M floats read twice and written once, ran
on one thread at about a third of what the memory delivers to two cores.)
"""

from __future__ import annotations

import math

from graphc.backend import target
from graphc.backend.kernel_builder import KernelBuilder, i64, memory_type
from graphc.backend.kernels.parallel import emit_parallel_for
from graphc.backend.kernels.reduce_columns import (ROWS_PER_LEAF, TILE, ColumnReduction, padded_width,
                                                   store_first_lanes)
from graphc.backend.kernels.reduction import Accumulator
from graphc.backend.kernels.summation import each_vector

PARTS = 16  # fixed partitions: enough tasks for the pool to balance two threads (parallel.TASKS_PER_THREAD)
# A smaller sum runs on one thread. A column sum does one addition per element it reads: one thread
# sums 2^18 floats from L2 in about 15 us, the LSTM's [100, 512] bias gradient in 2.8. On the pool that
# sum took 3.3 us with both cores free (the worker reading rows the caller's core had just written) and
# 50-180 us under load, the caller waiting for a partition the worker had claimed and was preempted in.
MIN_ELEMENTS = 1 << 18


class PartitionedColumnSums:
    """Sums the rows of [..., columns] (coalesced shape and stream strides; `applies`) into one
    output row, stored as `Accumulator.result`s. `streams_in(kb, buffers)` builds the main pass's
    Streams in the function `kb` emits (each task reads the buffers through its own pointers)."""

    def __init__(self, kb: KernelBuilder, name: str, accumulator: Accumulator, shape, strides, streams_in,
                 buffers_arg):
        self.kb, self.name, self.accumulator = kb, name, accumulator
        self.shape, self.strides, self.streams_in, self.buffers_arg = list(shape), strides, streams_in, buffers_arg
        self.columns = shape[-1]
        leaves = -(-math.prod(shape[:-1]) // ROWS_PER_LEAF)
        self.leaves_per_part = -(-leaves // PARTS)
        self.parts = -(-leaves // self.leaves_per_part)
        self.row_length = padded_width(accumulator.dtype_of_sums, self.columns)

    @staticmethod
    def applies(shape, out_strides) -> bool:
        """Whether a coalesced region whose last dimension is kept is summed here: one output row (every
        outer dimension reduced) of at most TILE columns, more than one leaf of rows, and enough
        elements to be worth the pool's region (MIN_ELEMENTS)."""
        rows = math.prod(shape[:-1])
        return (len(shape) > 1 and out_strides[-1] != 0 and all(s == 0 for s in out_strides[:-1])
                and shape[-1] <= TILE and rows > ROWS_PER_LEAF and math.prod(shape) >= MIN_ELEMENTS)

    def emit(self, out) -> None:
        kb, b, accumulator = self.kb, self.kb.b, self.accumulator
        sums, dtype = accumulator.dtype_of_sums, accumulator.dtype
        element = memory_type(sums)
        partials = kb.local_array(element, self.parts * self.row_length)

        def parts(task, values, bounds):
            buffers_value, partials_value = values
            tb = task.b
            reduction = ColumnReduction(task, accumulator, self.streams_in(task, buffers_value), self.shape,
                                        self.strides)
            with task.loop(tb.sub(bounds[1], bounds[0]), "part") as i:
                part = tb.add(bounds[0], i)
                row = tb.gep(partials_value, [tb.mul(part, i64(self.row_length))], source_etype=element)
                reduction.sum_leaves(row, tb.mul(part, i64(self.leaves_per_part)), self.leaves_per_part)

        emit_parallel_for(kb, f"{self.name}_parts", self.parts, [self.buffers_arg, partials], parts)

        lanes = target.lanes(sums)

        def total(c, count):
            values = [kb.load_vector(partials, sums, b.add(i64(p * self.row_length), c), lanes)
                      for p in range(self.parts)]
            with kb.vector_lanes(lanes):
                while len(values) > 1:  # neighbours first: partitions 2j and 2j + 1, then pairs of those, ...
                    values = [accumulator.combine(kb, *values[i:i + 2]) if i + 1 < len(values) else values[i]
                              for i in range(0, len(values), 2)]
                value = accumulator.result(kb, values[0])
            store_first_lanes(kb, dtype, out, c, value, count)

        whole, rest = divmod(self.columns, lanes)
        each_vector(kb, whole, lanes, lambda c: total(c, lanes))
        if rest:
            total(i64(whole * lanes), rest)
