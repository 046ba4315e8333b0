"""Memory planning: where every value lives while a step runs.

The compiled step receives one array of buffer pointers, laid out as
`[feeds..., variables..., large constants..., outputs..., arena]`. Each value
gets a Location in one of them:

- a fed value lives in its feed buffer; a `read` of a variable aliases the
  variable's buffer unless a later `write` to that variable comes while the
  read value is still needed (then it is copied: snapshot semantics);
- a fetched value computed by the step is computed straight into its output
  buffer; fetched feeds, constants and aliased reads are copied there at the end;
- a constant up to INLINE_CONSTANT_BYTES is compiled into the library; larger
  ones are passed in, as buffers owned by the compiled step;
- everything else gets an offset in one arena, 64-byte aligned.

This pass annotates the program (`annotations["memory_plan"]`) and changes no
instruction. It does not yet reuse arena space between values whose lifetimes
do not overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphc.ir.program import Program

INLINE_CONSTANT_BYTES = 16 * 1024
ALIGNMENT = 64


@dataclass(frozen=True)
class Location:
    """`kind` is feed, var, const, output, arena or inline; `index` numbers within the kind."""

    kind: str
    index: int = 0
    offset: int = 0

    def __str__(self) -> str:
        if self.kind == "arena":
            return f"arena+{self.offset}"
        if self.kind == "inline":
            return "inline"
        return f"{self.kind}[{self.index}]"


@dataclass
class MemoryPlan:
    """Where each value lives, and the copies the step makes."""

    locations: dict = field(default_factory=dict)       # value id -> Location
    feed_count: int = 0
    variable_names: tuple = ()                          # in buffer order
    const_values: tuple = ()                            # value ids of passed-in constants, in order
    output_count: int = 0
    arena_bytes: int = 0
    materialized_reads: frozenset = frozenset()         # value ids of reads that copy
    final_copies: tuple = ()                            # (value id, output index) copied at the end

    def slot(self, location: Location) -> int:
        """The index of a location's buffer in the step's pointer array."""
        base = {"feed": 0, "var": self.feed_count, "const": self.feed_count + len(self.variable_names),
                "output": self.feed_count + len(self.variable_names) + len(self.const_values)}
        if location.kind == "arena":
            return self.arena_slot
        return base[location.kind] + location.index

    def variable_slot(self, name: str) -> int:
        return self.feed_count + self.variable_names.index(name)

    def output_slot(self, index: int) -> int:
        return self.feed_count + len(self.variable_names) + len(self.const_values) + index

    @property
    def arena_slot(self) -> int:
        return self.feed_count + len(self.variable_names) + len(self.const_values) + self.output_count

    @property
    def slot_count(self) -> int:
        return self.arena_slot + 1

    def describe(self) -> str:
        lines = [f"  # memory: arena {self.arena_bytes} bytes; {len(self.const_values)} passed-in constants"]
        for value_id, location in self.locations.items():
            lines.append(f"  #   %{value_id} -> {location}")
        return "\n".join(lines)


def plan_memory(program: Program) -> Program:
    index_of = {}
    last_use = {}
    for i, inst in enumerate(program.instructions):
        if inst.result is not None:
            index_of[inst.result.id] = i
        for v in inst.values:
            last_use[v.id] = i
    end = len(program.instructions)
    for v in program.fetches:
        last_use[v.id] = end
    write_positions: dict[str, list] = {}
    for i, inst in enumerate(program.instructions):
        if inst.op == "write":
            write_positions.setdefault(inst.operands[0].name, []).append(i)
    var_index = {decl.name: i for i, decl in enumerate(program.variables)}
    output_index = {v.id: i for i, v in enumerate(program.fetches)}

    plan = MemoryPlan(feed_count=sum(1 for i in program.instructions if i.op == "feed"),
                      variable_names=tuple(d.name for d in program.variables),
                      output_count=len(program.fetches))
    locations, consts, materialized, final_copies = {}, [], set(), []
    arena = 0
    feed_number = 0
    for i, inst in enumerate(program.instructions):
        if inst.result is None:
            continue
        value = inst.result
        fetched = value.id in output_index
        if inst.op == "feed":
            locations[value.id] = Location("feed", feed_number)
            feed_number += 1
            if fetched:
                final_copies.append((value.id, output_index[value.id]))
            continue
        if inst.op == "read":
            name = inst.operands[0].name
            later_write = any(i < w <= last_use.get(value.id, i) for w in write_positions.get(name, []))
            if not later_write:
                locations[value.id] = Location("var", var_index[name])
                if fetched:
                    final_copies.append((value.id, output_index[value.id]))
                continue
            materialized.add(value.id)
        elif inst.op == "constant":
            if value.type.nbytes <= INLINE_CONSTANT_BYTES:
                locations[value.id] = Location("inline")
            else:
                locations[value.id] = Location("const", len(consts))
                consts.append(value.id)
            if fetched:
                final_copies.append((value.id, output_index[value.id]))
            continue
        if fetched:
            locations[value.id] = Location("output", output_index[value.id])
        else:
            locations[value.id] = Location("arena", offset=arena)
            arena += -(-value.type.nbytes // ALIGNMENT) * ALIGNMENT
    plan.locations = locations
    plan.const_values = tuple(consts)
    plan.arena_bytes = arena
    plan.materialized_reads = frozenset(materialized)
    plan.final_copies = tuple(final_copies)
    annotations = dict(program.annotations)
    annotations["memory_plan"] = plan
    return program.replace(annotations=annotations)
