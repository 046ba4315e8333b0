"""What fused kernels share: finding values in memory, evaluating fused elementwise
code one element at a time, and the loop nests that walk a region of a shape.

A fused kernel is an LLVM function `i32 kernel(ptr buffers, ptr status)`:
`buffers` is the step's pointer array (see passes/plan_memory.py), from which
`Buffers` computes the address of any value with a memory location. Values the
plan keeps in registers exist only inside `ElementwiseBody.evaluate`.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import llvmlite.ir as ir
import numpy as np

from graphc.backend import target
from graphc.backend.kernel_builder import I8, I32, I64, PTR, KernelBuilder, global_array, i64, register_type
from graphc.backend.kernels.elementwise import broadcast_strides, coalesce, contiguous_strides
from graphc.backend.scalar_ops import SCALAR_OPS
from graphc.ir.memory_plan import Place
from graphc.ir.program import Program, Value


class Buffers:
    """Addresses of values and variables, from the step's pointer array and the memory plan."""

    def __init__(self, module: ir.Module, program: Program):
        self.module = module
        self.plan = program.memory_plan
        self.constants = {inst.result.id: inst.attrs["value"] for inst in program.instructions
                          if inst.op == "constant"}
        self._globals: dict[int, ir.GlobalVariable] = {}

    def in_memory(self, value: Value) -> bool:
        return self.plan.in_memory(value.id)

    def _slot(self, kb: KernelBuilder, buffers, slot: int):
        return kb.b.load(kb.b.gep(buffers, [i64(slot)], source_etype=PTR), typ=PTR)

    def value(self, kb: KernelBuilder, buffers, value: Value):
        """A pointer to `value`'s first element."""
        location = self.plan.locations[value.id]
        if location.place is Place.INLINE:
            return self._global_constant(value)
        if location.place is Place.REGISTER:
            raise AssertionError(f"{value} lives in registers, not memory")
        base = self._slot(kb, buffers, self.plan.slot(location))
        if location.place is Place.ARENA and location.offset:
            base = kb.b.gep(base, [i64(location.offset)], source_etype=I8)
        # Values that share arena space are never live in one kernel: the offset is the buffer.
        kb.tag(base, (self.plan.slot(location), location.offset))
        return base

    def workspace(self, kb: KernelBuilder, buffers, result: Value):
        """A pointer to the workspace of the op computing `result` (see plan_memory)."""
        offset = self.plan.workspaces[result.id]
        base = self._slot(kb, buffers, self.plan.arena_slot)
        return kb.b.gep(base, [i64(offset)], source_etype=I8) if offset else base

    def variable(self, kb: KernelBuilder, buffers, name: str):
        pointer = self._slot(kb, buffers, self.plan.variable_slot(name))
        kb.tag(pointer, (self.plan.variable_slot(name), 0))
        return pointer

    def _global_constant(self, value: Value):
        if value.id in self._globals:
            return self._globals[value.id]
        flat = np.asarray(self.constants[value.id]).reshape(-1)
        variable = global_array(self.module, f"const{value.id}", value.type.dtype, flat)
        self._globals[value.id] = variable
        return variable


class ElementwiseBody:
    """Elementwise instructions of one kernel, evaluated for one element at a time."""

    def __init__(self, instructions):
        self.instructions = [inst for inst in instructions if inst.op != "write"]
        self.writes = [inst for inst in instructions if inst.op == "write"]
        defined = {inst.result.id for inst in self.instructions}
        self.inputs: list[Value] = []
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


def emit_loops(kb: KernelBuilder, shape, strides: list, body: Callable[[list], None],
               outer: Optional[tuple] = None) -> None:
    """Visits `shape` row-major; body(offsets) gets each stream's element offset.

    `strides` has one list of element strides per stream (inputs and outputs);
    callers merge contiguous dimensions first (`coalesce`). `outer` = (begin,
    end) restricts the outermost dimension to a thread's share.
    """
    if any(d == 0 for d in shape):
        return
    if not shape:
        body([i64(0)] * len(strides))
        return
    total = 1
    for d in shape:
        total *= d
    if outer is None and len(shape) > 1 and shape[-1] < SHORT_INNER_LOOP and total < 2 ** 31:
        _emit_flat_loop(kb, shape, strides, body, total)
        return

    def level(depth, offsets):
        if depth == len(shape):
            body(offsets)
            return
        if depth == 0 and outer is not None:
            begin, end = outer
            with kb.loop(kb.b.sub(end, begin), "d0") as local:
                i = kb.b.add(begin, local)
                level(1, [kb.b.add(o, kb.b.mul(i, i64(s[0]))) for o, s in zip(offsets, strides)])
            return
        with kb.loop(shape[depth], f"d{depth}") as i:
            level(depth + 1, [kb.b.add(o, kb.b.mul(i, i64(s[depth]))) for o, s in zip(offsets, strides)])

    level(0, [i64(0)] * len(strides))


# An innermost dimension shorter than this (two AVX2 vectors of float32) is flattened
# into the outer ones: a [200, 10] loop would run a fifth of its elements in the
# vectorizer's scalar remainder.
SHORT_INNER_LOOP = 16


def _emit_flat_loop(kb: KernelBuilder, shape, strides: list, body, total: int) -> None:
    """One loop over every element; each stream's offset comes from the flat index.

    The index arithmetic is 32-bit: AVX2 vectorizes 32-bit division by a constant
    and gathers with 32-bit indices, where 64-bit ones are split into scalars.
    """
    b = kb.b
    with kb.loop(total, "flat") as flat:
        rest = b.trunc(flat, I32)
        coordinates = []
        for extent in reversed(shape):
            coordinates.append(b.urem(rest, ir.Constant(I32, extent)))
            rest = b.udiv(rest, ir.Constant(I32, extent))
        coordinates.reverse()
        offsets = []
        for stream in strides:
            offset = ir.Constant(I32, 0)
            for coordinate, stride in zip(coordinates, stream):
                if stride:
                    offset = b.add(offset, b.mul(coordinate, ir.Constant(I32, stride)), flags=["nuw", "nsw"])
            offsets.append(b.zext(offset, I64))
        body(offsets)


class Periodic:
    """How a [rows, cols] region with short rows is walked in whole vectors.

    Element f of the region (row f // cols, column f % cols) goes to lane
    f % lanes. The lane pattern repeats every period of lcm(lanes, cols)
    elements, which is `rows` rows and `vectors` vectors: a [200, 10] region
    with 8 lanes is 50 periods of 4 rows, 5 vectors each. Every stream's
    elements for one vector of a period sit at offsets known at compile time
    from the period's first row, so a vector is one load of the window they
    span, shuffled into lane order: a plain load for a contiguous stream, a
    splat for a scalar, a few elements spread over the lanes for a [rows, 1]
    column. Streams constant across rows ([1, cols]) are loaded once, before
    the loop. Outputs are contiguous, so every store is a whole vector.
    """

    def __init__(self, cols: int, lanes: int):
        self.cols, self.lanes = cols, lanes
        self.period = math.lcm(cols, lanes)
        self.rows, self.vectors = self.period // cols, self.period // lanes

    def positions(self, vector: int) -> list:
        """(row within the period, column) of each lane of vector `vector`."""
        return [divmod(vector * self.lanes + lane, self.cols) for lane in range(self.lanes)]

    def gather(self, kb: KernelBuilder, base, dtype, strides, row0, vector: int):
        """The lanes of `vector` in the period starting at row `row0`, of a stream with these strides."""
        b = kb.b
        row_stride, col_stride = strides
        offsets = [row * row_stride + col * col_stride for row, col in self.positions(vector)]
        low, high = min(offsets), max(offsets)
        start = b.add(b.mul(row0, i64(row_stride)), i64(low)) if row_stride else i64(low)
        if low == high:
            return splat(kb, kb.load(base, dtype, start), self.lanes)
        window = high - low + 1
        if window > _MAX_WINDOW_VECTORS * self.lanes:  # lanes far apart: one element at a time
            lanes = ir.Constant(ir.VectorType(register_type(dtype), self.lanes), ir.Undefined)
            for lane, offset in enumerate(offsets):
                element = kb.load(base, dtype, b.add(start, i64(offset - low)))
                lanes = b.insert_element(lanes, element, ir.Constant(I32, lane))
            return lanes
        loaded = kb.load_vector(base, dtype, start, window)
        mask = [offset - low for offset in offsets]
        if mask == list(range(window)):
            return loaded
        return b.shuffle_vector(loaded, ir.Constant(loaded.type, ir.Undefined),
                                ir.Constant(ir.VectorType(I32, self.lanes), mask))


    def emit_loop(self, kb: KernelBuilder, begin, end, loads, load_strides, period) -> object:
        """Calls period(row0, inputs_by_vector) for each whole period in rows [begin, end).

        inputs_by_vector[v] holds each load stream's vector v of the period. Returns
        the first row after the last whole period (the caller does the rest).
        """
        b = kb.b
        # Streams constant across rows give the same vectors in every period: load them once.
        invariant = {index: [self.gather(kb, pointer, dtype, strides, i64(0), v) for v in range(self.vectors)]
                     for index, ((pointer, dtype), strides) in enumerate(zip(loads, load_strides))
                     if strides[0] == 0}
        periods = b.udiv(b.sub(end, begin), i64(self.rows))
        with kb.loop(periods, "period") as index:
            row0 = b.add(begin, b.mul(index, i64(self.rows)))
            period(row0, [[invariant[s][v] if s in invariant else self.gather(kb, pointer, dtype, strides, row0, v)
                           for s, ((pointer, dtype), strides) in enumerate(zip(loads, load_strides))]
                          for v in range(self.vectors)])
        return b.add(begin, b.mul(periods, i64(self.rows)))


# A stream whose lanes of one vector span more than this many vectors' worth of
# elements is gathered element by element rather than loaded as one window.
_MAX_WINDOW_VECTORS = 4


def splat(kb: KernelBuilder, scalar, lanes: int):
    """`scalar` in every one of `lanes` lanes."""
    vector_type = ir.VectorType(scalar.type, lanes)
    single = kb.b.insert_element(ir.Constant(vector_type, ir.Undefined), scalar, ir.Constant(I32, 0))
    return kb.b.shuffle_vector(single, ir.Constant(vector_type, ir.Undefined),
                               ir.Constant(ir.VectorType(I32, lanes), [0] * lanes))


def horizontal(kb: KernelBuilder, combine: Callable, vector):
    """combine() over the lanes of `vector` (a power of two of them), as a fixed tree:
    halves combined lane by lane until two scalars remain."""
    b = kb.b
    width = vector.type.count
    while width > 2:
        width //= 2
        undefined = ir.Constant(vector.type, ir.Undefined)
        low = b.shuffle_vector(vector, undefined, ir.Constant(ir.VectorType(I32, width), list(range(width))))
        high = b.shuffle_vector(vector, undefined, ir.Constant(ir.VectorType(I32, width), list(range(width, 2 * width))))
        with kb.vector_lanes(width):
            vector = combine(low, high)
    with kb.vector_lanes(1):
        return combine(b.extract_element(vector, ir.Constant(I32, 0)), b.extract_element(vector, ir.Constant(I32, 1)))


def region_lanes() -> int:
    """Lanes of the vectors periodic regions compute in: a vector register of float32."""
    return target.vector_bytes() // 4


class ElementwiseRegion:
    """`body` run over `shape`: its inputs loaded with broadcasting, `outputs` and its writes stored.

    Dimensions every stream walks contiguously are merged, so `.shape` (the
    loop nest actually emitted) may have fewer dimensions than `shape`. A
    two-dimensional region with rows shorter than SHORT_INNER_LOOP is computed
    in whole vectors (`Periodic`); any other is a loop nest LLVM vectorizes.
    """

    def __init__(self, body: ElementwiseBody, shape, outputs: list):
        self.body, self.outputs = body, outputs
        strides = [broadcast_strides(v.type.shape, shape) for v in body.inputs]
        strides += [contiguous_strides(shape) for _ in outputs + body.writes]
        self.shape, self.strides = coalesce(list(shape), strides)

    def emit(self, kb: KernelBuilder, buffers_arg, buffers: Buffers, outer: Optional[tuple] = None) -> None:
        body = self.body
        loads = [(buffers.value(kb, buffers_arg, v), v.type.dtype) for v in body.inputs]
        stores = [(buffers.value(kb, buffers_arg, v), v.type.dtype, v.id) for v in self.outputs]
        stores += [(buffers.variable(kb, buffers_arg, w.operands[0].name), w.operands[1].type.dtype,
                    w.operands[1].id) for w in body.writes]

        def element(offsets):
            inputs = iter(zip(loads, offsets))
            values = body.evaluate(kb, lambda value: (lambda load, offset: kb.load(load[0], load[1], offset))(
                *next(inputs)))
            for (pointer, dtype, value_id), offset in zip(stores, offsets[len(loads):]):
                kb.store(pointer, dtype, offset, values[value_id])

        if len(self.shape) == 2 and 0 < self.shape[1] < SHORT_INNER_LOOP:
            self._emit_periodic(kb, loads, stores, element, outer)
        else:
            emit_loops(kb, self.shape, self.strides, element, outer)

    def _emit_periodic(self, kb: KernelBuilder, loads, stores, element, outer) -> None:
        b = kb.b
        rows, cols = self.shape
        layout = Periodic(cols, region_lanes())
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
