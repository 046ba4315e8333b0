"""Graph construction with TF1's names, scopes, collections and build-time errors (no LLVM)."""

import numpy as np
import pytest

import graphc as tf


def test_op_and_tensor_names_are_uniqued_like_tf1():
    a = tf.constant(42.0, name="answer")
    b = tf.constant(1.0, name="answer")
    c = tf.constant(2.0)
    d = tf.constant(3.0)
    assert (a.name, b.name, c.name, d.name) == ("answer:0", "answer_1:0", "Const:0", "Const_1:0")
    assert (a + b).name == "add:0"
    assert tf.add(a, b).name == "Add_1:0"  # names are uniqued case-insensitively
    assert str(a) == 'Tensor("answer:0", shape=(), dtype=float32)'


def test_name_scopes_nest_and_unique():
    with tf.name_scope("hidden1"):
        w = tf.constant(1.0, name="weights")
        with tf.name_scope("inner") as scope:
            assert scope == "hidden1/inner/"
            x = tf.constant(2.0)
    with tf.name_scope("hidden1") as scope:
        assert scope == "hidden1_1/"
        y = tf.constant(3.0, name="weights")
    assert (w.op.name, x.op.name, y.op.name) == ("hidden1/weights", "hidden1/inner/Const", "hidden1_1/weights")


def test_graph_as_default_and_reset():
    g = tf.Graph()
    with g.as_default():
        c = tf.constant(30.0)
        assert c.graph is g and tf.get_default_graph() is g
    assert tf.get_default_graph() is not g
    with g.as_default():
        with pytest.raises(AssertionError):
            tf.reset_default_graph()


def test_lookup_by_name():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    g = tf.get_default_graph()
    assert g.get_tensor_by_name("x:0") is x
    assert g.get_operation_by_name("x") is x.op
    with pytest.raises(KeyError):
        g.get_tensor_by_name("nothing:0")
    with pytest.raises(ValueError):
        g.get_tensor_by_name("x")


def test_static_shapes_with_unknown_dimensions():
    x = tf.placeholder(tf.float32, [None, 784])
    w = tf.zeros([784, 10])
    y = tf.matmul(x, w) + tf.zeros([10])
    assert y.get_shape().as_list() == [None, 10]
    assert str(y.shape) == "(?, 10)"
    assert tf.reduce_mean(y).shape.as_list() == []
    assert tf.reduce_sum(y, axis=1, keepdims=True).shape.as_list() == [None, 1]
    assert tf.reshape(x, [-1, 28, 28, 1]).shape.as_list() == [None, 28, 28, 1]
    assert tf.transpose(tf.zeros([2, 3, 4]), [2, 0, 1]).shape.as_list() == [4, 2, 3]
    assert tf.argmax(y, 1).dtype is tf.int64


def test_broadcasting_shape_error_names_the_op():
    with pytest.raises(ValueError, match=r"Dimensions must be equal, but are 3 and 4 for 'add' \(op: 'AddV2'\)"):
        tf.constant([1.0, 2.0, 3.0]) + tf.constant([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="Dimensions must be equal"):
        tf.matmul(tf.zeros([2, 3]), tf.zeros([4, 5]))
    with pytest.raises(ValueError, match="requested shape has 5"):
        tf.reshape(tf.zeros([2, 3]), [5])


def test_dtype_mismatch_is_a_type_error():
    with pytest.raises(TypeError):
        tf.constant(1.0) + tf.constant(1, dtype=tf.int32)
    with pytest.raises(TypeError):
        tf.sqrt(tf.constant(4))


def test_python_numbers_take_the_tensor_dtype():
    x = tf.placeholder(tf.float64, [2])
    assert (x + 1).dtype is tf.float64
    assert (1 - x).dtype is tf.float64
    assert (2 * tf.constant(3)).dtype is tf.int32
    assert tf.divide(tf.constant(3), tf.constant(2)).dtype is tf.float64
    assert (tf.constant(3) / 2).dtype is tf.float64


def test_operators_build_the_expected_ops():
    a, b = tf.constant([1.0]), tf.constant([2.0])
    assert [t.op.type for t in (a + b, a - b, a * b, a / b, -a, a < b, a >= b, abs(a))] == [
        "AddV2", "Sub", "Mul", "RealDiv", "Neg", "Less", "GreaterEqual", "Abs"]
    assert (tf.zeros([2, 3]) @ tf.zeros([3, 4])).shape.as_list() == [2, 4]


def test_tensor_is_not_a_bool():
    with pytest.raises(TypeError):
        bool(tf.constant(1.0))


def test_collections_filter_by_scope_regex():
    tf.add_to_collection("things", tf.constant(1.0, name="hidden1/a"))
    tf.add_to_collection("things", tf.constant(1.0, name="hidden2/a"))
    tf.add_to_collection("things", tf.constant(1.0, name="out/a"))
    names = [t.name for t in tf.get_collection("things", scope="hidden[12]")]
    assert names == ["hidden1/a:0", "hidden2/a:0"]
    assert len(tf.get_collection("things")) == 3


def test_control_dependencies_attach_to_new_ops():
    a = tf.constant(1.0)
    with tf.control_dependencies([a]):
        b = tf.constant(2.0)
        with tf.control_dependencies(None):
            c = tf.constant(3.0)
    assert b.op.control_inputs == [a.op]
    assert c.op.control_inputs == []


def test_finalized_graph_refuses_new_ops():
    g = tf.get_default_graph()
    g.finalize()
    with pytest.raises(RuntimeError, match="finalized"):
        tf.constant(1.0)


def test_constants_check_their_values():
    assert tf.constant("text").dtype is tf.string
    with pytest.raises(TypeError, match="Expected float32, but got text of type 'str'"):
        tf.constant("text", tf.float32)
    with pytest.raises(ValueError):
        tf.constant(2 ** 40, dtype=tf.int32)
    with pytest.raises(TypeError):
        tf.constant(1.5, dtype=tf.int32)
    assert tf.constant(np.arange(6).reshape(2, 3)).dtype is tf.int64  # NumPy arrays keep their dtype
    assert tf.constant([[0, 1, 2]]).dtype is tf.int32
    assert tf.constant(np.zeros(3)).dtype is tf.float64
    assert tf.constant([1, 2], shape=[4]).op.get_attr("value").tolist() == [1, 2, 2, 2]
