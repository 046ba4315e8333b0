"""The TF1 names of issue 13's elementwise math: tf.math mirrors tf.*, the aliases TF1 had, `%`, and
what the graph holds (op types, names, dtypes) as TF 1.15 builds it. No LLVM here."""

import numpy as np
import pytest

import graphc as tf
from graphc import math as tf_math


@pytest.mark.parametrize("name", sorted(n for n in vars(tf_math) if not n.startswith("_")))
def test_tf_math_names_the_tf_functions(name):
    tf_name = {"divide_no_nan": "div_no_nan"}.get(name, name)  # TF 1.15's tf.math name of tf.div_no_nan
    same = getattr(tf, tf_name) if hasattr(tf, tf_name) else getattr(tf.nn, tf_name)  # softmax lives in tf.nn
    assert getattr(tf.math, name) is same


def test_aliases_tf1_had():
    assert tf.mod is tf.floormod and tf.math.mod is tf.floormod
    x = tf.constant([[1.0, 3.0, 2.0]])
    assert tf.arg_max(x, 1).dtype == tf.int64 and tf.arg_max(x, 1).op.type == "ArgMax"
    assert tf.arg_min(x, 1, tf.int32).dtype == tf.int32 and tf.arg_min(x, 1).op.type == "ArgMin"
    assert tf.log_sigmoid(x).op.name == "LogSigmoid" and tf.log_sigmoid(x).op.type == "Neg"


def test_percent_is_floormod_named_mod():
    with tf.Graph().as_default():
        a = tf.constant([7, -7])
        remainder = a % 3
        assert remainder.op.type == "FloorMod" and remainder.op.name == "mod"
        assert (7 % a).op.type == "FloorMod"
        v = tf.Variable([1.5, 2.5])
        assert (v % 2.0).op.type == "FloorMod" and (2.0 % v).dtype == tf.float32


@pytest.mark.parametrize("function, op_type", [
    (tf.sin, "Sin"), (tf.cos, "Cos"), (tf.tan, "Tan"), (tf.erf, "Erf"), (tf.log1p, "Log1p"), (tf.expm1, "Expm1"),
    (tf.floor, "Floor"), (tf.ceil, "Ceil"), (tf.round, "Round"), (tf.nn.softplus, "Softplus"), (tf.nn.elu, "Elu"),
    (tf.nn.selu, "Selu"), (tf.nn.leaky_relu, "LeakyRelu")])
def test_unary_ops_take_floats_only(function, op_type):
    x = tf.placeholder(tf.float64, [2, None])
    y = function(x)
    assert y.op.type == op_type and y.dtype == tf.float64 and y.shape.as_list() == [2, None]
    if op_type == "Round":
        integers = tf.constant([1, 2])
        assert tf.round(integers) is integers  # as TF's tf.round
    elif op_type == "LeakyRelu":
        assert tf.nn.leaky_relu(tf.constant([1, 2])).dtype == tf.float32  # integers are taken as float32
        assert y.op.get_attr("alpha") == float(np.float32(0.2))  # a float32 attr, as TF's
    else:
        with pytest.raises(TypeError, match="DataType int32 not in list of allowed values"):
            function(tf.constant([1, 2]))


def test_binary_ops_broadcast_and_check_dtypes():
    y = tf.atan2(tf.placeholder(tf.float32, [3, 1]), tf.placeholder(tf.float32, [4]))
    assert y.op.type == "Atan2" and y.shape.as_list() == [3, 4]
    for function, op_type in ((tf.floormod, "FloorMod"), (tf.truncatediv, "TruncateDiv"),
                              (tf.truncatemod, "TruncateMod")):
        assert function(tf.constant([[1]]), tf.constant([2, 3])).op.type == op_type
        with pytest.raises(TypeError):
            function(tf.constant([1.0]), tf.constant([1]))
    with pytest.raises(TypeError, match="DataType int32 not in list of allowed values"):
        tf.atan2(tf.constant([1]), tf.constant([1]))


def test_steps_have_no_gradient_as_in_tf():
    x = tf.placeholder(tf.float32, [3])
    for y in (tf.floor(x), tf.ceil(x), tf.round(x), tf.truncatediv(x, 2.0)):
        assert tf.gradients(tf.reduce_sum(y), [x]) == [None]
    with pytest.raises(LookupError, match="No gradient defined for operation 'tm' \\(op type: TruncateMod\\)"):
        tf.gradients(tf.reduce_sum(tf.truncatemod(x, 2.0, name="tm")), [x])
    assert tf.gradients(tf.reduce_sum(tf.floormod(x, 2.0)), [x])[0] is not None  # 1 almost everywhere


def test_clip_by_norm_keeps_the_shape_of_t():
    t = tf.placeholder(tf.float32, [None, 3])
    assert tf.clip_by_norm(t, 1.0, axes=[1]).shape.as_list() == [None, 3]
    with pytest.raises(ValueError):
        tf.clip_by_norm(tf.ones([3]), tf.ones([2, 3]))  # clip_norm may not broadcast t to a larger shape
