"""A fuzz graph as plain data (op types, inputs, attributes, NumPy arrays), so another process can build it.

TensorFlow and llvmlite each carry their own LLVM and must not share a process:
the TensorFlow oracle sends this description to its worker
(tests/fuzz/tensorflow_worker.py), which builds the same graph with TF's ops.
graphc's ops carry TF1's op types, so a node is its type, its inputs as (op
name, output index) in TF's order and its attributes under TF's names (where
graphc's differ, its OpDef says how: `tf_input_order`, `tf_attr_names`); dtypes
travel by name. Only the ops the fetches (in gradient modes: the loss) need are
described: TF differentiates the loss itself with tf.gradients.
"""

from __future__ import annotations

import numpy as np

from graphc.core import dtypes
from tests.fuzz.context import STATE
from tests.fuzz.generate import BuiltGraph


def describe(built: BuiltGraph) -> dict:
    """{"nodes": [...], "fetches": [(op, index)], "loss", "wrt": [placeholder names], "variables": {op name:
    initial value}, "state": bool} of a graph built with concrete placeholder shapes."""
    ctx = built.context
    targets = [built.loss] if built.loss is not None else list(built.fetches)
    nodes = [_node(op) for op in _needed_ops(targets)]
    return {
        "nodes": nodes,
        "fetches": [_reference(t) for t in built.fetches],
        "loss": None if built.loss is None else _reference(built.loss),
        "wrt": [leaf.tensor.op.name for leaf in built.wrt],
        "variables": {v.variable.op.name: v.initial.astype(ctx.float_dtype.np_dtype) for v in ctx.variables},
        "state": ctx.mode == STATE,
    }


def _needed_ops(targets) -> list:
    """The ops `targets` depend on (data and control inputs), in creation order."""
    needed, stack = {}, [t.op for t in targets]
    while stack:
        op = stack.pop()
        if op.name in needed:
            continue
        needed[op.name] = op
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return sorted(needed.values(), key=lambda op: op._id)


def _reference(tensor) -> tuple:
    return (tensor.op.name, tensor.value_index)


def _node(op) -> dict:
    attrs, dtype_attrs = {}, {}
    for name, value in op.attrs.items():
        name = op.op_def.tf_attr_names.get(name, name)
        if isinstance(value, dtypes.DType):
            dtype_attrs[name] = value.name
        elif isinstance(value, np.ndarray):
            attrs[name] = np.array(value)  # a plain copy (constants may be read-only broadcast views)
        else:
            attrs[name] = value
    inputs = [_reference(t) for t in op.inputs]
    if op.op_def.tf_input_order is not None:
        inputs = [inputs[i] for i in op.op_def.tf_input_order]
    return {"name": op.name, "type": op.type, "inputs": inputs,
            "control_inputs": [c.name for c in op.control_inputs], "attrs": attrs, "dtype_attrs": dtype_attrs,
            "shapes": [None if t._dims is None else list(t._dims) for t in op.outputs]}
