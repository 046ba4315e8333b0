"""Static shapes that may be partly unknown: TF1's `TensorShape` and `Dimension`.

Inside graphc a shape is a plain tuple of ints and Nones (None: unknown size), or
None for an unknown rank; `TensorShape` wraps it for users with TF1's interface.
"""

from __future__ import annotations

import operator
from typing import Iterable, Optional, Tuple

Dims = Optional[Tuple[Optional[int], ...]]


class Dimension:
    """One dimension of a TensorShape; `.value` is an int or None (unknown).

    Arithmetic (+ - * // %) and comparisons work as in TF1: with an unknown operand the
    result is unknown (a comparison gives None), and a negative result is a ValueError.
    """

    __slots__ = ("value",)

    def __init__(self, value):
        if isinstance(value, Dimension):
            value = value.value
        elif value is not None:
            try:
                value = operator.index(value)
            except TypeError:
                raise TypeError(f"Dimension value must be integer or None or have an __index__ method, got value "
                                f"'{value!r}' with type '{type(value)!r}'") from None
            if value < 0:
                raise ValueError(f"Dimension {value} must be >= 0")
        self.value = value

    def __int__(self):
        if self.value is None:
            raise TypeError("Cannot convert an unknown Dimension to int")
        return self.value

    __index__ = __int__

    def __bool__(self):
        return bool(self.value)

    def __eq__(self, other):
        try:
            other = as_dimension(other)
        except (TypeError, ValueError):
            return NotImplemented
        if self.value is None or other.value is None:
            return None
        return self.value == other.value

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is None or equal is NotImplemented else not equal

    def __hash__(self):
        return hash(self.value)

    def __repr__(self):
        return f"Dimension({self.value})"

    def __str__(self):
        return "?" if self.value is None else str(self.value)

    def is_compatible_with(self, other) -> bool:
        """Whether the two may be the same size (an unknown one may be any)."""
        other = as_dimension(other)
        return self.value is None or other.value is None or self.value == other.value

    def assert_is_compatible_with(self, other) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Dimensions {self} and {as_dimension(other)} are not compatible")

    def merge_with(self, other) -> "Dimension":
        """The dimension both describe: the known one of the two; ValueError if they differ."""
        other = as_dimension(other)
        self.assert_is_compatible_with(other)
        return Dimension(other.value if self.value is None else self.value)

    def _arithmetic(self, other, combine, reverse=False):
        try:
            other = as_dimension(other)
        except (TypeError, ValueError):
            return NotImplemented
        if self.value is None or other.value is None:
            return Dimension(None)
        return Dimension(combine(other.value, self.value) if reverse else combine(self.value, other.value))

    def __add__(self, other):
        return self._arithmetic(other, operator.add)

    def __radd__(self, other):
        return self._arithmetic(other, operator.add, reverse=True)

    def __sub__(self, other):
        return self._arithmetic(other, operator.sub)

    def __rsub__(self, other):
        return self._arithmetic(other, operator.sub, reverse=True)

    def __mul__(self, other):
        return self._arithmetic(other, operator.mul)

    def __rmul__(self, other):
        return self._arithmetic(other, operator.mul, reverse=True)

    def __floordiv__(self, other):
        return self._arithmetic(other, operator.floordiv)

    def __rfloordiv__(self, other):
        return self._arithmetic(other, operator.floordiv, reverse=True)

    def __mod__(self, other):
        return self._arithmetic(other, operator.mod)

    def __rmod__(self, other):
        return self._arithmetic(other, operator.mod, reverse=True)

    def __truediv__(self, other):
        raise TypeError(f"unsupported operand type(s) for /: 'Dimension' and '{type(other).__name__}', "
                        "please use // instead")

    def __rtruediv__(self, other):
        raise TypeError(f"unsupported operand type(s) for /: '{type(other).__name__}' and 'Dimension', "
                        "please use // instead")

    def _compare(self, other, compare):
        other = as_dimension(other)
        if self.value is None or other.value is None:
            return None
        return compare(self.value, other.value)

    def __lt__(self, other):
        return self._compare(other, operator.lt)

    def __le__(self, other):
        return self._compare(other, operator.le)

    def __gt__(self, other):
        return self._compare(other, operator.gt)

    def __ge__(self, other):
        return self._compare(other, operator.ge)


def as_dimension(value) -> Dimension:
    """`value` as a Dimension (TF1's `tf.compat.v1.dimension_value`'s inverse)."""
    return value if isinstance(value, Dimension) else Dimension(value)


class TensorShape:
    """A possibly partial shape, as TF1 shows it: `(?, 784)`."""

    __slots__ = ("_dims",)

    def __init__(self, dims):
        self._dims = as_dims(dims)

    @property
    def dims(self):
        return None if self._dims is None else [Dimension(d) for d in self._dims]

    @property
    def ndims(self):
        return None if self._dims is None else len(self._dims)

    rank = ndims

    def as_list(self):
        if self._dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self._dims)

    def as_tuple(self) -> Dims:
        return self._dims

    def is_fully_defined(self) -> bool:
        return self._dims is not None and all(d is not None for d in self._dims)

    def num_elements(self):
        if not self.is_fully_defined():
            return None
        count = 1
        for d in self._dims:
            count *= d
        return count

    def is_compatible_with(self, other) -> bool:
        return dims_compatible(self._dims, as_dims(other))

    def merge_with(self, other) -> "TensorShape":
        merged = merge_dims(self._dims, as_dims(other))
        if merged is _INCOMPATIBLE:
            raise ValueError(f"Shapes {self} and {TensorShape(other)} are not compatible")
        return TensorShape(merged)

    def assert_is_compatible_with(self, other):
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {TensorShape(other)} are incompatible")

    def __len__(self):
        if self._dims is None:
            raise ValueError("Cannot take the length of a shape with unknown rank.")
        return len(self._dims)

    def __iter__(self):
        if self._dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(Dimension(d) for d in self._dims)

    def __getitem__(self, key):
        if self._dims is None:
            return TensorShape(None) if isinstance(key, slice) else Dimension(None)
        if isinstance(key, slice):
            return TensorShape(self._dims[key])
        return Dimension(self._dims[key])

    def __eq__(self, other):
        try:
            return self._dims == as_dims(other)
        except (TypeError, ValueError):
            return NotImplemented

    def __hash__(self):
        return hash(self._dims)

    def __repr__(self):
        if self._dims is None:
            return "TensorShape(None)"
        return f"TensorShape({[Dimension(d) for d in self._dims]})"

    def __str__(self):
        return format_dims(self._dims)


_INCOMPATIBLE = object()


def as_dims(shape) -> Dims:
    """Normalises a TensorShape, list, tuple, int or None to the internal tuple form."""
    if shape is None:
        return None
    if isinstance(shape, TensorShape):
        return shape._dims
    if isinstance(shape, int) or (hasattr(shape, "__index__") and not hasattr(shape, "__len__")):
        return (int(shape),)
    if isinstance(shape, Dimension):
        return (shape.value,)
    out = []
    for d in shape:
        d = d.value if isinstance(d, Dimension) else d
        if d is None:
            out.append(None)
            continue
        d = int(d)
        if d < 0:
            raise ValueError(f"Dimension {d} must be >= 0 in shape {list(shape)}")
        out.append(d)
    return tuple(out)


def format_dims(dims: Dims) -> str:
    """TF1's text for a shape: `(?, 784)`, `(3,)`, `()`, or `<unknown>`."""
    if dims is None:
        return "<unknown>"
    parts = ["?" if d is None else str(d) for d in dims]
    if len(parts) == 1:
        return f"({parts[0]},)"
    return "(" + ", ".join(parts) + ")"


def format_dims_as_list(dims: Dims) -> str:
    """Shapes as TF's op-error messages write them: `[?,784]`."""
    if dims is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in dims) + "]"


def dims_compatible(a: Dims, b: Dims) -> bool:
    return merge_dims(a, b) is not _INCOMPATIBLE


def merge_dims(a: Dims, b: Dims):
    """The most specific shape compatible with both, or _INCOMPATIBLE."""
    if a is None:
        return b
    if b is None:
        return a
    if len(a) != len(b):
        return _INCOMPATIBLE
    out = []
    for x, y in zip(a, b):
        if x is None:
            out.append(y)
        elif y is None or x == y:
            out.append(x)
        else:
            return _INCOMPATIBLE
    return tuple(out)


def is_fully_defined(dims: Dims) -> bool:
    return dims is not None and all(d is not None for d in dims)


def num_elements(dims: Iterable[int]) -> int:
    count = 1
    for d in dims:
        count *= d
    return count
