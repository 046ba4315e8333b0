"""Lowering a graph signature to IR: pruning, feeds, and TF1's order of reads and writes."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler.lower import lower
from graphc.ir.interpreter import interpret
from tests.helpers import feed_types, interpret_graph


def run(fetches, feeds=None, variables=None, initialized=frozenset()):
    feeds = feeds or {}
    step = lower(fetches, feed_types(feeds), initialized)
    values, state = interpret(step.program, {t.name: v for t, v in feeds.items()},
                              {**step.initial_states, **(variables or {})})
    return [values[s] if s is not None else None for s in step.fetch_slots], state, step


def test_fetching_loss_with_train_op_sees_weights_before_the_update():
    w = tf.Variable([1.0, 2.0], name="w")
    loss = tf.reduce_sum(w * w)
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    (_, value), state, _ = run([train, loss], variables={"w": np.array([1.0, 2.0], np.float32)},
                               initialized={"w"})
    assert value == pytest.approx(5.0)
    np.testing.assert_allclose(state["w"], [0.0, 0.0])


def test_read_after_control_dependency_sees_the_write():
    v = tf.Variable(1.0, name="v")
    assign = v.assign(5.0)
    with tf.control_dependencies([assign]):
        after = v.read_value() + 0
    before = v.value() + 0
    (a, b), _, _ = run([after, before], variables={"v": np.float32(1.0)}, initialized={"v"})
    assert (a, b) == (5.0, 1.0)


def test_assign_add_and_global_step():
    step = tf.Variable(0, name="global_step", trainable=False)
    increment = tf.assign_add(step, 1)
    (value,), state, lowered = run([increment], variables={"global_step": np.int32(41)}, initialized={"global_step"})
    assert value == 42 and state["global_step"] == 42
    assert lowered.requires_initialized == ("global_step",) and lowered.writes == ("global_step",)


def test_initializer_writes_without_requiring_initialisation():
    v = tf.Variable(tf.ones([2]), name="v")
    (_,), state, step = run([tf.global_variables_initializer()])
    assert step.requires_initialized == () and step.writes == ("v",)
    np.testing.assert_allclose(state["v"], [1, 1])


def test_initialized_value_depends_on_the_session_state():
    w = tf.Variable(tf.constant([1.0, 2.0]), name="w")
    w2 = tf.Variable(w.initialized_value() * 2, name="w2")
    (_,), state, step = run([w2.initializer])
    np.testing.assert_allclose(state["w2"], [2, 4])
    assert step.init_dependencies == ("w",)
    (_,), state, _ = run([w2.initializer], variables={"w": np.array([5.0, 6.0], np.float32)}, initialized={"w"})
    np.testing.assert_allclose(state["w2"], [10, 12])


def test_is_variable_initialized_is_a_constant_of_the_session_state():
    w = tf.Variable(tf.constant([1.0, 2.0]), name="w")
    flag = tf.is_variable_initialized(w)
    for initialized in (frozenset(), frozenset({"w"})):
        (value,), _, step = run([flag], initialized=initialized)
        assert value == ("w" in initialized) and step.init_dependencies == ("w",)
        assert [inst.op for inst in step.program.instructions] == ["constant"]  # no read of the variable
        assert step.requires_initialized == ()


def test_missing_feed_names_the_placeholder():
    x = tf.placeholder(tf.float32, [None, 784], name="images")
    with pytest.raises(tf.errors.InvalidArgumentError, match="You must feed a value for placeholder tensor 'images' "
                                                            r"with dtype float32 and shape \[\?,784\]"):
        lower([x * 2], feed_types({}))


def test_feeding_an_intermediate_tensor_replaces_it():
    x = tf.placeholder(tf.float32, [2])
    hidden = x * 10.0
    out = hidden + 1.0
    (value,) = interpret_graph([out], {hidden: np.array([1.0, 2.0])})
    np.testing.assert_allclose(value, [2.0, 3.0])


def test_unknown_dimensions_bind_to_feed_shapes():
    x = tf.placeholder(tf.float32, [None, 6])
    y = tf.reduce_mean(tf.reshape(x, [-1, 2, 3]), axis=0)
    (value,) = interpret_graph([y], {x: np.arange(12.0).reshape(2, 6)})
    np.testing.assert_allclose(value, [[3, 4, 5], [6, 7, 8]])


def test_run_time_reshape_error_is_invalid_argument():
    x = tf.placeholder(tf.float32, [None])
    y = tf.reshape(x, [3, -1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Input to reshape is a tensor with 4 values"):
        lower([y], feed_types({x: np.zeros(4)}))


def test_shape_arguments_must_be_known_when_compiling():
    x = tf.placeholder(tf.float32, [4])
    shape = tf.placeholder(tf.int32, [2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="when it compiles the step"):
        lower([tf.reshape(x, shape)], feed_types({x: np.zeros(4), shape: np.array([2, 2])}))


def test_random_ops_get_a_run_counter():
    r = tf.random_uniform([3], seed=7)
    _, state, step = run([r])
    assert [d.kind for d in step.program.variables] == ["rng"]
    # [run count, seed, seed2]: one run; TF1's seeds for op seed 7 without a graph seed
    assert state[step.program.variables[0].name].tolist() == [1, 87654321, 7]
