"""Initializers by Keras name ('glorot_uniform', 'zeros', ...) or as objects."""

from __future__ import annotations

from graphc.ops import init_ops

_BY_NAME = {
    "glorot_uniform": init_ops.GlorotUniform,
    "glorot_normal": init_ops.GlorotNormal,
    "zeros": init_ops.Zeros,
    "ones": init_ops.Ones,
    "random_normal": lambda: init_ops.RandomNormal(stddev=0.05),
    "random_uniform": lambda: init_ops.RandomUniform(-0.05, 0.05),
    "truncated_normal": lambda: init_ops.TruncatedNormal(stddev=0.05),
    "he_normal": lambda: init_ops.VarianceScaling(2.0, "fan_in", "truncated_normal"),
    "he_uniform": lambda: init_ops.VarianceScaling(2.0, "fan_in", "uniform"),
}


def get(identifier):
    """An initializer `(shape, dtype) -> Tensor` for a name or an initializer object."""
    if callable(identifier) and not isinstance(identifier, str):
        return identifier
    try:
        return _BY_NAME[identifier]()
    except KeyError:
        raise ValueError(f"Unknown initializer: {identifier!r}; known: {sorted(_BY_NAME)}") from None
