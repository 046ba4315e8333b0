"""float32 exp, log and tanh as branch-free LLVM IR, so loops that use them vectorize.

libm's expf/logf/tanhf are calls LLVM cannot vectorize; these are the Cephes
polynomials (the ones Eigen and TensorFlow's CPU kernels use), written with
selects instead of branches. Accuracy: within 2 ulp of the correctly rounded
result over the float32 range (tests/backend/test_vector_math.py sweeps it);
NaN, infinities, zeros and denormals give what libm gives. float64 keeps libm.
"""

from __future__ import annotations

import llvmlite.ir as ir

from graphc.backend.kernel_builder import F32, I32
from graphc.frontend import dtypes

_DTYPE = dtypes.float32  # what kb.intrinsic types its calls by

_LOG2_E = 1.44269504088896341
_LN2_HIGH, _LN2_LOW = 0.693359375, -2.12194440e-4
_EXP_MAX, _EXP_MIN = 88.72283905206835, -103.972084045410
_EXP_POLYNOMIAL = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
                   5.0000001201e-1)
_LOG_POLYNOMIAL = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
                   -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)
_TANH_POLYNOMIAL = (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1)
_SQRT_HALF = 0.707106781186547524
_TANH_SMALL = 0.625


def _f(value) -> ir.Constant:
    return ir.Constant(F32, float(value))


def _i(value) -> ir.Constant:
    return ir.Constant(I32, int(value))


def _horner(b, coefficients, x):
    result = _f(coefficients[0])
    for c in coefficients[1:]:
        result = b.fadd(b.fmul(result, x), _f(c))
    return result


def _bits(b, x):
    return b.bitcast(x, I32)


def _float(b, bits):
    return b.bitcast(bits, F32)


def _power_of_two(b, exponent):
    """2**exponent as a float, for exponent in [-126, 127]."""
    return _float(b, b.shl(b.add(exponent, _i(127)), _i(23)))


def exp_f32(kb, x):
    """e**x: reduce to r in [-ln2/2, ln2/2], e**r by polynomial, scale by 2**n."""
    b = kb.b
    clamped = kb.intrinsic("minnum", _DTYPE, [kb.intrinsic("maxnum", _DTYPE, [x, _f(_EXP_MIN)]), _f(_EXP_MAX)])
    n = kb.intrinsic("floor", _DTYPE, [b.fadd(b.fmul(clamped, _f(_LOG2_E)), _f(0.5))])
    r = b.fsub(b.fsub(clamped, b.fmul(n, _f(_LN2_HIGH))), b.fmul(n, _f(_LN2_LOW)))
    polynomial = b.fadd(b.fadd(b.fmul(_horner(b, _EXP_POLYNOMIAL, r), b.fmul(r, r)), r), _f(1.0))
    # 2**n in two halves: n reaches 128 (overflow) and -150 (denormal results).
    exponent = b.fptosi(n, I32)
    half = b.ashr(exponent, _i(1))
    scaled = b.fmul(b.fmul(polynomial, _power_of_two(b, half)), _power_of_two(b, b.sub(exponent, half)))
    result = b.select(b.fcmp_ordered(">", x, _f(_EXP_MAX)), _f(float("inf")), scaled)
    result = b.select(b.fcmp_ordered("<", x, _f(_EXP_MIN)), _f(0.0), result)
    return b.select(b.fcmp_unordered("uno", x, x), x, result)


def log_f32(kb, x):
    """ln x: x = m * 2**e with m in [sqrt(1/2), sqrt(2)), ln m by polynomial."""
    b = kb.b
    denormal = b.fcmp_ordered("<", x, _f(1.17549435e-38))
    normalized = b.select(denormal, b.fmul(x, _f(2.0 ** 25)), x)  # scaled up, exponent fixed below
    bits = _bits(b, normalized)
    exponent = b.sub(b.and_(b.lshr(bits, _i(23)), _i(0xFF)), _i(126))
    exponent = b.select(denormal, b.sub(exponent, _i(25)), exponent)
    mantissa = _float(b, b.or_(b.and_(bits, _i(0x807FFFFF)), _i(0x3F000000)))  # in [0.5, 1)
    small = b.fcmp_ordered("<", mantissa, _f(_SQRT_HALF))
    e = b.sitofp(b.select(small, b.sub(exponent, _i(1)), exponent), F32)
    m = b.fsub(b.select(small, b.fadd(mantissa, mantissa), mantissa), _f(1.0))
    z = b.fmul(m, m)
    y = b.fmul(b.fmul(_horner(b, _LOG_POLYNOMIAL, m), m), z)
    y = b.fadd(y, b.fmul(e, _f(_LN2_LOW)))
    y = b.fsub(y, b.fmul(z, _f(0.5)))
    result = b.fadd(b.fadd(m, y), b.fmul(e, _f(_LN2_HIGH)))
    result = b.select(b.fcmp_ordered("==", x, _f(0.0)), _f(float("-inf")), result)
    result = b.select(b.fcmp_ordered("<", x, _f(0.0)), _f(float("nan")), result)
    result = b.select(b.fcmp_ordered("==", x, _f(float("inf"))), x, result)
    return b.select(b.fcmp_unordered("uno", x, x), x, result)


def tanh_f32(kb, x):
    """tanh x: an odd polynomial below 0.625, else 1 - 2 / (e**(2|x|) + 1) with x's sign."""
    b = kb.b
    magnitude = kb.intrinsic("fabs", _DTYPE, [x])
    s = b.fmul(x, x)
    small = b.fadd(b.fmul(b.fmul(_horner(b, _TANH_POLYNOMIAL, s), s), x), x)
    e = exp_f32(kb, b.fmul(magnitude, _f(2.0)))
    large = b.fsub(_f(1.0), b.fdiv(_f(2.0), b.fadd(e, _f(1.0))))
    large = kb.intrinsic("copysign", _DTYPE, [large, x])
    result = b.select(b.fcmp_ordered("<", magnitude, _f(_TANH_SMALL)), small, large)
    return b.select(b.fcmp_unordered("uno", x, x), x, result)


def sigmoid_f32(kb, x):
    """1 / (1 + e**-x)."""
    b = kb.b
    return b.fdiv(_f(1.0), b.fadd(_f(1.0), exp_f32(kb, b.fneg(x))))

