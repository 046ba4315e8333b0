"""Algebraic simplification: a table of local rewrite rules, applied to a fixed point.

Each rule looks at one instruction (and the definitions of its operands) and
returns either an existing value that equals its result (the instruction's
uses then read that value instead) or None. Rules never change a result's
type and never drop an operation whose result would differ for NaN or
infinite inputs (x * 0 is not 0 for x = inf, so there is no such rule). One
liberty, as XLA takes it: x + 0 -> x turns -0.0 + 0.0 (= +0.0) into -0.0.
"""

from __future__ import annotations

from typing import Callable, Optional

from graphc.ir.program import Instruction, Program, Value, constant_value
from graphc.ir.printer import is_splat


def _splat_of(value: Value, definitions: dict):
    """The one element of a splat constant, or None."""
    inst = definitions.get(value.id)
    array = constant_value(inst) if inst is not None else None
    if array is None or array.size == 0 or not is_splat(array):
        return None
    return array.reshape(-1)[0]


def _same_type(a: Value, b: Value) -> bool:
    return a.type == b.type


def _identity_operand(identity_element, commutative: bool):
    """x op e -> x (and e op x -> x when commutative), when the result keeps x's type."""

    def rule(inst: Instruction, definitions: dict) -> Optional[Value]:
        x, y = inst.operands
        if _splat_of(y, definitions) == identity_element and _same_type(x, inst.result):
            return x
        if commutative and _splat_of(x, definitions) == identity_element and _same_type(y, inst.result):
            return y
        return None

    return rule


def _involution(inst: Instruction, definitions: dict) -> Optional[Value]:
    """neg(neg(x)) -> x; logical_not(logical_not(x)) -> x."""
    inner = definitions.get(inst.operands[0].id)
    if inner is not None and inner.op == inst.op:
        return inner.operands[0]
    return None


def _to_own_type(inst: Instruction, definitions: dict) -> Optional[Value]:
    """reshape/broadcast_to/cast/identity-like ops to the operand's own type -> the operand."""
    x = inst.operands[0]
    return x if _same_type(x, inst.result) else None


def _reduce_nothing(inst: Instruction, definitions: dict) -> Optional[Value]:
    """A reduction over no axes (or only size-1 axes kept) is the operand."""
    x = inst.operands[0]
    axes = inst.attrs["axes"]
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    if all(x.type.shape[a] == 1 for a in axes) and _same_type(x, inst.result):
        return x
    return None


def _transpose_identity(inst: Instruction, definitions: dict) -> Optional[Value]:
    """transpose(x, identity permutation) -> x; transpose(transpose(x, p), q) with q∘p = id -> x."""
    perm = tuple(inst.attrs["perm"])
    if perm == tuple(range(len(perm))):
        return inst.operands[0]
    inner = definitions.get(inst.operands[0].id)
    if inner is not None and inner.op == "transpose":
        composed = tuple(inner.attrs["perm"][p] for p in perm)
        if composed == tuple(range(len(composed))):
            return inner.operands[0]
    return None


def _reshape_chain(inst: Instruction, definitions: dict) -> Optional[Value]:
    """reshape(reshape(x)) to x's shape -> x (other chains keep the outer reshape)."""
    inner = definitions.get(inst.operands[0].id)
    if inner is not None and inner.op == "reshape" and _same_type(inner.operands[0], inst.result):
        return inner.operands[0]
    return None


RULES: dict[str, list[Callable]] = {
    "mul": [_identity_operand(1, commutative=True)],      # x*1 -> x, 1*x -> x
    "add": [_identity_operand(0, commutative=True)],      # x+0 -> x, 0+x -> x
    "sub": [_identity_operand(0, commutative=False)],     # x-0 -> x
    "div": [_identity_operand(1, commutative=False)],     # x/1 -> x
    "neg": [_involution],                                 # --x -> x
    "logical_not": [_involution],                         # !!x -> x
    "reshape": [_to_own_type, _reshape_chain],            # reshape to own shape; reshape chains
    "broadcast_to": [_to_own_type],                       # broadcast to own shape
    "cast": [_to_own_type],                               # cast to own dtype
    "transpose": [_transpose_identity],                   # identity and inverse transposes
    "reduce_sum": [_reduce_nothing],                      # sum over no axes
    "reduce_mean": [_reduce_nothing],
    "reduce_max": [_reduce_nothing],
    "reduce_min": [_reduce_nothing],
}


def simplify(program: Program) -> Program:
    """Applies RULES until nothing changes; replaced instructions are dropped (their uses
    now read the replacement), so the rules never leave dead code behind."""
    while True:
        definitions = program.definitions()
        replacement: dict[int, Value] = {}
        for inst in program.instructions:
            rules = RULES.get(inst.op)
            if not rules or inst.result is None:
                continue
            operands_now = tuple(replacement.get(o.id, o) if isinstance(o, Value) else o for o in inst.operands)
            current = inst.replace(operands=operands_now)
            for rule in rules:
                value = rule(current, definitions)
                if value is not None:
                    replacement[inst.result.id] = replacement.get(value.id, value)
                    break
        if not replacement:
            return program
        program = _substitute(program, replacement)


def _substitute(program: Program, replacement: dict) -> Program:
    def resolve(value):
        while isinstance(value, Value) and value.id in replacement:
            value = replacement[value.id]
        return value

    instructions = tuple(inst.replace(operands=tuple(resolve(o) for o in inst.operands))
                         for inst in program.instructions if inst.result is None or inst.result.id not in replacement)
    return program.replace(instructions=instructions, fetches=tuple(resolve(v) for v in program.fetches))

