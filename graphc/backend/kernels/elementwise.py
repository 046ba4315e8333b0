"""Elementwise code: the fused "loop" kernel, the elementwise bodies every fused kernel
runs, and strided maps for the kernels of their own.

- `ElementwiseBody`: a fused kernel's elementwise instructions (SCALAR_OPS
  entries), evaluated one element, or `kb.lanes` of them, at a time; its strided
  reads (a loop kernel's column slices, OpDef.strided_read) are inputs read in
  place from their operands, its strided pieces (a concat of columns,
  OpDef.strided_pieces) values stored in place into their result;
- `ElementwiseRegion`: a body run over a shape, its inputs read with
  broadcasting and its results stored: the whole of a fused "loop" kernel
  (split across threads when large), and the epilogue of the other fused
  kernels (reduce.py, softmax.py, matmul.py);
- `emit_strided_map`: a contiguous output written by visiting it in row-major
  order and reading each input through its own element strides: 0 along
  broadcast dimensions, permuted for a transpose. Dimensions along which every
  operand is contiguous are merged first, so a plain `a + b` is one flat loop
  that LLVM vectorizes. Integer divisions, remainders and pow, transpose and reshape are such maps.

The loop nests come from backend/loops.py.
"""

from __future__ import annotations

from typing import Callable, Optional

import llvmlite.ir as ir

from graphc import errors
from graphc.backend import lowering, target
from graphc.backend.buffers import Buffers
from graphc.backend.kernel_builder import KernelBuilder, i64
from graphc.backend.kernels.parallel import TASKS_PER_THREAD, emit_parallel_for
from graphc.backend.loops import (SHORT_INNER_LOOP, Periodic, broadcast_strides, coalesce, contiguous_strides,
                                  emit_loops)
from graphc.backend.scalar_ops import SCALAR_OPS
from graphc.core import dtypes, messages
from graphc.core.tensor_shape import num_elements
from graphc.ir.facts import strided_pieces, strided_read
from graphc.ir.program import Value

# A loop over fewer elements runs on one thread: waking the pool costs more.
PARALLEL_MIN_ELEMENTS = 1 << 15
# A loop kernel of at least this many elements (and fewer than PARALLEL_MIN_ELEMENTS), and of at least
# ALIGNED_MIN_WORK elements times its body's instructions, splits its rows in one share a thread, the caller the
# first: the halves of the LSTM's [100, 128] cell kernels (10 and 13 instructions, sigmoids and tanhs) are the
# rows the products before and after them (split by rows in pairs) give the same thread, so each core writes the
# lines it reads next rather than invalidating the other core's copies of them (the gradient's cell kernel
# writing dgates, [100, 512], which both threads read in the products), and the work halves. A cheap body of as
# few elements stays on one thread, where waking the pool would cost about what it saves. See
# docs/performance-notes.md, lstm5.
ALIGNED_MIN_ELEMENTS = 1 << 13
ALIGNED_MIN_WORK = 1 << 16
# A flat region of at most this many elements runs in whole vectors, the last one masked
# (ElementwiseRegion._emit_whole_vectors); longer ones are loops LLVM vectorizes and unrolls.
SHORT_FLAT_ELEMENTS = 1024
# The dtypes whole-vector code loads and stores as they are (bools are bytes in memory, i1 in registers).
_VECTOR_DTYPES = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)


class ElementwiseBody:
    """Elementwise instructions of one kernel, evaluated for one element at a time."""

    def __init__(self, instructions):
        # result id -> (the operand read, (offset, strides over the result)) of each strided read
        self.strided = {inst.result.id: (inst.values[0], read) for inst in instructions
                        if inst.op != "write" and (read := strided_read(inst)) is not None}
        # (a value, the result it is stored into, (offset, strides over the value)) of each strided piece
        self.pieces = [(operand, inst.result, piece) for inst in instructions if inst.op != "write"
                       and (pieces := strided_pieces(inst)) is not None for operand, piece in zip(inst.values, pieces)]
        stored_whole = {result.id for _, result, _ in self.pieces}
        computed = [inst for inst in instructions if inst.op != "write" and inst.result.id not in stored_whole]
        self.instructions = [inst for inst in computed if inst.result.id not in self.strided]
        self.writes = [inst for inst in instructions if inst.op == "write"]
        self.results = [inst.result for inst in computed]
        defined = {inst.result.id for inst in self.instructions}
        # A strided read is an input even when only other kernels use it (the loop kernel stores it).
        self.inputs: list[Value] = [v for v in self.results if v.id in self.strided]
        for inst in self.instructions:
            for operand in inst.values:
                if operand.id not in defined and operand not in self.inputs:
                    self.inputs.append(operand)

    def evaluate(self, kb: KernelBuilder, load: Callable[[Value], object]) -> dict:
        """Value id -> the element (register form); `load(v)` gives an input's element."""
        values = {v.id: load(v) for v in self.inputs}
        for inst in self.instructions:
            args = [values[o.id] for o in inst.values]
            values[inst.result.id] = SCALAR_OPS[inst.op](kb, args, [o.type.dtype for o in inst.values],
                                                         inst.result.type.dtype, inst.attrs)
        return values


class ElementwiseRegion:
    """`body` run over `shape`: its inputs loaded with broadcasting, `outputs` and its writes stored.

    Dimensions every stream walks contiguously are merged, so `.shape` (the
    loop nest actually emitted) may have fewer dimensions than `shape`. A
    two-dimensional region with rows shorter than SHORT_INNER_LOOP is computed
    in whole vectors (`Periodic`); any other is a loop nest LLVM vectorizes.
    """

    def __init__(self, body: ElementwiseBody, shape, outputs: list):
        self.body, self.outputs = body, outputs
        strides = [self._input_strides(v, shape) for v in body.inputs]
        strides += [contiguous_strides(shape) for _ in outputs + body.writes]
        strides += [piece_strides for _, _, (_, piece_strides) in body.pieces]
        self.shape, self.strides = coalesce(list(shape), strides)

    def _input_strides(self, value: Value, shape) -> list:
        """An input's element strides over `shape`: broadcast, or those of a strided read in its operand."""
        if value.id not in self.body.strided:
            return broadcast_strides(value.type.shape, shape)
        _, (_, strides) = self.body.strided[value.id]
        padded = [0] * (len(shape) - len(strides)) + list(strides)
        dims = [1] * (len(shape) - len(strides)) + list(value.type.shape)
        return [0 if d == 1 and o != 1 else s for d, o, s in zip(dims, shape, padded)]

    def _input_pointer(self, kb: KernelBuilder, buffers_arg, buffers: Buffers, value: Value):
        """Where an input's element 0 is: its buffer, or a strided read's place in its operand's."""
        if value.id not in self.body.strided:
            return buffers.value(kb, buffers_arg, value)
        operand, (offset, _) = self.body.strided[value.id]
        return kb.offset(buffers.value(kb, buffers_arg, operand), operand.type.dtype, offset)

    def emit(self, kb: KernelBuilder, buffers_arg, buffers: Buffers, outer: Optional[tuple] = None) -> None:
        """The region's code; `outer` = (begin, end) restricts it to those rows of `.shape` (a thread's share)."""
        body = self.body
        loads = [(self._input_pointer(kb, buffers_arg, buffers, v), v.type.dtype) for v in body.inputs]
        stores = [(buffers.value(kb, buffers_arg, v), v.type.dtype, v.id) for v in self.outputs]
        stores += [(buffers.variable(kb, buffers_arg, w.operands[0].name), w.operands[1].type.dtype,
                    w.operands[1].id) for w in body.writes]
        stores += [(kb.offset(buffers.value(kb, buffers_arg, result), result.type.dtype, offset), value.type.dtype,
                    value.id) for value, result, (offset, _) in body.pieces]

        def element(offsets):
            inputs = iter(zip(loads, offsets))
            values = body.evaluate(kb, lambda value: (lambda load, offset: kb.load(load[0], load[1], offset))(
                *next(inputs)))
            for (pointer, dtype, value_id), offset in zip(stores, offsets[len(loads):]):
                kb.store(pointer, dtype, offset, values[value_id])

        if len(self.shape) == 2 and 0 < self.shape[1] < SHORT_INNER_LOOP and not body.pieces:  # stores whole rows
            self._emit_periodic(kb, loads, stores, element, outer)
        elif outer is None and self._short_and_flat(loads, stores):
            self._emit_whole_vectors(kb, loads, stores)
        else:
            emit_loops(kb, self.shape, self.strides, element, outer, flatten_short_rows=True)

    def _short_and_flat(self, loads, stores) -> bool:
        """Whether the region is one short run (SHORT_INNER_LOOP to SHORT_FLAT_ELEMENTS elements) that every
        stream walks contiguously or reads one element of, in dtypes held in registers as in memory."""
        return (len(self.shape) == 1 and SHORT_INNER_LOOP <= self.shape[0] <= SHORT_FLAT_ELEMENTS
                and all(tuple(stride) in ((0,), (1,)) for stride in self.strides)
                and all(load[1] in _VECTOR_DTYPES for load in loads) and all(store[1] in _VECTOR_DTYPES
                                                                           for store in stores))

    def _emit_whole_vectors(self, kb: KernelBuilder, loads, stores) -> None:
        """The run in whole vectors of float32's lane count, the last one masked: LLVM's vectorized loop
        would leave up to 4 vectors' worth of elements to its scalar remainder (8 of a reduce kernel's
        200 outputs, each a scalar tanh with its division), and a body evaluated on vectors branches
        past the work no lane needs (vector_math's tanh tail)."""
        b, (count,) = kb.b, self.shape
        lanes = target.lanes(dtypes.float32)
        full, tail = divmod(count, lanes)

        def vector(first, mask=None):
            inputs = []
            for (pointer, dtype), (stride,) in zip(loads, self.strides):
                if stride == 0:
                    inputs.append(kb.broadcast(kb.load(pointer, dtype, i64(0)), lanes))
                elif mask is None:
                    inputs.append(kb.load_vector(pointer, dtype, first, lanes))
                else:  # ones in the lanes past the end: no lane divides by a zero it never read
                    inputs.append(kb.load_vector_masked(pointer, dtype, first, mask, kb.constant(dtype, 1, lanes)))
            with kb.vector_lanes(lanes):
                values = self.body.evaluate(kb, lambda value, it=iter(inputs): next(it))
            for pointer, dtype, value_id in stores:
                if mask is None:
                    kb.store_vector(pointer, dtype, first, values[value_id])
                else:
                    kb.store_vector_masked(pointer, dtype, first, values[value_id], mask)

        if full:
            with kb.loop(full, "vector") as v:
                vector(b.mul(v, i64(lanes)))
        if tail:
            vector(i64(full * lanes), ir.Constant(ir.VectorType(ir.IntType(1), lanes), [1] * tail + [0] * (lanes - tail)))

    def _emit_periodic(self, kb: KernelBuilder, loads, stores, element, outer) -> None:
        b = kb.b
        rows, cols = self.shape
        # The body may mix dtypes (float32 values, bool masks, int32 labels), and one lane count
        # serves them all: a vector register of float32, the dtype the work is mostly in.
        layout = Periodic(cols, target.lanes(dtypes.float32))
        begin, end = outer if outer is not None else (i64(0), i64(rows))

        def period(row0, inputs_by_vector):
            for v, inputs in enumerate(inputs_by_vector):
                with kb.vector_lanes(layout.lanes):
                    values = self.body.evaluate(kb, lambda value, inputs=iter(inputs): next(inputs))
                first = b.add(b.mul(row0, i64(cols)), i64(v * layout.lanes))
                for pointer, dtype, value_id in stores:
                    kb.store_vector(pointer, dtype, first, values[value_id])

        rest = layout.emit_loop(kb, begin, end, loads, self.strides[:len(loads)], period)
        emit_loops(kb, self.shape, self.strides, element, (rest, end))


def _parallel_kernel(module, name, extent: int, per_thread: int, emit_range) -> ir.Function:
    """A kernel running emit_range(kb, buffers, (begin, end)) over [0, extent), split across threads in
    `per_thread` tasks a thread."""
    kb = KernelBuilder(module, name, ["buffers", "status"])
    emit_parallel_for(kb, f"{name}_task", extent, [kb.arg("buffers")],
                      lambda task, values, outer: emit_range(task, values[0], outer), per_thread=per_thread)
    return kb.finish()


def materialized(buffers: Buffers, instructions) -> list:
    """The results of `instructions` that the memory plan keeps in memory: the ones a kernel stores."""
    return [inst.result for inst in instructions if inst.result is not None and buffers.in_memory(inst.result)]


@lowering.fused_kernel("loop")
def emit_loop_kernel(module, name: str, members, buffers: Buffers) -> ir.Function:
    """One elementwise body over one shape, its rows split across threads when large."""
    body = ElementwiseBody(members)
    shape = body.results[-1].type.shape
    region = ElementwiseRegion(body, shape, [v for v in body.results if buffers.in_memory(v)])
    elements = num_elements(shape)
    aligned = elements >= ALIGNED_MIN_ELEMENTS and elements * len(body.instructions) >= ALIGNED_MIN_WORK
    if (aligned or elements >= PARALLEL_MIN_ELEMENTS) and region.shape and region.shape[0] > 1:
        per_thread = TASKS_PER_THREAD if elements >= PARALLEL_MIN_ELEMENTS else 1
        return _parallel_kernel(module, name, region.shape[0], per_thread,
                                lambda kb, buffers_arg, outer: region.emit(kb, buffers_arg, buffers, outer))
    kb = KernelBuilder(module, name, ["buffers", "status"])
    region.emit(kb, kb.arg("buffers"), buffers)
    return kb.finish()


def emit_strided_map(kb: KernelBuilder, out_ptr, out_dtype, out_shape, inputs, element):
    """out[i] = element([in_k[offset_k(i)] for k]) over the output in row-major order.

    inputs: (pointer, dtype, element strides over out_shape) per operand.
    element(values) returns the output element (register form).
    """
    shape, strides = coalesce(out_shape, [contiguous_strides(out_shape)] + [s for _, _, s in inputs])

    def store(offsets):
        values = [kb.load(ptr, dtype, offset) for (ptr, dtype, _), offset in zip(inputs, offsets[1:])]
        kb.store(out_ptr, out_dtype, offsets[0], element(values))

    emit_loops(kb, shape, strides, store)


# Integer ops that fail the run (TF's InvalidArgumentError) for some values of their second operand:
# the predicate (against 0) of those values, and TF's message.
_SECOND_OPERAND_CHECKS = {
    **{name: ("==", messages.INTEGER_DIVISION_BY_ZERO) for name in ("floordiv", "floormod", "truncatediv",
                                                                     "truncatemod")},
    "pow": ("<", messages.NEGATIVE_INTEGER_POWER),
}


def lower_checked_integer_op(module, name, inst):
    """An integer division, remainder or pow as a kernel of its own: the second operand is checked (for a
    zero divisor, a negative exponent) before any result is computed."""
    operands = inst.values
    kb = KernelBuilder(module, name, ["out"] + [f"in{i}" for i in range(len(operands))] + ["status"])
    out_type = inst.result.type
    in_dtypes = [v.type.dtype for v in operands]
    inputs = [(kb.arg(f"in{i}"), v.type.dtype, broadcast_strides(v.type.shape, out_type.shape))
              for i, v in enumerate(operands)]
    scalar = SCALAR_OPS[inst.op]
    if out_type.num_elements:  # with no result to compute, nothing fails (as in TF)
        _check_second_operand(kb, operands[1], inst)
    emit_strided_map(kb, kb.arg("out"), out_type.dtype, out_type.shape, inputs,
                     lambda values: scalar(kb, values, in_dtypes, out_type.dtype, inst.attrs))
    return kb.finish()


def _check_second_operand(kb, operand, inst):
    predicate, message = _SECOND_OPERAND_CHECKS[inst.op]
    with kb.loop(operand.type.num_elements, "z") as i:
        y = kb.load(kb.arg("in1"), operand.type.dtype, i)
        with kb.if_(kb.b.icmp_signed(predicate, y, y.type(0))):
            kb.fail(errors.INVALID_ARGUMENT, f"{message} (op {inst.source or inst.op})")


def _copy_through(module, name, inst, strides_of):
    """out = the operand read through `strides_of(operand_shape, out_shape)`."""
    source = inst.values[0]
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    out_type = inst.result.type
    strides = strides_of(source.type.shape, out_type.shape, inst.attrs)
    emit_strided_map(kb, kb.arg("out"), out_type.dtype, out_type.shape,
                     [(kb.arg("in0"), source.type.dtype, strides)], lambda values: values[0])
    return kb.finish()


def lower_transpose(module, name, inst):
    def strides(in_shape, out_shape, attrs):
        source = contiguous_strides(in_shape)
        return [source[p] for p in attrs["perm"]]

    return _copy_through(module, name, inst, strides)


def lower_reshape(module, name, inst):
    """A reshape keeps the row-major order: an element-for-element copy."""
    return _copy_through(module, name, inst, lambda in_shape, out_shape, attrs: contiguous_strides(out_shape))


lowering.register_kernels({
    # Integers; float divisions, remainders and pow are fused like any elementwise op.
    **{name: lower_checked_integer_op for name in ("floordiv", "floormod", "truncatediv", "truncatemod")},
    "pow": lower_checked_integer_op,
    "transpose": lower_transpose,
    "reshape": lower_reshape,
    "expand_dims": lower_reshape,  # a size-1 axis more or less keeps the row-major order
    "squeeze": lower_reshape,
})
