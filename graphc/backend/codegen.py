"""Program (with its memory plan) -> LLVM module exporting one function:

    int32_t graphc_step(void **buffers, graphc_status *status);

`buffers` holds the pointers the memory plan lays out (feeds, variables,
passed-in constants, outputs, arena). The step calls one kernel per
instruction in program order and returns the first non-zero status code.
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np

from graphc.backend import target
from graphc.backend.kernel_builder import I1, I8, I32, I64, PTR, declare, i64, memory_type
from graphc.backend.lowerings import LOWERINGS
from graphc.ir.program import Program, Value, VarRef

STEP_FUNCTION = "graphc_step"


def emit_module(program: Program) -> ir.Module:
    """The LLVM module for `program`; it must carry a memory plan."""
    return _StepEmitter(program).emit()


class _StepEmitter:
    def __init__(self, program: Program):
        self.program = program
        self.plan = program.annotations["memory_plan"]
        self.module = ir.Module(name=program.name)
        triple, _, _ = target.host()
        self.module.triple = triple
        self.module.data_layout = str(target.target_machine().target_data)
        self.constants = {inst.result.id: inst.attrs["value"] for inst in program.instructions
                          if inst.op == "constant"}
        self.globals: dict[int, ir.GlobalVariable] = {}

    def emit(self) -> ir.Module:
        fn = ir.Function(self.module, ir.FunctionType(I32, [PTR, PTR]), STEP_FUNCTION)
        buffers, self.status = fn.args
        buffers.name, self.status.name = "buffers", "status"
        self.fn = fn
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.bases = [self.b.load(self.b.gep(buffers, [i64(i)], source_etype=PTR), typ=PTR, name=f"slot{i}")
                      for i in range(self.plan.slot_count)]
        for index, inst in enumerate(self.program.instructions):
            self._instruction(index, inst)
        for value_id, output in self.plan.final_copies:
            value = self.program.fetches[output]
            self._copy(self.bases[self.plan.output_slot(output)], self._pointer(value), value.type.nbytes)
        self.b.ret(ir.Constant(I32, 0))
        return self.module

    # -- buffers ------------------------------------------------------------------------------

    def _pointer(self, value: Value):
        location = self.plan.locations[value.id]
        if location.kind == "inline":
            return self._global_constant(value)
        base = self.bases[self.plan.slot(location)]
        if location.kind == "arena" and location.offset:
            return self.b.gep(base, [i64(location.offset)], source_etype=I8)
        return base

    def _variable_pointer(self, ref: VarRef):
        return self.bases[self.plan.variable_slot(ref.name)]

    def _global_constant(self, value: Value):
        if value.id in self.globals:
            return self.globals[value.id]
        array = np.asarray(self.constants[value.id])
        dtype = value.type.dtype
        element_type = memory_type(dtype)
        count = max(value.type.num_elements, 1)
        array_type = ir.ArrayType(element_type, count)
        variable = ir.GlobalVariable(self.module, array_type, f"const{value.id}")
        variable.global_constant = True
        variable.linkage = "private"
        variable.align = 64
        flat = array.reshape(-1)
        if flat.size == 0 or not np.any(flat):
            variable.initializer = ir.Constant(array_type, None)
        else:
            if dtype.is_floating:
                items = [ir.Constant(element_type, float(x)) for x in flat]
            else:
                items = [ir.Constant(element_type, int(x)) for x in flat]
            variable.initializer = ir.Constant(array_type, items)
        self.globals[value.id] = variable
        return variable

    def _copy(self, destination, source, nbytes: int) -> None:
        if nbytes == 0:
            return
        memcpy = declare(self.module, "llvm.memcpy.p0.p0.i64", ir.VoidType(), [PTR, PTR, I64, I1])
        self.b.call(memcpy, [destination, source, i64(nbytes), ir.Constant(I1, 0)])

    # -- instructions ----------------------------------------------------------------------------

    def _instruction(self, index: int, inst) -> None:
        if inst.op in ("feed", "constant"):
            return
        if inst.op == "read":
            if inst.result.id in self.plan.materialized_reads:
                self._copy(self._pointer(inst.result), self._variable_pointer(inst.operands[0]),
                           inst.result.type.nbytes)
            return
        if inst.op == "write":
            ref, value = inst.operands
            location = self.plan.locations[value.id]
            if not (location.kind == "var" and self.plan.slot(location) == self.plan.variable_slot(ref.name)):
                self._copy(self._variable_pointer(ref), self._pointer(value), value.type.nbytes)
            return
        kernel = LOWERINGS[inst.op](self.module, f"k{index}_{inst.op}", inst)
        args = [self._pointer(inst.result)]
        for operand in inst.operands:
            args.append(self._variable_pointer(operand) if isinstance(operand, VarRef) else self._pointer(operand))
        code = self.b.call(kernel, args + [self.status])
        failed = self.b.icmp_signed("!=", code, ir.Constant(I32, 0))
        with self.b.if_then(failed, likely=False):
            self.b.ret(code)

