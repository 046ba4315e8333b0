"""Keras as TF2 has it: layers and models called on NumPy or eager tensors, eager optimizers.

The layers are graphc.keras's (so `tf.layers`' code) with two changes: weights
are eager variables, initialised when the layer is built, and a call is an
eager op (recorded in the current step; see graphc.eager). The optimizers are
graphc.eager.optimizers'.
"""

from __future__ import annotations

import types

import numpy as np

from graphc.core import dtypes
from graphc.eager.context import Step, context, eager_function
from graphc.eager.function import function
from graphc.eager.optimizers import SGD, Adagrad, Adam, Optimizer, RMSprop
from graphc.eager.tape import GradientTape
from graphc.eager.variables import EagerVariable
from graphc.keras import datasets
from graphc.keras import metrics as keras_metrics
from graphc.keras import layers as graph_layers
from graphc.keras import losses as graph_losses
from graphc.keras import models as graph_models


class EagerLayer:
    """Mixin making a graphc.keras layer an eager one."""

    def add_weight(self, name, shape, dtype=None, initializer=None, regularizer=None, trainable=None,
                   constraint=None, **kwargs):
        """An eager variable `<layer>/<name>` initialised now (its initializer runs as its own step)."""
        if constraint is not None or regularizer is not None:
            raise ValueError(f"graphc's eager layers support no weight constraints or regularizers "
                             f"(layer {self.name}, weight {name})")
        trainable = True if trainable is None else trainable
        dtype = dtypes.as_dtype(dtype or self._dtype or dtypes.float32)
        init_step = Step(context())  # not the current step: a weight's creation is no part of it
        with init_step.graph.as_default():
            initial = initializer(tuple(shape.as_list() if hasattr(shape, "as_list") else shape), dtype=dtype)
        variable = EagerVariable(init_step.value_of(initial), trainable=trainable and self.trainable,
                                 name=f"{self.name}/{name}")
        (self._trainable_weights if trainable else self._non_trainable_weights).append(variable)
        return variable

    def __call__(self, inputs, *args, **kwargs):
        return eager_function(super().__call__, self.name, op_errors=False)(inputs, *args, **kwargs)


class Dense(EagerLayer, graph_layers.Dense):
    """`activation(inputs @ kernel + bias)`, eager."""


class Flatten(EagerLayer, graph_layers.Flatten):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...), eager."""


class Dropout(EagerLayer, graph_layers.Dropout):
    """Dropout, eager (active when called with training=True)."""


class Model(EagerLayer, graph_models.Model):
    """`tf.keras.Model` in TF2: subclass it, define `call`, call it on NumPy or eager tensors.

    `compile` / `fit` / `evaluate` / `predict` are graphc.keras's (the same loops, History, progress bar and
    metrics), each batch running as a compiled `tf.function`: the training step (forward, loss, tape
    gradient, optimizer update, metric sums) is traced once per batch shape and then one native call.
    """

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, steps_per_execution: int = 1) -> None:
        """Chooses the optimizer (a name or an eager optimizer), the loss and the metrics of fit and evaluate.
        `steps_per_execution` is accepted; an eager model runs one batch a call (its tf.function's step)."""
        if loss is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        self._compiled = _Compiled(self, optimizer, loss, metrics)

    def _prepare(self, x, y=None) -> None:
        """Nothing to build: the weights come with the first call, the steps with the first batch."""

    def _train_calls(self, x, y, order, batch_size: int, loss, metrics: list):
        return _batch_calls(self._compiled.train_step, x, y, order, batch_size, loss, metrics)

    def _test_calls(self, x, y, batch_size: int, loss, metrics: list):
        return _batch_calls(self._compiled.test_step, x, y, np.arange(len(x)), batch_size, loss, metrics)

    def _predict_batch(self, x):
        return self(x, training=False).numpy()

    def get_weights(self) -> list:
        """The weights' values as NumPy arrays, in `weights` order."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, values) -> None:
        """Sets the weights from arrays in `weights` order."""
        weights = self.weights
        if len(values) != len(weights):
            raise ValueError(f"You called `set_weights(weights)` on model {self.name} with {len(values)} arrays, "
                             f"but the model has {len(weights)} weights.")
        for weight, value in zip(weights, values):
            weight.assign(np.asarray(value, weight.dtype.np_dtype))


class _Compiled:
    """What `compile` chose, and the two compiled steps it makes of them (tf.functions of a batch)."""

    def __init__(self, model: Model, optimizer, loss, metrics):
        self.optimizer = _OPTIMIZERS[optimizer.lower()]() if isinstance(optimizer, str) else optimizer
        if not isinstance(self.optimizer, Optimizer):
            raise ValueError(f"Could not interpret optimizer: {optimizer!r}; graphc.v2 takes a name "
                             f"({sorted(_OPTIMIZERS)}) or a tf.keras.optimizers object")
        self.loss = graph_losses.get(loss)
        self.metrics = [keras_metrics.get(m, self.loss) for m in (metrics or [])]
        self.model = model
        self.train_step = function(self._train)
        self.test_step = function(self._test)

    def _losses_and_sums(self, y, outputs) -> list:
        loss = eager_function(self.loss.__call__, self.loss.name)(y, outputs)
        return [loss] + [eager_function(m.batch_sum, m.name)(y, outputs) for m in self.metrics]

    def _train(self, x, y) -> list:
        with GradientTape() as tape:
            outputs = self.model(x, training=True)  # builds the model (its weights) on a first call
            results = self._losses_and_sums(y, outputs)
        weights = self.model.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(results[0], weights), weights))
        return results

    def _test(self, x, y) -> list:
        return self._losses_and_sums(y, self.model(x, training=False))


_OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


class Sequential(Model):
    """A stack of layers, each applied to the previous one's output (graphc.keras's Sequential, eager)."""

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        for layer in layers or []:
            self.add(layer)

    add = graph_models.Sequential.add
    call = graph_models.Sequential.call


class SparseCategoricalCrossentropy(graph_losses.SparseCategoricalCrossentropy):
    """The loss averaged over the batch, eager."""

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotImplementedError("graphc's eager Keras losses take no sample_weight yet")
        return eager_function(super().__call__, self.name)(y_true, y_pred)


class CategoricalCrossentropy(SparseCategoricalCrossentropy):
    """Cross-entropy against one-hot (or soft) labels, averaged over the batch, eager."""

    def __init__(self, from_logits: bool = False, name: str = "categorical_crossentropy"):
        graph_losses.Loss.__init__(self, graph_losses.categorical_crossentropy, name, from_logits=from_logits)



# `tf.keras` of the TF2 namespace (graphc.v2, and the TF1 namespace after enable_eager_execution).
namespace = types.SimpleNamespace(
    Model=Model,
    Sequential=Sequential,
    layers=types.SimpleNamespace(Dense=Dense, Flatten=Flatten, Dropout=Dropout, Layer=EagerLayer),
    optimizers=types.SimpleNamespace(SGD=SGD, Adam=Adam, RMSprop=RMSprop, Adagrad=Adagrad),
    losses=types.SimpleNamespace(
        SparseCategoricalCrossentropy=SparseCategoricalCrossentropy,
        CategoricalCrossentropy=CategoricalCrossentropy,
        sparse_categorical_crossentropy=eager_function(graph_losses.sparse_categorical_crossentropy),
        categorical_crossentropy=eager_function(graph_losses.categorical_crossentropy)),
    metrics=types.SimpleNamespace(SparseCategoricalAccuracy=keras_metrics.SparseCategoricalAccuracy),
    datasets=datasets,
)


def _batch_calls(step, x, y, order, batch_size: int, loss, metrics: list):
    """Runs `step` (a compiled tf.function: [loss, metric sums...] of a batch) on each batch of the examples
    of `order`, accumulating `loss` and `metrics` from zero; yields 1 per batch (one call each)."""
    for metric in metrics:
        metric.reset_state()
    for start in range(0, len(x), batch_size):
        batch = order[start:start + batch_size]
        batch_loss, *sums = [t.numpy() for t in step(x[batch], y[batch])]
        loss.accumulate(batch_loss * len(batch), len(batch))
        for metric, total in zip(metrics, sums):
            metric.accumulate(total, len(batch))
        yield 1
