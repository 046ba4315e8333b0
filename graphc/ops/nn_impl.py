"""`tf.nn` functions built from other ops (TF1's `nn_impl`)."""

from __future__ import annotations

from graphc.core import dtypes
from graphc.core.tensor_shape import format_dims_as_list
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


def local_response_normalization(input, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5, name=None):  # noqa: A002
    """`tf.nn.local_response_normalization` (`tf.nn.lrn`) of a float32 NHWC tensor: each element
    divided by (bias + alpha * the sum of squares of the channels within `depth_radius` of its
    own) ** beta. Built from ops rather than as TF's LRN op: the squares padded along the
    channels and 2 * depth_radius + 1 slices of them added; the gradient (TF's LRNGrad
    formula) is that of these ops."""
    with name_scope(name, "LRN", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        if x.dtype is not dtypes.float32:
            raise TypeError(f"Value passed to parameter 'input' has DataType {x.dtype.name} not in list of allowed "
                            "values: float16, bfloat16, float32")
        if x.shape.ndims is not None and x.shape.ndims != 4:
            shapes = format_dims_as_list(x.shape.as_tuple())
            raise ValueError(f"Shape must be rank 4 but is rank {x.shape.ndims} for '{scope.rstrip('/')}' "
                             f"(op: 'LRN') with input shapes: {shapes}.")
        radius = int(depth_radius)
        padded = layout_ops.pad(math_ops.square(x), [[0, 0], [0, 0], [0, 0], [radius, radius]])
        channels = array_ops.shape(x)[3]
        size = layout_ops.stack([-1, -1, -1, channels])
        window = [layout_ops.slice(padded, [0, 0, 0, offset], size) for offset in range(2 * radius + 1)]
        squares = math_ops.add_n(window)
        squares.set_shape(x.shape)
        return math_ops.multiply(x, math_ops.pow(bias + alpha * squares, -float(beta)), name=scope)


lrn = local_response_normalization
