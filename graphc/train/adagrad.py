"""`tf.train.AdagradOptimizer`, with TF1's ApplyAdagrad update rule."""

from __future__ import annotations

from graphc.ops import init_ops, math_ops, state_ops
from graphc.train.optimizer import Optimizer


class AdagradOptimizer(Optimizer):
    """Adagrad: accum += grad * grad, then var -= lr * grad * rsqrt(accum).

    One slot per variable, `<var>/Adagrad` ("accumulator"), starting at
    `initial_accumulator_value`.
    """

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False, name="Adagrad"):
        if initial_accumulator_value <= 0.0:
            raise ValueError(f"initial_accumulator_value must be positive: {initial_accumulator_value}")
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._initial_accumulator_value = initial_accumulator_value

    def _create_slots(self, var_list):
        for var in var_list:
            initializer = init_ops.constant_initializer(self._initial_accumulator_value, dtype=var.dtype)
            self._get_or_make_slot(var, initializer, "accumulator", self._name)

    def _prepare(self):
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")

    def _apply_dense(self, grad, var):
        lr = self._cast(self._learning_rate_tensor, var)
        accum = self.get_slot(var, "accumulator")
        new_accum = state_ops.assign(accum, accum + grad * grad)
        return state_ops.assign_sub(var, grad * lr * math_ops.rsqrt(new_accum), name="ApplyAdagrad").op
