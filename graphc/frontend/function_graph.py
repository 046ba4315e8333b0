"""FunctionGraph: the graph of a function a control-flow op runs (a while_loop's cond and body, a cond's branch).

A control-flow op (`While`, `If`: ops/control_flow_ops.py) holds its functions as
attributes, each a graph of its own, as TF2's functional control flow does (TF1's
Enter/Switch/Merge/Exit frames are one flat graph; graphc's IR wants the body as a
block, and a graph per function is that block already). The function's inputs are
`_Arg` ops; a tensor of an enclosing graph used inside is *captured*: it becomes an
argument too, and the control-flow op takes the outer tensor as an input. A
function inside a function captures through every level between, so each level's op
takes its inputs from the graph just outside it.

Variables, collections and variable scopes belong to the outermost graph: a
`tf.get_variable` in a loop body (an RNN cell's first call) creates the variable
there once, and the body captures its value, as TF1 lifts variable creation out of
control-flow contexts.
"""

from __future__ import annotations

from typing import Optional

from graphc.core import registry
from graphc.core.registry import NOT_DIFFERENTIABLE, OpDef, Role, TensorType
from graphc.frontend.graph import Graph, Operation, Tensor, get_default_graph

function_argument_p = registry.register(OpDef(
    name="function_argument", tf_type="_Arg", role=Role.PLACEHOLDER, gradient=NOT_DIFFERENTIABLE,
    infer=lambda types, attrs: TensorType(attrs["dtype"], attrs["shape"])))


class FunctionGraph(Graph):
    """A function's graph: `inputs` (its `_Arg` tensors), `captures` ((outer tensor, argument) pairs),
    `outputs` (set by the control-flow op that builds it)."""

    def __init__(self, name: str, outer: Graph):
        super().__init__()
        self.name = name
        self.outer_graph = outer
        self.seed = outer.seed
        self.inputs: list = []
        self.captures: list = []
        self.outputs: list = []
        self._captured: dict = {}
        self._sources: dict = {}  # id(argument) -> the outer tensor it captures
        root = outermost_graph(outer)
        # The variable scopes, variables and collections are the outermost graph's (module docstring).
        self._collections = root._collections
        self._variable_store = root._variable_store
        self._variable_scope_counts = root._variable_scope_counts
        self._variable_scope = outer._variable_scope
        self._name_stack = outer.get_name_scope()

    def argument(self, dtype, dims, name: str = "arg") -> Tensor:
        """A new input of the function."""
        op = Graph.create_op(self, function_argument_p, [], {"dtype": dtype, "shape": dims}, name=name)
        self.inputs.append(op.outputs[0])
        return op.outputs[0]

    def capture(self, tensor: Tensor) -> Tensor:
        """`tensor` as this function sees it: itself if it is the function's, else the argument that
        captures it (through the functions between, if it is from further out)."""
        if tensor.graph is self:
            return tensor
        if id(tensor) in self._captured:
            return self._captured[id(tensor)]
        if tensor.graph is self.outer_graph:
            source = tensor
        elif isinstance(self.outer_graph, FunctionGraph) and self.outer_graph.can_capture(tensor):
            source = self.outer_graph.capture(tensor)
        else:
            raise ValueError(f"Tensor {tensor} must be from the same graph as the function {self.name} "
                             "or from a graph enclosing it.")
        argument = self.argument(tensor.dtype, tensor._dims, name="capture")
        self.captures.append((source, argument))
        self._captured[id(tensor)] = argument
        self._sources[id(argument)] = source
        return argument

    def can_capture(self, element) -> bool:
        """Whether `capture` has a value for `element`: it is of this function or of a graph enclosing it (a
        gradient loop's body also sees its forward loop's body: ops/control_flow_ops.py)."""
        return element.graph is self or self.outer_graph.can_capture(element)

    def captured_tensor(self, argument: Tensor):
        """The outer tensor an argument captures (None for a loop variable): static values see through it."""
        return self._sources.get(id(argument))

    def create_op(self, op_def: OpDef, inputs, attrs=None, name=None):
        return super().create_op(op_def, [self.capture(t) if isinstance(t, Tensor) else t for t in inputs],
                                 attrs, name)

    def as_graph_element(self, obj, allow_tensor: bool = True, allow_operation: bool = True):
        element = obj._as_graph_element() if hasattr(obj, "_as_graph_element") else None
        if isinstance(element, Tensor) and allow_tensor and element.graph is not self:
            return self.capture(element)
        return super().as_graph_element(obj, allow_tensor, allow_operation)


def outermost_graph(graph: Graph) -> Graph:
    """The graph that is no function's: where variables live."""
    while isinstance(graph, FunctionGraph):
        graph = graph.outer_graph
    return graph


def replay(function: FunctionGraph, arguments: list, after: Optional[list] = None) -> list:
    """The outputs of `function` computed again in the default graph from `arguments` in place of its first
    inputs (the tensors it captures beyond those stand for themselves), with its ops' names, scopes and
    control dependencies: an expanded loop's copies, and the forward pass a cond's gradient differentiates.
    `after`: ops every copied op not fed by another copied op runs after (the previous iteration's results:
    an iteration's reads and writes of variables follow the ones before, as TF1's loop frame orders them)."""
    mapped = {id(a): source for source, a in function.captures}
    mapped.update((id(a), t) for a, t in zip(function.inputs, arguments))
    copied: dict = {}  # id(function op) -> its copy
    target = get_default_graph()
    prefix = function._name_stack + "/" if function._name_stack else ""
    for op in function.get_operations():
        if op.op_def is function_argument_p:
            continue
        inputs = [mapped[id(t)] for t in op.inputs]
        controls = [_control(c, mapped, copied) for c in op.control_inputs]
        if after and not any(id(t.op) in copied for t in op.inputs):
            controls += after
        name = op.name[len(prefix):] if op.name.startswith(prefix) else op.name
        with target.control_dependencies([c for c in controls if c is not None]):
            copy = target.create_op(op.op_def, inputs, dict(op.attrs), name=name)
        copied[id(op)] = copy
        mapped.update((id(t), c) for t, c in zip(op.outputs, copy.outputs))
    return [mapped[id(t)] for t in function.outputs]


def _control(op: Operation, mapped: dict, copied: dict) -> Optional[Operation]:
    if op.op_def is function_argument_p:
        return mapped[id(op.outputs[0])].op
    return copied.get(id(op))
