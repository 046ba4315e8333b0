"""The main pass of a reduce kernel whose innermost (coalesced) dimension is kept: each
output row (a bias gradient's columns) sums input rows, a row at a time, across it.

The rows summed into an output row are cut into leaves of ROWS_PER_LEAF rows; a leaf is
accumulated into a partial row one row after another (a vector of columns at a time), and
the leaves are added pairwise (summation.Cascade). Rows wider than
TILE columns are done TILE columns at a time, so the cascade's rows stay small enough for
the stack (and for L1). `sum_leaves` sums a range of leaves only: a partition of the rows
that reduce_parts.py gives a task of the thread pool.
"""

from __future__ import annotations

import math

from graphc.backend import target
from graphc.backend.kernel_builder import KernelBuilder, i64, memory_type
from graphc.backend.kernels import channels
from graphc.backend.kernels.reduction import (MASKED_DTYPES, Accumulator, Streams, advance, first_lanes,
                                              flat_coordinates, step)
from graphc.backend.kernels.summation import Cascade, each_vector
from graphc.backend.loops import emit_loops
from graphc.core import dtypes

ROWS_PER_LEAF = 16
TILE = 1024  # columns


class ColumnReduction:
    """Reduces [..., columns] (coalesced shape and stream strides, the last dimension kept) into
    its outputs, stored as `Accumulator.result`s."""

    def __init__(self, kb: KernelBuilder, accumulator: Accumulator, streams: Streams, shape, strides):
        self.kb, self.accumulator, self.streams = kb, accumulator, streams
        self.shape, self.strides = list(shape), strides
        last = len(shape) - 1
        self.columns = shape[last]
        self.across_columns = [s[last] for s in strides]
        self.kept, self.reduced = streams.split_outer(strides)
        self.rows = math.prod(shape[d] for d in self.reduced)
        self.leaves = -(-self.rows // ROWS_PER_LEAF)

    def emit(self, out) -> None:
        kept_shape = [self.shape[d] for d in self.kept]
        kept_strides = [[s[d] for d in self.kept] for s in self.strides]
        emit_loops(self.kb, kept_shape, kept_strides, lambda offsets: self._output_row(out, offsets))

    def _output_row(self, out, offsets) -> None:
        kb, b = self.kb, self.kb.b
        tiles, rest = divmod(self.columns, TILE)
        if tiles == 1:
            self._tile(out, offsets, TILE)
        elif tiles > 1:
            with kb.loop(tiles, "tile") as t:
                self._tile(out, advance(b, offsets, self.across_columns, b.mul(t, i64(TILE))), TILE)
        if rest:
            self._tile(out, step(b, offsets, self.across_columns, tiles * TILE), rest)

    def _tile(self, out, offsets, width: int) -> None:
        """The outputs out[offsets[out] : + width]."""
        kb, b, accumulator = self.kb, self.kb.b, self.accumulator
        dtype, sums = accumulator.dtype, accumulator.dtype_of_sums
        out_offset = offsets[self.streams.out]
        cascade = None
        if self.leaves > 1:
            cascade = Cascade(kb, sums, width, self.leaves, lambda x, y: accumulator.combine(kb, x, y))
            partial, partial_offset, partial_width = cascade.leaf, i64(0), cascade.padded
        elif sums is dtype:  # one leaf, summed where it ends up
            partial, partial_offset, partial_width = out, out_offset, width
        else:
            partial, partial_offset, partial_width = kb.local_array(memory_type(sums), width), i64(0), width

        def leaf(index):
            self._start_leaf(partial, partial_offset, partial_width, cascade)
            last_rows = self.rows - (self.leaves - 1) * ROWS_PER_LEAF
            rows = b.select(b.icmp_signed("==", index, i64(self.leaves - 1)), i64(last_rows), i64(ROWS_PER_LEAF))
            self._add_rows(offsets, width, partial, partial_offset, b.mul(index, i64(ROWS_PER_LEAF)), rows)
            if cascade is not None:
                cascade.push(index)

        if self.leaves == 1:
            leaf(i64(0))
        else:
            with kb.loop(self.leaves, "leaf") as index:
                leaf(index)

        def store(c, lanes):
            value = channels.load(kb, sums, partial, b.add(partial_offset, c), lanes)
            with kb.vector_lanes(lanes):
                channels.store(kb, dtype, out, b.add(out_offset, c), accumulator.result(kb, value), lanes)

        def store_total(c, count, value):
            with kb.vector_lanes(cascade.lanes):
                value = accumulator.result(kb, value)
            store_first_lanes(kb, dtype, out, b.add(out_offset, c), value, count)

        if cascade is not None:
            cascade.finish(store_total)
        elif partial is not out or accumulator.reduction.mean:
            channels.for_channels(kb, width, sums, store)

    def sum_leaves(self, row, first_leaf, leaves: int) -> None:
        """The partial sums of leaves first_leaf (i64) .. first_leaf + leaves - 1 of the single output
        row (no kept dimension, at most TILE columns) into row[0 : the columns padded to whole
        vectors of the sums' dtype], added pairwise as `_tile` adds a row's leaves. Leaves past the
        last row add nothing: a partition's share ends where the input does."""
        kb, b, accumulator = self.kb, self.kb.b, self.accumulator
        sums, width = accumulator.dtype_of_sums, self.columns
        offsets = [i64(0)] * len(self.strides)
        cascade = None
        if leaves > 1:
            cascade = Cascade(kb, sums, width, leaves, lambda x, y: accumulator.combine(kb, x, y))
        partial = row if cascade is None else cascade.leaf

        def leaf(index):
            self._start_leaf(partial, i64(0), padded_width(sums, width), cascade)
            first_row = b.mul(b.add(first_leaf, index), i64(ROWS_PER_LEAF))
            left = b.sub(i64(self.rows), first_row)  # at most 0 past the end: the row loop does not run
            rows = b.select(b.icmp_signed("<", left, i64(ROWS_PER_LEAF)), left, i64(ROWS_PER_LEAF))
            self._add_rows(offsets, width, partial, i64(0), first_row, rows)
            if cascade is not None:
                cascade.push(index)

        if cascade is None:
            leaf(i64(0))
            return
        with kb.loop(leaves, "leaf") as index:
            leaf(index)
        cascade.finish(lambda c, count, value: kb.store_vector(row, sums, c, value))

    def _start_leaf(self, partial, partial_offset, partial_width: int, cascade) -> None:
        """partial[partial_offset : + partial_width] (the cascade's whole leaf, if any) = the identity."""
        kb, b, accumulator = self.kb, self.kb.b, self.accumulator
        sums = accumulator.dtype_of_sums

        def start(c, lanes):
            with kb.vector_lanes(lanes):
                channels.store(kb, sums, partial, b.add(partial_offset, c), accumulator.identity(kb), lanes)

        if cascade is not None:  # constant offsets (see each_vector): the leaf may stay in registers
            each_vector(kb, cascade.padded // cascade.lanes, cascade.lanes, lambda c: start(c, cascade.lanes))
        else:
            channels.for_channels(kb, partial_width, sums, start)

    def _add_rows(self, offsets, width: int, partial, partial_offset, first_row, rows) -> None:
        """Adds the `rows` (i64) reduced rows from flat row `first_row` on, columns offsets .. + width,
        into partial[partial_offset : + width], one row after another."""
        kb, b, accumulator = self.kb, self.kb.b, self.accumulator
        sums = accumulator.dtype_of_sums
        with kb.loop(rows, "row") as r:
            row = b.add(first_row, r)
            start = offsets
            for d, coordinate in zip(self.reduced, flat_coordinates(b, row, [self.shape[d] for d in self.reduced])):
                start = advance(b, start, [s[d] for s in self.strides], coordinate)

            def columns(c, lanes, count=None):
                """The columns c .. c + lanes - 1 (a scalar for one lane); of them, the first `count` only."""
                at, offsets_c = b.add(partial_offset, c), advance(b, start, self.across_columns, c)
                if lanes == 1:
                    (x,) = self.streams.scalar(offsets_c)
                else:
                    (x,) = self.streams.vector(offsets_c, self.across_columns, lanes, count)
                with kb.vector_lanes(lanes):
                    if count is None:
                        earlier = channels.load(kb, sums, partial, at, lanes)
                    else:
                        earlier = kb.load_vector_masked(partial, sums, at, first_lanes(count, lanes),
                                                        accumulator.identity(kb))
                    total = accumulator.combine(kb, earlier, accumulator.widen(kb, x))
                    if count is None:
                        channels.store(kb, sums, partial, at, total, lanes)
                    else:
                        kb.store_vector_masked(partial, sums, at, total, first_lanes(count, lanes))

            # A float32 register's lanes whatever the dtypes (as the other paths): the body may mix them.
            lanes = target.lanes(dtypes.float32)
            vectors, rest = divmod(width, lanes)
            each_vector(kb, vectors, lanes, lambda c: columns(c, lanes))
            if rest and self.streams.maskable() and sums in MASKED_DTYPES:
                # One vector under a mask, not a scalar loop: LLVM vectorizes that loop without the
                # branches a vector body takes (vector_math's tanh tail: computed in every row otherwise).
                columns(i64(vectors * lanes), lanes, rest)
            elif rest:
                with kb.loop(rest, "column") as c:
                    columns(b.add(c, i64(vectors * lanes)), 1)


def padded_width(dtype, columns: int) -> int:
    """`columns` rounded up to whole vectors of `dtype`: the length of a partial row of sums."""
    lanes = target.lanes(dtype)
    return -(-columns // lanes) * lanes


def store_first_lanes(kb: KernelBuilder, dtype, base, index, vector, count: int) -> None:
    """base[index : index + count] = the first `count` lanes of `vector` (all of them: a plain store;
    fewer: a row's last, partial vector, stored under a mask)."""
    lanes = vector.type.count
    if count == lanes:
        kb.store_vector(base, dtype, index, vector)
    else:
        kb.store_vector_masked(base, dtype, index, vector, first_lanes(count, lanes))
