"""Row-wise softmax math over the last axis: the softmax and log_softmax kernels, the
fused "softmax" kernel (cross-entropy and/or its gradient, see passes/fuse.py), and
the row helpers they share (labels are checked and a bad one is reported through
the status, never read out of bounds)."""

from __future__ import annotations

import llvmlite.ir as ir

from graphc import errors
from graphc.backend import lowering, scalar_ops, target
from graphc.backend.buffers import Buffers
from graphc.backend.kernel_builder import I1, I64, KernelBuilder, constant, i64, register_type
from graphc.backend.kernels.elementwise import ElementwiseBody, ElementwiseRegion, materialized
from graphc.backend.kernels.summation import Cascade
from graphc.backend.loops import horizontal
from graphc.backend.scalar_ops import convert
from graphc.core import dtypes, messages
from graphc.core.registry import FusionClass
from graphc.core.tensor_shape import num_elements
from graphc.ir.facts import fusion_of


class Rows:
    """Helpers for a kernel over rows of `classes` elements of `dtype`, a vector of lanes at a time.

    A row is walked in chunks of `lanes` elements, the last one masked when
    `classes` is not a multiple; masked lanes are never read or written. Sums
    and maxima run lane-wise, then across lanes in a fixed order; a long row's
    sum is taken in leaves of CHUNKS_PER_LEAF chunks added pairwise
    (summation.Cascade), so its error does not grow with the row's length.
    """

    # Rows of at most this many chunks are unrolled; longer ones loop over chunks.
    UNROLLED_CHUNKS = 4
    CHUNKS_PER_LEAF = 16
    ROWS_AT_ONCE = 2

    def __init__(self, kb: KernelBuilder, dtype, classes: int):
        self.kb, self.dtype, self.classes = kb, dtype, classes
        # A float32 vector register's lanes for float64 rows too (their chunks then span two
        # registers): the chunks, and so the code's shape, are the same for both dtypes.
        self.lanes = target.lanes(dtypes.float32)
        self.full_chunks, self.tail = divmod(classes, self.lanes)
        self.vector_type = ir.VectorType(register_type(dtype), self.lanes)
        self.tail_mask = ir.Constant(ir.VectorType(I1, self.lanes), [int(lane < self.tail)
                                                                      for lane in range(self.lanes)])

    def _each_chunk(self, base, visit) -> None:
        """visit(index, mask) for each chunk of the row starting at element `base`; mask None when full."""
        b = self.kb.b
        if self.full_chunks <= self.UNROLLED_CHUNKS:
            for chunk in range(self.full_chunks):
                visit(b.add(base, i64(chunk * self.lanes)), None)
        else:
            with self.kb.loop(self.full_chunks, "chunk") as chunk:
                visit(b.add(base, b.mul(chunk, i64(self.lanes))), None)
        if self.tail:
            visit(b.add(base, i64(self.full_chunks * self.lanes)), self.tail_mask)

    def _load(self, x, index, mask, fill):
        """The chunk at x[index]; with a mask, the lanes outside it hold the number `fill`."""
        if mask is None:
            return self.kb.load_vector(x, self.dtype, index, self.lanes)
        return self.kb.load_vector_masked(x, self.dtype, index, mask, self.kb.constant(self.dtype, fill, self.lanes))

    def _store(self, out, index, value, mask) -> None:
        if mask is None:
            self.kb.store_vector(out, self.dtype, index, value)
        else:
            self.kb.store_vector_masked(out, self.dtype, index, value, mask)

    def _reduce(self, base, initial, step, combine):
        """Folds step(accumulator, index, mask) over the row's chunks, then combine() across lanes."""
        kb = self.kb
        accumulator = kb.variable(self.vector_type, kb.constant(self.dtype, initial, self.lanes))

        def visit(index, mask):
            kb.set(accumulator, step(kb.get(accumulator, self.vector_type), index, mask))

        self._each_chunk(base, visit)
        return horizontal(kb, combine, kb.get(accumulator, self.vector_type))

    def _sum(self, base, step):
        """Folds step(accumulator, index, mask) over the row's chunks with fadd, as _reduce does,
        the full chunks in leaves of CHUNKS_PER_LEAF added pairwise, then the masked tail."""
        kb, b = self.kb, self.kb.b
        leaves = -(-self.full_chunks // self.CHUNKS_PER_LEAF)
        if leaves <= 1:
            return self._reduce(base, 0.0, step, b.fadd)
        cascade = Cascade(kb, self.dtype, self.lanes, leaves, b.fadd)
        accumulator = kb.variable(self.vector_type)
        last = self.full_chunks - (leaves - 1) * self.CHUNKS_PER_LEAF
        with kb.loop(leaves, "leaf") as leaf:
            kb.set(accumulator, kb.constant(self.dtype, 0.0, self.lanes))
            chunks = b.select(b.icmp_signed("==", leaf, i64(leaves - 1)), i64(last), i64(self.CHUNKS_PER_LEAF))
            with kb.loop(chunks, "chunk") as chunk:
                number = b.add(b.mul(leaf, i64(self.CHUNKS_PER_LEAF)), chunk)
                kb.set(accumulator, step(kb.get(accumulator, self.vector_type),
                                         b.add(base, b.mul(number, i64(self.lanes))), None))
            kb.store_vector(cascade.leaf, self.dtype, i64(0), kb.get(accumulator, self.vector_type))
            cascade.push(leaf)
        cascade.finish()
        row_sum = kb.load_vector(cascade.leaf, self.dtype, i64(0), self.lanes)
        if self.tail:
            row_sum = step(row_sum, b.add(base, i64(self.full_chunks * self.lanes)), self.tail_mask)
        return horizontal(kb, b.fadd, row_sum)

    def max(self, x, base):
        kb = self.kb

        def maximum(a, b):
            return kb.intrinsic("maximum", self.dtype, [a, b])

        def step(best, index, mask):
            with kb.vector_lanes(self.lanes):
                return maximum(best, self._load(x, index, mask, float("-inf")))

        return self._reduce(base, float("-inf"), step, maximum)

    def sum_exp(self, x, base, shift, store_to=None):
        """sum(exp(x - shift)) over the row; optionally stores each exp to `store_to`."""
        kb = self.kb
        shifts = kb.broadcast(shift, self.lanes)

        def step(total, index, mask):
            with kb.vector_lanes(self.lanes):
                # Masked-off lanes hold -inf: their exp is 0 and adds nothing.
                e = scalar_ops.exp(kb, self.dtype, kb.b.fsub(self._load(x, index, mask, float("-inf")), shifts))
                if store_to is not None:
                    self._store(store_to, index, e, mask)
                return kb.b.fadd(total, e)

        return self._sum(base, step)

    def divide(self, out, base, total) -> None:
        """out[row] /= total."""
        kb = self.kb
        totals = kb.broadcast(total, self.lanes)

        def visit(index, mask):
            self._store(out, index, kb.b.fdiv(self._load(out, index, mask, 1.0), totals), mask)

        self._each_chunk(base, visit)

    def softmax_into(self, x, out, bases, labels=None):
        """out = softmax of the rows of x starting at `bases`, minus 1 at each row's label
        if `labels` (i64 values) are given: the cross-entropy gradient. Returns (shifts, totals).

        A short row's exps stay in registers between the sum and the division; a long
        row's are stored, then reloaded and divided.
        """
        kb, b = self.kb, self.kb.b
        shifts = [self.max(x, base) for base in bases]
        if self.full_chunks > self.UNROLLED_CHUNKS:
            totals = [self.sum_exp(x, base, shift, store_to=out) for base, shift in zip(bases, shifts)]
            for row, (base, total) in enumerate(zip(bases, totals)):
                self.divide(out, base, total)
                if labels is not None:
                    at_label = b.add(base, labels[row])
                    kb.store(out, self.dtype, at_label, b.fsub(kb.load(out, self.dtype, at_label),
                                                               constant(self.dtype, 1)))
            return shifts, totals
        rows = [self._exps(x, base, shift) for base, shift in zip(bases, shifts)]
        for row, (chunks, total) in enumerate(rows):
            totals = kb.broadcast(total, self.lanes)
            for number, (index, mask, e) in enumerate(chunks):
                with kb.vector_lanes(self.lanes):
                    quotient = b.fdiv(e, totals)
                    if labels is not None:
                        lanes = ir.Constant(ir.VectorType(I64, self.lanes),
                                            list(range(number * self.lanes, (number + 1) * self.lanes)))
                        at_label = b.icmp_signed("==", lanes, kb.broadcast(labels[row], self.lanes))
                        quotient = b.select(at_label, b.fsub(quotient, kb.constant(self.dtype, 1)), quotient)
                self._store(out, index, quotient, mask)
        return shifts, [total for _, total in rows]

    def _exps(self, x, base, shift):
        """([(index, mask, exp(x - shift)) per chunk], their sum) for a row of unrolled chunks."""
        kb = self.kb
        shifts, chunks = kb.broadcast(shift, self.lanes), []

        def visit(index, mask):
            with kb.vector_lanes(self.lanes):
                value = self._load(x, index, mask, float("-inf"))  # exp(-inf) = 0 adds nothing
                chunks.append((index, mask, scalar_ops.exp(kb, self.dtype, kb.b.fsub(value, shifts))))

        self._each_chunk(base, visit)
        if not chunks:  # a row of no classes: nothing to divide, and no vector to start the sum from
            return chunks, constant(self.dtype, 0)
        total = chunks[0][2]
        for _, _, e in chunks[1:]:
            total = kb.b.fadd(total, e)
        return chunks, horizontal(kb, kb.b.fadd, total)

    def log_softmax(self, x, out, bases) -> None:
        """out = x - max - log(sum(exp(x - max))) for the rows of x starting at `bases`."""
        kb = self.kb
        shifts = [self.max(x, base) for base in bases]
        log_totals = [scalar_ops.log(kb, self.dtype, self.sum_exp(x, base, shift)) for base, shift in zip(bases, shifts)]
        for base, shift, log_total in zip(bases, shifts, log_totals):
            # (x - max) - log(total), in this order: x - (max + log(total)) rounds log(total)
            # away when max is large (a row [1e30, 1e30] gave 0 instead of -log 2).
            shift_vector, log_total_vector = kb.broadcast(shift, self.lanes), kb.broadcast(log_total, self.lanes)

            def visit(index, mask, shift_vector=shift_vector, log_total_vector=log_total_vector):
                shifted = kb.b.fsub(self._load(x, index, mask, 0.0), shift_vector)
                self._store(out, index, kb.b.fsub(shifted, log_total_vector), mask)

            self._each_chunk(base, visit)

    def bases(self, rows) -> list:
        """The index of each row's first element."""
        return [self.kb.b.mul(row, i64(self.classes)) for row in rows]

    def for_each_group(self, count: int, body) -> None:
        """body(rows) for the rows [0, count) in groups of ROWS_AT_ONCE (i64 row indices), the rest one by one.

        A row is one long chain of dependent steps (max, exp, sum, divide); the
        steps of a group's rows are emitted side by side, so the CPU overlaps them.
        """
        kb, b = self.kb, self.kb.b
        groups, rest = divmod(count, self.ROWS_AT_ONCE)
        if groups:
            with kb.loop(groups, "rows") as group:
                first = b.mul(group, i64(self.ROWS_AT_ONCE))
                body([b.add(first, i64(k)) for k in range(self.ROWS_AT_ONCE)])
        if rest:
            with kb.loop(rest, "row") as row:
                body([b.add(row, i64(groups * self.ROWS_AT_ONCE))])

    def check_labels(self, labels, label_dtype, count: int, inst) -> None:
        """Fails the kernel (InvalidArgumentError) at the first label outside [0, classes)."""
        kb = self.kb
        with kb.loop(count, "check") as row:
            label = self.label(labels, label_dtype, row)
            bad = kb.b.or_(kb.b.icmp_signed("<", label, i64(0)), kb.b.icmp_signed(">=", label, i64(self.classes)))
            with kb.if_(bad):
                message = f"{messages.label_out_of_range('%lld', '%lld')} (op {inst.source or inst.op})"
                kb.fail(errors.INVALID_ARGUMENT, message, label, i64(self.classes))

    def label(self, labels, label_dtype, row):
        """The row's label as i64 (check_labels has checked it)."""
        return convert(self.kb, self.kb.load(labels, label_dtype, row), label_dtype, dtypes.int64)


def _setup(module, name, inst, arg_names):
    logits = inst.values[0]
    kb = KernelBuilder(module, name, arg_names)
    shape = logits.type.shape
    rows = Rows(kb, logits.type.dtype, shape[-1])
    return kb, rows, num_elements(shape[:-1])


def lower_softmax(module, name, inst):
    kb, rows, count = _setup(module, name, inst, ["out", "in0", "status"])
    rows.for_each_group(count, lambda indices: rows.softmax_into(kb.arg("in0"), kb.arg("out"), rows.bases(indices)))
    return kb.finish()


def lower_log_softmax(module, name, inst):
    kb, rows, count = _setup(module, name, inst, ["out", "in0", "status"])
    rows.for_each_group(count, lambda indices: rows.log_softmax(kb.arg("in0"), kb.arg("out"), rows.bases(indices)))
    return kb.finish()


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


lowering.register_kernels({"softmax": lower_softmax, "log_softmax": lower_log_softmax})
