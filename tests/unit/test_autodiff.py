"""Gradient rules against finite differences, through the reference interpreter (no LLVM)."""

import numpy as np
import pytest

import graphc as tf
from tests.gradient_cases import CASES, build
from tests.helpers import interpret_graph, numeric_gradient


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_finite_differences(case):
    placeholders, loss = build(case)
    grads = tf.gradients(loss, placeholders)
    arrays = [a.copy() for a in case[2]]
    feeds = dict(zip(placeholders, arrays))
    symbolic = interpret_graph(grads, feeds)
    for i, (x, g) in enumerate(zip(arrays, symbolic)):
        def f(value, i=i):
            return interpret_graph([loss], {**feeds, placeholders[i]: value})[0]

        # The cast case goes through float32: a larger step keeps rounding out of the difference.
        eps = 1e-2 if case[0] == "cast" else 1e-6
        np.testing.assert_allclose(g, numeric_gradient(f, x, eps), rtol=1e-4, atol=1e-4, err_msg=case[0])


def test_unconnected_and_integer_paths_give_none():
    x = tf.placeholder(tf.float32, [3])
    y = tf.placeholder(tf.float32, [3])
    i = tf.placeholder(tf.int32, [3])
    loss = tf.reduce_sum(x * 2.0 + tf.cast(i, tf.float32))
    assert tf.gradients(loss, [x, y, i])[1:] == [None, None]


def test_grad_ys_scales_the_gradient():
    x = tf.placeholder(tf.float32, [2])
    y = x * 3.0
    (g,) = tf.gradients(y, x, grad_ys=tf.constant([1.0, 2.0]))
    np.testing.assert_allclose(interpret_graph([g], {x: np.ones(2)})[0], [3.0, 6.0])


def test_gradients_of_shared_input_are_summed():
    x = tf.placeholder(tf.float32, [])
    (g,) = tf.gradients(x * x + 3.0 * x, x)
    assert g.op.type == "AddN"
    assert interpret_graph([g], {x: 2.0})[0] == pytest.approx(7.0)


def test_gradient_ops_are_named_under_gradients_scope():
    x = tf.placeholder(tf.float32, [2, 2], name="x")
    w = tf.Variable(tf.ones([2, 2]), name="w")
    loss = tf.reduce_sum(tf.matmul(x, w, name="mm"))
    (g,) = tf.gradients(loss, [w])
    assert g.op.name.startswith("gradients/mm_grad/")


def test_stop_gradient_blocks():
    x = tf.placeholder(tf.float32, [2])
    (g,) = tf.gradients(tf.reduce_sum(tf.stop_gradient(x) * x), x)
    np.testing.assert_allclose(interpret_graph([g], {x: np.array([2.0, 3.0])})[0], [2.0, 3.0])


def test_gradients_inside_a_loop_body_reach_outer_variables_and_tensors_through_its_captures():
    w = tf.Variable(tf.ones([2, 2]), name="w")
    x = tf.placeholder(tf.float32, [3, 2], name="x")
    found = {}

    def body(i):
        def branch():
            loss = tf.reduce_sum(tf.square(tf.matmul(x, w)))
            found["branch"] = tf.gradients(loss, [w, x, tf.constant(1.0)])
            return loss
        loss = tf.reduce_sum(tf.tanh(tf.matmul(x, w))) + tf.cond(i < 2, branch, lambda: 0.0)
        found["body"] = tf.gradients(loss, [w, x])
        return i + 1

    tf.while_loop(lambda i: i < 3, body, [0])
    body_graph, branch_graph = found["body"][0].graph, found["branch"][0].graph
    assert body_graph is not w.graph and branch_graph.outer_graph is body_graph
    assert [g.graph for g in found["body"]] == [body_graph] * 2
    assert [g.graph for g in found["branch"][:2]] == [branch_graph] * 2 and found["branch"][2] is None
    assert [g.shape.as_list() for g in found["body"]] == [[2, 2], [3, 2]]


def test_slots_of_an_optimizer_minimizing_in_a_loop_body_live_outside_it():
    w = tf.Variable(1.0, name="w")
    optimizer = tf.train.AdamOptimizer(0.1)

    def body(i):
        with tf.control_dependencies([optimizer.minimize(tf.square(w - 3.0))]):
            return i + 1

    loop = tf.while_loop(lambda i: i < 3, body, [0], name="train")
    assert sorted(v.op.name for v in tf.global_variables()) == [
        "train/beta1_power", "train/beta2_power", "w", "w/Adam", "w/Adam_1"]
    assert all(v.graph is w.graph for v in optimizer.variables())
    assert tf.get_collection(tf.GraphKeys.TRAIN_OP)[0].graph is loop.op.attrs["body"]
