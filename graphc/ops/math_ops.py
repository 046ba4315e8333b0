"""Math ops: elementwise arithmetic, comparisons, matmul and reductions.

Each op is defined by one `registry.register(OpDef(...))` with its NumPy
reference, followed by its gradient rule and the public TF1 function(s).
Tensor's Python operators (`+ - * / @ < ...`) are installed at the end.
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.core import dtypes, messages, products, registry, rules
from graphc.core.registry import (NO_GRADIENT_DEFINED, NOT_DIFFERENTIABLE, DTypeError, Effects, FusionClass, OpDef,
                                  Reduction, Role, ShapeError, TensorType)
from graphc.core.rules import FLOAT_TYPES, INTEGER_TYPES, NUMERIC_TYPES, SIGNED_TYPES
from graphc.core.tensor_shape import format_dims_as_list
from graphc.frontend.graph import Tensor, apply_op, convert_to_tensor, name_scope
from graphc.frontend.static_value import static_value
from graphc.ops import array_ops, layout_ops, scan_ops
from graphc.ops.array_ops import cast, constant, reshape, shape, size, sum_to_shape_of

ALL_TYPES = NUMERIC_TYPES + (dtypes.bool_,)
ELEMENTWISE = FusionClass.ELEMENTWISE


def _elementwise(name, tf_type, arity, reference, allowed=NUMERIC_TYPES, result_dtype=None, default_name=None,
                 **facts):
    infer = (rules.unary if arity == 1 else rules.binary)(allowed, result_dtype)
    return registry.register(OpDef(name=name, tf_type=tf_type, infer=infer, fusion=ELEMENTWISE,
                                   reference=reference, default_name=default_name, **facts))


def _sigmoid_reference(x):
    return (1 / (1 + np.exp(-x))).astype(x.dtype)


def _check_integer_divisor(x, y):
    """TF's integer division and remainder ops fail on a zero divisor (InvalidArgumentError)."""
    if np.any(y == 0) and np.broadcast(x, y).size:  # with no quotient to compute, nothing fails
        raise errors.InvalidArgumentError(None, None, messages.INTEGER_DIVISION_BY_ZERO)


def _floordiv_reference(x, y):
    """TF's FloorDiv: floor(x / y) for floats (NumPy's // differs, e.g. -0.5 // inf),
    rounding toward minus infinity for integers."""
    if x.dtype.kind == "f":
        return np.floor(x / y)
    _check_integer_divisor(x, y)
    return np.floor_divide(x, y)


def _floormod_reference(x, y):
    """TF's FloorMod, Python's %: the remainder takes the divisor's sign. Floats: fmod, plus y where
    the signs differ, so a zero keeps fmod's sign (floormod(-1.0, 1.0) is -0.0 in TF 2.21, +0.0 in
    NumPy) and floormod(-5.5, inf) is inf."""
    if x.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            remainder = np.fmod(x, y)
            return np.where((remainder != 0) & ((y < 0) != (remainder < 0)), remainder + y, remainder)
    _check_integer_divisor(x, y)
    return np.mod(x, y)  # NumPy's integer % is Python's, and MIN % -1 is 0 as in TF


def _truncatediv_reference(x, y):
    """TF's TruncateDiv: the quotient rounded toward zero (C's /); MIN / -1 wraps to MIN."""
    if x.dtype.kind == "f":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.trunc(x / y)
    _check_integer_divisor(x, y)
    with np.errstate(over="ignore"):
        floored = np.floor_divide(x, y)
        return floored + ((x - floored * y != 0) & ((x < 0) != (y < 0))).astype(floored.dtype)


def _truncatemod_reference(x, y):
    """TF's TruncateMod: the remainder takes the dividend's sign (C's fmod and %)."""
    if x.dtype.kind != "f":
        _check_integer_divisor(x, y)
    with np.errstate(invalid="ignore"):
        return np.fmod(x, y)


def _pow_reference(x, y):
    """x ** y; TF's integer pow refuses negative exponents (and wraps on overflow, as NumPy's does)."""
    if x.dtype.kind in "iu" and np.any(y < 0) and np.broadcast(x, y).size:
        raise errors.InvalidArgumentError(None, None, messages.NEGATIVE_INTEGER_POWER)
    return np.power(x, y)


# -- elementwise unary ----------------------------------------------------------------
neg_p = _elementwise("neg", "Neg", 1, np.negative, SIGNED_TYPES)
square_p = _elementwise("square", "Square", 1, np.square)
sqrt_p = _elementwise("sqrt", "Sqrt", 1, np.sqrt, FLOAT_TYPES)
rsqrt_p = _elementwise("rsqrt", "Rsqrt", 1, lambda x: (1 / np.sqrt(x)).astype(x.dtype), FLOAT_TYPES)
exp_p = _elementwise("exp", "Exp", 1, np.exp, FLOAT_TYPES)
log_p = _elementwise("log", "Log", 1, np.log, FLOAT_TYPES)
abs_p = _elementwise("abs", "Abs", 1, np.abs, SIGNED_TYPES)
sign_p = _elementwise("sign", "Sign", 1, np.sign, SIGNED_TYPES)
tanh_p = _elementwise("tanh", "Tanh", 1, np.tanh, FLOAT_TYPES)
sigmoid_p = _elementwise("sigmoid", "Sigmoid", 1, _sigmoid_reference, FLOAT_TYPES)
reciprocal_p = _elementwise("reciprocal", "Reciprocal", 1, lambda x: (1 / x).astype(x.dtype), FLOAT_TYPES)
logical_not_p = _elementwise("logical_not", "LogicalNot", 1, np.logical_not, (dtypes.bool_,))

# -- gradient helpers of unary ops, as TF1 has them: (y, dy) -> dx --------------------------
tanh_grad_p = _elementwise("tanh_grad", "TanhGrad", 2, lambda y, dy: dy * (1 - y * y), FLOAT_TYPES)
sigmoid_grad_p = _elementwise("sigmoid_grad", "SigmoidGrad", 2, lambda y, dy: dy * (y * (1 - y)), FLOAT_TYPES)


def _sqrt_grad_reference(y, dy):
    """TF's SqrtGrad: +0 wherever dy == 0 (even for y = 0 or NaN), else dy * 0.5 / y."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(dy == 0, np.zeros((), y.dtype), dy * 0.5 / y).astype(y.dtype)


sqrt_grad_p = _elementwise("sqrt_grad", "SqrtGrad", 2, _sqrt_grad_reference, FLOAT_TYPES)

# -- elementwise binary -----------------------------------------------------------------
add_p = _elementwise("add", "AddV2", 2, np.add, default_name="Add")
sub_p = _elementwise("sub", "Sub", 2, np.subtract)
mul_p = _elementwise("mul", "Mul", 2, np.multiply)
div_p = _elementwise("div", "RealDiv", 2, np.divide, FLOAT_TYPES)
# Integer floordiv checks its divisor for zeros in a pass of its own, so only float floordiv fuses.
floordiv_p = _elementwise("floordiv", "FloorDiv", 2, _floordiv_reference, fuses_for=FLOAT_TYPES,
                          effects=Effects(may_fail=INTEGER_TYPES))
# So do the other integer divisions and remainders.
floormod_p = _elementwise("floormod", "FloorMod", 2, _floormod_reference, fuses_for=FLOAT_TYPES,
                          effects=Effects(may_fail=INTEGER_TYPES))
truncatediv_p = _elementwise("truncatediv", "TruncateDiv", 2, _truncatediv_reference, fuses_for=FLOAT_TYPES,
                             effects=Effects(may_fail=INTEGER_TYPES))
truncatemod_p = _elementwise("truncatemod", "TruncateMod", 2, _truncatemod_reference, fuses_for=FLOAT_TYPES,
                             effects=Effects(may_fail=INTEGER_TYPES))
maximum_p = _elementwise("maximum", "Maximum", 2, np.maximum)
minimum_p = _elementwise("minimum", "Minimum", 2, np.minimum)
# Integer pow checks its exponents for negatives in a pass of its own, so only float pow fuses.
pow_p = _elementwise("pow", "Pow", 2, _pow_reference, SIGNED_TYPES, fuses_for=FLOAT_TYPES,
                     effects=Effects(may_fail=INTEGER_TYPES))
equal_p = _elementwise("equal", "Equal", 2, np.equal, ALL_TYPES, dtypes.bool_)
not_equal_p = _elementwise("not_equal", "NotEqual", 2, np.not_equal, ALL_TYPES, dtypes.bool_)
less_p = _elementwise("less", "Less", 2, np.less, NUMERIC_TYPES, dtypes.bool_)
less_equal_p = _elementwise("less_equal", "LessEqual", 2, np.less_equal, NUMERIC_TYPES, dtypes.bool_)
greater_p = _elementwise("greater", "Greater", 2, np.greater, NUMERIC_TYPES, dtypes.bool_)
greater_equal_p = _elementwise("greater_equal", "GreaterEqual", 2, np.greater_equal, NUMERIC_TYPES,
                               dtypes.bool_)
logical_and_p = _elementwise("logical_and", "LogicalAnd", 2, np.logical_and, (dtypes.bool_,))
logical_or_p = _elementwise("logical_or", "LogicalOr", 2, np.logical_or, (dtypes.bool_,))


def _relu_grad_reference(dy, x):
    """TF's ReluGrad, dy * (x > 0): a product, so -1 * 0 is -0.0 and inf or NaN times 0 is NaN."""
    with np.errstate(invalid="ignore"):
        return (dy * (x > 0).astype(dy.dtype)).astype(dy.dtype)


relu_grad_p = _elementwise("relu_grad", "ReluGrad", 2, _relu_grad_reference)


def _select_infer(types, attrs):
    cond, x, y = types
    if cond.dtype is not dtypes.bool_:
        raise DTypeError(f"condition must be bool, got {cond.dtype.name}")
    dtype = rules.same_dtype([x, y])
    dims = rules.broadcast_dims(rules.broadcast_dims(cond.dims, x.dims), y.dims)
    return TensorType(dtype, dims)


select_p = registry.register(OpDef(
    name="select", tf_type="SelectV2", infer=_select_infer, fusion=ELEMENTWISE,
    reference=lambda c, x, y: np.where(c, x, y)))


def _add_n_infer(types, attrs):
    dtype = rules.same_dtype(types, NUMERIC_TYPES)
    dims = types[0].dims
    for t in types[1:]:
        if dims is not None and t.dims is not None:
            if len(dims) != len(t.dims):
                raise ShapeError(f"Shapes must be equal rank, but are {len(dims)} and {len(t.dims)}")
            dims = tuple(rules.merge_dim(a, b, "AddN") for a, b in zip(dims, t.dims))
        elif dims is None:
            dims = t.dims
    return TensorType(dtype, dims)


def _add_n_reference(*xs):
    total = xs[0].copy()
    for x in xs[1:]:
        total = total + x
    return total


add_n_p = registry.register(OpDef(name="add_n", tf_type="AddN", infer=_add_n_infer, fusion=ELEMENTWISE,
                                  reference=_add_n_reference))

# -- gradients of elementwise ops (TF1's math_grad.py, as graph) --------------------------------


@registry.set_gradient(neg_p)
def _neg_grad(op, g):
    return [negative(g)]


@registry.set_gradient(square_p)
def _square_grad(op, g):
    x = op.inputs[0]
    return [g * (2 * x)]


@registry.set_gradient(sqrt_p)
def _sqrt_grad(op, g):
    return [apply_op("sqrt_grad", [op.outputs[0], g])]


@registry.set_gradient(rsqrt_p)
def _rsqrt_grad(op, g):
    y = op.outputs[0]
    return [g * (-0.5 * y * y * y)]


@registry.set_gradient(exp_p)
def _exp_grad(op, g):
    return [g * op.outputs[0]]


@registry.set_gradient(log_p)
def _log_grad(op, g):
    return [g * reciprocal(op.inputs[0])]


@registry.set_gradient(abs_p)
def _abs_grad(op, g):
    return [g * sign(op.inputs[0])]


@registry.set_gradient(sign_p)
def _sign_grad(op, g):
    return [array_ops.zeros_like(op.inputs[0])]


@registry.set_gradient(tanh_p)
def _tanh_grad(op, g):
    return [apply_op("tanh_grad", [op.outputs[0], g])]


@registry.set_gradient(sigmoid_p)
def _sigmoid_grad(op, g):
    return [apply_op("sigmoid_grad", [op.outputs[0], g])]


@registry.set_gradient(reciprocal_p)
def _reciprocal_grad(op, g):
    y = op.outputs[0]
    return [negative(g) * y * y]


@registry.set_gradient(tanh_grad_p)
def _tanh_grad_grad(op, g):
    y, dy = op.inputs
    return [g * -2.0 * dy * y, apply_op("tanh_grad", [y, g])]


@registry.set_gradient(sigmoid_grad_p)
def _sigmoid_grad_grad(op, g):
    y, dy = op.inputs
    g_dy = g * dy
    return [g_dy - 2.0 * g_dy * y, apply_op("sigmoid_grad", [y, g])]


@registry.set_gradient(sqrt_grad_p)
def _sqrt_grad_grad(op, g):
    y = op.inputs[0]
    g_over_y = g / y
    return [negative(g_over_y) * op.outputs[0], 0.5 * g_over_y]


@registry.set_gradient(relu_grad_p)
def _relu_grad_grad(op, g):
    x = op.inputs[1]
    return [apply_op("relu_grad", [g, x]), array_ops.zeros_like(x)]


@registry.set_gradient(add_p)
def _add_grad(op, g):
    x, y = op.inputs
    return [sum_to_shape_of(g, x), sum_to_shape_of(g, y)]


@registry.set_gradient(sub_p)
def _sub_grad(op, g):
    x, y = op.inputs
    return [sum_to_shape_of(g, x), sum_to_shape_of(negative(g), y)]


@registry.set_gradient(mul_p)
def _mul_grad(op, g):
    x, y = op.inputs
    return [sum_to_shape_of(g * y, x), sum_to_shape_of(x * g, y)]


@registry.set_gradient(div_p)
def _div_grad(op, g):
    x, y = op.inputs
    return [sum_to_shape_of(g / y, x), sum_to_shape_of(g * (negative(x) / y / y), y)]


@registry.set_gradient(floormod_p)
def _floormod_grad(op, g):
    """TF's: (g, -g * floordiv(x, y)); integers carry no gradient."""
    x, y = op.inputs
    if not x.dtype.is_floating:
        return [None, None]
    return [sum_to_shape_of(g, x), sum_to_shape_of(g * negative(floordiv(x, y)), y)]


@registry.set_gradient(pow_p)
def _pow_grad(op, g):
    x, y = op.inputs
    if not x.dtype.is_floating:
        return [None, None]  # integers carry no gradient (and have no log)
    z = op.outputs[0]
    gx = g * y * pow(x, y - 1)
    safe_log = where(x > 0, log(where(x > 0, x, array_ops.ones_like(x))), array_ops.zeros_like(x))
    gy = g * z * safe_log
    return [sum_to_shape_of(gx, x), sum_to_shape_of(gy, y)]


def _min_max_grad(op, g, mask_op):
    x, y = op.inputs
    x_wins = apply_op(mask_op, [x, y])
    zeros = array_ops.zeros_like(g)
    return [sum_to_shape_of(where(x_wins, g, zeros), x), sum_to_shape_of(where(x_wins, zeros, g), y)]


@registry.set_gradient(maximum_p)
def _maximum_grad(op, g):
    return _min_max_grad(op, g, "greater_equal")


@registry.set_gradient(minimum_p)
def _minimum_grad(op, g):
    return _min_max_grad(op, g, "less_equal")


@registry.set_gradient(select_p)
def _select_grad(op, g):
    c, x, y = op.inputs
    zeros = array_ops.zeros_like(g)
    # The op itself, not tf.where: where's row select would reread a condition of unknown length.
    return [None, sum_to_shape_of(apply_op("select", [c, g, zeros]), x),
            sum_to_shape_of(apply_op("select", [c, zeros, g]), y)]


@registry.set_gradient(add_n_p)
def _add_n_grad(op, g):
    return [g] * len(op.inputs)


for _op in (floordiv_p, truncatediv_p, equal_p, not_equal_p, less_p, less_equal_p, greater_p,
            greater_equal_p, logical_and_p, logical_or_p, logical_not_p):
    _op.gradient = NOT_DIFFERENTIABLE
truncatemod_p.gradient = NO_GRADIENT_DEFINED

# -- public elementwise functions --------------------------------------------------------


def add(x, y, name=None):
    """`tf.add`: x + y with broadcasting."""
    return apply_op("add", [x, y], name=name)


def subtract(x, y, name=None):
    return apply_op("sub", [x, y], name=name)


def multiply(x, y, name=None):
    return apply_op("mul", [x, y], name=name)


def realdiv(x, y, name=None):
    return apply_op("div", [x, y], name=name)


def truediv(x, y, name=None):
    """`x / y`; integers are divided as float64 (int32, int64), as in TF1."""
    with name_scope(name, "truediv", [x, y]) as scope:
        x, y = _convert_pair(x, y)
        if x.dtype.is_integer:
            x, y = cast(x, dtypes.float64), cast(y, dtypes.float64)
        return apply_op("div", [x, y], name=scope)


def divide(x, y, name=None):
    """`tf.divide`: true division."""
    return truediv(x, y, name=name)


def div(x, y, name=None):
    """`tf.div`: division as Python 2 divides, as in TF1: integers floor-divided (FloorDiv), floats RealDiv."""
    with name_scope(name, "div", [x, y]) as scope:
        x, y = _convert_pair(x, y)
        return apply_op("floordiv" if x.dtype.is_integer else "div", [x, y], name=scope)


def floordiv(x, y, name=None):
    """`tf.floordiv`: division rounded toward minus infinity."""
    return apply_op("floordiv", [x, y], name=name)


def floormod(x, y, name=None):
    """`tf.floormod` (`tf.mod`, `%`): the remainder of floor division, with the divisor's sign."""
    return apply_op("floormod", [x, y], name=name)


def truncatediv(x, y, name=None):
    """`tf.truncatediv`: division rounded toward zero."""
    return apply_op("truncatediv", [x, y], name=name)


def truncatemod(x, y, name=None):
    """`tf.truncatemod`: the remainder of truncated division, with the dividend's sign."""
    return apply_op("truncatemod", [x, y], name=name)


def negative(x, name=None):
    return apply_op("neg", [x], name=name)


def square(x, name=None):
    return apply_op("square", [x], name=name)


def sqrt(x, name=None):
    return apply_op("sqrt", [x], name=name)


def rsqrt(x, name=None):
    return apply_op("rsqrt", [x], name=name)


def exp(x, name=None):
    return apply_op("exp", [x], name=name)


def log(x, name=None):
    return apply_op("log", [x], name=name)


def abs(x, name=None):  # noqa: A001 - TF1's name
    return apply_op("abs", [x], name=name)


def sign(x, name=None):
    return apply_op("sign", [x], name=name)


def tanh(x, name=None):
    return apply_op("tanh", [x], name=name)


def sigmoid(x, name=None):
    return apply_op("sigmoid", [x], name=name)


def reciprocal(x, name=None):
    return apply_op("reciprocal", [x], name=name)


def pow(x, y, name=None):  # noqa: A001 - TF1's name
    return apply_op("pow", [x, y], name=name)


def maximum(x, y, name=None):
    return apply_op("maximum", [x, y], name=name)


def minimum(x, y, name=None):
    return apply_op("minimum", [x, y], name=name)


def equal(x, y, name=None):
    return apply_op("equal", [x, y], name=name)


def not_equal(x, y, name=None):
    return apply_op("not_equal", [x, y], name=name)


def less(x, y, name=None):
    return apply_op("less", [x, y], name=name)


def less_equal(x, y, name=None):
    return apply_op("less_equal", [x, y], name=name)


def greater(x, y, name=None):
    return apply_op("greater", [x, y], name=name)


def greater_equal(x, y, name=None):
    return apply_op("greater_equal", [x, y], name=name)


def logical_and(x, y, name=None):
    return apply_op("logical_and", [x, y], name=name)


def logical_or(x, y, name=None):
    return apply_op("logical_or", [x, y], name=name)


def logical_not(x, name=None):
    return apply_op("logical_not", [x], name=name)


def _where_infer(types, attrs):
    """TF's Where: int64 coordinates, one row per true (nonzero) element, as many columns as the
    input has dimensions; how many rows depends on the values."""
    x = types[0]
    rules.same_dtype(types, ALL_TYPES)
    return TensorType(dtypes.int64, (None, None if x.dims is None else len(x.dims)))


def _where_on_host(op, input_values):
    condition = np.asarray(input_values[0])
    if condition.ndim == 0:
        raise errors.InvalidArgumentError(None, op, "WhereOp : Unhandled input dimensions: 0")
    return np.argwhere(condition).astype(np.int64)


# A step's values have static shapes, fixed when it compiles; Where's row count depends on the
# condition's values. So Where is finished on the host from the condition the compiled step
# computes (as summaries are): it can be fetched, and an op of the step using it is refused
# when the step compiles (compiler/lower.py).
where_p = registry.register(OpDef(name="where", tf_type="Where", infer=_where_infer, role=Role.HOST,
                                  gradient=NOT_DIFFERENTIABLE, host_function=_where_on_host))


def where(condition, x=None, y=None, name=None):
    """`tf.where` as TF1's: with x and y, the elementwise choice, or, for a vector condition as long
    as x's first dimension (x of a higher rank), the choice of whole rows of x or y (TF1's
    Select); other shapes broadcast (SelectV2, where TF1 refuses them). With neither x nor y,
    the coordinates of the condition's true (nonzero) elements, an int64 [n, rank] that can be
    fetched but not used inside the step (its shape depends on values: see where_p)."""
    if (x is None) != (y is None):
        raise ValueError("x and y must both be non-None or both be None.")
    condition = convert_to_tensor(condition)
    if x is None:
        return apply_op("where", [condition], name=name or "Where")
    x, y = _convert_pair(x, y)
    rank = x.shape.ndims
    if condition.shape.ndims == 1 and rank is not None and rank > 1:
        rows, x_rows = condition.shape.as_tuple()[0], x.shape.as_tuple()[0]
        if rows is None or x_rows is None or rows == x_rows:
            condition = reshape(condition, [-1] + [1] * (rank - 1))  # one choice per row
    return apply_op("select", [condition, x, y], name=name or "Select")


def div_no_nan(x, y, name=None):
    """`tf.div_no_nan`: x / y, or 0 where y is 0.

    The division uses 1 in place of a zero divisor, so neither the value nor
    its gradient is ever NaN.
    """
    with name_scope(name, "div_no_nan", [x, y]) as scope:
        x, y = _convert_pair(x, y)
        nonzero = not_equal(y, 0)
        safe_y = where(nonzero, y, array_ops.ones_like(y))
        return where(nonzero, truediv(x, safe_y), array_ops.zeros_like(x), name=scope)


def add_n(inputs, name=None):
    """`tf.add_n`: the sum of a list of tensors of one shape and dtype."""
    if not inputs:
        raise ValueError("inputs must be a non-empty list of tensors")
    if len(inputs) == 1:
        return convert_to_tensor(inputs[0])
    return apply_op("add_n", list(inputs), name=name)


def _convert_pair(x, y):
    """Converts two operands; a Python value takes the other operand's dtype (TF1's `x + 1`)."""
    if isinstance(x, Tensor) or not isinstance(y, Tensor):
        x = convert_to_tensor(x, name="x")
        y = convert_to_tensor(y, dtype=x.dtype if not isinstance(y, (Tensor, np.ndarray)) else None, name="y")
    else:
        x = convert_to_tensor(x, dtype=y.dtype if not isinstance(x, np.ndarray) else None, name="x")
    return x, y


# -- MatMul ------------------------------------------------------------------------------


_MATMUL_TYPES = (dtypes.float16, dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64, dtypes.uint8,
                 dtypes.uint16)  # TF's MatMul: no int8 or int16


def _matmul_infer(types, attrs):
    a, b = types
    dtype = rules.same_dtype(types, _MATMUL_TYPES)
    rules.require_rank(a, 2, "In[0] of MatMul")
    rules.require_rank(b, 2, "In[1] of MatMul")
    a_dims = a.dims or (None, None)
    b_dims = b.dims or (None, None)
    m, k = (a_dims[1], a_dims[0]) if attrs["transpose_a"] else a_dims
    k2, n = (b_dims[1], b_dims[0]) if attrs["transpose_b"] else b_dims
    if k is not None and k2 is not None and k != k2:
        raise ShapeError(f"Dimensions must be equal, but are {k} and {k2}")
    return TensorType(dtype, (m, n))


def _matmul_reference(a, b, transpose_a, transpose_b):
    a = a.T if transpose_a else a
    b = b.T if transpose_b else b
    if a.dtype.kind == "f":
        # float64 accumulation keeps the oracle at least as accurate as the compiled GEMM; products that
        # overflow are rounded first, as the GEMM and TF round them (core/products.py).
        return products.contract(a, b).astype(a.dtype)
    return a @ b


# Float products are GEMM kernels (an epilogue fused onto them); integer ones plain loop nests.
matmul_p = registry.register(OpDef(name="matmul", tf_type="MatMul", infer=_matmul_infer, fusion=FusionClass.ANCHOR,
                                   anchor="gemm", epilogue_in_place=True, fuses_for=FLOAT_TYPES,
                                   reference=_matmul_reference))


@registry.set_gradient(matmul_p)
def _matmul_grad(op, g):
    a, b = op.inputs
    ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
    if not ta and not tb:
        return [matmul(g, b, transpose_b=True), matmul(a, g, transpose_a=True)]
    if not ta and tb:
        return [matmul(g, b), matmul(g, a, transpose_a=True)]
    if ta and not tb:
        return [matmul(b, g, transpose_b=True), matmul(a, g)]
    return [matmul(b, g, transpose_a=True, transpose_b=True), matmul(g, a, transpose_a=True, transpose_b=True)]


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, name=None):
    """`tf.matmul`: of two matrices (MatMul), or, when either operand has another rank, of the
    matrices in their last two dimensions with the batch dimensions before them broadcast
    (BatchMatMulV2, as TF 1.15 builds it). Adjoint equals transpose for real types."""
    for transpose, adjoint, side in ((transpose_a, adjoint_a, "a"), (transpose_b, adjoint_b, "b")):
        if transpose and adjoint:
            raise ValueError(f"Only one of `transpose_{side}` and `adjoint_{side}` can be True. Received "
                             f"`transpose_{side}`={transpose}, `adjoint_{side}`={adjoint}.")
    a, b = _convert_pair(a, b)
    if a.shape.ndims != 2 or b.shape.ndims != 2:
        return apply_op("batch_matmul", [a, b], {"adj_x": bool(transpose_a or adjoint_a),
                                                 "adj_y": bool(transpose_b or adjoint_b)}, name=name or "MatMul")
    return apply_op("matmul", [a, b], {"transpose_a": bool(transpose_a or adjoint_a),
                                       "transpose_b": bool(transpose_b or adjoint_b)}, name=name)


def _batch_matmul_infer(types, attrs):
    """TF's BatchMatMulV2 rule: ranks of at least 2, the inner dimensions equal, the batch
    dimensions broadcast."""
    a, b = types
    dtype = rules.same_dtype(types, NUMERIC_TYPES)
    for t in types:
        if t.dims is not None and len(t.dims) < 2:
            raise ShapeError(f"Shape must be at least rank 2 but is rank {len(t.dims)}")
    if a.dims is None or b.dims is None:
        return TensorType(dtype, None)
    m, k = a.dims[-1:-3:-1] if attrs["adj_x"] else a.dims[-2:]
    k2, n = b.dims[-1:-3:-1] if attrs["adj_y"] else b.dims[-2:]
    rules.merge_dim(k, k2, "BatchMatMulV2")
    return TensorType(dtype, rules.broadcast_dims(a.dims[:-2], b.dims[:-2]) + (m, n))


def _batch_matmul_reference(a, b, adj_x, adj_y):
    a = np.swapaxes(a, -1, -2) if adj_x else a
    b = np.swapaxes(b, -1, -2) if adj_y else b
    if a.dtype.kind != "f":
        return np.matmul(a, b)
    # As _matmul_reference, matrix by matrix: summed in float64 (or a wider dtype), products that may
    # overflow rounded first (core/products.py).
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a, b = np.broadcast_to(a, batch + a.shape[-2:]), np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(batch + (a.shape[-2], b.shape[-1]), products.accumulator_dtype(a.dtype))
    for index in np.ndindex(*batch):
        out[index] = products.contract(a[index], b[index])
    return out.astype(a.dtype)


batch_matmul_p = registry.register(OpDef(name="batch_matmul", tf_type="BatchMatMulV2", infer=_batch_matmul_infer,
                                         reference=_batch_matmul_reference))


@registry.set_gradient(batch_matmul_p)
def _batch_matmul_grad(op, g):
    """TF's rule: the products of MatMul's gradient, each summed over the batch dimensions its
    operand was broadcast along."""
    x, y = op.inputs
    adj_x, adj_y = op.attrs["adj_x"], op.attrs["adj_y"]
    if not adj_x and not adj_y:
        gx, gy = matmul(g, y, adjoint_b=True), matmul(x, g, adjoint_a=True)
    elif not adj_x:
        gx, gy = matmul(g, y), matmul(g, x, adjoint_a=True)
    elif not adj_y:
        gx, gy = matmul(y, g, adjoint_b=True), matmul(x, g)
    else:
        gx, gy = matmul(y, g, adjoint_a=True, adjoint_b=True), matmul(g, x, adjoint_a=True, adjoint_b=True)
    return [sum_to_shape_of(gx, x), sum_to_shape_of(gy, y)]


# -- reductions ---------------------------------------------------------------------------


def _reduce_infer(allowed):
    def infer(types, attrs):
        dtype = rules.same_dtype(types, allowed)
        axes, dims = attrs["axes"], types[0].dims
        if axes is None:
            return TensorType(dtype, None)
        rank = None if dims is None else len(dims)
        rules.normalize_axes(axes, rank)
        result = TensorType(dtype, rules.reduced_dims(dims, axes, attrs["keepdims"]))
        rules.check_distinct_axes(axes, rank, result)
        return result

    return infer


def _axes_tuple(x, axes):
    return rules.normalize_axes(axes, x.ndim)


def _sum_of(x, axes, keepdims, mean=False, combine=np.sum):
    """np.sum (or `combine`, np.prod) over `axes`, accumulated wider than the kernels' pairwise
    sums so that the oracle is at least as accurate: float32 in float64, float64 in long double
    (x86's 64-bit mantissa, which keeps float64 sum([1e16, 1, -1e16, 1]) at TF's 2), an integer
    mean's sum in int64 (as TF's). Integer sums and products wrap, as TF's do."""
    if x.dtype.kind in "iu":
        wider = np.int64 if mean else x.dtype
    elif x.dtype.kind == "b":
        wider = x.dtype
    else:  # float16 is summed in float32 by TF, here in float64
        wider = {np.dtype(np.float64): np.longdouble}.get(x.dtype, np.float64)
    return combine(x, axis=axes, keepdims=keepdims, dtype=wider)


def _sum_reference(x, axes, keepdims):
    return _sum_of(x, _axes_tuple(x, axes), keepdims).astype(x.dtype)


def _mean_reference(x, axes, keepdims):
    axes = _axes_tuple(x, axes)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    total = _sum_of(x, axes, keepdims, mean=True)
    if x.dtype.kind in "iu":
        # TF divides integer sums by the count, truncating toward zero; the mean of nothing is 0.
        # Floor division corrected toward zero, not |total| // count: |INT64_MIN| wraps to itself
        # (TF 2.21: int64 mean of [INT64_MIN, -11, 11] is -3074457345618258602).
        divisor = total.dtype.type(max(count, 1))
        return (total // divisor + ((total % divisor != 0) & (total < 0))).astype(x.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / total.dtype.type(count)).astype(x.dtype)


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype):
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


def _prod_reference(x, axes, keepdims):
    with np.errstate(over="ignore", invalid="ignore"):
        return _sum_of(x, _axes_tuple(x, axes), keepdims, combine=np.prod).astype(x.dtype)


def _any_reference(x, axes, keepdims):
    return np.any(x, axis=_axes_tuple(x, axes), keepdims=keepdims)


def _all_reference(x, axes, keepdims):
    return np.all(x, axis=_axes_tuple(x, axes), keepdims=keepdims)


def _max_reference(x, axes, keepdims):
    return np.max(x, axis=_axes_tuple(x, axes), keepdims=keepdims, initial=_lowest(x.dtype))


def _min_reference(x, axes, keepdims):
    return np.min(x, axis=_axes_tuple(x, axes), keepdims=keepdims, initial=_highest(x.dtype))


def _reduction(name, tf_type, reference, reduction, allowed=NUMERIC_TYPES):
    return registry.register(OpDef(name=name, tf_type=tf_type, infer=_reduce_infer(allowed),
                                   fusion=FusionClass.REDUCE, reduction=reduction,
                                   static_inputs=("axes",), reference=reference,
                                   tf_attr_names={"keepdims": "keep_dims"}))


reduce_sum_p = _reduction("reduce_sum", "Sum", _sum_reference, Reduction("add", "zero"))
reduce_mean_p = _reduction("reduce_mean", "Mean", _mean_reference, Reduction("add", "zero", mean=True))
reduce_max_p = _reduction("reduce_max", "Max", _max_reference, Reduction("maximum", "lowest"))
reduce_min_p = _reduction("reduce_min", "Min", _min_reference, Reduction("minimum", "highest"))
reduce_prod_p = _reduction("reduce_prod", "Prod", _prod_reference, Reduction("multiply", "one"))
reduce_any_p = _reduction("reduce_any", "Any", _any_reference, Reduction("or", "zero"), (dtypes.bool_,))
reduce_all_p = _reduction("reduce_all", "All", _all_reference, Reduction("and", "one"), (dtypes.bool_,))


def _reduced_shape_reference(input_shape, axes):
    dims = [int(d) for d in np.asarray(input_shape).reshape(-1)]
    for a in rules.normalize_axes(axes, len(dims)):
        dims[a] = 1
    return np.asarray(dims, dtype=np.asarray(input_shape).dtype)


def _reduced_shape_in_tensorflow(emit, attrs, input_shape, axes):
    """TF has no ReducedShape op: `input_shape` with 1 where `range(rank)` equals an axis (mod rank)."""
    rank = emit.node("Size", [input_shape], out_type=axes.dtype)[0]
    positions = emit.node("Range", [emit.constant(np.zeros((), axes.dtype.np_dtype)), rank,
                                    emit.constant(np.ones((), axes.dtype.np_dtype))])[0]
    column = emit.node("ExpandDims", [positions, emit.constant(np.int32(1))])[0]
    row = emit.node("Reshape", [emit.node("FloorMod", [axes, rank])[0], emit.constant(np.array([1, -1], np.int32))])[0]
    reduced = emit.node("Any", [emit.node("Equal", [column, row])[0], emit.constant(np.int32(1))])[0]
    return emit.node("SelectV2", [reduced, emit.constant(np.ones((), input_shape.dtype.np_dtype)), input_shape])[0]


# The shape a reduction's result has with keepdims; needed by reduction gradients.
reduced_shape_p = registry.register(OpDef(
    name="reduced_shape", tf_type="ReducedShape", role=Role.STATIC, gradient=NOT_DIFFERENTIABLE,
    reference=_reduced_shape_reference, infer=lambda types, attrs: types[0],
    tf_expansion=_reduced_shape_in_tensorflow))

def _range_length(start, limit, delta, dtype) -> int:
    """The number of elements of Range, with TF's checks of its bounds (errors while building)."""
    start, limit, delta = (np.asarray(v, dtype.np_dtype).reshape(-1)[0] for v in (start, limit, delta))
    if delta == 0:
        raise ShapeError(f"Requires delta != 0: {delta}")
    if delta > 0 and start > limit:
        raise ShapeError(f"Requires start <= limit when delta > 0: {start}/{limit}")
    if delta < 0 and start < limit:
        raise ShapeError(f"Requires start >= limit when delta < 0: {start}/{limit}")
    if dtype.is_integer:
        span, step = np.abs(int(limit) - int(start)), np.abs(int(delta))
        return int((span + step - 1) // step)
    return int(np.ceil(np.abs((float(limit) - float(start)) / float(delta))))


def _range_infer(types, attrs):
    dtype = attrs.get("Tidx", dtypes.int32)
    bounds = [attrs[k] for k in ("start", "limit", "delta")]
    for value, what in zip(bounds, ("start", "limit", "delta")):
        if value is not None and not isinstance(value, tuple) and np.ndim(value) != 0:
            raise ShapeError(f"Shape must be rank 0 but is rank {np.ndim(value)} ({what})")
    if any(v is None or (isinstance(v, tuple) and None in v) for v in bounds):
        return TensorType(dtype, (None,))
    return TensorType(dtype, (_range_length(*bounds, dtype),))


def _range_reference(start, limit, delta, Tidx=dtypes.int32):  # noqa: N803 - TF's attr name
    values = np.arange(_range_length(start, limit, delta, Tidx), dtype=np.float64 if Tidx.is_floating else np.int64)
    return (np.asarray(start, Tidx.np_dtype) + values * np.asarray(delta, Tidx.np_dtype)).astype(Tidx.np_dtype)


# Range's values are known when a step compiles (its bounds are constants, or shapes): a
# constant of the step. Bounds known only when it runs (a placeholder) would make its
# shape depend on values, which a compiled step's buffers cannot: lowering says so.
range_p = registry.register(OpDef(
    name="range", tf_type="Range", role=Role.STATIC, gradient=NOT_DIFFERENTIABLE,
    static_inputs=("start", "limit", "delta"), reference=_range_reference, infer=_range_infer))


def _kept_dims_grad(op, g):
    """`g` reshaped to keepdims form and broadcast back to the reduced input's shape."""
    x, axes = op.inputs
    x_shape = shape(x)
    kept = apply_op("reduced_shape", [x_shape, axes])
    return array_ops.broadcast_to(reshape(g, kept), x_shape)


@registry.set_gradient(reduce_sum_p)
def _sum_grad(op, g):
    return [_kept_dims_grad(op, g), None]


@registry.set_gradient(reduce_mean_p)
def _mean_grad(op, g):
    x, y = op.inputs[0], op.outputs[0]
    count = floordiv(size(x), maximum(size(y), 1))
    return [_kept_dims_grad(op, g) / cast(count, g.dtype), None]


def _min_max_reduce_grad(op, g):
    x, axes = op.inputs
    x_shape = shape(x)
    kept = apply_op("reduced_shape", [x_shape, axes])
    y = reshape(op.outputs[0], kept)
    indicators = cast(equal(y, x), g.dtype)
    count = reshape(reduce_sum(indicators, axes), kept)
    return [array_ops.broadcast_to(reshape(g, kept), x_shape) / count * indicators, None]


registry.set_gradient(reduce_max_p)(_min_max_reduce_grad)
registry.set_gradient(reduce_min_p)(_min_max_reduce_grad)
reduce_any_p.gradient = reduce_all_p.gradient = NOT_DIFFERENTIABLE


@registry.set_gradient(reduce_prod_p)
def _prod_grad(op, g):
    """TF's rule, right where x holds zeros: an element's gradient is the product of the others,
    made of exclusive running products from both ends over the reduced axes, which a
    transpose moves first and a reshape packs into one."""
    x, axes = op.inputs
    rank = x.shape.ndims
    axes_value = static_value(axes, lambda t: t.shape.as_tuple())
    if rank is None or axes_value is None:
        raise errors.UnimplementedError(None, op, f"graphc: the gradient of {op.name} (Prod) needs the rank of its "
                                        "input and its axes when the graph is built")
    reduced = list(rules.normalize_axes(axes_value, rank))
    perm = reduced + [a for a in range(rank) if a not in reduced]
    x_shape = shape(x)
    grad = array_ops.broadcast_to(reshape(g, apply_op("reduced_shape", [x_shape, axes])), x_shape)
    permuted = array_ops.transpose(x, perm)
    permuted_shape = shape(permuted)
    reduced_count = reduce_prod(permuted_shape[:len(reduced)], keepdims=True)
    other_count = reduce_prod(permuted_shape[len(reduced):], keepdims=True)
    packed = reshape(permuted, layout_ops.concat([reduced_count, other_count], 0))
    left = scan_ops.cumprod(packed, 0, exclusive=True)
    right = scan_ops.cumprod(packed, 0, exclusive=True, reverse=True)
    others = reshape(left * right, permuted_shape)
    return [grad * array_ops.transpose(others, np.argsort(perm).tolist()), None]


def _reduce(op_name, input_tensor, axis, keepdims, name, reduction_indices=None, keep_dims=None):
    if reduction_indices is not None:
        axis = reduction_indices
    if keep_dims is not None:
        keepdims = keep_dims
    x = convert_to_tensor(input_tensor)
    if axis is None:
        rank = x.shape.ndims
        if rank is not None:
            axes = constant(list(range(rank)), dtype=dtypes.int32, graph=x.graph)
        else:
            axes = apply_op("range", [0, array_ops.rank(x), 1])
    else:
        axes = convert_to_tensor(axis, dtype=None if hasattr(axis, "dtype") else dtypes.int32, graph=x.graph)
    return apply_op(op_name, [x, axes], {"keepdims": bool(keepdims)}, name=name)


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None, keep_dims=None):
    """`tf.reduce_sum`."""
    return _reduce("reduce_sum", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None, keep_dims=None):
    """`tf.reduce_mean`; integer means truncate, as in TF1."""
    return _reduce("reduce_mean", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_max(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None, keep_dims=None):
    """`tf.reduce_max`; the max over nothing is the dtype's lowest value."""
    return _reduce("reduce_max", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_min(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None, keep_dims=None):
    """`tf.reduce_min`."""
    return _reduce("reduce_min", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_prod(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None, keep_dims=None):
    """`tf.reduce_prod`; the product of nothing is 1, integer products wrap."""
    return _reduce("reduce_prod", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_any(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None, keep_dims=None):
    """`tf.reduce_any`: the logical or of bools (False over nothing)."""
    return _reduce("reduce_any", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_all(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None, keep_dims=None):
    """`tf.reduce_all`: the logical and of bools (True over nothing)."""
    return _reduce("reduce_all", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None, keep_dims=None):
    """`tf.reduce_logsumexp`, built as TF1 builds it: log(sum(exp(x - m))) + m with m the
    maximum (0 where that is not finite, so -inf rows give -inf and inf ones NaN as in TF),
    m held out of the gradient."""
    if reduction_indices is not None:
        axis = reduction_indices
    if keep_dims is not None:
        keepdims = keep_dims
    with name_scope(name, "ReduceLogSumExp", [input_tensor]) as scope:
        x = convert_to_tensor(input_tensor)
        raw_max = reduce_max(x, axis, keepdims=True)
        finite = less(abs(raw_max), np.inf)  # TF's is_finite: false for infinities and NaN
        largest = array_ops.stop_gradient(where(finite, raw_max, array_ops.zeros_like(raw_max)))
        result = log(reduce_sum(exp(x - largest), axis, keepdims=keepdims))
        if not keepdims:
            largest = reshape(largest, shape(result))
        return add(result, largest, name=scope)


# -- ArgMax / ArgMin --------------------------------------------------------------------


def _arg_infer(types, attrs):
    x = types[0]
    rules.same_dtype(types, NUMERIC_TYPES)
    axis = attrs["axis"]
    if axis is not None and np.ndim(axis) != 0:
        raise ShapeError(f"Shape must be rank 0 but is rank {np.ndim(axis)} (dimension)")
    if axis is None or x.dims is None:
        return TensorType(attrs["output_type"], None)
    rank, axis = len(x.dims), int(axis)
    if not -rank <= axis < rank:
        raise ShapeError(f"Dimension ({axis}) must be in the range [{-rank}, {rank}), where {rank} is the number "
                         "of dimensions in the input.")
    axis %= rank
    result = TensorType(attrs["output_type"], tuple(d for i, d in enumerate(x.dims) if i != axis))
    if x.dims[axis] == 0:
        raise rules.RejectedWhenRun(f"Reduction axis {axis} is empty in shape {format_dims_as_list(x.dims)}", result)
    return result


def _arg_reference(largest: bool):
    """TF's CPU ArgMax (ArgMin): start at index 0 with the dtype's lowest (highest) value and take
    each element strictly beyond the best so far. Ties go to the first index and NaN never
    wins: argmax([1, nan, 3]) is 2 and argmax([nan, -inf]) 0, as TF 2.21 answers."""
    def reference(x, axis, output_type):
        axis = rules.normalize_axes(np.asarray(axis).reshape(-1), x.ndim)[0]
        if x.dtype.kind == "f":
            bound = np.finfo(x.dtype).min if largest else np.finfo(x.dtype).max
            taken = x > bound if largest else x < bound  # False for NaN
            x = np.where(taken, x, -np.inf if largest else np.inf)
        return (np.argmax if largest else np.argmin)(x, axis=axis).astype(output_type.np_dtype)

    return reference


argmax_p = registry.register(OpDef(name="argmax", tf_type="ArgMax", infer=_arg_infer,
                                   static_inputs=("axis",), reference=_arg_reference(largest=True),
                                   gradient=NOT_DIFFERENTIABLE, compiled_dtypes=dtypes.ALL_DTYPES))
argmin_p = registry.register(OpDef(name="argmin", tf_type="ArgMin", infer=_arg_infer,
                                   static_inputs=("axis",), reference=_arg_reference(largest=False),
                                   gradient=NOT_DIFFERENTIABLE, compiled_dtypes=dtypes.ALL_DTYPES))


def _arg(op_name, input, axis, name, dimension, output_type):
    if dimension is not None:
        axis = dimension
    if axis is None:
        axis = 0
    if isinstance(axis, (list, tuple)):
        raise TypeError("axis must be int or Tensor with integer datatype")
    x = convert_to_tensor(input)
    axis = convert_to_tensor(axis, dtype=None if hasattr(axis, "dtype") else dtypes.int32, graph=x.graph)
    return apply_op(op_name, [x, axis], {"output_type": dtypes.as_dtype(output_type)}, name=name)


def argmax(input, axis=None, name=None, dimension=None, output_type=dtypes.int64):
    """`tf.argmax`; ties go to the first index."""
    return _arg("argmax", input, axis, name, dimension, output_type)


def argmin(input, axis=None, name=None, dimension=None, output_type=dtypes.int64):
    """`tf.argmin`."""
    return _arg("argmin", input, axis, name, dimension, output_type)


def arg_max(input, dimension, output_type=dtypes.int64, name=None):
    """`tf.arg_max`, TF1's older name of `tf.argmax` (with its argument order)."""
    return argmax(input, dimension, name=name, output_type=output_type)


def arg_min(input, dimension, output_type=dtypes.int64, name=None):
    """`tf.arg_min`, TF1's older name of `tf.argmin`."""
    return argmin(input, dimension, name=name, output_type=output_type)


# -- Python operators on Tensor ------------------------------------------------------------


def _binary_operator(fn, name, reverse=False):
    def operator(self, other):
        with name_scope(None, name, [self, other]) as scope:
            x, y = (other, self) if reverse else (self, other)
            x, y = _convert_pair(x, y)
            return fn(x, y, name=scope)

    return operator


def _install_operators():
    pairs = {
        "add": (add, "add"), "sub": (subtract, "sub"), "mul": (multiply, "mul"),
        "truediv": (truediv, "truediv"), "floordiv": (floordiv, "floordiv"), "mod": (floormod, "mod"),
        "pow": (pow, "pow"),
        "matmul": (matmul, "matmul"), "and": (logical_and, "LogicalAnd"), "or": (logical_or, "LogicalOr"),
    }
    for key, (fn, name) in pairs.items():
        setattr(Tensor, f"__{key}__", _binary_operator(fn, name))
        setattr(Tensor, f"__r{key}__", _binary_operator(fn, name, reverse=True))
    for key, fn, name in (("lt", less, "Less"), ("le", less_equal, "LessEqual"),
                          ("gt", greater, "Greater"), ("ge", greater_equal, "GreaterEqual")):
        setattr(Tensor, f"__{key}__", _binary_operator(fn, name))
    Tensor.__neg__ = lambda self: negative(self, name="Neg")
    Tensor.__abs__ = lambda self: abs(self, name="Abs")
    Tensor.__invert__ = lambda self: logical_not(self, name="LogicalNot")


_install_operators()

