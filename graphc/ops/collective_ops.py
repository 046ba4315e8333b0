"""Collectives across the processes of a data-parallel program: allreduce, allgather, broadcast (Horovod's ops).

Each op exchanges its input with the other processes (`Effects.communicates`)
through MPI: the compiled kernel calls runtime_c, which calls the MPI library
graphc.horovod connected (backend/kernels/collective.py); the reference calls
the world of core/collectives.py. Every process must run the same collectives
in the same order, which holds when every process builds the same graph and
runs the same fetches. Before graphc.horovod.init() the world is this process
alone and each op is the identity. A failed collective (a peer that died)
fails the run with UnavailableError, before any variable write that does not
need its result (`may_fail`).
"""

from __future__ import annotations

from graphc.core import collectives, dtypes, registry, rules
from graphc.core.registry import Effects, OpDef, ShapeError, TensorType
from graphc.frontend.graph import apply_op
from graphc.ops import array_ops, layout_ops

_COLLECTIVE = Effects(may_fail=True, communicates=True)


def _allgather_infer(types, attrs):
    dims = types[0].dims
    rules.same_dtype(types, rules.NUMERIC_TYPES)
    if dims is None or not dims:
        raise ShapeError("allgather needs an input of at least one dimension")
    first = None if dims[0] is None else dims[0] * attrs["size"]
    return TensorType(types[0].dtype, (first,) + tuple(dims[1:]))


def _broadcast_infer(types, attrs):
    if not 0 <= attrs["root_rank"] < attrs["size"]:
        raise ShapeError(f"root_rank {attrs['root_rank']} is not a rank of a world of {attrs['size']} processes")
    return rules.unary(rules.NUMERIC_TYPES)(types, attrs)


mpi_allreduce_p = registry.register(OpDef(
    name="mpi_allreduce", tf_type="HorovodAllreduce", infer=rules.unary(rules.NUMERIC_TYPES), effects=_COLLECTIVE,
    in_place=0, reference=lambda x: collectives.world().allreduce_sum(x)))
mpi_allgather_p = registry.register(OpDef(
    name="mpi_allgather", tf_type="HorovodAllgather", infer=_allgather_infer, effects=_COLLECTIVE,
    reference=lambda x, size: collectives.world().allgather(x)))
mpi_broadcast_p = registry.register(OpDef(
    name="mpi_broadcast", tf_type="HorovodBroadcast", infer=_broadcast_infer, effects=_COLLECTIVE, in_place=0,
    reference=lambda x, root_rank, size: collectives.world().broadcast(x, root_rank)))


@registry.set_gradient(mpi_allreduce_p)
def _allreduce_grad(op, grad):
    """Each process's input reaches every process's output: the gradient is the sum of theirs."""
    return [allreduce_sum(grad)]


@registry.set_gradient(mpi_allgather_p)
def _allgather_grad(op, grad):
    """This process's rows of the summed gradient (Horovod's rule)."""
    rows, trailing = op.inputs[0].shape.as_list()[0], len(grad.shape) - 1
    summed = allreduce_sum(grad)
    rank = collectives.world().rank
    if rows is None:  # known when the step runs: begin and size from the input's shape
        rows = layout_ops.slice(array_ops.shape(op.inputs[0]), [0], [1])
        begin = layout_ops.concat([rows * rank, array_ops.zeros([trailing], dtypes.int32)], 0)
        size = layout_ops.concat([rows, array_ops.fill([trailing], -1)], 0)
        return [layout_ops.slice(summed, begin, size)]
    return [layout_ops.slice(summed, [rank * rows] + [0] * trailing, [rows] + [-1] * trailing)]


@registry.set_gradient(mpi_broadcast_p)
def _broadcast_grad(op, grad):
    """The root's input reaches every output: its gradient is the sum of theirs; the others' is zero."""
    summed = allreduce_sum(grad)
    if collectives.world().rank != op.attrs["root_rank"]:
        return [array_ops.zeros_like(summed)]
    return [summed]


def allreduce_sum(tensor, name=None):
    """The element-wise sum of `tensor` over every process (one MPI_Allreduce)."""
    return apply_op("mpi_allreduce", [tensor], name=name)


def allgather(tensor, name=None):
    """Every process's `tensor` (one shape on all of them) concatenated along dimension 0 in rank order."""
    return apply_op("mpi_allgather", [tensor], {"size": collectives.world().size}, name=name)


def broadcast(tensor, root_rank: int, name=None):
    """Process `root_rank`'s `tensor`, on every process (one MPI_Bcast)."""
    return apply_op("mpi_broadcast", [tensor], {"root_rank": int(root_rank), "size": collectives.world().size},
                    name=name)
