"""Nested structures of values (TF's `nest`): lists, tuples, namedtuples and dicts, flattened in order.

Dicts flatten in sorted key order, as TF's nest does. An object with `_graphc_components()`
(a TensorArray) flattens to those tensors and is rebuilt by `_graphc_rebuild(components)`,
as TF's composite tensors are; anything else is a leaf.
"""

from __future__ import annotations


def is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _is_sequence(x, is_leaf) -> bool:
    if is_leaf is not None and is_leaf(x):
        return False
    return isinstance(x, (list, tuple, dict))


def flatten(structure, is_leaf=None) -> list:
    """The leaves of `structure`, in order (`is_leaf(x)` stops at x)."""
    if hasattr(structure, "_graphc_components"):
        return list(structure._graphc_components())
    if not _is_sequence(structure, is_leaf):
        return [structure]
    items = [structure[k] for k in sorted(structure)] if isinstance(structure, dict) else structure
    return [leaf for item in items for leaf in flatten(item, is_leaf)]


def pack_sequence_as(structure, flat: list):
    """`flat` in the shape of `structure`."""
    flat = list(flat)
    if len(flatten(structure)) != len(flat):
        raise ValueError(f"Could not pack sequence. Structure had {len(flatten(structure))} elements, but "
                         f"flat_sequence had {len(flat)} elements.")
    packed, _ = _pack(structure, flat, 0)
    return packed


def _pack(structure, flat, position):
    if hasattr(structure, "_graphc_components"):
        count = len(structure._graphc_components())
        return structure._graphc_rebuild(flat[position:position + count]), position + count
    if not _is_sequence(structure, None):
        return flat[position], position + 1
    if isinstance(structure, dict):
        values = {}
        for key in sorted(structure):
            values[key], position = _pack(structure[key], flat, position)
        return type(structure)((k, values[k]) for k in structure), position
    items = []
    for item in structure:
        value, position = _pack(item, flat, position)
        items.append(value)
    if is_namedtuple(structure):
        return type(structure)(*items), position
    return type(structure)(items), position


def assert_same_structure(a, b) -> None:
    """ValueError (TypeError for a different kind of sequence) unless `a` and `b` nest alike."""
    if _is_sequence(a, None) != _is_sequence(b, None):
        raise ValueError(f"The two structures don't have the same nested structure: {a!r} and {b!r}")
    if not _is_sequence(a, None):
        return
    if is_namedtuple(a) != is_namedtuple(b) or (is_namedtuple(a) and type(a) is not type(b)):
        raise TypeError(f"The two namedtuples don't have the same sequence type: {type(a).__name__} and "
                        f"{type(b).__name__}")
    if isinstance(a, dict) != isinstance(b, dict) or (isinstance(a, dict) and sorted(a) != sorted(b)):
        raise ValueError(f"The two structures don't have the same keys: {a!r} and {b!r}")
    if len(a) != len(b):
        raise ValueError(f"The two structures don't have the same number of elements: {len(a)} and {len(b)}")
    for x, y in (zip((a[k] for k in sorted(a)), (b[k] for k in sorted(b))) if isinstance(a, dict) else zip(a, b)):
        assert_same_structure(x, y)
