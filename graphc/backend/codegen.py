"""Program (fused, with its memory plan) -> LLVM modules exporting one function:

    int32_t graphc_step(void **buffers, graphc_status *status);

`buffers` holds the pointers the memory plan lays out (feeds, variables,
passed-in constants, outputs, arena). The step runs the program's kernels in
order — the kernels of backend/lowering.py's tables — and returns the first
non-zero status code. Reads that the plan snapshots and writes that stayed out
of kernels are copies. It also exports `graphc_steps`, the step run N times
over N batches in one call (a loop around graphc_step: `sess.run(..., steps=N)`).

A failed run must leave the variables as they were. Most steps check their
data (labels, divisors) before the first variable write, and need nothing
more; for the others the library exports `graphc_rollback_variables`
({count, index...} in plan order): the variables written at or before a kernel
that can fail (one holding an instruction whose op may fail, an effect the op
registry records), which the executable saves before each run and restores
when the run fails.

Compile time grows with the size of the largest function LLVM optimizes, and
faster than linearly, so no function grows with the program:

- kernels that compute alike are one function (kernel_signatures.py): a fused
  kernel reads its addresses from a pointer table the step fills before the
  call, so the layers of a deep network share their kernels;
- the step's calls are split into parts of at most PART_COST table stores and
  calls each, functions `graphc_step_partN` that graphc_step calls in turn
  (a small step is one part: graphc_step itself);
- fusion bounds the size of a fused kernel (passes/fuse.py).

The functions are spread over several modules so that LLVM compiles them in
parallel, and starts on the first ones while the next are still being emitted:
each function goes to its group's open module (kernels at KERNEL_SPEED_LEVEL,
O3; the parts of a step that has several at PARTS_SPEED_LEVEL), which is handed
to `ready` once its code reaches MODULE_COST (counted as FUNCTION_COST says);
graphc_step comes last, with the modules still open. Every function a module
defines but the step's exports is a hidden symbol of the library the modules
link into (another module calls it); no function is inlined into another.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import NamedTuple

import llvmlite.ir as ir

from graphc import environment, errors
from graphc.backend import target
from graphc.backend.buffers import Buffers
from graphc.backend.kernel_builder import (I1, I8, I32, I64, PTR, VOID, KernelBuilder, declare, global_string, i64,
                                           runtime_function)
from graphc.backend.kernel_signatures import Signatures, TableBuffers, entry_address
from graphc.backend.kernels import all as _all_kernels  # noqa: F401 - fills the lowering tables
from graphc.backend.lowering import FUSED_KERNELS, KERNELS
from graphc.backend.scalar_ops import convert
from graphc.core import dtypes
from graphc.ir.facts import effects_of, may_fail
from graphc.ir.memory_plan import Place
from graphc.ir.program import Program, Value, VarRef, walk
from graphc.runtime import abi

# Table stores and calls in one part of the step. LLVM's time on a function grows faster
# than its size: the 3,333 calls of a 10,000-op chain took 2.4 s to optimize (O1) as one
# function, 1.0 s in parts of this cost, 1.5 s in parts of 4096.
PART_COST = 1024
KERNEL_SPEED_LEVEL = 3
# The parts of a large step are stores, calls and copies, with nothing to vectorize, in long
# basic blocks, on which LLVM's optimizing code generator is superlinear: the 2,000 copies
# of a 1,000-layer network's initializer took 18 s to assemble at level 2, 8 s at 1, and
# 0.05 s at 0 (fast instruction selection). The calls they make dominate the time they take.
PARTS_SPEED_LEVEL = 0
# A module's code, as it is counted: each function it defines costs this many instructions on top of
# its own. LLVM's time on a function is about 8 ms plus 0.057 ms an instruction (O3, the CNN step's 44
# functions each compiled alone, least squares): a GEMM's epilogue of 40 instructions takes as long as
# a loop nest of 300.
FUNCTION_COST = 140
# A module is handed to LLVM once its code counts this much (a module of the CNN step is then 30-100 ms
# of LLVM's time at O3). Smaller modules start sooner and share the work between the workers more
# evenly (they take the next module as they finish one), but each costs LLVM about 2 ms of its own
# (parsing, a target machine, the pipeline's set-up): see docs/performance-notes.md ("streamed to LLVM").
MODULE_COST = 1000


@dataclass(frozen=True)
class _Call:
    """A kernel call: pointers passed as `arguments` (kernels of their own) or in a `table` (fused kernels)."""

    function: ir.Function
    arguments: tuple   # entries, as in kernel_signatures.Signature.entries
    table: tuple
    label: str
    fused: bool

    @property
    def cost(self) -> int:
        return 1 + len(self.arguments) + len(self.table)


@dataclass(frozen=True)
class _Copy:
    """A copy of `nbytes` between two entries (or ("output", index), a fetch's buffer)."""

    destination: tuple
    source: tuple
    nbytes: int
    cost = 1


class EmittedModule(NamedTuple):
    """An LLVM module, and the optimization level (0-3) to compile it at."""

    module: ir.Module
    speed_level: int


class _Modules:
    """The modules functions are emitted into: each group (speed level) fills one open module at a time,
    handed to `ready(EmittedModule)` once its code reaches MODULE_COST, and the rest by `finish`."""

    def __init__(self, program: Program, ready=None):
        self.program, self.ready = program, ready
        self.modules, self.buffers, self.sizes, self.levels = [], [], [], []
        self.open: dict = {}  # speed level -> index of its open module
        self.home: dict = {}  # function name -> index of the module defining it

    def current(self, speed_level: int) -> int:
        """The index of the open module of `speed_level`, made if there is none."""
        if speed_level not in self.open:
            self.open[speed_level] = len(self.modules)
            self.modules.append(target.new_module(f"{self.program.name}.{len(self.modules)}"))
            self.buffers.append(Buffers(self.modules[-1], self.program))
            self.sizes.append(0)
            self.levels.append(speed_level)
        return self.open[speed_level]

    def emit(self, emitter, index=None, speed_level: int = KERNEL_SPEED_LEVEL) -> ir.Function:
        """emitter(module, buffers) into module `index` (open until `finish`), by default the open module of
        `speed_level`, which goes to LLVM if this function fills it; returns the function."""
        filling = index is None
        if filling:
            index = self.current(speed_level)
        module = self.modules[index]
        before = len(module.globals)
        function = emitter(module, self.buffers[index])
        new_globals = itertools.islice(reversed(module.globals.values()), len(module.globals) - before)
        self.sizes[index] += sum(FUNCTION_COST + sum(len(block.instructions) for block in f.blocks)
                                 for f in new_globals if isinstance(f, ir.Function) and f.blocks)
        self.home[function.name] = index
        # Inlined into their callers, kernels and parts would make the step's functions as
        # large as the program again.
        function.attributes.add("noinline")
        if function.linkage == "internal":
            # Called from another module, maybe emitted after this one is in LLVM's hands: external
            # linkage with hidden visibility (llvmlite prints `linkage` where LLVM reads "[linkage]
            # [visibility]", and linkage left out is external).
            function.linkage = "hidden"
        if filling and self.sizes[index] >= MODULE_COST:
            self._close(speed_level)
        return function

    def _close(self, speed_level: int) -> None:
        index = self.open.pop(speed_level)
        if self.ready is not None:
            self.ready(EmittedModule(self.modules[index], self.levels[index]))

    def reference(self, function: ir.Function, index: int) -> ir.Function:
        """`function` as module `index` calls it: itself, or a declaration of it."""
        if self.home[function.name] == index:
            return function
        return declare(self.modules[index], function.name, function.function_type.return_type,
                       list(function.function_type.args))

    def finish(self) -> list:
        """Hands the open modules to `ready`; returns every module with code in it, as EmittedModules."""
        for speed_level in sorted(self.open, key=self.open.__getitem__):
            self._close(speed_level)
        return [EmittedModule(module, level) for module, level, size in zip(self.modules, self.levels, self.sizes)
                if size]


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
    indices = sorted(map(plan.variable_index, names))
    array_type = ir.ArrayType(I32, len(indices) + 1)
    table = ir.GlobalVariable(module, array_type, name=abi.ROLLBACK_TABLE)
    table.global_constant = True
    table.initializer = ir.Constant(array_type, [len(indices)] + indices)


def partition_count(program: Program) -> int:
    """Processes to compile the modules in: one per core, at most one per kernel."""
    return max(1, min(os.cpu_count() or 1, len(program.kernels)))


def emit_modules(program: Program, profiled: bool = False, ready=None) -> list:
    """The EmittedModules for `program` (which must carry a memory plan), each also handed to
    `ready(EmittedModule)` as soon as it is whole, while the next are emitted. A `profiled` step times
    each kernel call (graphc_profile_record, with the kernel's `kernel_labels` label)."""
    modules = _Modules(program, ready)
    actions, rollback = _actions(program, modules)
    parts = _split(actions)
    # The step's functions come after every kernel, into the kernel module still open (the CNN
    # step's graphc_step alone takes 15-25 ms of LLVM's time).
    home = modules.current(KERNEL_SPEED_LEVEL)
    if len(parts) == 1:
        step = modules.emit(lambda module, buffers: _emit_part(module, buffers, modules, home, abi.STEP_FUNCTION.name,
                                                               parts[0], program.name, profiled), index=home)
    else:
        functions = []
        for number, part in enumerate(parts):
            name = f"{abi.STEP_FUNCTION.name}_part{number}"
            functions.append(modules.emit(lambda module, buffers: _emit_part(
                module, buffers, modules, modules.modules.index(module), name, part, program.name, profiled),
                speed_level=PARTS_SPEED_LEVEL))
        step = modules.emit(lambda module, buffers: _emit_step_of_parts(module, modules, home, functions),
                            index=home)
    modules.emit(lambda module, buffers: _emit_repeated_step(module, program, step, rollback), index=home)
    _export_rollback(modules.modules[home], program.memory_plan, rollback)
    return modules.finish()


def _kernel_label(kernel: int, kind: str, members: list) -> str:
    return f"kernel {kernel} {kind} ({members[0].source or members[0].op})"


def kernel_labels(program: Program) -> dict:
    """{label a profiled step records for a kernel: (kind, the graph ops its instructions come from)}."""
    labels = {}
    for kernel, group in itertools.groupby(walk(program.instructions), key=lambda inst: inst.kernel):
        members = list(group)
        if kernel is not None and program.kernels[kernel] != "copy":
            sources = tuple(dict.fromkeys(inst.source for inst in members if inst.source))
            labels[f"{program.name}: {_kernel_label(kernel, program.kernels[kernel], members)}"] = (
                program.kernels[kernel], sources)
    return labels


def _actions(program: Program, modules: _Modules) -> tuple:
    """The step's calls and copies in order, emitting each kernel the first time its signature comes;
    and the variables to roll back when a run fails."""
    maker = _ActionMaker(program, modules)
    actions = maker.block(program.instructions)
    for value_id, output in program.memory_plan.final_copies:
        value = program.fetches[output]
        actions.append(_Copy(("output", output), ("value", value), value.type.nbytes))
    return actions, maker.rollback


class _ActionMaker:
    """Turns instructions into actions; a structured instruction's regions into nested ones."""

    def __init__(self, program: Program, modules: _Modules):
        self.program, self.modules, self.plan = program, modules, program.memory_plan
        self.signatures = Signatures(modules.buffers[modules.current(KERNEL_SPEED_LEVEL)])
        self.shared: dict = {}  # signature key -> function
        self.written, self.rollback = set(), set()

    def block(self, instructions) -> list:
        program, plan, modules, shared = self.program, self.plan, self.modules, self.shared
        actions = []
        for kernel, group in itertools.groupby(instructions, key=lambda inst: inst.kernel):
            members = list(group)
            if kernel is None:
                actions += [_Copy(("value", inst.result), ("variable", inst.operands[0].name),
                                  inst.result.type.nbytes)
                            for inst in members if inst.op == "read" and inst.result.id in plan.materialized_reads]
                continue
            kind = program.kernels[kernel]
            name = f"k{kernel}_{kind}"
            label = _kernel_label(kernel, kind, members)
            if kind in FUSED_KERNELS:
                signature = self.signatures.fused(kind, members)
                if signature.key not in shared:
                    shared[signature.key] = _emit_kernel(modules, lambda m, b: FUSED_KERNELS[kind](
                        m, name, members, TableBuffers(b, signature)), name, members)
                actions.append(_Call(shared[signature.key], (), signature.entries, label, fused=True))
            elif kind == "copy":
                ref, value = members[0].operands
                actions.append(_Copy(("variable", ref.name), ("value", value), value.type.nbytes))
            elif kind == "while":
                actions.append(self._loop(members[0]))
            elif kind == "cond":
                actions.append(self._branch(members[0]))
            elif members[0].result is not None and members[0].result.id in plan.elided:
                continue  # a view, or a concat whose operands were computed in place: nothing to run
            else:  # opaque: one instruction, a kernel of its own
                inst = members[0]
                key = self.signatures.opaque(inst)
                if key not in shared:
                    shared[key] = _emit_kernel(modules, lambda m, b: KERNELS[inst.op](m, f"{name}_{inst.op}", inst),
                                               name, members)
                arguments = [("value", inst.result)]
                arguments += [("variable", o.name) if isinstance(o, VarRef) else ("value", o) for o in inst.operands]
                if inst.result.id in plan.workspaces:
                    arguments.append(("workspace", inst.result))
                actions.append(_Call(shared[key], tuple(arguments), (), label, fused=False))
            self.written |= _written_variables(members)
            if any(may_fail(inst) for inst in walk(members)):
                self.rollback |= self.written
        return actions

    def _copy(self, destination: Value, source: Value) -> list:
        """A copy between two values' buffers, none if they are one buffer."""
        if self.plan.locations[source.id].place is not Place.INLINE and \
                entry_address(self.plan, ("value", destination)) == entry_address(self.plan, ("value", source)):
            return []
        return [_Copy(("value", destination), ("value", source), source.type.nbytes)]

    def _loop(self, inst) -> "_Loop":
        cond, body = inst.regions
        carried = inst.attrs["carried"]
        state = inst.outputs[:carried]
        enter = [c for out, init in zip(state, inst.operands) for c in self._copy(out, init)]
        saved = inst.attrs.get("saved", ())
        rows = [(state[index], history) for index, history in zip(saved, inst.outputs[carried:])]
        stashes = tuple(zip(body.results[carried:], inst.outputs[carried + len(saved):]))
        staged, update = [], []
        for out, result in zip(state, body.results):
            if out.id in self.plan.staging:
                staged.append(_Copy(("staging", out), ("value", result), result.type.nbytes))
                update.append(_Copy(("value", out), ("staging", out), result.type.nbytes))
            else:
                update += self._copy(out, result)
        return _Loop(tuple(enter), tuple(self.block(cond.instructions)), cond.results[0], tuple(rows),
                     tuple(self.block(body.instructions)), stashes, tuple(staged + update))

    def _branch(self, inst) -> "_Branch":
        arms = []
        for region in inst.regions:
            copies = [c for out, result in zip(inst.outputs, region.results) for c in self._copy(out, result)]
            arms.append(tuple(self.block(region.instructions)) + tuple(copies))
        return _Branch(inst.operands[0], arms[0], arms[1])


@dataclass(frozen=True)
class _Loop:
    """A native loop: `enter` copies the first values into the loop variables; then, while the cond
    actions compute a true `condition`, each loop variable saved for a gradient is copied to its row,
    the body actions run, each body value stashed for a gradient is copied to its row and `update`
    copies their results to the loop variables."""

    enter: tuple
    cond: tuple
    condition: Value
    rows: tuple      # (loop variable, its rows buffer)
    body: tuple
    stashes: tuple   # (body value, its rows buffer)
    update: tuple

    @property
    def cost(self) -> int:
        return len(self.enter) + len(self.update) + sum(a.cost for a in self.cond + self.body) + 4


@dataclass(frozen=True)
class _Branch:
    """A native branch on `predicate`: the actions of `then` (its results copied to the outputs) or
    of `otherwise`."""

    predicate: Value
    then: tuple
    otherwise: tuple

    @property
    def cost(self) -> int:
        return sum(a.cost for a in self.then + self.otherwise) + 2


def _emit_kernel(modules: _Modules, emitter, name: str, members: list) -> ir.Function:
    function = modules.emit(emitter)
    if environment.get().verify and _calls(function, "graphc_fail") and not any(may_fail(m) for m in members):
        raise errors.InternalError(None, None, f"kernel {name} can fail, but none of its ops may fail "
                                               "(Effects.may_fail in the op registry)")
    return function


def _split(actions: list) -> list:
    """The actions in consecutive parts of at most PART_COST each (an action costlier than that alone)."""
    parts, cost = [[]], 0
    for action in actions:
        if parts[-1] and cost + action.cost > PART_COST:
            parts.append([])
            cost = 0
        parts[-1].append(action)
        cost += action.cost
    return parts


def _calls_in(actions) -> list:
    """The calls among `actions`, inside loops and branches too."""
    calls = []
    for action in actions:
        if isinstance(action, _Call):
            calls.append(action)
        elif isinstance(action, _Loop):
            calls += _calls_in(action.cond + action.body)
        elif isinstance(action, _Branch):
            calls += _calls_in(action.then + action.otherwise)
    return calls


def _emit_part(module: ir.Module, buffers: Buffers, modules: _Modules, index: int, name: str, actions: list,
               program_name: str, profiled: bool) -> ir.Function:
    """`i32 name(ptr buffers, ptr status)`: runs `actions`, returning the first non-zero status."""
    kb = KernelBuilder(module, name, ["buffers", "status"])
    if name == abi.STEP_FUNCTION.name:
        kb.function.linkage = "external"
    table_size = max((len(action.table) for action in _calls_in(actions)), default=0)
    table = kb.local_array(PTR, table_size) if table_size else None
    _PartEmitter(kb, module, modules, index, buffers, table, program_name, profiled).emit(actions)
    return kb.finish()


class _PartEmitter:
    """Emits actions into a part of the step; loops and branches as blocks of the part's function."""

    def __init__(self, kb, module, modules, index, buffers, table, program_name, profiled):
        self.kb, self.module, self.modules, self.index = kb, module, modules, index
        self.table, self.program_name, self.profiled = table, program_name, profiled
        self.table_slots: dict = {}  # index -> its address in the table
        self.address = _Addresses(kb, buffers)

    def emit(self, actions) -> None:
        for action in actions:
            if isinstance(action, _Copy):
                self._copy(action)
            elif isinstance(action, _Loop):
                self._loop(action)
            elif isinstance(action, _Branch):
                self._branch(action)
            else:
                self._call(action)

    def _nested(self, actions) -> None:
        """Emits `actions` in a block of their own: addresses loaded there do not reach the blocks after it."""
        slots, table_slots = dict(self.address.slots), dict(self.table_slots)
        self.emit(actions)
        self.address.slots, self.table_slots = slots, table_slots

    def _copy(self, action: _Copy) -> None:
        if action.nbytes:
            self._memcpy(self.address(action.destination), self.address(action.source), i64(action.nbytes))

    def _memcpy(self, destination, source, nbytes) -> None:
        memcpy = declare(self.module, "llvm.memcpy.p0.p0.i64", VOID, [PTR, PTR, I64, I1])
        self.kb.b.call(memcpy, [destination, source, nbytes, ir.Constant(I1, 0)])

    def _flag(self, value: Value):
        return self.kb.b.icmp_unsigned("!=", self.kb.b.load(self.address(("value", value)), typ=I8), ir.Constant(I8, 0))

    def _loop(self, loop: _Loop) -> None:
        kb, b = self.kb, self.kb.b
        self.emit(loop.enter)
        iteration = kb.variable(I64, i64(0)) if loop.rows or loop.stashes else None
        header = kb.function.append_basic_block("while.cond")
        body = kb.function.append_basic_block("while.body")
        done = kb.function.append_basic_block("while.done")
        b.branch(header)
        b.position_at_end(header)
        slots, table_slots = dict(self.address.slots), dict(self.table_slots)
        self.emit(loop.cond)  # the cond block dominates the body and what follows the loop
        b.cbranch(self._flag(loop.condition), body, done)
        b.position_at_end(body)
        if iteration is not None:
            count = kb.get(iteration, I64)
            self._copy_rows(loop.rows, count)
            kb.set(iteration, b.add(count, i64(1)))
        in_rows = [pair for pair in loop.stashes if _stashed_in_row(self.address.plan, *pair)]
        self.address.iterations.update((value.id, count) for value, _ in in_rows)  # computed in their rows
        body_slots, body_table_slots = dict(self.address.slots), dict(self.table_slots)
        self.emit(loop.body)
        if loop.stashes:
            self._copy_rows([pair for pair in loop.stashes if pair not in in_rows], count)
        self.emit(loop.update)
        self.address.slots, self.table_slots = body_slots, body_table_slots
        b.branch(header)
        b.position_at_end(done)
        self.address.slots, self.table_slots = slots, table_slots

    def _copy_rows(self, pairs, count) -> None:
        """Copies each (value, rows buffer) pair's value into row `count` of its buffer."""
        b = self.kb.b
        for value, history in pairs:
            nbytes = value.type.nbytes
            row = b.gep(self.address(("value", history)), [b.mul(count, i64(nbytes))], source_etype=I8)
            self._memcpy(row, self.address(("value", value)), i64(nbytes))

    def _branch(self, branch: _Branch) -> None:
        with self.kb.b.if_else(self._flag(branch.predicate)) as (then, otherwise):
            with then:
                self._nested(branch.then)
            with otherwise:
                self._nested(branch.otherwise)

    def _call(self, action: _Call) -> None:
        kb, module = self.kb, self.module
        for position, entry in enumerate(action.table):
            if position not in self.table_slots:
                self.table_slots[position] = kb.b.gep(self.table, [i64(position)], source_etype=PTR)
            kb.b.store(self.address(entry), self.table_slots[position])
        arguments = [self.address(entry) for entry in action.arguments]
        if action.fused:
            arguments.append(self.table if action.table else ir.Constant(PTR, None))
        function = self.modules.reference(action.function, self.index)
        started = kb.b.call(runtime_function(module, "graphc_now_ns"), []) if self.profiled else None
        code = kb.b.call(function, arguments + [kb.arg("status")])
        if started is not None:
            elapsed = kb.b.sub(kb.b.call(runtime_function(module, "graphc_now_ns"), []), started)
            kb.b.call(runtime_function(module, "graphc_profile_record"),
                      [global_string(module, f"{self.program_name}: {action.label}"), started, elapsed])
        _return_if_failed(kb, code)


def _stashed_in_row(plan, value: Value, history: Value) -> bool:
    """Whether the body computes `value` in its row of `history` (no stash copy; passes/shared_storage.py)."""
    return value.id in plan.rows and plan.rows[value.id] is None and \
        plan.locations[value.id] == plan.locations[history.id]


class _Addresses:
    """The address of an entry in a part of the step: each buffer's pointer is loaded from the step's
    array once (the part's code runs straight through, so the first load dominates the others)."""

    def __init__(self, kb: KernelBuilder, buffers: Buffers):
        self.kb, self.buffers, self.plan = kb, buffers, buffers.plan
        self.slots: dict = {}  # slot -> its pointer
        self.iterations: dict = {}  # value id stashed in its row -> the i64 iteration of its loop

    def __call__(self, entry: tuple):
        what, subject = entry
        if what == "value" and self.plan.locations[subject.id].place is Place.INLINE:
            return self.buffers.value(self.kb, self.kb.arg("buffers"), subject)  # a global of the module
        slot, offset = entry_address(self.plan, entry)
        b = self.kb.b
        if slot not in self.slots:
            self.slots[slot] = b.load(b.gep(self.kb.arg("buffers"), [i64(slot)], source_etype=PTR), typ=PTR)
        if isinstance(offset, tuple):  # a row picked when the step runs (MemoryPlan.rows)
            _, start, _ = offset
            row = b.mul(self._row(subject), i64(subject.type.nbytes))
            return b.gep(self.slots[slot], [b.add(row, i64(start)) if start else row], source_etype=I8)
        return b.gep(self.slots[slot], [i64(offset)], source_etype=I8) if offset else self.slots[slot]

    def _row(self, value: Value):
        """The i64 row of `value`'s buffer that holds it: its loop's iteration, or its index's value (the row
        read's kernel checks it before any kernel uses the row)."""
        index = self.plan.rows[value.id]
        if index is None:
            return self.iterations[value.id]
        return convert(self.kb, self.kb.load(self(("value", index)), index.type.dtype, i64(0)), index.type.dtype,
                       dtypes.int64)


def _emit_step_of_parts(module: ir.Module, modules: _Modules, index: int, parts: list) -> ir.Function:
    """graphc_step calling each part in turn, returning the first non-zero status."""
    step = KernelBuilder(module, abi.STEP_FUNCTION.name, ["buffers", "status"])
    step.function.linkage = "external"
    for part in parts:
        _return_if_failed(step, step.b.call(modules.reference(part, index), [step.arg("buffers"), step.arg("status")]))
    return step.finish()


def _emit_repeated_step(module: ir.Module, program: Program, step: ir.Function, rollback: set) -> ir.Function:
    """graphc_steps (see abi.STEPS_FUNCTION): the step run `count` times, each run on the next batch of the
    feeds with a stride, in one native call. Run k fails as the k-th of `count` calls of graphc_step would:
    the variables of the rollback table are saved before each run and restored when it fails, so the
    variables are those after the runs that succeeded; the feed pointers are put back either way."""
    plan = program.memory_plan
    kb = KernelBuilder(module, abi.STEPS_FUNCTION.name, ["buffers", "status", "count", "strides", "saved", "done"],
                       [PTR, PTR, I64, PTR, PTR, PTR])
    kb.function.linkage = "external"
    # Its loop costs nothing beside the step it calls; optimized, it took 5-15 ms of LLVM's time.
    kb.function.attributes.add("optnone")
    b, buffers = kb.b, kb.arg("buffers")
    memcpy = declare(module, "llvm.memcpy.p0.p0.i64", VOID, [PTR, PTR, I64, I1])
    feed_slots = [b.gep(buffers, [i64(slot)], source_etype=PTR) for slot in range(plan.feed_count)]
    bases = [b.load(slot, typ=PTR) for slot in feed_slots]
    strides = [b.load(b.gep(kb.arg("strides"), [i64(i)], source_etype=I64), typ=I64) for i in range(plan.feed_count)]
    saves, offset = [], 0  # (variable's pointer slot, its bytes, offset in `saved`)
    for index in sorted(map(plan.variable_index, rollback)):
        nbytes = program.variables[index].type.nbytes
        saves.append((b.gep(buffers, [i64(plan.feed_count + index)], source_etype=PTR), nbytes, offset))
        offset += nbytes

    def copy_saved(restore: bool) -> None:
        for slot, nbytes, at in saves:
            variable, copy = b.load(slot, typ=PTR), b.gep(kb.arg("saved"), [i64(at)], source_etype=I8)
            b.call(memcpy, [variable, copy, i64(nbytes), ir.Constant(I1, 0)] if restore else
                   [copy, variable, i64(nbytes), ir.Constant(I1, 0)])

    def restore_feeds() -> None:
        for slot, base in zip(feed_slots, bases):
            b.store(base, slot)

    with kb.loop(kb.arg("count"), "run") as run:
        b.store(run, kb.arg("done"))
        for slot, base, stride in zip(feed_slots, bases, strides):
            b.store(b.gep(base, [b.mul(run, stride)], source_etype=I8), slot)
        copy_saved(restore=False)
        code = b.call(step, [buffers, kb.arg("status")])
        with b.if_then(b.icmp_signed("!=", code, ir.Constant(I32, 0)), likely=False):
            copy_saved(restore=True)
            restore_feeds()
            b.ret(code)
    b.store(kb.arg("count"), kb.arg("done"))
    restore_feeds()
    return kb.finish()


def _return_if_failed(kb: KernelBuilder, code) -> None:
    with kb.b.if_then(kb.b.icmp_signed("!=", code, ir.Constant(I32, 0)), likely=False):
        kb.b.ret(code)
