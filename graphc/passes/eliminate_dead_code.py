"""Dead-code elimination: drops instructions whose results nothing uses.

Kept regardless: instructions with an effect that outlives the step (a
write of a variable, a random draw advancing its counter), instructions that
may fail the run (a check_numerics, a label check: TF runs them, so their
failure stays), and feeds (the step's calling convention, so their buffers
stay in the signature).

A structured instruction (`while`, `cond`) is kept if any output is used or its
regions hold such an instruction; a `while` drops the per-iteration rows it
saves for a gradient that this step does not compute. Inside regions the
pipeline runs this pass again (passes/regions.py).
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
            if inst.attrs.get("saved"):
                inst = _without_unused_rows(inst, live)
            kept.append(inst)
            live.update(v.id for v in inst.values)
    return program.replace(instructions=tuple(reversed(kept)))


def _without_unused_rows(inst, live: set):
    """A `while` keeping only the per-iteration rows something uses (a step without the loop's gradient
    uses none: ops/control_flow_ops.py)."""
    carried = inst.attrs["carried"]
    rows = [(index, value) for index, value in zip(inst.attrs["saved"], inst.outputs[carried:]) if value.id in live]
    attrs = {k: v for k, v in inst.attrs.items() if k not in ("saved", "rows")}
    if rows:
        attrs["saved"], attrs["rows"] = tuple(index for index, _ in rows), inst.attrs["rows"]
    return inst.replace(attrs=attrs, outputs=inst.outputs[:carried] + tuple(value for _, value in rows))
