"""A graphc Graph as a TF1 `GraphDef` protobuf, for TensorBoard's graph view.

One NodeDef per op: its name, TF1 op type, inputs (`op`, `op:1`, `^op` for
control inputs), its requested device (`tf.device`), the attributes that have a plain protobuf form
(dtypes, shapes, numbers, strings, small constants) and `_output_shapes`,
which TensorBoard shows on the edges. Constants with more than
`MAX_CONSTANT_ELEMENTS` elements keep their dtype but not their value.
"""

from __future__ import annotations

import numpy as np

from graphc.core import dtypes
from graphc.core.protos import protos

MAX_CONSTANT_ELEMENTS = 1024

_GRAPH_DEF_PRODUCER = 27  # the GraphDef version TF 1.15 writes


def graph_def(graph):
    """The GraphDef protobuf of `graph` (its ops in creation order)."""
    modules = protos()
    result = modules.graph_pb2.GraphDef()
    result.versions.producer = _GRAPH_DEF_PRODUCER
    for op in graph.get_operations():
        node = result.node.add(name=op.name, op=op.type, device=op.device)
        node.input.extend([_input_name(t) for t in op.inputs] + ["^" + c.name for c in op.control_inputs])
        for name, value in sorted(op.attrs.items()):
            attr = _attr_value(modules, name, value)
            if attr is not None:
                node.attr[name].CopyFrom(attr)
        if op.outputs:
            node.attr["_output_shapes"].list.shape.extend(_shape_proto(modules, t._dims) for t in op.outputs)
    return result


def _input_name(tensor) -> str:
    return tensor.op.name if tensor.value_index == 0 else tensor.name


def _shape_proto(modules, dims):
    shape = modules.tensor_shape_pb2.TensorShapeProto()
    if dims is None:
        shape.unknown_rank = True
    else:
        shape.dim.extend(modules.tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else d) for d in dims)
    return shape


def _attr_value(modules, name: str, value):
    """Attribute `name` = `value` as an AttrValue, or None when it has no plain protobuf form."""
    attr = modules.attr_value_pb2.AttrValue()
    if name == "shape":  # placeholders' and variables' static shapes (None: unknown rank)
        attr.shape.CopyFrom(_shape_proto(modules, value))
    elif isinstance(value, dtypes.DType):
        attr.type = value.as_datatype_enum
    elif isinstance(value, (bool, np.bool_)):
        attr.b = bool(value)
    elif isinstance(value, (int, np.integer)):
        attr.i = int(value)
    elif isinstance(value, (float, np.floating)):
        attr.f = float(value)
    elif isinstance(value, str):
        attr.s = value.encode("utf-8")
    elif isinstance(value, np.ndarray):
        if value.size > MAX_CONSTANT_ELEMENTS:
            return None
        attr.tensor.CopyFrom(modules.tensor_util.make_tensor_proto(np.ascontiguousarray(value)))
    elif isinstance(value, tuple) and all(isinstance(v, (int, np.integer)) for v in value):
        attr.list.i.extend(int(v) for v in value)
    else:
        return None
    return attr
