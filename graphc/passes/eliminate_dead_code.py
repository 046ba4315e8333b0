"""Dead-code elimination: drops instructions whose results nothing uses.

Kept regardless: instructions with an effect that outlives the step (a
write of a variable, a random draw advancing its counter), instructions that
may fail the run (a check_numerics, a label check: TF runs them, so their
failure stays), and feeds (the step's calling convention, so their buffers
stay in the signature).

A structured instruction (`while`, `cond`) is kept if any output is used or its
regions hold such an instruction; a `while` drops the per-iteration rows it
saves for a gradient that this step does not compute (of loop variables, and of
stashed body values with the body results they come from), and the loop variables
nothing needs (the trip counter of a loop without a gradient); a structured
instruction drops the captured values none of its regions needs (a gradient loop
reading a stashed value's shape only: then the forward loop stashes nothing for
it). Inside regions the pipeline runs this pass again (passes/regions.py).
"""

from __future__ import annotations

from graphc.ir.facts import effects_of, may_fail
from graphc.ir.program import Program, walk


def _has_effect(inst) -> bool:
    effects = effects_of(inst)
    if effects.writes or effects.random or may_fail(inst) or inst.op == "feed":
        return True
    return any(_has_effect(inner) for region in inst.regions for inner in walk(region.instructions))


def eliminate_dead_code(program: Program) -> Program:
    """The program without the instructions nothing uses (see the module docstring)."""
    live = {v.id for v in program.fetches}
    kept = []
    for inst in reversed(program.instructions):
        if _has_effect(inst) or any(v.id in live for v in inst.defined):
            if inst.attrs.get("saved") or inst.attrs.get("stashed"):
                inst = _without_unused_rows(inst, live)
            if "carried" in inst.attrs:
                inst = _without_unused_loop_variables(inst, live)
            if inst.regions:
                inst = _without_unused_captures(inst)
            kept.append(inst)
            live.update(v.id for v in inst.values)
    return program.replace(instructions=tuple(reversed(kept)))


def _params_needed(region, roots: list) -> set:
    """The param indices that the values `roots` of `region` (and its instructions with effects) depend on."""
    definition = {v.id: inst for inst in region.instructions for v in inst.defined}
    stack = [v.id for v in roots] + [v.id for inst in region.instructions if _has_effect(inst) for v in inst.values]
    seen, params = set(), set()
    while stack:
        value_id = stack.pop()
        if value_id in seen or value_id not in definition:
            continue
        seen.add(value_id)
        inst = definition[value_id]
        if inst.op == "param":
            params.add(inst.attrs["index"])
        stack.extend(v.id for v in inst.values)
    return params


def _without_unused_loop_variables(inst, live: set):
    """A `while` without the loop variables that nothing needs: not used after the loop, not saved, not
    read by its cond, and not feeding the next value of a variable that is needed (the counter of a loop
    without a gradient)."""
    cond, body = inst.regions
    carried = inst.attrs["carried"]
    needed = {j for j in range(carried) if inst.outputs[j].id in live} | set(inst.attrs.get("saved", ()))
    needed |= _params_needed(cond, list(cond.results))
    stashes = list(body.results[carried:])
    while True:
        grown = needed | _params_needed(body, [body.results[j] for j in needed if j < carried] + stashes)
        if grown == needed:
            break
        needed = grown
    kept = sorted(j for j in needed if j < carried)
    if len(kept) == carried:
        return inst
    index = {old: new for new, old in enumerate(kept)}
    index.update((old, old - carried + len(kept)) for old in range(carried, len(inst.operands)))

    attrs = dict(inst.attrs, carried=len(kept))
    if "saved" in attrs:
        attrs["saved"] = tuple(index[j] for j in attrs["saved"])
    return inst.replace(operands=tuple(inst.operands[j] for j in kept) + inst.operands[carried:], attrs=attrs,
                        outputs=tuple(inst.outputs[j] for j in kept) + inst.outputs[carried:],
                        regions=(_with_params(cond, index, cond.results),
                                 _with_params(body, index, tuple(body.results[j] for j in kept) + tuple(stashes))))


def _without_unused_captures(inst):
    """A `while` or `cond` without the captured operands (after the loop variables; after the predicate)
    that no region's results or effects depend on."""
    first = inst.attrs.get("carried", 1)
    needed = set().union(*(_params_needed(region, list(region.results)) for region in inst.regions))
    kept = list(range(first)) + [k for k in range(first, len(inst.operands)) if k in needed]
    if len(kept) == len(inst.operands):
        return inst
    index = {old: new for new, old in enumerate(kept)}
    regions = tuple(_with_params(region, index, region.results) for region in inst.regions)
    return inst.replace(operands=tuple(inst.operands[k] for k in kept), regions=regions)


def _with_params(region, index: dict, results):
    """`region` yielding `results`, its params renumbered by `index` (old operand -> new); the params of
    operands not in `index` are dropped (nothing that is kept uses them)."""
    instructions = tuple(i.replace(attrs={**i.attrs, "index": index[i.attrs["index"]]}) if i.op == "param" else i
                         for i in region.instructions if not (i.op == "param" and i.attrs["index"] not in index))
    return region.replace(instructions=instructions, results=results)


def _without_unused_rows(inst, live: set):
    """A `while` keeping only the per-iteration rows something uses (a step without the loop's gradient
    uses none: ops/control_flow_ops.py); a stashed body value nothing reads is no longer yielded."""
    carried, saved = inst.attrs["carried"], inst.attrs.get("saved", ())
    cond, body = inst.regions
    rows = [(index, value) for index, value in zip(saved, inst.outputs[carried:]) if value.id in live]
    stashes = [(result, value) for result, value in zip(body.results[carried:], inst.outputs[carried + len(saved):])
               if value.id in live]
    attrs = {k: v for k, v in inst.attrs.items() if k not in ("saved", "rows", "stashed")}
    if rows:
        attrs["saved"] = tuple(index for index, _ in rows)
    if stashes:
        attrs["stashed"] = len(stashes)
    if rows or stashes:
        attrs["rows"] = inst.attrs["rows"]
    body = body.replace(results=body.results[:carried] + tuple(result for result, _ in stashes))
    return inst.replace(attrs=attrs, regions=(cond, body), outputs=inst.outputs[:carried] + tuple(
        value for _, value in rows) + tuple(value for _, value in stashes))
