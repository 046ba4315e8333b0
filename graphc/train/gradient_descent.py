"""`tf.train.GradientDescentOptimizer`: var -= learning_rate * grad."""

from __future__ import annotations

from graphc.ops import state_ops
from graphc.train.optimizer import Optimizer


class GradientDescentOptimizer(Optimizer):
    """Plain SGD: var -= learning_rate * grad (TF1's ApplyGradientDescent op)."""

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _prepare(self):
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")

    def _apply_dense(self, grad, var):
        learning_rate = self._cast(self._learning_rate_tensor, var)
        return state_ops.apply_gradient_descent(var, learning_rate, grad, use_locking=self._use_locking).op
