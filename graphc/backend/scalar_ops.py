"""Elementwise ops as LLVM code: one entry per op of the ELEMENTWISE class.

`SCALAR_OPS[op](kb, args, in_dtypes, out_dtype, attrs)` returns the result of
one element, or of `kb.lanes` elements as vectors (constants and types come from
`kb`). The loops around them (broadcasting, strides) live in
kernels/elementwise.py and loops.py, so a fused kernel can compose these entries. Semantics match the NumPy references,
NaN cases included.
"""

from __future__ import annotations

from graphc.backend import vector_math
from graphc.core import dtypes
from graphc.core.activations import SELU_SCALE, SELU_SCALE_ALPHA, softplus_threshold


def _is_float(dtype) -> bool:
    return dtype.is_floating


def compare_integers(kb, dtype, predicate, x, y):
    """An integer comparison: unsigned for bool and the unsigned dtypes (LLVM's integers have no sign)."""
    if dtype.is_unsigned or dtype is dtypes.bool_:
        return kb.b.icmp_unsigned(predicate, x, y)
    return kb.b.icmp_signed(predicate, x, y)


def _arith(float_op, int_op, unsigned_op=None):
    def emit(kb, args, in_dtypes, out_dtype, attrs):
        dtype = in_dtypes[0]
        op = float_op if _is_float(dtype) else unsigned_op if dtype.is_unsigned and unsigned_op else int_op
        return getattr(kb.b, op)(args[0], args[1])

    return emit


def _compare(float_predicate, int_predicate):
    def emit(kb, args, in_dtypes, out_dtype, attrs):
        dtype = in_dtypes[0]
        if _is_float(dtype):
            if float_predicate == "!=":
                return kb.b.fcmp_unordered("!=", args[0], args[1])  # NaN != NaN is true
            return kb.b.fcmp_ordered(float_predicate, args[0], args[1])
        return compare_integers(kb, dtype, int_predicate, args[0], args[1])

    return emit


def _zero(kb, dtype):
    return kb.constant(dtype, 0)


def _one(kb, dtype):
    return kb.constant(dtype, 1)


def _neg(kb, args, in_dtypes, out_dtype, attrs):
    if _is_float(out_dtype):
        return kb.b.fneg(args[0])
    return kb.b.sub(_zero(kb, out_dtype), args[0])


def _square(kb, args, in_dtypes, out_dtype, attrs):
    return kb.b.fmul(args[0], args[0]) if _is_float(out_dtype) else kb.b.mul(args[0], args[0])


def _abs(kb, args, in_dtypes, out_dtype, attrs):
    if _is_float(out_dtype):
        return kb.intrinsic("fabs", out_dtype, [args[0]])
    x = args[0]
    return kb.b.select(kb.b.icmp_signed("<", x, _zero(kb, out_dtype)), kb.b.sub(_zero(kb, out_dtype), x), x)


def _sign(kb, args, in_dtypes, out_dtype, attrs):
    x = args[0]
    zero, one = _zero(kb, out_dtype), _one(kb, out_dtype)
    minus_one = kb.constant(out_dtype, -1)
    if _is_float(out_dtype):
        # Both zeros give +0.0 and NaN stays NaN, as np.sign and TF 2.21 answer.
        positive = kb.b.fcmp_ordered(">", x, zero)
        negative = kb.b.fcmp_ordered("<", x, zero)
        unordered = kb.b.fcmp_unordered("uno", x, x)
        return kb.b.select(positive, one, kb.b.select(negative, minus_one, kb.b.select(unordered, x, zero)))
    positive = kb.b.icmp_signed(">", x, zero)
    negative = kb.b.icmp_signed("<", x, zero)
    return kb.b.select(positive, one, kb.b.select(negative, minus_one, zero))


def _reciprocal(kb, args, in_dtypes, out_dtype, attrs):
    return kb.b.fdiv(_one(kb, out_dtype), args[0])


def _rsqrt(kb, args, in_dtypes, out_dtype, attrs):
    return kb.b.fdiv(_one(kb, out_dtype), kb.intrinsic("sqrt", out_dtype, [args[0]]))


def _unary_intrinsic(name):
    def emit(kb, args, in_dtypes, out_dtype, attrs):
        return kb.intrinsic(name, out_dtype, [args[0]])

    return emit


def exp(kb, dtype, x):
    """e**x: vectorizable polynomial for float32, libm for float64."""
    return vector_math.exp_f32(kb, x) if dtype is dtypes.float32 else kb.intrinsic("exp", dtype, [x])


def log(kb, dtype, x):
    return vector_math.log_f32(kb, x) if dtype is dtypes.float32 else kb.intrinsic("log", dtype, [x])


def _exp(kb, args, in_dtypes, out_dtype, attrs):
    return exp(kb, out_dtype, args[0])


def _log(kb, args, in_dtypes, out_dtype, attrs):
    return log(kb, out_dtype, args[0])


def _vectorised_float32(vector_f32, name: str, fallback: str = "libm"):
    """A unary function: float32 through graphc's vectorisable polynomial (vector_math.py), the other
    floats through LLVM's intrinsic or libm (`fallback`: "intrinsic" or "libm")."""

    def emit(kb, args, in_dtypes, out_dtype, attrs):
        if out_dtype is dtypes.float32:
            return vector_f32(kb, args[0])
        return getattr(kb, fallback)(name, out_dtype, [args[0]])

    return emit


_tanh = _vectorised_float32(vector_math.tanh_f32, "tanh", "intrinsic")
_log1p = _vectorised_float32(vector_math.log1p_f32, "log1p")
_expm1 = _vectorised_float32(vector_math.expm1_f32, "expm1")
_erf = _vectorised_float32(vector_math.erf_f32, "erf")


def _atan2(kb, args, in_dtypes, out_dtype, attrs):
    return kb.intrinsic("atan2", out_dtype, args)


def _sigmoid(kb, args, in_dtypes, out_dtype, attrs):
    one = _one(kb, out_dtype)
    return kb.b.fdiv(one, kb.b.fadd(one, exp(kb, out_dtype, kb.b.fneg(args[0]))))


def _relu(kb, args, in_dtypes, out_dtype, attrs):
    x = args[0]
    zero = _zero(kb, out_dtype)
    # x <= 0 -> 0 leaves NaN as NaN.
    if _is_float(out_dtype):
        not_positive = kb.b.fcmp_ordered("<=", x, zero)
    else:
        not_positive = compare_integers(kb, out_dtype, "<=", x, zero)
    return kb.b.select(not_positive, zero, x)


def _relu_grad(kb, args, in_dtypes, out_dtype, attrs):
    dy, x = args
    zero = _zero(kb, out_dtype)
    if not _is_float(out_dtype):
        return kb.b.select(compare_integers(kb, out_dtype, ">", x, zero), dy, zero)
    # TF's dy * (x > 0): a product, not a select, so -1 * 0 is -0.0 and inf or NaN times 0 is NaN.
    return kb.b.fmul(dy, kb.b.uitofp(kb.b.fcmp_ordered(">", x, zero), dy.type))


def _tanh_grad(kb, args, in_dtypes, out_dtype, attrs):
    y, dy = args
    return kb.b.fmul(dy, kb.b.fsub(_one(kb, out_dtype), kb.b.fmul(y, y)))


def _sigmoid_grad(kb, args, in_dtypes, out_dtype, attrs):
    y, dy = args
    # dy * (y * (1 - y)), grouped as TF's kernel groups it: y = 1e30 with dy = 0 is NaN (0 * -inf), not 0.
    return kb.b.fmul(dy, kb.b.fmul(y, kb.b.fsub(_one(kb, out_dtype), y)))


def _sqrt_grad(kb, args, in_dtypes, out_dtype, attrs):
    y, dy = args
    # TF's SqrtGrad gives +0 wherever dy == 0 (even for y = 0 or NaN), else dy * 0.5 / y.
    quotient = kb.b.fdiv(kb.b.fmul(dy, kb.constant(out_dtype, 0.5)), y)
    return kb.b.select(kb.b.fcmp_ordered("==", dy, _zero(kb, out_dtype)), _zero(kb, out_dtype), quotient)


def _safe_divisor(kb, dtype, y):
    """(y == -1, y with -1 replaced by 1): callers guarantee y != 0 (the kernel checks), and dividing
    by 1 instead avoids the one overflowing case, MIN / -1, which traps on x86."""
    is_minus_one = kb.b.icmp_signed("==", y, kb.constant(dtype, -1))
    return is_minus_one, kb.b.select(is_minus_one, _one(kb, dtype), y)


def _signs_differ(kb, dtype, a, b):
    zero = _zero(kb, dtype)
    if _is_float(dtype):
        return kb.b.xor(kb.b.fcmp_ordered("<", a, zero), kb.b.fcmp_ordered("<", b, zero))
    return kb.b.xor(kb.b.icmp_signed("<", a, zero), kb.b.icmp_signed("<", b, zero))


def _is_negative(kb, dtype, x):
    return kb.b.fcmp_ordered("<", x, _zero(kb, dtype))  # false for NaN


def _softplus(kb, args, in_dtypes, out_dtype, attrs):
    """TF's: x above -t, exp(x) below t, log1p(exp(x)) between (t: core/activations.py)."""
    x = args[0]
    threshold = kb.constant(out_dtype, softplus_threshold(out_dtype.np_dtype))
    e = exp(kb, out_dtype, x)
    middle = _log1p(kb, [e], [out_dtype], out_dtype, attrs)
    below = kb.b.select(kb.b.fcmp_ordered("<", x, threshold), e, middle)
    return kb.b.select(kb.b.fcmp_ordered(">", x, kb.b.fneg(threshold)), x, below)


def _exp_minus_one(kb, dtype, x):
    """exp(x) - 1 as TF's ELU and SELU compute it (not expm1)."""
    return kb.b.fsub(exp(kb, dtype, x), _one(kb, dtype))


def _elu(kb, args, in_dtypes, out_dtype, attrs):
    x = args[0]
    return kb.b.select(_is_negative(kb, out_dtype, x), _exp_minus_one(kb, out_dtype, x), x)


def _selu(kb, args, in_dtypes, out_dtype, attrs):
    x = args[0]
    negative = kb.b.fmul(kb.constant(out_dtype, SELU_SCALE_ALPHA), _exp_minus_one(kb, out_dtype, x))
    return kb.b.select(_is_negative(kb, out_dtype, x), negative, kb.b.fmul(kb.constant(out_dtype, SELU_SCALE), x))


def _leaky_relu(kb, args, in_dtypes, out_dtype, attrs):
    x = args[0]
    positive = kb.b.fcmp_ordered(">", x, _zero(kb, out_dtype))
    return kb.b.select(positive, x, kb.b.fmul(x, kb.constant(out_dtype, attrs["alpha"])))


def _elu_grad(kb, args, in_dtypes, out_dtype, attrs):
    dy, y = args
    return kb.b.select(_is_negative(kb, out_dtype, y), kb.b.fmul(dy, kb.b.fadd(y, _one(kb, out_dtype))), dy)


def _selu_grad(kb, args, in_dtypes, out_dtype, attrs):
    dy, y = args
    negative = kb.b.fmul(dy, kb.b.fadd(y, kb.constant(out_dtype, SELU_SCALE_ALPHA)))
    return kb.b.select(_is_negative(kb, out_dtype, y), negative, kb.b.fmul(dy, kb.constant(out_dtype, SELU_SCALE)))


def _leaky_relu_grad(kb, args, in_dtypes, out_dtype, attrs):
    dy, x = args
    positive = kb.b.fcmp_ordered(">", x, _zero(kb, out_dtype))
    return kb.b.select(positive, dy, kb.b.fmul(dy, kb.constant(out_dtype, attrs["alpha"])))


def _floordiv(kb, args, in_dtypes, out_dtype, attrs):
    x, y = args
    if _is_float(out_dtype):
        return kb.intrinsic("floor", out_dtype, [kb.b.fdiv(x, y)])
    if out_dtype.is_unsigned:  # callers guarantee y != 0; no negative quotient to round
        return kb.b.udiv(x, y)
    zero = _zero(kb, out_dtype)
    is_minus_one, safe_y = _safe_divisor(kb, out_dtype, y)
    quotient = kb.b.sdiv(x, safe_y)
    remainder = kb.b.srem(x, safe_y)
    adjust = kb.b.and_(kb.b.icmp_signed("!=", remainder, zero), _signs_differ(kb, out_dtype, remainder, safe_y))
    floored = kb.b.sub(quotient, kb.b.zext(adjust, quotient.type))
    return kb.b.select(is_minus_one, kb.b.sub(zero, x), floored)


def _truncatemod(kb, args, in_dtypes, out_dtype, attrs):
    x, y = args
    if _is_float(out_dtype):
        return kb.b.frem(x, y)  # C's fmod: NaN for y = 0 or x = inf, x for y = inf
    if out_dtype.is_unsigned:  # callers guarantee y != 0; floored and truncated remainders agree
        return kb.b.urem(x, y)
    return kb.b.srem(x, _safe_divisor(kb, out_dtype, y)[1])  # MIN % -1 is MIN % 1, 0


def _floormod(kb, args, in_dtypes, out_dtype, attrs):
    """The truncated remainder moved by y where its sign differs from y's (a zero keeps its sign)."""
    x, y = args
    remainder = _truncatemod(kb, args, in_dtypes, out_dtype, attrs)
    if out_dtype.is_unsigned:
        return remainder
    zero = _zero(kb, out_dtype)
    if _is_float(out_dtype):
        nonzero, moved = kb.b.fcmp_ordered("!=", remainder, zero), kb.b.fadd(remainder, y)
    else:
        nonzero, moved = kb.b.icmp_signed("!=", remainder, zero), kb.b.add(remainder, y)
    return kb.b.select(kb.b.and_(nonzero, _signs_differ(kb, out_dtype, remainder, y)), moved, remainder)


def _truncatediv(kb, args, in_dtypes, out_dtype, attrs):
    x, y = args
    if _is_float(out_dtype):
        return kb.intrinsic("trunc", out_dtype, [kb.b.fdiv(x, y)])
    if out_dtype.is_unsigned:  # callers guarantee y != 0
        return kb.b.udiv(x, y)
    is_minus_one, safe_y = _safe_divisor(kb, out_dtype, y)
    return kb.b.select(is_minus_one, kb.b.sub(_zero(kb, out_dtype), x), kb.b.sdiv(x, safe_y))  # MIN / -1 wraps


def _pow(kb, args, in_dtypes, out_dtype, attrs):
    x, y = args
    if _is_float(out_dtype):
        return kb.intrinsic("pow", out_dtype, [x, y])
    # Integers by squaring, a step per bit of the exponent; callers guarantee y >= 0 (the kernel
    # checks), products wrap as TF's do.
    b, zero, one = kb.b, _zero(kb, out_dtype), _one(kb, out_dtype)
    result = one
    for _ in range(8 * out_dtype.size - 1):
        odd = b.icmp_signed("!=", b.and_(y, one), zero)
        result = b.select(odd, b.mul(result, x), result)
        x, y = b.mul(x, x), b.lshr(y, one)
    return result


def _min_max(float_intrinsic, int_predicate):
    def emit(kb, args, in_dtypes, out_dtype, attrs):
        x, y = args
        if _is_float(out_dtype):
            return kb.intrinsic(float_intrinsic, out_dtype, [x, y])  # NaN propagates, as np.maximum
        return kb.b.select(compare_integers(kb, out_dtype, int_predicate, x, y), x, y)

    return emit


def _logical(name):
    def emit(kb, args, in_dtypes, out_dtype, attrs):
        return getattr(kb.b, name)(args[0], args[1])

    return emit


def _logical_not(kb, args, in_dtypes, out_dtype, attrs):
    return kb.b.xor(args[0], kb.constant(dtypes.bool_, 1))


def _select(kb, args, in_dtypes, out_dtype, attrs):
    return kb.b.select(args[0], args[1], args[2])


def _add_n(kb, args, in_dtypes, out_dtype, attrs):
    total = args[0]
    for x in args[1:]:
        total = kb.b.fadd(total, x) if _is_float(out_dtype) else kb.b.add(total, x)
    return total


def convert(kb, value, source, target):
    """Casts one element as TF's Cast does on x86 (Eigen's casts; the NumPy reference is
    array_ops._cast_reference): float -> int truncates toward zero, and NaN, infinities and
    values out of the int32 or int64 range give its lowest value (x86's "integer indefinite";
    C leaves it undefined), a narrower integer keeping the low bits of that int32; int -> int
    wraps; anything -> float16 rounds through float32, as Eigen's half does."""
    b = kb.b
    if source is target:
        return value
    to_type = kb.register_type(target)
    if target is dtypes.bool_:
        if _is_float(source):
            return b.fcmp_unordered("!=", value, _zero(kb, source))
        return b.icmp_unsigned("!=", value, _zero(kb, source))
    if target is dtypes.float16 and source is not dtypes.float32:
        return b.fptrunc(convert(kb, value, source, dtypes.float32), to_type)
    if source is dtypes.float16 and not _is_float(target):  # float16 -> float32 is exact
        return convert(kb, b.fpext(value, kb.register_type(dtypes.float32)), dtypes.float32, target)
    if source is dtypes.bool_:
        return b.uitofp(value, to_type) if _is_float(target) else b.zext(value, to_type)
    if _is_float(source) and _is_float(target):
        return b.fpext(value, to_type) if target.size > source.size else b.fptrunc(value, to_type)
    if _is_float(source):
        if target.size < dtypes.int32.size:
            return b.trunc(_float_to_int(kb, value, source, dtypes.int32), to_type)
        return _float_to_int(kb, value, source, target)
    if _is_float(target):
        return b.uitofp(value, to_type) if source.is_unsigned else b.sitofp(value, to_type)
    if target.size > source.size:
        return b.zext(value, to_type) if source.is_unsigned else b.sext(value, to_type)
    return b.trunc(value, to_type) if target.size < source.size else value  # same size: the same bits


def _float_to_int(kb, value, source, target):
    b = kb.b
    limit = 2.0 ** (8 * target.size - 1)
    inside = b.and_(b.fcmp_ordered(">=", value, kb.constant(source, -limit)),
                    b.fcmp_ordered("<", value, kb.constant(source, limit)))  # false for NaN
    # fptosi.sat, not fptosi: the lanes outside the range must not be poison before the select.
    truncated = kb.intrinsic_overloaded("fptosi.sat", kb.register_type(target), kb.register_type(source), value)
    return b.select(inside, truncated, kb.constant(target, -limit))


def _cast(kb, args, in_dtypes, out_dtype, attrs):
    return convert(kb, args[0], in_dtypes[0], out_dtype)


SCALAR_OPS = {
    "zeros_like": lambda kb, args, in_dtypes, out_dtype, attrs: _zero(kb, out_dtype),
    "neg": _neg,
    "square": _square,
    "sqrt": _unary_intrinsic("sqrt"),
    "rsqrt": _rsqrt,
    "exp": _exp,
    "log": _log,
    "abs": _abs,
    "sign": _sign,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "sin": _unary_intrinsic("sin"),
    "cos": _unary_intrinsic("cos"),
    "tan": _unary_intrinsic("tan"),
    "atan2": _atan2,
    "erf": _erf,
    "log1p": _log1p,
    "expm1": _expm1,
    "floor": _unary_intrinsic("floor"),
    "ceil": _unary_intrinsic("ceil"),
    "round": _unary_intrinsic("roundeven"),  # half to even, as TF's Round (SSE4.1's roundps)
    "reciprocal": _reciprocal,
    "logical_not": _logical_not,
    "relu": _relu,
    "relu_grad": _relu_grad,
    "tanh_grad": _tanh_grad,
    "sigmoid_grad": _sigmoid_grad,
    "sqrt_grad": _sqrt_grad,
    "softplus": _softplus,
    "elu": _elu,
    "selu": _selu,
    "leaky_relu": _leaky_relu,
    "elu_grad": _elu_grad,
    "selu_grad": _selu_grad,
    "leaky_relu_grad": _leaky_relu_grad,
    "add": _arith("fadd", "add"),
    "bias_add": _arith("fadd", "add"),  # the add of a bias row, broadcast by the loop
    "sub": _arith("fsub", "sub"),
    "mul": _arith("fmul", "mul"),
    "div": _arith("fdiv", "sdiv", "udiv"),
    "floordiv": _floordiv,
    "floormod": _floormod,
    "truncatediv": _truncatediv,
    "truncatemod": _truncatemod,
    "maximum": _min_max("maximum", ">"),
    "minimum": _min_max("minimum", "<"),
    "pow": _pow,
    "equal": _compare("==", "=="),
    "not_equal": _compare("!=", "!="),
    "less": _compare("<", "<"),
    "less_equal": _compare("<=", "<="),
    "greater": _compare(">", ">"),
    "greater_equal": _compare(">=", ">="),
    "logical_and": _logical("and_"),
    "logical_or": _logical("or_"),
    "select": _select,
    "add_n": _add_n,
    "cast": _cast,
    # The loop around the body reads the operand with broadcast strides: the element is the value.
    "broadcast_to": lambda kb, args, in_dtypes, out_dtype, attrs: args[0],
    "fill": lambda kb, args, in_dtypes, out_dtype, attrs: args[0],
}
