"""Refusing, before any allocation, a step that cannot fit in this machine's memory.

A shape like [100000, 100000] builds fine (shapes are only numbers) but its
float32 tensor is 40 GB. Without a check, NumPy or the arena allocation fails
with a MemoryError naming nothing, or the kernel pages the machine to a halt.
The check runs on the lowered program, before constant folding evaluates
anything, and again on the memory plan; it raises TF1's ResourceExhaustedError
naming the op and its shape.
"""

from __future__ import annotations

import functools
import os

from graphc import errors
from graphc.core.tensor_shape import format_dims_as_list
from graphc.ir.program import Program


@functools.lru_cache(maxsize=None)
def host_memory_bytes() -> int:
    """The machine's physical memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _exhausted(what: str, nbytes: int) -> errors.ResourceExhaustedError:
    return errors.ResourceExhaustedError(
        None, None, f"OOM when allocating {what}: {nbytes} bytes, more than this machine's "
                    f"{host_memory_bytes()} bytes of memory")


def check_values_fit(program: Program) -> None:
    """Every variable and every instruction's result must fit in memory by itself."""
    for decl in program.variables:
        if decl.type.nbytes > host_memory_bytes():
            raise _exhausted(f"variable {decl.name} with shape{format_dims_as_list(decl.type.shape)} and type "
                             f"{decl.type.dtype.name}", decl.type.nbytes)
    for inst in program.instructions:
        result = inst.result
        if result is not None and result.type.nbytes > host_memory_bytes():
            raise _exhausted(f"tensor with shape{format_dims_as_list(result.type.shape)} and type "
                             f"{result.type.dtype.name} for '{inst.source or inst.op}'", result.type.nbytes)


def check_plan_fits(program: Program, plan) -> None:
    """The arena, the variables and the outputs of a planned step must fit in memory together."""
    total = plan.arena_bytes + sum(d.type.nbytes for d in program.variables)
    total += sum(v.type.nbytes for v in program.fetches)
    if total > host_memory_bytes():
        raise _exhausted(f"the step {program.name} (arena, variables and outputs)", total)
