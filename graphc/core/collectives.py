"""The processes a data-parallel program runs on, as graph building and the reference interpreter see them.

A `World` is this process alone (size 1, rank 0), where every collective is
the identity (an allgather gives its input), until `graphc.horovod.init()`
installs one backed by MPI (`install`). The collective ops' shape rules and
gradients read the size and rank when a graph is built; their NumPy references
call the world's collectives, so the interpreter computes what the compiled
step does (which calls MPI itself, through runtime_c: see DESIGN.md).
"""

from __future__ import annotations

import numpy as np


class World:
    """A world of one process. Subclasses (graphc/horovod/world.py) exchange data with the others."""

    size = 1
    rank = 0
    local_size = 1
    local_rank = 0

    def allreduce_sum(self, array: np.ndarray) -> np.ndarray:
        """The element-wise sum of `array` over all processes."""
        return np.array(array)

    def allgather(self, array: np.ndarray) -> np.ndarray:
        """Every process's `array` (all of one shape), concatenated along the first dimension in rank order."""
        return np.array(array)

    def broadcast(self, array: np.ndarray, root_rank: int) -> np.ndarray:
        """Process `root_rank`'s `array`."""
        return np.array(array)


_world = World()


def world() -> World:
    """The current world (a single process until graphc.horovod.init())."""
    return _world


def install(new_world: World) -> None:
    """Makes `new_world` the world collectives run in (graphc.horovod.init does, once)."""
    global _world
    _world = new_world
