"""Control flow: `tf.while_loop`, `tf.cond`, `tf.case`, and the ops they build.

Functional control flow, as TF2 builds it (TF1's Enter/Switch/Merge/Exit frames
give the same values): a `While` op holds its cond and body, an `If` op its two
branches, each a FunctionGraph (frontend/function_graph.py) whose arguments are
the loop variables and the tensors it captures. Lowering turns each into one
structured IR instruction (`while`, `cond`) whose regions are the functions'
instructions (ir/program.py); the backend makes a native loop and a branch of them.

`While` carries a counter as its first loop variable: `maximum_iterations` bounds
it, and its final value is the trip count the gradient's loop runs. With
`back_prop` and a `maximum_iterations` known when the graph is built, the op also
outputs each loop variable's value at the start of every iteration, as rows of a
[maximum_iterations, ...] buffer (TF1 pushes them on stacks; here the compiled
loop copies them into the buffer's next row). The gradient loop runs the trip
count down and differentiates the forward body itself (`_LoopGradientBody`):
each body value the gradient reads is that iteration's, a loop variable's row,
or a row the forward loop *stashes* (the body yields the value after its loop
variables and the loop copies it into a [maximum_iterations, ...] output), or,
for values that do not change across iterations or whose shape only is read,
computed again. So the body is not computed twice. Lowering drops the buffers
of a step that has no gradient (DCE). Without a maximum_iterations known when
the graph is built there are no buffers: the gradient loop computes iteration
t's values again from the loop's first values (O(trip count²) body runs).

A loop whose loop variables change shape (`shape_invariants`) is no `While`: when its
trip count is fixed by constants, `tf.while_loop` expands it into copies of its body
(ops/loop_expansion.py).

`If`'s gradient is an `If` on the same predicate whose branches differentiate the
forward branches: the gradient flows through the branch taken only.

Where the functions assign variables, no gradient runs them again (that would repeat
the writes and read later values): a loop's gradient takes every value from rows,
which needs a bound known when the graph is built (a constant maximum_iterations, or
a trip count constants fix: `loop_expansion.trip_count`), and a cond's gradient reads
the values its forward branch computed, outputs the `If` gives for them
(`_intermediate`). A bare reference to a variable they write is read where it is used
and has no value to keep: a gradient that needs one is refused.
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.core import dtypes, registry
from graphc.core.registry import NOT_DIFFERENTIABLE, Effects, FusionClass, OpDef, Role, ShapeError, TensorType
from graphc.core.tensor_shape import TensorShape, as_dims, format_dims, merge_dims
from graphc.frontend import nest
from graphc.frontend.function_graph import FunctionGraph, function_argument_p, replay
from graphc.frontend.graph import (Operation, Tensor, apply_op, control_dependencies, convert_to_tensor,
                                   get_default_graph, name_scope)
from graphc.frontend.static_value import static_value
from graphc.ops import array_ops, check_ops, layout_ops, loop_expansion, math_ops

# -- the IR's structured instructions and their parameters ------------------------------------------


def _structured_infer(types, attrs):
    return attrs["output_types"]


# A region's parameter: the value of an operand of its structured instruction (ir/program.py).
param_p = registry.register(OpDef(name="param", tf_type=None, infer=lambda types, attrs: None))


def _while_infer(types, attrs):
    carried = attrs["carried"]
    invariants = attrs.get("shape_invariants") or (None,) * carried
    outputs = []
    for t, invariant in zip(types[:carried], invariants):
        outputs.append(TensorType(t.dtype, t.dims if invariant is None else invariant))
    rows = attrs.get("rows")
    for index in attrs.get("saved", ()):
        t = outputs[index]
        outputs.append(TensorType(t.dtype, None if t.dims is None else (rows,) + tuple(t.dims)))
    for t in attrs["body"].outputs[carried:]:  # the values the gradient stashes (_stash)
        outputs.append(TensorType(t.dtype, None if t._dims is None else (rows,) + tuple(t._dims)))
    return outputs


while_p = registry.register(OpDef(
    name="while", tf_type="While", role=Role.CONTROL_FLOW, infer=_while_infer, default_name="while"))
if_p = registry.register(OpDef(
    name="cond", tf_type="If", role=Role.CONTROL_FLOW, infer=_structured_infer, default_name="cond"))

# -- reading and writing a row by a run-time index -----------------------------------------------------


def _row_read_infer(types, attrs):
    x, index = types
    if index.dtype not in (dtypes.int32, dtypes.int64):
        raise registry.DTypeError(f"row index must be int32 or int64, got {index.dtype.name}")
    if x.dims is not None and len(x.dims) == 0:
        raise ShapeError("Index out of range using input dim 0; input has only 0 dims")
    return TensorType(x.dtype, None if x.dims is None else tuple(x.dims[1:]))


def _check_row(index, rows):
    if not 0 <= int(index) < rows:
        raise errors.InvalidArgumentError(None, None, f"index {int(index)} is not in [0, {rows})")


def _row_read_reference(x, index, in_range=False):
    _check_row(index, x.shape[0])
    return x[int(index)]


row_read_p = registry.register(OpDef(
    name="row_read", tf_type="GraphcRowRead", infer=_row_read_infer, reference=_row_read_reference,
    effects=Effects(may_fail=True), row_view=True, default_name="strided_slice"))


def _row_read_grad_infer(types, attrs):
    g, index = types
    return TensorType(g.dtype, None if g.dims is None else (attrs["rows"],) + tuple(g.dims))


def _row_read_grad_reference(g, index, rows):
    _check_row(index, rows)
    out = np.zeros((rows,) + g.shape, dtype=g.dtype)
    out[int(index)] = g
    return out


row_read_grad_p = registry.register(OpDef(
    name="row_read_grad", tf_type="GraphcRowReadGrad", infer=_row_read_grad_infer,
    reference=_row_read_grad_reference, effects=Effects(may_fail=True)))


@registry.set_gradient(row_read_p)
def _row_read_grad(op, g):
    x, index = op.inputs
    rows = x.shape.as_list()[0] if x._dims is not None else None
    if rows is None:
        raise errors.UnimplementedError(None, op, f"graphc differentiates {op.name} (x[i] at a run-time index) "
                                                  "only where x's first dimension is known when the graph is built")
    return [apply_op("row_read_grad", [g, index], {"rows": rows}), None]


@registry.set_gradient(row_read_grad_p)
def _row_read_grad_grad(op, g):
    return [apply_op("row_read", [g, op.inputs[1]]), None]


def _row_write_infer(types, attrs):
    buffer, index, value = types
    if buffer.dtype is not value.dtype:
        raise registry.DTypeError(f"writing {value.dtype.name} into rows of {buffer.dtype.name}")
    if index.dtype not in (dtypes.int32, dtypes.int64):
        raise registry.DTypeError(f"row index must be int32 or int64, got {index.dtype.name}")
    if buffer.dims is not None and value.dims is not None and merge_dims(tuple(buffer.dims[1:]), value.dims) is None:
        raise ShapeError(f"a row of {format_dims(buffer.dims)} cannot hold a value of shape {format_dims(value.dims)}")
    return buffer


def _row_write_reference(buffer, index, value, in_range=False):
    _check_row(index, buffer.shape[0])
    out = np.array(buffer)
    out[int(index)] = value
    return out


row_write_p = registry.register(OpDef(
    name="row_write", tf_type="GraphcRowWrite", infer=_row_write_infer, reference=_row_write_reference,
    effects=Effects(may_fail=True), in_place=0))


@registry.set_gradient(row_write_p)
def _row_write_grad(op, g):
    _, index, value = op.inputs
    # The row is read first: then the write is g's last use and takes g's buffer (in place, no copy of the
    # whole buffer in every iteration of a TensorArray's gradient loop: passes/plan_memory.py). In a loop's
    # gradient, both are in range: the gradient loop runs after the forward loop, whose write at the same
    # index succeeded, into as many rows. Elsewhere nothing orders the forward write first: checked.
    graph = get_default_graph()
    in_range = isinstance(graph, _LoopGradientBody) and op.graph is graph.forward.attrs["body"]
    row = read_row(g, index, in_range=in_range)
    attrs = {"in_range": True} if in_range else None
    return [apply_op("row_write", [g, index, array_ops.zeros_like(value)], attrs), None, row]


def write_row(buffer, index, value, name=None):
    """`buffer` with row `index` (a scalar integer tensor known only when the step runs) set to `value`."""
    return apply_op("row_write", [buffer, index, value], name=name)


def read_row(x, index, name=None, in_range=False):
    """`x[index]` for a scalar integer tensor `index` known only when the step runs. `in_range`: the index
    is in [0, rows) by construction (a gradient loop reading its forward loop's rows), so the read cannot
    fail and, where nothing uses its result, dead-code elimination drops it with the rows it reads."""
    return apply_op("row_read", [x, index], {"in_range": True} if in_range else None, name=name)


# -- building functions ------------------------------------------------------------------------------


def _build_function(name: str, outer, argument_types: list, fn, graph=None) -> FunctionGraph:
    """A FunctionGraph (`graph`, else a new one) with arguments of `argument_types` ((dtype, dims, name)
    each) whose outputs are what fn(*arguments) returns (flat, tensors)."""
    graph = graph if graph is not None else FunctionGraph(name, outer)
    with graph.as_default():
        arguments = [graph.argument(dtype, dims, arg_name) for dtype, dims, arg_name in argument_types]
        graph.outputs = [graph.capture(convert_to_tensor(t)) for t in fn(*arguments)]
    return graph


def _control_flow_op(op_def: OpDef, leading: list, functions: dict, attrs: dict, name: str) -> Operation:
    """The op running `functions` (attr name -> FunctionGraph), with inputs `leading` then every tensor
    the functions capture; attrs `<function>_args` give the op input of each function argument."""
    inputs = list(leading)
    index_of = {}  # a captured tensor -> its input (a loop variable's first value is not its capture)
    attrs = dict(attrs)
    for key, graph in functions.items():
        indices = list(range(len(graph.inputs) - len(graph.captures)))
        for source, _ in graph.captures:
            if id(source) not in index_of:
                index_of[id(source)] = len(inputs)
                inputs.append(source)
            indices.append(index_of[id(source)])
        attrs[key] = graph
        attrs[key + "_args"] = tuple(indices)
    return get_default_graph().create_op(op_def, inputs, attrs, name=name)


# Set by graphc.autodiff when it loads (autodiff is built on the op families, so they cannot import it):
# tf.gradients, which the gradients of While and If apply to their functions, and the same building its
# ops in a given graph (a While's gradient body differentiating the forward body where it is).
_differentiate = None
_differentiate_into = None


def set_differentiator(gradients, gradients_into) -> None:
    """Registers `tf.gradients` and `gradients_into(graph, ys, xs, grad_ys)` for the control-flow
    gradients (called by graphc.autodiff)."""
    global _differentiate, _differentiate_into
    _differentiate, _differentiate_into = gradients, gradients_into


def _assignments_in(functions: list):
    """The ops of `functions` (FunctionGraphs), or of the loops and conds inside them, that write a variable."""
    pending = list(functions)
    while pending:
        for inner in pending.pop().get_operations():
            if inner.op_def.role is Role.ASSIGN or inner.op_def.effects.writes:
                yield inner
            if inner.op_def.role is Role.CONTROL_FLOW:
                pending.extend(_functions(inner))


def _assignment_in(functions: list):
    """The first op of `functions` (at any depth) that writes a variable; else None."""
    return next(_assignments_in(functions), None)


def _variable_of(tensor: Tensor):
    """The variable op `tensor` refers to (through identities and the captures of functions), else None."""
    while True:
        if tensor.op.op_def is function_argument_p:
            tensor = tensor.graph.captured_tensor(tensor)  # None for a loop variable: it holds a value
            if tensor is None:
                return None
        elif tensor.op.op_def.role is Role.FORWARD:
            tensor = tensor.op.inputs[0]
        else:
            return tensor.op if tensor.op.op_def.role is Role.VARIABLE else None


def _written_variables(op: Operation) -> set:
    """id() of each variable op that `op`'s functions write (at any depth)."""
    variables = [_variable_of(inner.inputs[0]) for inner in _assignments_in(_functions(op))]
    return {id(variable) for variable in variables if variable is not None}


def _functions(op: Operation) -> list:
    return [value for value in op.attrs.values() if isinstance(value, FunctionGraph)]


def _grads_or_zeros(grads: list, like: list) -> list:
    return [g if g is not None else array_ops.zeros_like(x) for g, x in zip(grads, like)]


def _is_float(t) -> bool:
    return t.dtype.is_floating


# -- tf.cond and tf.case -----------------------------------------------------------------------------


def cond(pred, true_fn=None, false_fn=None, strict=False, name=None, fn1=None, fn2=None):
    """`tf.cond`: the values `true_fn()` returns if `pred` is true, else `false_fn()`'s; only the branch
    taken runs (an `If` op, compiled to a native branch)."""
    true_fn = true_fn if true_fn is not None else fn1
    false_fn = false_fn if false_fn is not None else fn2
    if not callable(true_fn):
        raise TypeError("true_fn must be callable.")
    if not callable(false_fn):
        raise TypeError("false_fn must be callable.")
    if isinstance(pred, (bool, np.bool_)):
        raise TypeError("pred must not be a Python bool")
    with name_scope(name, "cond", [pred]) as scope:
        pred = convert_to_tensor(pred)
        if pred.dtype is not dtypes.bool_:
            raise TypeError(f"pred must be a bool tensor, got {pred.dtype.name}")
        if pred._dims is not None and len(pred._dims) != 0:
            raise ValueError(f"Shape must be rank 0 but is rank {len(pred._dims)} for '{scope}Switch' (op: "
                             f"'Switch') with input shapes: {format_dims(pred._dims)}.")
        outer = get_default_graph()
        structures = {}

        def branch(key, fn):
            def body():
                result = fn()
                structures[key] = result
                return [convert_to_tensor(t) for t in nest.flatten(result)]
            return _build_function(f"{scope}{key}", outer, [], body)

        then_graph, else_graph = branch("then", true_fn), branch("else", false_fn)
        _check_branches(structures["then"], structures["else"], then_graph, else_graph)
        output_types = [TensorType(a.dtype, _most_specific(a._dims, b._dims))
                        for a, b in zip(then_graph.outputs, else_graph.outputs)]
        op = _control_flow_op(if_p, [pred], {"then": then_graph, "else": else_graph},
                              {"output_types": output_types}, name=scope + "If/" if scope else "If")
    outputs = list(op.outputs)
    if not strict and isinstance(structures["then"], (list, tuple)) and len(outputs) == 1:
        return outputs[0]
    return nest.pack_sequence_as(structures["then"], outputs)


def _most_specific(a, b):
    """The shape both branches' results have in common (TF1's cond output shape)."""
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else None for x, y in zip(a, b))


def _check_branches(then_result, else_result, then_graph, else_graph) -> None:
    try:
        nest.assert_same_structure(then_result, else_result)
    except (ValueError, TypeError) as e:
        raise ValueError(f"true_fn and false_fn must have the same type of output: {e}") from None
    for a, b in zip(then_graph.outputs, else_graph.outputs):
        if a.dtype is not b.dtype:
            raise ValueError(f"Outputs of true_fn and false_fn must have the same type: {a.dtype.name}, "
                             f"{b.dtype.name}")


@registry.set_gradient(if_p)
def _if_grad(op, *grads):
    if _assignment_in(_functions(op)) is not None:
        return _assigning_if_grad(op, grads)
    pred, captured = op.inputs[0], list(op.inputs[1:])
    outer = get_default_graph()  # op's graph, or a loop gradient's body differentiating op's (_LoopGradientBody)
    functions = {}
    for key in ("then", "else"):
        graph, indices = op.attrs[key], op.attrs[key + "_args"]

        def gradient_branch(graph=graph, indices=indices):
            function = get_default_graph()
            arguments = [function.capture(op.inputs[i]) for i in indices]
            outputs = replay(graph, arguments)
            ys = [y for y in outputs if _is_float(y)]
            ys_grads = [g for y, g in zip(outputs, grads) if _is_float(y)]
            xs = [function.capture(x) for x in captured]
            found = _differentiate(ys, xs, grad_ys=ys_grads) if ys else [None] * len(xs)
            return _grads_or_zeros(found, xs)

        functions[key] = _build_function(f"{op.name}_grad/{key}", outer, [], gradient_branch)
    return _gradient_if(pred, functions, captured)


def _gradient_if(pred: Tensor, functions: dict, captured: list) -> list:
    """The gradients of an `If`'s inputs: an `If` on its predicate `pred` of the gradient branches
    `functions`, which give the gradients of the tensors it captures (`captured`) in order."""
    output_types = [TensorType(t.dtype, t._dims) for t in captured]
    grad_op = _control_flow_op(if_p, [pred], functions, {"output_types": output_types}, name="If")
    return [None] + [g if _is_float(t) else None for g, t in zip(grad_op.outputs, captured)]


def _assigning_if_grad(op: Operation, grads) -> list:
    """The gradient of an `If` whose branches assign: an `If` on the same predicate whose branches
    differentiate the forward branches in place (`_BranchGradient`), reading the values the forward branch
    computed, so the branch, and its assignments, do not run again (TF1's cond gradient reads the forward
    branch's tensors)."""
    pred, captured = op.inputs[0], list(op.inputs[1:])
    outer = get_default_graph()
    results = len(op.outputs) - len(op.__dict__.get("_intermediates", {}))  # the branches' own results
    functions = {}
    for key in ("then", "else"):
        graph, indices = op.attrs[key], op.attrs[key + "_args"]

        def gradient_branch(graph=graph, indices=indices):
            function = get_default_graph()
            arguments = {index: argument for argument, index in zip(graph.inputs, indices)}
            floats = [j for j in range(results) if _is_float(op.outputs[j])]
            ys = [graph.outputs[j] for j in floats]
            ys_grads = [function.capture(grads[j] if grads[j] is not None else array_ops.zeros_like(op.outputs[j]))
                        for j in floats]
            xs = [arguments.get(i) for i in range(1, len(op.inputs))]
            present = [x for x in xs if x is not None]
            found = iter(_differentiate_into(function, ys, present, ys_grads) if ys and present else [])
            found = [next(found) if x is not None else None for x in xs]
            return [g if g is not None else _zeros_of(t, function) for g, t in zip(found, captured)]

        functions[key] = _build_function(f"{op.name}_grad/{key}", outer, [], gradient_branch,
                                         graph=_BranchGradient(f"{op.name}_grad/{key}", outer, op, key))
    return _gradient_if(pred, functions, captured)


def _zeros_of(t: Tensor, function) -> Tensor:
    """Zeros of t's type, in `function`: from t's static shape where known (t may be a variable a loop
    writes, whose value a loop's gradient body cannot read: _LoopGradientBody)."""
    if t._dims is not None and None not in t._dims:
        return array_ops.zeros(t._dims, t.dtype)
    return array_ops.zeros_like(function.capture(t))


class _BranchGradient(FunctionGraph):
    """A branch of the gradient of an `If` whose branches assign. It differentiates the forward branch
    itself; each forward value it reads is the one the forward branch computed: a tensor the branch
    captures, or an output the forward `If` gives for it (`_intermediate`)."""

    def __init__(self, name: str, outer, forward: Operation, key: str):
        super().__init__(name, outer)
        self.forward, self.key, self.branch = forward, key, forward.attrs[key]
        self._written = _written_variables(forward)  # a reference to one of them has no value to keep
        self._values: dict = {}  # id(forward branch tensor) -> its value here

    def can_capture(self, tensor: Tensor) -> bool:
        return tensor.graph is self.branch or super().can_capture(tensor)

    def capture(self, tensor: Tensor) -> Tensor:
        if tensor.graph is not self.branch:
            return super().capture(tensor)
        if id(tensor) not in self._values:
            op = self.forward
            if id(_variable_of(tensor)) in self._written:
                raise _bare_reference_error(op, tensor)
            if tensor.op.op_def is function_argument_p:
                source = op.inputs[op.attrs[self.key + "_args"][self.branch.inputs.index(tensor)]]
            else:
                source = _intermediate(op, self.key, tensor)
            self._values[id(tensor)] = super().capture(source)
        return self._values[id(tensor)]


def _intermediate(op: Operation, key: str, value: Tensor) -> Tensor:
    """The output of the `If` op that gives `value` (a tensor of its `key` branch) when that branch runs:
    the branch yields it after its results, the other branch zeros of its type (TF2's cond_v2 outputs the
    intermediates its gradient reads the same way)."""
    intermediates = op.__dict__.setdefault("_intermediates", {})  # id(branch tensor) -> its output
    if id(value) not in intermediates:
        if value._dims is None or None in value._dims:
            raise errors.UnimplementedError(
                None, value.op, f"graphc cannot differentiate {op.name}: its branch assigns a variable and its "
                                f"gradient reads {value.name}, whose shape is not known when the graph is built "
                                "(the other branch gives zeros of that shape for it)")
        other = op.attrs["else" if key == "then" else "then"]
        op.attrs[key].outputs.append(value)
        with other.as_default():
            other.outputs.append(array_ops.zeros(value._dims, value.dtype))
        op._attrs["output_types"] = list(op.attrs["output_types"]) + [TensorType(value.dtype, value._dims)]
        op._outputs += (Tensor(op, len(op._outputs), value.dtype, value._dims),)
        intermediates[id(value)] = op._outputs[-1]
    return intermediates[id(value)]


def _bare_reference_error(op: Operation, tensor: Tensor) -> Exception:
    return errors.UnimplementedError(
        None, tensor.op, f"graphc cannot differentiate {op.name}: its gradient needs the value of {tensor.name}, a "
                         "reference to a variable where variables are assigned, which is read where it is used and "
                         "so has no value of its own to keep: compute a value from it first (v.read_value() + 0.0)")


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """`tf.case`: the value of the first fn whose predicate is true (with `exclusive`, the run fails if
    more than one is), else `default()`; nested `If`s, as TF1 builds them."""
    if isinstance(pred_fn_pairs, dict):
        pred_fn_pairs = list(pred_fn_pairs.items())
    pairs = list(pred_fn_pairs)
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(f"Each entry in pred_fn_pairs must be a 2-tuple, got {pair!r}")
        if not callable(pair[1]):
            raise TypeError("fn for pred {} must be callable.".format(getattr(pair[0], "name", pair[0])))
    if default is None and not pairs:
        raise ValueError("pred_fn_pairs must not be empty when default is None")
    with name_scope(name, "case", [p for p, _ in pairs]):
        preds = [convert_to_tensor(p) for p, _ in pairs]
        if default is None:
            # TF1: without a default, the last fn is the default, which fails the run if its predicate is false.
            default = _checked_default(preds, pairs[-1][1])
            preds, pairs = preds[:-1], pairs[:-1]
        result = default
        for pred, (_, fn) in reversed(list(zip(preds, pairs))):
            result = _deferred_cond(pred, fn, result, strict)
        if exclusive and preds:
            with control_dependencies([_assert_at_most_one_true(preds)]):
                return result()
        return result()


def _checked_default(preds, fn):
    """TF1's `_case_create_default_action`: the last fn, run after an Assert that its predicate holds (TF's
    other Assert there, that no earlier predicate holds, cannot fail where the default runs)."""

    def default():
        data = ["Input error: None of conditions evaluated as True:", layout_ops.stack(preds, name="preds_c")]
        with control_dependencies([check_ops.Assert(preds[-1], data)]):
            return fn()

    return default


def _assert_at_most_one_true(preds):
    """TF1's `_assert_at_most_n_true(preds, 1, "Input error: exclusive=True")`: an Assert that fails the run,
    listing the predicates and their values, when more than one is true."""
    stacked = layout_ops.stack(preds, name="preds_c")
    count = math_ops.reduce_sum(array_ops.cast(stacked, dtypes.int32), name="num_true_conds")
    condition = math_ops.less_equal(count, array_ops.constant(1, name="n_true_conds"))
    names = ", ".join(p.name for p in preds)
    data = [f"Input error: exclusive=True: more than 1 conditions ({names}) evaluated as True:", stacked]
    return check_ops.Assert(condition, data, summarize=len(preds))


def _deferred_cond(pred, fn, otherwise, strict):
    return lambda: cond(pred, fn, otherwise, strict=strict)


# -- tf.while_loop -----------------------------------------------------------------------------------


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, name=None, maximum_iterations=None, return_same_structure=False):
    """`tf.while_loop`: runs `body` while `cond` is true, on nested structures of loop variables; a
    `While` op, compiled to a native loop (see the module docstring), or, where `shape_invariants` let a
    loop variable's shape change and it does, copies of the body (ops/loop_expansion.py)."""
    return _while_loop(cond, body, loop_vars, shape_invariants, parallel_iterations, back_prop, name,
                       maximum_iterations, return_same_structure, counted=False)


def counted_loop(steps: int, body, loop_vars, name=None):
    """`body(i, *loop_vars)` for i = 0 .. steps - 1 (`steps` known when the graph is built), i being the
    loop's own counter: a gradient knows then that the iterations read distinct rows x[i] (a TensorArray's,
    an RNN's inputs) and writes each row's gradient once instead of summing it in (`_accumulate`)."""
    return _while_loop(lambda *args: True, body, loop_vars, None, 10, True, name, steps, True, counted=True)


def _while_loop(cond, body, loop_vars, shape_invariants, parallel_iterations, back_prop, name, maximum_iterations,
                return_same_structure, counted: bool):
    if not callable(cond):
        raise TypeError("cond must be callable.")
    if not callable(body):
        raise TypeError("body must be callable.")
    if parallel_iterations < 1:
        raise TypeError("parallel_iterations must be a positive integer.")
    single = not isinstance(loop_vars, (list, tuple))
    structure = [loop_vars] if single else loop_vars
    if not nest.flatten(structure):
        raise ValueError("No loop variables provided")
    with name_scope(name, "while", nest.flatten(structure)) as scope:
        flat = [convert_to_tensor(v) for v in nest.flatten(structure)]
        invariants = _invariants(flat, shape_invariants, single)
        rows = None
        if maximum_iterations is not None:
            maximum_iterations = convert_to_tensor(maximum_iterations, name="maximum_iterations")
            if maximum_iterations.dtype not in (dtypes.int32, dtypes.int64):
                raise TypeError("maximum_iterations must be an integer, got "
                                f"{maximum_iterations.dtype.name}")
            if maximum_iterations._dims not in (None, ()):
                raise ValueError(f"maximum_iterations must be a scalar, saw shape: "
                                 f"{format_dims(maximum_iterations._dims)}")
            known = static_value(maximum_iterations, lambda t: t._dims)
            rows = None if known is None else max(int(known), 0)
            maximum_iterations = array_ops.cast(maximum_iterations, dtypes.int32)
        counter = array_ops.constant(0, dtypes.int32, name="loop_counter")
        outer = get_default_graph()
        types = [(dtypes.int32, (), "loop_counter")] + [
            (t.dtype, invariant, "loop_var") for t, invariant in zip(flat, invariants)]

        def cond_fn(i, *args):
            result = cond(*nest.pack_sequence_as(structure, list(args)))
            result = convert_to_tensor(result)
            if result.dtype is not dtypes.bool_ or (result._dims is not None and len(result._dims) != 0):
                raise ValueError(f"cond of while_loop must return a bool scalar, got {result}")
            if maximum_iterations is not None:
                result = math_ops.logical_and(math_ops.less(i, maximum_iterations), result)
            return [result]

        def body_fn(i, *args):
            result = body(*([i] if counted else []), *nest.pack_sequence_as(structure, list(args)))
            if not isinstance(result, (list, tuple, dict)) or (single and nest.is_namedtuple(result)):
                result = [result]  # TF1 takes a lone result (not a structure) for a one-variable loop
            try:
                nest.assert_same_structure(list(structure), list(result))
            except (ValueError, TypeError) as e:
                raise ValueError(f"The two structures don't have the same nested structure: {e}") from None
            out = [convert_to_tensor(t) for t in nest.flatten(result)]
            for t, arg in zip(out, args):
                _check_invariant(t, arg)
            return [math_ops.add(i, 1)] + out

        cond_graph = _build_function(f"{scope}cond", outer, types, cond_fn)
        body_graph = _build_function(f"{scope}body", outer, types, body_fn)
        relaxed = [j for j, (t, invariant) in enumerate(zip(flat, invariants), start=1)
                   if loop_expansion.changes_shape(t._dims, invariant)]
        refusal = None
        if relaxed:
            expansion = loop_expansion.expand(scope[:-1] if scope else "while_loop", cond_graph, body_graph,
                                              [counter] + flat, relaxed, rows)
            if expansion.results is not None:
                return _expanded_results(expansion.results[1:], invariants, structure, back_prop,
                                         not return_same_structure)
            refusal = expansion.refusal
        carried = 1 + len(flat)
        saved = tuple(range(1, carried)) if back_prop and rows is not None else ()
        attrs = {"carried": carried, "shape_invariants": (None,) + tuple(invariants), "saved": saved,
                 "rows": rows, "parallel_iterations": parallel_iterations, "back_prop": bool(back_prop)}
        op = _control_flow_op(while_p, [counter] + flat, {"cond": cond_graph, "body": body_graph}, attrs,
                              name=scope + "While/" if scope else "While")
        op.expansion_refusal = refusal  # why it is not expanded, for lowering's error if its shapes change
    results = list(op.outputs[1:carried])
    if len(results) == 1 and not return_same_structure:
        return results[0]
    return nest.pack_sequence_as(structure, results)


def _expanded_results(values: list, invariants: list, structure, back_prop: bool, alone: bool):
    """The results of an expanded loop (ops/loop_expansion.py) as TF1's loop gives them: `Exit` tensors whose
    static shape is the loop variable's invariant (`(?, 2)`), whatever the last copy's; with back_prop=False
    no gradient flows through them, as through TF1's loop."""
    forward = array_ops.identity if back_prop else array_ops.stop_gradient
    results = []
    for value, invariant in zip(values, invariants):
        result = forward(value, name="Exit")
        result._dims = invariant  # less specific than the value's: lowering binds the real shape again
        results.append(result)
    if len(results) == 1 and alone:
        return results[0]
    return nest.pack_sequence_as(structure, results)


def _invariants(flat: list, shape_invariants, single: bool) -> list:
    if shape_invariants is None:
        return [t._dims for t in flat]
    given = nest.flatten([shape_invariants] if single else shape_invariants, is_leaf=_is_shape)
    if len(given) != len(flat):
        raise ValueError(f"shape_invariants has {len(given)} shapes for {len(flat)} loop variables")
    result = []
    for t, shape in zip(flat, given):
        dims = as_dims(shape)
        if merge_dims(t._dims, dims) is None and t._dims is not None and dims is not None:
            raise ValueError(f"The shape invariant specified for {t.name} is not compatible with the initial "
                             f"shape of the loop variable. It enters the loop with shape {format_dims(t._dims)}, "
                             f"but the specified shape invariant is {format_dims(dims)}.")
        result.append(dims)
    return result


def _is_shape(x) -> bool:
    return x is None or isinstance(x, TensorShape) or (
        isinstance(x, list) and all(d is None or isinstance(d, (int, np.integer)) for d in x))


def _check_invariant(out: Tensor, arg: Tensor) -> None:
    """TF1's check: a loop variable's shape after an iteration must fit its shape invariant."""
    if out.dtype is not arg.dtype:
        raise TypeError(f"Input '{arg.name}' of the loop has type {arg.dtype.name} but its body returns "
                        f"{out.dtype.name}")
    invariant, dims = arg._dims, out._dims
    if invariant is None:
        return
    fits = dims is not None and len(dims) == len(invariant) and all(
        i is None or i == d for i, d in zip(invariant, dims))
    if not fits:
        raise ValueError(f"Input tensor '{arg.name}' enters the loop with shape {format_dims(invariant)}, but "
                         f"has shape {format_dims(dims)} after one iteration. To allow the shape to vary across "
                         "iterations, use the `shape_invariants` argument of tf.while_loop to specify a less-"
                         "specific shape.")


def _stash(op: Operation, value: Tensor) -> Tensor:
    """The rows of `value` (a tensor of `op`'s body) at the end of every iteration, an output of `op`: the
    body yields it after its loop variables and the compiled loop copies it into the iteration's row
    (TF1 pushes such values on a stack for the gradient; TF2's while_v2 adds accumulators the same way)."""
    stashes = op.__dict__.setdefault("_stashes", {})  # id(body tensor) -> its rows, per forward op
    if id(value) not in stashes:
        body = op.attrs["body"]
        body.outputs.append(value)
        dims = None if value._dims is None else (op.attrs["rows"],) + tuple(value._dims)
        op._outputs += (Tensor(op, len(op._outputs), value.dtype, dims),)
        stashes[id(value)] = op._outputs[-1]
    return stashes[id(value)]


class _LoopGradientBody(FunctionGraph):
    """The body of a While's gradient loop. It differentiates the forward body itself; each forward value
    the gradient reads is that value in iteration `index`: a loop variable's saved row, a captured tensor,
    a value that does not change across iterations (or whose shape only is used) computed again here, and
    any other value read back from the rows the forward loop stashes it in (so the forward body is not
    computed again).

    A loop without rows (no maximum_iterations known when the graph is built: graphc's buffers have a
    size known when the step compiles) cannot save: there, the loop variables of iteration `index` are
    computed again by a loop running the forward body `index` times from the first values (`_replayed`),
    and the body's values from them, so the gradient costs O(trip count²) body runs."""

    def __init__(self, name: str, outer, forward: Operation):
        super().__init__(name, outer)
        self.forward, self.index = forward, None
        self._values: dict = {}  # id(forward body tensor) -> its value here
        self._invariant: dict = {}  # id(forward body op) -> whether it is the same in every iteration
        self._state = None  # a loop without rows: its loop variables at iteration `index` (_replayed)
        self._written = _written_variables(forward)  # their values change across iterations

    def can_capture(self, tensor: Tensor) -> bool:
        return tensor.graph is self.forward.attrs["body"] or super().can_capture(tensor)

    def capture(self, tensor: Tensor) -> Tensor:
        if tensor.graph is not self.forward.attrs["body"]:
            return super().capture(tensor)
        if id(tensor) not in self._values:
            with self.as_default():
                self._values[id(tensor)] = self._iteration_value(tensor)
        return self._values[id(tensor)]

    def _iteration_value(self, tensor: Tensor) -> Tensor:
        op, body = self.forward, self.forward.attrs["body"]
        source = tensor.op
        if id(_variable_of(tensor)) in self._written:
            raise _bare_reference_error(op, tensor)
        if source.op_def is function_argument_p:
            index = op.attrs["body_args"][body.inputs.index(tensor)]
            if index == 0:
                return self.index  # the counter counts the iterations from 0
            if index >= op.attrs["carried"]:
                return self.capture(op.inputs[index])
            if not op.attrs["saved"]:
                return self._replayed()[index]
            return read_row(op.outputs[op.attrs["carried"] + op.attrs["saved"].index(index)], self.index,
                            in_range=True)
        if not op.attrs["saved"] and (source.op_def.effects.random or source.op_def.effects.writes):
            raise errors.UnimplementedError(
                None, source, f"graphc differentiates {op.name} without a maximum_iterations known when the graph "
                              f"is built by computing its body again, which {source.name} (random or writing a "
                              "variable) forbids: give the loop a constant maximum_iterations")
        if not op.attrs["saved"] or self._recomputable(source):
            copy = self.create_op(source.op_def, list(source.inputs), dict(source.attrs),
                                  name=source.name.rpartition("/")[2])
            return copy.outputs[tensor.value_index]
        return read_row(_stash(op, tensor), self.index, in_range=True)

    def _replayed(self) -> list:
        """The forward loop's variables after `index` iterations: a loop of the forward body from its first
        values (the forward cond held for each of them)."""
        if self._state is None:
            op, carried, index = self.forward, self.forward.attrs["carried"], self.index
            types = [(t.dtype, t._dims, "loop_var") for t in op.outputs[:carried]]
            cond = _build_function(f"{self.name}/replay/cond", self, types, lambda i, *_: [math_ops.less(i, index)])
            attrs = {key: op.attrs[key] for key in ("carried", "shape_invariants", "parallel_iterations")}
            attrs.update(saved=(), rows=None, back_prop=False)
            start = [array_ops.constant(0, dtypes.int32)] + list(op.inputs[1:carried])
            replay = _control_flow_op(while_p, start, {"cond": cond, "body": op.attrs["body"]}, attrs, name="replay")
            self._state = list(replay.outputs[:carried])
        return self._state

    def _recomputable(self, source: Operation) -> bool:
        """Whether `source` is computed again rather than stashed: it has no effect and its value is the
        same in every iteration (from constants and captured tensors), or it reads only shapes."""
        if id(source) not in self._invariant:
            op_def = source.op_def
            pure = op_def.role is not Role.CONTROL_FLOW and op_def.effects == Effects()
            self._invariant[id(source)] = pure and (op_def.shape_only_inputs or op_def.role is Role.STATIC or all(
                self._unchanging(t) for t in source.inputs))
        return self._invariant[id(source)]

    def _unchanging(self, tensor: Tensor) -> bool:
        op = self.forward
        if id(_variable_of(tensor)) in self._written:
            return False  # an iteration may have written it
        if tensor.op.op_def is function_argument_p:
            return op.attrs["body_args"][op.attrs["body"].inputs.index(tensor)] >= op.attrs["carried"]
        return self._recomputable(tensor.op)


def _save_rows_of_the_trip_count(op: Operation) -> None:
    """Gives the While `op` (no rows: no maximum_iterations known when the graph was built) rows of its trip
    count where constants fix it, so that the gradient of a body that assigns can read every value from rows
    (running the body again would repeat the writes). Done here, not when the loop is built: finding the
    count runs the loop on the graph (`loop_expansion.trip_count`), a cost for the loops no gradient needs."""
    carried = op.attrs["carried"]
    with op.graph.as_default():  # the trial's ops, undone, beside the loop's
        rows = loop_expansion.trip_count(op.name, op.attrs["cond"], op.attrs["body"], list(op.inputs[:carried]))
    if rows is None or len(op.outputs) != carried:
        return
    op._attrs.update(rows=rows, saved=tuple(range(1, carried)))
    op._outputs += tuple(Tensor(op, carried + k, t.dtype, None if t._dims is None else (rows,) + tuple(t._dims))
                         for k, t in enumerate(op.outputs[1:carried]))


def _accumulate(total: Tensor, gradient: Tensor, counter: Tensor) -> Tensor:
    """`total + gradient`: a captured tensor's gradient summed over the iterations. Where the body read one
    row of it (x[i]: the row's gradient in zeros), the row alone is added, in place (not the whole of x in
    every iteration); where i is the loop's counter, each row is read by one iteration and its gradient
    is written, as TF1's TensorArray gradient does."""
    if gradient.op.op_def is row_read_grad_p:
        row, index = gradient.op.inputs
        return write_row(total, index, row if index is counter else math_ops.add(read_row(total, index), row))
    return math_ops.add(total, gradient)


@registry.set_gradient(while_p)
def _while_grad(op, *grads):
    carried = op.attrs["carried"]
    if not op.attrs["back_prop"]:
        return [None] * len(op.inputs)
    assignment = _assignment_in(_functions(op))
    if assignment is not None and not op.attrs["saved"]:
        _save_rows_of_the_trip_count(op)
        if not op.attrs["saved"]:
            raise errors.UnimplementedError(
                None, op, f"graphc cannot differentiate {op.name}: its function assigns a variable "
                          f"({assignment.name}), and the loop has no bound on its iterations known when the graph "
                          "is built (its trip count is not fixed by constants, nor by a constant maximum_iterations), "
                          "so the forward loop cannot stash the values the gradient reads and the gradient would run "
                          "the assignment again: give the loop a constant maximum_iterations")
    rows, body_graph, body_args = op.attrs["rows"], op.attrs["body"], op.attrs["body_args"]
    trip_count = op.outputs[0]
    loop_inputs = list(op.inputs[:carried])
    captured_indices = [i for i in range(carried, len(op.inputs))
                        if _is_float(op.inputs[i]) and i not in op.skip_input_indices]
    captured = [op.inputs[i] for i in captured_indices]
    float_vars = [j for j in range(1, carried) if _is_float(loop_inputs[j])]
    final_grads = _grads_or_zeros([grads[j] for j in float_vars], [op.outputs[j] for j in float_vars])
    outer = get_default_graph()
    types = [(dtypes.int32, (), "step")]
    types += [(op.outputs[j].dtype, op.outputs[j]._dims, "grad") for j in float_vars]
    types += [(t.dtype, t._dims, "captured_grad") for t in captured]
    # Forward body arguments by the op input they stand for: the loop variables, then what the body captures.
    arguments = {index: argument for argument, index in zip(body_graph.inputs, body_args)}

    def grad_cond(step, *accumulated):
        return [math_ops.less(step, trip_count)]

    def grad_body(step, *accumulated):
        var_grads, captured_grads = accumulated[:len(float_vars)], accumulated[len(float_vars):]
        function = get_default_graph()
        function.index = math_ops.subtract(math_ops.subtract(trip_count, 1), step)
        ys = [body_graph.outputs[j] for j in float_vars]
        xs = [arguments[j] for j in float_vars] + [arguments.get(i) for i in captured_indices]
        differentiable = [x for x in xs if x is not None]
        found = iter(_differentiate_into(function, ys, differentiable, list(var_grads)))
        found = [next(found) if x is not None else None for x in xs]
        found = [g if g is not None else array_ops.zeros_like(like) for g, like in zip(
            found, [op.outputs[j] for j in float_vars] + captured)]
        new_captured = [_accumulate(a, g, function.index) for a, g in zip(captured_grads, found[len(float_vars):])]
        return [math_ops.add(step, 1)] + found[:len(float_vars)] + new_captured

    cond_graph = _build_function(f"{op.name}_grad/cond", outer, types, grad_cond)
    body_graph_grad = _build_function(f"{op.name}_grad/body", outer, types, grad_body,
                                      graph=_LoopGradientBody(f"{op.name}_grad/body", outer, op))
    start = [array_ops.constant(0, dtypes.int32)] + final_grads + [array_ops.zeros_like(t) for t in captured]
    grad_carried = len(start)
    grad_op = _control_flow_op(
        while_p, start, {"cond": cond_graph, "body": body_graph_grad},
        {"carried": grad_carried, "shape_invariants": (None,) * grad_carried, "saved": (), "rows": rows,
         "parallel_iterations": op.attrs["parallel_iterations"], "back_prop": False}, name="While")
    result = [None] * len(op.inputs)
    for position, j in enumerate(float_vars):
        result[j] = grad_op.outputs[1 + position]
    for position, i in enumerate(captured_indices):
        result[i] = grad_op.outputs[1 + len(float_vars) + position]
    return result
