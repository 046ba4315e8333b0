"""Loss functions with TF1's weighting and reductions (`tf.losses.*`).

Every loss is elementwise losses times `weights` (broadcastable to the
losses), reduced as `reduction` says — by default SUM_BY_NONZERO_WEIGHTS: the
weighted sum divided by the number of non-zero weights (0 when there are
none) — cast back to the input dtype, and added to `loss_collection`.
"""

from __future__ import annotations

import numbers

from graphc.core import dtypes
from graphc.frontend.graph import GraphKeys, convert_to_tensor, name_scope
from graphc.losses.util import add_loss
from graphc.ops import array_ops, math_ops, nn_ops


class Reduction:
    """How `compute_weighted_loss` reduces the weighted losses (`tf.losses.Reduction`)."""

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls):
        """Every reduction key."""
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_OVER_NONZERO_WEIGHTS,
                cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key):
        """ValueError unless `key` is a reduction key."""
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}.")


def _num_present(losses, weights):
    """The number of losses whose (broadcast) weight is not 0, as float32."""
    if isinstance(weights, numbers.Number) and weights != 0.0:
        return array_ops.cast(array_ops.size(losses), dtypes.float32)
    with name_scope(None, "num_present", [losses, weights]) as scope:
        weights = array_ops.cast(weights, dtypes.float32)
        present = math_ops.where(math_ops.equal(weights, 0.0), array_ops.zeros_like(weights),
                                 array_ops.ones_like(weights))
        present = present * array_ops.ones_like(losses)
        return math_ops.reduce_sum(present, name=scope)


def compute_weighted_loss(losses, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """`tf.losses.compute_weighted_loss`: weights `losses`, reduces them, adds the result to the collection."""
    Reduction.validate(reduction)
    with name_scope(scope, "weighted_loss", [losses, weights]):
        losses = convert_to_tensor(losses)
        input_dtype = losses.dtype
        losses = array_ops.cast(losses, dtypes.float32)
        weights_tensor = array_ops.cast(convert_to_tensor(weights), dtypes.float32)
        weighted_losses = math_ops.multiply(losses, weights_tensor)
        if reduction == Reduction.NONE:
            loss = weighted_losses
        else:
            loss = math_ops.reduce_sum(weighted_losses)
            if reduction == Reduction.MEAN:
                loss = math_ops.div_no_nan(loss, math_ops.reduce_sum(array_ops.ones_like(losses) * weights_tensor),
                                           name="value")
            elif reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
                loss = math_ops.div_no_nan(loss, _num_present(losses, weights), name="value")
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                loss = math_ops.div_no_nan(loss, array_ops.cast(array_ops.size(losses), dtypes.float32),
                                           name="value")
        loss = array_ops.cast(loss, input_dtype)
        add_loss(loss, loss_collection)
        return loss


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                                 reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """`tf.losses.sparse_softmax_cross_entropy`: weighted cross-entropy of integer `labels` and `logits`."""
    if labels is None:
        raise ValueError("labels must not be None.")
    if logits is None:
        raise ValueError("logits must not be None.")
    with name_scope(scope, "sparse_softmax_cross_entropy_loss", [logits, labels, weights]) as scope:
        losses = nn_ops.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def mean_squared_error(labels, predictions, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                       reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """`tf.losses.mean_squared_error`: weighted (predictions - labels)^2, in float32."""
    if labels is None:
        raise ValueError("labels must not be None.")
    if predictions is None:
        raise ValueError("predictions must not be None.")
    with name_scope(scope, "mean_squared_error", [predictions, labels, weights]) as scope:
        predictions = array_ops.cast(predictions, dtypes.float32)
        labels = array_ops.cast(labels, dtypes.float32)
        if not predictions.shape.is_compatible_with(labels.shape):
            raise ValueError(f"Shapes {predictions.shape} and {labels.shape} are incompatible")
        losses = math_ops.square(math_ops.subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)
