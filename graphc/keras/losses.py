"""Keras losses: functions giving a loss per example, and classes averaging it over the batch."""

from __future__ import annotations

from graphc import nn
from graphc.core import dtypes
from graphc.ops import array_ops, math_ops

# Keras clips probabilities to [EPSILON, 1 - EPSILON] before taking their log.
EPSILON = 1e-7


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False, axis: int = -1):
    """-log p[label] per example; `y_true` integer labels, `y_pred` probabilities or logits."""
    if axis not in (-1, y_pred.shape.ndims - 1):
        raise ValueError(f"Only axis=-1 is supported for sparse_categorical_crossentropy, got axis={axis}")
    labels = array_ops.cast(y_true, dtypes.int32) if y_true.dtype != dtypes.int32 else y_true
    if y_true.shape.ndims == y_pred.shape.ndims:  # labels of shape (batch, 1)
        labels = array_ops.reshape(labels, [-1])
    logits = y_pred if from_logits else _logits_of_probabilities(y_pred)
    return nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, axis: int = -1):
    """-sum(y_true * log p) per example; `y_true` one-hot (or soft) labels, `y_pred` probabilities or logits."""
    if axis not in (-1, y_pred.shape.ndims - 1):
        raise ValueError(f"Only axis=-1 is supported for categorical_crossentropy, got axis={axis}")
    labels = array_ops.cast(y_true, y_pred.dtype) if y_true.dtype != y_pred.dtype else y_true
    logits = y_pred if from_logits else _logits_of_probabilities(y_pred)
    return nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)


def _logits_of_probabilities(probabilities):
    """Logits whose softmax is `probabilities`.

    A softmax's input is used as it is, as tf.keras does: exact and stable. Other
    probabilities are normalised and clipped as Keras does; their log is logits
    whose softmax gives back the clipped distribution.
    """
    op = probabilities.op
    if op.type == "Softmax":
        return op.inputs[0]
    normalised = probabilities / math_ops.reduce_sum(probabilities, axis=-1, keepdims=True)
    return math_ops.log(math_ops.minimum(math_ops.maximum(normalised, EPSILON), 1.0 - EPSILON))


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true)²) over the last axis, per example."""
    y_true = array_ops.cast(y_true, y_pred.dtype) if y_true.dtype != y_pred.dtype else y_true
    return math_ops.reduce_mean(math_ops.square(y_pred - y_true), axis=-1)


class Loss:
    """Averages a per-example loss function over the batch ('sum_over_batch_size')."""

    label_dtype = dtypes.float32

    def __init__(self, function, name: str, **options):
        self.function, self.name, self.options = function, name, options

    def __call__(self, y_true, y_pred):
        return math_ops.reduce_mean(self.function(y_true, y_pred, **self.options))


class SparseCategoricalCrossentropy(Loss):
    label_dtype = dtypes.int32

    def __init__(self, from_logits: bool = False, name: str = "sparse_categorical_crossentropy"):
        super().__init__(sparse_categorical_crossentropy, name, from_logits=from_logits)


class MeanSquaredError(Loss):
    def __init__(self, name: str = "mean_squared_error"):
        super().__init__(mean_squared_error, name)


_BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
}


def get(identifier) -> Loss:
    """A Loss for a name, a Loss object, or a function `(y_true, y_pred) -> loss per example`."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        try:
            return _BY_NAME[identifier]()
        except KeyError:
            raise ValueError(f"Unknown loss function: {identifier!r}; known: {sorted(_BY_NAME)}") from None
    if callable(identifier):
        if identifier is sparse_categorical_crossentropy:
            return SparseCategoricalCrossentropy()
        return Loss(identifier, getattr(identifier, "__name__", "loss"))
    raise ValueError(f"Could not interpret loss: {identifier!r}")
