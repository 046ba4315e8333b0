"""`tf.layers`: TF1's layers, one module per family (core: dense, flatten, dropout)."""

from graphc.layers.base import Layer
from graphc.layers.core import Dense, Dropout, Flatten, dense, dropout, flatten

__all__ = ["Dense", "Dropout", "Flatten", "Layer", "dense", "dropout", "flatten"]
