"""float32 exp, log, tanh, log1p, expm1 and erf as branch-free LLVM IR, so loops that use them vectorize.

libm's expf/logf/tanhf/erff are calls LLVM cannot vectorize; exp and log are the Cephes
polynomials (the ones Eigen and TensorFlow's CPU kernels use), written with
selects instead of branches, evaluated with fused multiply-adds where the CPU
has them; tanh's tail and erf's series are fits of our own (tools/fit_tanh.py, tools/fit_erf.py);
log1p and expm1 are built from exp and log. Accuracy: within 2.4 ulp of the correctly rounded
result over the float32 range (tests/backend/test_vector_math.py sweeps it);
NaN, infinities, zeros and denormals give what libm gives. float64 keeps libm.
"""

from __future__ import annotations

from graphc.backend.kernel_builder import F32, I32
from graphc.core import dtypes

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
_TANH_LARGE = 9.1  # tanh rounds to 1 in float32 from 9.0105 on; the fit, from here on
# 2 / (e^(2x) + 1) ~= N(v) / D(v) for x in [0.625, 9.1], v = x - 0.625; highest power first.
_TANH_TAIL_NUMERATOR = (2.254163746329141e-06, -9.760625835042447e-05, 0.0017914142226800323, -0.01791023463010788,
                        0.10328789800405502, -0.326987624168396, 0.44540026783943176)
_TANH_TAIL_DENOMINATOR = (0.0016248173778876662, 0.010224956087768078, 0.05976572260260582, 0.21521992981433868,
                          0.6452353596687317, 0.820453941822052, 1.0)


def _f(kb, value):
    return kb.constant(_DTYPE, value)


def _i(kb, value):
    return kb.constant(dtypes.int32, value)


def _horner(kb, coefficients, x):
    """coefficients[0] * x^n + ... + coefficients[n], one fused multiply-add per step where the CPU has FMA."""
    result = _f(kb, coefficients[0])
    for c in coefficients[1:]:
        result = kb.intrinsic("fmuladd", _DTYPE, [result, x, _f(kb, c)])
    return result


def _bits(kb, x):
    return kb.b.bitcast(x, kb.lane_type(I32))


def _float(kb, bits):
    return kb.b.bitcast(bits, kb.lane_type(F32))


def _power_of_two(kb, exponent):
    """2**exponent as a float, for exponent in [-126, 127]."""
    return _float(kb, kb.b.shl(kb.b.add(exponent, _i(kb, 127)), _i(kb, 23)))


def exp_f32(kb, x):
    """e**x: reduce to r in [-ln2/2, ln2/2], e**r by polynomial, scale by 2**n."""
    b = kb.b
    clamped = kb.intrinsic("maxnum", _DTYPE, [x, _f(kb, _EXP_MIN)])
    clamped = kb.intrinsic("minnum", _DTYPE, [clamped, _f(kb, _EXP_MAX)])
    n = kb.intrinsic("floor", _DTYPE, [b.fadd(b.fmul(clamped, _f(kb, _LOG2_E)), _f(kb, 0.5))])
    r = b.fsub(b.fsub(clamped, b.fmul(n, _f(kb, _LN2_HIGH))), b.fmul(n, _f(kb, _LN2_LOW)))
    polynomial = b.fadd(b.fadd(b.fmul(_horner(kb, _EXP_POLYNOMIAL, r), b.fmul(r, r)), r), _f(kb, 1.0))
    # 2**n in two halves: n reaches 128 (overflow) and -150 (denormal results).
    exponent = b.fptosi(n, kb.lane_type(I32))
    half = b.ashr(exponent, _i(kb, 1))
    scaled = b.fmul(b.fmul(polynomial, _power_of_two(kb, half)), _power_of_two(kb, b.sub(exponent, half)))
    result = b.select(b.fcmp_ordered(">", x, _f(kb, _EXP_MAX)), _f(kb, float("inf")), scaled)
    result = b.select(b.fcmp_ordered("<", x, _f(kb, _EXP_MIN)), _f(kb, 0.0), result)
    return b.select(b.fcmp_unordered("uno", x, x), x, result)


def log_f32(kb, x):
    """ln x: x = m * 2**e with m in [sqrt(1/2), sqrt(2)), ln m by polynomial."""
    b = kb.b
    denormal = b.fcmp_ordered("<", x, _f(kb, 1.17549435e-38))
    normalized = b.select(denormal, b.fmul(x, _f(kb, 2.0 ** 25)), x)  # scaled up, exponent fixed below
    bits = _bits(kb, normalized)
    exponent = b.sub(b.and_(b.lshr(bits, _i(kb, 23)), _i(kb, 0xFF)), _i(kb, 126))
    exponent = b.select(denormal, b.sub(exponent, _i(kb, 25)), exponent)
    mantissa = _float(kb, b.or_(b.and_(bits, _i(kb, 0x807FFFFF)), _i(kb, 0x3F000000)))  # in [0.5, 1)
    small = b.fcmp_ordered("<", mantissa, _f(kb, _SQRT_HALF))
    e = b.sitofp(b.select(small, b.sub(exponent, _i(kb, 1)), exponent), kb.lane_type(F32))
    m = b.fsub(b.select(small, b.fadd(mantissa, mantissa), mantissa), _f(kb, 1.0))
    z = b.fmul(m, m)
    y = b.fmul(b.fmul(_horner(kb, _LOG_POLYNOMIAL, m), m), z)
    y = b.fadd(y, b.fmul(e, _f(kb, _LN2_LOW)))
    y = b.fsub(y, b.fmul(z, _f(kb, 0.5)))
    result = b.fadd(b.fadd(m, y), b.fmul(e, _f(kb, _LN2_HIGH)))
    result = b.select(b.fcmp_ordered("==", x, _f(kb, 0.0)), _f(kb, float("-inf")), result)
    result = b.select(b.fcmp_ordered("<", x, _f(kb, 0.0)), _f(kb, float("nan")), result)
    result = b.select(b.fcmp_ordered("==", x, _f(kb, float("inf"))), x, result)
    return b.select(b.fcmp_unordered("uno", x, x), x, result)


def tanh_f32(kb, x):
    """tanh x: below 0.625, x + x^3 P(x^2), an odd polynomial; above, 1 - N(v) / D(v), v = |x| - 0.625, a
    rational fit of 2 / (e^(2|x|) + 1) on [0.625, 9.1] (tools/fit_tanh.py) that rounds to 1 at its end,
    |x| clamped there; x's sign on either.

    Both branches are computed and one is selected (the code is vector code), so every instruction
    counts: the clamp is a select that keeps a NaN, which then flows through the arithmetic with no
    test of its own; the fit's end rounding to 1 needs no select; v needs no scaling (the fit's
    coefficients carry it). About 25 vector instructions and a division, 21 of them on the
    multiply pipes, which bound the tiny step's forward kernel.
    """
    b = kb.b
    magnitude = kb.intrinsic("fabs", _DTYPE, [x])
    s = b.fmul(x, x)
    small = kb.intrinsic("fmuladd", _DTYPE, [b.fmul(x, s), _horner(kb, _TANH_POLYNOMIAL, s), x])
    large_limit = _f(kb, _TANH_LARGE)
    clamped = b.select(b.fcmp_ordered(">", magnitude, large_limit), large_limit, magnitude)  # NaN stays NaN
    v = b.fsub(clamped, _f(kb, _TANH_SMALL))
    large = b.fsub(_f(kb, 1.0), b.fdiv(_horner(kb, _TANH_TAIL_NUMERATOR, v), _horner(kb, _TANH_TAIL_DENOMINATOR, v)))
    result = b.select(b.fcmp_ordered("<", magnitude, _f(kb, _TANH_SMALL)), small, large)
    # x's sign on both branches: the polynomial's -0.0 * -0.0 + -0.0 would make tanh(-0.0) +0.0 (TF: -0.0).
    return kb.intrinsic("copysign", _DTYPE, [result, x])


def log1p_f32(kb, x):
    """log(1 + x) from log_f32: with u = 1 + x rounded, log(u) * x / (u - 1) cancels the rounding
    of u (Goldberg's trick, the one Eigen uses); x itself where u rounds to 1, and inf at inf."""
    b = kb.b
    u = b.fadd(x, _f(kb, 1.0))
    result = b.fmul(log_f32(kb, u), b.fdiv(x, b.fsub(u, _f(kb, 1.0))))
    result = b.select(b.fcmp_ordered("==", u, _f(kb, float("inf"))), u, result)
    return b.select(b.fcmp_ordered("==", u, _f(kb, 1.0)), x, result)


def expm1_f32(kb, x):
    """exp(x) - 1 from exp_f32 and log_f32: with u = exp(x) rounded, (u - 1) * x / log(u) (Kahan's
    trick, the one Eigen uses); x itself where u rounds to 1, -1 where u - 1 does, inf at inf."""
    b = kb.b
    u = exp_f32(kb, x)
    u_minus_one = b.fsub(u, _f(kb, 1.0))
    result = b.fmul(u_minus_one, b.fdiv(x, log_f32(kb, u)))
    result = b.select(b.fcmp_ordered("==", u, _f(kb, float("inf"))), u, result)
    result = b.select(b.fcmp_ordered("==", u_minus_one, _f(kb, -1.0)), u_minus_one, result)
    return b.select(b.fcmp_ordered("==", u, _f(kb, 1.0)), x, result)


# erf(sqrt(t)) / sqrt(t) ~= sum c_k T_k(t / 8 - 1) for t in [0, 16] (tools/fit_erf.py), in float64.
_ERF_CHEBYSHEV = (0.48591295690286307, -0.34540785500494975, 0.161829101213646, -0.07648275610550886,
                  0.034669936800507464, -0.01481186414781473, 0.005922937956232057, -0.002211840658810179,
                  0.0007714154278403835, -0.0002515965878095848, 7.688658221091806e-05, -2.2065495938874236e-05,
                  5.961274041283321e-06, -1.5197750687930365e-06, 3.664930258016531e-07, -8.378986749464708e-08,
                  1.8200721725080663e-08, -3.760101540070524e-09, 7.174542677793196e-10)
_ERF_ONE_FROM = 4.0  # float32's erf rounds to 1 from 3.92 on


def erf_f32(kb, x):
    """erf x = x * f(x^2), f a Chebyshev series evaluated in float64 by Clenshaw's recurrence (within
    4e-10 relative, so the float32 result is the correctly rounded one but within 4e-10 of a tie);
    +-1 from |x| = 4 on. x^2 is exact in float64, x's sign and NaN carry through the product, and it
    vectorises where libm's erff is a call per element (27 ns against 1.5)."""
    b = kb.b
    wide_type = kb.register_type(dtypes.float64)

    def wide(value):
        return kb.constant(dtypes.float64, value)

    x64 = b.fpext(x, wide_type)
    t = kb.intrinsic("minnum", dtypes.float64, [b.fmul(x64, x64), wide(_ERF_ONE_FROM ** 2)])
    u = kb.intrinsic("fmuladd", dtypes.float64, [t, wide(2 / _ERF_ONE_FROM ** 2), wide(-1.0)])
    two_u = b.fadd(u, u)
    later, latest = wide(0.0), wide(0.0)  # b_{k+1}, b_{k+2}
    for c in reversed(_ERF_CHEBYSHEV[1:]):
        later, latest = kb.intrinsic("fmuladd", dtypes.float64, [two_u, later, b.fsub(wide(c), latest)]), later
    series = kb.intrinsic("fmuladd", dtypes.float64, [u, later, b.fsub(wide(_ERF_CHEBYSHEV[0]), latest)])
    result = b.fptrunc(b.fmul(x64, series), kb.lane_type(F32))
    one = kb.intrinsic("copysign", _DTYPE, [_f(kb, 1.0), x])
    return b.select(b.fcmp_ordered(">=", kb.intrinsic("fabs", _DTYPE, [x]), _f(kb, _ERF_ONE_FROM)), one, result)
