"""The `Const` op and the arrays it holds: the one op every graph can build by itself.

`convert_to_tensor` (frontend/graph.py, beside `tf.constant`) turns Python values and
arrays into Const ops, so the frontend defines and registers Const itself rather than
asking an op family for it. A constant holds a read-only array; a splat (every element
of one bit pattern: [0.0, -0.0] is none) keeps one element as a broadcast view, so
`tf.zeros([100000, 100000])` allocates nothing.
"""

from __future__ import annotations

import numpy as np

from graphc.core import dtypes, registry
from graphc.core.registry import NOT_DIFFERENTIABLE, OpDef, Role, TensorType
from graphc.core.tensor_shape import TensorShape, as_dims, num_elements


def _const_infer(types, attrs):
    value = attrs["value"]
    return TensorType(dtypes.as_dtype(value.dtype), tuple(value.shape))


const_p = registry.register(OpDef(
    name="constant", tf_type="Const", infer=_const_infer, role=Role.CONSTANT,
    reference=lambda value: value, gradient=NOT_DIFFERENTIABLE))


_NUMPY_VALUES = (np.ndarray, np.generic)


def make_constant_array(value, dtype=None, shape=None) -> np.ndarray:
    """The read-only array a Const holds; a splat keeps one element (a broadcast view)."""
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
    if isinstance(value, TensorShape):
        if not value.is_fully_defined():
            raise ValueError(f"Cannot convert a partially known TensorShape {value} to a Tensor.")
        value = value.as_list()
    inferred = dtypes.dtype_of_value(value) if dtype is None else dtype
    if inferred is dtypes.string:  # an object array of bytes, as TF1 fetches strings
        array = _shaped(dtypes.as_string_array(value), shape, inferred)
        array.flags.writeable = False
        return array
    source = np.asarray(value)
    if source.dtype.kind in "USO" and source.size and all(isinstance(v, (str, bytes)) for v in source.flat):
        raise TypeError(f"Expected {inferred.name}, but got {value} of type '{type(value).__name__}'.")
    if source.dtype == object and dtype is not None and dtype.is_numeric:
        # Python ints beyond 64 bits (OverflowError, as TF1 raises; or floats) and sizes (Dimension) by value.
        source = np.asarray(value, dtype=np.int64 if dtype.is_integer else np.float64)
    if source.dtype == object:
        raise ValueError(f"Cannot make a constant from a ragged or mixed value: {value!r}")
    if (dtype is not None and dtype.is_integer and source.dtype.kind == "f" and source.size
            and not isinstance(value, _NUMPY_VALUES)):  # TF1 casts NumPy floats to integers, never Python floats
        raise TypeError(f"Expected {dtype.name}, but got {value!r} of type '{type(value).__name__}'.")
    if inferred.is_integer and source.dtype.kind in "iub" and source.size:
        info = np.iinfo(inferred.np_dtype)
        if source.min() < info.min or source.max() > info.max:
            raise ValueError(f"Value {value!r} does not fit in {inferred.name}")
    array = _shaped(source.astype(inferred.np_dtype, copy=False), shape, inferred)
    splat = array.size > 1 and array.strides == (0,) * array.ndim
    if array.size > 1 and not splat and dtypes.all_elements_identical(array):
        array = np.broadcast_to(array.flat[0], array.shape)
    elif not splat:  # a splat stays one element: tf.zeros([100000, 100000]) allocates nothing here
        array = np.array(array, copy=True) if array.flags.writeable or not array.flags.c_contiguous else array
    if array.flags.writeable:
        array.flags.writeable = False
    return array


def _shaped(array: np.ndarray, shape, dtype) -> np.ndarray:
    """`array` given `shape` as TF1 does: a scalar broadcast, a short list padded with its last element."""
    if shape is not None:
        dims = as_dims(shape)
        count = num_elements(dims)
        if count * dtype.size > np.iinfo(np.int64).max:
            raise ValueError(f"Cannot create a tensor of shape {list(dims)} and type {dtype.name}: "
                             f"its {count} elements overflow a 64-bit byte count")
        if array.size == 1:
            array = np.broadcast_to(array.reshape(()), dims)
        elif array.size == count:
            array = array.reshape(dims)
        elif 0 < array.size < count:
            # TF1 pads a short list with its last element.
            flat = array.reshape(-1)
            array = np.concatenate([flat, np.repeat(flat[-1:], count - flat.size)]).reshape(dims)
        else:
            raise TypeError(f"Expected Tensor's shape: {tuple(dims)}, got {array.shape}.")
    return array
