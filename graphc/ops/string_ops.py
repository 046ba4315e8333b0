"""String ops: `tf.strings.join` (TF1's `tf.string_join`), run on the host.

Strings are host data (graphc/host_fetches.py): StringJoin is a HOST op whose
host function joins the values of its inputs, element by element, as TF1's
kernel does. It concatenates bytes, no arithmetic, so it never needs native code.
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.core import dtypes, registry
from graphc.core.registry import NOT_DIFFERENTIABLE, DTypeError, OpDef, Role, ShapeError, TensorType
from graphc.core.tensor_shape import format_dims_as_list, merge_dims
from graphc.frontend.graph import apply_op


def _join_infer(types, attrs):
    if any(t.dtype is not dtypes.string for t in types):
        raise DTypeError(f"Tensors in list passed to 'inputs' of 'StringJoin' Op have types "
                         f"[{', '.join(t.dtype.name for t in types)}] that do not match expected type string.")
    dims = ()
    for t in types:
        if t.dims == ():
            continue  # scalars join every element
        merged = merge_dims(None if dims == () else dims, t.dims)
        if not isinstance(merged, tuple) and merged is not None:
            raise ShapeError(f"Shapes {format_dims_as_list(dims)} and {format_dims_as_list(t.dims)} must be equal")
        dims = merged
    return TensorType(dtypes.string, dims)


def _join(op, inputs):
    """Each element of the result: the inputs' elements joined by the separator (scalars repeat)."""
    arrays = [np.asarray(value, dtype=object) for value in inputs]
    shapes = {a.shape for a in arrays if a.ndim}
    if len(shapes) > 1:
        raise errors.InvalidArgumentError(
            None, op, f"Input shapes do not match: {' vs. '.join(format_dims_as_list(s) for s in sorted(shapes))}")
    shape = shapes.pop() if shapes else ()
    separator = op.attrs["separator"].encode("utf-8")
    result = np.empty(shape, dtype=object)
    for index in np.ndindex(shape):
        result[index] = separator.join(a[index] if a.ndim else a[()] for a in arrays)
    return result


string_join_p = registry.register(OpDef(
    name="string_join", tf_type="StringJoin", infer=_join_infer, role=Role.HOST, gradient=NOT_DIFFERENTIABLE,
    host_function=_join))


def join(inputs, separator="", name=None):
    """`tf.strings.join`: the elementwise concatenation of string tensors (scalars repeat), with `separator`."""
    return apply_op("string_join", list(inputs), {"separator": separator}, name=name)
