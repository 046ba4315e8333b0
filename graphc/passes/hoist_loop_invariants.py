"""Loop-invariant code motion: work in a loop body on values captured from outside runs once, before the loop.

An instruction of a `while` body is *invariant* when every operand is a captured value (a param after
the loop variables), a constant, or another invariant result, and running it once gives what every
iteration computed: it has no effect (no variable read or write, no random draw, no failure: a failing op
must fail where TF runs it) and no regions. Such an instruction moves before the loop, its result becomes
a new captured operand of the loop, and the body reads it through a param; constants it uses are copied
out too (the body keeps its own for its other users). Loops inside a body are done first, so work
invariant in both goes out of both.

The case that needs it: the input gradient of an LSTM's [x, h] concat keeps dh only, so simplify makes it
a product with K's last rows (a slice of the captured kernel); in the body that slice is a 256 KB copy in
every iteration, before the loop one copy a step. A loop that runs no iteration computes the moved work
once for nothing; its results are then dead, as they would have been.
"""

from __future__ import annotations

from graphc.core.registry import Effects
from graphc.ir.facts import effects_of, may_fail
from graphc.ir.program import Instruction, Program, Value

# Ops that bring values in or name state: never moved.
_STAY = frozenset({"param", "constant", "feed", "read", "write"})


def hoist_loop_invariants(program: Program) -> Program:
    """The program with each loop's invariant work before it (the module docstring)."""
    instructions, next_id = _hoisted(program.instructions, program.next_id)
    if instructions == program.instructions:
        return program
    return program.replace(instructions=instructions, next_id=next_id)


def _hoisted(instructions: tuple, next_id: int) -> tuple:
    """`instructions` with every loop's invariant work (in regions too) moved out; the next free value id."""
    result, changed = [], False
    for inst in instructions:
        if inst.regions:
            regions = []
            for region in inst.regions:
                body, next_id = _hoisted(region.instructions, next_id)
                regions.append(region if body == region.instructions else region.replace(instructions=body))
            if any(new is not old for new, old in zip(regions, inst.regions)):
                inst, changed = inst.replace(regions=tuple(regions)), True
        if inst.op == "while":
            moved, loop, next_id = _hoist_from(inst, next_id)
            if moved:
                result.extend(moved)
                inst, changed = loop, True
        result.append(inst)
    return (tuple(result) if changed else instructions), next_id


def _movable(inst: Instruction) -> bool:
    return (inst.op not in _STAY and not inst.regions and inst.result is not None
            and effects_of(inst) == Effects() and not may_fail(inst))


def _hoist_from(loop: Instruction, next_id: int) -> tuple:
    """(the instructions moved before `loop`, the loop reading their results as captured values, next_id);
    no instructions when nothing in its body is invariant."""
    cond, body = loop.regions
    carried = loop.attrs["carried"]
    outside: dict = {}  # body value id -> the value outside the loop it equals
    constants: dict = {}  # body constant's id -> its instruction
    for inst in body.instructions:
        if inst.op == "param" and inst.attrs["index"] >= carried:
            outside[inst.result.id] = loop.operands[inst.attrs["index"]]
        elif inst.op == "constant":
            constants[inst.result.id] = inst
    moved, moved_ids = [], set()
    for inst in body.instructions:
        if not _movable(inst) or not all(v.id in outside or v.id in constants for v in inst.values):
            continue
        operands = []
        for operand in inst.operands:
            if isinstance(operand, Value) and operand.id not in outside:  # a body constant: copied out
                copy = Value(next_id, operand.type)
                next_id += 1
                moved.append(constants[operand.id].replace(result=copy, kernel=None))
                outside[operand.id] = copy
            operands.append(outside[operand.id] if isinstance(operand, Value) else operand)
        result = Value(next_id, inst.result.type)
        next_id += 1
        moved.append(inst.replace(result=result, operands=tuple(operands), kernel=None))
        outside[inst.result.id] = result
        moved_ids.add(inst.result.id)
    if not moved_ids:
        return [], loop, next_id
    # The moved results the body's other instructions (or its yields) still read become captured values.
    read = {v.id for inst in body.instructions if inst.result is None or inst.result.id not in moved_ids
            for v in inst.values} | {v.id for v in body.results}
    captured = [value_id for value_id in (inst.result.id for inst in body.instructions
                                          if inst.result is not None and inst.result.id in moved_ids)
                if value_id in read]
    params = {}
    for k, value_id in enumerate(captured):
        params[value_id] = Instruction("param", Value(value_id, outside[value_id].type),
                                       (), {"index": len(loop.operands) + k}, "")
    instructions = []
    for inst in body.instructions:
        if inst.result is not None and inst.result.id in moved_ids:
            if inst.result.id in params:
                instructions.append(params[inst.result.id].replace(source=inst.source))
            continue
        instructions.append(inst)
    # Params first, as regions keep them (ir/program.py Region).
    instructions.sort(key=lambda inst: inst.op != "param")
    body = body.replace(instructions=tuple(instructions))
    loop = loop.replace(operands=loop.operands + tuple(outside[value_id] for value_id in captured),
                        regions=(cond, body))
    return moved, loop, next_id
