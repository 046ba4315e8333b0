"""tf.while_loop loops whose loop variables change shape (ops/loop_expansion.py), no LLVM: expanded into one
copy of the body per iteration when the trip count is fixed by constants, else refused when the step
lowers; loops whose relaxed invariant hides no change stay native loops. Values from the reference
interpreter."""

import collections

import numpy as np
import pytest

import graphc as tf
from graphc.compiler.lower import lower
from graphc.ir.program import IRType, walk
from graphc.ops import loop_expansion
from tests.helpers import interpret_graph

_GROWING = [tf.TensorShape([]), tf.TensorShape([None, 2])]


def _doubling(i, m):
    return i + 1, tf.concat([m, m], axis=0)


def _types(feeds):
    return collections.OrderedDict((t, IRType(t.dtype, np.shape(v))) for t, v in feeds.items())


def _instructions(fetches, feeds=None):
    return [inst.op for inst in walk(lower(fetches, _types(feeds or {})).program.instructions)]


def test_tensorflows_documentation_example_expands_with_the_invariants_static_shape():
    with tf.Graph().as_default() as graph:
        i0, m0 = tf.constant(0), tf.ones([2, 2])
        r = tf.while_loop(lambda i, m: i < 10, _doubling, loop_vars=[i0, m0],
                          shape_invariants=[i0.get_shape(), tf.TensorShape([None, 2])])
        assert r[1].shape.as_list() == [None, 2]  # TF1's static shape: the invariant
        assert [t.name for t in r] == ["while/Exit:0", "while/Exit_1:0"]  # TF1's names
        assert not [op for op in graph.get_operations() if op.type == "While"]
        names = {op.name for op in graph.get_operations()}
        assert {"while/concat", "while/iteration_1/concat", "while/iteration_9/concat"} <= names
        assert "while/iteration_10/concat" not in names  # ten copies, no more
        i, m = interpret_graph(list(r))
        assert i == 10 and m.shape == (2048, 2) and (m == 1.0).all()


def test_the_body_runs_once_in_python_and_a_variable_it_makes_is_made_once():
    calls = []
    with tf.Graph().as_default():
        def body(i, m):
            calls.append(i)
            w = tf.get_variable("w", [2], initializer=tf.ones_initializer())
            return i + 1, tf.concat([m, m * w], 0)

        tf.while_loop(lambda i, m: i < 3, body, [0, tf.ones([1, 2])], shape_invariants=_GROWING)
        assert len(calls) == 1
        assert [v.name for v in tf.global_variables()] == ["w:0"]


def test_nested_structures_of_loop_variables():
    with tf.Graph().as_default():
        State = collections.namedtuple("State", "rows total")

        def body(i, state):
            row = tf.fill([1, 2], tf.cast(i, tf.float32))
            return i + 1, {"s": State(tf.concat([state["s"].rows, row], 0), state["s"].total + 1.0),
                           "c": (state["c"][0] * 2,)}

        start = {"s": State(tf.zeros([0, 2]), tf.constant(0.0)), "c": (tf.constant(1),)}
        invariants = [tf.TensorShape([]), {"s": State(tf.TensorShape([None, 2]), tf.TensorShape([])),
                                           "c": (tf.TensorShape([]),)}]
        i, out = tf.while_loop(lambda i, s: i < 3, body, [0, start], shape_invariants=invariants)
        assert isinstance(out["s"], State) and isinstance(out["c"], tuple)
        assert out["s"].rows.shape.as_list() == [None, 2]
        rows, total, c = interpret_graph([out["s"].rows, out["s"].total, out["c"][0]])
        np.testing.assert_array_equal(rows, [[0, 0], [1, 1], [2, 2]])
        assert (total, c) == (3.0, 8)


def test_maximum_iterations_bounds_a_loop_whose_cond_stays_true():
    with tf.Graph().as_default():
        _, m = tf.while_loop(lambda i, m: tf.constant(True), _doubling, [0, tf.ones([1, 2])],
                             shape_invariants=_GROWING, maximum_iterations=3)
        assert interpret_graph([m])[0].shape == (8, 2)


def test_a_loop_that_never_runs_gives_its_first_values():
    with tf.Graph().as_default():
        _, m = tf.while_loop(lambda i, m: i < 0, _doubling, [0, tf.ones([3, 2])], shape_invariants=_GROWING)
        assert m.shape.as_list() == [None, 2] and interpret_graph([m])[0].shape == (3, 2)


def test_a_shape_that_depends_on_the_counter():
    with tf.Graph().as_default():
        def body(i, m):
            return i + 1, tf.concat([m, tf.fill(tf.stack([i, 2]), tf.cast(i, tf.float32))], 0)

        _, m = tf.while_loop(lambda i, m: i < 4, body, [0, tf.zeros([0, 2])], shape_invariants=_GROWING)
        np.testing.assert_array_equal(interpret_graph([m])[0][:, 0], [1, 2, 2, 3, 3, 3])


def test_a_relaxed_invariant_whose_shape_does_not_change_stays_a_native_loop():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 2])
        _, known = tf.while_loop(lambda i, m: i < 5, lambda i, m: (i + 1, m * 2.0), [0, tf.ones([3, 2])],
                                 shape_invariants=_GROWING)
        _, unknown = tf.while_loop(lambda i, m: i < 5, lambda i, m: (i + 1, tf.tanh(m)), [0, x],
                                   shape_invariants=_GROWING)
        assert known.op.type == "While" and unknown.op.type == "While"
        feeds = {x: np.ones((4, 2), np.float32)}
        assert _instructions([known, unknown], feeds).count("while") == 2
        np.testing.assert_array_equal(interpret_graph([known], feeds)[0], np.full((3, 2), 32.0))


def test_a_shape_not_known_when_the_graph_is_built_expands():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 2], name="x")
        _, m = tf.while_loop(lambda i, m: i < 2, lambda i, m: (i + 1, tf.concat([m, x], 0)), [0, tf.ones([1, 2])],
                             shape_invariants=_GROWING)
        assert m.op.type == "Identity"
        feeds = {x: np.full((3, 2), 2.0, np.float32)}
        assert "while" not in _instructions([m], feeds)
        np.testing.assert_array_equal(interpret_graph([m], feeds)[0][:, 0], [1.0] + [2.0] * 6)


def test_a_trip_count_from_a_fed_value_is_refused_naming_the_loop_variable_and_the_value():
    with tf.Graph().as_default():
        n = tf.placeholder(tf.int32, [], name="n")
        _, m = tf.while_loop(lambda i, m: i < n, _doubling, [0, tf.ones([2, 2], name="m0")], shape_invariants=_GROWING)
        with pytest.raises(tf.errors.UnimplementedError) as caught:
            lower([m], _types({n: 3}))
        message = str(caught.value)
        assert "loop variable m0:0 of while/While enters the loop with shape [2,2] and has shape [4,2]" in message
        assert "trip count fixed by values known when the graph is built" in message
        assert "lax.while_loop" in message and "the fed value n:0" in message


def test_a_trip_count_from_a_variable_is_refused_naming_the_variable():
    with tf.Graph().as_default():
        v = tf.Variable(3, name="steps")

        def body(i, m):
            return i + v, tf.concat([m, m], 0)

        _, m = tf.while_loop(lambda i, m: i < 10, body, [0, tf.ones([1, 2])], shape_invariants=_GROWING)
        with pytest.raises(tf.errors.UnimplementedError) as caught:
            lower([m], {})
        assert "cond depends on loop variable 0 (while/Const:0), whose value depends on the variable steps" in str(
            caught.value)


def test_the_expansion_is_capped(monkeypatch):
    monkeypatch.setattr(loop_expansion, "MAX_EXPANDED_OPS", 40)
    with tf.Graph().as_default():
        _, m = tf.while_loop(lambda i, m: i < 100, _doubling, [0, tf.ones([1, 2])], shape_invariants=_GROWING)
        with pytest.raises(tf.errors.UnimplementedError, match="expanding the loop while would make more than 40 ops"):
            lower([m], {})
        # a cond that never turns false stops at the cap too, instead of expanding for ever
        _, m = tf.while_loop(lambda i, m: i >= 0, _doubling, [0, tf.ones([1, 2])], shape_invariants=_GROWING)
        with pytest.raises(tf.errors.UnimplementedError, match="caps an expansion at 40 ops"):
            lower([m], {})


def test_a_loop_expanded_in_a_cond_branch_and_in_a_loop_body():
    """In a function the copies are the function's ops; the branch captures w once (for the body)."""
    with tf.Graph().as_default():
        w = tf.placeholder(tf.float32, [1, 2])
        p = tf.placeholder(tf.bool, [])

        def grown(start):
            return tf.while_loop(lambda i, m: i < 3, lambda i, m: (i + 1, tf.concat([m, m[-1:] * w], 0)),
                                 [0, start], shape_invariants=_GROWING)[1]

        r = tf.cond(p, lambda: tf.reduce_sum(grown(tf.ones([1, 2])), 0), lambda: w[0] * 0.0)
        then = r.op.attrs["then"]
        assert [source for source, _ in then.captures] == [w] and len(then.inputs) == 1
        o = tf.while_loop(lambda j, a: j < 2, lambda j, a: (j + 1, tf.reduce_sum(grown(tf.ones([1, 2]) * a)) * 0.1),
                          [0, 1.0])[1]
        feeds = {w: np.array([[2.0, 3.0]], np.float32), p: True}
        got = interpret_graph([r, o], feeds)
        np.testing.assert_allclose(got[0], [15.0, 40.0])
        np.testing.assert_allclose(got[1], 30.25)
