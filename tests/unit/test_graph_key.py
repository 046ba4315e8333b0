"""The graph's key (compiler/graph_key.py): equal for the same graph built again, different for any change
lowering could see."""

import numpy as np

import graphc as tf
from graphc.compiler.graph_key import graph_key
from graphc.ir.program import IRType


def _model(graph, units=3, name="w", rate=0.1, shape=(None, 4)):
    with graph.as_default():
        x = tf.placeholder(tf.float32, shape, name="x")
        w = tf.Variable(tf.fill([4, units], 0.5), name=name)
        loss = tf.reduce_mean(tf.tanh(tf.matmul(x, w)))
        train = tf.train.GradientDescentOptimizer(rate).minimize(loss)
    return x, w, loss, train


def _key(x, fetches, rows=2, initialized=frozenset(), profiled=False):
    return graph_key(fetches, {x: IRType(tf.float32, (rows, 4))}, frozenset(initialized), profiled)


def test_the_same_program_built_twice_has_one_key():
    x1, _, loss1, train1 = _model(tf.Graph())
    x2, _, loss2, train2 = _model(tf.Graph())
    assert _key(x1, [train1, loss1]).digest == _key(x2, [train2, loss2]).digest


def test_unrelated_ops_do_not_change_the_key():
    graph = tf.Graph()
    x, _, loss, train = _model(graph)
    before = _key(x, [train, loss]).digest
    with graph.as_default():
        tf.constant(np.arange(5.0), name="elsewhere")
    assert _key(x, [train, loss]).digest == before


def test_any_change_lowering_sees_changes_the_key():
    x, w, loss, train = _model(tf.Graph())
    base = _key(x, [train, loss]).digest
    others = []
    for kwargs in ({"units": 5}, {"name": "v"}, {"rate": 0.25}, {"shape": (2, 4)}):
        x2, _, loss2, train2 = _model(tf.Graph(), **kwargs)
        others.append(_key(x2, [train2, loss2]).digest)
    others += [_key(x, [train]).digest, _key(x, [loss, train]).digest, _key(x, [train, loss], rows=3).digest,
               _key(x, [train, loss], initialized={w.op.name}).digest,
               _key(x, [train, loss], profiled=True).digest]
    assert len({base, *others}) == len(others) + 1


def test_a_static_shape_set_later_changes_the_key():
    graph = tf.Graph()
    x, _, loss, train = _model(graph)
    before = _key(x, [train, loss]).digest
    x.set_shape([2, 4])
    assert _key(x, [train, loss]).digest != before


def test_initialised_variables_the_step_does_not_reach_do_not_change_the_key():
    x, _, loss, train = _model(tf.Graph())
    assert _key(x, [loss], initialized={"elsewhere"}).digest == _key(x, [loss]).digest


def test_control_flow_functions_are_part_of_the_key():
    def loop(limit):
        graph = tf.Graph()
        with graph.as_default():
            x = tf.placeholder(tf.float32, [2, 4], name="x")
            _, y = tf.while_loop(lambda i, v: i < limit, lambda i, v: (i + 1, v * 2.0), [0, x])
        return _key(x, [y])
    assert loop(3).digest == loop(3).digest != loop(4).digest


def test_an_attribute_it_cannot_write_down_makes_the_signature_keyless():
    x, _, loss, _ = _model(tf.Graph())
    loss.op.attrs["opaque"] = object()  # its repr names an address, not a value
    assert _key(x, [loss]) is None


def test_a_broadcast_constant_is_keyed_by_the_elements_it_holds():
    # tf.zeros of 2^40 elements holds one: writing it out whole raised MemoryError before TF's OOM message.
    keys = []
    for fill in (tf.zeros, tf.ones):
        graph = tf.Graph()
        with graph.as_default():
            total = tf.reduce_sum(fill([2 ** 20, 2 ** 20], name="z"))
        keys.append(graph_key([total], {}, frozenset(), False).digest)
    assert keys[0] != keys[1]
