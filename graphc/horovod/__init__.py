"""Horovod's TensorFlow 1 API on graphc: `import graphc.horovod as hvd` ports a Horovod program.

    hvd.init()
    opt = hvd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.01 * hvd.size()))
    train_op = opt.minimize(loss)
    sess.run(hvd.broadcast_global_variables(0))    # after initialising the variables

and `mpirun -np 2 python train.py` (or `graphc run -np 2 train.py`). The
collectives run inside the compiled training step: runtime_c calls MPI
(world.py; DESIGN.md, "Data parallel training"). Importing this module
imports no MPI; `init()` does (mpi4py, the [mpi] extra).
"""

from graphc.horovod import world as _world
from graphc.horovod.ops import Adasum, Average, Compression, Sum, allgather, allreduce, broadcast
from graphc.horovod.optimizer import (BroadcastGlobalVariablesHook, DistributedOptimizer,
                                      broadcast_global_variables, broadcast_variables)


def init(comm=None) -> None:
    """Initialises MPI (through mpi4py) and joins its world; a second call changes nothing."""
    _world.init(comm)


def shutdown() -> None:
    """Leaves the world: later graphs and steps are this process's alone."""
    _world.shutdown()


def is_initialized() -> bool:
    """Whether init() has run (and shutdown() has not)."""
    return _world.is_initialized()


def size() -> int:
    """The number of ranks."""
    return _world.world().size


def rank() -> int:
    """This process's rank, 0 to size() - 1."""
    return _world.world().rank


def local_size() -> int:
    """The number of ranks on this machine."""
    return _world.world().local_size


def local_rank() -> int:
    """This process's rank among those on this machine."""
    return _world.world().local_rank


def mpi_threads_supported() -> bool:
    """Whether MPI was initialised with MPI_THREAD_MULTIPLE."""
    mpi = _world.world().mpi
    return mpi.Query_thread() == mpi.THREAD_MULTIPLE


__all__ = ["Adasum", "Average", "BroadcastGlobalVariablesHook", "Compression", "DistributedOptimizer", "Sum",
           "allgather", "allreduce", "broadcast", "broadcast_global_variables", "broadcast_variables", "init",
           "is_initialized", "local_rank", "local_size", "mpi_threads_supported", "rank", "shutdown", "size"]
