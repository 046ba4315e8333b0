"""`tf.nn.top_k`: the k largest entries of each row (the last dimension) and their int32 indices.

TF's TopKV2 is one op with two outputs; graphc's IR instructions have one result each, so it
is two ops computed by one kernel code (backend/kernels/top_k.py): `top_k` (the values,
graph type TopKV2) and `top_k_indices`. The order is TF's: descending values, ties to the
lower index (0.0 and -0.0 tie). NaN, which TF's CPU kernel leaves in no consistent order,
ranks below every number here. `sorted=False` leaves the order to the implementation in
TF; graphc always sorts.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from graphc.core import dtypes, registry, rules
from graphc.core.registry import NOT_DIFFERENTIABLE, OpDef, ShapeError, TensorType
from graphc.core.rules import NUMERIC_TYPES
from graphc.frontend.graph import apply_op, convert_to_tensor, name_scope
from graphc.ops import array_ops, layout_ops, math_ops

TopKV2 = namedtuple("TopKV2", ["values", "indices"])


def _top_k_infer(result_dtype):
    def infer(types, attrs):
        x = types[0]
        dtype = rules.same_dtype(types, NUMERIC_TYPES)
        k = attrs["k"]
        if k is not None and np.ndim(k) != 0:
            raise ShapeError(f"Shape must be rank 0 but is rank {np.ndim(k)} (k)")
        k = None if k is None else int(k)
        if k is not None and k < 0:
            raise ShapeError(f"Dimension size, given by scalar input 1, must be non-negative but is {k}")
        if x.dims is None:
            return TensorType(result_dtype or dtype, None)
        if not x.dims:
            raise ShapeError("Shape must be at least rank 1 but is rank 0")
        last = x.dims[-1]
        if k is not None and last is not None and last < k:
            raise ShapeError(f"input must have last dimension >= k = {k} but is {last}")
        return TensorType(result_dtype or dtype, x.dims[:-1] + (k,))

    return infer


def top_k_order(x, k):
    """Indices of the k first of each row of x in TF's order (descending, ties to the lower index,
    NaN last): a stable sort, on NaN-ness first, then on the values reversed."""
    if x.dtype.kind == "f":
        nan = np.isnan(x)
        reversed_values = np.where(nan, 0.0, -x.astype(np.float64))
    else:  # ~v = -v - 1 reverses the order of int64 and never overflows
        nan, reversed_values = np.zeros(x.shape, bool), ~x.astype(np.int64)
    return np.lexsort((reversed_values, nan), axis=-1)[..., :int(k)]


def _top_k_reference(x, k, sorted):
    return np.take_along_axis(x, top_k_order(x, k), axis=-1)


def _top_k_indices_reference(x, k, sorted):
    return top_k_order(x, k).astype(np.int32)


top_k_p = registry.register(OpDef(name="top_k", tf_type="TopKV2", infer=_top_k_infer(None), static_inputs=("k",),
                                  reference=_top_k_reference, tf_extra_outputs=("top_k_indices",)))
top_k_indices_p = registry.register(OpDef(
    name="top_k_indices", tf_type="TopKV2Indices", infer=_top_k_infer(dtypes.int32), static_inputs=("k",),
    reference=_top_k_indices_reference, gradient=NOT_DIFFERENTIABLE))


@registry.set_gradient(top_k_p)
def _top_k_grad(op, grad):
    """TF's rule, the gradient of each value sent back to its index: a one-hot [..., k, n] of the
    indices selects, and a Sum over k adds (at most one nonzero term per element)."""
    x, k = op.inputs
    indices = apply_op("top_k_indices", [x, k], dict(op.attrs))
    hot = array_ops.cast(layout_ops.one_hot(indices, array_ops.shape(x)[-1], dtype=dtypes.int32), dtypes.bool_)
    chosen = math_ops.where(hot, layout_ops.expand_dims(grad, -1), array_ops.zeros_like(hot, dtype=grad.dtype))
    return [math_ops.reduce_sum(chosen, -2), None]


def top_k(input, k=1, sorted=True, name=None):  # noqa: A002 - TF1's names
    """`tf.nn.top_k`: (values, indices) of the k largest entries along the last dimension."""
    x = convert_to_tensor(input)
    k = convert_to_tensor(k, dtype=None if hasattr(k, "dtype") else dtypes.int32, graph=x.graph)
    attrs = {"sorted": bool(sorted)}
    values = apply_op("top_k", [x, k], attrs, name=name or "TopKV2")
    with name_scope(values.op.name + "/"):  # the values op's own scope, reentered
        return TopKV2(values, apply_op("top_k_indices", [x, k], attrs, name="indices"))
