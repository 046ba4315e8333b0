"""Element types: TF1's `tf.float32` ... objects and their IR spellings (`f32`)."""

from __future__ import annotations

import numpy as np


class DType:
    """An element type. Compares equal to itself only; `as_dtype` finds it from anything."""

    __slots__ = ("name", "ir_name", "as_numpy_dtype", "_np")

    def __init__(self, name: str, ir_name: str, numpy_type):
        self.name = name
        self.ir_name = ir_name
        self.as_numpy_dtype = numpy_type
        self._np = np.dtype(numpy_type)

    @property
    def np_dtype(self) -> np.dtype:
        return self._np

    @property
    def base_dtype(self) -> "DType":
        return self

    @property
    def is_floating(self) -> bool:
        return self._np.kind == "f"

    @property
    def is_integer(self) -> bool:
        return self._np.kind in "iu"

    @property
    def is_bool(self) -> bool:
        return self._np.kind == "b"

    @property
    def is_numeric(self) -> bool:
        return self._np.kind in "iuf"

    @property
    def size(self) -> int:
        return self._np.itemsize

    @property
    def min(self):
        return np.finfo(self._np).min if self.is_floating else np.iinfo(self._np).min

    @property
    def max(self):
        return np.finfo(self._np).max if self.is_floating else np.iinfo(self._np).max

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.name,))


float32 = DType("float32", "f32", np.float32)
float64 = DType("float64", "f64", np.float64)
int32 = DType("int32", "i32", np.int32)
int64 = DType("int64", "i64", np.int64)
bool_ = DType("bool", "bool", np.bool_)

# Strings exist only on the host: the dtype of summary tensors (serialized
# protobufs), never of a compiled value, so it is not among ALL_DTYPES.
string = DType("string", "string", np.object_)

ALL_DTYPES = (float32, float64, int32, int64, bool_)
_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NAME.update({d.ir_name: d for d in ALL_DTYPES})
_BY_NAME["string"] = string
_BY_NUMPY = {d.np_dtype: d for d in ALL_DTYPES}


def as_dtype(value) -> DType:
    """Converts a DType, NumPy dtype, Python type or name ('float32', 'f32') to a DType."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    if value is float:
        return float32
    if value is int:
        return int32
    if value is bool:
        return bool_
    try:
        np_dtype = np.dtype(value)
    except TypeError:
        np_dtype = None
    if np_dtype is not None and np_dtype in _BY_NUMPY:
        return _BY_NUMPY[np_dtype]
    raise TypeError(f"Cannot convert {value!r} to a graphc DType (supported: "
                    f"{', '.join(d.name for d in ALL_DTYPES)})")


def dtype_of_value(value) -> DType:
    """The dtype TF1 gives a constant built from `value` (Python floats are float32)."""
    if isinstance(value, np.ndarray | np.generic):
        if value.dtype.kind == "f" and value.dtype.itemsize == 2:
            raise TypeError("graphc does not support float16")
        return as_dtype(value.dtype)
    array = np.asarray(value)
    if array.dtype.kind == "b":
        return bool_
    if array.dtype.kind in "iu":
        if array.size and (array.min() < np.iinfo(np.int32).min or array.max() > np.iinfo(np.int32).max):
            return int64
        return int32
    if array.dtype.kind == "f":
        return float32
    raise TypeError(f"Cannot convert {value!r} to a tensor: unsupported element type {array.dtype}")


def all_elements_identical(array: np.ndarray) -> bool:
    """Whether every element of `array` has one bit pattern: +0.0 and -0.0 differ (1 / x tells them
    apart), a NaN is identical to itself. An empty array has no two elements that differ."""
    flat = np.ascontiguousarray(array).reshape(-1)
    if flat.dtype.kind == "f":
        flat = flat.view(f"u{flat.itemsize}")
    return bool(np.all(flat == flat[0])) if flat.size else True
