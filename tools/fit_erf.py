"""Fits the Chebyshev series graphc's float32 erf evaluates (in float64) for |x| < 4.

    erf(x) = x * f(x^2),  f(t) = erf(sqrt(t)) / sqrt(t) ~= sum c_k T_k(u),  u = t / 8 - 1, t in [0, 16],

f is entire in t, so interpolation at Chebyshev points converges fast: degree 18 is within 4e-10 of
f (relative), far below float32's 6e-8, so rounding the float64 result to float32 gives the correctly
rounded erf except where it lies within 4e-10 of a tie. From |x| = 4 on float32's erf is +-1. The
script prints the worst relative error over [0, 4] and the coefficients to paste into
graphc/backend/vector_math.py.

    python tools/fit_erf.py
"""

import math

import numpy as np
from numpy.polynomial import chebyshev

DEGREE = 18
T_MAX = 16.0


def f(u):
    x = np.sqrt((np.asarray(u, dtype=np.float64) + 1) * T_MAX / 2)
    return np.array([math.erf(v) / v if v > 0 else 2 / math.sqrt(math.pi) for v in np.atleast_1d(x)])


def main():
    coefficients = chebyshev.chebinterpolate(f, DEGREE)
    u = np.linspace(-1, 1, 200001)
    error = np.max(np.abs(chebyshev.chebval(u, coefficients) - f(u)) / f(u))
    print(f"degree {DEGREE}: worst relative error {error:.2e}")
    print("_ERF_CHEBYSHEV = (" + ", ".join(repr(float(c)) for c in coefficients) + ")")


if __name__ == "__main__":
    main()
