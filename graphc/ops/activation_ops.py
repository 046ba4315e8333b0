"""Smooth activations of `tf.nn` (softplus, elu, selu, leaky_relu) and `tf.log_sigmoid`.

Each op is one `OpDef` with its NumPy reference, written as TF 2.21's CPU kernels compute it (exp(x) - 1,
not expm1, in ELU and SELU: elu(-1e-8) is 0.0 in float32; log1p(exp(x)) in Softplus: softplus(-1.0) is
0.31326169, where TF 1.15's log(exp(x) + 1) gave 0.31326166), then its gradient rule (TF's nn_grad.py, as
graph) and the public function. Floats only, as in TF.
"""

from __future__ import annotations

import numpy as np

from graphc.core import dtypes, registry, rules
from graphc.core.activations import SELU_SCALE, SELU_SCALE_ALPHA, softplus_threshold
from graphc.core.registry import FusionClass, OpDef
from graphc.core.rules import FLOAT_TYPES
from graphc.frontend.graph import apply_op, convert_to_tensor, name_scope
from graphc.ops import array_ops, math_ops


def _elementwise(name, tf_type, arity, reference):
    infer = (rules.unary if arity == 1 else rules.binary)(FLOAT_TYPES)
    return registry.register(OpDef(name=name, tf_type=tf_type, infer=infer, fusion=FusionClass.ELEMENTWISE,
                                   reference=reference))


def _softplus_reference(x):
    threshold = x.dtype.type(softplus_threshold(x.dtype))
    with np.errstate(over="ignore", invalid="ignore"):
        exp = np.exp(x)
        return np.where(x > -threshold, x, np.where(x < threshold, exp, np.log1p(exp)))


def _elu_reference(x):
    with np.errstate(over="ignore"):
        return np.where(x < 0, np.exp(x) - x.dtype.type(1), x)


def _selu_reference(x):
    scale, scale_alpha = x.dtype.type(SELU_SCALE), x.dtype.type(SELU_SCALE_ALPHA)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(x < 0, scale_alpha * (np.exp(x) - x.dtype.type(1)), scale * x)


def _leaky_relu_reference(x, alpha):
    with np.errstate(invalid="ignore"):
        return np.where(x > 0, x, x * x.dtype.type(alpha))


softplus_p = _elementwise("softplus", "Softplus", 1, _softplus_reference)
elu_p = _elementwise("elu", "Elu", 1, _elu_reference)
selu_p = _elementwise("selu", "Selu", 1, _selu_reference)
leaky_relu_p = _elementwise("leaky_relu", "LeakyRelu", 1, _leaky_relu_reference)

# -- gradient helpers, as TF has them: (dy, y or x) -> dx ----------------------------------------


def _elu_grad_reference(dy, y):
    with np.errstate(invalid="ignore"):
        return np.where(y < 0, dy * (y + y.dtype.type(1)), dy)


def _selu_grad_reference(dy, y):
    scale, scale_alpha = y.dtype.type(SELU_SCALE), y.dtype.type(SELU_SCALE_ALPHA)
    with np.errstate(invalid="ignore"):
        return np.where(y < 0, dy * (y + scale_alpha), dy * scale)


def _leaky_relu_grad_reference(dy, x, alpha):
    with np.errstate(invalid="ignore"):
        return np.where(x > 0, dy, dy * x.dtype.type(alpha))


elu_grad_p = _elementwise("elu_grad", "EluGrad", 2, _elu_grad_reference)
selu_grad_p = _elementwise("selu_grad", "SeluGrad", 2, _selu_grad_reference)
leaky_relu_grad_p = _elementwise("leaky_relu_grad", "LeakyReluGrad", 2, _leaky_relu_grad_reference)


@registry.set_gradient(softplus_p)
def _softplus_grad(op, g):
    return [g * math_ops.sigmoid(op.inputs[0])]


@registry.set_gradient(elu_p)
def _elu_grad(op, g):
    return [apply_op("elu_grad", [g, op.outputs[0]])]


@registry.set_gradient(selu_p)
def _selu_grad(op, g):
    return [apply_op("selu_grad", [g, op.outputs[0]])]


@registry.set_gradient(leaky_relu_p)
def _leaky_relu_grad(op, g):
    return [apply_op("leaky_relu_grad", [g, op.inputs[0]], {"alpha": op.attrs["alpha"]})]


def _exponential_branch_grad_grad(op, g):
    """EluGrad's and SeluGrad's gradient: (the same helper of g, g * dy where y < 0)."""
    dy, y = op.inputs
    return [apply_op(op.op_def.name, [g, y]),
            math_ops.where(y < 0, g * dy, array_ops.zeros_like(y))]


registry.set_gradient(elu_grad_p)(_exponential_branch_grad_grad)
registry.set_gradient(selu_grad_p)(_exponential_branch_grad_grad)


@registry.set_gradient(leaky_relu_grad_p)
def _leaky_relu_grad_grad(op, g):
    x = op.inputs[1]
    return [apply_op("leaky_relu_grad", [g, x], {"alpha": op.attrs["alpha"]}), array_ops.zeros_like(x)]


# -- public functions ------------------------------------------------------------------------------


def softplus(features, name=None):
    """`tf.nn.softplus`: log(exp(x) + 1)."""
    return apply_op("softplus", [features], name=name)


def elu(features, name=None):
    """`tf.nn.elu`: exp(x) - 1 below 0, x elsewhere."""
    return apply_op("elu", [features], name=name)


def selu(features, name=None):
    """`tf.nn.selu`: scale * (alpha * (exp(x) - 1) below 0, x elsewhere)."""
    return apply_op("selu", [features], name=name)


def leaky_relu(features, alpha=0.2, name=None):
    """`tf.nn.leaky_relu`: x above 0, alpha * x elsewhere; integers are taken as float32, as in TF."""
    with name_scope(name, "LeakyRelu", [features, alpha]) as scope:
        features = convert_to_tensor(features, name="features")
        if features.dtype.is_integer:
            features = array_ops.cast(features, dtypes.float32)
        # TF's alpha attr is a float32: float64 leaky_relu(-1.0) is -0.20000000298023224.
        return apply_op("leaky_relu", [features], {"alpha": float(np.float32(alpha))}, name=scope)


def log_sigmoid(x, name=None):
    """`tf.log_sigmoid`: log(1 / (1 + exp(-x))), as TF builds it: -softplus(-x)."""
    with name_scope(name, "LogSigmoid", [x]) as scope:
        x = convert_to_tensor(x, name="x")
        return math_ops.negative(softplus(math_ops.negative(x)), name=scope)
