"""Row reads and writes at a loop's counter, whose cond keeps it in range: marked `in_range`.

A `while` whose first loop variable starts at the constant 0, grows by the constant 1 each iteration
and is held below a constant bound B by the cond (`counter < B`, alone or as a term of a
`logical_and`: TF's while_v2 with `maximum_iterations` builds the cond so) runs its body with the
counter in [0, B). A row read or write in the body at that counter, of a value with at least B rows,
is then in range by construction: it gets `in_range` (ir/facts.may_fail), skips the bounds check and
can no longer fail. Dead-code elimination may then drop it, and with it the loop variable it writes.

The case that needs it: `dynamic_rnn` writes each iteration's output h into a TensorArray, a loop
variable of [T, batch, units]; a program that uses only the last h (the MNIST LSTM's logits) never
reads it, but the write could fail, so the loop kept it: a 1.4 MB copy of its zeros into the loop
variable a step and a row copy an iteration, for nothing.
"""

from __future__ import annotations

from typing import Optional

from graphc.ir.program import Program, constant_value
from graphc.passes.regions import rewrite_loops


def bound_counter_rows(program: Program) -> Program:
    """The program with its loops' row reads and writes at a bounded counter marked `in_range`."""
    instructions = rewrite_loops(program.instructions, _marked)
    return program if instructions is program.instructions else program.replace(instructions=instructions)


def _marked(loop, outside: dict):
    """The loop with its body's row reads and writes at its bounded counter marked; the loop itself if none."""
    bound = _counter_bound(loop, outside)
    if bound is None:
        return loop
    cond, body = loop.regions
    marked = _rows_marked(body.instructions, bound)
    return loop if marked is body.instructions else loop.replace(regions=(cond, body.replace(instructions=marked)))


def _scalar(inst) -> Optional[int]:
    """The integer value of a scalar integer constant instruction, or None."""
    if inst is None or inst.op != "constant" or inst.result.type.shape != () or \
            inst.result.type.dtype.name not in ("int32", "int64"):
        return None
    return int(constant_value(inst))


def _counter_bound(loop, outside: dict) -> Optional[int]:
    """B when loop variable 0 is a counter from 0 by 1 that the cond keeps below the constant B."""
    cond, body = loop.regions
    carried = loop.attrs["carried"]
    if carried < 1 or _scalar(outside.get(loop.operands[0].id)) != 0:
        return None
    inside = {v.id: inst for inst in body.instructions for v in inst.defined}
    step = inside.get(body.results[0].id)
    if step is None or step.op != "add" or len(step.values) != 2:
        return None
    counter = [_param_index(inside.get(v.id)) == 0 for v in step.values]
    ones = [_scalar(inside.get(v.id)) == 1 for v in step.values]
    if not ((counter[0] and ones[1]) or (counter[1] and ones[0])):
        return None
    in_cond = {v.id: inst for inst in cond.instructions for v in inst.defined}

    def constant(value) -> Optional[int]:
        inst = in_cond.get(value.id)
        index = _param_index(inst)
        if index is not None and index >= carried:  # a captured value: a constant outside the loop?
            return _scalar(outside.get(loop.operands[index].id))
        return _scalar(inst)

    def bound(value) -> Optional[int]:
        inst = in_cond.get(value.id)
        if inst is None:
            return None
        if inst.op == "less" and _param_index(in_cond.get(inst.values[0].id)) == 0:
            return constant(inst.values[1])
        if inst.op == "logical_and":  # both terms hold in every iteration: either one bounds it
            bounds = [b for b in (bound(v) for v in inst.values) if b is not None]
            return min(bounds, default=None)
        return None

    return bound(cond.results[0])


def _param_index(inst) -> Optional[int]:
    return inst.attrs["index"] if inst is not None and inst.op == "param" else None


def _rows_marked(instructions: tuple, bound: int) -> tuple:
    """The body's row reads and writes at the counter (param 0), of values with at least `bound` rows,
    marked `in_range`; the same tuple if none."""
    counters = {inst.result.id for inst in instructions if _param_index(inst) == 0}
    result, changed = [], False
    for inst in instructions:
        if inst.op in ("row_read", "row_write") and not inst.attrs.get("in_range") and \
                inst.values[1].id in counters and inst.values[0].type.shape[0] >= bound:
            inst, changed = inst.replace(attrs={**inst.attrs, "in_range": True}), True
        result.append(inst)
    return tuple(result) if changed else instructions
