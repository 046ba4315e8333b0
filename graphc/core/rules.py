"""Shape and dtype rules shared by op families.

Rules take input `TensorType`s whose dims may be partial (None entries, or None
for an unknown rank) and return output types, raising ShapeError/DTypeError with
TF1's wording. The same rules run while building graphs and, with concrete
shapes, when lowering and verifying IR. A rule follows TF1 in what it rejects
while a graph is built (TF1's shape functions: ValueError, TypeError) and what
only when the op runs (TF1's kernels): for the latter it raises RejectedWhenRun.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from graphc import errors
from graphc.core import dtypes
from graphc.core.registry import DTypeError, ShapeError, TensorType
from graphc.core.tensor_shape import Dims


class RejectedWhenRun(ShapeError):
    """An argument TF1's shape function lets through and its kernel rejects when the op runs.

    The rule raises it with `result`, the output type TF1 infers while building: the
    graph is built with that type, and lowering a step that runs the op raises
    `error_class` (TF1's run-time class; graphc knows these arguments when it compiles
    the step, on `Session.run`).
    """

    def __init__(self, message: str, result, error_class=errors.InvalidArgumentError):
        super().__init__(message)
        self.result = result
        self.error_class = error_class


# TF's type lists (its OpDefs' `T` constraints), without the types graphc lacks (complex, bfloat16).
FLOAT_TYPES = (dtypes.float16, dtypes.float32, dtypes.float64)
SIGNED_INTEGER_TYPES = (dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64)
INTEGER_TYPES = SIGNED_INTEGER_TYPES + (dtypes.uint8, dtypes.uint16)
NUMERIC_TYPES = FLOAT_TYPES + INTEGER_TYPES
SIGNED_TYPES = FLOAT_TYPES + SIGNED_INTEGER_TYPES  # Neg, Abs, Sign, Pow: no unsigned kernels
INDEX_TYPES = (dtypes.int32, dtypes.int64)


def broadcast_dims(a: Dims, b: Dims) -> Dims:
    """NumPy broadcasting of two partial shapes."""
    if a is None or b is None:
        return None
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None:
            out.append(y)
        elif y is None or x == y:
            out.append(x)
        else:
            raise ShapeError(f"Dimensions must be equal, but are {x} and {y}")
    return tuple(reversed(out))


def same_dtype(types: Sequence[TensorType], allowed=None) -> "dtypes.DType":
    """The common dtype of `types`; DTypeError if they differ or are not `allowed`."""
    dtype = types[0].dtype
    for t in types[1:]:
        if t.dtype is not dtype:
            raise DTypeError(f"Input has type {t.dtype.name} that does not match type {dtype.name} "
                             "of the other inputs")
    if allowed is not None and dtype not in allowed:
        raise DTypeError(f"Value passed has DataType {dtype.name} not in list of allowed values: "
                         f"{', '.join(d.name for d in allowed)}")
    return dtype


def unary(allowed=NUMERIC_TYPES, result_dtype=None):
    """Rule for elementwise unary ops: same shape, same (or given) dtype."""

    def infer(types, attrs):
        dtype = same_dtype(types, allowed)
        return TensorType(result_dtype or dtype, types[0].dims)

    return infer


def binary(allowed=NUMERIC_TYPES, result_dtype=None):
    """Rule for elementwise binary ops with NumPy broadcasting."""

    def infer(types, attrs):
        dtype = same_dtype(types, allowed)
        dims = broadcast_dims(types[0].dims, types[1].dims)
        return TensorType(result_dtype or dtype, dims)

    return infer


def normalize_axes(axes, rank: Optional[int], what: str = "axis") -> Optional[tuple]:
    """Axes (a scalar or a vector) as a sorted tuple of distinct non-negative ints; None means all axes."""
    if axes is None:
        return None if rank is None else tuple(range(rank))
    array = np.asarray(axes)
    if array.ndim > 1:
        raise ShapeError(f"Shape must be at most rank 1 but is rank {array.ndim} ({what})")
    flat = array.reshape(-1)
    if flat.size and flat.dtype.kind not in "iu":
        raise DTypeError(f"{what} must be integers, got {flat.dtype}")
    if rank is None:
        return None
    out = set()
    for a in flat.astype(np.int64).tolist():
        if not -rank <= a < rank:
            raise ShapeError(f"Invalid reduction dimension {a} for input with {rank} dimensions")
        out.add(a % rank)
    return tuple(sorted(out))


def reduced_dims(dims: Dims, axes, keepdims: bool) -> Dims:
    """Shape after reducing `axes` (None: all, or unknown when the rank is unknown)."""
    if dims is None:
        return None
    norm = normalize_axes(axes, len(dims))
    if keepdims:
        return tuple(1 if i in norm else d for i, d in enumerate(dims))
    return tuple(d for i, d in enumerate(dims) if i not in norm)


def check_distinct_axes(axes, rank: Optional[int], result: TensorType) -> None:
    """TF1's reductions reject an axis named twice (1 and -1 of a matrix are one axis) when they run."""
    if axes is None or rank is None:
        return
    seen = set()
    for a in np.asarray(axes).reshape(-1).astype(np.int64).tolist():
        if a % rank in seen:
            raise RejectedWhenRun(f"Invalid reduction arguments: Axes contains duplicate dimension: {a % rank}",
                                  result)
        seen.add(a % rank)


def require_rank(t: TensorType, rank: int, what: str) -> None:
    if t.dims is not None and len(t.dims) != rank:
        raise ShapeError(f"Shape must be rank {rank} but is rank {len(t.dims)} ({what})")


def merge_dim(a, b, what: str):
    """Two sizes that must agree; either may be unknown."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    raise ShapeError(f"Dimensions must be equal, but are {a} and {b} ({what})")


def shape_value_to_dims(value) -> Dims:
    """A shape given as a vector (-1 or None for an unknown size) as partial dims (TF1's
    MakeShapeFromShapeTensor: another rank or a size below -1 is an error while building)."""
    if value is None:
        return None
    if isinstance(value, tuple) and None in value:
        return tuple(None if d is None or d < 0 else int(d) for d in value)
    array = np.asarray(value)
    if array.ndim != 1:
        raise ShapeError(f"Shape must be rank 1 but is rank {array.ndim}")
    if array.size and array.dtype.kind not in "iu":
        raise DTypeError(f"shape must be integers, got {array.dtype}")
    for d in array.tolist():
        if d < -1:
            raise ShapeError(f"Invalid value in tensor used for shape: {d}")
    return tuple(None if d < 0 else int(d) for d in array.tolist())


def check_sizes_when_run(value, result: TensorType) -> None:
    """A shape argument of an op that makes a tensor of that shape (a random draw, broadcast_to): TF1
    builds a -1 in it as an unknown size and rejects it when the op runs."""
    if value is None or (isinstance(value, tuple) and None in value):
        return
    for d in np.asarray(value).reshape(-1).tolist():
        if d < 0:
            raise RejectedWhenRun(f"Dimension {d} must be >= 0", result)
