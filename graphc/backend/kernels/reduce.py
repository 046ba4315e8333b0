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
    """Elementwise producers, the reductions accumulated in the same pass over their input, an epilogue.

    Sibling reductions (passes/fuse.py: one input shape, the same axes, outputs of one layout)
    follow each other in `members`. Short rows summed into columns, and runs along the innermost
    dimension, accumulate them all in one pass (PeriodicReduction, RunReduction); the column paths
    take one reduction a pass, each pass computing the producers it needs again, the last storing what
    the kernel materializes and writing its variables (an update in place, `v + 1` written to v, would
    feed the passes after it the new v)."""
    first = next(i for i, m in enumerate(members) if fusion_of(m) is FusionClass.REDUCE)
    last = first
    while last + 1 < len(members) and fusion_of(members[last + 1]) is FusionClass.REDUCE:
        last += 1
    reductions = members[first:last + 1]
    main, epilogue = ElementwiseBody(members[:first]), ElementwiseBody(members[last + 1:])
    in_shape = reductions[0].operands[0].type.shape
    axes = set(normalize_axes(reductions[0].attrs["axes"], len(in_shape)))
    kb = KernelBuilder(module, name, ["buffers", "status"])
    buffers_arg = kb.arg("buffers")
    count = num_elements(in_shape[a] for a in axes)
    outs = [buffers.value(kb, buffers_arg, r.result) for r in reductions]
    accumulators = [Accumulator(registry.get(r.op).reduction, r.operands[0].type.dtype, count) for r in reductions]
    main_values = {v.id for v in main.inputs} | {inst.result.id for inst in main.instructions}
    sources = [r.operands[0] for r in reductions]
    loaded_sources = list({s.id: s for s in sources if s.id not in main_values}.values())
    loaded = main.inputs + loaded_sources
    stored = materialized(buffers, main.instructions)
    strides = [broadcast_strides(v.type.shape, in_shape) for v in main.inputs]
    strides += [contiguous_strides(in_shape) for _ in loaded_sources]
    kept = iter(contiguous_strides([d for i, d in enumerate(in_shape) if i not in axes]))
    strides.append([0 if i in axes else next(kept) for i in range(len(in_shape))])
    strides += [contiguous_strides(in_shape) for _ in stored + main.writes]
    shape, strides = coalesce(list(in_shape), strides)

    def streams_in(builder: KernelBuilder, buffers_value, source_ids, with_stores=True) -> Streams:
        """The main pass's streams, their pointers in the function `builder` emits (the kernel or a task
        of it), reducing `source_ids`; without stores for a pass before the last."""
        loads = [(buffers.value(builder, buffers_value, v), v.type.dtype) for v in loaded]
        stores = [(buffers.value(builder, buffers_value, v), v.type.dtype, v.id) for v in stored]
        stores += [(buffers.variable(builder, buffers_value, w.operands[0].name), w.operands[1].type.dtype,
                    w.operands[1].id) for w in main.writes]
        return Streams(builder, main, loads, stores if with_stores else [], source_ids, [s.id for s in loaded_sources])

    out_strides = tuple(strides[len(loaded)])
    if num_elements(in_shape) == 0:  # nothing to reduce: every output is the identity's result (a float mean's NaN)
        for accumulator, out, reduction in zip(accumulators, outs, reductions):
            with kb.loop(reduction.result.type.num_elements, "empty") as j:
                kb.store(out, accumulator.dtype, j, accumulator.result(kb, accumulator.identity(kb)))
    elif (len(shape) == 2 and shape[1] < SHORT_INNER_LOOP and out_strides in ((0, 1), (1, 0))
          and all(a.dtype_of_sums is a.dtype for a in accumulators)
          and (out_strides == (0, 1) or len(reductions) == 1)):  # row sums: one reduction a pass
        streams = streams_in(kb, buffers_arg, [s.id for s in sources])
        PeriodicReduction(kb, accumulators, streams, shape, strides, column_sums=out_strides == (0, 1)).emit(outs)
    else:
        if not shape:  # one element: a run of one
            shape, strides = [1], [[0] for _ in strides]
        if strides[len(loaded)][-1] == 0:  # runs along the reduced innermost dimension: one pass for all
            RunReduction(kb, accumulators, streams_in(kb, buffers_arg, [s.id for s in sources]), shape,
                         strides).emit(outs)
        else:
            for k, (accumulator, out, source) in enumerate(zip(accumulators, outs, sources)):
                def streams_of(builder, buffers_value, source_id=source.id, with_stores=k == len(reductions) - 1):
                    return streams_in(builder, buffers_value, [source_id], with_stores)

                streams = streams_of(kb, buffers_arg)
                if PartitionedColumnSums.applies(shape, strides[streams.out]):
                    PartitionedColumnSums(kb, name if k == 0 else f"{name}_{k}", accumulator, shape, strides,
                                          streams_of, buffers_arg).emit(out)
                else:
                    ColumnReduction(kb, accumulator, streams, shape, strides).emit(out)
    if epilogue.instructions or epilogue.writes:
        # Sibling reductions' outputs differ at most by leading 1s (fuse.py): the epilogue runs over the longest.
        region_shape = max((r.result.type.shape for r in reductions), key=len)
        ElementwiseRegion(epilogue, region_shape, materialized(buffers, epilogue.instructions)).emit(
            kb, buffers_arg, buffers)
    return kb.finish()
