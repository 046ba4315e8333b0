"""Clipping (TF1's clip_ops): by value, by a tensor's L2 norm, and a list of gradients by their
global norm. Built from other ops, as TF builds them, so their gradients and the compiled code
come with those ops.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphc.frontend.graph import convert_to_tensor, name_scope
from graphc.ops import array_ops, layout_ops, math_ops, nn_impl


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """`tf.clip_by_value`: max(min(t, clip_value_max), clip_value_min), as TF1 builds it; the
    bounds may broadcast against `t` but not enlarge it."""
    with name_scope(name, "clip_by_value", [t, clip_value_min, clip_value_max]) as scope:
        values = convert_to_tensor(t, name="t")
        t_min = math_ops.minimum(values, convert_to_tensor(clip_value_max, dtype=values.dtype,
                                                           name="clip_value_max"))
        values.shape.merge_with(t_min.shape)
        t_max = math_ops.maximum(t_min, convert_to_tensor(clip_value_min, dtype=values.dtype, name="clip_value_min"),
                                 name=scope)
        values.shape.merge_with(t_max.shape)
        return t_max


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """`tf.clip_by_norm`: t * clip_norm / max(l2norm(t), clip_norm), the norm over `axes` (all by
    default). A negative clip_norm counts as 0, as in TF 2.21 (TF 1.15 flipped the signs)."""
    with name_scope(name, "clip_by_norm", [t, clip_norm]) as scope:
        values = convert_to_tensor(t, name="t")
        if np.isscalar(clip_norm):
            clip_norm = max(clip_norm, 0)
        else:
            clip_norm = array_ops.cast(math_ops.maximum(clip_norm, 0), values.dtype)
        l2sum = math_ops.reduce_sum(values * values, axes, keepdims=True)
        positive = l2sum > 0
        # sqrt of a 0 sum would give the gradient NaN (0 * inf): take it of 1 there, and use the 0 sum.
        safe_l2sum = math_ops.where(positive, l2sum, array_ops.ones_like(l2sum))
        l2norm = math_ops.where(positive, math_ops.sqrt(safe_l2sum), l2sum)
        intermediate = values * clip_norm
        values.shape.merge_with(intermediate.shape)  # clip_norm must not broadcast t to a larger shape
        return array_ops.identity(intermediate / math_ops.maximum(l2norm, clip_norm), name=scope)


def _as_list(t_list):
    if not isinstance(t_list, Sequence) or isinstance(t_list, str):
        raise TypeError(f"`t_list` should be a sequence of tensors. Received {type(t_list)}.")
    return list(t_list)


def _convert_all(t_list):
    """The tensors of `t_list`, each converted (named t_i), None entries kept as None."""
    return [None if t is None else convert_to_tensor(t, name=f"t_{i}") for i, t in enumerate(t_list)]


def global_norm(t_list, name=None):
    """`tf.global_norm`: sqrt(sum of sum(t ** 2) over the tensors of `t_list`); None entries are skipped."""
    t_list = _as_list(t_list)
    with name_scope(name, "global_norm", t_list):
        values = _convert_all(t_list)
        half_squared_norm = math_ops.reduce_sum(layout_ops.stack([nn_impl.l2_loss(v) for v in values
                                                                  if v is not None]))
        two = array_ops.constant(2.0, dtype=half_squared_norm.dtype)
        return math_ops.sqrt(half_squared_norm * two, name="global_norm")


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """`tf.clip_by_global_norm`: each tensor times clip_norm / max(global_norm, clip_norm); returns
    (the clipped list, with None where `t_list` has None; the global norm). An infinite or NaN norm
    makes every clipped value NaN, as in TF."""
    t_list = _as_list(t_list)
    if use_norm is None:
        use_norm = global_norm(t_list, name)
    with name_scope(name, "clip_by_global_norm", t_list + [clip_norm]) as scope:
        one = array_ops.constant(1.0, dtype=use_norm.dtype)
        scale_for_finite = clip_norm * math_ops.minimum(1.0 / use_norm, one / clip_norm)
        # A no-op for a finite norm; NaN for an infinite or NaN one.
        scale = scale_for_finite + (use_norm - use_norm)
        clipped = [None if v is None else
                   array_ops.identity(v * array_ops.cast(scale, v.dtype), name=f"{scope}_{i}")
                   for i, v in enumerate(_convert_all(t_list))]
    return clipped, use_norm

