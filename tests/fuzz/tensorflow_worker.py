"""The TensorFlow side of the TensorFlow oracle: a long-lived child process that builds and runs fuzz graphs.

    python -m tests.fuzz.tensorflow_worker      (started by tests/fuzz/tensorflow_oracle.py)

It reads requests from stdin and writes answers to stdout, each a pickle after
its 8-byte length. A request is a graph description (tests/fuzz/graph_description.py)
and the feeds of each run; the answer holds, per run, the fetched values or the
exception TF raised, and the variables after the run. It imports TensorFlow
(tensorflow.compat.v1, v2 behaviour off) and never graphc: TF's LLVM and
llvmlite's must not share a process.

TF1 reads variables through references that share the variable's buffer, and
leaves a read and a write of one variable in one run unordered. graphc orders
them (lowering: an op reading a variable runs before the writes it does not
depend on; a fetched reference is copied out after the run), and the worker
makes TF follow that order: each read is a Snapshot that every assignment of
its variable waits for, an op that depends on an assignment of the variable it
reads gets a Snapshot taken after that assignment instead, and a fetched read
is answered with the variable after the run.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import traceback

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TF's own kernels, not its oneDNN rewrites (on by default on AVX-512 CPUs), which answer some graphs
# differently (tests/tf_oracle.py).
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

# The variable inputs each assignment writes: an optimizer's fused update writes its slots too.
_WRITTEN_INPUTS = {"Assign": (0,), "AssignAdd": (0,), "AssignSub": (0,), "ApplyGradientDescent": (0,),
                   "ApplyMomentum": (0, 1), "ApplyAdagrad": (0, 1), "ApplyRMSProp": (0, 1, 2), "ApplyAdam": (0, 1, 2)}


class _Builder:
    """Builds one described graph in TensorFlow's default graph."""

    def __init__(self, tf, description: dict):
        self.tf = tf
        self.description = description
        self.tensors: dict = {}       # (op name, output index) -> TF tensor
        self.variables: dict = {}     # op name -> tf.Variable
        self.reads: dict = {}         # variable op name -> the Snapshots that read it before its write
        self.fetched_reads: dict = {}  # read op name -> its variable's op name
        self.read_of: dict = {}       # graphc's read op name -> its variable's op name
        self.writes: dict = {}        # op name -> {variable op name: the assignment of it the op depends on}
        self.after: dict = {}         # variable op name -> a Snapshot of it after its assignment

    def build(self):
        for node in self.description["nodes"]:
            self.writes[node["name"]] = self._writes_before(node)
            outputs = self._build_node(node)
            for index, tensor in enumerate(outputs):
                self.tensors[(node["name"], index)] = tensor

    def _writes_before(self, node: dict) -> dict:
        """The assignments `node` depends on, by variable (one assignment per variable in a fuzz graph)."""
        writes = {}
        for name in [r[0] for r in node["inputs"]] + node["control_inputs"]:
            writes.update(self.writes.get(name, {}))
        return writes

    def _input(self, reference, consumer: dict):
        """The input's tensor; a read of a variable that `consumer` depends on an assignment of reads it
        after that assignment (graphc: an op sees exactly the writes it depends on)."""
        variable = self.read_of.get(reference[0])
        written = self.writes[consumer["name"]].get(variable)
        if written is None:
            return self.tensors[tuple(reference)]
        if variable not in self.after:
            with self.tf.control_dependencies([written]):
                self.after[variable] = self.tf.raw_ops.Snapshot(input=self.variables[variable]._ref())
        return self.after[variable]

    def _build_node(self, node: dict) -> list:
        tf, kind, name = self.tf, node["type"], node["name"]
        dtype_attrs = {k: tf.as_dtype(v) for k, v in node["dtype_attrs"].items()}
        if kind == "Placeholder":
            return [tf.placeholder(dtype_attrs["dtype"], node["attrs"]["shape"], name=name)]
        if kind == "Const":
            return [tf.constant(node["attrs"]["value"], name=name)]
        if kind == "VariableV2":
            variable = tf.Variable(self.description["variables"][name], name=name, use_resource=False)
            self.variables[name] = variable
            self.reads[name] = []
            return [variable._ref()]  # its reference tensor, as graphc's VariableV2 output
        inputs = [self._input(r, node) for r in node["inputs"]]
        source = node["inputs"][0][0] if node["inputs"] else None
        if kind == "Identity" and source in self.variables:  # v.value(): a read, before the writes
            read = tf.raw_ops.Snapshot(input=inputs[0], name=name)
            self.reads[source].append(read)
            self.read_of[name] = source
            self.fetched_reads[read.op.name] = source  # TF may have renamed it: tf.Variable makes its own read
            return [read]
        # an identity (or stop_gradient) of a read shares the variable's buffer, in TF too (both forward it)
        if kind in ("Identity", "StopGradient") and source in self.read_of:
            variable = self.read_of[name] = self.read_of[source]
            outputs = self._raw_op(kind, inputs, node, dtype_attrs)
            self.fetched_reads[outputs[0].op.name] = variable
            return outputs
        if kind in _WRITTEN_INPUTS:
            written = [node["inputs"][index][0] for index in _WRITTEN_INPUTS[kind]]
            waits = [r.op for variable in written for r in self.reads[variable]]
            with tf.control_dependencies(waits):
                outputs = self._raw_op(kind, inputs, node, dtype_attrs)
            self.writes[name] = {**self.writes[name], **{variable: outputs[0].op for variable in written}}
            return outputs
        if kind == "SparseSoftmaxCrossEntropyWithLogits":  # TF's op has the gradient as a second output
            return [tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(features=inputs[0], labels=inputs[1])[0]]
        if kind == "SparseSoftmaxCrossEntropyWithLogitsGrad":  # graphc's own op: TF's second output
            return [tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(features=inputs[0], labels=inputs[1])[1]]
        if kind == "TopKV2Indices":  # graphc's own op: TopKV2's second output
            return [tf.raw_ops.TopKV2(input=inputs[0], k=inputs[1], sorted=node["attrs"]["sorted"])[1]]
        return self._raw_op(kind, inputs, node, dtype_attrs)

    def _raw_op(self, kind: str, inputs: list, node: dict, dtype_attrs: dict) -> list:
        """The TF op `kind` through TF's op-definition library (what tf.raw_ops call), inputs matched to its
        OpDef's input arguments in TF's order."""
        from tensorflow.python.framework import op_def_library, op_def_registry

        op_def = op_def_registry.get(kind)
        arguments, position = {}, 0
        for i, arg in enumerate(op_def.input_arg):
            if arg.number_attr or arg.type_list_attr:  # a list input takes what the later inputs leave
                count = len(inputs) - position - (len(op_def.input_arg) - i - 1)
                arguments[arg.name] = inputs[position:position + count]
                position += count
            else:
                arguments[arg.name] = inputs[position]
                position += 1
        known = {a.name for a in op_def.attr}
        arguments.update(_defaults(op_def))
        for name, value in {**node["attrs"], **dtype_attrs}.items():  # TF's names (graph_description.py)
            if name in known:
                arguments[name] = list(value) if isinstance(value, tuple) else value
        # What every tf.raw_ops wrapper calls, with the OpDef's own argument names (the wrappers rename some).
        _, _, op, _ = op_def_library._apply_op_helper(kind, name=node["name"], **arguments)
        return list(op.outputs)


def _defaults(op_def) -> dict:
    """The OpDef's default attribute values, except types (TF infers those from the inputs)."""
    defaults = {}
    for attr in op_def.attr:
        field = attr.default_value.WhichOneof("value") if attr.HasField("default_value") else None
        if field in ("b", "i", "f"):
            defaults[attr.name] = getattr(attr.default_value, field)
        elif field == "s":
            defaults[attr.name] = attr.default_value.s.decode()
        elif field == "list" and attr.type in ("list(int)", "list(float)", "list(string)"):
            items = attr.default_value.list
            defaults[attr.name] = list(items.i) or list(items.f) or [s.decode() for s in items.s]
    return defaults


def _answer(tf, request: dict) -> dict:
    """Runs one described graph for every feed set in one session (variables carry over)."""
    description = request["graph"]
    graph = tf.Graph()
    with graph.as_default():
        builder = _Builder(tf, description)
        builder.build()
        if description["loss"] is None:
            fetches = [builder.tensors[tuple(r)] for r in description["fetches"]]
        else:
            loss = builder.tensors[tuple(description["loss"])]
            # gather's gradients are IndexedSlices in TF: dense, as graphc's are
            fetches = [loss] + [g if g is None else tf.convert_to_tensor(g) for g in
                                tf.gradients(loss, [builder.tensors[(name, 0)] for name in description["wrt"]])]
        initializer = tf.variables_initializer(list(builder.variables.values()))
    config = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    # Grappler rewrites graphs (log(softmax(x)) into log_softmax(x), which is -5e37 where graphc's log of the
    # softmax is -inf): the oracle is TF's ops, each as written (tensorflow_differences.GRAPPLER).
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    runs = []
    with tf.Session(graph=graph, config=config) as session:
        session.run(initializer)
        for feeds in request["runs"]:
            feed_dict = {builder.tensors[(name, 0)]: value for name, value in feeds.items()
                         if (name, 0) in builder.tensors}
            runnable = [f for f in fetches if f is not None]
            try:
                values = iter(session.run(runnable, feed_dict))
            except tf.errors.OpError as error:
                runs.append({"error": (type(error).__name__, error.message)})
                if description["state"]:
                    break  # tensorflow_differences.STATE_AFTER_A_FAILED_RUN
                continue
            variables = {name: v for name, v in zip(builder.variables, session.run(list(builder.variables.values())))}
            answer = []
            for index, fetch in enumerate(fetches):
                if fetch is None:  # tf.gradients: no path from the loss to this placeholder, a zero gradient
                    answer.append(np.zeros_like(feeds[description["wrt"][index - 1]]))
                    continue
                value = next(values)
                read = builder.fetched_reads.get(fetch.op.name)
                answer.append(variables[read] if read is not None else value)
            runs.append({"values": answer, "variables": variables})
    return {"runs": runs}


def _read_message(stream):
    header = stream.read(8)
    if len(header) < 8:
        return None
    (length,) = struct.unpack("<Q", header)
    return pickle.loads(stream.read(length))


def _write_message(stream, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def main() -> None:
    """Serves requests until stdin closes; TF's own printing goes to stderr, never into the answers."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    import tensorflow.compat.v1 as tf  # only after stdout is redirected: TF may print while loading

    tf.disable_v2_behavior()
    _write_message(answers, {"ready": tf.__version__})
    while (request := _read_message(requests)) is not None:
        try:
            answer = _answer(tf, request)
        except Exception:  # a graph TF would not build: the oracle reports it as a difference
            answer = {"refused": traceback.format_exc(limit=-3)}
        _write_message(answers, answer)


if __name__ == "__main__":
    main()
