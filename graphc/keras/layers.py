"""Keras layers: a layer creates its weights on its first call, then applies itself.

Weights are ordinary graphc Variables named `<layer>/<weight>` (`dense/kernel`,
`dense_1/bias`), so Savers, `global_variables()` and optimizers see them.
"""

from __future__ import annotations

import inspect
from typing import Optional

import numpy as np

from graphc import nn
from graphc.frontend import dtypes
from graphc.frontend.graph import convert_to_tensor, name_scope
from graphc.frontend.variables import Variable
from graphc.keras import activations, backend, initializers
from graphc.ops import array_ops, math_ops


class Layer:
    """Base class: subclasses define `build(input_shape)` (creating weights) and `call(inputs)`."""

    def __init__(self, name: Optional[str] = None, trainable: bool = True, input_shape=None, dtype=None):
        self.name = name or backend.unique_layer_name(type(self).__name__)
        self.trainable = trainable
        self.built = False
        self.input_shape_hint = None if input_shape is None else tuple(input_shape)
        self.dtype = dtypes.as_dtype(dtype or dtypes.float32)
        self._weights: list = []

    def build(self, input_shape) -> None:
        """Creates the layer's weights for inputs of `input_shape` (a TensorShape)."""

    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs)")

    def __call__(self, inputs, training=None):
        inputs = convert_to_tensor(inputs)
        with name_scope(self.name):
            if not self.built:
                self.build(inputs.shape)
                self.built = True
            return _call_with_training(self.call, inputs, training)

    def add_weight(self, name: str, shape, initializer="glorot_uniform", trainable: bool = True) -> Variable:
        """A Variable `<scope>/<name>` of `shape`, initialised by `initializer` (a name or an object)."""
        initial_value = initializers.get(initializer)(list(shape), self.dtype)
        variable = Variable(initial_value, name=name, trainable=trainable and self.trainable, dtype=self.dtype)
        self._weights.append(variable)
        return variable

    @property
    def weights(self) -> list:
        return list(self._weights)

    @property
    def trainable_weights(self) -> list:
        return [w for w in self.weights if w.trainable]

    def count_params(self) -> int:
        return int(sum(np.prod(w.shape.as_list()) for w in self.weights))


def _call_with_training(call, inputs, training):
    """`call(inputs, training=...)` if `call` takes `training`, else `call(inputs)`."""
    if "training" in inspect.signature(call).parameters:
        return call(inputs, training=training)
    return call(inputs)


class Dense(Layer):
    """`activation(inputs @ kernel + bias)` over the last axis."""

    def __init__(self, units: int, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if int(units) <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive integer, got {units}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape) -> None:
        last = input_shape.as_list()[-1] if input_shape.ndims else None
        if last is None:
            raise ValueError(f"The last dimension of the inputs to `Dense` ({self.name}) should be defined. "
                             f"Found `None`.")
        self.kernel = self.add_weight("kernel", (last, self.units), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer) if self.use_bias else None

    def call(self, inputs):
        dims = inputs.shape.as_list()
        flat = inputs if len(dims) == 2 else array_ops.reshape(inputs, [-1, dims[-1]])
        outputs = math_ops.matmul(flat, self.kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        if len(dims) != 2:
            outputs = array_ops.reshape(outputs, [-1] + dims[1:-1] + [self.units])
        return self.activation(outputs)


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)."""

    def call(self, inputs):
        inner = inputs.shape.as_list()[1:]
        if any(d is None for d in inner):
            raise ValueError(f"`Flatten` ({self.name}) needs the inner dimensions defined; got {inputs.shape}")
        return array_ops.reshape(inputs, [-1, int(np.prod(inner))])


class Dropout(Layer):
    """Zeroes a fraction `rate` of the inputs while training (scaling the rest by 1 / (1 - rate))."""

    def __init__(self, rate: float, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value between "
                             f"0 and 1. Received: rate={rate}")
        self.rate, self.noise_shape, self.seed = rate, noise_shape, seed

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        return nn.dropout(inputs, rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)


class Activation(Layer):
    """Applies an activation function by name or callable."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)


class ReLU(Activation):
    def __init__(self, **kwargs):
        super().__init__(nn.relu, **kwargs)


__all__ = ["Layer", "Dense", "Flatten", "Dropout", "Activation", "ReLU"]
