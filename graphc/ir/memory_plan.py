"""The memory plan: where every value of a step lives, the ABI between compiled code and the session.

A compiled step receives one array of buffer pointers, laid out as

    [feeds..., variables..., passed-in constants..., outputs..., arena]

and the plan says, for each value, which buffer holds it (a `Location`), and
which copies the step makes (snapshots of reads, fetched values that live
elsewhere). passes/plan_memory.py makes the plan; the backend addresses
memory through it; the runtime lays out the pointer array from it.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field

from graphc.core import registry

# Every buffer the plan places in the arena starts at a multiple of this (a cache line,
# and the widest vector load); the runtime aligns the arena itself the same way.
ALIGNMENT = 64


def aligned(nbytes: int) -> int:
    """`nbytes` rounded up to a multiple of ALIGNMENT."""
    return -(-nbytes // ALIGNMENT) * ALIGNMENT


def workspace_bytes(inst, in_blocks: bool) -> int:
    """The bytes of an instruction's workspace: the one its registry entry asks for (OpDef.workspace),
    after, for an anchor whose kernel computes its result in blocks (`in_blocks`, OpDef.block_workspace:
    passes/plan_memory.py), the blocks, aligned. (A blocked anchor's own workspace is empty today: the
    direct and tiled forward convolutions, the only ones computed in blocks, read their input in place.)"""
    op = registry.get(inst.op)
    blocks = aligned(op.block_workspace(inst)) if in_blocks else 0
    return blocks + (op.workspace(inst) if op.workspace is not None else 0)


class Place(enum.Enum):
    """The kinds of storage a value can have."""

    REGISTER = "register"  # an elementwise value used only inside its fused kernel: never in memory
    FEED = "feed"          # a fed value, in the caller's array
    VARIABLE = "var"       # a read that aliases its variable's buffer
    CONSTANT = "const"     # a large constant, passed in by the executable
    INLINE = "inline"      # a small constant, compiled into the library
    OUTPUT = "output"      # a fetched value, computed straight into its output buffer
    ARENA = "arena"        # anything else: an offset in the step's one scratch arena


@dataclass(frozen=True)
class Location:
    """A value's storage: `place`, and its `index` among the buffers of that place (or arena `offset`)."""

    place: Place
    index: int = 0
    offset: int = 0

    def __str__(self) -> str:
        if self.place is Place.ARENA:
            return f"arena+{self.offset}"
        if self.place in (Place.INLINE, Place.REGISTER):
            return self.place.value
        return f"{self.place.value}[{self.index}]"


@dataclass(frozen=True)
class MemoryPlan:
    """Where each value lives, and the copies the step makes."""

    locations: dict = field(default_factory=dict)       # value id -> Location
    feed_count: int = 0
    variable_names: tuple = ()                          # in buffer order
    const_values: tuple = ()                            # value ids of passed-in constants, in order
    output_count: int = 0
    arena_bytes: int = 0                                # the peak
    unshared_bytes: int = 0                             # what the arena would take without reuse
    materialized_reads: frozenset = frozenset()         # value ids of reads that copy
    final_copies: tuple = ()                            # (value id, output index) copied at the end
    workspaces: dict = field(default_factory=dict)      # result value id -> arena offset of its op's workspace
    aliases: dict = field(default_factory=dict)         # a region's param id -> the value id whose buffer it is
    staging: dict = field(default_factory=dict)         # a while output id -> arena offset its next value stages in
    elided: frozenset = frozenset()                     # value ids already in place: no kernel computes them
    # Values living in one row of a rows buffer, at an address the step computes when it runs: value id ->
    # the id of the value holding the row index (a row read's view), or None (a loop body value stashed for
    # the gradient, computed in the row of the current iteration). Their location is the rows buffer's.
    rows: dict = field(default_factory=dict)

    def slot(self, location: Location) -> int:
        """The index of a location's buffer in the step's pointer array."""
        if location.place is Place.ARENA:
            return self.arena_slot
        base = {Place.FEED: 0, Place.VARIABLE: self.feed_count,
                Place.CONSTANT: self.feed_count + len(self.variable_names), Place.OUTPUT: self.output_slot(0)}
        return base[location.place] + location.index

    def variable_slot(self, name: str) -> int:
        return self.feed_count + self.variable_index(name)

    def variable_index(self, name: str) -> int:
        """The variable's position in `variable_names`."""
        return self._variable_indices[name]

    @functools.cached_property
    def _variable_indices(self) -> dict:
        # A search of the tuple at every call made codegen quadratic in a step's variables.
        return {name: index for index, name in enumerate(self.variable_names)}

    def output_slot(self, index: int) -> int:
        return self.feed_count + len(self.variable_names) + len(self.const_values) + index

    @property
    def arena_slot(self) -> int:
        return self.output_slot(self.output_count)

    @property
    def slot_count(self) -> int:
        return self.arena_slot + 1

    def in_memory(self, value_id: int) -> bool:
        """Whether the value has an address (it is not kept in registers)."""
        return self.locations[value_id].place is not Place.REGISTER

    def _row_text(self, value_id: int) -> str:
        if value_id not in self.rows:
            return ""
        index = self.rows[value_id]
        return " row of the iteration" if index is None else f" row %{index.id}"

    def describe(self) -> str:
        """The plan as IR comment lines (the printer appends them to a planned program)."""
        registers = sum(1 for loc in self.locations.values() if loc.place is Place.REGISTER)
        lines = [f"  # memory: arena peak {self.arena_bytes} bytes (without reuse {self.unshared_bytes}); "
                 f"{registers} values in registers; {len(self.const_values)} passed-in constants"]
        for value_id, location in self.locations.items():
            lines.append(f"  #   %{value_id} -> {location}{self._row_text(value_id)}")
        if self.elided:
            lines.append("  #   in place, no kernel: " + ", ".join(f"%{value_id}" for value_id in sorted(self.elided)))
        for value_id, offset in self.workspaces.items():
            lines.append(f"  #   workspace of %{value_id} -> arena+{offset}")
        return "\n".join(lines)
