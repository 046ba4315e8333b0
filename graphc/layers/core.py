"""Core layers: `Dense`, `Flatten` and `Dropout`, and their functional forms."""

from __future__ import annotations

from graphc.core.tensor_shape import is_fully_defined
from graphc.layers.base import Layer
from graphc.ops import array_ops, init_ops, math_ops, nn_ops


class Dense(Layer):
    """`outputs = activation(inputs @ kernel + bias)`, with variables `<scope>/kernel` and `<scope>/bias`.

    Inputs of rank > 2 are multiplied along their last axis. The kernel
    initializer defaults to the scope's, else Glorot uniform; the bias to zeros.
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer=None,
                 bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True,
                 name=None, **kwargs):
        if activity_regularizer is not None:
            raise ValueError("graphc does not support activity_regularizer")
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.units = int(units)
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        dims = input_shape.as_tuple()
        if dims is not None and len(dims) < 2:
            raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: expected min_ndim=2, "
                             f"found ndim={len(dims)}. Full shape received: {input_shape}")
        if dims is None or dims[-1] is None:
            raise ValueError("The last dimension of the inputs to `Dense` should be defined. Found `None`.")
        self.kernel = self.add_weight("kernel", shape=[dims[-1], self.units], initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", shape=[self.units], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def call(self, inputs):
        dims = inputs.shape.as_tuple()
        if len(dims) > 2:
            leading = dims[:-1]
            if sum(d is None for d in leading) > 1:
                raise ValueError(f"graphc: Dense on inputs of shape {inputs.shape} needs all but one leading "
                                 "dimension known")
            flat = array_ops.reshape(inputs, [-1, dims[-1]])
            outputs = array_ops.reshape(math_ops.matmul(flat, self.kernel),
                                        [-1 if d is None else d for d in leading] + [self.units])
        else:
            outputs = math_ops.matmul(inputs, self.kernel)
        if self.use_bias:
            outputs = nn_ops.bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


class Flatten(Layer):
    """Reshapes inputs of shape [batch, d1, d2, ...] to [batch, d1 * d2 * ...]."""

    def __init__(self, data_format="channels_last", **kwargs):
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
        super().__init__(**kwargs)
        self.data_format = data_format

    def call(self, inputs):
        dims = inputs.shape.as_tuple()
        if dims is None:
            raise ValueError(f"graphc: Flatten needs the rank of its input {inputs.name}")
        if self.data_format == "channels_first" and len(dims) > 2:
            inputs = array_ops.transpose(inputs, [0] + list(range(2, len(dims))) + [1])
            dims = inputs.shape.as_tuple()
        rest = dims[1:]
        if is_fully_defined(rest):
            size = 1
            for d in rest:
                size *= d
            return array_ops.reshape(inputs, [-1, size])
        if dims and dims[0] is not None:
            return array_ops.reshape(inputs, [dims[0], -1])
        raise ValueError(f"graphc: Flatten needs the batch dimension or all the others of {inputs.name} "
                         f"known, got shape {inputs.shape}")


class Dropout(Layer):
    """While training, zeroes each element with probability `rate` and scales the rest by 1 / (1 - rate).

    `training` is a Python bool, or a bool tensor choosing per run.
    """

    def __init__(self, rate=0.5, noise_shape=None, seed=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.rate, self.noise_shape, self.seed = rate, noise_shape, seed

    def call(self, inputs, training=False):
        if isinstance(training, bool) or training is None:
            if not training or self.rate == 0:
                return array_ops.identity(inputs)
            return nn_ops.dropout(inputs, rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)
        dropped = nn_ops.dropout(inputs, rate=self.rate, noise_shape=self.noise_shape, seed=self.seed)
        return math_ops.where(training, dropped, inputs)


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None,
          bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
          activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
          reuse=None):
    """`tf.layers.dense`: a Dense layer applied once; `name` and `reuse` choose and share its variables."""
    layer = Dense(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                  bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                  bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                  kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, trainable=trainable,
                  name=name, dtype=None, _scope=name, _reuse=reuse)
    return layer.apply(inputs)


def flatten(inputs, name=None, data_format="channels_last"):
    """`tf.layers.flatten`: [batch, ...] -> [batch, everything else]."""
    return Flatten(name=name, data_format=data_format).apply(inputs)


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """`tf.layers.dropout`: dropout when `training` (a bool or a bool tensor), else the inputs."""
    return Dropout(rate, noise_shape=noise_shape, seed=seed, name=name).apply(inputs, training=training)
