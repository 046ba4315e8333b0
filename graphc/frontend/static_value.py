"""Values known before a run: TF1's `constant_value`, and compile-time shape arguments.

Some op inputs must be known when a step is compiled — reshape's target shape, a
reduction's axes, the dimensions of a `fill`. They are ordinary graph tensors
(often a `Const`, or `tf.shape(x)` in gradient graphs), evaluated here with the
ops' NumPy reference implementations. The same evaluator serves shape inference
while a graph is built (partial shapes: it may answer None) and lowering
(concrete shapes: lowering turns None into an error).
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from graphc.core.registry import Role
from graphc.core.tensor_shape import Dims

# Evaluating a big constant subgraph at build time would cost more than it gives.
_MAX_ELEMENTS = 1 << 16


def static_value(tensor, dims_of: Callable[[object], Dims], memo: Optional[dict] = None):
    """The value of `tensor` if it can be computed without running the graph, else None.

    `dims_of(tensor)` gives the best known shape of any tensor. Const is a leaf;
    shape-only ops (Shape, Size, Rank) ask their `shape_function`; Identity and
    StopGradient give their input's value; other
    stateless ops run their reference implementation once all inputs are known.
    """
    if memo is None:
        memo = {}
    key = id(tensor)
    if key not in memo:
        memo[key] = _evaluate(tensor, dims_of, memo)
    return memo[key]


def _evaluate(tensor, dims_of, memo):
    op = tensor.op
    op_def = op.op_def
    if op_def.role is Role.CONSTANT:
        return op.attrs["value"]
    captured = getattr(tensor.graph, "captured_tensor", None)
    if captured is not None and captured(tensor) is not None:  # a function's capture: the outer tensor's value
        return static_value(captured(tensor), dims_of, memo)
    if op_def.shape_only_inputs:
        return op_def.shape_function(dims_of(op.inputs[tensor.value_index]), **op.attrs)  # ShapeN: one each
    if op_def.role is Role.FORWARD:  # Identity, StopGradient: their input's value
        return static_value(op.inputs[0], dims_of, memo)
    if op_def.effects.stateful or op_def.reference is None:
        return None
    dims = dims_of(tensor)
    if dims is not None and None not in dims and int(np.prod(dims, dtype=np.int64)) > _MAX_ELEMENTS:
        return None
    values = []
    for t in op.inputs:
        v = static_value(t, dims_of, memo)
        if v is None:
            return None
        values.append(np.asarray(v))
    n_data = len(values) - len(op_def.static_inputs)
    attrs = dict(op.attrs)
    attrs.update(zip(op_def.static_inputs, values[n_data:]))
    result = op_def.reference(*values[:n_data], **attrs)
    if len(op.outputs) > 1:
        result = result[tensor.value_index]
    return np.asarray(result, dtype=tensor.dtype.np_dtype)


def static_shape_value(tensor, dims_of: Callable[[object], Dims], memo: Optional[dict] = None):
    """A shape-valued tensor's value where known, with None for unknown sizes (TF1's
    `constant_value_as_shape`): `tf.shape(x)` of x with shape (?, 3) gives (None, 3)."""
    value = static_value(tensor, dims_of, memo)
    if value is not None:
        return value
    if tensor.op.type == "Shape":
        dims = dims_of(tensor.op.inputs[0])
        return None if dims is None else tuple(dims)
    return None
