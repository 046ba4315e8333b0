"""`tf.layers`: TF1's layers, one module per family (core: dense, flatten)."""

from graphc.layers.base import Layer
from graphc.layers.core import Dense, Flatten, dense, flatten

__all__ = ["Dense", "Flatten", "Layer", "dense", "flatten"]
