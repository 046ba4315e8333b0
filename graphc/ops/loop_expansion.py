"""Expanding a `tf.while_loop` whose loop variables change shape into one copy of its body per iteration.

graphc's IR has static shapes and a native loop keeps each loop variable in one buffer
of one shape, so a loop variable whose shape invariant lets its shape change across
iterations (`tf.concat([m, m], 0)` under `TensorShape([None, 2])`) cannot be a `While`.
When the loop's trip count is fixed by values known when the graph is built (its cond
reads loop variables that start from constants and that the body computes from
constants, or a constant `maximum_iterations` stops it), `tf.while_loop` builds instead
that many copies of the body in the enclosing graph, each with its own static shapes:
the gradient, the passes and the backend then see ordinary ops. This is done where TF1
builds the loop (not as an IR pass) because `tf.gradients` differentiates the graph,
before any shape is bound.

The copies are made from the body function already built (`replay`), so the Python
`body` runs once, as in TF1 (a `tf.get_variable` in it creates one variable). Deciding
runs the loop on the graph first and is undone (`Graph.undone_on_error`): the loop
expands when the cond of every iteration has a value known when the graph is built,
and an iteration gives a loop variable a shape that differs from its first value's
or is not known when the graph is built (an expansion is right whatever the shape
turns out to be, a native loop only if it keeps it). Any other loop stays a native
loop: where its shapes turn out to change when the step compiles, lowering refuses
it with the reason kept here (`refusal`).
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from typing import Optional

from graphc.core.registry import Role
from graphc.frontend.function_graph import FunctionGraph, function_argument_p, replay
from graphc.frontend.graph import Tensor, get_default_graph
from graphc.frontend.static_value import static_value

# Ops an expansion may add: iterations x body ops. Each op becomes IR instructions and kernels LLVM
# compiles: 19,500 ops (1,500 copies of a 13-op body) took 1.3 s to build and 11 s of CPU to compile
# on this (loaded) machine, growing linearly. Beyond that a native loop with fixed shapes (padding the
# loop variable to its largest size) is the better program. The cap also stops a cond that never turns
# false, and bounds the trial run that decides (`_trial`).
MAX_EXPANDED_OPS = 20_000


@dataclass
class Expansion:
    """`results`: the loop variables after the last iteration (the counter first), or None when the loop
    stays a native loop; `refusal`: then why graphc could not expand it (for lowering's error)."""

    results: Optional[list] = None
    refusal: Optional[str] = None
    iterations: int = 0


class _Abandon(Exception):
    """Raised inside the trial run to undo the ops it added."""


def changes_shape(entry_dims, invariant) -> bool:
    """Whether the shape invariant leaves open a dimension the first value has (the shape may change)."""
    if entry_dims is None:
        return False
    if invariant is None:
        return True
    return len(invariant) != len(entry_dims) or any(i is None and d is not None for i, d in zip(invariant, entry_dims))


def expand(loop_name: str, cond: FunctionGraph, body: FunctionGraph, entry: list, relaxed: list,
           maximum_iterations: Optional[int]) -> Expansion:
    """Expands the loop of `cond` and `body` (functions of `entry`: the counter, then the flat loop
    variables) in the default graph if a loop variable of `relaxed` (indices into `entry`) changes shape
    in it and its trip count is known (module docstring); else returns the refusal for lowering."""
    graph = get_default_graph()
    trial = Expansion()
    if not _undone_trial(loop_name, cond, body, entry, relaxed, maximum_iterations, trial):
        return trial
    values, first = list(entry), {id(t) for t in entry}
    originals = [op for op in body.get_operations() if op.op_def is not function_argument_p]
    streams: dict = {}  # id(random op of the body) -> the name of its first copy, whose state all copies draw from
    for k in range(trial.iterations):
        before = len(graph.get_operations())
        # The first copy has the body's names (TF1's `while/add`), copy k those in `while/iteration_k/`.
        with graph.name_scope(f"iteration_{k}") if k else contextlib.nullcontext():
            values = replay(body, values, after=[v.op for v in values if id(v) not in first])
        for original, copy in zip(originals, graph.get_operations()[before:]):  # replay copies them in order
            if original.op_def.effects.random:
                # One random state for the copies (lowering's `rng_name`): iteration k draws the op's k-th
                # numbers, as the op running k times in a loop does, not the same numbers k times.
                copy.random_stream = streams.setdefault(id(original), copy.name)
    return Expansion(results=values, iterations=trial.iterations)


def trip_count(loop_name: str, cond: FunctionGraph, body: FunctionGraph, entry: list) -> Optional[int]:
    """The number of iterations of the loop of `cond` and `body` from `entry` (the counter, then the flat
    loop variables) when values known when the graph is built fix it (the trial run `expand` decides by,
    undone), else None: a loop whose gradient must not run its body again stashes that many rows."""
    trial = Expansion()
    _undone_trial(loop_name, cond, body, entry, [], None, trial)
    return None if trial.refusal is not None else trial.iterations


def _undone_trial(loop_name, cond, body, entry, relaxed, maximum_iterations, trial: Expansion) -> bool:
    """`_trial`, its ops removed from the graph afterwards."""
    expands = False
    try:
        with get_default_graph().undone_on_error():
            expands = _trial(loop_name, cond, body, entry, relaxed, maximum_iterations, body_size(body), trial)
            raise _Abandon()
    except _Abandon:
        pass
    return expands


def _trial(loop_name, cond, body, entry, relaxed, maximum_iterations, size, trial: Expansion) -> bool:
    """Runs the loop on the graph: whether it expands (into trial.iterations copies: a copy gives a loop
    variable a shape known to differ from its first value's), else sets trial.refusal where it could not
    find out or could not expand (None where no shape changes)."""
    values, memo, changed = list(entry), {}, False  # one memo: each iteration's values build on the last's
    for k in itertools.count():
        if maximum_iterations is not None and k >= maximum_iterations:
            break
        predicate = replay(cond, values)[0]
        value = static_value(predicate, lambda t: t._dims, memo)
        if value is None:
            trial.refusal = _count_unknown(loop_name, cond, predicate, values, entry)
            return False
        if not value:
            break
        if (k + 1) * size > MAX_EXPANDED_OPS:
            trial.refusal = (f"expanding the loop {loop_name} would make more than {MAX_EXPANDED_OPS} ops ({size} "
                             f"ops in its body, over {k + 1} iterations and more): graphc caps an expansion at "
                             f"{MAX_EXPANDED_OPS} ops, past which compiling takes more than ten seconds")
            return False
        following = replay(body, values)
        changed = changed or any(not _same(entry[j]._dims, following[j]._dims) for j in relaxed)
        values = following
        trial.iterations = k + 1
    # A loop that runs no iteration expands too: as a native loop, its body's shapes would still be checked.
    return changed or trial.iterations == 0


def body_size(function: FunctionGraph) -> int:
    """The ops of `function`, those of the functions inside it included (an expansion copies them all)."""
    total = 0
    for op in function.get_operations():
        if op.op_def is function_argument_p:
            continue
        total += 1
        if op.op_def.role is Role.CONTROL_FLOW:
            total += sum(body_size(v) for v in op.attrs.values() if isinstance(v, FunctionGraph))
    return total


def _same(a, b) -> bool:
    """Whether shapes a and b are known to be the same (a shape partly unknown may change: the loop then
    expands, which is right whatever the shapes turn out to be)."""
    return a is not None and b is not None and None not in a and tuple(a) == tuple(b)


def _count_unknown(loop_name, cond: FunctionGraph, predicate: Tensor, values: list, entry: list) -> str:
    """The refusal of a loop whose trip count is not fixed by constants: the loop variables its cond reads
    and the value (a fed tensor, a variable) the count depends on."""
    memo: dict = {}
    dims = lambda t: t._dims  # noqa: E731
    read = [j for j, a in enumerate(cond.inputs[:len(values)]) if _reaches(cond.outputs[0], a)]
    unknown = [j for j in read if j > 0 and static_value(values[j], dims, memo) is None]
    source = _dynamic_source(predicate, dims, memo)
    if unknown:
        variables = f"loop variable {unknown[0] - 1} ({entry[unknown[0]].name}), whose value depends on {source}"
    else:
        variables = f"{source}"
    return (f"graphc expands the loop {loop_name} into one copy of its body per iteration, each with its own static "
            f"shapes, which needs the loop's trip count fixed by values known when the graph is built (as XLA "
            f"and JAX's lax.while_loop need fixed shapes); the loop's cond depends on {variables}. Compute the "
            f"count from constants or give a constant maximum_iterations the cond cannot stop earlier, or "
            f"keep the loop variable's shape fixed (pad it to its largest size)")


def _reaches(tensor: Tensor, target: Tensor) -> bool:
    pending, seen = [tensor], set()
    while pending:
        t = pending.pop()
        if t is target:
            return True
        if id(t.op) in seen:
            continue
        seen.add(id(t.op))
        pending.extend(t.op.inputs)
    return False


def _dynamic_source(tensor: Tensor, dims, memo) -> str:
    """The first value `tensor` depends on that is not known when the graph is built: a fed placeholder,
    a variable, a random or other stateful op."""
    pending, seen = [tensor], set()
    while pending:
        t = pending.pop()
        if id(t.op) in seen or static_value(t, dims, memo) is not None:
            continue
        seen.add(id(t.op))
        role, effects = t.op.op_def.role, t.op.op_def.effects
        if role is Role.PLACEHOLDER:
            return f"the fed value {t.name}"
        if role is Role.VARIABLE:
            return f"the variable {t.op.name}"
        if effects.stateful or not t.op.inputs:
            return f"{t.name} ({t.op.type}, not computed before the run)"
        pending.extend(reversed(t.op.inputs))
    return f"{tensor.name}"
