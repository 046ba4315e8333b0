"""`keras.datasets`: the datasets graphc bundles."""

from graphc.keras.datasets import mnist

__all__ = ["mnist"]
