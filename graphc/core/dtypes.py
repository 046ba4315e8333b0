"""Element types: TF1's `tf.float32` ... objects, their IR spellings (`f32`) and `as_dtype`.

`as_dtype` is the one door every dtype argument goes through (placeholder, cast,
zeros, Variable, initializers ...), so each accepts exactly the spellings TF1's
`tf.as_dtype` accepts: DTypes, TF's names ("float" is float32, "double" float64,
"half" float16), NumPy types and dtypes, the Python types TF maps (`float` is
float32, `bool`, `object` is string) and DataType enum numbers.
"""

from __future__ import annotations

import numpy as np


class DType:
    """An element type. Compares equal to itself only; `as_dtype` finds it from anything."""

    __slots__ = ("name", "ir_name", "as_numpy_dtype", "as_datatype_enum", "_np")

    def __init__(self, name: str, ir_name: str, numpy_type, datatype_enum: int):
        self.name = name
        self.ir_name = ir_name
        self.as_numpy_dtype = numpy_type
        self.as_datatype_enum = datatype_enum  # TF's DataType (tensorflow/core/framework/types.proto)
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
    def is_unsigned(self) -> bool:
        return self._np.kind == "u"

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


float16 = DType("float16", "f16", np.float16, 19)
float32 = DType("float32", "f32", np.float32, 1)
float64 = DType("float64", "f64", np.float64, 2)
int8 = DType("int8", "i8", np.int8, 6)
int16 = DType("int16", "i16", np.int16, 5)
int32 = DType("int32", "i32", np.int32, 3)
int64 = DType("int64", "i64", np.int64, 9)
uint8 = DType("uint8", "u8", np.uint8, 4)
uint16 = DType("uint16", "u16", np.uint16, 17)
bool_ = DType("bool", "bool", np.bool_, 10)
half = float16

# Strings live only on the host (see graphc/host_fetches.py): constants, feeds, their identities
# and the serialized summaries; never a compiled value, so string is not among ALL_DTYPES.
string = DType("string", "string", np.object_, 7)

ALL_DTYPES = (float16, float32, float64, int8, int16, int32, int64, uint8, uint16, bool_)
_EVERY_DTYPE = ALL_DTYPES + (string,)

# TF's names, aliases included ("float" is float32, not NumPy's float64).
_BY_TF_NAME = {d.name: d for d in _EVERY_DTYPE}
_BY_TF_NAME.update({"float": float32, "double": float64, "half": float16})
_BY_IR_NAME = {d.ir_name: d for d in _EVERY_DTYPE}
_BY_ENUM = {d.as_datatype_enum: d for d in _EVERY_DTYPE}
_BY_NUMPY = {d.np_dtype: d for d in ALL_DTYPES}
# The Python types TF's as_dtype maps; `int`, `str` and `bytes` it refuses.
_BY_PYTHON_TYPE = {float: float32, bool: bool_, object: string}
# DTypes TF has and graphc does not, named so the error says which is missing.
_UNSUPPORTED_TF_NAMES = ("uint32", "uint64", "bfloat16", "complex64", "complex128", "qint8", "quint8", "qint16",
                         "quint16", "qint32", "resource", "variant")


def as_dtype(value) -> DType:
    """`tf.as_dtype`: the DType of a DType, TF name, NumPy type or dtype, Python type or DataType enum.

    Raises TypeError, as TF does, for anything else (`"int"`, `int`, `str`, `"f32"`, `None`).
    """
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        if value in _BY_TF_NAME:
            return _BY_TF_NAME[value]
        if value in _UNSUPPORTED_TF_NAMES or value.endswith("_ref"):
            raise TypeError(f"graphc does not support the TensorFlow DType {value!r} "
                            f"(supported: {', '.join(d.name for d in _EVERY_DTYPE)})")
        raise TypeError(f"Cannot convert value {value!r} to a TensorFlow DType.")
    if isinstance(value, type) and value in _BY_PYTHON_TYPE:
        return _BY_PYTHON_TYPE[value]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value) in _BY_ENUM:
        return _BY_ENUM[int(value)]
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        np_dtype = np.dtype(value)
        if np_dtype.kind in "OSU":
            return string
        if np_dtype in _BY_NUMPY:
            return _BY_NUMPY[np_dtype]
        raise TypeError(f"graphc does not support the NumPy type {np_dtype} "
                        f"(supported: {', '.join(d.name for d in _EVERY_DTYPE)})")
    raise TypeError(f"Cannot convert value {value!r} to a TensorFlow DType.")


def from_ir_name(name: str) -> DType:
    """The DType the IR spells `name` (`f32`, `u8`, `bool`): how the IR parser reads types."""
    try:
        return _BY_IR_NAME[name]
    except KeyError:
        raise ValueError(f"{name!r} names no IR element type") from None


def _is_text(value) -> bool:
    return isinstance(value, (str, bytes, np.str_, np.bytes_))


def dtype_of_value(value) -> DType:
    """The dtype TF1 gives a constant built from `value`: Python floats are float32, Python ints
    int32 (int64 when one does not fit), str and bytes string, NumPy values keep their dtype."""
    if isinstance(value, np.ndarray | np.generic):
        if value.dtype.kind == "O" and not all(_is_text(v) for v in np.asarray(value).flat):
            raise TypeError(f"Cannot convert {value!r} to a tensor: an object array holds non-strings")
        return as_dtype(value.dtype)
    if _is_text(value):
        return string
    array = np.asarray(value)
    if array.dtype.kind in "SU":
        return string
    if array.dtype.kind == "b":
        return bool_
    if array.dtype.kind in "iu":
        if array.size and (array.min() < np.iinfo(np.int32).min or array.max() > np.iinfo(np.int32).max):
            return int64
        return int32
    if array.dtype.kind == "f":
        return float32
    raise TypeError(f"Cannot convert {value!r} to a tensor: unsupported element type {array.dtype}")


def as_string_array(value) -> np.ndarray:
    """`value` (str, bytes, nested lists or arrays of them) as TF1 holds strings: an object array of
    bytes, str encoded as UTF-8. Raises TypeError for a non-string element."""
    source = np.asarray(value, dtype=object)
    result = np.empty(source.shape, dtype=object)
    for index, item in np.ndenumerate(source):
        if isinstance(item, (str, np.str_)):
            result[index] = str(item).encode("utf-8")
        elif isinstance(item, (bytes, np.bytes_)):
            result[index] = bytes(item)
        else:
            raise TypeError(f"Expected binary or unicode string, got {item!r}")
    return result


def all_elements_identical(array: np.ndarray) -> bool:
    """Whether every element of `array` has one bit pattern: +0.0 and -0.0 differ (1 / x tells them
    apart), a NaN is identical to itself. An empty array has no two elements that differ."""
    flat = np.ascontiguousarray(array).reshape(-1)
    if flat.dtype.kind == "f":
        flat = flat.view(f"u{flat.itemsize}")
    return bool(np.all(flat == flat[0])) if flat.size else True
