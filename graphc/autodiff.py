"""Reverse-mode differentiation over the Graph, as TF1's `tf.gradients` does it.

Gradients are graph: each op's registered gradient rule builds the ops that
compute its input gradients from its output gradients, under the name scope
`gradients/<op name>_grad`. Contributions to one tensor are summed with AddN.
Tensors of integer or bool dtype carry no gradient; unconnected `xs` get None.

Called inside a control-flow function (a while_loop body, a cond branch), the
gradient crosses the function's captures as TF's `_MaybeCaptured` does: an
argument capturing an outer tensor stands for that tensor, so `xs` may be outer
variables or tensors the function reads (`minimize` inside a loop body), and the
gradient ops are built in the function, where `ys` are.
"""

from __future__ import annotations

from graphc.core.registry import NO_GRADIENT_DEFINED, NOT_DIFFERENTIABLE
from graphc.frontend.function_graph import FunctionGraph
from graphc.frontend.graph import Tensor, convert_to_tensor, graph_of, name_scope, walk_ops
from graphc.ops import array_ops, control_flow_ops, math_ops


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _as_tensor(x) -> Tensor:
    """Variables stand for their reference tensor (`v:0`), as in TF1."""
    ref = getattr(x, "_ref", None)
    return ref() if callable(ref) else convert_to_tensor(x)


def _carries_gradient(t: Tensor) -> bool:
    return t.dtype.is_floating


def gradients(ys, xs, grad_ys=None, name="gradients", colocate_gradients_with_ops=False,
              gate_gradients=False, aggregation_method=None, stop_gradients=None,
              unconnected_gradients="none"):
    """`tf.gradients`: d(sum of ys) / d(x) for each x in xs; None where not connected."""
    ys = [_as_tensor(y) for y in _as_list(ys)]
    xs = [_as_tensor(x) for x in _as_list(xs)]
    stops = {id(_as_tensor(s)) for s in _as_list(stop_gradients)} if stop_gradients is not None else set()
    if grad_ys is not None:
        grad_ys = _as_list(grad_ys)
        if len(grad_ys) != len(ys):
            raise ValueError(f"Passed {len(grad_ys)} grad_ys for {len(ys)} ys")
    return _gradients_in(graph_of(ys + xs), ys, xs, grad_ys, name, stops, unconnected_gradients)


def _gradients_in(graph, ys: list, xs: list, grad_ys, name, stops: set, unconnected_gradients: str) -> list:
    """`gradients`, its ops made in `graph` (a gradient loop's body differentiates its forward loop's)."""
    with graph.as_default(), name_scope(name, "gradients", ys + xs):
        grads: dict[int, list] = {}
        for i, y in enumerate(ys):
            if grad_ys is not None and grad_ys[i] is not None:
                g = convert_to_tensor(grad_ys[i], dtype=y.dtype)
            else:
                g = array_ops.ones_like(y, name=f"grad_ys_{i}")
            grads.setdefault(id(y), []).append(g)
        between, depends_on_x = _ops_between(xs, ys, stops)
        for op, inputs in between:
            out_grads = [_aggregate(grads.get(id(t))) for t in op.outputs]
            if all(g is None for g in out_grads):
                continue
            rule = op.op_def.gradient
            if rule is NOT_DIFFERENTIABLE:
                continue
            if rule is None or rule is NO_GRADIENT_DEFINED:
                raise LookupError(f"No gradient defined for operation '{op.name}' (op type: {op.type})")
            with name_scope(op.name + "_grad"):
                out_grads = [g if g is not None else array_ops.zeros_like(t) for g, t in zip(out_grads, op.outputs)]
                # Inputs no x reaches need no gradient: a rule may skip them (a loop's gradient does).
                op.skip_input_indices = frozenset(
                    k for k, t in enumerate(inputs) if id(t) not in depends_on_x or id(t) in stops)
                try:
                    in_grads = rule(op, *out_grads)
                finally:
                    op.skip_input_indices = frozenset()
            if len(in_grads) != len(op.inputs):
                raise ValueError(f"Gradient rule of {op.type} returned {len(in_grads)} gradients for "
                                 f"{len(op.inputs)} inputs")
            for t, g in zip(inputs, in_grads):
                if g is not None and _carries_gradient(t) and id(t) not in stops:
                    grads.setdefault(id(t), []).append(g)
        result = []
        for x in xs:
            g = _aggregate(grads.get(id(x)))
            if g is None and unconnected_gradients == "zero":
                g = array_ops.zeros_like(x)
            result.append(g)
        return result


def _aggregate(contributions):
    if not contributions:
        return None
    if len(contributions) == 1:
        return contributions[0]
    return math_ops.add_n(contributions)


def _ops_between(xs, ys, stops):
    """Ops on a path from some x to some y, latest first, each with its inputs as `_inputs` sees them, and
    the ids of the tensors that depend on some x."""
    ends = {id(x) for x in xs} | stops
    inputs_of = {}

    def inputs(op):
        if op not in inputs_of:
            inputs_of[op] = _inputs(op, ends)
        return inputs_of[op]

    ancestors = walk_ops([y.op for y in ys], lambda op: [t.op for t in inputs(op) if id(t) not in ends])
    depends_on_x: set[int] = {id(x) for x in xs}
    between = []
    for op in sorted(ancestors, key=_creation_order):
        if any(id(t) in depends_on_x and id(t) not in stops for t in inputs(op)):
            between.append((op, inputs_of[op]))
            depends_on_x.update(id(t) for t in op.outputs)
    return reversed(between), depends_on_x


def _inputs(op, ends: set) -> list:
    """op's inputs, each argument of a function that captures an outer tensor replaced by that tensor
    (through every function between), unless it is an x or a stop itself: the gradient of a captured
    tensor flows out of the function to the tensor captured (TF's `_MaybeCaptured`)."""
    result = []
    for t in op.inputs:
        while id(t) not in ends and isinstance(t.graph, FunctionGraph):
            source = t.graph.captured_tensor(t)
            if source is None:
                break
            t = source
        result.append(t)
    return result


def _creation_order(op) -> tuple:
    """A topological order of ops across a function and the graphs enclosing it: a function captures only
    tensors that exist already, so an enclosing graph's ops come first, each graph's in creation order."""
    depth, graph = 0, op.graph
    while isinstance(graph, FunctionGraph):
        depth, graph = depth + 1, graph.outer_graph
    return depth, op._id


def _differentiate_into(graph, ys: list, xs: list, grad_ys: list) -> list:
    """d(ys)/d(xs) weighted by grad_ys, built in `graph`: a While's gradient body differentiating the
    forward body in place, its reads of forward values resolved by the body's captures."""
    return _gradients_in(graph, [_as_tensor(y) for y in ys], [_as_tensor(x) for x in xs], grad_ys, "gradients",
                         set(), "none")


# The gradients of While and If differentiate their functions with tf.gradients itself.
control_flow_ops.set_differentiator(gradients, _differentiate_into)
