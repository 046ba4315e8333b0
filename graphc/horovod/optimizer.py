"""`hvd.DistributedOptimizer`, `hvd.broadcast_global_variables` and `hvd.BroadcastGlobalVariablesHook`.

DistributedOptimizer wraps any `tf.train` optimizer: its gradients are
averaged (or summed) over the ranks before the wrapped optimizer applies
them, so every rank makes the same update. The allreduce is part of the
training step's graph, so the compiled step computes the gradients, makes one
MPI_Allreduce of all of them (one buffer per dtype: ops.fused) and applies the
update, in one native call.
"""

from __future__ import annotations

from graphc.frontend.graph import get_default_graph, name_scope
from graphc.horovod import ops, world
from graphc.ops import collective_ops, state_ops
from graphc.ops.variables import global_variables
from graphc.train.optimizer import Optimizer
from graphc.train.session_run_hook import SessionRunHook


class OptimizerWrapper(Optimizer):
    """An optimizer that is another's, with some of its steps changed: what a subclass does not override is
    the wrapped optimizer's (the Horovod and parameter-server wrappers)."""

    def __init__(self, optimizer, name: str, use_locking: bool = False):
        super().__init__(use_locking, name)
        self._optimizer = optimizer

    def compute_gradients(self, *args, **kwargs):
        """The wrapped optimizer's (gradient, variable) pairs."""
        return self._optimizer.compute_gradients(*args, **kwargs)

    def apply_gradients(self, *args, **kwargs):
        """The wrapped optimizer's update."""
        return self._optimizer.apply_gradients(*args, **kwargs)

    def get_slot(self, *args, **kwargs):
        return self._optimizer.get_slot(*args, **kwargs)

    def get_slot_names(self, *args, **kwargs):
        return self._optimizer.get_slot_names(*args, **kwargs)

    def variables(self, *args, **kwargs):
        return self._optimizer.variables(*args, **kwargs)


class DistributedOptimizer(OptimizerWrapper):
    """An optimizer whose gradients are averaged over all ranks (op=Average) or summed (op=Sum) first.

    As Horovod's: with a world of one process the gradients are the wrapped
    optimizer's. `compression` is accepted (Compression.none; fp16 needs a
    float16 dtype graphc lacks); sparse gradients do not exist in graphc, so
    `device_sparse` and `sparse_as_dense` change nothing.
    """

    def __init__(self, optimizer, name=None, use_locking=False, device_dense="", device_sparse="",
                 compression=ops.Compression.none, sparse_as_dense=False, backward_passes_per_step=1,
                 op=ops.Average):
        world.world()  # Horovod's ValueError before hvd.init()
        if backward_passes_per_step != 1:
            raise ValueError("graphc's DistributedOptimizer reduces the gradients of every step "
                             "(backward_passes_per_step=1)")
        super().__init__(optimizer, name or f"Distributed{type(optimizer).__name__}", use_locking)
        self._op = ops.reduce_op(op=op)
        self._compression = compression

    def compute_gradients(self, *args, **kwargs):
        """The wrapped optimizer's (gradient, variable) pairs, gradients reduced over the ranks in one buffer."""
        gradients = self._optimizer.compute_gradients(*args, **kwargs)
        if world.world().size == 1:
            return gradients
        grads, variables = zip(*gradients)
        with name_scope(self._name + "_Allreduce"):
            reduced = ops.fused_allreduce(list(grads), self._op, self._compression)
        return list(zip(reduced, variables))


def broadcast_variables(variables, root_rank: int):
    """An op that sets `variables` on every rank to rank `root_rank`'s values (one MPI_Bcast per dtype)."""
    world.world()  # Horovod's ValueError before hvd.init()
    variables = list(variables)
    with name_scope("BroadcastVariables"):
        values = ops.fused([v.value() for v in variables],
                           lambda buffer: collective_ops.broadcast(buffer, root_rank))
        return state_ops.group(*[state_ops.assign(v, value) for v, value in zip(variables, values)])


def broadcast_global_variables(root_rank: int):
    """An op that sets every global variable to rank `root_rank`'s value: run it once after initialising,
    so all ranks start from the same weights."""
    return broadcast_variables(global_variables(), root_rank)


class BroadcastGlobalVariablesHook(SessionRunHook):
    """Horovod's SessionRunHook that broadcasts the global variables once the session is created.

    `tf.train.MonitoredTrainingSession(hooks=[hook])` calls it; a plain loop calls
    `begin()` before finalising the graph and `after_create_session(session, None)`
    after initialising the variables.
    """

    def __init__(self, root_rank: int, device=""):
        self.root_rank = root_rank
        self.bcast_op = None

    def begin(self):
        if self.bcast_op is None or self.bcast_op.graph is not get_default_graph():
            self.bcast_op = broadcast_global_variables(self.root_rank)

    def after_create_session(self, session, coord):
        session.run(self.bcast_op)
