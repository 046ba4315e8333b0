"""Keras layers: `tf.layers`' layers with Keras's constructor.

As in TF1, where `tf.layers.Dense` and `tf.keras.layers.Dense` share one
implementation, each layer here is the `graphc.layers` one plus what Keras's
spelling adds: a name given at construction (`dense`, `dense_1`, ...),
`input_shape=`, activations and initializers by name. Weights are created on
the first call, named `<layer>/<weight>` (`dense/kernel`).
"""

from __future__ import annotations

import inspect

import numpy as np

from graphc import layers as tf_layers
from graphc.keras import activations, backend, initializers


class Layer(tf_layers.Layer):
    """Base class of Keras layers: subclasses define `build(input_shape)` and `call(inputs)`."""

    def __init__(self, *args, name=None, input_shape=None, **kwargs):
        super().__init__(*args, name=name or backend.unique_layer_name(type(self).__name__), **kwargs)
        self.input_shape_hint = None if input_shape is None else tuple(input_shape)

    def count_params(self) -> int:
        return int(sum(np.prod(w.shape.as_list()) for w in self.weights))


def takes_training(call) -> bool:
    """Whether a layer's `call` takes the `training` flag (Dropout does, Dense does not)."""
    return "training" in inspect.signature(call).parameters


class Dense(Layer, tf_layers.Dense):
    """`activation(inputs @ kernel + bias)` over the last axis."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        if int(units) <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive integer, got {units}.")
        super().__init__(units, activation=activations.get(activation), use_bias=use_bias,
                         kernel_initializer=initializers.get(kernel_initializer),
                         bias_initializer=initializers.get(bias_initializer), **kwargs)


class Flatten(Layer, tf_layers.Flatten):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)."""


class Dropout(Layer, tf_layers.Dropout):
    """Zeroes a fraction `rate` of the inputs while training (scaling the rest by 1 / (1 - rate))."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        if not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value between "
                             f"0 and 1. Received: rate={rate}")
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)


class Conv2D(Layer, tf_layers.Conv2D):
    """`activation(conv2d(inputs, kernel) + bias)` over NHWC inputs."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         activation=activations.get(activation), use_bias=use_bias,
                         kernel_initializer=initializers.get(kernel_initializer),
                         bias_initializer=initializers.get(bias_initializer), **kwargs)


class MaxPooling2D(Layer, tf_layers.MaxPooling2D):
    """The maximum of each `pool_size` window (strides default to the pool size)."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(pool_size, strides, padding=padding, **kwargs)


class AveragePooling2D(Layer, tf_layers.AveragePooling2D):
    """The mean of each `pool_size` window (strides default to the pool size)."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(pool_size, strides, padding=padding, **kwargs)


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


class Activation(Layer):
    """Applies an activation function by name or callable."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)


class ReLU(Activation):
    def __init__(self, **kwargs):
        super().__init__("relu", **kwargs)


__all__ = ["Layer", "Dense", "Flatten", "Dropout", "Conv2D", "MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D", "Activation",
           "ReLU"]
