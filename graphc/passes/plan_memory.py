"""Memory planning: where every value lives while a step runs.

The compiled step receives one array of buffer pointers, laid out as
`[feeds..., variables..., large constants..., outputs..., arena]`. Each value
gets a Location:

- register: an elementwise value used only inside its fused kernel and not
  fetched never touches memory;
- feed: a fed value lives in its feed buffer;
- var: a `read` aliases its variable's buffer, unless a write of the variable
  comes while the read value is still needed; then it is copied (a snapshot).
  Uses in the writing kernel itself, before the write, do not count: fusion
  admits a write into a kernel only where such uses read the element the write
  replaces, in the same iteration (an optimizer's `w - lr * g` reads w[i] and
  writes w[i]), so the update happens in place with no copy of w;
- output: a fetched value computed by the step is computed straight into its
  output buffer (fetched feeds, constants and aliased reads are copied there
  at the end);
- inline/const: a constant up to INLINE_CONSTANT_BYTES is compiled into the
  library; a larger one is passed in, owned by the compiled step;
- arena: everything else, at an offset in one arena. A value occupies its
  offset from the start of the kernel defining it to the end of the last
  kernel using it; values whose lifetimes do not overlap share space
  (first fit, 64-byte aligned), and the plan reports the arena's peak.

An op whose registry entry asks for a workspace (convolutions' im2col matrices)
gets one in the arena too, live only while its kernel runs; codegen passes it
to the kernel after the operands.

This pass annotates the program (`annotations["memory_plan"]`) and changes no
instruction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphc.ir.program import Program
from graphc.core import registry
from graphc.passes.fuse import is_elementwise

INLINE_CONSTANT_BYTES = 16 * 1024
ALIGNMENT = 64


@dataclass(frozen=True)
class Location:
    """`kind`: register, feed, var, const, output, arena or inline; `index` numbers within the kind."""

    kind: str
    index: int = 0
    offset: int = 0

    def __str__(self) -> str:
        if self.kind == "arena":
            return f"arena+{self.offset}"
        if self.kind in ("inline", "register"):
            return self.kind
        return f"{self.kind}[{self.index}]"


@dataclass
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

    def slot(self, location: Location) -> int:
        """The index of a location's buffer in the step's pointer array."""
        if location.kind == "arena":
            return self.arena_slot
        base = {"feed": 0, "var": self.feed_count, "const": self.feed_count + len(self.variable_names),
                "output": self.output_slot(0)}
        return base[location.kind] + location.index

    def variable_slot(self, name: str) -> int:
        return self.feed_count + self.variable_names.index(name)

    def output_slot(self, index: int) -> int:
        return self.feed_count + len(self.variable_names) + len(self.const_values) + index

    @property
    def arena_slot(self) -> int:
        return self.output_slot(self.output_count)

    @property
    def slot_count(self) -> int:
        return self.arena_slot + 1

    def describe(self) -> str:
        registers = sum(1 for loc in self.locations.values() if loc.kind == "register")
        lines = [f"  # memory: arena peak {self.arena_bytes} bytes (without reuse {self.unshared_bytes}); "
                 f"{registers} values in registers; {len(self.const_values)} passed-in constants"]
        for value_id, location in self.locations.items():
            lines.append(f"  #   %{value_id} -> {location}")
        for value_id, offset in self.workspaces.items():
            lines.append(f"  #   workspace of %{value_id} -> arena+{offset}")
        return "\n".join(lines)


def plan_memory(program: Program) -> Program:
    instructions = program.instructions
    end = len(instructions)
    # Kernel spans: every instruction of a kernel counts as happening over the whole kernel.
    span_start, span_end = list(range(end)), list(range(end))
    first_of: dict = {}
    for i, inst in enumerate(instructions):
        if inst.kernel is not None:
            first_of.setdefault(inst.kernel, i)
    last_of = {inst.kernel: i for i, inst in enumerate(instructions) if inst.kernel is not None}
    for i, inst in enumerate(instructions):
        if inst.kernel is not None:
            span_start[i], span_end[i] = first_of[inst.kernel], last_of[inst.kernel]
    users: dict[int, list] = {}
    for i, inst in enumerate(instructions):
        for v in inst.values:
            users.setdefault(v.id, []).append(i)
    output_index: dict[int, int] = {}
    repeated_fetches = []  # CSE and simplification can make two fetches one value
    for i, v in enumerate(program.fetches):
        if v.id in output_index:
            repeated_fetches.append((v.id, i))
        else:
            output_index[v.id] = i
    last_use = {value_id: max(span_end[u] for u in uses) for value_id, uses in users.items()}
    for value_id in output_index:
        last_use[value_id] = end
    write_positions: dict[str, list] = {}
    for i, inst in enumerate(instructions):
        if inst.op == "write":
            write_positions.setdefault(inst.operands[0].name, []).append(i)
    var_index = {decl.name: i for i, decl in enumerate(program.variables)}

    plan = MemoryPlan(feed_count=sum(1 for inst in instructions if inst.op == "feed"),
                      variable_names=tuple(d.name for d in program.variables), output_count=len(program.fetches))
    locations, consts, materialized, final_copies = {}, [], set(), []
    arena_values = []  # (start, end, bytes, value id)
    feed_number = 0
    for i, inst in enumerate(instructions):
        value = inst.result
        if value is None:
            continue
        workspace = registry.get(inst.op).workspace
        if workspace is not None and workspace(inst):
            arena_values.append((span_start[i], span_end[i], workspace(inst), ("workspace", value.id)))
        fetched = value.id in output_index
        if inst.op == "feed":
            locations[value.id] = Location("feed", feed_number)
            feed_number += 1
        elif inst.op == "constant":
            if value.type.nbytes <= INLINE_CONSTANT_BYTES:
                locations[value.id] = Location("inline")
            else:
                locations[value.id] = Location("const", len(consts))
                consts.append(value.id)
        elif inst.op == "read" and not _written_while_live(i, users.get(value.id, []), fetched, instructions,
                                                           span_end, write_positions):
            locations[value.id] = Location("var", var_index[inst.operands[0].name])
        else:
            if inst.op == "read":
                materialized.add(value.id)
            elif (inst.kernel is not None and is_elementwise(inst) and not fetched and
                  all(instructions[u].kernel == inst.kernel for u in users.get(value.id, []))):
                locations[value.id] = Location("register")
                continue
            if fetched:
                locations[value.id] = Location("output", output_index[value.id])
            else:
                arena_values.append((span_start[i], last_use.get(value.id, span_end[i]), value.type.nbytes, value.id))
            continue
        if fetched:
            final_copies.append((value.id, output_index[value.id]))
    final_copies.extend(repeated_fetches)
    peak, unshared = _assign_offsets(arena_values, locations)
    plan.workspaces = {key[1]: locations.pop(key).offset for key in list(locations) if isinstance(key, tuple)}
    plan.locations = dict(sorted(locations.items()))
    plan.const_values = tuple(consts)
    plan.arena_bytes, plan.unshared_bytes = peak, unshared
    plan.materialized_reads = frozenset(materialized)
    plan.final_copies = tuple(final_copies)
    annotations = dict(program.annotations)
    annotations["memory_plan"] = plan
    return program.replace(annotations=annotations)


def _written_while_live(position: int, uses: list, fetched: bool, instructions, span_end: list,
                        write_positions: dict) -> bool:
    """Whether a write of the read's variable comes after the read while its value is still needed.

    A use is done before a later write if it is in an earlier kernel, or in the
    write's own kernel, ahead of it, as an elementwise op (the same element, in
    the same iteration). A fetched read is needed until the step's end.
    """
    for w in write_positions.get(instructions[position].operands[0].name, []):
        if w <= position:
            continue
        if fetched:
            return True
        kernel = instructions[w].kernel
        for u in uses:
            same_kernel = kernel is not None and instructions[u].kernel == kernel
            if u > w or (same_kernel and not is_elementwise(instructions[u])) or \
                    (not same_kernel and span_end[u] >= w):
                return True
    return False


def _aligned(nbytes: int) -> int:
    return -(-nbytes // ALIGNMENT) * ALIGNMENT


def _assign_offsets(values, locations) -> tuple:
    """First fit over lifetimes: returns (peak bytes, bytes without any sharing)."""
    placed = []  # (offset, size, start, end)
    peak = 0
    # A workspace's key is ("workspace", id of its op's result); it sorts beside that value.
    for start, end, nbytes, value_id in sorted(values, key=lambda v: v[:3] + (v[3] if isinstance(v[3], int) else v[3][1],)):
        size = _aligned(nbytes)
        busy = sorted((o, s) for o, s, b, e in placed if not (e < start or b > end))
        offset = 0
        for busy_offset, busy_size in busy:
            if offset + size <= busy_offset:
                break
            offset = max(offset, busy_offset + busy_size)
        placed.append((offset, size, start, end))
        locations[value_id] = Location("arena", offset=offset)
        peak = max(peak, offset + size)
    return peak, sum(_aligned(nbytes) for _, _, nbytes, _ in values)
