"""`keras.datasets.mnist.load_data()` from the MNIST files bundled with graphc."""

from graphc.datasets.mnist import load_data

__all__ = ["load_data"]
