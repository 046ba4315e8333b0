"""Bundled datasets (MNIST), readable without a network."""

from graphc.datasets import mnist

__all__ = ["mnist"]
