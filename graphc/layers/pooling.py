"""Pooling layers: `MaxPooling2D`, `AveragePooling2D` and their functional forms (channels last)."""

from __future__ import annotations

from graphc.layers.base import Layer
from graphc.layers.convolutional import check_channels_last, pair, padding_name
from graphc.ops import conv_ops


class _Pooling2D(Layer):
    """A window of `pool_size` moved by `strides` (default: the pool size) over height and width."""

    pool_function = None  # conv_ops.max_pool or conv_ops.avg_pool

    def __init__(self, pool_size, strides=None, padding="valid", data_format="channels_last", name=None, **kwargs):
        check_channels_last(data_format)
        super().__init__(name=name, **kwargs)
        self.pool_size = pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else pair(strides, "strides")
        self.padding = padding_name(padding)

    def call(self, inputs):
        return type(self).pool_function(inputs, ksize=[1, *self.pool_size, 1], strides=[1, *self.strides, 1],
                                        padding=self.padding)


class MaxPooling2D(_Pooling2D):
    """The maximum of each window."""

    pool_function = staticmethod(conv_ops.max_pool)


class AveragePooling2D(_Pooling2D):
    """The mean of each window's valid elements."""

    pool_function = staticmethod(conv_ops.avg_pool)


def max_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """`tf.layers.max_pooling2d`."""
    return MaxPooling2D(pool_size, strides, padding=padding, data_format=data_format, name=name).apply(inputs)


def average_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """`tf.layers.average_pooling2d`."""
    return AveragePooling2D(pool_size, strides, padding=padding, data_format=data_format, name=name).apply(inputs)
