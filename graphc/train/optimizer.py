"""The optimizer base class: `minimize` = `compute_gradients` + `apply_gradients`, as in TF1.

A subclass is only its state and its update rule: `_create_slots(var_list)`
makes the per-variable slot variables (`w/Adam`) and any shared ones
(`beta1_power`), `_prepare()` turns hyperparameters into tensors,
`_apply_dense(grad, var)` adds the update of one variable, and `_finish`
what runs after all of them. The update ops join the graph, so the training
step that reaches the compiler is one static graph: forward, backward and
update; each variable's update is elementwise and fuses into one loop.
"""

from __future__ import annotations

from graphc import autodiff
from graphc.frontend.function_graph import outermost_graph
from graphc.frontend.graph import GraphKeys, Tensor, control_dependencies, convert_to_tensor, graph_of, name_scope
from graphc.ops import array_ops, init_ops, state_ops
from graphc.ops.variable_scope import get_variable_scope, variable_scope
from graphc.ops.variables import Variable, trainable_variables


def _var_key(var: Variable) -> tuple:
    return (var.graph, var.op.name)


class Optimizer:
    """Base class of the optimizers; see the module docstring for what subclasses define."""

    GATE_NONE, GATE_OP, GATE_GRAPH = 0, 1, 2

    def __init__(self, use_locking: bool, name: str):
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots: dict = {}              # slot name -> {variable key: slot Variable}
        self._non_slot_variables: dict = {}  # (name, graph) -> Variable
        self._hyper_casts: dict = {}         # (tensor, dtype) -> the tensor cast to dtype

    def get_name(self) -> str:
        """The optimizer's name: its ops' name scope and its slots' suffix."""
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
        """Adds the update ops; with `global_step`, increments it after the updates.

        Slots are created first, outside the optimizer's name scope, so they
        are named after their variable (`w/Momentum`) as in TF1, and in the
        variables' graph: called in a loop body, the update ops join the body
        while the slots live outside it, created once (TF1's `init_scope`).
        """
        grads_and_vars = tuple(grads_and_vars)
        if not grads_and_vars:
            raise ValueError("No variables provided.")
        with_grads = [(g, v) for g, v in grads_and_vars if g is not None]
        if not with_grads:
            raise ValueError(f"No gradients provided for any variable: {[str(v) for _, v in grads_and_vars]}.")
        # The default graph when it may take the gradients and the variables: inside a while_loop body or a
        # cond branch (a function that captures the variables), the updates run there, in each iteration.
        graph = graph_of([g for g, _ in with_grads] + [v for _, v in with_grads])
        with graph.as_default():
            self._create_slots([v for _, v in with_grads])
            with name_scope(name, self._name) as scope:
                self._prepare()
                update_ops = []
                for grad, var in with_grads:
                    grad = convert_to_tensor(grad)
                    with name_scope("update_" + var.op.name):
                        update_ops.append(self._apply_dense(grad, var))
                if global_step is None:
                    train_op = self._finish(update_ops, scope)
                else:
                    with control_dependencies([self._finish(update_ops, "update")]):
                        train_op = state_ops.assign_add(global_step, 1, name=scope).op
            collection = graph.get_collection_ref(GraphKeys.TRAIN_OP)
            if train_op not in collection:
                collection.append(train_op)
            return train_op

    # -- what subclasses define ---------------------------------------------------------------

    def _create_slots(self, var_list) -> None:
        """Creates the slot variables of `var_list` (and any shared state)."""

    def _prepare(self) -> None:
        """Creates tensors (the learning rate, say) shared by all updates."""

    def _apply_dense(self, grad: Tensor, var: Variable):
        """Adds the update of `var` from `grad`; returns the op that does it."""
        raise TypeError(f"{type(self).__name__} must define _apply_dense")

    def _finish(self, update_ops, name_scope_name):
        """The op that completes the step once every update has run."""
        return state_ops.group(*update_ops, name=name_scope_name)

    # -- slots ------------------------------------------------------------------------------------

    def get_slot_names(self) -> list:
        """The names of the slots this optimizer creates ("m", "v", ...), sorted."""
        return sorted(self._slots)

    def get_slot(self, var, name):
        """The slot variable `name` of `var`, or None."""
        return self._slots.get(name, {}).get(_var_key(var))

    def variables(self) -> list:
        """Every variable this optimizer created: slots and shared state (beta powers)."""
        found = [v for slots in self._slots.values() for v in slots.values()]
        found += list(self._non_slot_variables.values())
        return sorted(found, key=lambda v: v.op._id)

    def _zeros_slot(self, var: Variable, slot_name: str, op_name: str) -> Variable:
        return self._get_or_make_slot(var, init_ops.zeros_initializer(), slot_name, op_name)

    def _get_or_make_slot(self, var: Variable, initializer, slot_name: str, op_name: str) -> Variable:
        """The slot `slot_name` of `var`, created as the non-trainable `<var>/<op_name>` if new.

        Like TF1's slot_creator, the variable scope `<var>/<op_name>` is opened
        by default name, so a second slot with the same op name becomes
        `<var>/<op_name>_1` (Adam's `w/Adam_1`).
        """
        slots = self._slots.setdefault(slot_name, {})
        key = _var_key(var)
        if key not in slots:
            dims = var.shape.as_tuple()
            with var.graph.as_default(), variable_scope(None, var.op.name + "/" + op_name):
                slots[key] = get_variable_scope().get_variable(
                    "", shape=dims, dtype=var.dtype, initializer=initializer, trainable=False)
        return slots[key]

    def _create_non_slot_variable(self, initial_value, name: str, colocate_with: Variable) -> Variable:
        """A non-trainable variable shared by all updates (Adam's `beta1_power`), created once per graph."""
        key = (name, colocate_with.graph)
        if key not in self._non_slot_variables:
            with colocate_with.graph.as_default():
                self._non_slot_variables[key] = Variable(initial_value, name=name, trainable=False)
        return self._non_slot_variables[key]

    def _get_non_slot_variable(self, name: str, graph) -> Variable:
        """The shared variable `name` of `graph`, or of the graph enclosing it (updates in a loop body)."""
        return self._non_slot_variables[(name, outermost_graph(graph))]

    # -- hyperparameters ---------------------------------------------------------------------------

    @staticmethod
    def _hyper_tensor(value, name: str) -> Tensor:
        """A hyperparameter (a number, a tensor or a callable giving one) as a tensor."""
        return convert_to_tensor(value() if callable(value) else value, name=name)

    def _cast(self, tensor: Tensor, var: Variable) -> Tensor:
        """`tensor` in `var`'s dtype; one cast per tensor and dtype, shared by all updates."""
        if tensor.dtype is var.dtype:
            return tensor
        key = (tensor, var.dtype)
        if key not in self._hyper_casts:
            self._hyper_casts[key] = array_ops.cast(tensor, var.dtype)
        return self._hyper_casts[key]
