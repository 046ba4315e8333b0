"""`tf.nn` functions built from other ops (TF1's `nn_impl`)."""

from __future__ import annotations

from graphc.frontend.graph import convert_to_tensor, name_scope
from graphc.ops import array_ops, layout_ops, math_ops


def l2_loss(t, name=None):
    """`tf.nn.l2_loss`: sum(t ** 2) / 2, a scalar of t's dtype."""
    with name_scope(name, "L2Loss", [t]) as scope:
        t = convert_to_tensor(t, name="t")
        half = array_ops.constant(0.5, dtype=t.dtype)
        return math_ops.multiply(math_ops.reduce_sum(math_ops.square(t)), half, name=scope)


def moments(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """`tf.nn.moments`: (mean, variance) of x over `axes`, built as TF1 builds them: the variance is
    the mean of squared differences from the mean, held out of the gradient (its gradient there
    is zero anyway). `shift` is unused, as in TF1."""
    if keep_dims is None:
        keep_dims = bool(keepdims)
    with name_scope(name, "moments", [x, axes]):
        x = convert_to_tensor(x, name="x")
        mean = math_ops.reduce_mean(x, axes, keepdims=True, name="mean")
        # TF's SquaredDifference(x, mean): the square of the difference, the same value and gradient.
        variance = math_ops.reduce_mean(math_ops.square(x - array_ops.stop_gradient(mean)), axes, keepdims=True,
                                        name="variance")
        if not keep_dims:
            axes = [axes] if isinstance(axes, int) else list(axes)
            mean = layout_ops.squeeze(mean, axes)
            variance = layout_ops.squeeze(variance, axes)
        return mean, variance


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """`tf.nn.batch_normalization`: (x - mean) / sqrt(variance + epsilon) * scale + offset, computed as
    TF1 orders it: inv = rsqrt(variance + epsilon) * scale; x * inv + (offset - mean * inv).
    `offset` and `scale` may be None."""
    with name_scope(name, "batchnorm", [x, mean, variance, scale, offset]):
        inv = math_ops.rsqrt(variance + variance_epsilon)
        if scale is not None:
            inv = inv * scale
        shift = offset - mean * inv if offset is not None else -mean * inv
        return x * array_ops.cast(inv, x.dtype) + array_ops.cast(shift, x.dtype)
