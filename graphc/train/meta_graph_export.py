"""A graphc Graph as a MetaGraphDef TensorFlow's `tf.train.import_meta_graph` reads and runs.

The MetaGraphDef holds the GraphDef (`frontend/graph_def`: every op in
TensorFlow's form), the collections (variables as VariableDefs, ops and tensors
as node lists, numbers and strings as lists), and, for a Saver, its SaverDef
and the save subgraph TF's Saver runs: graphc's Saver adds no ops to the graph
(it saves from Python), so the subgraph TF1's Saver would have built is written
here, as TF 1.15 builds it for TF's checkpoint format V2:

    save/Const (the prefix, a PlaceholderWithDefault) -> save/SaveV2(names, slices, variables...)
        -> save/control_dependency      save/RestoreV2 -> save/Assign_k (one per variable) -> save/restore_all
"""

from __future__ import annotations

import logging

import numpy as np

from graphc.core.protos import protos
from graphc.frontend.graph import Operation, Tensor
from graphc.frontend.graph_def import NodeWriter, TfTensor
from graphc.ops.variables import Variable
from graphc.train.checkpoint_io import atomic_write

_log = logging.getLogger(__name__)

META_GRAPH_VERSION = "graphc"
_SAVER_DEF_V2 = 2  # SaverDef.CheckpointFormatVersion.V2


def meta_graph_def(graph, saver=None, collection_list=None, clear_devices: bool = False):
    """The MetaGraphDef of `graph`, with `saver`'s SaverDef and save subgraph when given.

    `collection_list` names the collections to write (default: all). An op
    TensorFlow has no form for is a ValueError listing every such op type.
    """
    writer = NodeWriter(protos())
    writer.write_graph(graph)
    if writer.unsupported:
        raise ValueError("TensorFlow has no op for these graphc op types, so the graph cannot be written as a "
                         "MetaGraphDef TensorFlow imports: " + ", ".join(sorted(writer.unsupported)))
    result = protos().meta_graph_pb2.MetaGraphDef()
    result.meta_info_def.meta_graph_version = META_GRAPH_VERSION
    if saver is not None:
        result.saver_def.CopyFrom(_save_subgraph(writer, graph, saver))
    if clear_devices:
        for node in writer.graph_def.node:
            node.device = ""
    result.graph_def.CopyFrom(writer.graph_def)
    keys = graph.get_all_collection_keys() if collection_list is None else collection_list
    for key in keys:
        _add_collection(result, graph, key)
    return result


def _save_subgraph(writer: NodeWriter, graph, saver):
    """Writes the nodes TF1's Saver builds for `saver`'s variables; returns its SaverDef."""
    scope = graph.unique_name("save", mark_as_used=False)
    names = sorted(saver._variables, key=lambda name: name.encode())
    variables = [writer.tensor(saver._variables[name]._ref()) for name in names]
    value_dtypes = [saver._variables[name].dtype for name in names]
    strings = np.array([name.encode() for name in names], dtype=object)
    slices = np.array([b""] * len(names), dtype=object)
    default_prefix = writer.constant(np.array(b"model", dtype=object), f"{scope}/filename/input")
    filename = writer.node("PlaceholderWithDefault", [default_prefix], f"{scope}/filename", attrs={"shape": ()})[0]
    prefix = writer.node("PlaceholderWithDefault", [filename], f"{scope}/Const", attrs={"shape": ()})[0]
    save = [writer.constant(strings, f"{scope}/SaveV2/tensor_names"),
            writer.constant(slices, f"{scope}/SaveV2/shape_and_slices")]
    writer.node("SaveV2", [prefix] + save + variables, f"{scope}/SaveV2")
    saved = writer.node("Identity", [prefix], f"{scope}/control_dependency", controls=[f"^{scope}/SaveV2"])[0]
    restore = [writer.constant(strings, f"{scope}/RestoreV2/tensor_names"),
               writer.constant(slices, f"{scope}/RestoreV2/shape_and_slices")]
    writer.node("RestoreV2", [prefix] + restore, f"{scope}/RestoreV2", attrs={"dtypes": value_dtypes})
    assigns = []
    for index, (variable, dtype) in enumerate(zip(variables, value_dtypes)):
        name = f"{scope}/Assign" + (f"_{index}" if index else "")
        restored = TfTensor(f"{scope}/RestoreV2:{index}", dtype)
        writer.node("Assign", [variable, restored], name, attrs={"validate_shape": True, "use_locking": True})
        assigns.append("^" + name)
    writer.node("NoOp", [], f"{scope}/restore_all", controls=assigns)
    keep_hours = saver._keep_every_seconds / 3600
    return protos().saver_pb2.SaverDef(filename_tensor_name=prefix.name, save_tensor_name=saved.name,
                              restore_op_name=f"{scope}/restore_all", max_to_keep=saver._max_to_keep or 0,
                              keep_checkpoint_every_n_hours=keep_hours, version=_SAVER_DEF_V2, sharded=False)


def _variable_def(variable: Variable) -> bytes:
    return protos().variable_pb2.VariableDef(
        variable_name=variable.name, initializer_name=variable.initializer.name,
        snapshot_name=variable.value().name, initial_value_name=variable.initial_value.name,
        trainable=variable.trainable).SerializeToString()


def _add_collection(result, graph, key: str) -> None:
    """Writes collection `key` as TF does: Variables as VariableDefs, graph elements by name, plain values.

    A collection TF could not write either (other Python objects, mixed
    kinds) is left out with a warning, as TF1 does.
    """
    items = graph.get_collection(key)
    if not items:
        return
    kinds = {_kind(item) for item in items}
    if len(kinds) != 1 or None in kinds:
        _log.warning("Collection %r is not written to the MetaGraphDef: it holds %s", key,
                     ", ".join(sorted({type(item).__name__ for item in items})))
        return
    collection = result.collection_def[key]
    kind = kinds.pop()
    if kind == "variable":
        collection.bytes_list.value.extend(_variable_def(item) for item in items)
    elif kind == "node":
        collection.node_list.value.extend(item.name for item in items)
    elif kind == "bytes":
        collection.bytes_list.value.extend(item.encode() if isinstance(item, str) else item for item in items)
    elif kind == "int":
        collection.int64_list.value.extend(int(item) for item in items)
    else:
        collection.float_list.value.extend(float(item) for item in items)


def _kind(item):
    if isinstance(item, Variable):
        return "variable"
    if isinstance(item, (Operation, Tensor)):
        return "node"
    if isinstance(item, (str, bytes)):
        return "bytes"
    if isinstance(item, (bool, np.bool_)):
        return None
    if isinstance(item, (int, np.integer)):
        return "int"
    if isinstance(item, (float, np.floating)):
        return "float"
    return None



def write(path: str, message, as_text: bool) -> None:
    """Atomically writes the protobuf `message` to `path`, binary or in protobuf's text format."""
    if as_text:
        from google.protobuf import text_format  # noqa: PLC0415  protobuf comes with tensorboard
        data = text_format.MessageToString(message).encode()
    else:
        data = message.SerializeToString()
    atomic_write(path, data)
