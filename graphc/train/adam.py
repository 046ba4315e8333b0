"""`tf.train.AdamOptimizer`, with TF1's ApplyAdam update rule."""

from __future__ import annotations

from graphc.frontend.graph import control_dependencies
from graphc.ops import math_ops, state_ops
from graphc.train.optimizer import Optimizer


class AdamOptimizer(Optimizer):
    """Adam (Kingma & Ba) exactly as TF1 computes it.

    Slots `<var>/Adam` ("m") and `<var>/Adam_1` ("v"); the shared
    non-trainable `beta1_power` and `beta2_power` start at beta1 and beta2 and
    are multiplied by them after every step. Per step:

        lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
        m += (grad - m) * (1 - beta1)
        v += (grad * grad - v) * (1 - beta2)
        var -= lr_t * m / (sqrt(v) + epsilon)

    (epsilon outside the square root: TF1's "epsilon hat").
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08, use_locking=False,
                 name="Adam"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._beta1 = beta1
        self._beta2 = beta2
        self._epsilon = epsilon

    def _beta_powers(self, graph):
        return (self._get_non_slot_variable("beta1_power", graph),
                self._get_non_slot_variable("beta2_power", graph))

    def _create_slots(self, var_list):
        first_var = min(var_list, key=lambda v: v.name)
        self._create_non_slot_variable(self._beta1, "beta1_power", first_var)
        self._create_non_slot_variable(self._beta2, "beta2_power", first_var)
        for var in var_list:
            self._zeros_slot(var, "m", self._name)
            self._zeros_slot(var, "v", self._name)

    def _prepare(self):
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")
        self._beta1_tensor = self._hyper_tensor(self._beta1, "beta1")
        self._beta2_tensor = self._hyper_tensor(self._beta2, "beta2")
        self._epsilon_tensor = self._hyper_tensor(self._epsilon, "epsilon")
        self._corrected_lr = {}

    def _corrected_learning_rate(self, var):
        """lr_t in `var`'s dtype: one scalar per dtype, shared by every update."""
        if var.dtype not in self._corrected_lr:
            beta1_power, beta2_power = (self._cast(p.value(), var) for p in self._beta_powers(var.graph))
            lr = self._cast(self._learning_rate_tensor, var)
            self._corrected_lr[var.dtype] = lr * math_ops.sqrt(1 - beta2_power) / (1 - beta1_power)
        return self._corrected_lr[var.dtype]

    def _apply_dense(self, grad, var):
        lr_t = self._corrected_learning_rate(var)
        beta1 = self._cast(self._beta1_tensor, var)
        beta2 = self._cast(self._beta2_tensor, var)
        epsilon = self._cast(self._epsilon_tensor, var)
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        new_m = state_ops.assign(m, m + (grad - m) * (1 - beta1))
        new_v = state_ops.assign(v, v + (grad * grad - v) * (1 - beta2))
        return state_ops.assign_sub(var, new_m * lr_t / (math_ops.sqrt(new_v) + epsilon), name="ApplyAdam").op

    def _finish(self, update_ops, name_scope_name):
        """After the updates, beta1_power *= beta1 and beta2_power *= beta2."""
        beta1_power, beta2_power = self._beta_powers(update_ops[0].graph)
        with control_dependencies(update_ops):
            update_beta1 = beta1_power.assign(beta1_power * self._beta1_tensor)
            update_beta2 = beta2_power.assign(beta2_power * self._beta2_tensor)
        return state_ops.group(*update_ops, update_beta1, update_beta2, name=name_scope_name)
