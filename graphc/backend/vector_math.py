"""float32 exp, log, tanh, log1p, expm1 and erf as LLVM IR that vectorizes.

libm's expf/logf/tanhf/erff are calls LLVM cannot vectorize; exp and log are the Cephes
polynomials (the ones Eigen and TensorFlow's CPU kernels use), written with
selects instead of branches, evaluated with fused multiply-adds where the CPU
has them; tanh's polynomials and erf's series are fits of our own (tools/fit_tanh.py, tools/fit_erf.py).
Code emitted one element at a time (for LLVM's loop vectorizer) is branch-free; tanh emitted
for a whole vector skips a branch of its formula that no lane of the vector needs;
log1p and expm1 are built from exp and log. Accuracy: within 2.4 ulp of the correctly rounded
result over the float32 range (tests/backend/test_vector_math.py sweeps it);
NaN, infinities, zeros and denormals give what libm gives. float64 keeps libm.
"""

from __future__ import annotations

from graphc.backend.kernel_builder import F32, I1, I32, declare
from graphc.core import dtypes

_DTYPE = dtypes.float32  # what kb.intrinsic types its calls by

_LOG2_E = 1.44269504088896341
_LN2_HIGH, _LN2_LOW = 0.693359375, -2.12194440e-4
_EXP_MAX, _EXP_MIN = 88.72283905206835, -103.972084045410
_EXP_POLYNOMIAL = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
                   5.0000001201e-1)
_LOG_POLYNOMIAL = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
                   -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)
_SQRT_HALF = 0.707106781186547524
# tanh (tools/fit_tanh.py): x + x^3 P(x^2) below _TANH_SPLIT, 1 - 2 / (2^(2|x| log2 e) + 1) from it on, with
# 2^r = 1 + r Q(r) for |r| <= 1/2; highest power first.
_TANH_SPLIT = 1.0
_TANH_POLYNOMIAL = (0.001053880201652646, -0.0062473975121974945, 0.020347855985164642, -0.05349345505237579,
                    0.13326312601566315, -0.33332982659339905)
_EXP2_POLYNOMIAL = (0.0013282726285979152, 0.009672216139733791, 0.05550677701830864, 0.2402222901582718,
                    0.6931470036506653)
_TANH_LARGE = 9.1  # tanh rounds to 1 in float32 from 9.0105 on: |x| is clamped here
_ROUNDING_SHIFT = 1.5 * 2 ** 23  # y + this, in float32, is round(y) in the low bits for |y| < 2^22


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


def _select_where_needed(kb, needed, emit, otherwise):
    """select(needed, emit(), otherwise), with emit's code and the select run only when a lane of the
    vector condition `needed` is set: a vector with no such lane takes `otherwise` as it is, so its
    common path has neither the select nor a second test of `needed`. Element by element (one lane)
    the code always runs: that code stays branch-free for LLVM's loop vectorizer."""
    b = kb.b
    if kb.lanes == 1:
        return b.select(needed, emit(), otherwise)
    any_lane = declare(kb.module, f"llvm.vector.reduce.or.v{kb.lanes}i1", I1, [needed.type])
    before = b.block
    with b.if_then(b.call(any_lane, [needed])):
        value = b.select(needed, emit(), otherwise)
        computed = b.block
    merged = b.phi(value.type)
    merged.add_incoming(value, computed)
    merged.add_incoming(otherwise, before)
    return merged


def tanh_f32(kb, x):
    """tanh x: below 1, x + x^3 P(x^2), an odd polynomial; from 1 on, 1 - 2 / (e^(2|x|) + 1) with e^(2|x|) =
    2^n 2^r (n an integer, |r| <= 1/2, 2^r a polynomial, 2^n added to its exponent bits) and |x| clamped
    at 9.1, where that rounds to 1; x's sign on either. Within 1.6 ulp (tools/fit_tanh.py): P of degree 5,
    one multiply-add fewer than the 1.15 ulp of degree 6, as the forward kernel of a tanh layer spends its
    multiplies on tanh (the tiny step: 8 of its 10 a vector).

    A vector computes the tail only if one of its lanes needs it (a test and a branch), so values all
    below 1, as a small network's hidden units often are, cost the polynomial alone (8 multiplies);
    others pay for both (15 and a division). Skipping the polynomial too when no lane needs it was
    slower on the tiny step (1.40 -> 1.50 us) and gained 8% on values all above 1. NaN takes the
    polynomial, which keeps it.
    """
    b = kb.b
    magnitude = kb.intrinsic("fabs", _DTYPE, [x])
    in_tail = b.fcmp_ordered(">=", magnitude, _f(kb, _TANH_SPLIT))  # false for NaN

    s = b.fmul(x, x)
    small = kb.intrinsic("fmuladd", _DTYPE, [b.fmul(x, s), _horner(kb, _TANH_POLYNOMIAL, s), x])

    def tail():
        large_limit = _f(kb, _TANH_LARGE)
        clamped = b.select(b.fcmp_ordered(">", magnitude, large_limit), large_limit, magnitude)
        two_log2_e = _f(kb, 2 * _LOG2_E)
        shifted = kb.intrinsic("fmuladd", _DTYPE, [clamped, two_log2_e, _f(kb, _ROUNDING_SHIFT)])
        n = b.fsub(shifted, _f(kb, _ROUNDING_SHIFT))
        r = kb.intrinsic("fmuladd", _DTYPE, [clamped, two_log2_e, b.fneg(n)])  # 2|x| log2(e) - n, rounded once
        power = _horner(kb, _EXP2_POLYNOMIAL + (1.0,), r)
        # shifted's low bits are n (two's complement), so shifted << 23 is n << 23 alone: 2^n's exponent.
        exponential = _float(kb, b.add(_bits(kb, power), b.shl(_bits(kb, shifted), _i(kb, 23))))
        return b.fsub(_f(kb, 1.0), b.fdiv(_f(kb, 2.0), b.fadd(exponential, _f(kb, 1.0))))

    either = _select_where_needed(kb, in_tail, tail, small)
    # x's sign on both branches: the polynomial's -0.0 * -0.0 + -0.0 would make tanh(-0.0) +0.0 (TF: -0.0).
    return kb.intrinsic("copysign", _DTYPE, [either, x])


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
