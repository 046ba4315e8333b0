"""The pieces of the eager replay (graphc/eager/trace.py) that need no compiled step: signatures and the
copy of a replayed prefix."""

import numpy as np

from graphc.core import dtypes
from graphc.eager import trace
from graphc.eager.runtime import op_key
from graphc.frontend.graph import Graph
from graphc.ops import array_ops, math_ops


def sig(value):
    dynamic = []
    return trace.signature(value, dynamic), dynamic


def test_signatures_tell_python_values_apart_by_type_and_collect_the_tensor_like_leaves():
    a, b = np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)
    first, leaves = sig(((a, 2.0), {"axis": 1, "keepdims": True}))
    second, other_leaves = sig(((b, 2.0), {"axis": 1, "keepdims": True}))
    assert trace.same(first, second) and leaves == [a] and other_leaves[0] is b  # arrays compared apart
    assert not trace.same(sig((a, 2))[0], sig((a, 2.0))[0])  # an int and a float build different constants
    assert not trace.same(sig((a, True))[0], sig((a, 1))[0])
    assert not trace.same(sig([a, 2.0])[0], sig((a, 2.0))[0])
    assert not trace.same(sig((a, float("nan")))[0], sig((a, float("nan")))[0])  # no match is the safe side

    class Exploding:
        def __eq__(self, other):
            raise ValueError("not comparable")
        __hash__ = object.__hash__
    assert not trace.same(sig(Exploding())[0], sig(Exploding())[0])


def test_a_copied_prefix_has_the_same_ops_names_shapes_and_control_inputs():
    graph = Graph()
    with graph.as_default():
        x = array_ops.placeholder(dtypes.float32, (4, 3), name="input")
        y = math_ops.tanh(x) * 2.0
        with graph.control_dependencies([y.op]):
            z = math_ops.reduce_sum(y, axis=1)
        n_ops = len(graph.get_operations())
        math_ops.square(z)  # past the prefix
    copy, mapping = trace.copy_prefix(graph, n_ops)
    originals = graph.get_operations()[:n_ops]
    assert [op_key(op) for op in copy.get_operations()] == [op_key(op) for op in originals]
    assert mapping[z].shape.as_list() == [4] and mapping[z].graph is copy
    assert [c.name for c in mapping[z.op].control_inputs] == [y.op.name]
    with copy.as_default():  # names made later are unique against the copied ones, as in the original
        assert math_ops.tanh(mapping[x]).op.name == graph.get_operations()[1].name + "_1"


def test_string_constants_key_by_their_strings_not_their_element_addresses():
    """A string constant's value is an object array, whose bytes are its elements' addresses: two graphs
    with the same strings have one key, and other strings another, wherever the objects live."""
    def constant_key(*strings):
        graph = Graph()
        with graph.as_default():
            array_ops.constant(np.array([s.encode() for s in strings], dtype=object), name="c")
        return op_key(graph.get_operations()[0])

    assert constant_key("first", "second") == constant_key("first", "second")
    assert constant_key("first", "second") != constant_key("first", "third")
