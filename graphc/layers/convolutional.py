"""Convolution layers: `Conv2D`, `Conv2DTranspose` and their functional forms (channels last)."""

from __future__ import annotations

from graphc.layers.base import Layer
from graphc.ops import array_ops, conv_ops, init_ops, layout_ops, nn_ops


def pair(value, what: str) -> tuple:
    """An int or a pair of ints as a pair (kernel sizes, strides, pool sizes)."""
    values = (value, value) if isinstance(value, int) else tuple(value)
    if len(values) != 2 or not all(isinstance(v, int) and v > 0 for v in values):
        raise ValueError(f"The `{what}` argument must be a tuple of 2 positive integers. Received: {value!r}")
    return values


def padding_name(padding: str) -> str:
    """'same'/'valid' (any case) as the ops spell them."""
    if str(padding).lower() not in ("same", "valid"):
        raise ValueError(f"The `padding` argument must be 'valid' or 'same'. Received: {padding!r}")
    return str(padding).upper()


def check_channels_last(data_format: str) -> None:
    if data_format != "channels_last":
        raise ValueError(f"graphc's convolution and pooling layers take channels_last inputs, got {data_format!r}")


class Conv2D(Layer):
    """`activation(conv2d(inputs, kernel) + bias)`: kernel `<scope>/kernel` of shape
    (kernel_h, kernel_w, in_channels, filters), bias `<scope>/bias`."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer=None,
                 bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True,
                 name=None, **kwargs):
        if activity_regularizer is not None:
            raise ValueError("graphc does not support activity_regularizer")
        check_channels_last(data_format)
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.filters = int(filters)
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.strides = pair(strides, "strides")
        self.dilation_rate = pair(dilation_rate, "dilation_rate")
        self.padding = padding_name(padding)
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        dims = input_shape.as_tuple()
        if dims is None or len(dims) != 4:
            raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: expected ndim=4, "
                             f"found shape {input_shape}")
        if dims[-1] is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
        self.kernel = self.add_weight("kernel", shape=list(self.kernel_size) + self._kernel_channels(dims[-1]),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", shape=[self.filters], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def _kernel_channels(self, input_channels: int) -> list:
        """The kernel's last two dimensions: (in, out) for a convolution."""
        return [input_channels, self.filters]

    def call(self, inputs):
        outputs = conv_ops.conv2d(inputs, self.kernel, strides=[1, *self.strides, 1], padding=self.padding,
                                  dilations=[1, *self.dilation_rate, 1])
        if self.use_bias:
            outputs = nn_ops.bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


def conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
           dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer=None,
           bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
           activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
           reuse=None):
    """`tf.layers.conv2d`: a Conv2D layer applied once; `name` and `reuse` choose and share its variables."""
    layer = Conv2D(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                   dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                   kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                   kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                   activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                   bias_constraint=bias_constraint, trainable=trainable, name=name, _scope=name, _reuse=reuse)
    return layer.apply(inputs)


def _transposed_length(length, kernel: int, stride: int, padding: str):
    """The output length of a transposed convolution along one axis (Keras's deconv_output_length)."""
    if padding == "VALID":
        return length * stride + max(kernel - stride, 0)
    return length * stride


class Conv2DTranspose(Conv2D):
    """`activation(conv2d_transpose(inputs, kernel) + bias)`: kernel `<scope>/kernel` of shape
    (kernel_h, kernel_w, filters, in_channels), bias `<scope>/bias`; the output is `strides` times the
    input's height and width (SAME), plus the kernel's overhang (VALID)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                 **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format, **kwargs)

    def _kernel_channels(self, input_channels: int) -> list:
        """The kernel's last two dimensions: (out, in) for a transposed convolution, TF's order."""
        return [self.filters, input_channels]

    def call(self, inputs):
        dims = inputs.shape.as_list()
        sizes = array_ops.shape(inputs)
        spatial = [_transposed_length(dims[1 + i] if dims[1 + i] is not None else sizes[1 + i], self.kernel_size[i],
                                      self.strides[i], self.padding) for i in range(2)]
        output_shape = layout_ops.stack([sizes[0], *spatial, self.filters])
        outputs = conv_ops.conv2d_transpose(inputs, self.kernel, output_shape, strides=[1, *self.strides, 1],
                                            padding=self.padding)
        outputs.set_shape([dims[0]] + [s if isinstance(s, int) else None for s in spatial] + [self.filters])
        if self.use_bias:
            outputs = nn_ops.bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


def conv2d_transpose(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                     activation=None, use_bias=True, kernel_initializer=None,
                     bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None, bias_regularizer=None,
                     activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable=True,
                     name=None, reuse=None):
    """`tf.layers.conv2d_transpose`: a Conv2DTranspose layer applied once (DCGAN's generator upsampling)."""
    layer = Conv2DTranspose(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                            activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                            bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                            kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                            trainable=trainable, name=name, _scope=name, _reuse=reuse)
    return layer.apply(inputs)
