"""The TF1 namespace: what `import graphc as tf` (or `import graphc.compat.v1 as tf`) gives.

Every name here is re-exported from the module that defines it; nothing is
defined here but TF1's aliases. `graphc` itself mirrors this module.
"""

# ruff: noqa: F401 - re-exports

from graphc import app, errors, gfile, keras, layers, losses, nn, summary, train
from graphc.autodiff import gradients
from graphc.core.dtypes import DType, as_dtype, bool_ as bool, float32, float64, int32, int64, string
from graphc.core.tensor_shape import Dimension, TensorShape
from graphc.frontend.graph import (Graph, GraphKeys, Operation, Tensor, control_dependencies, convert_to_tensor,
                                   get_default_graph, name_scope, reset_default_graph)
from graphc.ops import all as _all_ops  # noqa: F401 - every op family registered
from graphc.ops.array_ops import (broadcast_to, cast, constant, fill, identity, ones, ones_like, placeholder, rank,
                                  reshape, shape, size, stop_gradient, to_double, to_float, to_int32, to_int64,
                                  transpose, zeros, zeros_like)
from graphc.ops.check_ops import check_numerics
from graphc.ops.contraction_ops import einsum, tensordot
from graphc.ops.init_ops import (constant_initializer, glorot_normal_initializer, glorot_uniform_initializer,
                                 ones_initializer, random_normal_initializer, random_uniform_initializer,
                                 truncated_normal_initializer, variance_scaling_initializer, zeros_initializer)
from graphc.ops.layout_ops import (concat, expand_dims, one_hot, pad, slice, squeeze, stack,  # noqa: A004
                                   strided_slice, unstack)
from graphc.ops.math_ops import (abs, add, add_n, argmax, argmin, clip_by_value, div, divide, equal, exp,  # noqa: A004
                                 floordiv, greater, greater_equal, less, less_equal, log, logical_and, logical_not,
                                 logical_or, matmul, maximum, minimum, multiply, negative, not_equal, pow, realdiv,
                                 reciprocal, reduce_max, reduce_mean, reduce_min, reduce_sum, rsqrt, sigmoid, sign,
                                 sqrt, square, subtract, tanh, truediv, where)
from graphc.ops.math_ops import reduce_all, reduce_any, reduce_logsumexp, reduce_prod  # structural math
from graphc.ops.random_ops import random_normal, random_uniform, set_random_seed, truncated_normal
from graphc.ops.scan_ops import cumprod, cumsum
from graphc.ops.state_ops import assign, assign_add, assign_sub, group, no_op
from graphc.ops.variable_scope import AUTO_REUSE, VariableScope, get_variable, get_variable_scope, variable_scope
from graphc.ops.variables import (Variable, global_variables, global_variables_initializer, initialize_all_variables,
                                  initialize_variables, local_variables, local_variables_initializer,
                                  trainable_variables, variables_initializer)
from graphc.session import InteractiveSession, Session, get_default_session

float = float32  # noqa: A001 - TF1 exposes tf.float as float32
double = float64
newaxis = None


def get_collection(key, scope=None):
    """`tf.get_collection` on the default graph."""
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key):
    return get_default_graph().get_collection_ref(key)


def add_to_collection(name, value):
    """`tf.add_to_collection` on the default graph."""
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names, value):
    get_default_graph().add_to_collections(names, value)


def __getattr__(name):
    """`tf.Summary` and `tf.Event` (TensorBoard's protobuf classes), imported on first use."""
    if name in ("Summary", "Event"):
        return getattr(summary, name)
    raise AttributeError(f"module 'graphc' has no attribute {name!r}")


def device(device_name):
    """Accepted for TF1 compatibility; graphc compiles for the host CPU."""
    return get_default_graph().device(device_name)
