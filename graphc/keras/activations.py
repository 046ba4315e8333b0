"""Activation functions by name, as Keras layers accept them."""

from __future__ import annotations

from graphc import nn
from graphc.ops import math_ops

_BY_NAME = {
    "linear": lambda x: x,
    "relu": nn.relu,
    "softmax": nn.softmax,
    "sigmoid": math_ops.sigmoid,
    "tanh": math_ops.tanh,
}


def get(identifier):
    """A callable for None, a name ('relu', 'softmax', ...) or a callable."""
    if identifier is None:
        return _BY_NAME["linear"]
    if callable(identifier):
        return identifier
    try:
        return _BY_NAME[identifier]
    except KeyError:
        raise ValueError(f"Unknown activation function: {identifier!r}; known: {sorted(_BY_NAME)}") from None
