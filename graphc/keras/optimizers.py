"""Keras optimizers, as the TF1 optimizers that apply their updates inside the compiled step."""

from __future__ import annotations

import abc

from graphc import train


class Optimizer(abc.ABC):
    """Keras hyperparameter names; `tf_optimizer()` makes the TF1 optimizer that does the work."""

    @abc.abstractmethod
    def tf_optimizer(self):
        """The TF1 optimizer with these hyperparameters."""


class SGD(Optimizer):
    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False, name: str = "SGD"):
        if momentum < 0 or momentum > 1:
            raise ValueError(f"`momentum` must be between [0, 1], got {momentum}")
        self.learning_rate, self.momentum, self.nesterov, self.name = learning_rate, momentum, nesterov, name

    def tf_optimizer(self):
        if self.momentum == 0 and not self.nesterov:
            return train.GradientDescentOptimizer(self.learning_rate, name=self.name)
        return train.MomentumOptimizer(self.learning_rate, self.momentum, use_nesterov=self.nesterov, name=self.name)


class Adam(Optimizer):
    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, name: str = "Adam"):
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon, self.name = (
            learning_rate, beta_1, beta_2, epsilon, name)

    def tf_optimizer(self):
        return train.AdamOptimizer(self.learning_rate, self.beta_1, self.beta_2, self.epsilon, name=self.name)


_BY_NAME = {"sgd": SGD, "adam": Adam}


def get(identifier) -> Optimizer:
    """An Optimizer for a name ('sgd', 'adam') or an Optimizer object."""
    if isinstance(identifier, Optimizer):
        return identifier
    try:
        return _BY_NAME[str(identifier).lower()]()
    except KeyError:
        raise ValueError(f"Unknown optimizer: {identifier!r}; known: {sorted(_BY_NAME)}") from None
