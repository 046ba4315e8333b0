"""Array ops: constants, placeholders, shapes, reshape, transpose, broadcast, cast.

Each op sits with its shape rule, NumPy reference and gradient, then the public
TF1 function that builds it.
"""

from __future__ import annotations

import numpy as np

from graphc.core import dtypes, registry, rules
from graphc.core.registry import NOT_DIFFERENTIABLE, FusionClass, OpDef, Role, ShapeError, TensorType
from graphc.core.rules import shape_value_to_dims
from graphc.core.tensor_shape import as_dims, format_dims_as_list, is_fully_defined, num_elements
from graphc.frontend.graph import apply_op, constant, convert_to_tensor, get_default_graph, name_scope

# -- Placeholder ---------------------------------------------------------------

placeholder_p = registry.register(OpDef(
    name="placeholder", tf_type="Placeholder", role=Role.PLACEHOLDER, gradient=NOT_DIFFERENTIABLE,
    infer=lambda types, attrs: TensorType(attrs["dtype"], attrs["shape"])))


def placeholder(dtype, shape=None, name=None):
    """`tf.placeholder`: a tensor whose value must be fed to `Session.run`."""
    dtype = dtypes.as_dtype(dtype)
    op = get_default_graph().create_op(placeholder_p, [], {"dtype": dtype, "shape": as_dims(shape)}, name=name)
    return op.outputs[0]


# -- Identity and StopGradient (lowering forwards their input) -------------------------

identity_p = registry.register(OpDef(
    name="identity", tf_type="Identity", role=Role.FORWARD,
    infer=lambda types, attrs: types[0]))


@registry.set_gradient(identity_p)
def _identity_grad(op, grad):
    return [grad]


def identity(input, name=None):
    """`tf.identity`."""
    return apply_op("identity", [input], name=name)


stop_gradient_p = registry.register(OpDef(
    name="stop_gradient", tf_type="StopGradient", role=Role.FORWARD, gradient=NOT_DIFFERENTIABLE,
    infer=lambda types, attrs: types[0]))


def stop_gradient(input, name=None):
    """`tf.stop_gradient`: the value of `input`, with no gradient flowing through."""
    return apply_op("stop_gradient", [input], name=name)


# -- Cast -------------------------------------------------------------------------

def _cast_reference(x, dtype):
    """NumPy's astype, except where TF's Cast on x86 differs (Eigen's casts, defined here, undefined in C):

    - float -> int truncates toward zero, and gives the lowest int32 or int64 for NaN, infinities
      and values outside its range (TF 2.21: cast(nan, int32) and cast(3e9, int32) are
      -2147483648); a narrower integer takes the low bits of that int32 (cast(300.7, int8) is 44);
    - anything -> float16 rounds through float32 (cast of the double 1 + 2**-11 + 2**-40 is 1.0).
    """
    if x.dtype.kind == "f" and dtype.is_integer:
        through = dtype.np_dtype if dtype.size >= 4 else np.dtype(np.int32)
        limit = 2.0 ** (8 * through.itemsize - 1)
        wide = x.astype(np.float64)
        inside = (wide >= -limit) & (wide < limit)  # False for NaN
        whole = np.trunc(np.where(inside, wide, 0.0)).astype(through)
        return np.where(inside, whole, np.iinfo(through).min).astype(through).astype(dtype.np_dtype)
    if dtype is dtypes.float16 and x.dtype.kind != "b":
        return x.astype(np.float32).astype(np.float16)
    return x.astype(dtype.np_dtype)


cast_p = registry.register(OpDef(
    name="cast", tf_type="Cast", fusion=FusionClass.ELEMENTWISE, reference=_cast_reference,
    infer=lambda types, attrs: TensorType(attrs["dtype"], types[0].dims), tf_attr_names={"dtype": "DstT"}))


@registry.set_gradient(cast_p)
def _cast_grad(op, grad):
    source, target = op.inputs[0].dtype, op.outputs[0].dtype
    if source.is_floating and target.is_floating:
        return [cast(grad, source)]
    return [None]


def cast(x, dtype, name=None):
    """`tf.cast`; float-to-int truncates toward zero, as TF1 does."""
    dtype = dtypes.as_dtype(dtype)
    x = convert_to_tensor(x)
    if x.dtype is dtype:
        return x
    return apply_op("cast", [x], {"dtype": dtype}, name=name or "Cast")


def to_float(x, name="ToFloat"):
    return cast(x, dtypes.float32, name=name)


def to_double(x, name="ToDouble"):
    return cast(x, dtypes.float64, name=name)


def to_int32(x, name="ToInt32"):
    return cast(x, dtypes.int32, name=name)


def to_int64(x, name="ToInt64"):
    return cast(x, dtypes.int64, name=name)


# -- Shape, Size, Rank: known from shapes alone ----------------------------------------


def _shape_function(dims, out_type):
    return np.asarray(dims, dtype=out_type.np_dtype) if is_fully_defined(dims) else None


def _size_function(dims, out_type):
    return np.asarray(num_elements(dims), dtype=out_type.np_dtype) if is_fully_defined(dims) else None


def _rank_function(dims):
    return None if dims is None else np.asarray(len(dims), dtype=np.int32)


shape_p = registry.register(OpDef(
    name="shape", tf_type="Shape", role=Role.STATIC, shape_only_inputs=True, shape_function=_shape_function,
    gradient=NOT_DIFFERENTIABLE,
    infer=lambda types, attrs: TensorType(attrs["out_type"], (None if types[0].dims is None
                                                             else len(types[0].dims),))))
size_p = registry.register(OpDef(
    name="size", tf_type="Size", role=Role.STATIC, shape_only_inputs=True, shape_function=_size_function,
    gradient=NOT_DIFFERENTIABLE, infer=lambda types, attrs: TensorType(attrs["out_type"], ())))
rank_p = registry.register(OpDef(
    name="rank", tf_type="Rank", role=Role.STATIC, shape_only_inputs=True, shape_function=_rank_function,
    gradient=NOT_DIFFERENTIABLE, infer=lambda types, attrs: TensorType(dtypes.int32, ())))


def _shape_n_infer(types, attrs):
    return [TensorType(attrs["out_type"], (None if t.dims is None else len(t.dims),)) for t in types]


# TF's gradient graphs ask the shapes of several tensors in one ShapeN; output i is input i's shape (see
# static_value: a shape-only op's output i asks the shape of its input i).
shape_n_p = registry.register(OpDef(
    name="shape_n", tf_type="ShapeN", role=Role.STATIC, shape_only_inputs=True, shape_function=_shape_function,
    gradient=NOT_DIFFERENTIABLE, infer=_shape_n_infer))


def shape(input, name=None, out_type=dtypes.int32):
    """`tf.shape`: the shape of `input`, known when the step is compiled."""
    return apply_op("shape", [input], {"out_type": dtypes.as_dtype(out_type)}, name=name)


def size(input, name=None, out_type=dtypes.int32):
    """`tf.size`: the number of elements of `input`."""
    return apply_op("size", [input], {"out_type": dtypes.as_dtype(out_type)}, name=name)


def rank(input, name=None):
    """`tf.rank`."""
    return apply_op("rank", [input], name=name)


def shape_n(input, out_type=dtypes.int32, name=None):  # noqa: A002 - TF1's name
    """`tf.shape_n`: the shapes of the tensors of the list `input`, one output each."""
    outputs = apply_op("shape_n", list(input), {"out_type": dtypes.as_dtype(out_type)}, name=name)
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


# -- Reshape -------------------------------------------------------------------------

def resolve_reshape(in_dims, target) -> tuple:
    """The dims a reshape of a tensor of `in_dims` (known) to `target` makes, as TF1's Reshape kernel finds
    them: one -1 takes what the other sizes leave, counting only nonzero input sizes when the target has a 0
    too (a [0, 6] tensor reshaped to [0, -1] is [0, 6], to [-1, 0] is [6, 0])."""
    target = [int(d) for d in np.asarray(target).reshape(-1).tolist()]
    unknown, product = None, 1
    for i, d in enumerate(target):
        if d == -1:
            if unknown is not None:
                raise ShapeError(f"Only one input size may be -1, not both {unknown} and {i}")
            unknown = i
        elif d < 0:
            raise ShapeError(f"Size {i} must be non-negative, not {d}")
        elif d > 0:
            product *= d
    count = num_elements(in_dims)
    if unknown is not None:
        has_zero = 0 in target
        known = num_elements(d for d in in_dims if d > 0 or not has_zero)
        missing = known // product
        if not (has_zero and 0 in in_dims) and missing * product != known:
            raise ShapeError(f"Input to reshape is a tensor with {known} values, but the requested shape requires "
                             f"a multiple of {product}")
        target[unknown] = missing
    if num_elements(target) != count:
        raise ShapeError(f"Input to reshape is a tensor with {count} values, but the requested shape has "
                         f"{num_elements(target)}")
    return tuple(target)


def reshape_shape_function(in_dims, target) -> tuple:
    """The static dims of a reshape as TF1 infers them while building (its shape function), from partial
    input dims and a target whose sizes may be unknown (-1, None); ShapeError for what it rejects."""
    out = list(shape_value_to_dims(target))
    if in_dims is None:
        return tuple(out)
    unknown_out = [i for i, d in enumerate(out) if d is None]
    known_out = num_elements(d for d in out if d is not None)
    count = 0 if 0 in in_dims else num_elements(in_dims) if is_fully_defined(in_dims) else None
    if len(unknown_out) > 1 or (count is None and in_dims.count(None) > 1):
        return tuple(out)
    if count is None:  # one input size unknown: it is what the known output sizes leave
        known_in = num_elements(d for d in in_dims if d is not None)
        if not unknown_out and known_out % known_in:
            raise ShapeError(f"Dimension size must be evenly divisible by {known_in} but is {known_out}")
    elif (not unknown_out and count != known_out) or (known_out == 0 and count):
        raise ShapeError(f"Cannot reshape a tensor with {count} elements to shape {format_dims_as_list(out)} "
                         f"({known_out} elements)")
    elif unknown_out and known_out > 0:
        if count % known_out:
            raise ShapeError(f"Dimension size must be evenly divisible by {known_out} but is {count}")
        out[unknown_out[0]] = count // known_out
    return tuple(out)


def _reshape_infer(types, attrs):
    dtype, in_dims, target = types[0].dtype, types[0].dims, attrs["shape"]
    if target is None:
        return TensorType(dtype, None)
    shape_value_to_dims(target)  # a vector of sizes, none below -1
    if not is_fully_defined(in_dims) or (isinstance(target, tuple) and None in target):
        return TensorType(dtype, reshape_shape_function(in_dims, target))
    try:
        return TensorType(dtype, resolve_reshape(in_dims, target))
    except ShapeError as e:
        # In the kernel's words; TF1's shape function rejects most of these while building, the rest (two
        # -1, a -1 beside sizes that leave it no whole number) only when the op runs.
        try:
            built = reshape_shape_function(in_dims, target)
        except ShapeError:
            raise e from None
        raise rules.RejectedWhenRun(str(e), TensorType(dtype, built)) from None


reshape_p = registry.register(OpDef(
    name="reshape", tf_type="Reshape", infer=_reshape_infer, fusion=FusionClass.INJECTIVE,
    static_inputs=("shape",), view=registry.whole_operand,
    reference=lambda x, shape: x.reshape(resolve_reshape(x.shape, shape))))


@registry.set_gradient(reshape_p)
def _reshape_grad(op, grad):
    return [reshape(grad, shape(op.inputs[0])), None]


def reshape(tensor, shape, name=None):
    """`tf.reshape`; one -1 in `shape` is inferred. `shape` must be known when compiling."""
    tensor = convert_to_tensor(tensor)
    shape = convert_to_tensor(shape, dtype=None if hasattr(shape, "dtype") else dtypes.int32,
                              graph=tensor.graph)
    return apply_op("reshape", [tensor, shape], name=name)


# -- Transpose ---------------------------------------------------------------------------


def _transpose_infer(types, attrs):
    """TF1's rule: perm holds one axis per dimension, negative ones counting from the end; an axis missing
    from it (another named twice) fails only when the op runs."""
    dims = types[0].dims
    perm = attrs["perm"]
    if perm is None:
        return TensorType(types[0].dtype, None if dims is None else tuple(reversed(dims)))
    perm = np.asarray(perm)
    if perm.ndim != 1:
        raise ShapeError(f"Shape must be rank 1 but is rank {perm.ndim} (perm)")
    perm = perm.tolist()
    if dims is None:
        return TensorType(types[0].dtype, (None,) * len(perm))
    rank = len(dims)
    if len(perm) != rank:
        raise ShapeError(f"Dimension must be {rank} but is {len(perm)}")
    for p in perm:
        if not -rank <= p < rank:
            raise ShapeError(f"perm dim {p} is out of range of input rank {rank}")
    result = TensorType(types[0].dtype, tuple(dims[p] for p in perm))
    missing = sorted(set(range(rank)) - {p % rank for p in perm})
    if missing:
        raise rules.RejectedWhenRun(f"{missing[0]} is missing from {{{','.join(map(str, perm))}}}.", result)
    return result


transpose_p = registry.register(OpDef(
    name="transpose", tf_type="Transpose", infer=_transpose_infer, fusion=FusionClass.INJECTIVE,
    static_inputs=("perm",), reference=lambda x, perm: np.array(np.transpose(x, perm))))


@registry.set_gradient(transpose_p)
def _transpose_grad(op, grad):
    return [transpose(grad, invert_permutation(op.inputs[1])), None]


invert_permutation_p = registry.register(OpDef(
    name="invert_permutation", tf_type="InvertPermutation", role=Role.STATIC, gradient=NOT_DIFFERENTIABLE,
    reference=lambda p: np.argsort(p % max(len(p), 1)).astype(p.dtype),  # Transpose's -1 is its last axis
    infer=lambda types, attrs: types[0]))


def invert_permutation(x, name=None):
    return apply_op("invert_permutation", [x], name=name)


def transpose(a, perm=None, name="transpose"):
    """`tf.transpose`; reverses the axes when `perm` is None."""
    a = convert_to_tensor(a)
    if perm is None:
        if a.shape.ndims is None:
            raise ValueError("graphc: transpose without perm needs a tensor of known rank")
        perm = list(reversed(range(a.shape.ndims)))
    perm = convert_to_tensor(perm, dtype=None if hasattr(perm, "dtype") else dtypes.int32, graph=a.graph)
    return apply_op("transpose", [a, perm], name=name)


# -- BroadcastTo and Fill ------------------------------------------------------------------

def _broadcast_to_infer(types, attrs):
    target = shape_value_to_dims(attrs["shape"])
    if target is None:
        return TensorType(types[0].dtype, None)
    dims = types[0].dims
    if dims is not None:
        if len(dims) > len(target):
            raise ShapeError(f"Rank of input ({len(dims)}) must be no greater than rank of output shape "
                             f"({len(target)})")
        for i in range(1, len(dims) + 1):
            if dims[-i] not in (1, None) and target[-i] is not None and dims[-i] != target[-i]:
                raise ShapeError(f"Incompatible shapes: {list(dims)} vs. {list(target)}")
    result = TensorType(types[0].dtype, target)
    rules.check_sizes_when_run(attrs["shape"], result)
    return result


broadcast_to_p = registry.register(OpDef(
    name="broadcast_to", tf_type="BroadcastTo", infer=_broadcast_to_infer, fusion=FusionClass.BROADCAST,
    static_inputs=("shape",),
    reference=lambda x, shape: np.array(np.broadcast_to(x, tuple(np.asarray(shape, dtype=np.int64).tolist())))))


@registry.set_gradient(broadcast_to_p)
def _broadcast_to_grad(op, grad):
    return [sum_to_shape_of(grad, op.inputs[0]), None]


def broadcast_to(input, shape, name=None):
    """`tf.broadcast_to`."""
    input = convert_to_tensor(input)
    shape = convert_to_tensor(shape, dtype=None if hasattr(shape, "dtype") else dtypes.int32, graph=input.graph)
    return apply_op("broadcast_to", [input, shape], name=name)


def _fill_infer(types, attrs):
    if types[0].dims not in (None, ()):
        raise ShapeError(f"value must be a scalar, got shape {list(types[0].dims)}")
    value = attrs["dims"]
    dims = shape_value_to_dims(value)
    if value is not None and not isinstance(value, tuple) and None in dims:  # a -1 in known dims
        raise ShapeError("Fill dimensions must be >= 0")
    return TensorType(types[0].dtype, dims)


# Graph inputs are (value, dims): static inputs come last in graphc (TF1 lists dims first).
fill_p = registry.register(OpDef(
    name="fill", tf_type="Fill", infer=_fill_infer, fusion=FusionClass.BROADCAST, static_inputs=("dims",),
    tf_input_order=(1, 0),
    reference=lambda value, dims: np.full(tuple(np.asarray(dims).tolist()), value)))


@registry.set_gradient(fill_p)
def _fill_grad(op, grad):
    rank = grad.shape.ndims
    axes = list(range(rank)) if rank is not None else apply_op("range", [0, apply_op("rank", [grad]), 1])
    return [_reduce_sum(grad, axes), None]


def fill(dims, value, name=None):
    """`tf.fill`: a tensor of shape `dims` filled with the scalar `value`."""
    value = convert_to_tensor(value)
    dims = convert_to_tensor(dims, dtype=None if hasattr(dims, "dtype") else dtypes.int32, graph=value.graph)
    return apply_op("fill", [value, dims], name=name)


def zeros(shape, dtype=dtypes.float32, name=None):
    """`tf.zeros`: a constant when `shape` is a list, a Fill when it is a tensor."""
    return _filled(shape, dtype, 0, name or "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    """`tf.ones`."""
    return _filled(shape, dtype, 1, name or "ones")


def _filled(shape, dtype, scalar, name):
    dtype = dtypes.as_dtype(dtype)
    if hasattr(shape, "op") or hasattr(shape, "_as_graph_element"):
        with name_scope(name) as scope:
            shape = convert_to_tensor(shape)
            if shape.shape.ndims == 0:  # a scalar shape tensor is a vector of one size to TF1's zeros and ones
                shape = reshape(shape, [-1])
            return fill(shape, constant(scalar, dtype=dtype), name=scope)
    return constant(scalar, dtype=dtype, shape=as_dims(shape), name=name)


# ZerosLike, as TF's graphs contain it (TF's gradients build it for tensors of shapes known only when the
# step runs): elementwise, each element 0, so it fuses with its consumers. graphc's `tf.zeros_like` builds
# Fill(Shape(x), 0) instead, which needs only x's shape and so never keeps x alive for it.
zeros_like_p = registry.register(OpDef(
    name="zeros_like", tf_type="ZerosLike", infer=rules.unary(rules.NUMERIC_TYPES + (dtypes.bool_,), None),
    fusion=FusionClass.ELEMENTWISE, gradient=NOT_DIFFERENTIABLE, reference=np.zeros_like))


def zeros_like(tensor, dtype=None, name=None):
    """`tf.zeros_like`."""
    return _filled_like(tensor, dtype, 0, name or "zeros_like")


def ones_like(tensor, dtype=None, name=None):
    """`tf.ones_like`."""
    return _filled_like(tensor, dtype, 1, name or "ones_like")


def _filled_like(tensor, dtype, scalar, name):
    tensor = convert_to_tensor(tensor)
    dtype = dtypes.as_dtype(dtype) if dtype is not None else tensor.dtype
    if tensor.shape.is_fully_defined():
        return constant(scalar, dtype=dtype, shape=tensor.shape.as_list(), name=name)
    with name_scope(name, values=[tensor]) as scope:
        return fill(shape(tensor), constant(scalar, dtype=dtype), name=scope)


# -- Gradient helpers: BroadcastGradientArgs, sum back to an input's shape ----------------------


def _broadcast_gradient_args(s0, s1):
    """The axes to sum a gradient over for each of two broadcast operands."""
    s0, s1 = [int(d) for d in np.asarray(s0).reshape(-1)], [int(d) for d in np.asarray(s1).reshape(-1)]
    rank = max(len(s0), len(s1))
    p0, p1 = [1] * (rank - len(s0)) + s0, [1] * (rank - len(s1)) + s1
    r0 = [i for i in range(rank) if p0[i] == 1 and p1[i] != 1 or i < rank - len(s0)]
    r1 = [i for i in range(rank) if p1[i] == 1 and p0[i] != 1 or i < rank - len(s1)]
    return np.asarray(r0, dtype=np.int32), np.asarray(r1, dtype=np.int32)


broadcast_gradient_args_p = registry.register(OpDef(
    name="broadcast_gradient_args", tf_type="BroadcastGradientArgs", role=Role.STATIC,
    gradient=NOT_DIFFERENTIABLE, reference=_broadcast_gradient_args,
    infer=lambda types, attrs: [TensorType(types[0].dtype, (None,)), TensorType(types[0].dtype, (None,))]))


def sum_to_shape_of(grad, x):
    """`grad` summed over the dimensions along which `x` was broadcast, shaped like `x`."""
    x_dims, g_dims = x.shape.as_tuple(), grad.shape.as_tuple()
    if x_dims is not None and x_dims == g_dims and is_fully_defined(x_dims):
        return grad
    if is_fully_defined(x_dims) and is_fully_defined(g_dims):
        axes = _broadcast_gradient_args(x_dims, g_dims)[0]
        summed = _reduce_sum(grad, axes.tolist()) if len(axes) else grad
        return summed if summed.shape.as_tuple() == x_dims else reshape(summed, list(x_dims))
    x_shape = shape(x)
    axes, _ = apply_op("broadcast_gradient_args", [x_shape, shape(grad)])
    return reshape(_reduce_sum(grad, axes), x_shape)


def _reduce_sum(x, axes):
    """`x` summed over `axes` (a list, or an int tensor), keepdims off.

    The Sum op belongs to the math family, whose gradients build on this one's;
    the array family builds it through the registry by name rather than
    importing the math family back.
    """
    axes = convert_to_tensor(axes, dtype=None if hasattr(axes, "dtype") else dtypes.int32, graph=x.graph)
    return apply_op("reduce_sum", [x, axes], {"keepdims": False})
