"""The main pass of a reduce kernel over a [rows, cols] region with short rows (cols below
loops.SHORT_INNER_LOOP), reducing each row or each column, in whole vectors (loops.Periodic).

Row sums combine, per period, the lanes of each row (masked) and fold them with a fixed
tree of shuffles that the period's rows share (loops.horizontal_each), stored as one vector;
the rows after the last whole period are runs (reduce_runs.py). Column sums keep one
accumulator vector per vector of the period over PERIODS_PER_LEAF periods, add those leaves
pairwise (summation.Cascade), fold the lanes into their columns, then add the rows after the
last whole period one by one. Either way the order of the arithmetic is fixed at compile time.
"""

from __future__ import annotations

import llvmlite.ir as ir

from graphc.backend import target
from graphc.backend.kernel_builder import I1, I32, KernelBuilder, i64
from graphc.backend.kernels.reduce_runs import RunReduction
from graphc.backend.kernels.reduction import Accumulator, Streams
from graphc.backend.kernels.summation import Cascade
from graphc.backend.loops import Periodic, emit_loops, horizontal_each
from graphc.core import dtypes

PERIODS_PER_LEAF = 16


class PeriodicReduction:
    """Reduces a [rows, cols] region (coalesced shape and stream strides) along one axis. Each
    accumulator must sum in its result's dtype (see Accumulator.dtype_of_sums). Column sums take
    one accumulator per reduced value of `streams` (sibling reductions sharing the pass, each
    into its own output); row sums take one."""

    def __init__(self, kb: KernelBuilder, accumulators: list, streams: Streams, shape, strides,
                 column_sums: bool):
        assert all(accumulator.dtype_of_sums is accumulator.dtype for accumulator in accumulators)
        assert len(accumulators) == len(streams.source_ids) and (column_sums or len(accumulators) == 1)
        self.kb, self.accumulators, self.streams = kb, accumulators, streams
        self.shape, self.strides, self.column_sums = shape, strides, column_sums
        self.rows, self.cols = shape
        # As in ElementwiseRegion: the producers may mix dtypes, and one lane count, a vector
        # register of float32, serves them all.
        self.layout = Periodic(self.cols, target.lanes(dtypes.float32))
        with kb.vector_lanes(self.layout.lanes):
            self.identities = [accumulator.identity(kb) for accumulator in accumulators]

    def emit(self, outs: list) -> None:
        """The reductions into `outs`, one output buffer per accumulator."""
        if self.column_sums:
            self._emit_column_sums(outs)
        else:
            (out,) = outs
            rest = self._periodic(self._row_sums(out), i64(0), i64(self.rows))
            RunReduction(self.kb, self.accumulators, self.streams, self.shape, self.strides).emit(
                [out], (rest, i64(self.rows)))

    def _periodic(self, visit, begin, end):
        """visit(row0, reduced) for each whole period in rows [begin, end), after storing what the
        body materializes (reduced[v]: the reduced values of the period's vector v, one per
        accumulator); returns the first row left."""
        kb, b, layout, streams = self.kb, self.kb.b, self.layout, self.streams

        def period(row0, inputs_by_vector):
            reduced = []
            for v, inputs in enumerate(inputs_by_vector):
                values, x = streams.evaluate(inputs, layout.lanes)
                first = b.add(b.mul(row0, i64(self.cols)), i64(v * layout.lanes))
                for pointer, store_dtype, value_id in streams.stores:
                    kb.store_vector(pointer, store_dtype, first, values[value_id])
                reduced.append(x)
            visit(row0, reduced)

        return layout.emit_loop(kb, begin, end, streams.loads, self.strides[:streams.out], period)

    def _row_sums(self, out):
        kb, accumulator, rows = self.kb, self.accumulators[0], self.layout.rows

        def visit(row0, reduced):
            with kb.vector_lanes(self.layout.lanes):
                lanes_of_rows = [self._row_lanes([x for (x,) in reduced], row) for row in range(rows)]
            with kb.vector_lanes(rows):
                totals = accumulator.result(kb, horizontal_each(kb, self._combine_rows, lanes_of_rows))
            if rows == 1:
                kb.store(out, accumulator.dtype, row0, totals)
            else:
                kb.store_vector(out, accumulator.dtype, row0, totals)

        return visit

    def _combine_rows(self, x, y):
        return self.accumulators[0].combine(self.kb, x, y)

    def _row_lanes(self, reduced, row):
        """The combination of the period's vectors in the lanes that belong to `row`, the identity
        in the others (a vector, for horizontal_each)."""
        b, layout = self.kb.b, self.layout
        value = None
        for v, x in enumerate(reduced):
            mine = [r == row for r, _ in layout.positions(v)]
            if not any(mine):
                continue
            if not all(mine):
                mask = ir.Constant(ir.VectorType(I1, layout.lanes), [int(m) for m in mine])
                x = b.select(mask, x, self.identities[0])
            value = x if value is None else self._combine_rows(value, x)
        return value

    def _emit_column_sums(self, outs) -> None:
        kb, b, layout = self.kb, self.kb.b, self.layout
        types = [identity.type for identity in self.identities]
        periods = self.rows // layout.rows
        leaves = -(-periods // PERIODS_PER_LEAF)
        slots = [[kb.variable(identity.type, identity) for _ in range(layout.vectors)] for identity in self.identities]

        def combine(k):
            return lambda x, y: self.accumulators[k].combine(kb, x, y)

        def visit(row0, reduced):
            with kb.vector_lanes(layout.lanes):
                for k, slots_k in enumerate(slots):
                    for slot, x in zip(slots_k, reduced):
                        kb.set(slot, combine(k)(kb.get(slot, types[k]), x[k]))

        if leaves <= 1:
            self._periodic(visit, i64(0), i64(periods * layout.rows))
        else:
            width = layout.vectors * layout.lanes
            cascades = [Cascade(kb, accumulator.dtype, width, leaves, combine(k))
                        for k, accumulator in enumerate(self.accumulators)]
            leaf_rows = PERIODS_PER_LEAF * layout.rows
            with kb.loop(leaves, "leaf") as index:
                for slots_k, identity in zip(slots, self.identities):
                    for slot in slots_k:
                        kb.set(slot, identity)
                begin = b.mul(index, i64(leaf_rows))
                end = b.add(begin, i64(leaf_rows))
                end = b.select(b.icmp_signed("<", end, i64(periods * layout.rows)), end, i64(periods * layout.rows))
                self._periodic(visit, begin, end)
                for slots_k, cascade, accumulator, vector_type in zip(slots, cascades, self.accumulators, types):
                    for v, slot in enumerate(slots_k):
                        kb.store_vector(cascade.leaf, accumulator.dtype, i64(v * layout.lanes),
                                        kb.get(slot, vector_type))
                    cascade.push(index)
            for slots_k, cascade, accumulator in zip(slots, cascades, self.accumulators):
                cascade.finish()
                for v, slot in enumerate(slots_k):
                    kb.set(slot, kb.load_vector(cascade.leaf, accumulator.dtype, i64(v * layout.lanes),
                                                layout.lanes))

        for k, (slots_k, accumulator, out) in enumerate(zip(slots, self.accumulators, outs)):
            lanes = [(col, kb.get(slot, types[k]), lane)
                     for v, slot in enumerate(slots_k) for lane, (_, col) in enumerate(layout.positions(v))]
            for col in range(self.cols):
                value = None
                for lane_col, vector, lane in lanes:
                    if lane_col == col:
                        x = b.extract_element(vector, ir.Constant(I32, lane))
                        value = x if value is None else combine(k)(value, x)
                kb.store(out, accumulator.dtype, i64(col), value)

        def element(offsets):  # the rows after the last whole period
            for accumulator, out, x in zip(self.accumulators, outs, self.streams.scalar(offsets)):
                at = offsets[self.streams.out]
                kb.store(out, accumulator.dtype, at, accumulator.combine(kb, kb.load(out, accumulator.dtype, at),
                                                                         accumulator.widen(kb, x)))

        emit_loops(kb, self.shape, self.strides, element, (i64(periods * layout.rows), i64(self.rows)))
        for accumulator, out in zip(self.accumulators, outs):
            if accumulator.reduction.mean:
                with kb.loop(self.cols, "mean") as j:
                    kb.store(out, accumulator.dtype, j, accumulator.result(kb, kb.load(out, accumulator.dtype, j)))
