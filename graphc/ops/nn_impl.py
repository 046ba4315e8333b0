"""`tf.nn` functions built from other ops (TF1's `nn_impl`)."""

from __future__ import annotations

from graphc.frontend.graph import convert_to_tensor, name_scope
from graphc.ops import array_ops, math_ops


def l2_loss(t, name=None):
    """`tf.nn.l2_loss`: sum(t ** 2) / 2, a scalar of t's dtype."""
    with name_scope(name, "L2Loss", [t]) as scope:
        t = convert_to_tensor(t, name="t")
        half = array_ops.constant(0.5, dtype=t.dtype)
        return math_ops.multiply(math_ops.reduce_sum(math_ops.square(t)), half, name=scope)
