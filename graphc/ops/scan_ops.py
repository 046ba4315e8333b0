"""Scans: `tf.cumsum` and `tf.cumprod` along one axis, inclusive or exclusive, forward or reversed.

Each op is defined by its OpDef with its NumPy reference, then its gradient (TF1's
math_grad.py formulas, as graph) and its public function. The axis is a compile-time
input, as a reduction's axes are.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from graphc.core import dtypes, registry, rules
from graphc.core.registry import OpDef, TensorType
from graphc.core.rules import NUMERIC_TYPES
from graphc.frontend.graph import apply_op, convert_to_tensor, name_scope
from graphc.ops import array_ops


def _scan_infer(types, attrs):
    """TF's shape rule: the input's shape; the axis must be a scalar, and an axis outside the
    rank is refused when the op runs."""
    x = types[0]
    dtype = rules.same_dtype([x], NUMERIC_TYPES)
    result = TensorType(dtype, x.dims)
    axis = attrs["axis"]
    if axis is not None and np.ndim(axis) != 0:
        raise rules.RejectedWhenRun(f"ScanOp: axis must be a scalar, not [{','.join(map(str, np.shape(axis)))}]",
                                    result)
    if axis is not None and x.dims is not None and not -len(x.dims) <= int(axis) < len(x.dims):
        rank = len(x.dims)
        raise rules.RejectedWhenRun(f"ScanOp: Expected scan axis in the range [{-rank}, {rank}), but got "
                                    f"{int(axis)}", result)
    return result


def _exact_prefix_sums(row: np.ndarray) -> np.ndarray:
    """The running sums of one float row, each the exact sum rounded once to float64.

    The kernel's compensated float64 sum is closer to the exact sum than a long-double running sum
    (1e300 + 1 - 1e300 is 1 there, 0 in long double), so the reference must be exact to judge it.
    Finite terms add as fractions; infinities and NaNs as IEEE floats (inf - inf is NaN); a sum of
    only -0.0 is -0.0, as IEEE addition gives; a sum past float64's range is infinite from there on."""
    exact, special, all_negative_zeros = Fraction(0), 0.0, True
    sums = np.empty(row.shape, np.float64)
    for index, term in enumerate(row.tolist()):
        all_negative_zeros = all_negative_zeros and term == 0 and math.copysign(1.0, term) < 0
        if math.isfinite(term):
            exact += Fraction(term)
        else:
            special += term
        if special != 0 or math.isnan(special):
            sums[index] = special
        elif all_negative_zeros:
            sums[index] = -0.0
        else:
            try:
                sums[index] = float(exact)
            except OverflowError:  # a float64 running sum overflows here, and stays infinite as IEEE's does
                special = sums[index] = math.inf if exact > 0 else -math.inf
    return sums


def _scan_reference(combine):
    """np.cumsum (np.cumprod) along `axis`. Float sums are exact (_exact_prefix_sums); products
    accumulate as the kernel does, float32 in float64, float64 in long double; integers wrap, as
    TF's do. `exclusive` shifts the results by one (the first is the identity), `reverse` scans
    from the end."""

    def reference(x, axis, exclusive, reverse):
        wider = {np.dtype(np.float32): np.float64, np.dtype(np.float64): np.longdouble}.get(x.dtype, x.dtype)
        values = np.moveaxis(x, int(axis) % x.ndim, -1)
        values = values[..., ::-1] if reverse else values
        if exclusive:
            first = np.full(values.shape[:-1] + (min(values.shape[-1], 1),), 1 if combine is np.cumprod else 0,
                            x.dtype)
            values = np.concatenate([first, values[..., :-1]], axis=-1)
        with np.errstate(over="ignore", invalid="ignore"):
            if combine is np.cumsum and x.dtype.kind == "f" and x.size:
                rows = values.reshape(-1, values.shape[-1]).astype(np.float64)
                result = np.array([_exact_prefix_sums(row) for row in rows]).reshape(values.shape).astype(x.dtype)
            else:
                result = combine(values, axis=-1, dtype=wider).astype(x.dtype)
        return np.ascontiguousarray(np.moveaxis(result[..., ::-1] if reverse else result, -1, int(axis) % x.ndim))

    return reference


cumsum_p = registry.register(OpDef(name="cumsum", tf_type="Cumsum", infer=_scan_infer, static_inputs=("axis",),
                                   reference=_scan_reference(np.cumsum)))
cumprod_p = registry.register(OpDef(name="cumprod", tf_type="Cumprod", infer=_scan_infer, static_inputs=("axis",),
                                    reference=_scan_reference(np.cumprod)))


@registry.set_gradient(cumsum_p)
def _cumsum_grad(op, grad):
    exclusive, reverse = op.attrs["exclusive"], op.attrs["reverse"]
    return [cumsum(grad, op.inputs[1], exclusive=exclusive, reverse=not reverse), None]


@registry.set_gradient(cumprod_p)
def _cumprod_grad(op, grad):
    """TF's rule: cumsum(cumprod(x) * grad, reversed) / x, with TF 2's div_no_nan: 0 where x is 0
    (TF 1.15 divides, giving NaN there; neither is the derivative, which TF leaves as a TODO)."""
    x, axis = op.inputs
    exclusive, reverse = op.attrs["exclusive"], op.attrs["reverse"]
    product = cumprod(x, axis, exclusive=exclusive, reverse=reverse)
    out = cumsum(product * grad, axis, exclusive=exclusive, reverse=not reverse)
    is_zero = apply_op("equal", [x, 0])
    zeros = array_ops.zeros_like(out)
    return [apply_op("select", [is_zero, zeros, out / apply_op("select", [is_zero, array_ops.ones_like(x), x])]),
            None]


def _scan(op_name, x, axis, exclusive, reverse, name, default_name):
    with name_scope(name, default_name, [x]) as scope:
        x = convert_to_tensor(x, name="x")
        axis = convert_to_tensor(axis, dtype=None if hasattr(axis, "dtype") else dtypes.int32, graph=x.graph)
        return apply_op(op_name, [x, axis], {"exclusive": bool(exclusive), "reverse": bool(reverse)}, name=scope)


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """`tf.cumsum`: running sums along `axis`; `exclusive` leaves each element out of its own sum,
    `reverse` sums from the end. Float sums are accumulated wider than the data (see the kernel)."""
    return _scan("cumsum", x, axis, exclusive, reverse, name, "Cumsum")


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """`tf.cumprod`: running products along `axis`, as `cumsum` sums."""
    return _scan("cumprod", x, axis, exclusive, reverse, name, "Cumprod")
