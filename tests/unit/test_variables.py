"""Variables, variable scopes and initializers (graph construction only)."""

import pytest

import graphc as tf


def test_variable_ops_are_named_like_tf1():
    with tf.name_scope("hidden1"):
        w = tf.Variable(tf.truncated_normal([784, 128], stddev=0.1), name="weights")
    assert w.name == "hidden1/weights:0"
    assert w.op.type == "VariableV2"
    assert w.initializer.name == "hidden1/weights/Assign"
    assert w.value().name == "hidden1/weights/read:0"
    assert w.shape.as_list() == [784, 128]
    assert repr(w) == "<tf.Variable 'hidden1/weights:0' shape=(784, 128) dtype=float32_ref>"


def test_collections_of_variables():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(0, name="step", trainable=False)
    assert tf.global_variables() == [a, b]
    assert tf.trainable_variables() == [a]
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES) == [a, b]


def test_variable_needs_a_known_shape():
    with pytest.raises(ValueError, match="shape"):
        tf.Variable(tf.placeholder(tf.float32, [None]))


def test_variable_arithmetic_uses_its_value():
    v = tf.Variable([1.0, 2.0])
    assert (v + 1).op.inputs[0] is v.value()
    assert (2 * v).dtype is tf.float32


def test_get_variable_sharing_rules():
    with tf.variable_scope("foo"):
        v = tf.get_variable("v", [1])
        assert v.name == "foo/v:0"
        with pytest.raises(ValueError, match="already exists"):
            tf.get_variable("v", [1])
    with tf.variable_scope("foo", reuse=True):
        assert tf.get_variable("v", [1]) is v
        with pytest.raises(ValueError, match="does not exist"):
            tf.get_variable("w", [1])
    with tf.variable_scope("foo", reuse=tf.AUTO_REUSE):
        assert tf.get_variable("v", [1]) is v
        assert tf.get_variable("w", [2]).name == "foo/w:0"
    with tf.variable_scope("foo") as scope:
        scope.reuse_variables()
        assert tf.get_variable("v") is v
    with tf.variable_scope("foo", reuse=True):
        with pytest.raises(ValueError, match="specified shape"):
            tf.get_variable("v", [3])


def test_initializer_classes_are_instantiated():
    v = tf.get_variable("z", [3], initializer=tf.zeros_initializer)
    assert v.initial_value.op.type == "Const"


def test_variable_scope_names_ignore_name_scopes():
    with tf.name_scope("outer"):
        with tf.variable_scope("scope"):
            v = tf.get_variable("v", [2], initializer=tf.zeros_initializer())
            c = tf.constant(1.0, name="c")
    assert v.name == "scope/v:0"
    assert c.name == "outer/scope/c:0"


def test_default_initializer_is_glorot_uniform_for_floats():
    v = tf.get_variable("v", [4, 5])
    ops = [op.type for op in tf.get_default_graph().get_operations() if op.name.startswith("v/Initializer")]
    assert "RandomUniform" in ops
    i = tf.get_variable("i", [3], dtype=tf.int32)
    assert i.initial_value.op.type == "Const"


def test_initialized_value_builds_a_conditional_read():
    w = tf.Variable(tf.random_normal([3]), name="weights")
    w2 = tf.Variable(w.initialized_value() * 2, name="w_twice")
    assert w2.initial_value.op.inputs[0].op.type == "InitializedValue"


def test_global_variables_initializer_groups_all_initializers():
    a = tf.Variable(1.0)
    b = tf.Variable(2.0)
    init = tf.global_variables_initializer()
    assert init.type == "NoOp" and init.name == "init"
    assert set(init.control_inputs) == {a.initializer, b.initializer}


def test_default_scope_names_count_every_opened_scope_as_tf1():
    with tf.variable_scope("dense"):
        pass
    with tf.variable_scope(None, default_name="dense") as scope:
        assert scope.name == "dense_1"
    with tf.variable_scope(None, default_name="dense") as scope:
        assert scope.name == "dense_2"


def test_leaving_a_named_scope_forgets_its_sub_scope_counts():
    names = []
    for _ in range(2):
        with tf.variable_scope("model"):
            for _ in range(2):
                with tf.variable_scope(None, default_name="block") as scope:
                    names.append(scope.name)
    assert names == ["model/block", "model/block_1", "model/block", "model/block_1"]
    with tf.variable_scope(None, default_name="block") as scope:
        assert scope.name == "block"
