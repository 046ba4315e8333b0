"""`tf.check_numerics`: the input unchanged, or an InvalidArgumentError when it holds NaN or Inf.

A failing check stops the step before it writes any variable: lowering runs
every check that does not itself depend on a variable's update before the
update (see ir/lowering.py), fusion never moves a write ahead of a check
(passes/fuse.py), and dead-code elimination keeps checks whose result is unused.
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.core import messages, registry, rules
from graphc.core.registry import Effects, OpDef
from graphc.frontend.graph import apply_op, control_dependencies


def _check_numerics_reference(x, message):
    has_nan, has_inf = bool(np.any(np.isnan(x))), bool(np.any(np.isinf(x)))
    if has_nan or has_inf:
        raise errors.InvalidArgumentError(None, None, messages.check_numerics_failure(has_nan, has_inf, message))
    return x


check_numerics_p = registry.register(OpDef(
    name="check_numerics", tf_type="CheckNumerics", infer=rules.unary(rules.FLOAT_TYPES),
    effects=Effects(may_fail=True), reference=_check_numerics_reference, compiled_dtypes=rules.FLOAT_TYPES))


@registry.set_gradient(check_numerics_p)
def _check_numerics_grad(op, grad):
    """TF1's rule: the gradient is checked too. The forward check runs whenever the gradient
    does (TF1's gradient graph reads the checked tensor's shape; graphc's knows it statically)."""
    message = "Not a number (NaN) or infinity (Inf) values detected in gradient. " + op.attrs["message"]
    with control_dependencies([op]):
        return [check_numerics(grad, message)]


def check_numerics(tensor, message, name=None):
    """`tf.check_numerics`: fails the run with InvalidArgumentError("<message> : Tensor had NaN
    values", naming the op) when `tensor` has a NaN or an infinity."""
    return apply_op("check_numerics", [tensor], {"message": str(message)}, name=name)
