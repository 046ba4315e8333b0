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
from graphc.eager.optimizers import SGD, Adagrad, Adam, RMSprop  # noqa: F401 - Keras's optimizers, eager
from graphc.eager.variables import EagerVariable
from graphc.keras import datasets, metrics
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
    """`tf.keras.Model` in TF2: subclass it, define `call`, call it on NumPy or eager tensors."""

    def compile(self, *args, **kwargs):
        raise NotImplementedError("graphc's TF2 Keras models train with GradientTape loops: compile/fit/evaluate "
                                  "are not supported on them yet (graphc.keras, the TF1 namespace's, has them)")

    fit = evaluate = compile

    def predict(self, x, batch_size=None, verbose=0) -> np.ndarray:
        """The model's outputs for `x`, computed in batches of `batch_size` (32), as one array."""
        x = np.asarray(x, dtype=np.float32)
        size = batch_size or 32
        return np.concatenate([self(x[i:i + size]).numpy() for i in range(0, len(x), size)])


class Sequential(Model):
    """A stack of layers, each applied to the previous one's output."""

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        self._layers.append(layer)

    def call(self, inputs, training=None):
        for layer in self._layers:
            inputs = layer(inputs)
        return inputs


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
    metrics=types.SimpleNamespace(SparseCategoricalAccuracy=metrics.SparseCategoricalAccuracy),
    datasets=datasets,
)
