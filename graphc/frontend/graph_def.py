"""A graphc Graph as a TF1 `GraphDef` protobuf: for TensorFlow's importer, and for TensorBoard's graph view.

One NodeDef per op: its name, TF1 op type, inputs (`op`, `op:1`, `^op` for
control inputs), its requested device (`tf.device`), its attributes under
TensorFlow's names, with the type attributes TensorFlow's OpDef asks for (`T`,
`Tidx` ..., filled in from the operands' dtypes through
`core/tf_op_signatures`), and `_output_shapes`, which TensorBoard shows on the
edges. Where graphc's op is not TensorFlow's, its OpDef says how TF writes it:
an output of another TF op (`tf_extra_outputs`: graphc's
SparseSoftmaxCrossEntropyWithLogitsGrad is TF's
SparseSoftmaxCrossEntropyWithLogits:1) or a few TF ops (`tf_expansion`:
ReducedShape).

graphc reads a variable before a write it does not depend on, in the same
run; TensorFlow's Identity of a variable aliases its buffer, so such a read
could see the write. Each write therefore gets control inputs on the reads it
must follow (`reads_before_writes`) — what TF1's own gradients get from their
`tuple` groups.

`graph_def(graph)` is the whole graph, which TensorFlow's `import_graph_def` and
`import_meta_graph` accept; an op TensorFlow has no form for (graphc's
InitializedValue, the Horovod ops) keeps graphc's type, or with `strict` is a
ValueError listing every such op type. For TensorBoard's view
(`summarize_constants`), constants of more than `MAX_CONSTANT_ELEMENTS`
elements keep their dtype but not their value.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from graphc.core import dtypes, registry
from graphc.core.registry import Role
from graphc.core.protos import protos
from graphc.core.tf_op_signatures import SIGNATURES

MAX_CONSTANT_ELEMENTS = 1024

GRAPH_DEF_PRODUCER = 27  # the GraphDef version TF 1.15 writes


def graph_def(graph, strict: bool = False, summarize_constants: bool = False):
    """The GraphDef protobuf of `graph` (its ops in creation order); see the module docstring."""
    writer = NodeWriter(protos(), summarize_constants)
    writer.write_graph(graph)
    if writer.unsupported and strict:
        raise ValueError("TensorFlow has no op for these graphc op types, so the graph cannot be written as a "
                         "GraphDef TensorFlow imports: " + ", ".join(sorted(writer.unsupported)))
    return writer.graph_def


@dataclasses.dataclass(frozen=True)
class TfTensor:
    """A tensor of the GraphDef being written: TF's name for it (`op`, `op:1`) and its dtype."""

    name: str
    dtype: object

    @property
    def ref(self) -> str:
        """How a NodeDef input names it: `op` for output 0, `op:k` for the others."""
        return self.name[:-2] if self.name.endswith(":0") else self.name


class NodeWriter:
    """Writes NodeDefs into one GraphDef: graphc's ops, and TF ops for expansions and the save subgraph."""

    def __init__(self, modules, summarize_constants: bool = False):
        self.modules = modules
        self.graph_def = modules.graph_pb2.GraphDef()
        self.graph_def.versions.producer = GRAPH_DEF_PRODUCER
        self.summarize_constants = summarize_constants
        self.unsupported: set = set()  # graphc op types TF has no form for
        self._tensors: dict = {}  # graphc Tensor -> TfTensor
        self._later_controls: dict = {}  # graphc write op -> the read ops it must follow in TF

    def write_graph(self, graph) -> None:
        """Writes every op of `graph`, in creation order, each write after the reads it must follow."""
        operations = graph.get_operations()
        self._later_controls = reads_before_writes(operations)
        for op in operations:
            self.write_op(op)

    def tensor(self, tensor) -> TfTensor:
        """The GraphDef's tensor of graphc's `tensor`, an output of an op written before."""
        return self._tensors[tensor]

    # -- graphc's ops ---------------------------------------------------------------------------

    def write_op(self, op) -> None:
        """Writes `op` as TF writes it, remembering the TF tensors its outputs are."""
        op_def = op.op_def
        inputs = [self._tensors[t] for t in op.inputs]
        if op_def.tf_input_order is not None:
            inputs = [inputs[i] for i in op_def.tf_input_order]
        controls = ["^" + c.name for c in op.control_inputs + self._later_controls.get(op, [])]
        producer = _producer_of(op_def)
        if op_def.tf_expansion is not None:
            output = op_def.tf_expansion(_Expansion(self, op.name + "/"), op.attrs, *inputs)
            self._tensors[op.outputs[0]] = self.node("Identity", [output], name=op.name, controls=controls)[0]
            return
        if producer is not None:
            index = producer.tf_extra_outputs.index(op_def.name) + 1
            outputs = self.node(producer.tf_type, inputs, name=op.name, controls=controls,
                                attrs=self._tf_attrs(producer, op), device=op.device)
            self._tensors[op.outputs[0]] = outputs[index]
            return
        # A While or If needs its functions in the GraphDef's function library, which is not written yet.
        if op_def.tf_type not in SIGNATURES or op_def.role is Role.CONTROL_FLOW:
            self.unsupported.add(op_def.tf_type)
        inputs = [self.constant(np.asarray(op.attrs[name], dtype=object), f"{op.name}/{name}")
                  for name in op_def.tf_attr_inputs] + inputs
        outputs = self.node(op_def.tf_type, inputs, name=op.name, controls=controls, attrs=self._tf_attrs(op_def, op),
                            device=op.device, output_types=[(t.dtype, t._dims) for t in op.outputs])
        for tensor, written in zip(op.outputs, outputs):
            self._tensors[tensor] = written

    def _tf_attrs(self, op_def, op) -> dict:
        """`op`'s attributes under TF's names, those TF's op has (graphc-only ones dropped)."""
        known = SIGNATURES.get(op_def.tf_type, ((), (), None))[2]
        result = {}
        for name, value in op.attrs.items():
            tf_name = op_def.tf_attr_names.get(name, name)
            if known is None or (tf_name in known and name not in op_def.tf_attr_inputs):
                result[tf_name] = value
        return result

    # -- NodeDefs ----------------------------------------------------------------------------------

    def node(self, tf_type: str, inputs, name: str, attrs=None, controls=(), device="", output_types=None) -> list:
        """Adds a NodeDef of TF type `tf_type` on `inputs` (TfTensors); returns its outputs as TfTensors.

        TF's type attributes are filled in from the inputs' dtypes (and the
        attributes given); `output_types` (dtype, dims) of graphc's op give
        `_output_shapes` and, for an op TF lacks, the dtypes.
        """
        attrs = dict(attrs or {})
        node = self.graph_def.node.add(name=name, op=tf_type, device=device)
        node.input.extend([t.ref for t in inputs] + list(controls))
        signature = SIGNATURES.get(tf_type)
        if signature is not None:
            attrs.update(_type_attrs(signature[0], [t.dtype for t in inputs]))
            for argument, (dtype, _) in zip(signature[1], output_types or ()):  # Const's dtype: its output's
                if _dtype_named(argument) is None and "*" not in argument:
                    attrs.setdefault(argument.strip("[]"), dtype)
            for argument in signature[1]:  # an output type attr with a default (TopKV2's index_type: int32)
                default = signature[2].get(argument)
                if argument not in attrs and isinstance(default, str) and _dtype_named(default) is not None:
                    attrs[argument] = _dtype_named(default)
        for attr_name, value in sorted(attrs.items()):
            attr = self._attr_value(attr_name, value)
            if attr is not None:
                node.attr[attr_name].CopyFrom(attr)
        if output_types is None:
            dtypes_out = _output_dtypes(signature[1], attrs)
        else:
            dtypes_out = [dtype for dtype, _ in output_types]
            if output_types and (signature is None or len(signature[1]) == len(output_types)):
                node.attr["_output_shapes"].list.shape.extend(self._shape(dims) for _, dims in output_types)
            if signature is not None and len(signature[1]) > len(dtypes_out):  # outputs graphc makes ops of
                dtypes_out += _output_dtypes(signature[1], attrs)[len(dtypes_out):]
        return [TfTensor(f"{name}:{i}", dtype) for i, dtype in enumerate(dtypes_out)]

    def constant(self, value, name: str) -> TfTensor:
        """A Const node holding the array `value`."""
        array = np.asarray(value)
        dtype = dtypes.string if array.dtype.kind in "OSU" else dtypes.as_dtype(array.dtype)
        return self.node("Const", [], name=name, attrs={"value": array, "dtype": dtype})[0]

    def _shape(self, dims):
        shape = self.modules.tensor_shape_pb2.TensorShapeProto()
        if dims is None:
            shape.unknown_rank = True
        else:
            shape.dim.extend(self.modules.tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else d)
                             for d in dims)
        return shape

    def _attr_value(self, name: str, value):
        """Attribute `name` = `value` as an AttrValue, or None when it has no protobuf form."""
        attr = self.modules.attr_value_pb2.AttrValue()
        if name == "shape":  # placeholders' and variables' static shapes (None: unknown rank)
            attr.shape.CopyFrom(self._shape(value))
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
            if self.summarize_constants and value.size > MAX_CONSTANT_ELEMENTS:
                return None
            attr.tensor.CopyFrom(self.modules.tensor_util.make_tensor_proto(np.asarray(value, order="C")))  # not ascontiguousarray: 0-d stays 0-d
        elif isinstance(value, tuple) and all(isinstance(v, (int, np.integer)) for v in value):
            attr.list.i.extend(int(v) for v in value)
        elif isinstance(value, list) and all(isinstance(v, dtypes.DType) for v in value):
            attr.list.type.extend(v.as_datatype_enum for v in value)
        else:
            return None
        return attr


def reads_before_writes(operations) -> dict:
    """Write op -> the ops reading its variable's snapshot that TF must run first, as graphc does.

    A read comes first when it does not depend on the write and a run can
    need both (they share a descendant: the train op needs the gradient that
    reads the weights and the update that writes them). Reads an initializer
    never runs with (the forward pass) are left alone, so that running the
    initializer alone still needs no feeds.
    """
    consumers: dict = {}
    for op in operations:
        for source in [t.op for t in op.inputs] + list(op.control_inputs):
            consumers.setdefault(source, []).append(op)
    descendants_memo: dict = {}

    def descendants(start) -> set:
        if start not in descendants_memo:
            seen, stack = set(), [start]
            while stack:
                for consumer in consumers.get(stack.pop(), ()):
                    if consumer not in seen:
                        seen.add(consumer)
                        stack.append(consumer)
            descendants_memo[start] = seen
        return descendants_memo[start]

    readers: dict = {}  # variable op -> ops consuming one of its snapshots
    for op in operations:
        if op.op_def.role is Role.FORWARD and op.inputs and op.inputs[0].op.op_def.role is Role.VARIABLE:
            readers.setdefault(op.inputs[0].op, []).extend(consumers.get(op, ()))
    result = {}
    for op in operations:
        if op.op_def.role is not Role.ASSIGN or not op.inputs:
            continue
        after = descendants(op)
        first = [reader for index in op.op_def.written_inputs for reader in readers.get(op.inputs[index].op, ())
                 if reader is not op and reader not in after and descendants(reader) & after]
        if first:
            result[op] = first
    return result


class _Expansion:
    """What an OpDef's `tf_expansion` writes TF nodes through, each named in the graphc op's scope."""

    def __init__(self, writer: NodeWriter, scope: str):
        self._writer, self._scope, self._names = writer, scope, set()

    def node(self, tf_type: str, inputs, **attrs) -> list:
        """A node of TF type `tf_type` on `inputs`: its outputs."""
        return self._writer.node(tf_type, inputs, name=self._unique(tf_type), attrs=attrs)

    def constant(self, value) -> TfTensor:
        """A Const node holding the array `value`."""
        return self._writer.constant(value, self._unique("Const"))

    def _unique(self, name: str) -> str:
        candidate, number = name, 0
        while candidate in self._names:
            number += 1
            candidate = f"{name}_{number}"
        self._names.add(candidate)
        return self._scope + candidate


def _producer_of(op_def):
    """The registry op one of whose extra TF outputs `op_def` is (None if none)."""
    for candidate in registry.all_ops():
        if op_def.name in candidate.tf_extra_outputs:
            return candidate
    return None


def _counts(arguments, n_values: int) -> list:
    """How many values each of TF's `arguments` takes when `n_values` are given (one list argument at most)."""
    variadic = [i for i, a in enumerate(arguments) if "*" in a or a.startswith("[")]
    counts = [1] * len(arguments)
    if variadic:
        counts[variadic[0]] = n_values - (len(arguments) - 1)
    return counts


def _type_attrs(arguments, value_dtypes) -> dict:
    """TF's type and number attributes bound by input `arguments` given values of `value_dtypes`."""
    attrs, position = {}, 0
    for argument, count in zip(arguments, _counts(arguments, len(value_dtypes))):
        taken = value_dtypes[position:position + count]
        position += count
        if argument.startswith("["):
            attrs[argument[1:-1]] = list(taken)
        elif "*" in argument:
            number, type_attr = argument.split("*")
            attrs[number] = count
            if _dtype_named(type_attr) is None and taken:
                attrs[type_attr] = taken[0]
        elif _dtype_named(argument) is None and taken:
            attrs[argument] = taken[0]
    return attrs


def _dtype_named(name: str):
    """The dtype a signature's argument fixes ("int32"), or None for a type attr ("T")."""
    try:
        return dtypes.as_dtype(name)
    except (TypeError, ValueError):
        return None


def _output_dtypes(arguments, attrs: dict) -> list:
    """The dtypes of TF's outputs `arguments` given the node's attributes (list outputs not supported)."""
    result = []
    for argument in arguments:
        fixed = _dtype_named(argument)
        result.append(fixed if fixed is not None else attrs.get(argument))
    return result
