"""Fits the two polynomials of graphc's float32 tanh (graphc/backend/vector_math.py `tanh_f32`) and checks the
whole function as the generated code evaluates it.

    |x| < SPLIT:  tanh x = x + x^3 P(x^2)                 (an odd polynomial, P of degree SMALL_DEGREE)
    |x| >= SPLIT: tanh x = 1 - 2 / (2^(n + r) + 1)          (n + r = 2|x| log2(e), n an integer, |r| <= 1/2,
                  2^r = 1 + r Q(r), Q of degree EXP2_DEGREE - 1, 2^n put into the exponent bits)

Both are minimax fits of the relative error (iteratively reweighted least squares: Lawson's weights) in
float64. The script then evaluates tanh in float32 the way the code does (fused multiply-adds in Horner's
rule) on every 3rd float32 of [1e-6, 10], prints the worst error in ulps (against float64's tanh), and the
coefficients to paste into vector_math.py.

The split at 1 with P of degree 5 (Cephes' tanhf splits at 0.625 with degree 4) is a measured choice:
the generated code skips the tail for a vector with no lane at or above SPLIT, and a small network's
hidden units mostly lie below 1 (the tiny step: 93% of its vectors against 47% below 0.625, 1.55 -> 1.40 us).

    python tools/fit_tanh.py
"""

import numpy as np

SPLIT = 1.0
SMALL_DEGREE = 5
EXP2_DEGREE = 5
LIMIT = 9.1  # |x| is clamped here: tanh rounds to 1 in float32 from 9.0105 on
ITERATIONS = 300


def minimax(exact, target, columns):
    """The coefficients c minimizing max |sum c_k columns_k - target| / |exact| over the sample points
    (relative to the function the fit serves), by least squares reweighted where the error is largest
    (Lawson); returns (that error, c)."""
    weights, best = np.ones_like(exact), None
    matrix = np.stack(columns, 1) / exact[:, None]
    target = target / exact
    for _ in range(ITERATIONS):
        solution, *_ = np.linalg.lstsq(matrix * weights[:, None], target * weights, rcond=None)
        error = np.abs(matrix @ solution - target)
        if best is None or error.max() < best[0]:
            best = (error.max(), solution)
        weights = weights * (error / error.max() + 1e-3)
        weights /= weights.mean()
    return best


def fit_small():
    """P for x + x^3 P(x^2) on [0, SPLIT] (x itself is exact: the fit is of tanh x - x)."""
    x = np.linspace(1e-4, SPLIT, 40000)
    exact = np.tanh(x)
    return minimax(exact, exact - x, [x ** (3 + 2 * k) for k in range(SMALL_DEGREE + 1)])


def fit_exp2():
    """Q for 2^r = 1 + r Q(r) on [-1/2, 1/2]."""
    r = np.linspace(-0.5, 0.5, 20001)
    exact = 2.0 ** r
    return minimax(exact, exact - 1, [r ** k for k in range(1, EXP2_DEGREE + 1)])


def fused(a, b, c):
    """a * b + c rounded once to float32, as llvm.fmuladd on an FMA machine."""
    return (a.astype(np.float64) * b + c).astype(np.float32)


def horner(coefficients, x):
    """coefficients[0] x^n + ... + coefficients[n] in float32, one fused multiply-add a step."""
    result = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        result = fused(result, x, np.float32(c))
    return result


def tanh32(x, small, exp2):
    """tanh as the generated code computes it (small and exp2: highest power first, float32)."""
    f32 = np.float32
    magnitude = np.abs(x)
    s = x * x
    near_zero = fused(x * s, horner(small, s), x)
    clamped = np.minimum(magnitude, f32(LIMIT))
    shift = f32(1.5 * 2 ** 23)  # adding it rounds to an integer, which lands in the low bits
    shifted = fused(clamped, f32(2 / np.log(2)), shift)
    n = shifted - shift
    r = fused(clamped, f32(2 / np.log(2)), -n)
    power = horner(tuple(exp2) + (f32(1),), r)
    e = (power.view(np.int32) + (shifted.view(np.int32) << 23)).view(f32)
    tail = f32(1) - f32(2) / (e + f32(1))
    return np.copysign(np.where(magnitude >= f32(SPLIT), tail, near_zero), x)


def main():
    small_error, small = fit_small()
    exp2_error, exp2 = fit_exp2()
    small32 = small[::-1].astype(np.float32)
    exp2_32 = exp2[::-1].astype(np.float32)
    bits = np.arange(np.float32(1e-6).view(np.uint32), np.float32(10).view(np.uint32), 3, dtype=np.uint32)
    x = bits.view(np.float32)
    with np.errstate(over="ignore"):
        actual = tanh32(x, small32, exp2_32)
    exact = np.tanh(x.astype(np.float64))
    ulps = np.abs(actual - exact) / np.spacing(exact.astype(np.float32)).astype(np.float64)
    worst = int(ulps.argmax())
    print(f"fits (float64, relative): P {small_error / 2 ** -24:.3f} ulp, 2^r {exp2_error / 2 ** -24:.3f} ulp;"
          f" float32 tanh: worst {ulps[worst]:.3f} ulp at {x[worst]!r}")
    print("P =", ", ".join(f"{c!r}" for c in small32.tolist()))
    print("Q =", ", ".join(f"{c!r}" for c in exp2_32.tolist()))


if __name__ == "__main__":
    main()
