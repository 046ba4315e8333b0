"""Layout ops: concat, stack, unstack, slice, strided slice (`tensor[...]`), squeeze,
expand_dims, pad, mirror pad (and its gradient) and one_hot.

Fusion classes: squeeze, expand_dims, slice and strided_slice move elements by
a one-to-one index map (INJECTIVE: like reshape and transpose, each is its own
copy kernel). concat, pad and one_hot choose between several sources per
element (inputs, a padding value, on/off values by an index), which fused
loops cannot express yet: they are OPAQUE, each its own kernel. So are mirror
pad, which reads edge elements more than once, and its gradient, which sums them.
"""

from __future__ import annotations

import builtins

import numpy as np

from graphc import errors
from graphc.core import dtypes, registry, rules
from graphc.core.registry import NOT_DIFFERENTIABLE, DTypeError, FusionClass, OpDef, Role, ShapeError, TensorType
from graphc.core.slicing import (MIRROR_SKIP, STRIDED_SLICE_MASKS, mirror_source, slice_map, strided_slice_map,
                                 strided_slice_map_of)
from graphc.core.tensor_shape import num_elements
from graphc.frontend.graph import Tensor, apply_op, convert_to_tensor, name_scope
from graphc.ops import array_ops
from graphc.ops.array_ops import reshape, shape


def _int_list(value):
    """A static input as a list of ints (or None while unknown)."""
    if value is None or (isinstance(value, tuple) and None in value):
        return None
    return [int(v) for v in np.asarray(value).reshape(-1).tolist()]


def _int_tensor(value, graph, name=None):
    return convert_to_tensor(value, dtype=None if hasattr(value, "dtype") else dtypes.int32, graph=graph, name=name)


def _axis(axis, rank, what="axis"):
    """A scalar axis in [-rank, rank) as a non-negative int."""
    if axis is not None and np.ndim(axis) != 0:
        raise ShapeError(f"Shape must be rank 0 but is rank {np.ndim(axis)} ({what})")
    axis = _int_list(axis)
    if axis is None:
        return None
    if not -rank <= axis[0] < rank:
        raise ShapeError(f"Expected {what} in the range [{-rank}, {rank}), but got {axis[0]}")
    return axis[0] % rank


# -- ConcatV2 ------------------------------------------------------------------------------------


def _concat_infer(types, attrs):
    dtype = rules.same_dtype(types)
    ranks = {len(t.dims) for t in types if t.dims is not None}
    if len(ranks) > 1:
        raise ShapeError(f"Shape must be rank {min(ranks)} but is rank {max(ranks)}")
    if not ranks:
        return TensorType(dtype, None)
    rank = ranks.pop()
    if rank == 0:
        raise ShapeError("Can't concatenate scalars (use tf.stack instead)")
    axis = _axis(attrs["axis"], rank)
    if axis is None:
        return TensorType(dtype, (None,) * rank)
    out = []
    for d in range(rank):
        sizes = [None if t.dims is None else t.dims[d] for t in types]
        if d == axis:
            out.append(None if None in sizes else sum(sizes))
            continue
        merged = None
        for size in sizes:
            if size is not None and merged is not None and size != merged:
                raise ShapeError(f"Dimension {d} in both shapes must be equal, but are {merged} and {size}")
            merged = size if size is not None else merged
        out.append(merged)
    return TensorType(dtype, tuple(out))


def _concat_reference(*values, axis):
    axis = _int_list(axis)[0] % values[0].ndim
    return np.concatenate(values, axis=axis)


def _concat_pieces(instruction):
    """The operands' byte offsets in the result when each is one contiguous run of it: when the axes
    before the concat axis have one element (a concat of flat gradients, Horovod's fusion buffer)."""
    dims = instruction.result.type.shape
    axis = instruction.attrs["axis"] % len(dims)
    if num_elements(dims[:axis]) != 1:
        return None
    offsets, offset = [], 0
    for operand in instruction.values:
        offsets.append(offset)
        offset += operand.type.nbytes
    return offsets


def _concat_strided_pieces(instruction):
    """Each operand's (offset, strides) in the result's elements, when the operands are not contiguous runs
    of it (a concat along a later axis: `_concat_pieces` does not apply) and there are at least two."""
    dims = instruction.result.type.shape
    if len(instruction.values) < 2 or num_elements(dims) == 0 or _concat_pieces(instruction) is not None:
        return None
    axis = instruction.attrs["axis"] % len(dims)
    strides = [num_elements(dims[d + 1:]) for d in range(len(dims))]
    found, start = [], 0
    for operand in instruction.values:
        found.append((start * strides[axis], strides))
        start += operand.type.shape[axis]
    return found


concat_p = registry.register(OpDef(
    name="concat", tf_type="ConcatV2", infer=_concat_infer, fusion=FusionClass.OPAQUE, static_inputs=("axis",),
    pieces=_concat_pieces, strided_pieces=_concat_strided_pieces, reference=_concat_reference,
    compiled_dtypes=dtypes.ALL_DTYPES))


def _concat_offset_reference(axis, *shapes):
    axis = int(axis) % len(shapes[0])
    offsets, at = [], 0
    for s in shapes:
        offset = np.zeros(len(s), dtype=np.asarray(s).dtype)
        offset[axis] = at
        at += int(s[axis])
        offsets.append(offset)
    return offsets if len(offsets) > 1 else offsets[0]  # one output is a tensor, not a list


# Where each input of a concat starts in its result (for the gradient); TF1's ConcatOffset.
concat_offset_p = registry.register(OpDef(
    name="concat_offset", tf_type="ConcatOffset", role=Role.STATIC, gradient=NOT_DIFFERENTIABLE,
    reference=_concat_offset_reference, infer=lambda types, attrs: list(types[1:])))


@registry.set_gradient(concat_p)
def _concat_grad(op, grad):
    values, axis = op.inputs[:-1], op.inputs[-1]
    shapes = [shape(v) for v in values]
    offsets = apply_op("concat_offset", [axis] + shapes)
    offsets = offsets if isinstance(offsets, (list, tuple)) else [offsets]
    # A part whose gradient nobody asked for (an RNN's input, a constant) is not sliced out.
    return [None if k in op.skip_input_indices else slice(grad, offset, s)
            for k, (offset, s) in enumerate(zip(offsets, shapes))] + [None]


def concat(values, axis, name="concat"):
    """`tf.concat`: `values` joined along `axis`."""
    if not isinstance(values, (list, tuple)):
        values = [values]
    if not values:
        raise ValueError("List argument 'values' to 'ConcatV2' Op with length 0 shorter than minimum length 1.")
    if len(values) == 1:
        with name_scope(name) as scope:
            tensor = convert_to_tensor(values[0])
            _concat_infer([TensorType(tensor.dtype, tensor._dims)], {"axis": axis})
            return array_ops.identity(tensor, name=scope)
    tensors = [convert_to_tensor(v) for v in values]
    return apply_op("concat", tensors + [_int_tensor(axis, tensors[0].graph, "concat/axis")], name=name)


def stack(values, axis=0, name="stack"):
    """`tf.stack`: rank-R tensors of one shape into a rank-(R+1) tensor (ExpandDims + ConcatV2)."""
    if not values:
        raise ValueError("stack needs at least one value")
    with name_scope(name, values=list(values)) as scope:
        tensors = [convert_to_tensor(v) for v in values]
        rank = tensors[0].shape.ndims
        if rank is not None and not -rank - 1 <= axis <= rank:
            raise ValueError(f"axis = {axis} not in [{-rank - 1}, {rank + 1})")
        for t in tensors[1:]:
            if not t.shape.is_compatible_with(tensors[0].shape):
                raise ValueError(f"Shapes {tensors[0].shape} and {t.shape} are incompatible")
        expanded = [expand_dims(t, axis) for t in tensors]
        if len(expanded) == 1:
            return array_ops.identity(expanded[0], name=scope)
        return apply_op("concat", expanded + [_int_tensor(axis, tensors[0].graph)], name=scope)


def unstack(value, num=None, axis=0, name="unstack"):
    """`tf.unstack`: the slices of `value` along `axis` (strided slices that drop the axis)."""
    with name_scope(name, values=[value]):
        value = convert_to_tensor(value)
        dims = value.shape.as_tuple()
        if dims is None:
            raise ValueError(f"Cannot infer num from shape {value.shape}")
        if not -len(dims) <= axis < len(dims):
            raise ValueError(f"axis = {axis} not in [{-len(dims)}, {len(dims)})")
        axis %= len(dims)
        if num is None:
            num = dims[axis]
            if num is None:
                raise ValueError(f"Cannot infer num from shape {value.shape}")
        before = [0] * axis
        return [strided_slice(value, before + [i], before + [i + 1], [1] * (axis + 1),
                              begin_mask=(1 << axis) - 1, end_mask=(1 << axis) - 1, shrink_axis_mask=1 << axis)
                for i in range(num)]


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """`tf.split`: `value` cut along `axis` into equal parts (an int) or parts of the sizes given (one
    may be -1: the rest), each a slice."""
    with name_scope(name, values=[value]):
        value = convert_to_tensor(value)
        dims = value.shape.as_tuple()
        if dims is None:
            raise ValueError(f"graphc's tf.split needs the rank of {value.name}")
        axis = _axis(axis, len(dims))
        total = dims[axis]
        if isinstance(num_or_size_splits, int):
            if total is None:
                raise ValueError(f"graphc's tf.split needs the size of axis {axis} of {value.name}")
            if total % num_or_size_splits:
                raise ValueError(f"Dimension size must be evenly divisible by {num_or_size_splits} but is {total} "
                                 f"for 'split' with input shapes: {value.shape}")
            sizes = [total // num_or_size_splits] * num_or_size_splits
        else:
            sizes = _int_list(num_or_size_splits)
            if -1 in sizes:
                if total is None:
                    raise ValueError(f"graphc's tf.split needs the size of axis {axis} of {value.name}")
                sizes[sizes.index(-1)] = total - (sum(sizes) + 1)
        parts, at = [], 0
        for size in sizes:
            begin = [0] * len(dims)
            extent = [-1] * len(dims)
            begin[axis], extent[axis] = at, size
            parts.append(slice(value, begin, extent))
            at += size
        return parts


# -- Slice ---------------------------------------------------------------------------------------


def _slice_shape_function(dims, begin, size):
    """The static dims of a slice as TF1 infers them while building: begin and size hold one entry per
    dimension, a size of -1 takes the rest of its dimension (begin past its end is an error then); the
    other bounds TF1's kernel checks when it runs."""
    for value, what in ((begin, "begin"), (size, "size")):
        if value is not None and np.ndim(value) != 1:
            raise ShapeError(f"Shape must be rank 1 but is rank {np.ndim(value)} ({what})")
    begin, size = _int_list(begin), _int_list(size)
    rank = len(dims) if dims is not None else len(size) if size is not None else None
    for value in (begin, size):
        if value is not None and rank is not None and len(value) != rank:
            raise ShapeError(f"Shape must be rank {len(value)} but is rank {rank}")
    if size is None:
        return None if rank is None else (None,) * rank
    out = []
    for d, length in enumerate(size):
        if length < -1:
            raise ShapeError(f"Invalid value in tensor used for shape: {length}")
        extent, start = None if dims is None else dims[d], None if begin is None else begin[d]
        if length != -1:
            out.append(length)
        elif extent is None or start is None or start < 0:
            out.append(None)
        elif start > extent:
            raise ShapeError(f"Negative dimension size caused by subtracting {start} from {extent}")
        else:
            out.append(extent - start)
    return tuple(out)


def _slice_infer(types, attrs):
    dtype, dims = types[0].dtype, types[0].dims
    try:
        out, _ = slice_map(dims, attrs["begin"], attrs["size"])
    except ShapeError as e:
        # In the kernel's words; TF1's shape function rejects some of these while building, the rest
        # (bounds, a negative begin) only when the op runs.
        try:
            built = _slice_shape_function(dims, attrs["begin"], attrs["size"])
        except ShapeError:
            raise e from None
        raise rules.RejectedWhenRun(str(e), TensorType(dtype, built)) from None
    return TensorType(dtype, out)


def _slice_reference(x, begin, size):
    return slice_map(x.shape, begin, size)[1].gather(x)


def _slice_view(instruction):
    """The slice's byte offset in its operand when it is one contiguous run of it: single elements on the
    axes before some axis, whole extents after it (rows of a matrix, a part of a flat buffer)."""
    dims, out, begin = instruction.values[0].type.shape, instruction.result.type.shape, instruction.attrs["begin"]
    if any(b < 0 or b + o > size for b, o, size in zip(begin, out, dims)):
        return None  # out of bounds: the kernel fails the run, as TF's does
    cut = next((axis for axis in range(len(dims)) if out[axis] != 1), len(dims))
    if any(out[axis] != dims[axis] for axis in range(cut + 1, len(dims))):
        return None
    offset, stride = 0, instruction.result.type.dtype.size
    for axis in reversed(range(len(dims))):
        offset += begin[axis] * stride
        stride *= dims[axis]
    return offset


def _slice_strided_read(instruction):
    """(offset, strides) of the slice's elements in its operand's, when it is in bounds and not a view."""
    dims, out, begin = instruction.values[0].type.shape, instruction.result.type.shape, instruction.attrs["begin"]
    if any(b < 0 or b + o > size for b, o, size in zip(begin, out, dims)) or _slice_view(instruction) is not None:
        return None
    _, index_map = slice_map(dims, begin, out)
    return index_map.element_strides([int(np.prod(dims[axis + 1:], dtype=np.int64)) for axis in range(len(dims))])


slice_p = registry.register(OpDef(
    name="slice", tf_type="Slice", infer=_slice_infer, fusion=FusionClass.INJECTIVE,
    static_inputs=("begin", "size"), view=_slice_view, strided_read=_slice_strided_read,
    reference=_slice_reference))


@registry.set_gradient(slice_p)
def _slice_grad(op, grad):
    x, begin = op.inputs[0], op.inputs[1]
    before = begin
    after = shape(x) - begin - shape(op.outputs[0])
    paddings = stack([before, after], axis=1)
    return [pad(grad, paddings), None, None]


def slice(input_, begin, size, name=None):  # noqa: A001 - TF1's name
    """`tf.slice`: `size[i]` elements from `begin[i]` on each axis; -1 takes the rest."""
    input_ = convert_to_tensor(input_)
    return apply_op("slice", [input_, _int_tensor(begin, input_.graph), _int_tensor(size, input_.graph)], name=name)


# -- StridedSlice and its gradient -----------------------------------------------------------------

def _masks(attrs):
    return {m: attrs[m] for m in STRIDED_SLICE_MASKS}


def _strided_slice_infer(types, attrs):
    out, _ = strided_slice_map_of(types[0].dims, attrs)
    return TensorType(types[0].dtype, out)


def _strided_slice_reference(x, begin, end, strides, **masks):
    return strided_slice_map(x.shape, begin, end, strides, **masks)[1].gather(x)


strided_slice_p = registry.register(OpDef(
    name="strided_slice", tf_type="StridedSlice", default_name="strided_slice", infer=_strided_slice_infer,
    fusion=FusionClass.INJECTIVE,
    static_inputs=("begin", "end", "strides"), reference=_strided_slice_reference))


def _strided_slice_grad_infer(types, attrs):
    dims = rules.shape_value_to_dims(attrs["shape"])
    if dims is not None and None not in dims:
        out, _ = strided_slice_map_of(dims, attrs)
        if out is not None and types[0].dims is not None and len(out) == len(types[0].dims):
            for a, b in zip(out, types[0].dims):
                rules.merge_dim(a, b, "StridedSliceGrad dy")
    return TensorType(types[0].dtype, dims)


def _strided_slice_grad_reference(dy, shape, begin, end, strides, **masks):
    dims = tuple(int(d) for d in np.asarray(shape).reshape(-1))
    return strided_slice_map(dims, begin, end, strides, **masks)[1].scatter(dy, dims)


# Graph inputs (dy, shape, begin, end, strides): static inputs last (TF1 puts dy last).
strided_slice_grad_p = registry.register(OpDef(
    name="strided_slice_grad", tf_type="StridedSliceGrad", infer=_strided_slice_grad_infer,
    fusion=FusionClass.OPAQUE, static_inputs=("shape", "begin", "end", "strides"), tf_input_order=(1, 2, 3, 4, 0),
    reference=_strided_slice_grad_reference))


@registry.set_gradient(strided_slice_p)
def _strided_slice_grad(op, grad):
    x, begin, end, strides = op.inputs
    return [apply_op("strided_slice_grad", [grad, shape(x), begin, end, strides], _masks(op.attrs)), None, None, None]


@registry.set_gradient(strided_slice_grad_p)
def _strided_slice_grad_grad(op, grad):
    _, _, begin, end, strides = op.inputs
    return [apply_op("strided_slice", [grad, begin, end, strides], _masks(op.attrs)), None, None, None, None]


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                  shrink_axis_mask=0, name=None):
    """`tf.strided_slice`, with TF's mask semantics."""
    input_ = convert_to_tensor(input_)
    if strides is None:
        strides = [1] * len(begin)
    graph = input_.graph
    attrs = dict(zip(STRIDED_SLICE_MASKS, (int(begin_mask), int(end_mask), int(ellipsis_mask), int(new_axis_mask),
                              int(shrink_axis_mask))))
    return apply_op("strided_slice", [input_, _int_tensor(begin, graph), _int_tensor(end, graph),
                                      _int_tensor(strides, graph)], attrs, name=name)


def _getitem(tensor, key):
    """`tensor[key]` with ints, slices (any step), `...` and `tf.newaxis` (TF1's basic indexing), or one
    scalar integer tensor (a loop's counter: a row read at an index known when the step runs)."""
    if isinstance(key, Tensor):
        return apply_op("row_read", [tensor, key], name="strided_slice")
    key = key if isinstance(key, tuple) else (key,)
    spec = []  # (begin, end, stride) per entry of the key
    masks = dict.fromkeys(STRIDED_SLICE_MASKS, 0)
    for i, item in enumerate(key):
        bit = 1 << i
        if item is Ellipsis or item is None:
            masks["ellipsis_mask" if item is Ellipsis else "new_axis_mask"] |= bit
            spec.append((0, 0, 1))
        elif isinstance(item, builtins.slice):
            step = 1 if item.step is None else _python_int(item.step)
            if step == 0:
                raise ValueError("slice step cannot be zero")
            spec.append((0 if item.start is None else _python_int(item.start),
                         0 if item.stop is None else _python_int(item.stop), step))
            masks["begin_mask"] |= bit if item.start is None else 0
            masks["end_mask"] |= bit if item.stop is None else 0
        else:
            index = _python_int(item)
            spec.append((index, index + 1, 1))
            masks["shrink_axis_mask"] |= bit
    begin, end, strides = ([entry[k] for entry in spec] for k in range(3))
    with name_scope(None, "strided_slice", [tensor]) as scope:
        return strided_slice(tensor, begin, end, strides, name=scope, **masks)


def _python_int(item) -> int:
    if isinstance(item, (Tensor,)):
        raise TypeError("graphc: tensor[...] takes Python ints and slices, or one scalar integer tensor "
                        "alone (x[i]); a tensor among other indices is not supported")
    if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
        raise TypeError("Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar "
                        f"tf.int32/tf.int64 tensors are valid indices, got {item!r}")
    return int(item)


Tensor.__getitem__ = _getitem


# -- ExpandDims and Squeeze: reshapes with their own shape rules ------------------------------------


def _expand_dims_infer(types, attrs):
    dims = types[0].dims
    if dims is None:
        return TensorType(types[0].dtype, None)
    axis = _int_list(attrs["axis"])
    if axis is None:
        return TensorType(types[0].dtype, (None,) * (len(dims) + 1))
    if len(axis) != 1:
        raise ShapeError("'dim' input must be a tensor with a single value")
    if not -len(dims) - 1 <= axis[0] <= len(dims):
        raise ShapeError(f"Tried to expand dim index {axis[0]} for tensor with {len(dims)} dimensions.")
    at = axis[0] % (len(dims) + 1)
    return TensorType(types[0].dtype, dims[:at] + (1,) + dims[at:])


expand_dims_p = registry.register(OpDef(
    name="expand_dims", tf_type="ExpandDims", infer=_expand_dims_infer, fusion=FusionClass.INJECTIVE,
    static_inputs=("axis",), view=registry.whole_operand,
    reference=lambda x, axis: np.expand_dims(x, _int_list(axis)[0])))


def _squeeze_axes(dims, axis):
    if axis is None or not len(axis):
        return [d for d, size in enumerate(dims) if size == 1]
    out = []
    for a in axis:
        if not -len(dims) <= a < len(dims):
            raise ShapeError(f"Tried to squeeze dim index {a} for tensor with {len(dims)} dimensions.")
        a %= len(dims)
        if dims[a] not in (1, None):
            raise ShapeError(f"Can not squeeze dim[{a}], expected a dimension of 1, got {dims[a]}")
        out.append(a)
    return out


def _squeeze_infer(types, attrs):
    dims = types[0].dims
    if dims is None:
        return TensorType(types[0].dtype, None)
    if not attrs["squeeze_dims"] and None in dims:
        return TensorType(types[0].dtype, None)  # which axes are 1 is not known yet
    axes = _squeeze_axes(dims, attrs["squeeze_dims"])
    return TensorType(types[0].dtype, tuple(size for d, size in enumerate(dims) if d not in axes))


def _squeeze_reference(x, squeeze_dims):
    axes = _squeeze_axes(x.shape, squeeze_dims)
    return np.array(x.reshape([size for d, size in enumerate(x.shape) if d not in axes]))


squeeze_p = registry.register(OpDef(
    name="squeeze", tf_type="Squeeze", infer=_squeeze_infer, fusion=FusionClass.INJECTIVE,
    view=registry.whole_operand, reference=_squeeze_reference))


def _reshape_back_grad(op, grad):
    return [reshape(grad, shape(op.inputs[0]))] + [None] * (len(op.inputs) - 1)


registry.set_gradient(expand_dims_p)(_reshape_back_grad)
registry.set_gradient(squeeze_p)(_reshape_back_grad)


def expand_dims(input, axis=None, name=None, dim=None):  # noqa: A002 - TF1's name
    """`tf.expand_dims`: a size-1 axis inserted at `axis`."""
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'")
        axis = dim
    if axis is None:
        raise ValueError("Must specify an axis argument to tf.expand_dims()")
    input = convert_to_tensor(input)
    return apply_op("expand_dims", [input, _int_tensor(axis, input.graph)], name=name)


def squeeze(input, axis=None, name=None, squeeze_dims=None):  # noqa: A002 - TF1's name
    """`tf.squeeze`: size-1 axes removed (all of them, or those in `axis`)."""
    if squeeze_dims is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'squeeze_dims'")
        axis = squeeze_dims
    if isinstance(axis, int):
        axis = [axis]
    return apply_op("squeeze", [input], {"squeeze_dims": tuple(int(a) for a in axis or ())}, name=name)


# -- Pad ---------------------------------------------------------------------------------------------


def _paddings(value, rank):
    if value is None or (isinstance(value, tuple) and None in value):
        return None
    array = np.asarray(value)
    if array.ndim == 1 and array.size % 2 == 0:
        array = array.reshape(-1, 2)  # compiled steps hold static inputs flattened
    if rank is not None and array.shape != (rank, 2):
        raise ShapeError(f"The first dimension of paddings must be the rank of inputs[{rank},2], "
                         f"got {list(array.shape)}")
    if array.ndim != 2 or array.shape[1:] != (2,):
        raise ShapeError(f"paddings must be a matrix with 2 columns, got {list(array.shape)}")
    if np.any(array < 0):
        raise ShapeError(f"Paddings must be non-negative: {array.tolist()}")
    return [(int(a), int(b)) for a, b in array.tolist()]


def _padded_dims(dims, paddings, grow=1):
    """dims grown (grow=1) or shrunk (grow=-1) by their paddings; None where unknown."""
    if paddings is None:
        return None if dims is None else (None,) * len(dims)
    if dims is None:
        return (None,) * len(paddings)
    return tuple(None if d is None else d + grow * (a + b) for d, (a, b) in zip(dims, paddings))


def _pad_infer(types, attrs):
    x, value = types
    dtype = rules.same_dtype(types)
    if value.dims not in (None, ()):
        raise ShapeError(f"Shape must be rank 0 but is rank {len(value.dims)} (constant_values)")
    dims = x.dims
    return TensorType(dtype, _padded_dims(dims, _paddings(attrs["paddings"], None if dims is None else len(dims))))


def _pad_reference(x, constant_values, paddings):
    widths = _paddings(paddings, x.ndim)
    if x.ndim == 0:  # nothing to pad (and np.pad refuses a scalar's empty paddings)
        return x.copy()
    return np.pad(x, widths, mode="constant", constant_values=constant_values)


# Graph inputs (input, constant_values, paddings): static inputs last (TF1's PadV2 has paddings second).
pad_p = registry.register(OpDef(
    name="pad", tf_type="PadV2", infer=_pad_infer, fusion=FusionClass.OPAQUE, static_inputs=("paddings",),
    tf_input_order=(0, 2, 1),
    reference=_pad_reference, compiled_dtypes=dtypes.ALL_DTYPES))


@registry.set_gradient(pad_p)
def _pad_grad(op, grad):
    x, _, paddings = op.inputs
    if x.shape.ndims == 0:  # nothing was padded (and `paddings` is [], not a [0, 2] matrix)
        return [grad, None, None]
    before = reshape(slice(paddings, [0, 0], [-1, 1]), [-1])
    return [slice(grad, before, shape(x)), None, None]


# -- MirrorPad and MirrorPadGrad -----------------------------------------------------------------------

# TF1's MirrorPad and MirrorPadGrad kernels take inputs of rank 0 to 5 (kMaxDims); its shape functions any.
MIRROR_PAD_MAX_RANK = 5


def _mirror_pad_infer(grow):
    """The rule of MirrorPad (grow=1) and of its gradient (grow=-1): paddings larger than the unpadded
    dims allow, and inputs of rank above 5, fail when the op runs, as TF1's kernels check them."""

    def infer(types, attrs):
        dtype = types[0].dtype if grow == 1 else rules.same_dtype(types[:1], rules.NUMERIC_TYPES)
        dims = types[0].dims
        paddings = _paddings(attrs["paddings"], None if dims is None else len(dims))
        result = TensorType(dtype, _padded_dims(dims, paddings, grow))
        mode = attrs["mode"]
        if mode not in MIRROR_SKIP:
            raise ValueError(f"mode must be REFLECT or SYMMETRIC, got {mode!r}")
        if dims is not None and len(dims) > MIRROR_PAD_MAX_RANK:
            raise rules.RejectedWhenRun(f"inputs rank not in [0,{MIRROR_PAD_MAX_RANK}]: {len(dims)}", result,
                                        errors.UnimplementedError)
        unpadded = dims if grow == 1 else result.dims
        for d, (before, after) in zip(unpadded or (), paddings or ()):
            if d is not None and max(before, after) > d - MIRROR_SKIP[mode]:
                relation = ("less than", "not less than") if mode == "REFLECT" else ("no greater than", "greater than")
                raise rules.RejectedWhenRun(f"paddings must be {relation[0]} the dimension size: {before}, {after} "
                                            f"{relation[1]} {d}", result)
        return result

    return infer


def _mirror_pad_reference(x, paddings, mode):
    if x.ndim == 0:  # nothing to pad (and np.pad refuses a scalar's empty paddings)
        return x.copy()
    return np.pad(x, _paddings(paddings, x.ndim), mode=mode.lower())


def _mirror_pad_grad_reference(dy, paddings, mode):
    """Each input element gets the sum of dy over the padded positions that copied it."""
    widths = _paddings(paddings, dy.ndim)
    dims = [n - a - b for n, (a, b) in zip(dy.shape, widths)]
    # Sums start from -0.0, the identity of float addition, so an element nothing is folded into keeps dy's -0.0.
    dx = np.full(dims, -0.0 if dy.dtype.kind == "f" else 0, dy.dtype)
    np.add.at(dx, np.ix_(*[mirror_source(d, a, b, mode) for d, (a, b) in zip(dims, widths)]), dy)
    return dx


# Graph inputs (input, paddings) and attr mode, as TF1's MirrorPad and MirrorPadGrad.
mirror_pad_p = registry.register(OpDef(
    name="mirror_pad", tf_type="MirrorPad", fusion=FusionClass.OPAQUE, static_inputs=("paddings",),
    infer=_mirror_pad_infer(1), reference=_mirror_pad_reference))
mirror_pad_grad_p = registry.register(OpDef(
    name="mirror_pad_grad", tf_type="MirrorPadGrad", fusion=FusionClass.OPAQUE, static_inputs=("paddings",),
    infer=_mirror_pad_infer(-1), reference=_mirror_pad_grad_reference))


@registry.set_gradient(mirror_pad_p)
def _mirror_pad_grad(op, grad):
    return [apply_op("mirror_pad_grad", [grad, op.inputs[1]], {"mode": op.attrs["mode"]}), None]


@registry.set_gradient(mirror_pad_grad_p)
def _mirror_pad_grad_grad(op, grad):
    return [apply_op("mirror_pad", [grad, op.inputs[1]], {"mode": op.attrs["mode"]}), None]


def pad(tensor, paddings, mode="CONSTANT", name=None, constant_values=0):
    """`tf.pad`: `paddings[d] = [before, after]` elements added on axis d.

    mode (case-insensitive): CONSTANT adds `constant_values`; REFLECT mirrors the
    tensor about its edge elements (paddings < the dim size), SYMMETRIC mirrors it
    including them (paddings <= the dim size); the mirror modes ignore constant_values.
    """
    mode = mode.upper()
    if mode != "CONSTANT" and mode not in MIRROR_SKIP:
        raise ValueError(f"Unknown padding mode: {mode}")
    tensor = convert_to_tensor(tensor)
    if mode in MIRROR_SKIP:
        paddings = _int_tensor(paddings, tensor.graph, "paddings")
        return apply_op("mirror_pad", [tensor, paddings], {"mode": mode}, name=name or "MirrorPad")
    value = convert_to_tensor(constant_values, dtype=tensor.dtype, graph=tensor.graph, name="constant_values")
    return apply_op("pad", [tensor, value, _int_tensor(paddings, tensor.graph, "paddings")], name=name or "Pad")


# -- OneHot ------------------------------------------------------------------------------------------


def _one_hot_infer(types, attrs):
    indices, on, off = types
    if indices.dtype not in rules.INDEX_TYPES:
        raise DTypeError(f"indices must be int32 or int64, got {indices.dtype.name}")
    dtype = rules.same_dtype([on, off])
    for t, what in ((on, "on_value"), (off, "off_value")):
        if t.dims not in (None, ()):
            raise ShapeError(f"Shape must be rank 0 but is rank {len(t.dims)} ({what})")
    depth = _int_list(attrs["depth"])
    if depth is not None and (len(depth) != 1 or depth[0] < 0):
        raise ShapeError(f"depth must be a non-negative scalar, got {depth}")
    depth = None if depth is None else depth[0]
    if indices.dims is None:
        return TensorType(dtype, None)
    rank = len(indices.dims)
    axis = attrs["axis"]
    if axis < -1:
        raise ShapeError("axis must be >= -1")
    at = rank if axis == -1 or axis > rank else axis
    result = TensorType(dtype, indices.dims[:at] + (depth,) + indices.dims[at:])
    if axis > rank:  # TF1's shape function puts the depth last; its kernel rejects the axis
        raise rules.RejectedWhenRun(f"Expected axis to be -1 or between [0, {rank + 1}).  But received: {axis}",
                                    result)
    return result


def _one_hot_reference(indices, on_value, off_value, depth, axis):
    depth = _int_list(depth)[0]
    at = indices.ndim if axis == -1 else axis
    positions = np.arange(depth).reshape((depth,) + (1,) * (indices.ndim - at))
    hot = np.expand_dims(indices, at) == positions
    return np.where(hot, on_value, off_value)


# Graph inputs (indices, on_value, off_value, depth): static inputs last (TF1 puts depth second).
one_hot_p = registry.register(OpDef(
    name="one_hot", tf_type="OneHot", infer=_one_hot_infer, fusion=FusionClass.OPAQUE, static_inputs=("depth",),
    tf_input_order=(0, 3, 1, 2),
    reference=_one_hot_reference, gradient=NOT_DIFFERENTIABLE))


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """`tf.one_hot`: `on_value` where the index along `axis` equals `indices`, `off_value` elsewhere
    (an index outside [0, depth) gives a row of `off_value`)."""
    with name_scope(name, "one_hot", [indices, depth, on_value, off_value]) as scope:
        indices = convert_to_tensor(indices, name="indices")
        given = [v for v in (on_value, off_value) if v is not None]
        if dtype is None:
            dtype = given[0].dtype if given and isinstance(given[0], Tensor) else dtypes.float32
        dtype = dtypes.as_dtype(dtype)
        on = convert_to_tensor(1 if on_value is None else on_value, dtype=dtype, name="on_value")
        off = convert_to_tensor(0 if off_value is None else off_value, dtype=dtype, name="off_value")
        if on.dtype is not dtype or off.dtype is not dtype:
            raise TypeError(f"dtype {dtype.name} of on_value/off_value does not match the requested dtype")
        return apply_op("one_hot", [indices, on, off, _int_tensor(depth, indices.graph, "depth")],
                        {"axis": -1 if axis is None else int(axis)}, name=scope)
