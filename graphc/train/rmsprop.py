"""`tf.train.RMSPropOptimizer`, with TF1's ApplyRMSProp / ApplyCenteredRMSProp update rules."""

from __future__ import annotations

from graphc.ops import init_ops, math_ops, state_ops
from graphc.train.optimizer import Optimizer


class RMSPropOptimizer(Optimizer):
    """RMSProp as TF1 computes it (epsilon inside the square root).

    Slots, in TF1's order: "rms" `<var>/RMSProp` (starts at ones), with
    `centered` "mg" `<var>/RMSProp_1`, then "momentum" (`<var>/RMSProp_1`,
    or `_2` when centered). Per step, with rho = decay:

        ms += (grad * grad - ms) * (1 - rho)
        mg += (grad - mg) * (1 - rho)                      (centered only)
        denominator = ms + epsilon, or ms - mg * mg + epsilon when centered
        mom = mom * momentum + lr * grad / sqrt(denominator)
        var -= mom
    """

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False, centered=False,
                 name="RMSProp"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._decay = decay
        self._momentum = momentum
        self._epsilon = epsilon
        self._centered = centered

    def _create_slots(self, var_list):
        for var in var_list:
            self._get_or_make_slot(var, init_ops.ones_initializer(), "rms", self._name)
            if self._centered:
                self._zeros_slot(var, "mg", self._name)
            self._zeros_slot(var, "momentum", self._name)

    def _prepare(self):
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")
        self._decay_tensor = self._hyper_tensor(self._decay, "decay")
        self._momentum_tensor = self._hyper_tensor(self._momentum, "momentum")
        self._epsilon_tensor = self._hyper_tensor(self._epsilon, "epsilon")

    def _apply_dense(self, grad, var):
        lr = self._cast(self._learning_rate_tensor, var)
        rho = self._cast(self._decay_tensor, var)
        momentum = self._cast(self._momentum_tensor, var)
        epsilon = self._cast(self._epsilon_tensor, var)
        ms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        new_ms = state_ops.assign(ms, ms + (grad * grad - ms) * (1 - rho))
        if self._centered:
            mg = self.get_slot(var, "mg")
            new_mg = state_ops.assign(mg, mg + (grad - mg) * (1 - rho))
            denominator = new_ms - new_mg * new_mg + epsilon
        else:
            denominator = new_ms + epsilon
        new_mom = state_ops.assign(mom, mom * momentum + grad * lr / math_ops.sqrt(denominator))
        name = "ApplyCenteredRMSProp" if self._centered else "ApplyRMSProp"
        return state_ops.assign_sub(var, new_mom, name=name).op
