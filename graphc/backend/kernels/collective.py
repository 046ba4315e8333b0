"""Collectives (ops/collective_ops.py): one call into runtime_c, which calls MPI (runtime_c/collectives.c).

The kernel passes its operand and result buffers to MPI as they are: the
allreduce reads the operand and writes the result (in place when the memory
plan gives both one buffer), so a step's gradients cross the network without
a copy on the host. A failed call fails the step: UnavailableError for an MPI
error (a peer process died), InvalidArgumentError for a step compiled for a
world of another size.
"""

from __future__ import annotations

import llvmlite.ir as ir

from graphc import errors
from graphc.backend import lowering
from graphc.backend.kernel_builder import I32, I64, KernelBuilder, i64, runtime_function
from graphc.runtime import abi

_MPI_COUNT_LIMIT = 2 ** 31 - 1  # MPI counts are C ints
_MPI_NAMES = {"mpi_allreduce": "MPI_Allreduce", "mpi_allgather": "MPI_Allgather", "mpi_broadcast": "MPI_Bcast"}


def lower_collective(module, name, inst):
    """`graphc_mpi_<op>(in, out, count, dtype index[, root][, world size])`, and a failure for its codes."""
    source = inst.values[0]
    count = source.type.num_elements
    where = (inst.source or inst.op).replace("%", "%%")
    if count > _MPI_COUNT_LIMIT:
        raise errors.UnimplementedError(None, None, f"{where}: MPI collectives take at most {_MPI_COUNT_LIMIT} "
                                                    f"elements, not {count}")
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    b = kb.b
    dtype_index = abi.COLLECTIVE_DTYPES.index(source.type.dtype)
    args = [kb.arg("in0"), kb.arg("out"), i64(count), ir.Constant(I32, dtype_index)]
    if "root_rank" in inst.attrs:
        args.append(ir.Constant(I32, inst.attrs["root_rank"]))
    if "size" in inst.attrs:
        args.append(ir.Constant(I32, inst.attrs["size"]))
    code = b.call(runtime_function(module, "graphc_" + inst.op), args)
    with kb.if_(b.icmp_signed(">", code, ir.Constant(I32, 0))):
        kb.fail(errors.UNAVAILABLE, f"{_MPI_NAMES[inst.op]} failed with MPI error code %lld in op {where}: a "
                                    "process of the MPI world may have died", b.sext(code, I64))
    if "size" not in inst.attrs:
        return kb.finish()
    with kb.if_(b.icmp_signed("<", code, ir.Constant(I32, 0))):  # built for a world of another size
        world_size = b.sext(b.call(runtime_function(module, "graphc_mpi_size"), []), I64)
        kb.fail(errors.INVALID_ARGUMENT, f"op {where} was built for a world of {inst.attrs['size']} processes, "
                                         "but the MPI world has %lld", world_size)
    return kb.finish()


lowering.register_kernels({op: lower_collective for op in _MPI_NAMES})
