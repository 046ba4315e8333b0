"""The fused "reduce" kernel (passes/fuse.py): elementwise producers of a reduction's input,
the reduction (a sum, mean, maximum or minimum over some axes) accumulated in the
same pass over that input, then an elementwise epilogue over the result.

The pass is one loop nest over the input (loops.emit_loops) or, for a [rows, cols]
input with short rows reduced along one axis, whole vectors (`_PeriodicReduction`,
after loops.Periodic). Either way the order of the arithmetic is fixed at compile time.
"""

from __future__ import annotations

import llvmlite.ir as ir

from graphc import errors
from graphc.backend import lowering, target
from graphc.backend.buffers import Buffers
from graphc.backend.kernel_builder import I1, I32, KernelBuilder, constant, i64
from graphc.backend.kernels.elementwise import ElementwiseBody, ElementwiseRegion, materialized
from graphc.backend.loops import (SHORT_INNER_LOOP, Periodic, broadcast_strides, coalesce, contiguous_strides,
                                  emit_loops, horizontal)
from graphc.core import dtypes, messages, registry
from graphc.core.registry import FusionClass, Reduction
from graphc.core.rules import normalize_axes
from graphc.core.tensor_shape import num_elements
from graphc.ir.facts import fusion_of


def _identity(kb, reduction: Reduction, dtype):
    """The reduction's starting value (registry facts: zero, the dtype's lowest or highest)."""
    if reduction.identity == "zero":
        return kb.constant(dtype, 0)
    lowest = reduction.identity == "lowest"
    if dtype.is_floating:
        return kb.constant(dtype, float("-inf") if lowest else float("inf"))
    return kb.constant(dtype, int(dtype.min if lowest else dtype.max))


def _combine(kb, reduction: Reduction, dtype, accumulator, x):
    """accumulator (+) x, for the reduction's combine: add, maximum or minimum."""
    b = kb.b
    if reduction.combine == "add":
        return b.fadd(accumulator, x) if dtype.is_floating else b.add(accumulator, x)
    if dtype.is_floating:  # NaN propagates, as np.max does
        return kb.intrinsic(reduction.combine, dtype, [accumulator, x])
    predicate = ">" if reduction.combine == "maximum" else "<"
    return b.select(b.icmp_signed(predicate, x, accumulator), x, accumulator)


@lowering.fused_kernel("reduce")
def emit_reduce_kernel(module, name: str, members, buffers: Buffers) -> ir.Function:
    """Elementwise producers, the reduction accumulated in the same pass over its input, an epilogue."""
    position = next(i for i, m in enumerate(members) if fusion_of(m) is FusionClass.REDUCE)
    instruction = members[position]
    reduction = registry.get(instruction.op).reduction
    main, epilogue = ElementwiseBody(members[:position]), ElementwiseBody(members[position + 1:])
    source, result = instruction.operands[0], instruction.result
    dtype = source.type.dtype
    in_shape = source.type.shape
    axes = set(normalize_axes(instruction.attrs["axes"], len(in_shape)))
    kb = KernelBuilder(module, name, ["buffers", "status"])
    b, buffers_arg = kb.b, kb.arg("buffers")
    count = num_elements(in_shape[a] for a in axes)
    if reduction.mean and dtype.is_integer and count == 0 and result.type.num_elements:
        kb.fail(errors.INVALID_ARGUMENT,
                f"{messages.INTEGER_MEAN_OF_NOTHING} (op {instruction.source or instruction.op})")
        return kb.function
    out = buffers.value(kb, buffers_arg, result)
    with kb.loop(result.type.num_elements, "init") as j:
        kb.store(out, dtype, j, _identity(kb, reduction, dtype))

    produced_inside = source.id in {inst.result.id for inst in main.instructions}
    loads = [(buffers.value(kb, buffers_arg, v), v.type.dtype) for v in main.inputs]
    strides = [broadcast_strides(v.type.shape, in_shape) for v in main.inputs]
    if not produced_inside:
        loads.append((buffers.value(kb, buffers_arg, source), dtype))
        strides.append(contiguous_strides(in_shape))
    kept = iter(contiguous_strides([d for i, d in enumerate(in_shape) if i not in axes]))
    strides.append([0 if i in axes else next(kept) for i in range(len(in_shape))])
    stores = [(buffers.value(kb, buffers_arg, v), v.type.dtype, v.id) for v in materialized(buffers, main.instructions)]
    stores += [(buffers.variable(kb, buffers_arg, w.operands[0].name), w.operands[1].type.dtype, w.operands[1].id)
               for w in main.writes]
    strides += [contiguous_strides(in_shape) for _ in stores]
    shape, strides = coalesce(list(in_shape), strides)

    def element(offsets):
        inputs = iter(zip(loads, offsets))
        values = main.evaluate(kb, lambda v: (lambda load, offset: kb.load(load[0], load[1], offset))(*next(inputs)))
        x = values[source.id] if produced_inside else kb.load(loads[-1][0], dtype, offsets[len(loads) - 1])
        out_offset = offsets[len(loads)]
        kb.store(out, dtype, out_offset, _combine(kb, reduction, dtype, kb.load(out, dtype, out_offset), x))
        for (pointer, store_dtype, value_id), offset in zip(stores, offsets[len(loads) + 1:]):
            kb.store(pointer, store_dtype, offset, values[value_id])

    out_strides = tuple(strides[len(loads)])
    if len(shape) == 2 and 0 < shape[1] < SHORT_INNER_LOOP and out_strides in ((0, 1), (1, 0)):
        vectors = _PeriodicReduction(kb, shape, reduction, dtype, column_sums=out_strides == (0, 1))
        rest = vectors.emit(loads, strides[:len(loads)], stores, main, source.id if produced_inside else None, out)
        emit_loops(kb, shape, strides, element, (rest, i64(shape[0])))
    else:
        emit_loops(kb, shape, strides, element, flatten_short_rows=True)
    if reduction.mean:
        with kb.loop(result.type.num_elements, "mean") as j:
            total = kb.load(out, dtype, j)
            divided = b.fdiv(total, constant(dtype, count)) if dtype.is_floating else \
                b.sdiv(total, constant(dtype, count))  # truncates, as TF
            kb.store(out, dtype, j, divided)
    if epilogue.instructions or epilogue.writes:
        ElementwiseRegion(epilogue, result.type.shape, materialized(buffers, epilogue.instructions)).emit(
            kb, buffers_arg, buffers)
    return kb.finish()


class _PeriodicReduction:
    """The main pass of a reduce kernel over a [rows, cols] region with short rows, in whole
    vectors (see loops.Periodic), reducing either each column or each row.

    Column sums keep one accumulator vector per vector of the period and fold their
    lanes into the columns after the loop; row sums combine, per period, the lanes
    of each row (masked) and reduce them across lanes with a fixed tree of shuffles.
    Either way the order of the arithmetic is fixed at compile time.
    """

    def __init__(self, kb, shape, reduction: Reduction, dtype, column_sums: bool):
        self.kb, self.reduction, self.dtype, self.column_sums = kb, reduction, dtype, column_sums
        self.rows, self.cols = shape
        # As in ElementwiseRegion: the producers may mix dtypes, and one lane count, a vector
        # register of float32, serves them all.
        self.layout = Periodic(self.cols, target.lanes(dtypes.float32))
        with kb.vector_lanes(self.layout.lanes):
            self.identity = _identity(kb, reduction, dtype)

    def emit(self, loads, load_strides, stores, main, source_id, out):
        """The periods' loop; returns the first row it leaves to the caller's element loop."""
        kb, b, layout = self.kb, self.kb.b, self.layout
        accumulators = [kb.variable(self.identity.type, self.identity) for _ in range(layout.vectors)] \
            if self.column_sums else []

        def period(row0, inputs_by_vector):
            reduced = []
            for v, inputs in enumerate(inputs_by_vector):
                with kb.vector_lanes(layout.lanes):
                    values = main.evaluate(kb, lambda value, it=iter(inputs): next(it))
                first = b.add(b.mul(row0, i64(self.cols)), i64(v * layout.lanes))
                for pointer, store_dtype, value_id in stores:
                    kb.store_vector(pointer, store_dtype, first, values[value_id])
                reduced.append(values[source_id] if source_id is not None else inputs[-1])
            if self.column_sums:
                with kb.vector_lanes(layout.lanes):
                    for slot, x in zip(accumulators, reduced):
                        kb.set(slot, _combine(kb, self.reduction, self.dtype, kb.get(slot, x.type), x))
            else:
                for row in range(layout.rows):
                    self._add(out, b.add(row0, i64(row)), self._row_total(reduced, row))

        rest = layout.emit_loop(kb, i64(0), i64(self.rows), loads, load_strides, period)
        if self.column_sums:
            lanes = [(col, kb.get(slot, self.identity.type), lane)
                     for v, slot in enumerate(accumulators)
                     for lane, (_, col) in enumerate(layout.positions(v))]
            for col in range(self.cols):
                total = None
                for lane_col, vector, lane in lanes:
                    if lane_col == col:
                        x = b.extract_element(vector, ir.Constant(I32, lane))
                        total = x if total is None else _combine(kb, self.reduction, self.dtype, total, x)
                self._add(out, i64(col), total)
        return rest

    def _row_total(self, reduced, row):
        """The combination of every lane of the period that belongs to `row`, as a scalar."""
        kb, b, layout = self.kb, self.kb.b, self.layout
        total = None
        with kb.vector_lanes(layout.lanes):
            for v, x in enumerate(reduced):
                mine = [r == row for r, _ in layout.positions(v)]
                if not any(mine):
                    continue
                if not all(mine):
                    mask = ir.Constant(ir.VectorType(I1, layout.lanes), [int(m) for m in mine])
                    x = b.select(mask, x, self.identity)
                total = x if total is None else _combine(kb, self.reduction, self.dtype, total, x)
        return horizontal(kb, lambda x, y: _combine(kb, self.reduction, self.dtype, x, y), total)

    def _add(self, out, index, value) -> None:
        """out[index] = out[index] (+) value."""
        kb = self.kb
        total = _combine(kb, self.reduction, self.dtype, kb.load(out, self.dtype, index), value)
        kb.store(out, self.dtype, index, total)
