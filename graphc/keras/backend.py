"""Layer naming shared by all models: `dense`, `dense_1`, ... as Keras numbers them."""

from __future__ import annotations

import collections
import re

_uids: collections.Counter = collections.Counter()


def unique_layer_name(class_name: str) -> str:
    """`Dense` -> `dense`, then `dense_1`, `dense_2`, ... (Keras's snake-case names)."""
    base = snake_case(class_name)
    number = _uids[base]
    _uids[base] += 1
    return base if number == 0 else f"{base}_{number}"


def snake_case(class_name: str) -> str:
    """Keras's spelling: `MaxPooling2D` -> `max_pooling2d`; a leading `_` becomes `private_`."""
    words = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", class_name)
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()
    return "private" + name if name.startswith("_") else name


def clear_session() -> None:
    """Restarts layer numbering, as `keras.backend.clear_session()` does."""
    _uids.clear()
