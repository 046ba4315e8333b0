"""Dead-code elimination: drops instructions whose results nothing uses.

Kept regardless: `write` (it changes a variable), `check_numerics` (it may
fail the run) and `feed` (feeds are the step's calling convention, so their
buffers stay in the signature).
"""

from __future__ import annotations

from graphc.ir.program import Program

_ALWAYS_KEPT = {"write", "check_numerics", "feed"}


def eliminate_dead_code(program: Program) -> Program:
    live = {v.id for v in program.fetches}
    kept = []
    for inst in reversed(program.instructions):
        if inst.op in _ALWAYS_KEPT or (inst.result is not None and inst.result.id in live):
            kept.append(inst)
            live.update(v.id for v in inst.values)
    return program.replace(instructions=tuple(reversed(kept)))
