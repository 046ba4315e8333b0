"""Keras metrics: running statistics over batches.

Inside `fit` and `evaluate` each metric adds its per-batch sum to the compiled
step, and the host adds the sums up. Used on their own, `update_state` runs
the same per-batch graph, compiled, in a small graph of the metric's own.
"""

from __future__ import annotations

import abc

import numpy as np

from graphc.core import dtypes
from graphc.frontend.graph import Graph
from graphc.ops import array_ops, math_ops


class RunningMean:
    """A mean over batches, each adding its sum and its count (or weight): the host's bookkeeping."""

    def __init__(self, name: str):
        self.name = name
        self.reset_state()

    def accumulate(self, total: float, count: float) -> None:
        """Adds one batch's sum over `count` examples (or weight)."""
        self._total += float(total)
        self._count += float(count)

    def assign(self, total: float, count: float) -> None:
        """Sets the sum and the count (or weight) so far: totals a compiled step kept."""
        self._total, self._count = float(total), float(count)

    def result(self) -> np.float32:
        return np.float32(self._total / self._count if self._count else 0.0)

    def reset_state(self) -> None:
        self._total, self._count = 0.0, 0

    reset_states = reset_state  # the TF 2.0-2.4 spelling


class Metric(RunningMean, abc.ABC):
    """A (weighted) mean of per-example values; subclasses give `per_example(y_true, y_pred)` as graph ops."""

    def __init__(self, name: str):
        super().__init__(name)
        self._standalone: dict = {}

    @abc.abstractmethod
    def per_example(self, y_true, y_pred):
        """Each example's value, a float32 tensor of shape (batch,)."""

    def batch_sum(self, y_true, y_pred, sample_weight=None):
        """The batch's sum of the per-example values (each times its weight), a scalar tensor."""
        values = self.per_example(y_true, y_pred)
        if sample_weight is not None:
            values = values * array_ops.reshape(sample_weight, [-1])
        return math_ops.reduce_sum(values)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Adds a batch given as arrays, computed by a compiled step; weighted, it counts the weights' sum."""
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred, dtype=np.float32)
        weights = None if sample_weight is None else np.broadcast_to(
            np.asarray(sample_weight, dtype=np.float32).reshape(-1), (y_pred.shape[0],))
        key = (y_true.dtype.str, y_true.ndim, y_pred.ndim, weights is None)
        if key not in self._standalone:
            self._standalone[key] = self._standalone_step(y_true, y_pred, weighted=weights is not None)
        session, inputs, total = self._standalone[key]
        feeds = dict(zip(inputs, (y_true, y_pred) if weights is None else (y_true, y_pred, weights)))
        self.accumulate(session.run(total, feeds), y_pred.shape[0] if weights is None else weights.sum())

    def _standalone_step(self, y_true, y_pred, weighted: bool):
        from graphc.session import Session  # the session module imports the whole frontend
        graph = Graph()
        with graph.as_default():
            inputs = [array_ops.placeholder(dtypes.as_dtype(y_true.dtype), [None] * y_true.ndim, name="y_true"),
                      array_ops.placeholder(dtypes.float32, [None] * y_pred.ndim, name="y_pred")]
            if weighted:
                inputs.append(array_ops.placeholder(dtypes.float32, [None], name="sample_weight"))
            total = self.batch_sum(*inputs)
        return Session(graph=graph), inputs, total


class SparseCategoricalAccuracy(Metric):
    """How often argmax(y_pred) equals the integer label y_true."""

    def __init__(self, name: str = "sparse_categorical_accuracy"):
        super().__init__(name)

    def per_example(self, y_true, y_pred):
        labels = array_ops.reshape(array_ops.cast(y_true, dtypes.int64), [-1])
        predicted = math_ops.argmax(y_pred, axis=-1)
        return array_ops.cast(math_ops.equal(predicted, labels), dtypes.float32)


class MeanSquaredError(Metric):
    def __init__(self, name: str = "mean_squared_error"):
        super().__init__(name)

    def per_example(self, y_true, y_pred):
        y_true = array_ops.cast(y_true, y_pred.dtype)
        return math_ops.reduce_mean(math_ops.square(y_pred - y_true), axis=-1)


def get(identifier, loss) -> Metric:
    """A Metric for a name ('accuracy' picks the one matching `loss`) or a Metric object."""
    if isinstance(identifier, Metric):
        return identifier
    if identifier in ("accuracy", "acc"):
        if loss.label_dtype.is_integer:
            return SparseCategoricalAccuracy(name=identifier)
        raise ValueError("'accuracy' needs integer labels (a sparse categorical loss) in graphc")
    if identifier == "sparse_categorical_accuracy":
        return SparseCategoricalAccuracy()
    if identifier in ("mse", "mean_squared_error"):
        return MeanSquaredError(name=identifier)
    raise ValueError(f"Unknown metric: {identifier!r}")
