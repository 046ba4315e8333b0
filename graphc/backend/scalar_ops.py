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


def _tanh(kb, args, in_dtypes, out_dtype, attrs):
    if out_dtype is dtypes.float32:
        return vector_math.tanh_f32(kb, args[0])
    return kb.intrinsic("tanh", out_dtype, [args[0]])


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
    return kb.b.fmul(kb.b.fmul(dy, y), kb.b.fsub(_one(kb, out_dtype), y))


def _sqrt_grad(kb, args, in_dtypes, out_dtype, attrs):
    y, dy = args
    # TF's SqrtGrad gives +0 wherever dy == 0 (even for y = 0 or NaN), else dy * 0.5 / y.
    quotient = kb.b.fdiv(kb.b.fmul(dy, kb.constant(out_dtype, 0.5)), y)
    return kb.b.select(kb.b.fcmp_ordered("==", dy, _zero(kb, out_dtype)), _zero(kb, out_dtype), quotient)


def _floordiv(kb, args, in_dtypes, out_dtype, attrs):
    x, y = args
    if _is_float(out_dtype):
        return kb.intrinsic("floor", out_dtype, [kb.b.fdiv(x, y)])
    if out_dtype.is_unsigned:  # callers guarantee y != 0; no negative quotient to round
        return kb.b.udiv(x, y)
    # Callers guarantee y != 0 (the kernel checks); y == -1 is negation, which
    # also avoids the one overflowing case MIN / -1.
    zero = _zero(kb, out_dtype)
    minus_one = kb.constant(out_dtype, -1)
    is_minus_one = kb.b.icmp_signed("==", y, minus_one)
    safe_y = kb.b.select(is_minus_one, _one(kb, out_dtype), y)
    quotient = kb.b.sdiv(x, safe_y)
    remainder = kb.b.srem(x, safe_y)
    adjust = kb.b.and_(kb.b.icmp_signed("!=", remainder, zero),
                       kb.b.icmp_signed("!=", kb.b.icmp_signed("<", remainder, zero), kb.b.icmp_signed("<", safe_y, zero)))
    floored = kb.b.sub(quotient, kb.b.zext(adjust, quotient.type))
    return kb.b.select(is_minus_one, kb.b.sub(zero, x), floored)


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
    "reciprocal": _reciprocal,
    "logical_not": _logical_not,
    "relu": _relu,
    "relu_grad": _relu_grad,
    "tanh_grad": _tanh_grad,
    "sigmoid_grad": _sigmoid_grad,
    "sqrt_grad": _sqrt_grad,
    "add": _arith("fadd", "add"),
    "bias_add": _arith("fadd", "add"),  # the add of a bias row, broadcast by the loop
    "sub": _arith("fsub", "sub"),
    "mul": _arith("fmul", "mul"),
    "div": _arith("fdiv", "sdiv", "udiv"),
    "floordiv": _floordiv,
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
