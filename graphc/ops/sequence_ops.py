"""Sequence helpers of TF1's array API: `tf.range`, `tf.tile`, `tf.reverse`, `tf.reverse_sequence`
and `tf.sequence_mask`.

Tile is an op of its own (TF's training graphs contain it: the gradient of a mean), with a
kernel copying the input into each repetition and TF's gradient, the sum of the copies. The
others are built from ops graphc compiles already, so each gets its kernels, its fusion and its
gradient from them: reverse is a strided slice of step -1; reverse_sequence a gather_nd of each
sequence's reversed positions; sequence_mask a comparison with a range. The graph shows those
ops rather than TF's ReverseV2 and ReverseSequence.

Range (ops/math_ops.py) is a value known when the step compiles: its bounds are constants or
shapes, as in every RNN and loss program; bounds known only when the step runs would give it a
shape that depends on values, which lowering refuses, saying so.
"""

from __future__ import annotations

import builtins

import numpy as np

from graphc.core import dtypes, registry
from graphc.core.registry import FusionClass, OpDef, ShapeError, TensorType
from graphc.core.rules import INDEX_TYPES
from graphc.frontend.graph import Tensor, apply_op, convert_to_tensor, name_scope
from graphc.frontend.static_value import static_value
from graphc.ops import array_ops, gather_ops, layout_ops, math_ops

# TF's order for the dtype `tf.range` infers from its arguments: the widest of them.
_RANGE_DTYPES = (dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float64)


def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001 - TF1's name
    """`tf.range`: start, start + delta, ... up to (not including) limit; `tf.range(n)` counts from 0.
    Without `dtype`, the widest dtype of the arguments (int32 < int64 < float32 < float64)."""
    if limit is None:
        start, limit = 0, start
    with name_scope(name, "Range", [start, limit, delta]) as scope:
        given = dtypes.as_dtype(dtype) if dtype is not None else None
        tensors = [convert_to_tensor(v, dtype=None if isinstance(v, Tensor) else given, name=what)
                   for v, what in ((start, "start"), (limit, "limit"), (delta, "delta"))]
        if given is None:
            given = max((t.dtype for t in tensors), key=lambda d: _RANGE_DTYPES.index(d)
                        if d in _RANGE_DTYPES else len(_RANGE_DTYPES))
        tensors = [t if t.dtype is given else array_ops.cast(t, given) for t in tensors]
        return apply_op("range", tensors, {"Tidx": given}, name=scope)


def _dims(tensor):
    """The sizes of `tensor` as scalars: Python ints where known, else entries of tf.shape."""
    shape = None
    sizes = []
    for i, d in enumerate(tensor.shape.as_list()):
        if d is None:
            shape = array_ops.shape(tensor) if shape is None else shape
            d = shape[i]
        sizes.append(d)
    return sizes


def _tile_infer(types, attrs):
    x, multiples = types[0], attrs["multiples"]
    if multiples is None:
        return TensorType(x.dtype, None if x.dims is None else (None,) * len(x.dims))
    # partly known while a graph is built (a tuple with None for each unknown entry)
    multiples = [None if m is None else int(m) for m in
                 (multiples if isinstance(multiples, tuple) else np.asarray(multiples).reshape(-1).tolist())]
    if x.dims is None:
        return TensorType(x.dtype, (None,) * len(multiples))
    if len(multiples) != len(x.dims):
        raise ShapeError(f"Expected multiples argument to be a vector of length {len(x.dims)} but got length "
                         f"{len(multiples)}")
    for i, m in enumerate(multiples):
        if m is not None and m < 0:
            raise ShapeError(f"Expected multiples[{i}] >= 0, but got {m}")
    return TensorType(x.dtype, tuple(None if d is None or m is None else d * m for d, m in zip(x.dims, multiples)))


def _tile_reference(x, multiples):
    return np.tile(x, tuple(int(m) for m in np.asarray(multiples).reshape(-1)))


# Graph inputs (input, multiples), as TF's; multiples must be known when the step compiles.
tile_p = registry.register(OpDef(
    name="tile", tf_type="Tile", infer=_tile_infer, fusion=FusionClass.OPAQUE, static_inputs=("multiples",),
    reference=_tile_reference))


@registry.set_gradient(tile_p)
def _tile_grad(op, grad):
    """TF's TileGrad: the gradient seen as [multiples[0], size[0], multiples[1], size[1] ...], summed over the
    repetitions."""
    x, multiples = op.inputs
    rank = x.shape.ndims
    sizes = _dims(x)
    known = static_value(multiples, lambda t: t._dims)
    counts = ([int(m) for m in known] if known is not None and None not in tuple(known)
              else [multiples[i] for i in builtins.range(rank)])
    spread = [v for pair in zip(counts, sizes) for v in pair]
    if all(isinstance(v, int) for v in spread):
        split = array_ops.reshape(grad, spread)
    else:
        split = array_ops.reshape(grad, layout_ops.stack([array_ops.cast(v, dtypes.int32) for v in spread]))
    summed = math_ops.reduce_sum(split, list(builtins.range(0, 2 * rank, 2))) if rank else grad
    return [array_ops.reshape(summed, array_ops.shape(x)) if rank else summed, None]


def tile(input, multiples, name=None):  # noqa: A002 - TF1's name
    """`tf.tile`: `input` repeated multiples[i] times along each axis i (the multiples known when the
    step compiles)."""
    with name_scope(name, "Tile", [input, multiples]) as scope:
        input = convert_to_tensor(input, name="input")
        rank = input.shape.ndims
        if rank is None:
            raise ValueError(f"tf.tile needs the rank of {input.name}")
        multiples = convert_to_tensor(multiples, dtype=None if hasattr(multiples, "dtype") else dtypes.int32,
                                      name="multiples")
        if multiples.dtype not in INDEX_TYPES:
            raise TypeError(f"Value passed to parameter 'multiples' has DataType {multiples.dtype.name} not in "
                            "list of allowed values: int32, int64")
        if multiples.shape.as_list() != [rank]:
            raise ValueError(f"Shape must be rank 1 with {rank} entries (multiples of a rank-{rank} input), "
                             f"but is {multiples.shape} for '{scope}'")
        return apply_op("tile", [input, multiples], name=scope)


def reverse(tensor, axis, name=None):
    """`tf.reverse` (ReverseV2): `tensor` with the order of its elements reversed along each of `axis`."""
    with name_scope(name, "ReverseV2", [tensor]):
        tensor = convert_to_tensor(tensor, name="tensor")
        rank = tensor.shape.ndims
        axes = np.asarray(static_value(convert_to_tensor(axis), lambda t: t._dims)).reshape(-1).tolist()
        for a in axes:
            if not -rank <= a < rank:
                raise ValueError(f"'axis'[{axes.index(a)}] = {a} is out of valid range [{-rank}, {rank - 1}]")
        flipped = {a % rank for a in axes}
        if len(flipped) != len(axes):
            raise ValueError(f"axis {axes} specified more than once")
        return tensor[tuple(builtins.slice(None, None, -1) if i in flipped else builtins.slice(None)
                            for i in builtins.range(rank))]


def reverse_sequence(input, seq_lengths, seq_axis=None, batch_axis=None, name=None,  # noqa: A002
                     seq_dim=None, batch_dim=None):
    """`tf.reverse_sequence`: along `seq_axis`, the first seq_lengths[b] elements of each batch entry b
    reversed, the rest kept in place (a gather_nd of the reversed positions)."""
    seq_axis = seq_dim if seq_axis is None else seq_axis
    batch_axis = (batch_dim if batch_axis is None else batch_axis) or 0
    with name_scope(name, "ReverseSequence", [input, seq_lengths]) as scope:
        input = convert_to_tensor(input, name="input")
        rank = input.shape.ndims
        seq_axis, batch_axis = seq_axis % rank, batch_axis % rank
        order = [batch_axis, seq_axis] + [a for a in builtins.range(rank) if a not in (batch_axis, seq_axis)]
        moved = array_ops.transpose(input, order)  # [batch, time, ...]
        lengths = convert_to_tensor(seq_lengths, name="seq_lengths")
        steps = _dims(moved)[1]
        time = range(steps, dtype=lengths.dtype)
        batch = range(_dims(moved)[0], dtype=lengths.dtype)
        lengths = layout_ops.expand_dims(lengths, 1)
        inside = math_ops.less(time, lengths)  # [batch, time]
        positions = math_ops.where(inside, lengths - 1 - time, time + array_ops.zeros_like(lengths))
        rows = array_ops.zeros_like(positions) + layout_ops.expand_dims(batch, 1)
        picked = gather_ops.gather_nd(moved, layout_ops.stack([rows, positions], axis=2))
        return array_ops.transpose(picked, list(np.argsort(order)), name=scope)


def sequence_mask(lengths, maxlen=None, dtype=dtypes.bool_, name=None):
    """`tf.sequence_mask`: mask[..., j] = j < lengths[...]. Without `maxlen`, the longest length,
    which must be known when the step compiles (a constant)."""
    with name_scope(name, "SequenceMask", [lengths, maxlen]):
        lengths = convert_to_tensor(lengths, name="lengths")
        if maxlen is None:
            known = static_value(lengths, lambda t: t._dims)
            if known is None:
                raise ValueError(f"graphc's tf.sequence_mask needs maxlen when the lengths ({lengths.name}) are known "
                                 "only when the step runs: the mask's shape would depend on their values")
            maxlen = int(np.max(known)) if np.size(known) else 0
        maxlen = convert_to_tensor(maxlen, dtype=None if hasattr(maxlen, "dtype") else lengths.dtype, name="maxlen")
        positions = range(0, maxlen, 1, dtype=lengths.dtype)
        mask = math_ops.less(positions, layout_ops.expand_dims(lengths, -1))
        dtype = dtypes.as_dtype(dtype)
        return mask if dtype is dtypes.bool_ else array_ops.cast(mask, dtype)
