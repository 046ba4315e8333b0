"""The TF2 namespace: what `import graphc.v2 as tf` (or `graphc.compat.v2`) gives.

Eager by default: every op is graphc's graph builder made an eager op
(`graphc.eager.context.eager_function`), recorded lazily and run compiled when
a value is needed. TF1 names that TF2 removed (`placeholder`, `Session`, ...)
are absent, as in TF2.
"""

from __future__ import annotations

import types

from graphc import errors
from graphc.compat import v1 as _v1
from graphc.core.dtypes import DType, as_dtype, bool_ as bool, float32, float64, int32, int64, string  # noqa: F401,A004
from graphc.core.tensor_shape import TensorShape  # noqa: F401
from graphc.eager import checks as _checks
from graphc.eager.context import constant, convert_to_tensor, eager_function  # noqa: F401
from graphc.eager.function import TensorSpec, function  # noqa: F401
from graphc.eager.printing import print_ as print  # noqa: F401,A004 - tf.print
from graphc.eager.tape import GradientTape  # noqa: F401
from graphc.eager.tensor import EagerTensor as Tensor  # noqa: F401
from graphc.eager.variables import EagerVariable as Variable  # noqa: F401
from graphc.keras import eager as _keras

_OPS = ["abs", "add", "add_n", "argmax", "argmin", "broadcast_to", "cast", "clip_by_value", "concat",
        "divide", "equal", "exp", "expand_dims", "fill", "greater", "greater_equal", "identity", "less",
        "less_equal", "log", "logical_and", "logical_not", "logical_or", "matmul", "maximum", "minimum", "multiply",
        "negative", "not_equal", "one_hot", "ones", "ones_like", "pad", "pow", "rank", "reciprocal", "reduce_max",
        "reduce_mean", "reduce_min", "reduce_sum", "reshape", "rsqrt", "shape", "sigmoid", "sign", "size", "slice",
        "sqrt", "square", "squeeze", "stack", "stop_gradient", "strided_slice", "subtract", "tanh", "transpose",
        "truediv", "unstack", "where", "zeros", "zeros_like", "random_normal", "random_uniform", "truncated_normal"]
globals().update({name: eager_function(getattr(_v1, name), name) for name in _OPS})
float = float32  # noqa: A001
double = float64
newaxis = None

_NN = ["relu", "softmax", "log_softmax", "sigmoid", "tanh", "bias_add", "l2_loss", "dropout",
       "softmax_cross_entropy_with_logits_v2", "sparse_softmax_cross_entropy_with_logits"]
nn = types.SimpleNamespace(**{name: eager_function(getattr(_v1.nn, name), name) for name in _NN})
nn.softmax_cross_entropy_with_logits = nn.softmax_cross_entropy_with_logits_v2
random = types.SimpleNamespace(normal=random_normal, uniform=random_uniform,  # noqa: F821 - made above
                               truncated_normal=truncated_normal)  # noqa: F821

keras = _keras.namespace

debugging = types.SimpleNamespace(
    Assert=_checks.Assert, assert_equal=_checks.assert_equal, assert_none_equal=_checks.assert_none_equal,
    assert_less=_checks.assert_less, assert_less_equal=_checks.assert_less_equal,
    assert_greater=_checks.assert_greater, assert_greater_equal=_checks.assert_greater_equal,
    assert_positive=_checks.assert_positive, assert_negative=_checks.assert_negative,
    assert_non_negative=_checks.assert_non_negative, assert_non_positive=_checks.assert_non_positive)
Assert = _checks.Assert
assert_equal, assert_less, assert_greater = _checks.assert_equal, _checks.assert_less, _checks.assert_greater
assert_less_equal, assert_greater_equal = _checks.assert_less_equal, _checks.assert_greater_equal


def executing_eagerly() -> bool:
    """True: graphc.v2 runs eagerly (lazily recorded, compiled when a value is needed)."""
    return True


__all__ = sorted(name for name in globals() if not name.startswith("_") and name not in ("annotations", "types"))
__all__ += ["errors"]
