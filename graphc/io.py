"""`tf.io`: writing graph files (`write_graph`); the rest of TF's `tf.io` is not in graphc yet."""

from graphc.train.meta_graph import write_graph

__all__ = ["write_graph"]
