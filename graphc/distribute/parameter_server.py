"""`AsyncOptimizer`: asynchronous training against parameters held in an MPI window on rank 0.

Every rank is a worker; rank 0 also hosts the shared parameters (the trainable
variables the wrapped optimizer updates, one contiguous buffer of one float
dtype) in an MPI window. A worker's step (`AsyncWorker.run`), with no barrier:

1. read the current parameters from rank 0's window (MPI_Get_accumulate with
   MPI_NO_OP under a shared lock: the MPI_Get that is atomic per element
   against the other workers' concurrent accumulates) into its variables;
2. run its compiled training step on its own batch: gradients and the wrapped
   optimizer's update, applied to its local copy, in one native call;
3. push the change the step made, new - read, to the window (MPI_Accumulate
   with MPI_SUM under a shared lock: atomic per element), without waiting.

Staleness semantics (asynchronous SGD, "Hogwild" on a server): an update is
computed from the parameters a worker read, and lands on whatever they are
when it arrives; the updates other workers pushed meanwhile are not undone,
and no bound on that staleness is enforced (with N workers of equal speed a
gradient is typically N - 1 updates old). No update is ever lost: every
element of every push is added exactly once. A read is atomic per element,
not per tensor: it may see a concurrent push on some elements and not on
others. Supported optimizers: those whose update is a function of the
gradient and per-worker state: SGD (the push is -lr * gradient) and momentum
(each worker keeps its own velocity: local momentum), Adam and the others alike
(their slots are per worker); the state never leaves the worker.

A worker that dies ends the job: Open MPI's mpirun stops the other ranks (the
window's owner included) instead of letting any wait on it forever.
"""

from __future__ import annotations

import numpy as np

from graphc.horovod import world
from graphc.horovod.optimizer import OptimizerWrapper

_SERVER = 0  # the rank whose window holds the parameters


class AsyncOptimizer(OptimizerWrapper):
    """Wraps a `tf.train` optimizer for asynchronous training on a parameter server (module docstring).

    The graph is the wrapped optimizer's: `minimize` builds the usual training
    step; `join(session)` turns the session's runs of it into asynchronous steps.
    """

    def __init__(self, optimizer, name=None, use_locking=False):
        world.init()
        super().__init__(optimizer, name or f"Async{type(optimizer).__name__}", use_locking)
        self._var_list: list = []

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """The wrapped optimizer's update of the local copy; its variables become the shared parameters."""
        grads_and_vars = list(grads_and_vars)
        self._var_list = [v for g, v in grads_and_vars if g is not None]
        return self._optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def join(self, session) -> "AsyncWorker":
        """Makes this rank a worker of the parameter server (collective: every rank calls it, after
        initialising its variables); rank 0's values become the shared parameters."""
        if not self._var_list:
            raise ValueError("AsyncOptimizer.join needs the training op first: call minimize or apply_gradients")
        return AsyncWorker(session, self._var_list)


class AsyncWorker:
    """One rank's side of the parameter server: `run` is an asynchronous training step; `leave` (or the end of
    a `with` block) waits for every worker and loads the final shared parameters into this rank's variables."""

    def __init__(self, session, variables: list):
        dtypes = {v.dtype for v in variables}
        if len(dtypes) != 1 or not next(iter(dtypes)).is_floating:
            raise TypeError(f"AsyncOptimizer shares variables of one float dtype, not {sorted(d.name for d in dtypes)}")
        self._world = world.world()
        mpi, communicator = self._world.mpi, self._world.communicator
        self._mpi = mpi
        self._session = session
        self._arrays = [session._variable_array(v.op.name) for v in variables]
        sizes = [array.size for array in self._arrays]
        total = sum(sizes)
        dtype = self._arrays[0].dtype
        self._read = np.empty(total, dtype=dtype)   # the parameters as last read
        self._change = np.empty(total, dtype=dtype)  # what the last step changed, pushed to the server
        bounds = np.cumsum([0] + sizes)
        self._read_views = [self._read[a:b].reshape(x.shape) for a, b, x in zip(bounds, bounds[1:], self._arrays)]
        self._change_views = [self._change[a:b].reshape(x.shape)
                              for a, b, x in zip(bounds, bounds[1:], self._arrays)]
        owned = total * dtype.itemsize if self._world.rank == _SERVER else 0
        self._window = mpi.Win.Allocate(owned, dtype.itemsize, comm=communicator)
        self._window.Set_errhandler(mpi.ERRORS_RETURN)
        if self._world.rank == _SERVER:
            for view, array in zip(self._read_views, self._arrays):
                np.copyto(view, array)
            self._window.Lock(_SERVER, mpi.LOCK_EXCLUSIVE)
            self._window.Put(self._read, _SERVER)
            self._window.Unlock(_SERVER)
        communicator.Barrier()  # no worker reads before the server holds rank 0's values
        self.steps = 0

    def _pull(self) -> None:
        """The current shared parameters into `_read` and into the session's variables."""
        mpi = self._mpi
        self._window.Lock(_SERVER, mpi.LOCK_SHARED)
        # With MPI_NO_OP the origin buffer is not read; it must only not overlap the result.
        self._window.Get_accumulate(self._change, self._read, _SERVER, op=mpi.NO_OP)
        self._window.Unlock(_SERVER)
        for array, view in zip(self._arrays, self._read_views):
            np.copyto(array, view)

    def run(self, fetches, feed_dict=None):
        """One asynchronous step: pull the parameters, run `fetches` (the training op) in the session,
        push the change it made. Returns what `session.run` returns."""
        self._pull()
        result = self._session.run(fetches, feed_dict)
        for array, read, change in zip(self._arrays, self._read_views, self._change_views):
            np.subtract(array, read, out=change)
        self._window.Lock(_SERVER, self._mpi.LOCK_SHARED)
        self._window.Accumulate(self._change, _SERVER, op=self._mpi.SUM)
        self._window.Unlock(_SERVER)
        self.steps += 1
        return result

    def leave(self) -> None:
        """Waits for every worker's last push, loads the final parameters into this rank's variables and frees
        the window (collective)."""
        if self._window is None:
            return
        self._world.communicator.Barrier()
        self._pull()
        self._world.communicator.Barrier()  # every rank has read before the window goes
        self._window.Free()
        self._window = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.leave()
