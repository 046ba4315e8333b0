"""`tf.math`: the math functions under TF 1.15's second name (`tf.math.sin` is `tf.sin`)."""

# ruff: noqa: F401, A004 - re-exports under TF's names

from graphc.ops.activation_ops import log_sigmoid, softplus
from graphc.ops.elementary_ops import atan2, ceil, cos, erf, expm1, floor, log1p, round, sin, tan
from graphc.ops.math_ops import (abs, add, add_n, argmax, argmin, divide, equal, exp, floordiv, floormod,
                                 greater, greater_equal, less, less_equal, log, logical_and, logical_not,
                                 logical_or, maximum, minimum, multiply, negative, not_equal, pow, reciprocal,
                                 reduce_max, reduce_mean, reduce_min, reduce_sum, rsqrt, sigmoid, sign, sqrt,
                                 square, subtract, tanh, truediv)
from graphc.ops.math_ops import div_no_nan as divide_no_nan  # TF 1.15: tf.div_no_nan is tf.math.divide_no_nan
from graphc.ops.nn_ops import log_softmax, softmax

mod = floormod
