"""Every registered op has a form in TensorFlow's GraphDefs (for `.meta` files and `as_graph_def`), or is
listed as having none; its TF-form facts name things that exist (no LLVM, no TensorFlow here)."""

import numpy as np
import pytest

import graphc as tf
from graphc.core import registry
from graphc.core.tf_op_signatures import SIGNATURES
from graphc.frontend.graph_def import graph_def

OPS = [op for op in registry.all_ops() if op.tf_type is not None]
# graphc's ops TensorFlow has no op or composition for: a graph with one is not exported (`.meta`), and
# import cannot meet them. Horovod's are Horovod's own TF ops (a custom op library TF lacks by default).
# The row ops live in graphc's while_loop functions, which GraphDefs do not carry yet (their functions
# would go in the GraphDef's function library, not written: a .meta of a graph with loops is refused).
NO_TF_FORM = {"InitializedValue", "ReportUninitializedVariables", "HorovodAllreduce", "HorovodAllgather",
              "HorovodBroadcast", "LogUniformSampledIds", "GraphcRowRead", "GraphcRowReadGrad", "GraphcRowWrite"}
EXTRA_OUTPUTS = {name for op in OPS for name in op.tf_extra_outputs}


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_op_has_a_tensorflow_form(op):
    if op.tf_type in NO_TF_FORM:
        assert op.tf_type not in SIGNATURES
        return
    assert op.tf_type in SIGNATURES or op.tf_expansion is not None or op.name in EXTRA_OUTPUTS, (
        f"{op.tf_type} has no TensorFlow form: if TF has the op, rerun tools/make_tf_op_signatures.py; else give "
        f"its OpDef a tf_expansion or list it in NO_TF_FORM")
    attrs = SIGNATURES.get(op.tf_type, ((), (), {}))[2]
    for graphc_name, tf_name in op.tf_attr_names.items():
        assert tf_name in attrs, f"{op.tf_type}: {graphc_name} is renamed to {tf_name}, which TF's op lacks"
    for name in op.tf_extra_outputs:
        assert len(SIGNATURES[op.tf_type][1]) > 1 and registry.get(name).static_inputs == op.static_inputs
    if op.tf_attr_inputs:
        assert SIGNATURES[op.tf_type][0][0] == "string"


def test_graph_def_types_every_input_as_tf_does():
    x = tf.placeholder(tf.float32, (None, 3), name="x")
    total = tf.reduce_sum(tf.cast(x, tf.int64), axis=1, keepdims=True, name="total")
    tf.concat([x, x], axis=1, name="both")
    nodes = {node.name: node for node in graph_def(tf.get_default_graph(), strict=True).node}
    assert nodes["Cast"].attr["SrcT"].type == 1 and nodes["Cast"].attr["DstT"].type == 9  # float -> int64
    assert nodes["total"].attr["T"].type == 9 and nodes["total"].attr["Tidx"].type == 3
    assert nodes["total"].attr["keep_dims"].b and "keepdims" not in nodes["total"].attr
    assert nodes["both"].attr["N"].i == 2 and nodes["both"].attr["T"].type == 1
    assert total.op.name == "total"


def test_a_graphc_only_op_is_written_with_its_type_or_refused_when_strict():
    a = tf.Variable(np.float32(1.0), name="a")
    tf.Variable(a.initialized_value(), name="b")
    nodes = [node.op for node in graph_def(tf.get_default_graph()).node]
    assert "InitializedValue" in nodes
    with pytest.raises(ValueError, match="TensorFlow has no op for these graphc op types.*: InitializedValue$"):
        graph_def(tf.get_default_graph(), strict=True)
