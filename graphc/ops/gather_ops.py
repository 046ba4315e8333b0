"""Index ops: `tf.gather` (GatherV2), `tf.gather_nd` and `tf.unsorted_segment_sum`, the dense
scatter-add both gathers' gradients are made of.

Gradient semantics: TF1 returns a gather's gradient as IndexedSlices (the rows of dy and their
indices), which becomes a dense tensor (an UnsortedSegmentSum) wherever it meets an op that needs
one. graphc's steps hold dense tensors only, so the gradient is that dense scatter-add at once: rows
of dy added, in index order, into zeros of the params' shape (one fixed order, so the sums are the
same on every run). Optimizers then update every row of an embedding; rows no index reached get a
zero gradient (plain SGD leaves them as they were; Adam's moments decay, as TF1's dense Adam does).

An index out of range fails the run with TF's InvalidArgumentError, naming the index, as TF's CPU
kernels do; so the ops `may_fail`. Each is an OPAQUE kernel of its own
(backend/kernels/gather.py).
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.core import dtypes, registry, rules
from graphc.core.messages import (gather_nd_of_empty_params, gather_nd_out_of_range, gather_out_of_range,
                                  segment_out_of_range)
from graphc.core.registry import DTypeError, Effects, FusionClass, OpDef, ShapeError, TensorType
from graphc.frontend.graph import apply_op, convert_to_tensor, name_scope
from graphc.frontend.static_value import static_value
from graphc.ops import array_ops, layout_ops, math_ops, scan_ops

_CHECKED = Effects(may_fail=True)
_NUMERIC_CORE = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)


def _index_dtype(t: TensorType, what: str):
    if t.dtype not in rules.INDEX_TYPES:
        raise DTypeError(f"Value passed to parameter '{what}' has DataType {t.dtype.name} not in list of allowed "
                         "values: int32, int64")


def _static_int(value):
    """A static scalar input as an int (None while unknown)."""
    if value is None or (isinstance(value, tuple) and None in value):
        return None
    return int(np.asarray(value).reshape(-1)[0])


# -- GatherV2 ----------------------------------------------------------------------------------------


def _gather_infer(types, attrs):
    params, indices = types
    _index_dtype(indices, "indices")
    axis = _static_int(attrs["axis"])
    if params.dims is None or indices.dims is None or axis is None:
        return TensorType(params.dtype, None)
    rank = len(params.dims)
    if not -rank <= axis < rank:
        raise ShapeError(f"Shape must be at least rank {axis + 1 if axis >= 0 else -axis} but is rank {rank}")
    axis %= rank
    return TensorType(params.dtype, params.dims[:axis] + indices.dims + params.dims[axis + 1:])


def _gather_reference(params, indices, axis):
    axis = int(axis) % params.ndim
    limit = params.shape[axis]
    flat = indices.reshape(-1)
    bad = (flat < 0) | (flat >= limit)
    others = params.shape[:axis] + params.shape[axis + 1:]
    if 0 in others:  # an empty result: TF checks no index
        return np.zeros(params.shape[:axis] + indices.shape + params.shape[axis + 1:], params.dtype)
    if np.any(bad):
        position = int(np.argmax(bad))
        raise errors.InvalidArgumentError(None, None, gather_out_of_range(position, int(flat[position]), limit))
    return np.take(params, indices, axis=axis)


# Graph inputs (params, indices, axis): the axis is known when compiling.
gather_p = registry.register(OpDef(
    name="gather", tf_type="GatherV2", infer=_gather_infer, fusion=FusionClass.OPAQUE, static_inputs=("axis",),
    effects=_CHECKED, reference=_gather_reference, compiled_dtypes=dtypes.ALL_DTYPES))


# -- UnsortedSegmentSum ------------------------------------------------------------------------------


def _segment_sum_infer(types, attrs):
    data, ids = types
    _index_dtype(ids, "segment_ids")
    rules.same_dtype([data], rules.NUMERIC_TYPES)
    count = _static_int(attrs["num_segments"])
    if data.dims is None or ids.dims is None:
        return TensorType(data.dtype, None)
    if len(ids.dims) > len(data.dims) or any(a is not None and b is not None and a != b
                                             for a, b in zip(data.dims, ids.dims)):
        raise ShapeError(f"data.shape = {list(data.dims)} does not start with segment_ids.shape = "
                         f"{list(ids.dims)}")
    return TensorType(data.dtype, (count,) + data.dims[len(ids.dims):])


def _segment_sum_reference(data, segment_ids, num_segments):
    count = _static_int(num_segments)
    ids = segment_ids.reshape(-1)
    rows = data.reshape((ids.size,) + data.shape[segment_ids.ndim:])
    bad = ids >= count
    if np.any(bad):
        position = int(np.argmax(bad))
        raise errors.InvalidArgumentError(None, None, segment_out_of_range(position, int(ids[position]), count))
    out = np.zeros((count,) + rows.shape[1:], data.dtype)
    kept = ids >= 0  # TF drops negative ids
    np.add.at(out, ids[kept], rows[kept])  # in index order, as the kernel adds
    return out


# Graph inputs (data, segment_ids, num_segments): the count is known when compiling.
unsorted_segment_sum_p = registry.register(OpDef(
    name="unsorted_segment_sum", tf_type="UnsortedSegmentSum", infer=_segment_sum_infer,
    fusion=FusionClass.OPAQUE, static_inputs=("num_segments",), effects=_CHECKED,
    reference=_segment_sum_reference, compiled_dtypes=_NUMERIC_CORE))


# -- GatherNd ----------------------------------------------------------------------------------------


def _gather_nd_infer(types, attrs):
    params, indices = types
    _index_dtype(indices, "indices")
    if params.dims is None or indices.dims is None or indices.dims[-1:] == (None,):
        return TensorType(params.dtype, None)
    if not indices.dims:
        raise ShapeError("Shape must be at least rank 1 but is rank 0")
    depth = indices.dims[-1]
    if depth > len(params.dims):
        raise ShapeError(f"indices.shape[-1] must be <= params.rank, but saw indices shape: {list(indices.dims)} "
                         f"and params shape: {list(params.dims)}")
    return TensorType(params.dtype, indices.dims[:-1] + params.dims[depth:])


def _gather_nd_reference(params, indices):
    depth = indices.shape[-1]
    tuples = indices.reshape(-1, depth)
    if len(tuples) and not params.size:
        raise errors.InvalidArgumentError(None, None, gather_nd_of_empty_params(params.shape))
    for position, index in enumerate(tuples):
        for component, (i, size) in enumerate(zip(index, params.shape)):
            if not 0 <= i < size:
                message = gather_nd_out_of_range(params.shape[:depth]) % (position, component, int(i))
                raise errors.InvalidArgumentError(None, None, message)
    picked = params[tuple(tuples.T)] if depth else np.broadcast_to(params, (len(tuples),) + params.shape)
    return picked.reshape(indices.shape[:-1] + params.shape[depth:])


gather_nd_p = registry.register(OpDef(
    name="gather_nd", tf_type="GatherNd", infer=_gather_nd_infer, fusion=FusionClass.OPAQUE, effects=_CHECKED,
    reference=_gather_nd_reference, compiled_dtypes=dtypes.ALL_DTYPES))


# -- gradients ---------------------------------------------------------------------------------------


def _leading_count(dims, count):
    """The product of the first `count` entries of the shape vector `dims`, as a one-element vector
    (not -1 in a reshape: a tensor of no elements leaves -1 undetermined)."""
    return math_ops.reduce_prod(dims[:count], keepdims=True)


@registry.set_gradient(gather_p)
def _gather_grad(op, grad):
    """The dense form of TF1's IndexedSlices: dy's rows added into zeros at their indices."""
    params, indices, axis = op.inputs
    axis = _static_int(static_value(axis, lambda t: t._dims))
    if axis is None:
        raise errors.UnimplementedError(None, op, f"graphc differentiates {op.name} only along a constant axis")
    rank = params.shape.ndims
    axis %= rank
    params_shape = array_ops.shape(params)
    flat_indices = array_ops.reshape(indices, [-1])
    count = array_ops.shape(flat_indices)
    outer, limit, inner = params_shape[:axis], params_shape[axis:axis + 1], params_shape[axis + 1:]
    if axis == 0:
        rows = array_ops.reshape(grad, layout_ops.concat([count, inner], 0))
        summed = unsorted_segment_sum(rows, flat_indices, limit[0])
        return [array_ops.reshape(summed, params_shape), None, None]
    # Move the gathered axis first, add, and move it back (TF1's gather gradient transposes likewise).
    grouped = array_ops.reshape(grad, layout_ops.concat([_leading_count(params_shape, axis), count, inner], 0))
    swap = [1, 0] + list(range(2, 2 + rank - axis - 1))
    summed = unsorted_segment_sum(array_ops.transpose(grouped, swap), flat_indices, limit[0])
    return [array_ops.reshape(array_ops.transpose(summed, swap), params_shape), None, None]


@registry.set_gradient(unsorted_segment_sum_p)
def _segment_sum_grad(op, grad):
    """Each data row gets the gradient of its segment; rows of negative ids, which were dropped, get zeros."""
    ids = op.inputs[1]
    kept = math_ops.greater_equal(ids, array_ops.zeros_like(ids))
    picked = gather(grad, math_ops.maximum(ids, array_ops.zeros_like(ids)))
    mask = array_ops.cast(kept, grad.dtype)
    extra = picked.shape.ndims - ids.shape.ndims if picked.shape.ndims is not None else 0
    for _ in range(extra):
        mask = layout_ops.expand_dims(mask, -1)
    return [picked * mask, None, None]


@registry.set_gradient(gather_nd_p)
def _gather_nd_grad(op, grad):
    """dy's slices added into zeros of the params' shape at their index tuples (flat row numbers of
    the indexed leading axes, through unsorted_segment_sum)."""
    params, indices = op.inputs
    depth = indices.shape.as_list()[-1]
    params_shape = array_ops.shape(params, out_type=indices.dtype)
    indexed = params_shape[:depth]
    strides = scan_ops.cumprod(indexed, exclusive=True, reverse=True)
    flat = math_ops.reduce_sum(indices * strides, -1)
    rows = array_ops.reshape(grad, layout_ops.concat([_leading_count(array_ops.shape(grad), indices.shape.ndims - 1),
                                                      array_ops.shape(params)[depth:]], 0))
    count = math_ops.reduce_prod(indexed)
    summed = unsorted_segment_sum(rows, array_ops.reshape(flat, [-1]), count)
    return [array_ops.reshape(summed, array_ops.shape(params)), None]


# -- public builders ---------------------------------------------------------------------------------


def gather(params, indices, validate_indices=None, name=None, axis=None, batch_dims=0):
    """`tf.gather`: slices of `params` along `axis` (default 0) at `indices` (any shape), GatherV2."""
    if batch_dims != 0:
        raise errors.UnimplementedError(None, None, "graphc's tf.gather has no batch_dims (GatherV2 with "
                                                    f"batch_dims={batch_dims}); only batch_dims=0")
    with name_scope(name, "GatherV2", [params, indices]) as scope:
        params = convert_to_tensor(params, name="params")
        indices = convert_to_tensor(indices, name="indices")
        axis = convert_to_tensor(0 if axis is None else axis, dtype=indices.dtype if not hasattr(axis, "dtype")
                                 else None, name="axis")
        return apply_op("gather", [params, indices, axis], name=scope)


def gather_nd(params, indices, name=None, batch_dims=0):
    """`tf.gather_nd`: the slices of `params` at the index tuples along `indices`' last axis."""
    if batch_dims != 0:
        raise errors.UnimplementedError(None, None, f"graphc's tf.gather_nd has no batch_dims (got {batch_dims})")
    with name_scope(name, "GatherNd", [params, indices]) as scope:
        return apply_op("gather_nd", [convert_to_tensor(params, name="params"),
                                      convert_to_tensor(indices, name="indices")], name=scope)


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    """`tf.unsorted_segment_sum`: rows of `data` added into `num_segments` rows by `segment_ids`
    (negative ids are dropped, ids past the count fail the run)."""
    with name_scope(name, "UnsortedSegmentSum", [data, segment_ids, num_segments]) as scope:
        data = convert_to_tensor(data, name="data")
        segment_ids = convert_to_tensor(segment_ids, name="segment_ids")
        count = convert_to_tensor(num_segments, dtype=None if hasattr(num_segments, "dtype") else segment_ids.dtype,
                                  name="num_segments")
        return apply_op("unsorted_segment_sum", [data, segment_ids, count], name=scope)
