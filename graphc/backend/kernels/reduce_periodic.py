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
    """Reduces a [rows, cols] region (coalesced shape and stream strides) along one axis. The
    accumulator must sum in the result's dtype (see Accumulator.dtype_of_sums)."""

    def __init__(self, kb: KernelBuilder, accumulator: Accumulator, streams: Streams, shape, strides,
                 column_sums: bool):
        assert accumulator.dtype_of_sums is accumulator.dtype
        self.kb, self.accumulator, self.streams = kb, accumulator, streams
        self.shape, self.strides, self.column_sums = shape, strides, column_sums
        self.rows, self.cols = shape
        # As in ElementwiseRegion: the producers may mix dtypes, and one lane count, a vector
        # register of float32, serves them all.
        self.layout = Periodic(self.cols, target.lanes(dtypes.float32))
        with kb.vector_lanes(self.layout.lanes):
            self.identity = accumulator.identity(kb)

    def _combine(self, x, y):
        return self.accumulator.combine(self.kb, x, y)

    def emit(self, out) -> None:
        if self.column_sums:
            self._emit_column_sums(out)
        else:
            rest = self._periodic(self._row_sums(out), i64(0), i64(self.rows))
            RunReduction(self.kb, self.accumulator, self.streams, self.shape, self.strides).emit(
                out, (rest, i64(self.rows)))

    def _periodic(self, visit, begin, end):
        """visit(row0, reduced vectors) for each whole period in rows [begin, end), after storing
        what the body materializes; returns the first row left."""
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
        kb, accumulator, rows = self.kb, self.accumulator, self.layout.rows

        def visit(row0, reduced):
            with kb.vector_lanes(self.layout.lanes):
                lanes_of_rows = [self._row_lanes(reduced, row) for row in range(rows)]
            with kb.vector_lanes(rows):
                totals = accumulator.result(kb, horizontal_each(kb, self._combine, lanes_of_rows))
            if rows == 1:
                kb.store(out, accumulator.dtype, row0, totals)
            else:
                kb.store_vector(out, accumulator.dtype, row0, totals)

        return visit

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
                x = b.select(mask, x, self.identity)
            value = x if value is None else self._combine(value, x)
        return value

    def _emit_column_sums(self, out) -> None:
        kb, b, layout, accumulator = self.kb, self.kb.b, self.layout, self.accumulator
        dtype = accumulator.dtype
        vector_type = self.identity.type
        periods = self.rows // layout.rows
        leaves = -(-periods // PERIODS_PER_LEAF)
        slots = [kb.variable(vector_type, self.identity) for _ in range(layout.vectors)]

        def visit(row0, reduced):
            with kb.vector_lanes(layout.lanes):
                for slot, x in zip(slots, reduced):
                    kb.set(slot, self._combine(kb.get(slot, vector_type), x))

        if leaves <= 1:
            self._periodic(visit, i64(0), i64(periods * layout.rows))
        else:
            width = layout.vectors * layout.lanes
            cascade = Cascade(kb, dtype, width, leaves, self._combine)
            leaf_rows = PERIODS_PER_LEAF * layout.rows
            with kb.loop(leaves, "leaf") as index:
                for slot in slots:
                    kb.set(slot, self.identity)
                begin = b.mul(index, i64(leaf_rows))
                end = b.add(begin, i64(leaf_rows))
                end = b.select(b.icmp_signed("<", end, i64(periods * layout.rows)), end, i64(periods * layout.rows))
                self._periodic(visit, begin, end)
                for v, slot in enumerate(slots):
                    kb.store_vector(cascade.leaf, dtype, i64(v * layout.lanes), kb.get(slot, vector_type))
                cascade.push(index)
            cascade.finish()
            for v, slot in enumerate(slots):
                kb.set(slot, kb.load_vector(cascade.leaf, dtype, i64(v * layout.lanes), layout.lanes))

        lanes = [(col, kb.get(slot, vector_type), lane)
                 for v, slot in enumerate(slots) for lane, (_, col) in enumerate(layout.positions(v))]
        for col in range(self.cols):
            value = None
            for lane_col, vector, lane in lanes:
                if lane_col == col:
                    x = b.extract_element(vector, ir.Constant(I32, lane))
                    value = x if value is None else self._combine(value, x)
            kb.store(out, dtype, i64(col), value)

        def element(offsets):  # the rows after the last whole period
            x = accumulator.widen(kb, self.streams.scalar(offsets))
            at = offsets[self.streams.out]
            kb.store(out, dtype, at, self._combine(kb.load(out, dtype, at), x))

        emit_loops(kb, self.shape, self.strides, element, (i64(periods * layout.rows), i64(self.rows)))
        if accumulator.reduction.mean:
            with kb.loop(self.cols, "mean") as j:
                kb.store(out, dtype, j, accumulator.result(kb, kb.load(out, dtype, j)))
