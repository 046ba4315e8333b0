"""`tf.strings`: string functions (run on the host: graphc/host_fetches.py)."""

from graphc.ops.string_ops import join

__all__ = ["join"]
