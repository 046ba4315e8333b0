"""Addresses of values and variables: the step's pointer array read through the memory plan.

The step function (codegen.py) and every fused kernel, `i32 kernel(ptr buffers,
ptr status)`, get `buffers`, the step's pointer array (see passes/plan_memory.py),
from which `Buffers` computes the address of any value with a memory location.
Values the plan keeps in registers exist only inside `ElementwiseBody.evaluate`
(kernels/elementwise.py).
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np

from graphc.backend.kernel_builder import I8, PTR, KernelBuilder, global_array, i64
from graphc.ir.memory_plan import Place
from graphc.ir.program import Program, Value, walk


class Buffers:
    """Addresses of values and variables, from the step's pointer array and the memory plan."""

    def __init__(self, module: ir.Module, program: Program):
        self.module = module
        self.plan = program.memory_plan
        self.constants = {inst.result.id: inst.attrs["value"] for inst in walk(program.instructions)
                          if inst.op == "constant"}
        # A region's param standing for a constant is that constant (plan_memory's aliases).
        self.constants.update((param, self.constants[value]) for param, value in self.plan.aliases.items()
                              if value in self.constants)
        self._globals: dict[int, ir.GlobalVariable] = {}

    def in_memory(self, value: Value) -> bool:
        """Whether `value` has an address (the plan does not keep it in registers)."""
        return self.plan.in_memory(value.id)

    def _slot(self, kb: KernelBuilder, buffers, slot: int):
        return kb.b.load(kb.b.gep(buffers, [i64(slot)], source_etype=PTR), typ=PTR)

    def value(self, kb: KernelBuilder, buffers, value: Value):
        """A pointer to `value`'s first element."""
        location = self.plan.locations[value.id]
        if location.place is Place.INLINE:
            return self._global_constant(value)
        if location.place is Place.REGISTER:
            raise AssertionError(f"{value} lives in registers, not memory")
        if value.id in self.plan.rows:
            raise AssertionError(f"{value} lives in a row the step picks when it runs (codegen's addresses)")
        base = self._slot(kb, buffers, self.plan.slot(location))
        if location.place is Place.ARENA and location.offset:
            base = kb.b.gep(base, [i64(location.offset)], source_etype=I8)
        # Values that share arena space are never live in one kernel, or are one buffer (an epilogue's value
        # computed in its product's, passes/shared_storage.py): the location is the buffer, one alias scope.
        kb.tag(base, (self.plan.slot(location), location.offset))
        return base

    def workspace(self, kb: KernelBuilder, buffers, result: Value):
        """A pointer to the workspace of the op computing `result` (see plan_memory)."""
        offset = self.plan.workspaces[result.id]
        base = self._slot(kb, buffers, self.plan.arena_slot)
        return kb.b.gep(base, [i64(offset)], source_etype=I8) if offset else base

    def variable(self, kb: KernelBuilder, buffers, name: str):
        """A pointer to the variable `name`'s first element."""
        pointer = self._slot(kb, buffers, self.plan.variable_slot(name))
        kb.tag(pointer, (self.plan.variable_slot(name), 0))
        return pointer

    def _global_constant(self, value: Value):
        if value.id in self._globals:
            return self._globals[value.id]
        flat = np.asarray(self.constants[value.id]).reshape(-1)
        variable = global_array(self.module, f"const{value.id}", value.type.dtype, flat)
        self._globals[value.id] = variable
        return variable
