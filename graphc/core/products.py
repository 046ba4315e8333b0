"""Sums of products for the NumPy references of GEMM-like ops (matmul, convolution).

The references sum in float64 and round once, so that the oracle is at least
as accurate as the kernels' blocked sums: the products of float32 values are
exact in float64. Except where a product leaves the dtype's range: the kernels
(and TensorFlow) round each float32 product to float32 first, so 5e37 * 1e30
is inf there and inf + -inf is NaN, where exact float64 products would give
-inf. Where that may happen, each product is rounded to the dtype first.
"""

from __future__ import annotations

import numpy as np


def products_may_overflow(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether some product of an element of `a` and one of `b` may leave a's dtype's range. NaNs are
    skipped (fmax): a NaN elsewhere must not hide an overflowing product beside it."""
    if not (a.size and b.size) or a.dtype.kind != "f":
        return False
    largest = np.finfo(a.dtype).max
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.float64(np.fmax.reduce(np.abs(a), axis=None))
                    * np.float64(np.fmax.reduce(np.abs(b), axis=None)) > largest)


def contract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a [M, K] @ b [K, N] of floats, summed in float64, or in a's dtype where that is wider (not rounded
    back): each product is exact, or rounded to a's dtype where one may overflow."""
    wide = accumulator_dtype(a.dtype)
    if products_may_overflow(a, b):
        with np.errstate(invalid="ignore", over="ignore"):
            return np.sum(a[:, :, None] * b[None, :, :], axis=1, dtype=wide)
    return a.astype(wide) @ b.astype(wide)


def accumulator_dtype(dtype) -> np.dtype:
    """float64, or `dtype` where it is wider (np.longdouble: the fuzz oracle's run with exact products)."""
    return np.promote_types(dtype, np.float64)
