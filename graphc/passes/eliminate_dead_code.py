"""Dead-code elimination: drops instructions whose results nothing uses.

Kept regardless: instructions with an effect that outlives the step (a
write of a variable, a random draw advancing its counter), instructions that
may fail the run (a check_numerics, a label check: TF runs them, so their
failure stays), and feeds (the step's calling convention, so their buffers
stay in the signature).
"""

from __future__ import annotations

from graphc.ir.facts import effects_of, may_fail
from graphc.ir.program import Program


def _has_effect(inst) -> bool:
    effects = effects_of(inst)
    return effects.writes or effects.random or may_fail(inst) or inst.op == "feed"


def eliminate_dead_code(program: Program) -> Program:
    """The program without the instructions nothing uses (see the module docstring)."""
    live = {v.id for v in program.fetches}
    kept = []
    for inst in reversed(program.instructions):
        if _has_effect(inst) or (inst.result is not None and inst.result.id in live):
            kept.append(inst)
            live.update(v.id for v in inst.values)
    return program.replace(instructions=tuple(reversed(kept)))
