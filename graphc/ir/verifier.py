"""Checks a Program's invariants (listed in `program.py`) and returns it unchanged.

Runs between passes in tests and when GRAPHC_VERIFY=1, so a broken pass is
caught at the pass that broke it, with the instruction at fault in the message.
"""

from __future__ import annotations

from graphc.core import dtypes, registry
from graphc.core.registry import TensorType
from graphc.ir.printer import format_instruction
from graphc.ir.program import STRUCTURED_OPS, IRType, OpaqueConstant, Program, Value, VarRef, walk


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
    _verify_block(program, program.instructions, declared, defined, set(), None)
    for value in program.fetches:
        if value.id not in defined:
            raise VerificationError(f"fetched {value} is not defined")
    _check_kernels(program)
    return program


def _verify_block(program, instructions, declared, defined, all_ids, parent) -> None:
    """Checks `instructions` where `defined` holds the values in scope; `parent` is the structured instruction
    whose region they are (None at the top). `all_ids` gathers every value defined so far, in any region."""
    for inst in instructions:
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
        if inst.op in STRUCTURED_OPS:
            _check_structured(program, inst, declared, all_ids, where)
        elif inst.op == "param":
            _check_param(inst, parent, where)
        else:
            if inst.regions or inst.outputs:
                raise VerificationError(f"{inst.op} has regions or outputs but is no structured instruction {where}")
            _check_result(op_def, inst, types, where)
        for value in inst.defined:
            if value.id in all_ids:
                raise VerificationError(f"{value} defined twice {where}")
            if value.id >= program.next_id:
                raise VerificationError(f"{value} is not below next_id={program.next_id} {where}")
            defined[value.id] = value.type
            all_ids.add(value.id)


# The regions of each structured op, in order, and how many values each yields (None: one per output).
_REGIONS = {"while": ("cond", "body"), "cond": ("then", "else")}


def _check_structured(program, inst, declared, all_ids, where) -> None:
    """A `while` or `cond`: its regions' names, what they yield, and its outputs' types (ir/program.py)."""
    if inst.result is not None:
        raise VerificationError(f"{inst.op} defines outputs, not a result {where}")
    names = tuple(region.name for region in inst.regions)
    if names != _REGIONS[inst.op]:
        raise VerificationError(f"{inst.op} needs regions {', '.join(_REGIONS[inst.op])}, has {names} {where}")
    output_types = [v.type for v in inst.outputs]
    values = [o for o in inst.operands if isinstance(o, Value)]
    if len(values) != len(inst.operands):
        raise VerificationError(f"{inst.op} takes values, not variables {where}")
    scalar_bool = IRType(dtypes.bool_, ())
    if inst.op == "while":
        carried, saved = inst.attrs.get("carried"), inst.attrs.get("saved", ())
        stashed = inst.attrs.get("stashed", 0)
        if not isinstance(carried, int) or carried + len(saved) + stashed != len(inst.outputs) or \
                [v.type for v in values[:carried]] != output_types[:carried]:
            raise VerificationError(f"while: its first {carried} operands must have its first outputs' types {where}")
        for index, rows in zip(saved, inst.outputs[carried:]):
            if rows.type != IRType(output_types[index].dtype, (inst.attrs["rows"],) + output_types[index].shape):
                raise VerificationError(f"while: {rows} must hold {inst.attrs['rows']} rows of loop variable "
                                        f"{index} {where}")
        stash_types = [IRType(t.dtype, t.shape[1:]) for t in output_types[carried + len(saved):]]
        if any(t.shape[:1] != (inst.attrs.get("rows"),) for t in output_types[carried + len(saved):]):
            raise VerificationError(f"while: each stashed body value must have {inst.attrs.get('rows')} rows {where}")
        expected = {"cond": [scalar_bool], "body": output_types[:carried] + stash_types}
    else:
        if not values or values[0].type != scalar_bool:
            raise VerificationError(f"cond: its first operand must be a bool scalar {where}")
        expected = {"then": output_types, "else": output_types}
    for region in inst.regions:
        inner: dict[int, IRType] = {}
        _verify_block(program, region.instructions, declared, inner, all_ids, inst)
        for value in region.results:
            if inner.get(value.id) != value.type:
                raise VerificationError(f"{region.name} yields {value}, not defined in it as {value.type} {where}")
        if [v.type for v in region.results] != expected[region.name]:
            raise VerificationError(f"{region.name} yields {', '.join(str(v.type) for v in region.results)}, "
                                    f"expected {', '.join(str(t) for t in expected[region.name])} {where}")


def _check_param(inst, parent, where) -> None:
    """A region's `param` names an operand of its structured instruction and has its type (a loop
    variable's: its output's)."""
    if parent is None:
        raise VerificationError(f"param outside a region {where}")
    index = inst.attrs.get("index")
    if not isinstance(index, int) or not 0 <= index < len(parent.operands):
        raise VerificationError(f"param index {index} is not an operand of {parent.op} {where}")
    if inst.result is None or inst.result.type != parent.operands[index].type:
        raise VerificationError(f"param {index} must have the type of operand {parent.operands[index]} {where}")


def _check_kernels(program: Program) -> None:
    """Each kernel is declared and its instructions are contiguous."""
    finished, current = set(), None
    for inst in walk(program.instructions):
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
