"""Optimizers: `minimize` = `compute_gradients` + `apply_gradients`, as in TF1.

The update ops join the graph, so the training step that reaches the compiler
is one static graph: forward, backward and update.
"""

from __future__ import annotations

from graphc import autodiff
from graphc.frontend.graph import GraphKeys, Tensor, control_dependencies, convert_to_tensor, get_default_graph, name_scope
from graphc.frontend.variables import Variable, trainable_variables
from graphc.ops import array_ops, state_ops


class Optimizer:
    """Base class; subclasses define `_prepare` and `_apply_dense(grad, var)`."""

    GATE_NONE, GATE_OP, GATE_GRAPH = 0, 1, 2

    def __init__(self, use_locking: bool, name: str):
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name

    def get_name(self) -> str:
        return self._name

    def minimize(self, loss, global_step=None, var_list=None, gate_gradients=GATE_OP,
                 aggregation_method=None, colocate_gradients_with_ops=False, name=None, grad_loss=None):
        """Adds ops that compute gradients of `loss` and update `var_list`; returns the train op."""
        grads_and_vars = self.compute_gradients(loss, var_list=var_list, grad_loss=grad_loss)
        if not any(g is not None for g, _ in grads_and_vars):
            raise ValueError("No gradients provided for any variable, check your graph for ops that do not "
                             f"support gradients, between variables {[str(v) for _, v in grads_and_vars]} "
                             f"and loss {loss}.")
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(self, loss, var_list=None, gate_gradients=GATE_OP, aggregation_method=None,
                          colocate_gradients_with_ops=False, grad_loss=None):
        """A list of (gradient or None, variable) pairs for `var_list` (default: trainable ones)."""
        loss = convert_to_tensor(loss)
        if var_list is None:
            with loss.graph.as_default():
                var_list = trainable_variables()
        var_list = list(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        for v in var_list:
            if not isinstance(v, Variable):
                raise TypeError(f"Argument is not a tf.Variable: {v!r}")
        grads = autodiff.gradients(loss, [v._ref() for v in var_list],
                                   grad_ys=None if grad_loss is None else [grad_loss])
        return list(zip(grads, var_list))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """Adds the update ops; with `global_step`, increments it after the updates."""
        grads_and_vars = tuple(grads_and_vars)
        if not grads_and_vars:
            raise ValueError("No variables provided.")
        with_grads = [(g, v) for g, v in grads_and_vars if g is not None]
        if not with_grads:
            raise ValueError(f"No gradients provided for any variable: {[str(v) for _, v in grads_and_vars]}.")
        graph = with_grads[0][1].graph
        with graph.as_default(), name_scope(name, self._name) as scope:
            self._prepare()
            update_ops = []
            for grad, var in with_grads:
                grad = convert_to_tensor(grad)
                with name_scope("update_" + var.op.name):
                    update_ops.append(self._apply_dense(grad, var))
            if global_step is None:
                train_op = state_ops.group(*update_ops, name=scope)
            else:
                with control_dependencies([state_ops.group(*update_ops, name="update")]):
                    train_op = state_ops.assign_add(global_step, 1, name=scope).op
            collection = graph.get_collection_ref(GraphKeys.TRAIN_OP)
            if train_op not in collection:
                collection.append(train_op)
            return train_op

    def _prepare(self) -> None:
        """Creates tensors (the learning rate, say) shared by all updates."""

    def _apply_dense(self, grad: Tensor, var: Variable):
        raise TypeError(f"{type(self).__name__} must define _apply_dense")


class GradientDescentOptimizer(Optimizer):
    """Plain SGD: var -= learning_rate * grad."""

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _prepare(self):
        self._learning_rate_tensor = convert_to_tensor(self._learning_rate, name="learning_rate")

    def _apply_dense(self, grad, var):
        learning_rate = array_ops.cast(self._learning_rate_tensor, var.dtype)
        return state_ops.apply_gradient_descent(var, learning_rate, grad, use_locking=self._use_locking).op


# -- the global step ------------------------------------------------------------------------


def get_global_step(graph=None):
    """The GLOBAL_STEP variable of `graph` (default graph), or None."""
    graph = graph or get_default_graph()
    steps = graph.get_collection(GraphKeys.GLOBAL_STEP)
    if len(steps) > 1:
        raise TypeError("There must be only one global step variable.")
    return steps[0] if steps else None


def create_global_step(graph=None):
    """Creates the int64 `global_step` variable; ValueError if one exists."""
    graph = graph or get_default_graph()
    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    from graphc.frontend import dtypes

    with graph.as_default(), graph.name_scope(None):
        return Variable(array_ops.zeros([], dtypes.int64), trainable=False, name="global_step",
                        collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP])


def get_or_create_global_step(graph=None):
    return get_global_step(graph) or create_global_step(graph)
