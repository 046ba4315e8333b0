"""Refusing, before any allocation, a step that cannot fit in this machine's memory.

A shape like [100000, 100000] builds fine (shapes are only numbers) but its
float32 tensor is 40 GB. Without a check, NumPy or the arena allocation fails
with a MemoryError naming nothing, or the kernel pages the machine to a halt.
The checks are passes that change nothing: one runs on the lowered program,
before constant folding evaluates anything, the other on the memory plan; it raises TF1's ResourceExhaustedError
naming the op and its shape.
"""

from __future__ import annotations

from graphc import errors
from graphc.core import machine
from graphc.core.tensor_shape import format_dims_as_list
from graphc.ir.program import Program, walk


def _exhausted(what: str, nbytes: int) -> errors.ResourceExhaustedError:
    return errors.ResourceExhaustedError(
        None, None, f"OOM when allocating {what}: {nbytes} bytes, more than this machine's "
                    f"{machine.memory_bytes()} bytes of memory")


def check_values_fit(program: Program) -> Program:
    """Every variable and every instruction's result must fit in memory by itself (the program, unchanged)."""
    for decl in program.variables:
        if decl.type.nbytes > machine.memory_bytes():
            raise _exhausted(f"variable {decl.name} with shape{format_dims_as_list(decl.type.shape)} and type "
                             f"{decl.type.dtype.name}", decl.type.nbytes)
    for inst in walk(program.instructions):
        for result in inst.defined:
            if result.type.nbytes <= machine.memory_bytes():
                continue
            raise _exhausted(f"tensor with shape{format_dims_as_list(result.type.shape)} and type "
                             f"{result.type.dtype.name} for '{inst.source or inst.op}'", result.type.nbytes)
    return program


def check_plan_fits(program: Program) -> Program:
    """The arena, the variables and the outputs of a planned step must fit in memory together
    (the program, unchanged)."""
    total = program.memory_plan.arena_bytes + sum(d.type.nbytes for d in program.variables)
    total += sum(v.type.nbytes for v in program.fetches)
    if total > machine.memory_bytes():
        raise _exhausted(f"the step {program.name} (arena, variables and outputs)", total)
    return program
