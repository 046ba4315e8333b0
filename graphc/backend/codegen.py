"""Program (fused, with its memory plan) -> LLVM modules exporting one function:

    int32_t graphc_step(void **buffers, graphc_status *status);

`buffers` holds the pointers the memory plan lays out (feeds, variables,
passed-in constants, outputs, arena). The step runs the program's kernels in
order — the kernels of backend/lowering.py's tables — and returns the first
non-zero status code. Reads that the
plan snapshots and writes that stayed out of kernels are copies.

A failed run must leave the variables as they were. Most steps check their
data (labels, divisors) before the first variable write, and need nothing
more; for the others the library exports `graphc_rollback_variables`
({count, index...} in plan order): the variables written at or before a kernel
that can fail (one holding an instruction whose op may fail, an effect the op
registry records), which the executable saves before each run and restores
when the run fails.

The kernels are spread over several modules (one per core, the step function in
the first) so that LLVM compiles them in parallel; each kernel goes to the
module with the least code so far. Kernels outside the first module are
hidden symbols of the library the modules link into.
"""

from __future__ import annotations

import itertools
import os

import llvmlite.ir as ir

from graphc import environment, errors
from graphc.backend import target
from graphc.backend.buffers import Buffers
from graphc.backend.kernel_builder import (I1, I32, I64, PTR, VOID, KernelBuilder, declare, global_string, i64,
                                           runtime_function)
from graphc.backend.kernels import all as _all_kernels  # noqa: F401 - fills the lowering tables
from graphc.backend.lowering import FUSED_KERNELS, KERNELS
from graphc.ir.facts import effects_of, may_fail
from graphc.ir.program import Program, VarRef
from graphc.runtime import abi


class _Partitions:
    """Modules to emit kernels into, each kernel into the one with the least code so far."""

    def __init__(self, program: Program, count: int):
        self.modules = [target.new_module(f"{program.name}.{index}") for index in range(count)]
        self.buffers = [Buffers(module, program) for module in self.modules]
        self.sizes = [0] * count

    def emit(self, emitter, name: str, members: list) -> ir.Function:
        """emitter(module, buffers, name) into the smallest module; returns the function as the
        first module (the step's) sees it."""
        index = self.sizes.index(min(self.sizes))
        module = self.modules[index]
        before = _instruction_count(module)
        function = emitter(module, self.buffers[index], name)
        self.sizes[index] += _instruction_count(module) - before
        if environment.get().verify and _calls(function, "graphc_fail") and not any(may_fail(m) for m in members):
            raise errors.InternalError(None, None, f"kernel {name} can fail, but none of its ops may fail "
                                                   "(Effects.may_fail in the op registry)")
        if index == 0:
            return function
        # External linkage with hidden visibility: llvmlite prints `linkage` where LLVM reads
        # "[linkage] [visibility]", and linkage left out is external.
        function.linkage = "hidden"
        return declare(self.modules[0], function.name, function.function_type.return_type,
                       list(function.function_type.args))


def _calls(function: ir.Function, callee: str) -> bool:
    return any(isinstance(inst, ir.CallInstr) and getattr(inst.callee, "name", None) == callee
               for block in function.blocks for inst in block.instructions)


def _written_variables(members: list) -> set:
    """Variables a kernel changes: those its writes write, and the run counters of its random draws."""
    written = set()
    for inst in members:
        effects = effects_of(inst)
        if effects.writes or effects.random:
            written.add(next(o for o in inst.operands if isinstance(o, VarRef)).name)
    return written


def _export_rollback(module: ir.Module, plan, names: set) -> None:
    indices = sorted(plan.variable_names.index(name) for name in names)
    array_type = ir.ArrayType(I32, len(indices) + 1)
    table = ir.GlobalVariable(module, array_type, name=abi.ROLLBACK_TABLE)
    table.global_constant = True
    table.initializer = ir.Constant(array_type, [len(indices)] + indices)


def _instruction_count(module: ir.Module) -> int:
    return sum(len(block.instructions) for function in module.functions for block in function.blocks)


def partition_count(program: Program) -> int:
    """Modules to compile in parallel: one per core, at most one per kernel."""
    return max(1, min(os.cpu_count() or 1, len(program.kernels)))


def emit_modules(program: Program, count: int = 1) -> list:
    """The LLVM modules for `program` (which must carry a memory plan), `count` of them at most."""
    partitions = _Partitions(program, count)
    module, buffers = partitions.modules[0], partitions.buffers[0]
    plan = program.memory_plan
    step = KernelBuilder(module, abi.STEP_FUNCTION.name, ["buffers", "status"])
    step.function.linkage = "external"
    buffers_arg, status = step.arg("buffers"), step.arg("status")

    def call(function, args, label):
        started = step.b.call(runtime_function(module, "graphc_now_ns"), []) if environment.get().profile else None
        code = step.b.call(function, args)
        if started is not None:
            elapsed = step.b.sub(step.b.call(runtime_function(module, "graphc_now_ns"), []), started)
            record = runtime_function(module, "graphc_profile_record")
            step.b.call(record, [global_string(module, f"{program.name}: {label}"), elapsed])
        with step.b.if_then(step.b.icmp_signed("!=", code, ir.Constant(I32, 0)), likely=False):
            step.b.ret(code)

    def copy(destination, source, nbytes):
        if nbytes:
            memcpy = declare(module, "llvm.memcpy.p0.p0.i64", VOID, [PTR, PTR, I64, I1])
            step.b.call(memcpy, [destination, source, i64(nbytes), ir.Constant(I1, 0)])

    written, rollback = set(), set()
    for kernel, group in itertools.groupby(program.instructions, key=lambda inst: inst.kernel):
        members = list(group)
        if kernel is None:
            for inst in members:
                if inst.op == "read" and inst.result.id in plan.materialized_reads:
                    copy(buffers.value(step, buffers_arg, inst.result),
                         buffers.variable(step, buffers_arg, inst.operands[0].name), inst.result.type.nbytes)
            continue
        kind = program.kernels[kernel]
        name = f"k{kernel}_{kind}"
        label = f"kernel {kernel} {kind} ({members[0].source or members[0].op})"
        if kind in FUSED_KERNELS:
            function = partitions.emit(lambda m, b, n: FUSED_KERNELS[kind](m, n, members, b), name, members)
            call(function, [buffers_arg, status], label)
        elif kind == "copy":
            ref, value = members[0].operands
            copy(buffers.variable(step, buffers_arg, ref.name), buffers.value(step, buffers_arg, value),
                 value.type.nbytes)
        else:  # opaque: one instruction, a kernel of its own
            inst = members[0]
            function = partitions.emit(lambda m, b, n: KERNELS[inst.op](m, n, inst), f"{name}_{inst.op}", members)
            pointers = [buffers.value(step, buffers_arg, inst.result)]
            pointers += [buffers.variable(step, buffers_arg, o.name) if isinstance(o, VarRef)
                         else buffers.value(step, buffers_arg, o) for o in inst.operands]
            if inst.result.id in plan.workspaces:
                pointers.append(buffers.workspace(step, buffers_arg, inst.result))
            call(function, pointers + [status], label)
        written |= _written_variables(members)
        if any(may_fail(inst) for inst in members):
            rollback |= written
    for value_id, output in plan.final_copies:
        value = program.fetches[output]
        destination = step.b.load(step.b.gep(buffers_arg, [i64(plan.output_slot(output))], source_etype=PTR), typ=PTR)
        copy(destination, buffers.value(step, buffers_arg, value), value.type.nbytes)
    step.finish()
    _export_rollback(module, plan, rollback)
    return [m for m, size in zip(partitions.modules, partitions.sizes) if m is module or size]
