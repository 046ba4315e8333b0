"""Layer naming shared by all models: `dense`, `dense_1`, ... as Keras numbers them."""

from __future__ import annotations

import collections

from graphc.layers.base import snake_case

_uids: collections.Counter = collections.Counter()


def unique_layer_name(class_name: str) -> str:
    """`Dense` -> `dense`, then `dense_1`, `dense_2`, ... (Keras's snake-case names)."""
    base = snake_case(class_name)
    number = _uids[base]
    _uids[base] += 1
    return base if number == 0 else f"{base}_{number}"


def clear_session() -> None:
    """Restarts layer numbering, as `keras.backend.clear_session()` does."""
    _uids.clear()
