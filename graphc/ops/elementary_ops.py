"""Elementary functions: trigonometry, atan2, erf, log1p and expm1, and rounding to integers.

Each op is one `OpDef` with its NumPy reference, then its gradient rule (TF's math_grad.py, as
graph), then the public TF1 function. Floats only, as in TF (whose `tf.round` of integers returns
them without an op: TF 2.21's Round kernel for integers gives 0s).
"""

from __future__ import annotations

import math

import numpy as np

from graphc.core import registry, rules
from graphc.core.registry import FusionClass, OpDef
from graphc.core.rules import FLOAT_TYPES
from graphc.frontend.graph import apply_op, convert_to_tensor
from graphc.ops import math_ops
from graphc.ops.array_ops import sum_to_shape_of


def _elementwise(name, tf_type, arity, reference, allowed=FLOAT_TYPES):
    infer = (rules.unary if arity == 1 else rules.binary)(allowed)
    return registry.register(OpDef(name=name, tf_type=tf_type, infer=infer, fusion=FusionClass.ELEMENTWISE,
                                   reference=reference))


def _erf_reference(x):
    """erf computed in float64 (NumPy has none) and rounded to x's dtype."""
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)




sin_p = _elementwise("sin", "Sin", 1, np.sin)
cos_p = _elementwise("cos", "Cos", 1, np.cos)
tan_p = _elementwise("tan", "Tan", 1, np.tan)
atan2_p = _elementwise("atan2", "Atan2", 2, np.arctan2)
erf_p = _elementwise("erf", "Erf", 1, _erf_reference)
log1p_p = _elementwise("log1p", "Log1p", 1, np.log1p)
expm1_p = _elementwise("expm1", "Expm1", 1, np.expm1)
floor_p = _elementwise("floor", "Floor", 1, np.floor)
ceil_p = _elementwise("ceil", "Ceil", 1, np.ceil)
round_p = _elementwise("round", "Round", 1, np.round)  # half to even (banker's rounding), as TF's


@registry.set_gradient(sin_p)
def _sin_grad(op, g):
    return [g * cos(op.inputs[0])]


@registry.set_gradient(cos_p)
def _cos_grad(op, g):
    return [math_ops.negative(g) * sin(op.inputs[0])]


@registry.set_gradient(tan_p)
def _tan_grad(op, g):
    """g * sec(x)**2."""
    return [g * math_ops.square(math_ops.reciprocal(cos(op.inputs[0])))]


@registry.set_gradient(atan2_p)
def _atan2_grad(op, g):
    """atan2(y, x): (g * x, -g * y) / (x**2 + y**2), each summed to its operand's shape."""
    y, x = op.inputs
    g_over_norm = g / (math_ops.square(y) + math_ops.square(x))
    return [sum_to_shape_of(x * g_over_norm, y), sum_to_shape_of(math_ops.negative(y) * g_over_norm, x)]


@registry.set_gradient(erf_p)
def _erf_grad(op, g):
    """g * 2 / sqrt(pi) * exp(-x**2)."""
    x = op.inputs[0]
    return [g * (2 / math.sqrt(math.pi)) * math_ops.exp(math_ops.negative(math_ops.square(x)))]


@registry.set_gradient(log1p_p)
def _log1p_grad(op, g):
    return [g * math_ops.reciprocal(1 + op.inputs[0])]


@registry.set_gradient(expm1_p)
def _expm1_grad(op, g):
    return [g * math_ops.exp(op.inputs[0])]


def _no_gradient(op, g):
    """TF's gradient of Floor, Ceil and Round: None (zero almost everywhere, undefined at the steps)."""
    return [None]


for _op in (floor_p, ceil_p, round_p):
    registry.set_gradient(_op)(_no_gradient)


def sin(x, name=None):
    """`tf.sin`."""
    return apply_op("sin", [x], name=name)


def cos(x, name=None):
    """`tf.cos`."""
    return apply_op("cos", [x], name=name)


def tan(x, name=None):
    """`tf.tan`."""
    return apply_op("tan", [x], name=name)


def atan2(y, x, name=None):
    """`tf.atan2`: the angle of the point (x, y), in [-pi, pi], with the signs of zeros as C's atan2."""
    return apply_op("atan2", [y, x], name=name)


def erf(x, name=None):
    """`tf.erf`: the Gauss error function."""
    return apply_op("erf", [x], name=name)


def log1p(x, name=None):
    """`tf.log1p`: log(1 + x), accurate for small x."""
    return apply_op("log1p", [x], name=name)


def expm1(x, name=None):
    """`tf.expm1`: exp(x) - 1, accurate for small x."""
    return apply_op("expm1", [x], name=name)


def floor(x, name=None):
    """`tf.floor`."""
    return apply_op("floor", [x], name=name)


def ceil(x, name=None):
    """`tf.ceil`."""
    return apply_op("ceil", [x], name=name)


def round(x, name=None):  # noqa: A001 - TF1's name
    """`tf.round`: to the nearest integer, ties to even (banker's rounding); integers are returned as they
    are, the same tensor, as TF's `tf.round` does."""
    x = convert_to_tensor(x, name="x")
    return x if x.dtype.is_integer else apply_op("round", [x], name=name)
