"""TensorFlow's DataType enum (types.proto) as checkpoints store it, and TF's names of the types.

The checkpoint index stores a tensor's type as this enum; TF's restore errors
name types as it does ("expected dtype double does not equal original dtype
float"). Kept apart from `core.dtypes`: a checkpoint may hold types no graphc
Variable has (int8, float16 ...), which can still be listed and loaded.
"""

from __future__ import annotations

import numpy as np

# enum value -> (TF's name, the NumPy dtype, little-endian; None where NumPy has none).
DATA_TYPES = {
    1: ("float", np.dtype("<f4")), 2: ("double", np.dtype("<f8")), 3: ("int32", np.dtype("<i4")),
    4: ("uint8", np.dtype("u1")), 5: ("int16", np.dtype("<i2")), 6: ("int8", np.dtype("i1")), 7: ("string", None),
    8: ("complex64", np.dtype("<c8")), 9: ("int64", np.dtype("<i8")), 10: ("bool", np.dtype("?")),
    14: ("bfloat16", None), 17: ("uint16", np.dtype("<u2")), 18: ("complex128", np.dtype("<c16")),
    19: ("half", np.dtype("<f2")), 20: ("resource", None), 21: ("variant", None), 22: ("uint32", np.dtype("<u4")),
    23: ("uint64", np.dtype("<u8")),
}
_ENUM_OF_NUMPY = {dtype: value for value, (_, dtype) in DATA_TYPES.items() if dtype is not None}


def enum_of(dtype: np.dtype):
    """The DataType enum value of a NumPy dtype, or None if TensorFlow has no such type."""
    return _ENUM_OF_NUMPY.get(np.dtype(dtype).newbyteorder("<"))


def type_name(dtype: np.dtype) -> str:
    """TensorFlow's name of a NumPy dtype ("float" for float32), as its checkpoint errors write it."""
    value = enum_of(dtype)
    return DATA_TYPES[value][0] if value is not None else np.dtype(dtype).name
