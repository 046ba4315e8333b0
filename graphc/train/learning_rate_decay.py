"""Learning-rate schedules of the global step (TF1's `learning_rate_decay`)."""

from __future__ import annotations

from graphc.frontend.graph import convert_to_tensor, name_scope
from graphc.ops import array_ops, math_ops


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """`learning_rate * decay_rate ** (global_step / decay_steps)`, as a tensor.

    With `staircase` the exponent is floored, so the rate drops every
    `decay_steps` steps. Computed in the dtype of `learning_rate`.
    """
    if global_step is None:
        raise ValueError("global_step is required for exponential_decay.")
    with name_scope(name, "ExponentialDecay", [learning_rate, global_step, decay_steps, decay_rate]) as scope:
        learning_rate = convert_to_tensor(learning_rate, name="learning_rate")
        dtype = learning_rate.dtype
        decay_steps = array_ops.cast(decay_steps, dtype)
        decay_rate = array_ops.cast(decay_rate, dtype)
        step = array_ops.cast(global_step, dtype)
        # TF1 floors step / decay_steps; a float floordiv is that floor in one op.
        exponent = math_ops.floordiv(step, decay_steps) if staircase else math_ops.truediv(step, decay_steps)
        return math_ops.multiply(learning_rate, math_ops.pow(decay_rate, exponent), name=scope)
