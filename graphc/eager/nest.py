"""Nested structures (lists, tuples, dicts) of eager values, flattened in TF's order (dicts by sorted key)."""

from __future__ import annotations


def flatten(structure) -> list:
    """The leaves of `structure`, depth first; dict items in sorted key order."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]
