"""Kernels that compute alike share one function: their signatures, and the pointer tables they read.

A deep network repeats its layers, and its fused kernels repeat with them: the
same ops on the same types, reading and writing other buffers. graphc emits
and optimizes each such kernel once. A fused kernel, `i32 kernel(ptr table,
ptr status)`, reads its addresses from a pointer table: one pointer per
distinct buffer its instructions touch, in the order of `Signature.entries`,
which the step fills before the call (codegen.py). Kernels of their own
(`KERNELS`) take their pointers as arguments already. Two kernels with equal
`Signature.key`s compute the same function of their pointers, so one function
serves both.

The key holds everything a kernel's emitter reads: the kernel's kind, each
member's op, attributes and types, which members use which members' results,
which values the plan keeps in registers, which operands and results share a
buffer (their table index), the data of constants compiled into the library,
workspaces, and the source names of the ops whose failures name them (those
that may fail, Effects.may_fail). tests/backend/test_kernel_sharing.py checks,
on whole training steps, that kernels with one key emit one text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphc import errors
from graphc.backend.buffers import Buffers
from graphc.backend.kernel_builder import PTR, KernelBuilder, i64
from graphc.ir.facts import may_fail
from graphc.ir.memory_plan import Place
from graphc.ir.printer import array_digest, format_attr
from graphc.ir.program import Value, VarRef


@dataclass(frozen=True)
class Signature:
    """What a kernel computes (`key`), and the addresses its table holds (`entries`), in table order.

    An entry is ("value", Value), ("variable", name) or ("workspace", Value of the op owning it).
    """

    key: tuple
    entries: tuple


class Signatures:
    """The signatures of one planned program's kernels."""

    def __init__(self, buffers: Buffers):
        self.plan = buffers.plan
        self.constants = buffers.constants
        self._constant_digests: dict = {}

    def fused(self, kind: str, members: list) -> Signature:
        """The signature of a fused kernel of `kind` made of `members`."""
        walk = _Walk(self)
        local: dict = {}  # value id -> position of the member defining it
        parts = [kind]
        for position, inst in enumerate(members):
            operands = tuple(walk.variable(o.name) if isinstance(o, VarRef) else
                             ("member", local[o.id]) if o.id in local else walk.operand(o) for o in inst.operands)
            result = None
            if inst.result is not None:
                local[inst.result.id] = position
                result = (str(inst.result.type), walk.result(inst.result))
            parts.append((inst.op, operands, result, _attributes(inst), walk.workspace(inst)))
        if any(may_fail(inst) for inst in members):  # their messages name the op at fault
            parts.append(tuple(inst.source for inst in members))
        return Signature(tuple(parts), tuple(walk.entries))

    def opaque(self, inst) -> tuple:
        """The key of a kernel of its own (`KERNELS`), which gets its pointers as arguments."""
        operands = tuple("variable" if isinstance(o, VarRef) else str(o.type) for o in inst.operands)
        return ("opaque", inst.op, operands, str(inst.result.type) if inst.result else None, _attributes(inst),
                inst.result is not None and inst.result.id in self.plan.workspaces,
                inst.source if may_fail(inst) else None)

    def constant_digest(self, value: Value) -> str:
        if value.id not in self._constant_digests:
            self._constant_digests[value.id] = array_digest(np.asarray(self.constants[value.id]))
        return self._constant_digests[value.id]


class _Walk:
    """The table of one kernel, built as its signature walks its instructions: one entry per buffer."""

    def __init__(self, signatures: Signatures):
        self.signatures = signatures
        self.plan = signatures.plan
        self.entries: list = []
        self.index: dict = {}  # address key (slot, offset) -> table index

    def _entry(self, address: tuple, entry: tuple) -> int:
        if address not in self.index:
            self.index[address] = len(self.entries)
            self.entries.append(entry)
        return self.index[address]

    def variable(self, name: str) -> tuple:
        return ("table", self._entry((self.plan.variable_slot(name), 0), ("variable", name)))

    def operand(self, value: Value) -> tuple:
        location = self.plan.locations[value.id]
        if location.place is Place.INLINE:  # compiled into the kernel: the data is part of what it computes
            return ("inline", str(value.type), self.signatures.constant_digest(value))
        return (str(value.type), self.result(value))

    def result(self, value: Value) -> tuple:
        location = self.plan.locations[value.id]
        if location.place is Place.REGISTER:
            return ("register",)
        return ("table", self._entry(address_of(self.plan, value), ("value", value)))

    def workspace(self, inst):
        if inst.result is None or inst.result.id not in self.plan.workspaces:
            return None
        address = (self.plan.arena_slot, self.plan.workspaces[inst.result.id])
        return ("table", self._entry(address, ("workspace", inst.result)))


def address_of(plan, value: Value) -> tuple:
    """(slot, byte offset) of a value the plan keeps in memory: equal for values sharing a buffer. A value
    in a row of its buffer (`MemoryPlan.rows`) has (slot, ("row", the buffer's offset, the index's id or
    None)): the rows a run-time index picks get an entry each, those of one index one entry."""
    location = plan.locations[value.id]
    offset = location.offset if location.place is Place.ARENA else 0
    if value.id in plan.rows:
        index = plan.rows[value.id]
        return plan.slot(location), ("row", offset, None if index is None else index.id)
    return plan.slot(location), offset


def _attributes(inst) -> tuple:
    return tuple((name, array_digest(value) if isinstance(value, np.ndarray) else format_attr(name, value, inst, False))
                 for name, value in sorted(inst.attrs.items()))


class TableBuffers:
    """The `Buffers` a fused kernel's emitter sees: addresses loaded from the kernel's pointer table.

    Constants compiled into the library stay globals of the kernel's module
    (from `base`, that module's Buffers).
    """

    def __init__(self, base: Buffers, signature: Signature):
        self.base = base
        self.module = base.module
        self.plan = base.plan
        self.constants = base.constants
        self._index = {entry_address(self.plan, entry): index for index, entry in enumerate(signature.entries)}

    def in_memory(self, value: Value) -> bool:
        return self.base.in_memory(value)

    def _load(self, kb: KernelBuilder, table, address: tuple):
        if address not in self._index:
            raise errors.InternalError(None, None, f"a kernel asked for the buffer at {address}, which is not in "
                                                   "its signature's table (backend/kernel_signatures.py)")
        index = self._index[address]
        pointer = kb.b.load(kb.b.gep(table, [i64(index)], source_etype=PTR), typ=PTR)
        return pointer, index

    def value(self, kb: KernelBuilder, table, value: Value):
        """A pointer to `value`'s first element."""
        if self.plan.locations[value.id].place in (Place.INLINE, Place.REGISTER):
            return self.base.value(kb, table, value)
        pointer, index = self._load(kb, table, address_of(self.plan, value))
        kb.tag(pointer, index)  # one table entry per buffer: distinct entries never overlap
        return pointer

    def variable(self, kb: KernelBuilder, table, name: str):
        """A pointer to the variable `name`'s first element."""
        pointer, index = self._load(kb, table, (self.plan.variable_slot(name), 0))
        kb.tag(pointer, index)
        return pointer

    def workspace(self, kb: KernelBuilder, table, result: Value):
        """A pointer to the workspace of the op computing `result`."""
        return self._load(kb, table, (self.plan.arena_slot, self.plan.workspaces[result.id]))[0]


def entry_address(plan, entry: tuple) -> tuple:
    """(slot, byte offset) of an entry's buffer; ("output", index), a fetch's buffer, is an entry here too."""
    what, subject = entry
    if what == "variable":
        return plan.variable_slot(subject), 0
    if what == "workspace":
        return plan.arena_slot, plan.workspaces[subject.id]
    if what == "staging":  # a loop variable's next value, when it is another loop variable (plan_memory)
        return plan.arena_slot, plan.staging[subject.id]
    if what == "output":
        return plan.output_slot(subject), 0
    return address_of(plan, subject)
