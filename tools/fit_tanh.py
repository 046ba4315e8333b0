"""Fits the rational function graphc's float32 tanh uses for |x| in [0.625, 9.1].

    1 - tanh(x) = 2 / (e^(2x) + 1) ~= P(u) / Q(u),  u = (x - 0.625) / (9.1 - 0.625),

with P and Q of degree 6 and Q(0) = 1 (printed as polynomials in x - 0.625), minimizing the largest absolute error
over the interval (the result 1 - P/Q lies in [0.55, 1), where a float32 ulp
is 2^-24, so absolute error is ulp error). The minimax fit comes from
iteratively reweighted linear least squares (Loeb's linearization, Lawson's
weights) in float64. The script then evaluates the fit the way the generated
code does (float32, Horner with fused multiply-adds) on every 7th float32 of
the interval and prints the worst error in ulps, and 1 - P(1) / Q(1) (the code clamps |x| at
9.1 and counts on it being 1: tanh rounds to 1 from 9.0105 on), with the coefficients to paste
into graphc/backend/vector_math.py.

    python tools/fit_tanh.py
"""

import numpy as np

LOW, HIGH = 0.625, 9.1
DEGREE = 6
ITERATIONS = 300


def fit():
    x = np.linspace(LOW, HIGH, 60000)
    u = (x - LOW) / (HIGH - LOW)
    y = 2 / (np.exp(2 * x) + 1)
    weights, q, best = np.ones_like(x), np.ones_like(x), None
    for _ in range(ITERATIONS):
        columns = [u ** k for k in range(DEGREE + 1)] + [-y * u ** k for k in range(1, DEGREE + 1)]
        scale = weights / q  # Loeb: divide by the previous denominator, so the linear problem tracks P/Q - y
        solution, *_ = np.linalg.lstsq(np.stack(columns, 1) * scale[:, None], y * scale, rcond=None)
        p_coefficients = solution[:DEGREE + 1]
        q_coefficients = np.concatenate([[1.0], solution[DEGREE + 1:]])
        p = np.polynomial.polynomial.polyval(u, p_coefficients)
        q = np.polynomial.polynomial.polyval(u, q_coefficients)
        error = np.abs(p / q - y)
        if best is None or error.max() < best[0]:
            best = (error.max(), p_coefficients, q_coefficients)
        weights = weights * (error / error.max() + 1e-3)  # Lawson: weight where the error is largest
        weights /= weights.mean()
    return best


def fused_horner(coefficients, u):
    """Horner's rule in float32 with each step one rounding, as llvm.fmuladd on an FMA machine."""
    result = np.full_like(u, coefficients[-1])
    for c in coefficients[-2::-1]:
        result = (result.astype(np.float64) * u + np.float64(c)).astype(np.float32)
    return result


def main():
    error, p, q = fit()
    # The code evaluates P and Q at v = x - LOW, a multiplication less than at u = v / (HIGH - LOW):
    # coefficient k times (HIGH - LOW)^-k (Horner's relative roundings are the same at either scale).
    scale = (1 / (HIGH - LOW)) ** np.arange(DEGREE + 1)
    p32, q32 = (p * scale).astype(np.float32), (q * scale).astype(np.float32)
    bits = np.arange(np.float32(LOW).view(np.uint32), np.float32(HIGH).view(np.uint32), 7, dtype=np.uint32)
    x = bits.view(np.float32)
    u = x - np.float32(LOW)
    approximation = np.float32(1) - fused_horner(p32, u) / fused_horner(q32, u)
    exact = np.tanh(x.astype(np.float64)).astype(np.float32)
    ulps = np.abs(approximation.view(np.int32).astype(np.int64) - exact.view(np.int32).astype(np.int64))
    end = np.full(1, HIGH, np.float32) - np.float32(LOW)
    at_end = np.float32(1) - fused_horner(p32, end) / fused_horner(q32, end)
    print(f"float64 fit: largest error {error / 2 ** -24:.3f} ulp; float32 evaluation: largest {ulps.max()} ulp;"
          f" at {HIGH}: {at_end[0]!r}")
    print("P =", ", ".join(f"{c!r}" for c in p32.tolist()))
    print("Q =", ", ".join(f"{c!r}" for c in q32.tolist()))


if __name__ == "__main__":
    main()
