"""How each IR op becomes code: three tables, filled in by the modules that write the code.

Which table serves an instruction follows from its op's facts in the registry
(core/registry.py), so no kernel and no pass asks for an op by name:

- SCALAR_OPS (scalar_ops.py): ELEMENTWISE and BROADCAST ops, as the code of
  one element (or of `kb.lanes` of them); fused loops compose these entries.
- KERNELS: ops that are a kernel of their own (OPAQUE and INJECTIVE ops, and
  ops whose fusion class does not hold for their result's dtype, like integer
  matmul): `emit(module, name, inst)` returns `i32 (ptr out, ptr operand...,
  [ptr workspace,] ptr status)`, with a workspace when the op has one (see
  plan_memory).
- FUSED_KERNELS: the kernels fusion forms, by kind (loop, reduce, gemm, conv,
  conv_input_gradient, pool_grad, softmax, conv_max_pool, conv_then_max_pool,
  conv_filter_gradient_sum):
  `emit(module, name, members, buffers)` returns `i32 (ptr buffers, ptr status)`.
  ANCHOR ops name their kind in the registry, as do ops that end a kernel
  (`final_stage`) or join a reduce kernel (`column_sum`).

The state instructions (feed, constant, read, write) are buffers and copies,
placed by codegen. Each kernel module registers what it writes; kernels/all.py
imports them all.
"""

from __future__ import annotations

from typing import Callable

from graphc.backend.scalar_ops import SCALAR_OPS
from graphc.ir.program import STRUCTURED_OPS

KERNELS: dict[str, Callable] = {}
FUSED_KERNELS: dict[str, Callable] = {}
# The IR's own instructions, which codegen handles itself: buffers and copies, a region's params
# (buffers of their structured instruction), and the structured instructions (loops and branches).
STATE_OPS = frozenset({"feed", "constant", "read", "write", "param"}) | STRUCTURED_OPS


def register_kernels(table: dict) -> None:
    """Registers `op name -> emit(module, name, inst)` for ops that are kernels of their own."""
    for op, emit in table.items():
        if op in KERNELS:
            raise ValueError(f"a kernel for {op} is registered twice")
        KERNELS[op] = emit


def fused_kernel(kind: str):
    """Decorator: registers `emit(module, name, members, buffers)` for fused kernels of `kind`."""

    def register(emit):
        if kind in FUSED_KERNELS:
            raise ValueError(f"fused kernels of kind {kind} are registered twice")
        FUSED_KERNELS[kind] = emit
        return emit

    return register


__all__ = ["FUSED_KERNELS", "KERNELS", "SCALAR_OPS", "STATE_OPS", "fused_kernel", "register_kernels"]
