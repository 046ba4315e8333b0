"""Element structures as tf.data sees them: tuples (namedtuples too) and dicts nest, anything else is a
component. Lists are components (TF converts a list to one tensor), dicts flatten by sorted key."""

from __future__ import annotations

from graphc.core.tensor_shape import TensorShape
from graphc.frontend.graph import Tensor


class Structured:
    """Something whose elements have a structure (datasets, iterators): TF1's `output_*` properties."""

    def __init__(self, template, types: list, dims: list):
        self._template = template  # the element structure, components None
        self._types = list(types)  # per flat component: its DType
        self._dims = list(dims)  # and its static dims

    @property
    def output_types(self):
        """The element structure with each component's DType."""
        return pack(self._template, self._types)

    @property
    def output_shapes(self):
        """The element structure with each component's static TensorShape."""
        return pack(self._template, [TensorShape(d) for d in self._dims])

    @property
    def output_classes(self):
        """The element structure with each component's class (Tensor)."""
        return pack(self._template, [Tensor] * len(self._types))


def is_nested(value) -> bool:
    """Whether `value` is a structure (tuple, namedtuple, dict) rather than one component."""
    return isinstance(value, (tuple, dict))


def flatten(structure) -> list:
    """The components of `structure`, depth first; dict items in sorted key order."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, tuple):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack(template, flat: list):
    """`template`'s structure with its components replaced, in order, by those of `flat`."""
    return _pack(template, iter(flat))


def _pack(template, components):
    if isinstance(template, dict):
        values = {key: _pack(template[key], components) for key in sorted(template)}
        return type(template)((key, values[key]) for key in template)
    if isinstance(template, tuple):
        items = [_pack(item, components) for item in template]
        return type(template)(*items) if hasattr(template, "_fields") else type(template)(items)
    return next(components)


def map_structure(function, structure):
    """`structure` with `function` applied to each component."""
    return pack(structure, [function(leaf) for leaf in flatten(structure)])
