"""The kernels the fusion pass forms (see passes/fuse.py), each `i32 kernel(ptr buffers, ptr status)`.

- loop: one elementwise body over one shape, split across threads when large;
- reduce: an elementwise body producing a reduction's input, the reduction
  accumulated in the same pass, then an epilogue body over the result;
- softmax: one pass per row for cross-entropy and its gradient, then an
  epilogue body over the gradient;
- gemm: the blocked GEMM with an epilogue body run on each finished block of C.
"""

from __future__ import annotations

from graphc import errors
from graphc.core import messages
import llvmlite.ir as ir

from graphc.backend import lowering, scalar_ops
from graphc.backend.fused import (SHORT_INNER_LOOP, Buffers, ElementwiseBody, ElementwiseRegion, Periodic, emit_loops,
                                  horizontal, region_lanes)
from graphc.backend.kernel_builder import I1, I32, I64, PTR, VOID, KernelBuilder, constant, declare_c, i64
from graphc.backend.kernels.elementwise import broadcast_strides, coalesce, contiguous_strides
from graphc.backend.kernels.matmul import lower_matmul
from graphc.backend.kernels.parallel import emit_parallel_for
from graphc.backend.kernels.softmax import Rows
from graphc.core import registry
from graphc.core.registry import FusionClass, Reduction
from graphc.core.rules import normalize_axes
from graphc.ir.facts import fusion_of
from graphc.core.tensor_shape import num_elements
from graphc.runtime import abi

# A loop over fewer elements runs on one thread: waking the pool costs more.
PARALLEL_MIN_ELEMENTS = 1 << 15
# Below this many multiply-adds a product is a plain loop nest (see emit_gemm_kernel).
SMALL_GEMM_MACS = 1 << 14


def _parallel_kernel(module, name, extent: int, emit_range) -> ir.Function:
    """A kernel running emit_range(kb, buffers, (begin, end)) over [0, extent), split across threads."""
    kb = KernelBuilder(module, name, ["buffers", "status"])
    emit_parallel_for(kb, f"{name}_task", extent, [kb.arg("buffers")],
                      lambda task, values, outer: emit_range(task, values[0], outer))
    return kb.finish()


def materialized(buffers: Buffers, instructions) -> list:
    return [inst.result for inst in instructions if inst.result is not None and buffers.in_memory(inst.result)]


@lowering.fused_kernel("loop")
def emit_loop_kernel(module, name: str, members, buffers: Buffers) -> ir.Function:
    body = ElementwiseBody(members)
    shape = body.instructions[-1].result.type.shape
    region = ElementwiseRegion(body, shape, materialized(buffers, body.instructions))
    if num_elements(shape) >= PARALLEL_MIN_ELEMENTS and region.shape and region.shape[0] > 1:
        return _parallel_kernel(module, name, region.shape[0],
                                lambda kb, buffers_arg, outer: region.emit(kb, buffers_arg, buffers, outer))
    kb = KernelBuilder(module, name, ["buffers", "status"])
    region.emit(kb, kb.arg("buffers"), buffers)
    return kb.finish()


# -- reduce ------------------------------------------------------------------------------------------


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
        emit_loops(kb, shape, strides, element)
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
    vectors (see fused.Periodic), reducing either each column or each row.

    Column sums keep one accumulator vector per vector of the period and fold their
    lanes into the columns after the loop; row sums combine, per period, the lanes
    of each row (masked) and reduce them across lanes with a fixed tree of shuffles.
    Either way the order of the arithmetic is fixed at compile time.
    """

    def __init__(self, kb, shape, reduction: Reduction, dtype, column_sums: bool):
        self.kb, self.reduction, self.dtype, self.column_sums = kb, reduction, dtype, column_sums
        self.rows, self.cols = shape
        self.layout = Periodic(self.cols, region_lanes())
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
        kb.store(out, self.dtype, index, _combine(kb, self.reduction, self.dtype, kb.load(out, self.dtype, index), value))


# -- softmax ------------------------------------------------------------------------------------------


@lowering.fused_kernel("softmax")
def emit_softmax_kernel(module, name: str, members, buffers: Buffers) -> ir.Function:
    """Cross-entropy and/or its gradient in one pass per row, then the gradient's epilogue."""
    anchors = [m for m in members if fusion_of(m) is FusionClass.ANCHOR]
    # The kernel's two anchors, told apart by their results: per-row losses, or a gradient per logit.
    loss = next((m for m in anchors if len(m.result.type.shape) == 1), None)
    grad = next((m for m in anchors if len(m.result.type.shape) == 2), None)
    anchor = loss or grad
    epilogue = ElementwiseBody([m for m in members if m is not loss and m is not grad])
    logits_value, labels_value = anchor.operands
    batch, classes = logits_value.type.shape
    kb = KernelBuilder(module, name, ["buffers", "status"])
    b, buffers_arg = kb.b, kb.arg("buffers")
    rows = Rows(kb, logits_value.type.dtype, classes)
    x = buffers.value(kb, buffers_arg, logits_value)
    labels = buffers.value(kb, buffers_arg, labels_value)
    loss_out = buffers.value(kb, buffers_arg, loss.result) if loss else None
    grad_out = buffers.value(kb, buffers_arg, grad.result) if grad else None
    rows.check_labels(labels, labels_value.type.dtype, batch, anchor)

    def group(indices):
        bases = rows.bases(indices)
        labels_of = [rows.label(labels, labels_value.type.dtype, r) for r in indices]
        if grad:
            shifts, totals = rows.softmax_into(x, grad_out, bases, labels=labels_of)
        else:
            shifts = [rows.max(x, base) for base in bases]
            totals = [rows.sum_exp(x, base, shift) for base, shift in zip(bases, shifts)]
        if loss:
            for r, base, label, shift, total in zip(indices, bases, labels_of, shifts, totals):
                picked = b.fsub(kb.load(x, rows.dtype, b.add(base, label)), shift)
                kb.store(loss_out, rows.dtype, r, b.fsub(scalar_ops.log(kb, rows.dtype, total), picked))

    rows.for_each_group(batch, group)
    if epilogue.instructions or epilogue.writes:
        ElementwiseRegion(epilogue, (batch, classes), materialized(buffers, epilogue.instructions)).emit(
            kb, buffers_arg, buffers)
    return kb.finish()


# -- gemm -------------------------------------------------------------------------------------------------


@lowering.fused_kernel("gemm")
def emit_gemm_kernel(module, name: str, members, buffers: Buffers) -> ir.Function:
    """A call to the GEMM library; the epilogue body runs on each finished block of C, in L2.

    Products below SMALL_GEMM_MACS (the tiny step's 200x10 @ 10x1) skip packing and
    padded tiles: a plain loop nest computes C, then one vectorized pass the epilogue.
    """
    matmul = members[0]
    a, b_value = matmul.operands
    m, n = matmul.result.type.shape
    transpose_a, transpose_b = matmul.attrs["transpose_a"], matmul.attrs["transpose_b"]
    k = a.type.shape[0] if transpose_a else a.type.shape[1]
    epilogue = ElementwiseBody(members[1:])
    if m * n * k < SMALL_GEMM_MACS:
        return _emit_small_gemm(module, name, matmul, epilogue, buffers)
    gemm = declare_c(module, abi.gemm_function(matmul.result.type.dtype, transpose_a, transpose_b))
    callback = ir.Constant(PTR, None)
    if epilogue.instructions or epilogue.writes:
        outputs = materialized(buffers, epilogue.instructions)
        block = KernelBuilder(module, f"{name}_epilogue", ["context", "row", "col", "rows", "cols"],
                             [PTR, I64, I64, I64, I64], VOID)
        emit_block(block, block.arg("context"), buffers, epilogue, outputs, (m, n),
                    *(block.arg(x) for x in ("row", "col", "rows", "cols")))
        callback = block.finish()
    kb = KernelBuilder(module, name, ["buffers", "status"])
    buffers_arg = kb.arg("buffers")
    c, a_pointer, b_pointer = (buffers.value(kb, buffers_arg, v) for v in (matmul.result, a, b_value))
    kb.b.ret(kb.b.call(gemm, [i64(m), i64(n), i64(k), a_pointer, b_pointer, c, callback, buffers_arg,
                              kb.arg("status")]))
    return kb.function


def _emit_small_gemm(module, name, matmul, epilogue: ElementwiseBody, buffers: Buffers) -> ir.Function:
    product = lower_matmul(module, f"{name}_matmul", matmul)
    kb = KernelBuilder(module, name, ["buffers", "status"])
    buffers_arg = kb.arg("buffers")
    pointers = [buffers.value(kb, buffers_arg, v) for v in (matmul.result,) + tuple(matmul.operands)]
    kb.b.call(product, pointers + [kb.arg("status")])
    if epilogue.instructions or epilogue.writes:
        ElementwiseRegion(epilogue, matmul.result.type.shape, materialized(buffers, epilogue.instructions)).emit(
            kb, buffers_arg, buffers)
    return kb.finish()


def emit_block(kb, buffers_arg, buffers: Buffers, body: ElementwiseBody, outputs, shape, row, col, rows, cols,
               matrix_strides=None):
    """The epilogue body on the block C[row:row+rows, col:col+cols] of a C of `shape`, row by row.

    `matrix_strides(value)` gives an input's (row, column) strides in C when its
    shape is not one that broadcasts to C's (a convolution's per-channel bias)."""
    b = kb.b
    strides_of = matrix_strides or (lambda v: broadcast_strides(v.type.shape, shape))
    streams = [(buffers.value(kb, buffers_arg, v), v.type.dtype, strides_of(v)) for v in body.inputs]
    stores = [(buffers.value(kb, buffers_arg, v), v.type.dtype, contiguous_strides(shape), v.id) for v in outputs]
    stores += [(buffers.variable(kb, buffers_arg, w.operands[0].name), w.operands[1].type.dtype,
                contiguous_strides(shape), w.operands[1].id) for w in body.writes]
    with kb.loop(rows, "ei") as i:
        r = b.add(row, i)
        with kb.loop(cols, "ej") as j:
            c = b.add(col, j)

            def offset(strides):
                return b.add(b.mul(r, i64(strides[0])), b.mul(c, i64(strides[1])))

            inputs = iter(streams)
            values = body.evaluate(kb, lambda v: (lambda p, dtype, s: kb.load(p, dtype, offset(s)))(*next(inputs)))
            for pointer, dtype, strides, value_id in stores:
                kb.store(pointer, dtype, offset(strides), values[value_id])
