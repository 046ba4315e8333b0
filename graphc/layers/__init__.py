"""`tf.layers`: TF1's layers, one module per family (core, convolutional, pooling, normalization)."""

from graphc.layers.base import Layer
from graphc.layers.convolutional import Conv2D, Conv2DTranspose, conv2d, conv2d_transpose
from graphc.layers.core import Dense, Dropout, Flatten, dense, dropout, flatten
from graphc.layers.normalization import BatchNormalization, batch_normalization
from graphc.layers.pooling import AveragePooling2D, MaxPooling2D, average_pooling2d, max_pooling2d

__all__ = ["AveragePooling2D", "BatchNormalization", "Conv2D", "Conv2DTranspose", "Dense", "Dropout", "Flatten",
           "Layer", "MaxPooling2D", "average_pooling2d", "batch_normalization", "conv2d", "conv2d_transpose", "dense",
           "dropout", "flatten", "max_pooling2d"]
