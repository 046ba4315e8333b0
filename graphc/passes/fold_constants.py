"""Constant folding: an instruction whose operands are all constants becomes a constant.

Values come from the reference interpreter, so folding cannot disagree with
what the op means. Gradient graphs are full of shape arithmetic (sizes,
counts, 1/n) that this turns into literals.

Vetoes: stateful ops (reads, writes, random draws) never fold; a result that
is neither small nor a splat stays an instruction (folding would trade a fast
kernel for a large constant); an op that fails on its constant inputs (an
integer division by zero) stays, to fail at run time as TF1 does.

A `cond` whose predicate is a constant becomes the instructions of the region
it takes (their params replaced by the cond's operands), folded in turn.
"""

from __future__ import annotations

import collections

import numpy as np

from graphc import errors
from graphc.core import registry
from graphc.core.registry import FusionClass
from graphc.ir.interpreter import evaluate
from graphc.ir.printer import is_splat
from graphc.ir.program import Program, Value, constant_value

MAX_FOLDED_ELEMENTS = 4096
_SPLAT_PRESERVING = (FusionClass.ELEMENTWISE, FusionClass.BROADCAST, FusionClass.INJECTIVE)


def fold_constants(program: Program) -> Program:
    constants: dict[int, np.ndarray] = {}
    instructions = []
    replacement: dict[int, Value] = {}  # a taken cond's outputs -> the values its region yields
    pending = collections.deque(program.instructions)
    while pending:
        inst = pending.popleft()
        if replacement:
            inst = _renamed(inst, replacement)
        if inst.op == "cond" and inst.operands[0].id in constants:
            # A predicate known when compiling (tf.cond on a constant flag): the region taken, inline.
            region = inst.regions[0] if bool(constants[inst.operands[0].id]) else inst.regions[1]
            params = {p.result.id: inst.operands[p.attrs["index"]] for p in region.instructions if p.op == "param"}
            pending.extendleft(reversed([_renamed(i, params) for i in region.instructions if i.op != "param"]))
            replacement.update((out.id, params.get(v.id, v)) for out, v in zip(inst.outputs, region.results))
            continue
        value = constant_value(inst)
        if value is None and _foldable(inst, constants):
            value = _fold(inst, constants)
            if value is not None:
                inst = inst.replace(op="constant", operands=(), attrs={"value": value})
        if value is not None:
            constants[inst.result.id] = value
        instructions.append(inst)
    fetches = tuple(_resolved(v, replacement) for v in program.fetches)
    return program.replace(instructions=tuple(instructions), fetches=fetches)


def _resolved(operand, replacement: dict):
    """`operand`, or what replaces it (a cond inlined in a cond inlined: chains resolved)."""
    while isinstance(operand, Value) and operand.id in replacement:
        operand = replacement[operand.id]
    return operand


def _renamed(inst, replacement: dict):
    """`inst` using what replaces each of its operands."""
    return inst.replace(operands=tuple(_resolved(o, replacement) for o in inst.operands))


def _foldable(inst, constants) -> bool:
    if inst.result is None or not inst.operands:
        return False
    op_def = registry.get(inst.op)
    if op_def.effects.stateful or op_def.reference is None:
        return False
    return all(getattr(o, "id", None) in constants for o in inst.operands)


def _fold(inst, constants):
    args = [constants[o.id] for o in inst.operands]
    op_def = registry.get(inst.op)
    result_type = inst.result.type
    try:
        if result_type.num_elements <= MAX_FOLDED_ELEMENTS:
            value = np.array(evaluate(inst, args))
            value.flags.writeable = False
            return value
        if op_def.fusion not in _SPLAT_PRESERVING or not all(is_splat(a) for a in args):
            return None
        # A splat in gives a splat out: compute one element, then broadcast it.
        scalars = [a.reshape(-1)[0] if a.size else a.dtype.type(0) for a in args]
        if op_def.fusion is FusionClass.ELEMENTWISE:
            scalar = op_def.reference(*[np.asarray(x) for x in scalars], **inst.attrs)
        else:
            scalar = scalars[0]  # layout ops move elements around; a splat stays itself
    except (errors.OpError, ValueError, ArithmeticError):
        return None
    return np.broadcast_to(np.asarray(scalar, dtype=result_type.dtype.np_dtype), result_type.shape)
