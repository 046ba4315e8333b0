"""A MetaGraphDef (TensorFlow's or graphc's `.meta`) imported into a graphc Graph.

Each NodeDef becomes the registry op of its TF type (`registry.by_tf_type`),
its attributes graphc's (TF's type attributes dropped, renamed ones through
the OpDef's `tf_attr_names`), its inputs graphc's tensors; where TF's op has
outputs graphc computes with other ops (`tf_extra_outputs`:
SparseSoftmaxCrossEntropyWithLogits:1) those ops are added on the same inputs.
The Saver's own subgraph (SaveV2, RestoreV2 ... under the SaverDef's scope) is
not imported: graphc's Saver saves from Python; the returned Saver saves and
restores the tensors that subgraph names. Collections come back: variables as
Variables, node lists as ops and tensors, plain lists as values.

Everything is checked before the first op is added (every op type known,
every input present: else an error listing them all), and a failure while
adding leaves the graph as it was.
"""

from __future__ import annotations

import inspect
import logging

import numpy as np

from graphc import errors
from graphc.core import dtypes, registry
from graphc.core.protos import protos
from graphc.core.registry import Role
from graphc.core.tf_op_signatures import SIGNATURES
from graphc.frontend.graph import GraphKeys
from graphc.ops import all as _all_ops  # noqa: F401  every op registered, to be found by its TF type
from graphc.ops.variables import Variable

_log = logging.getLogger(__name__)

# Attributes TF sets that graphc has no use for: locking (a step's updates run in order in one native
# call), resource sharing between sessions, TF's hints to its gradient kernels, Cast's truncation flag
# (graphc's float casts round as TF's default does).
_TF_ONLY_ATTRS = {"use_locking", "container", "shared_name", "grad_a", "grad_b", "grad_x", "grad_y", "Truncate"}
# The collections whose bytes are VariableDefs (TF1's proto functions for them).
_VARIABLE_COLLECTIONS = {GraphKeys.GLOBAL_VARIABLES, GraphKeys.TRAINABLE_VARIABLES, GraphKeys.LOCAL_VARIABLES,
                         GraphKeys.MODEL_VARIABLES, GraphKeys.GLOBAL_STEP, "moving_average_variables",
                         "metric_variables"}
# Collections of TF1 protos graphc has nothing to make of: left out, with a warning.
_SKIPPED_COLLECTIONS = {GraphKeys.SAVERS, GraphKeys.QUEUE_RUNNERS, "cond_context", "while_context"}


def import_into(graph, meta, source: str, clear_devices=False, import_scope=None):
    """Adds the MetaGraphDef `meta` (read from `source`, for messages) to `graph`.

    Returns what its Saver is: the keyword arguments of a `Saver` saving what
    its SaveV2 ops save (`var_list` a dict); {} for TF1's default Saver, when
    there is no SaverDef but there are variables; None when there is neither.
    """
    scope = f"{import_scope}/" if import_scope else ""
    saver_scopes = _saver_scopes(meta)
    nodes = {node.name: node for node in meta.graph_def.node}
    imported = [node for node in meta.graph_def.node if not node.name.startswith(saver_scopes)]
    _check(imported, nodes, source)
    with graph.as_default(), graph.undone_on_error():
        importer = _NodeImporter(graph, nodes, scope, clear_devices)
        for node in _in_input_order(imported):
            importer.add(node)
        variables = _restore_collections(graph, meta, scope, importer)
        return _saver_arguments(meta, saver_scopes, importer, variables, graph)


def _saver_scopes(meta) -> tuple:
    """The name scopes ("save/") of the MetaGraphDef's savers, whose subgraphs graphc does not import."""
    saver_defs = [meta.saver_def] if meta.HasField("saver_def") else []
    if GraphKeys.SAVERS in meta.collection_def:
        saver_defs += [protos().saver_pb2.SaverDef.FromString(value)
                       for value in meta.collection_def[GraphKeys.SAVERS].bytes_list.value]
    return tuple(d.restore_op_name.rpartition("/")[0] + "/" for d in saver_defs if "/" in d.restore_op_name)


def _check(imported: list, nodes: dict, source: str) -> None:
    """Every op type must be graphc's and every input present, else one error listing all that are not."""
    unknown = sorted({node.op for node in imported if registry.by_tf_type(node.op) is None})
    if unknown:
        raise errors.UnimplementedError(None, None, f"Cannot import the MetaGraphDef {source}: graphc has no op for "
                                                    f"these op types: {', '.join(unknown)}")
    missing = sorted({f"{node.name} <- {name}" for node in imported for name in node.input
                      if _source_node(name) not in nodes})
    if missing:
        raise errors.DataLossError(None, None, f"The MetaGraphDef {source} is damaged: inputs of nodes name nodes it "
                                               f"does not have: {', '.join(missing[:10])}")


def _source_node(input_name: str) -> str:
    return input_name.lstrip("^").partition(":")[0]


def _in_input_order(imported: list) -> list:
    """The nodes ordered so that each comes after its inputs (TF's GraphDefs need not be)."""
    by_name = {node.name: node for node in imported}
    done, order = set(), []
    for root in imported:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if node.name in done:
                continue
            if expanded:
                done.add(node.name)
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((by_name[_source_node(name)], False) for name in reversed(node.input)
                         if _source_node(name) in by_name and _source_node(name) not in done)
    return order


class _NodeImporter:
    """Adds NodeDefs to a graph as graphc ops and knows the tensor each TF tensor name became."""

    def __init__(self, graph, nodes: dict, scope: str, clear_devices: bool):
        self.graph, self._nodes, self._scope, self._clear_devices = graph, nodes, scope, clear_devices
        self._ops: dict = {}  # node name -> graphc Operation
        self._extra: dict = {}  # (node name, output) -> graphc Tensor of a tf_extra_outputs op

    def add(self, node) -> None:
        op_def = registry.by_tf_type(node.op)
        data = [name for name in node.input if not name.startswith("^")]
        controls = [self._ops[_source_node(name)] for name in node.input if name.startswith("^")]
        attrs = _graphc_attrs(op_def, node)
        n_attr_inputs = len(op_def.tf_attr_inputs)
        for attr_name, input_name in zip(op_def.tf_attr_inputs, data):
            value = _constant_value(self._nodes[_source_node(input_name)])
            attrs[attr_name] = value.item().decode() if isinstance(value.item(), bytes) else value.item()
        inputs = [self.tensor(name) for name in data[n_attr_inputs:]]
        if op_def.tf_input_order is not None:  # TF's order back to graphc's
            inputs = [inputs[op_def.tf_input_order.index(i)] for i in range(len(inputs))]
        with self.graph.control_dependencies(controls):
            op = self.graph.create_op(op_def, inputs, attrs, name=self._scope + node.name + "/")
        self.graph.mark_name_used(op.name)
        if node.device and not self._clear_devices:
            op._set_device(node.device)
        self._ops[node.name] = op

    def tensor(self, name: str):
        """The graphc tensor TF's tensor `name` ("op", "op:1") became."""
        node_name, _, index = name.partition(":")
        index = int(index or 0)
        op = self._ops[node_name]
        if index < len(op.outputs):
            return op.outputs[index]
        extra = op.op_def.tf_extra_outputs
        if index - 1 >= len(extra) or index == 0:
            raise errors.InvalidArgumentError(None, None, f"Node {node_name} has no output {index}")
        if (node_name, index) not in self._extra:
            extra_def = registry.get(extra[index - 1])
            with self.graph.control_dependencies(None):
                created = self.graph.create_op(extra_def, list(op.inputs), dict(op.attrs),
                                               name=f"{op.name}/{extra_def.graph_name}")
            self._extra[node_name, index] = created.outputs[0]
        return self._extra[node_name, index]

    def element(self, name: str):
        """The graph element a collection's node list names ("op" or "op:0")."""
        return self.graph.as_graph_element(self._scope + name)


def _graphc_attrs(op_def, node) -> dict:
    """The NodeDef's attributes as graphc's op takes them."""
    signature = SIGNATURES.get(node.op)
    bound = set()
    if signature is not None:
        for argument in signature[0]:
            bound.update(part.strip("[]") for part in argument.split("*"))
    graphc_names = {tf_name: name for name, tf_name in op_def.tf_attr_names.items()}
    given = {name: _attr_python(value) for name, value in node.attr.items()}
    for name, default in (signature[2].items() if signature is not None else ()):
        if name not in given and default is not None:  # TF's importer fills in defaults too
            given[name] = _default_python(default)
    attrs = {graphc_names.get(name, name): value for name, value in given.items()
             if not name.startswith("_") and name not in _TF_ONLY_ATTRS and name not in bound}
    if op_def.role is Role.CONSTANT:
        return {"value": attrs["value"]}
    accepted = _reference_attrs(op_def)
    if accepted is not None and op_def.effects.random:
        accepted |= {"seed", "seed2"}  # kept for lowering, which keys the op's random numbers by them
    if accepted is not None:
        attrs = {name: value for name, value in attrs.items() if name in accepted}
    return attrs


def _reference_attrs(op_def):
    """The attrs graphc's op takes, from its reference's parameters (None when it has no reference)."""
    if op_def.reference is None:
        return None
    try:
        parameters = inspect.signature(op_def.reference).parameters
    except (TypeError, ValueError):
        return None
    return set(parameters) - set(op_def.static_inputs)


def _attr_python(value):
    """An AttrValue as graphc holds attributes: DType, bool, int, float, str, dims tuple, array, tuple."""
    kind = value.WhichOneof("value")
    if kind == "type":
        return dtypes.as_dtype(value.type)
    if kind == "shape":
        if value.shape.unknown_rank:
            return None
        return tuple(None if d.size < 0 else d.size for d in value.shape.dim)
    if kind == "tensor":
        return _tensor_value(value.tensor)
    if kind == "s":
        return value.s.decode("utf-8", "replace")
    if kind == "list":
        if value.list.type:
            return [dtypes.as_dtype(t) for t in value.list.type]
        return tuple(value.list.i) or tuple(value.list.f) or tuple(value.list.s)
    return getattr(value, kind) if kind else None


def _default_python(default):
    """A signature's default (`core/tf_op_signatures`) as graphc holds attributes: dtype names as DTypes."""
    if isinstance(default, str):
        try:
            return dtypes.as_dtype(default)
        except (TypeError, ValueError):
            return default
    return tuple(default) if isinstance(default, list) else default


def _tensor_value(tensor) -> np.ndarray:
    array = protos().tensor_util.make_ndarray(tensor)
    return array.astype(object) if array.dtype.kind in "SU" else array


def _constant_value(node) -> np.ndarray:
    if node.op != "Const":
        raise errors.UnimplementedError(None, None, f"Node {node.name} feeds an attribute graphc needs known (a "
                                                    f"summary's tag) but is a {node.op}, not a Const")
    return _tensor_value(node.attr["value"].tensor)


def _restore_collections(graph, meta, scope: str, importer: _NodeImporter) -> dict:
    """Adds the MetaGraphDef's collections to `graph`; returns variable tensor name -> Variable."""
    variables = {}
    for key, collection in sorted(meta.collection_def.items()):
        kind = collection.WhichOneof("kind")
        if key in _SKIPPED_COLLECTIONS:
            if key != GraphKeys.SAVERS:
                _log.warning("Collection %r of the MetaGraphDef is not imported: graphc has no use for it", key)
            continue
        if kind == "bytes_list" and key in _VARIABLE_COLLECTIONS:
            items = [_variable(importer, value, variables) for value in collection.bytes_list.value]
        elif kind == "node_list":
            items = [importer.element(name) for name in collection.node_list.value]
        elif kind in ("bytes_list", "int64_list", "float_list", "any_list"):
            items = list(getattr(collection, kind).value)
        else:
            continue
        for item in items:
            graph.add_to_collection(key, item)
    return variables


def _variable(importer: _NodeImporter, serialized: bytes, variables: dict) -> Variable:
    variable_def = protos().variable_pb2.VariableDef()
    variable_def.ParseFromString(serialized)
    name = variable_def.variable_name
    if name not in variables:
        initial_value = (importer.element(variable_def.initial_value_name) if variable_def.initial_value_name
                         else None)
        variables[name] = Variable.from_graph(importer.element(name), importer.element(variable_def.initializer_name),
                                              importer.element(variable_def.snapshot_name), initial_value,
                                              variable_def.trainable)
    return variables[name]


def _saver_arguments(meta, saver_scopes: tuple, importer: _NodeImporter, variables: dict, graph):
    """See `import_into`'s result."""
    if not meta.HasField("saver_def"):
        return {} if graph.get_collection(GraphKeys.GLOBAL_VARIABLES) else None
    scope = saver_scopes[0]
    by_tensor = {variable._ref(): variable for variable in variables.values()}
    var_list = {}
    for node in meta.graph_def.node:
        if node.op != "SaveV2" or not node.name.startswith(scope):
            continue
        names = _constant_value(importer._nodes[_source_node(node.input[1])]).reshape(-1)
        for name, tensor_name in zip(names, node.input[3:]):
            tensor = importer.tensor(tensor_name)
            if tensor not in by_tensor:
                raise errors.UnimplementedError(None, None, f"The saver of the MetaGraphDef saves {tensor_name}, "
                                                            f"which is not a variable: graphc saves variables only")
            var_list[name.decode()] = by_tensor[tensor]
    saver_def = meta.saver_def
    return {"var_list": var_list, "max_to_keep": saver_def.max_to_keep, "sharded": saver_def.sharded,
            "keep_checkpoint_every_n_hours": saver_def.keep_checkpoint_every_n_hours or 10000.0}
