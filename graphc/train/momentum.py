"""`tf.train.MomentumOptimizer`, with TF1's ApplyMomentum update rule."""

from __future__ import annotations

from graphc.ops import state_ops
from graphc.train.optimizer import Optimizer


class MomentumOptimizer(Optimizer):
    """SGD with momentum; one slot per variable, `<var>/Momentum` (slot name "momentum").

    accum = accum * momentum + grad, then
    var -= lr * accum, or with `use_nesterov` var -= lr * grad + lr * momentum * accum.
    """

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list):
        for var in var_list:
            self._zeros_slot(var, "momentum", self._name)

    def _prepare(self):
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")
        self._momentum_tensor = self._hyper_tensor(self._momentum, "momentum")

    def _apply_dense(self, grad, var):
        lr = self._cast(self._learning_rate_tensor, var)
        momentum = self._cast(self._momentum_tensor, var)
        accum = self.get_slot(var, "momentum")
        new_accum = state_ops.assign(accum, accum * momentum + grad)
        if self._use_nesterov:
            step = grad * lr + new_accum * momentum * lr
        else:
            step = new_accum * lr
        return state_ops.assign_sub(var, step, name="ApplyMomentum").op
