"""Checks a Program's invariants (listed in `program.py`) and returns it unchanged.

Runs between passes in tests and when GRAPHC_VERIFY=1, so a broken pass is
caught at the pass that broke it, with the instruction at fault in the message.
"""

from __future__ import annotations

from graphc.core import registry
from graphc.core.registry import TensorType
from graphc.ir.printer import format_instruction
from graphc.ir.program import IRType, OpaqueConstant, Program, Value, VarRef


class VerificationError(Exception):
    """The program breaks an IR invariant."""


def verify(program: Program) -> Program:
    """Raises VerificationError at the first broken invariant; returns `program`."""
    declared = {}
    for decl in program.variables:
        if decl.name in declared:
            raise VerificationError(f"@{decl.name} declared twice")
        if decl.kind not in ("var", "rng"):
            raise VerificationError(f"@{decl.name}: unknown declaration kind {decl.kind!r}")
        declared[decl.name] = decl
    defined: dict[int, IRType] = {}
    for inst in program.instructions:
        where = f"in `{format_instruction(inst)}`"
        try:
            op_def = registry.get(inst.op)
        except KeyError:
            raise VerificationError(f"unknown op {inst.op!r} {where}") from None
        if not op_def.in_ir:
            raise VerificationError(f"graph-only op {inst.op!r} in the IR {where}")
        types = []
        for operand in inst.operands:
            if isinstance(operand, Value):
                if operand.id not in defined:
                    raise VerificationError(f"{operand} used before it is defined {where}")
                if defined[operand.id] != operand.type:
                    raise VerificationError(f"{operand} used as {operand.type} but defined as "
                                            f"{defined[operand.id]} {where}")
                types.append(operand.type)
            elif isinstance(operand, VarRef):
                if operand.name not in declared:
                    raise VerificationError(f"{operand} is not declared {where}")
                types.append(declared[operand.name].type)
            else:
                raise VerificationError(f"bad operand {operand!r} {where}")
        _check_result(op_def, inst, types, where)
        if inst.result is not None:
            if inst.result.id in defined:
                raise VerificationError(f"{inst.result} defined twice {where}")
            if inst.result.id >= program.next_id:
                raise VerificationError(f"{inst.result} is not below next_id={program.next_id} {where}")
            defined[inst.result.id] = inst.result.type
    for value in program.fetches:
        if value.id not in defined:
            raise VerificationError(f"fetched {value} is not defined")
    _check_kernels(program)
    return program


def _check_kernels(program: Program) -> None:
    """Each kernel is declared and its instructions are contiguous."""
    finished, current = set(), None
    for inst in program.instructions:
        if inst.kernel != current:
            if current is not None:
                finished.add(current)
            if inst.kernel is not None and inst.kernel in finished:
                raise VerificationError(f"kernel {inst.kernel} is not contiguous (at `{format_instruction(inst)}`)")
            current = inst.kernel
        if inst.kernel is not None and inst.kernel not in program.kernels:
            raise VerificationError(f"kernel {inst.kernel} has no kind (at `{format_instruction(inst)}`)")


def _check_result(op_def, inst, types, where):
    if inst.op == "constant" and isinstance(inst.attrs.get("value"), OpaqueConstant):
        return
    try:
        expected = op_def.infer([TensorType(t.dtype, t.shape) for t in types], inst.attrs)
    except (ValueError, TypeError, KeyError) as e:
        raise VerificationError(f"shape rule of {inst.op} fails: {e} {where}") from None
    if expected is None:
        if inst.result is None:
            raise VerificationError(f"{inst.op} must have a result {where}")
        return
    if isinstance(expected, list):
        if expected:
            expected = expected[0]
        else:
            if inst.result is not None:
                raise VerificationError(f"{inst.op} has no result {where}")
            return
    if inst.result is None:
        raise VerificationError(f"{inst.op} must have a result {where}")
    result = inst.result.type
    if expected.dtype is not result.dtype or expected.dims != result.shape:
        raise VerificationError(f"result type {result} but the shape rule gives {expected} {where}")
