"""Memory planning: where every value lives while a step runs (ir/memory_plan.py).

Each value gets a Location:

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

Control flow (ir/program.py): the plan is made over the instructions in
execution order, a structured instruction's regions before it. A region's
`param` has no buffer of its own: it is the buffer of a loop variable (a
`while`'s output, which holds the variable from the loop's start) or of the
captured operand (`MemoryPlan.aliases`). A region's values live within it: each
iteration computes them again before using them. A loop body yielding another
loop variable (`i, j = j, i`) has it copied through a staging buffer.

Some values live inside another's buffer (passes/shared_storage.py): an op that
can compute in place (`OpDef.in_place`: a TensorArray's row write, an allreduce)
gets its operand's buffer when nothing uses it afterwards, so a loop writing a row
per iteration writes into its loop variable; a view (`OpDef.view`: a reshape, a
slice of whole rows) is its operand's bytes; a concat of flat tensors
(`OpDef.pieces`) has its operands computed in their places in its buffer; a fused
GEMM's or convolution's epilogue (`OpDef.epilogue_in_place`: a bias add and ReLU)
computes its value in the product's buffer when nothing after the kernel reads the
product. The step runs no kernel for views and such concats (`MemoryPlan.elided`).
In a loop, a value the body stashes for the gradient is computed in its row of
the stash, and a gradient loop's row read of a captured stash is a view of that
row, at addresses the step computes when it runs (`MemoryPlan.rows`): the LSTM's
loops copy no stash in and none out. A loop variable's next value is computed in
the variable's buffer when nothing reads the variable after it: no update copy.

An op whose registry entry asks for a workspace (convolutions' im2col matrices)
gets one in the arena too, live only while its kernel runs; codegen passes it
to the kernel after the operands. The anchor of a kernel a final stage ended
(`OpDef.final_stage`: a max-pool after a convolution's bias and ReLU) computes
its result a block at a time: the result has no buffer (its location says
register: it never has an address of its own) and the blocks
(`OpDef.block_workspace`) come first in the anchor's workspace, its own
workspace after them at the next aligned offset (`workspace_bytes`).

This pass sets the program's `memory_plan` and changes no instruction.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math

from graphc.core import registry
from graphc.ir.facts import is_elementwise, strided_read
from graphc.ir.memory_plan import Location, MemoryPlan, Place, aligned, workspace_bytes
from graphc.ir.program import Program
from graphc.passes.shared_storage import share_storage

INLINE_CONSTANT_BYTES = 16 * 1024


def _flatten(instructions, flat: list, spans: dict) -> None:
    """Appends `instructions` to `flat` in execution order, each structured instruction after its regions'
    instructions; `spans` gets (first, last) position of each structured instruction's whole run."""
    for inst in instructions:
        start = len(flat)
        for region in inst.regions:
            _flatten(region.instructions, flat, spans)
        if inst.regions:
            spans[id(inst)] = (start, len(flat))
        flat.append(inst)


def plan_memory(program: Program) -> Program:
    """The program with its memory plan (see the module docstring)."""
    instructions, spans = [], {}
    _flatten(program.instructions, instructions, spans)
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
    aliases: dict[int, int] = {}  # a region's param -> the value whose buffer it is
    captures: set = set()  # the params of loops' regions that are values captured from outside
    for i, inst in enumerate(instructions):
        for v in inst.values:
            users.setdefault(v.id, []).append(i)
        for region in inst.regions:
            for v in region.results:  # yielded: copied to the instruction's outputs at its end
                users.setdefault(v.id, []).append(i)
            for param in region.instructions:
                if param.op == "param":
                    index = param.attrs["index"]
                    carried = inst.attrs.get("carried", 0)
                    aliases[param.result.id] = (inst.outputs[index] if index < carried else inst.operands[index]).id
                    if "carried" in inst.attrs and index >= carried:
                        captures.add(param.result.id)
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

    ended = _kernels_ended_by_a_stage(instructions, program.kernels)
    locations, consts, materialized, final_copies = {}, [], set(), []
    arena_values = []  # (start, end, bytes, value id)
    feed_number = 0
    staging = []
    for i, inst in enumerate(instructions):
        if inst.regions:
            start = spans[id(inst)][0]
            for value in inst.outputs:  # a loop's variables live in its outputs from the loop's start
                if value.id in output_index:
                    locations[value.id] = Location(Place.OUTPUT, output_index[value.id])
                else:
                    arena_values.append((start, last_use.get(value.id, i), value.type.nbytes, value.id))
            for j, value in _staged_results(inst, aliases):
                arena_values.append((start, i, value.type.nbytes, ("staging", inst.outputs[j].id)))
                staging.append(inst.outputs[j].id)
            continue
        value = inst.result
        if value is None or value.id in aliases:
            continue
        in_blocks = inst.kernel in ended and registry.get(inst.op).block_workspace is not None
        workspace = workspace_bytes(inst, in_blocks)
        if workspace:
            arena_values.append((span_start[i], span_end[i], workspace, ("workspace", value.id)))
        if in_blocks:
            locations[value.id] = Location(Place.REGISTER)
            continue
        fetched = value.id in output_index
        if inst.op == "feed":
            locations[value.id] = Location(Place.FEED, feed_number)
            feed_number += 1
        elif inst.op == "constant":
            if value.type.nbytes <= INLINE_CONSTANT_BYTES:
                locations[value.id] = Location(Place.INLINE)
            else:
                locations[value.id] = Location(Place.CONSTANT, len(consts))
                consts.append(value.id)
        elif inst.op == "read" and not _written_while_live(i, users.get(value.id, []), fetched, instructions,
                                                           span_end, write_positions):
            locations[value.id] = Location(Place.VARIABLE, var_index[inst.operands[0].name])
        else:
            if inst.op == "read":
                materialized.add(value.id)
            elif (inst.kernel is not None and _computed_in_its_kernel(inst, program.kernels) and not fetched and
                  all(instructions[u].kernel == inst.kernel for u in users.get(value.id, []))):
                locations[value.id] = Location(Place.REGISTER)
                continue
            if fetched:
                locations[value.id] = Location(Place.OUTPUT, output_index[value.id])
            else:
                arena_values.append((span_start[i], last_use.get(value.id, span_end[i]), value.type.nbytes, value.id))
            continue
        if fetched:
            final_copies.append((value.id, output_index[value.id]))
    final_copies.extend(repeated_fetches)
    outputs = {value_id for value_id, location in locations.items() if location.place is Place.OUTPUT}
    storage = share_storage(instructions, program.kernels, arena_values, aliases, last_use, outputs, captures)
    peak, unshared = _assign_offsets(arena_values, locations)
    for value_id in storage.inside:
        root, offset = storage.root(value_id)
        location = locations[root]
        locations[value_id] = Location(Place.ARENA, offset=location.offset + offset) if offset else location
    workspaces = {key[1]: locations.pop(key).offset for key in list(locations)
                  if isinstance(key, tuple) and key[0] == "workspace"}
    staged = {key[1]: locations.pop(key).offset for key in list(locations) if isinstance(key, tuple)}
    for param in aliases:
        target = param
        while target in aliases:
            target = aliases[target]
        locations[param] = locations[target]
        aliases[param] = target
    plan = MemoryPlan(locations=dict(sorted(locations.items())),
                      feed_count=sum(1 for inst in instructions if inst.op == "feed"),
                      variable_names=tuple(d.name for d in program.variables), const_values=tuple(consts),
                      output_count=len(program.fetches), arena_bytes=peak, unshared_bytes=unshared,
                      materialized_reads=frozenset(materialized), final_copies=tuple(final_copies),
                      workspaces=workspaces, aliases=aliases, staging=staged, elided=frozenset(storage.elided),
                      rows=storage.rows)
    return program.replace(memory_plan=plan)


def _kernels_ended_by_a_stage(instructions, kernels: dict) -> set:
    """The kernels whose kind is the one a member's final stage gave them (passes/fuse.py)."""
    ended = set()
    for inst in instructions:
        stage = registry.get(inst.op).final_stage if inst.kernel is not None and not inst.regions else None
        if stage is not None and kernels.get(inst.kernel) == stage[1]:
            ended.add(inst.kernel)
    return ended


def _staged_results(inst, aliases: dict) -> list:
    """(index, value) of a loop body's results that are other loop variables (`i, j = j, i`): copied
    first to a staging buffer, since the loop variable they come from is overwritten by then."""
    if len(inst.regions) != 2 or "carried" not in inst.attrs:
        return []
    body = inst.regions[1]
    staged = []
    for j, value in enumerate(body.results[:inst.attrs["carried"]]):  # not its stashed values (ir/program.py)
        source = aliases.get(value.id)
        if source is not None and source in {v.id for v in inst.outputs} and source != inst.outputs[j].id:
            staged.append((j, value))
    return staged


def _written_while_live(position: int, uses: list, fetched: bool, instructions, span_end: list,
                        write_positions: dict) -> bool:
    """Whether a write of the read's variable comes after the read while its value is still needed.

    A use is done before a later write if it is in an earlier kernel, or in the
    write's own kernel, ahead of it, as an elementwise op (the same element, in
    the same iteration). A fetched read is needed until the step's end.
    """
    writes = write_positions.get(instructions[position].operands[0].name, [])
    for w in itertools.islice(writes, bisect.bisect(writes, position), None):  # the writes after the read
        if fetched:
            return True
        kernel = instructions[w].kernel
        for u in uses:
            same_kernel = kernel is not None and instructions[u].kernel == kernel
            if u > w or (same_kernel and not is_elementwise(instructions[u])) or \
                    (not same_kernel and span_end[u] >= w):
                return True
    return False


def _computed_in_its_kernel(inst, kinds: dict) -> bool:
    """Whether the instruction's kernel computes its result element by element, where its users in that
    kernel read it (in registers): an elementwise op, or a strided read in a loop kernel (fuse.py)."""
    return is_elementwise(inst) or (kinds.get(inst.kernel) == "loop" and strided_read(inst) is not None)


def _assign_offsets(values, locations) -> tuple:
    """First fit over lifetimes: returns (peak bytes, bytes without any sharing).

    Values are placed in order of their first kernel, each at the lowest offset
    where it overlaps no value still live (one whose last kernel is not before
    its first); a value of no bytes goes to offset 0.
    """
    free = _FreeSpace()
    live: list = []  # heap of (last kernel, offset, size) of the values placed so far and not yet freed
    peak = 0
    # A workspace's key is ("workspace", id of its op's result); it sorts beside that value.
    for start, end, nbytes, value_id in sorted(values, key=lambda v: v[:3] + (v[3] if isinstance(v[3], int) else v[3][1],)):
        while live and live[0][0] < start:
            _, offset, size = heapq.heappop(live)
            free.release(offset, size)
        size = aligned(nbytes)
        offset = free.take(size)
        heapq.heappush(live, (end, offset, size))
        locations[value_id] = Location(Place.ARENA, offset=offset)
        peak = max(peak, offset + size)
    return peak, sum(aligned(nbytes) for _, _, nbytes, _ in values)


class _FreeSpace:
    """The arena's free byte ranges, as sorted maximal gaps; the last one never ends.

    Taking and releasing look at gaps, not at the values around them: a step
    whose values all stay live (a network's activations, kept for its
    gradient) is placed in linear time.
    """

    def __init__(self):
        self.starts = [0]
        self.ends = [math.inf]

    def take(self, size: int) -> int:
        """The lowest offset with `size` free bytes, now taken."""
        if size == 0:
            return 0
        index = next(i for i, (start, end) in enumerate(zip(self.starts, self.ends)) if end - start >= size)
        offset = self.starts[index]
        if self.ends[index] - offset == size:
            del self.starts[index], self.ends[index]
        else:
            self.starts[index] += size
        return offset

    def release(self, offset: int, size: int) -> None:
        """Frees [offset, offset + size), joining the gaps it touches."""
        if size == 0:
            return
        end = offset + size
        index = bisect.bisect(self.starts, offset)  # the gaps before `index` start before it
        joins_previous = index > 0 and self.ends[index - 1] == offset
        joins_next = index < len(self.starts) and self.starts[index] == end
        if joins_previous and joins_next:
            self.ends[index - 1] = self.ends[index]
            del self.starts[index], self.ends[index]
        elif joins_previous:
            self.ends[index - 1] = end
        elif joins_next:
            self.starts[index] = offset
        else:
            self.starts.insert(index, offset)
            self.ends.insert(index, end)
