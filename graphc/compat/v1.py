"""The TF1 namespace: what `import graphc as tf` (or `import graphc.compat.v1 as tf`) gives.

Every name here is re-exported from the module that defines it; nothing is
defined here but TF1's aliases. `graphc` itself mirrors this module.
"""

# ruff: noqa: F401 - re-exports

import sys as _sys

from graphc import (app, contrib, data, debugging, errors, flags, gfile, io, keras, layers, losses, math, nn,
                    session_config, strings, summary, train)
from graphc import tf_logging as logging
from graphc.autodiff import gradients
from graphc.core.dtypes import (DType, as_dtype, bool_ as bool, float16, float32, float64, half, int8, int16, int32,
                                int64, string, uint8, uint16)
from graphc.core.tensor_shape import Dimension, TensorShape
from graphc.frontend.device_spec import DeviceSpec
from graphc.frontend.graph import (Graph, GraphKeys, Operation, Tensor, control_dependencies, convert_to_tensor,
                                   get_default_graph, name_scope, reset_default_graph)
from graphc.ops import all as _all_ops  # noqa: F401 - every op family registered
from graphc.ops.array_ops import (broadcast_to, cast, constant, fill, identity, ones, ones_like, placeholder, rank,
                                  reshape, shape, shape_n, size, stop_gradient, to_double, to_float, to_int32, to_int64,
                                  transpose, zeros, zeros_like)
from graphc.ops.activation_ops import log_sigmoid
from graphc.ops.check_ops import (Assert, assert_equal, assert_greater, assert_greater_equal, assert_integer,
                                  assert_less, assert_less_equal, assert_negative, assert_non_negative,
                                  assert_non_positive, assert_none_equal, assert_positive, assert_rank, assert_type,
                                  check_numerics, verify_tensor_all_finite)
from graphc.ops.clip_ops import clip_by_global_norm, clip_by_norm, clip_by_value, global_norm
from graphc.ops.gather_ops import gather, gather_nd, unsorted_segment_sum
from graphc.ops.elementary_ops import atan2, ceil, cos, erf, expm1, floor, log1p, round, sin, tan  # noqa: A004
from graphc.ops.contraction_ops import einsum, tensordot
from graphc.ops.control_flow_ops import case, cond, while_loop
from graphc.ops.tensor_array_ops import TensorArray
from graphc.ops.init_ops import (constant_initializer, glorot_normal_initializer, glorot_uniform_initializer,
                                 ones_initializer, random_normal_initializer, random_uniform_initializer,
                                 truncated_normal_initializer, variance_scaling_initializer, zeros_initializer)
from graphc.ops.logging_ops import print_v2 as print  # noqa: A004 - tf.print
from graphc.ops.layout_ops import (concat, expand_dims, one_hot, pad, slice, split, squeeze, stack,  # noqa: A004
                                   strided_slice, unstack)
from graphc.ops.math_ops import (abs, add, add_n, arg_max, arg_min, argmax, argmin, div, divide,  # noqa: A004
                                 equal, exp, floordiv, floormod, greater, greater_equal, less, less_equal, log,
                                 logical_and, logical_not, logical_or, matmul, maximum, minimum, multiply, negative,
                                 not_equal, pow, realdiv, reciprocal, reduce_max, reduce_mean, reduce_min,
                                 reduce_sum, rsqrt, sigmoid, sign, sqrt, square, subtract, tanh, truediv,
                                 truncatediv, truncatemod, where)
from graphc.ops.math_ops import div_no_nan
from graphc.ops.math_ops import reduce_all, reduce_any, reduce_logsumexp, reduce_prod  # structural math
from graphc.ops.random_ops import random_normal, random_uniform, set_random_seed, truncated_normal
from graphc.ops.scan_ops import cumprod, cumsum
from graphc.ops.sequence_ops import range, reverse, reverse_sequence, sequence_mask, tile  # noqa: A004
from graphc.ops.state_ops import assign, assign_add, assign_sub, group, is_variable_initialized, no_op
from graphc.ops.variable_scope import AUTO_REUSE, VariableScope, get_variable, get_variable_scope, variable_scope
from graphc.ops.variables import (Variable, assert_variables_initialized, global_variables,
                                  global_variables_initializer, initialize_all_variables, initialize_variables,
                                  local_variables, local_variables_initializer, report_uninitialized_variables,
                                  trainable_variables, variables_initializer)
from graphc.session import InteractiveSession, Session, get_default_session

float = float32  # noqa: A001 - TF1 exposes tf.float as float32
double = float64
mod = floormod
reverse_v2 = reverse
string_join = strings.join
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
    """TensorBoard's protobuf classes, imported on first use: `tf.Summary`, `tf.Event`, and TF's session and
    run options (`tf.ConfigProto`, `tf.GPUOptions`, `tf.RunOptions`, `tf.RunMetadata` ...)."""
    if name in ("Summary", "Event", "SessionLog"):
        return getattr(summary, name)
    if name in session_config.PROTO_NAMES:
        return session_config.proto_class(name)
    raise AttributeError(f"module 'graphc' has no attribute {name!r}")


def device(device_name_or_function):
    """`tf.device`: ops created inside request that device (see `Graph.device`)."""
    return get_default_graph().device(device_name_or_function)
def disable_v2_behavior():
    """Accepted: the TF1 namespace has TF1's behaviour already (graphs, Sessions)."""


def disable_eager_execution():
    """Accepted: the TF1 namespace builds graphs already."""


def executing_eagerly() -> bool:
    """False: the TF1 namespace builds graphs until `enable_eager_execution()` (`import graphc.v2 as tf` executes
    eagerly)."""
    return False


def enable_eager_execution(config=None, device_policy=None, execution_mode=None):
    """Switches this namespace to eager execution, as TF 1.x did (see graphc.compat.eager_v1); before any graph
    op is built, else ValueError."""
    from graphc.compat import eager_v1  # the eager runtime loads only with the switch

    eager_v1.enable(_sys.modules[__name__])


enable_v2_behavior = enable_eager_execution
