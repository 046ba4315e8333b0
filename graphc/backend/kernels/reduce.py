"""The fused "reduce" kernel (passes/fuse.py): elementwise producers of a reduction's input,
the reduction (a sum, mean, maximum or minimum over some axes) accumulated in the
same pass over that input, then an elementwise epilogue over the result.

The pass takes one of three paths, by the coalesced shape of the input: runs along a
reduced innermost dimension (reduce_runs.py), rows summed across a kept innermost
dimension (reduce_columns.py; on the thread pool in fixed partitions of rows when they
are many and make one output row, reduce_parts.py), or, for a [rows, cols] input with short
rows, whole vectors spanning rows (reduce_periodic.py). On each, long sums are built from short
lane chains added pairwise (summation.py), in an order fixed at compile time.
"""

from __future__ import annotations

import llvmlite.ir as ir

from graphc.backend import lowering
from graphc.backend.buffers import Buffers
from graphc.backend.kernel_builder import KernelBuilder
from graphc.backend.kernels.elementwise import ElementwiseBody, ElementwiseRegion, materialized
from graphc.backend.kernels.reduce_columns import ColumnReduction
from graphc.backend.kernels.reduce_parts import PartitionedColumnSums
from graphc.backend.kernels.reduce_periodic import PeriodicReduction
from graphc.backend.kernels.reduce_runs import RunReduction
from graphc.backend.kernels.reduction import Accumulator, Streams
from graphc.backend.loops import SHORT_INNER_LOOP, broadcast_strides, coalesce, contiguous_strides
from graphc.core import registry
from graphc.core.registry import FusionClass
from graphc.core.rules import normalize_axes
from graphc.core.tensor_shape import num_elements
from graphc.ir.facts import fusion_of


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
    buffers_arg = kb.arg("buffers")
    count = num_elements(in_shape[a] for a in axes)
    out = buffers.value(kb, buffers_arg, result)
    accumulator = Accumulator(reduction, dtype, count)
    produced_inside = source.id in {inst.result.id for inst in main.instructions}
    loaded = main.inputs + ([] if produced_inside else [source])
    stored = materialized(buffers, main.instructions)
    strides = [broadcast_strides(v.type.shape, in_shape) for v in main.inputs]
    if not produced_inside:
        strides.append(contiguous_strides(in_shape))
    kept = iter(contiguous_strides([d for i, d in enumerate(in_shape) if i not in axes]))
    strides.append([0 if i in axes else next(kept) for i in range(len(in_shape))])
    strides += [contiguous_strides(in_shape) for _ in stored + main.writes]
    shape, strides = coalesce(list(in_shape), strides)

    def streams_in(builder: KernelBuilder, buffers_value) -> Streams:
        """The main pass's streams, their pointers in the function `builder` emits (the kernel or a task of it)."""
        loads = [(buffers.value(builder, buffers_value, v), v.type.dtype) for v in loaded]
        stores = [(buffers.value(builder, buffers_value, v), v.type.dtype, v.id) for v in stored]
        stores += [(buffers.variable(builder, buffers_value, w.operands[0].name), w.operands[1].type.dtype,
                    w.operands[1].id) for w in main.writes]
        return Streams(builder, main, loads, stores, source.id if produced_inside else None)

    streams = streams_in(kb, buffers_arg)
    out_strides = tuple(strides[streams.out])
    if num_elements(in_shape) == 0:  # nothing to reduce: every output is the identity's result (a float mean's NaN)
        with kb.loop(result.type.num_elements, "empty") as j:
            kb.store(out, dtype, j, accumulator.result(kb, accumulator.identity(kb)))
    elif (len(shape) == 2 and shape[1] < SHORT_INNER_LOOP and out_strides in ((0, 1), (1, 0))
          and accumulator.dtype_of_sums is dtype):
        PeriodicReduction(kb, accumulator, streams, shape, strides, column_sums=out_strides == (0, 1)).emit(out)
    else:
        if not shape:  # one element: a run of one
            shape, strides = [1], [[0] for _ in strides]
        if strides[streams.out][-1] == 0:
            RunReduction(kb, accumulator, streams, shape, strides).emit(out)
        elif PartitionedColumnSums.applies(shape, strides[streams.out]):
            PartitionedColumnSums(kb, name, accumulator, shape, strides, streams_in, buffers_arg).emit(out)
        else:
            ColumnReduction(kb, accumulator, streams, shape, strides).emit(out)
    if epilogue.instructions or epilogue.writes:
        ElementwiseRegion(epilogue, result.type.shape, materialized(buffers, epilogue.instructions)).emit(
            kb, buffers_arg, buffers)
    return kb.finish()

