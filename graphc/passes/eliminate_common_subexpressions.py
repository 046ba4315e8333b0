"""Common-subexpression elimination: an instruction equal to an earlier one reuses its value.

Equal means same op, same operands, same attributes. Constants are equal when
their dtype, shape and elements are. Instructions that write state (writes,
random draws) are never merged; reads are, when no write of their variable
comes in between, nor a loop or cond writing it in its regions (the second
read would see the same value).
"""

from __future__ import annotations

from graphc.ir.facts import effects_of, written_variables
from graphc.ir.printer import array_digest
from graphc.ir.program import OpaqueConstant, Program, Value


def _key(inst):
    attrs = []
    for name, value in sorted(inst.attrs.items()):
        if name == "value" and inst.op == "constant":
            value = value.digest if isinstance(value, OpaqueConstant) else array_digest(value)
        attrs.append((name, repr(value)))
    operands = tuple(o.id if isinstance(o, Value) else ("@", o.name) for o in inst.operands)
    return inst.op, str(inst.result.type), operands, tuple(attrs)


def eliminate_common_subexpressions(program: Program) -> Program:
    seen: dict = {}
    # variable name -> the keys in `seen` of reads of it, forgotten at its next write (each key
    # once: rebuilding `seen` at every write made a training step's CSE quadratic).
    read_keys: dict = {}
    replacement: dict[int, Value] = {}
    instructions = []
    for inst in program.instructions:
        inst = inst.replace(operands=tuple(replacement.get(o.id, o) if isinstance(o, Value) else o
                                           for o in inst.operands))
        for name in written_variables(inst):  # a write, or a loop or cond writing in its regions
            for key in read_keys.pop(name, ()):
                del seen[key]
        effects = effects_of(inst)
        mergeable = inst.result is not None and inst.op != "feed" and not effects.writes and not effects.random
        if mergeable:
            key = _key(inst)
            if key in seen:
                replacement[inst.result.id] = seen[key]
                continue
            seen[key] = inst.result
            if inst.op == "read":
                read_keys.setdefault(inst.operands[0].name, []).append(key)
        instructions.append(inst)
    fetches = tuple(replacement.get(v.id, v) for v in program.fetches)
    return program.replace(instructions=tuple(instructions), fetches=fetches)
