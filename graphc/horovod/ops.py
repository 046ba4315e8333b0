"""Horovod's graph ops (`hvd.allreduce`, `hvd.allgather`, `hvd.broadcast`), its reduce ops and compressors,
and the fusion of many tensors into one collective.

`fused` is Horovod's tensor fusion done in the graph: the tensors of one
dtype are flattened into one contiguous buffer (a concat), which one
collective exchanges, and the results are sliced back. The whole step stays
one compiled program with one MPI call per dtype in it, and the memory
planner makes the buffer without copies (`fused`'s docstring).
"""

from __future__ import annotations

from graphc import errors
from graphc.frontend.graph import convert_to_tensor, name_scope
from graphc.horovod import world
from graphc.ops import array_ops, collective_ops, layout_ops, math_ops

Average, Sum, Adasum = "Average", "Sum", "Adasum"  # Horovod's reduce ops (hvd.Average ...)


class NoneCompressor:
    """Sends tensors as they are."""

    @staticmethod
    def compress(tensor):
        return tensor, None

    @staticmethod
    def decompress(tensor, context):
        return tensor


class FP16Compressor:
    """Horovod's float16 compression, refused with a clear error: MPI has no float16 sum (Horovod brings its
    own reduction operator for it), and graphc's collectives exchange float32/64 and int32/64 only."""

    @staticmethod
    def compress(tensor):
        raise errors.UnimplementedError(None, None, "hvd.Compression.fp16 needs a float16 allreduce, which graphc's "
                                                    "collectives do not have; use hvd.Compression.none")

    @staticmethod
    def decompress(tensor, context):
        return tensor


class Compression:
    """`hvd.Compression.none` and `hvd.Compression.fp16`."""

    none = NoneCompressor
    fp16 = FP16Compressor


def reduce_op(average=None, op=None) -> str:
    """Horovod's resolution of the `average` (deprecated) and `op` arguments: Average by default."""
    if op is not None and average is not None:
        raise ValueError("The op parameter supersedes average. Please provide only one of them.")
    if op is None:
        op = Sum if average is False else Average
    if op not in (Average, Sum):
        raise errors.UnimplementedError(None, None, f"graphc.horovod supports the reduce ops Average and Sum, "
                                                    f"not {op}")
    return op


def _summed(tensor, compression):
    compressed, context = compression.compress(tensor)
    return compression.decompress(collective_ops.allreduce_sum(compressed), context)


def _finished(summed, op: str):
    """The mean of the ranks' values from their sum (op=Average), or the sum."""
    if op == Sum:
        return summed
    return math_ops.div(summed, array_ops.cast(world.world().size, summed.dtype))


def allreduce(tensor, average=None, device_dense="", device_sparse="", compression=Compression.none, op=None,
              name=None):
    """The sum (op=Sum) or the mean (op=Average, the default) of `tensor` over all ranks."""
    op = reduce_op(average, op)
    world.world()  # Horovod's ValueError before hvd.init()
    with name_scope(name, "HorovodAllreduce"):
        return _finished(_summed(convert_to_tensor(tensor), compression), op)


def allgather(tensor, name=None):
    """The ranks' `tensor`s (one shape on every rank) concatenated along dimension 0 in rank order."""
    world.world()  # Horovod's ValueError before hvd.init()
    return collective_ops.allgather(convert_to_tensor(tensor), name=name)


def broadcast(tensor, root_rank, name=None):
    """Rank `root_rank`'s `tensor`, on every rank."""
    world.world()  # Horovod's ValueError before hvd.init()
    return collective_ops.broadcast(convert_to_tensor(tensor), root_rank, name=name)


def fused(tensors: list, collective, finish=None) -> list:
    """`finish(collective(buffer))` applied to `tensors` (None entries stay None) through one contiguous
    buffer per dtype: flattened and concatenated, exchanged once, sliced back into their shapes, and each
    slice finished (`finish`, default none).

    The memory planner computes each tensor straight into its place in the buffer (OpDef.pieces of the
    concat), the collective runs in place, and the slices and reshapes are views of its result
    (OpDef.view): no tensor is copied. `finish` comes after the slicing so that its elementwise work (the
    division of an average) fuses into each tensor's consumer, the optimizer's update.
    """
    finish = finish or (lambda tensor: tensor)
    results = list(tensors)
    by_dtype: dict = {}
    for index, tensor in enumerate(tensors):
        if tensor is not None:
            by_dtype.setdefault(convert_to_tensor(tensor).dtype, []).append(index)
    for indices in by_dtype.values():
        group = [convert_to_tensor(tensors[i]) for i in indices]
        if len(group) == 1:
            results[indices[0]] = finish(collective(group[0]))
            continue
        sizes = [t.shape.num_elements() for t in group]
        if any(size is None for size in sizes):
            raise ValueError("tensor fusion needs tensors of known shapes: "
                             + ", ".join(t.name for t, size in zip(group, sizes) if size is None))
        buffer = collective(layout_ops.concat([array_ops.reshape(t, [-1]) for t in group], 0))
        offset = 0
        for index, tensor, size in zip(indices, group, sizes):
            part = layout_ops.slice(buffer, [offset], [size])
            results[index] = finish(array_ops.reshape(part, tensor.shape.as_list()))
            offset += size
    return results


def fused_allreduce(tensors: list, op: str = Average, compression=Compression.none) -> list:
    """`allreduce` of each tensor, as one in-place MPI_Allreduce per dtype (Horovod's tensor fusion)."""
    return fused(tensors, lambda buffer: _summed(buffer, compression), lambda summed: _finished(summed, op))
