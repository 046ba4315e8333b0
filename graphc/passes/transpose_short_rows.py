"""Short rows summed across: elementwise work on [N, K] matrices with K short and N long is
computed as [K, N], so that the long axis lies along the vector lanes.

A product with a dimension of 1 becomes elementwise work and a sum (simplify.py): a
1-10-1 network's hidden layer over N points is `tanh(x[N,1] * w1[1,K] + b1[1,K])` of
shape [N, K], and its output `sum(h * w2[1,K], axis 1)`. With rows of K < SHORT_INNER_LOOP
elements, a vector holds pieces of several rows, and every row sum takes lane shuffles
(backend/kernels/reduce_periodic.py). Transposed, the same sum is one vector addition per
hidden unit for 16 points at a time, no shuffles; the [N, K] values' column sums (the
gradients of w1 and b1) become sums of rows N long; and an elementwise op that branches by
vector (tanh's tail) sees one unit's values, which change little along the points.

The rule, on a connected group of instructions (a "block"): its members are elementwise
ops (no effects, cannot fail) whose results are [N, K] or [N, 1] matrices (one N, N >= 16,
2 <= K < 16), connected through their operands, and the reductions of members. It is
transposed when it holds a reduction over the short axis of an [N, K] member (the sum
that would need shuffles), and when transposing it copies nothing:

- an operand from outside the block is a scalar or has a dimension of 1 (a [N, 1] column,
  a [1, K] or [K] row): its transpose is a reshape, which costs no kernel (a view); an
  outside [N, K] operand would need a real transpose, and the block is left alone;
- a member used outside the block (or fetched) is an [N, 1] column, reshaped back under
  its own id; an [N, K] member used outside leaves the block alone;
- a reduction of a member reduces the other axis; one whose result leaves the block sums
  without kept dimensions ([K], so that sibling reductions of one input merge: fuse.py),
  reshaped back to its own shape.

Values are the same but for the order of the additions in the transposed sums (a sum
over the K units or the N points in another order): fixed at compile time, as before.
"""

from __future__ import annotations

from graphc.core.machine import SHORT_INNER_LOOP
from graphc.core.registry import FusionClass
from graphc.core.rules import normalize_axes
from graphc.ir.facts import effects_of, fusion_of, may_fail, written_variables
from graphc.ir.program import Instruction, IRType, Program, Value, constant_value

_REDUCTION_ATTRS = frozenset({"axes", "keepdims"})


def transpose_short_rows(program: Program) -> Program:
    """Transposes every block (module docstring) that sums short rows and can be transposed for free."""
    blocks = _blocks(program)
    if not blocks:
        return program
    return _Transposer(program, blocks).run()


def _is_member(inst: Instruction) -> bool:
    """An elementwise op without effects on a rank-2 result (its block decides N and K)."""
    return (inst.result is not None and len(inst.result.type.shape) == 2
            and fusion_of(inst) is FusionClass.ELEMENTWISE and not inst.regions
            and not effects_of(inst).stateful and not may_fail(inst))


def _is_reduction_of_matrix(inst: Instruction) -> bool:
    return (inst.result is not None and fusion_of(inst) is FusionClass.REDUCE
            and set(inst.attrs) <= _REDUCTION_ATTRS and len(inst.operands) == 1
            and len(inst.operands[0].type.shape) == 2)


def _axes(inst: Instruction) -> tuple:
    return normalize_axes(inst.attrs["axes"], 2)


def _blocks(program: Program) -> list:
    """The blocks that pass the rule, each as (its members, the reductions of members whose results leave it)."""
    candidate = {inst.result.id: inst for inst in program.instructions
                 if _is_member(inst) or (_is_reduction_of_matrix(inst) and len(inst.result.type.shape) == 2)}
    parent = {value_id: value_id for value_id in candidate}

    def find(value_id):
        while parent[value_id] != value_id:
            parent[value_id] = parent[parent[value_id]]
            value_id = parent[value_id]
        return value_id

    for inst in candidate.values():
        for operand in inst.values:
            if operand.id in candidate and operand.type.shape[0] == inst.result.type.shape[0]:
                parent[find(operand.id)] = find(inst.result.id)
    groups: dict = {}
    for value_id in candidate:
        groups.setdefault(find(value_id), set()).add(value_id)
    users: dict = {}
    for inst in program.instructions:
        for operand in inst.values:
            users.setdefault(operand.id, []).append(inst)
    fetched = {v.id for v in program.fetches}
    blocks = []
    for ids in groups.values():
        block = _block(ids, candidate, users, fetched)
        if block is not None:
            blocks.append(block)
    return blocks


def _block(ids: set, candidate: dict, users: dict, fetched: set):
    """(members, reductions leaving) of the group `ids` when the rule transposes it, else None."""
    rows = {candidate[i].result.type.shape[0] for i in ids}
    widths = {candidate[i].result.type.shape[1] for i in ids}
    if len(rows) != 1 or not widths <= {1, max(widths)}:
        return None
    (n,), k = rows, max(widths)
    if not (n >= SHORT_INNER_LOOP and 2 <= k < SHORT_INNER_LOOP):
        return None
    sums_short_rows = False
    leaving = []
    for value_id in ids:
        inst = candidate[value_id]
        if _is_reduction_of_matrix(inst) and inst.operands[0].id not in ids:
            return None  # a reduction of an outside matrix that happens to share N
        for operand in inst.values:
            if operand.id not in ids and not _free_to_transpose(operand.type.shape):
                return None
        for user in users.get(value_id, []):
            if user.result is not None and user.result.id in ids:
                continue
            if _is_reduction_of_matrix(user):
                leaving.append(user)
            elif inst.result.type.shape[1] != 1:
                return None  # an [N, K] member read outside would need a real transpose
        if value_id in fetched and inst.result.type.shape[1] != 1:
            return None
        if _is_reduction_of_matrix(inst) and inst.operands[0].type.shape == (n, k) and _axes(inst) == (1,):
            sums_short_rows = True
    for user in leaving:
        if user.operands[0].type.shape == (n, k) and _axes(user) == (1,):
            sums_short_rows = True
    if not sums_short_rows:
        return None
    return [candidate[i] for i in sorted(ids)], leaving


def _free_to_transpose(shape: tuple) -> bool:
    """Whether an outside operand of this shape is transposed by a reshape: a scalar, or a matrix or
    row with a dimension of 1 (an [N, K] operand is not)."""
    return len(shape) < 2 or (len(shape) == 2 and 1 in shape)


class _Transposer:
    """Rewrites the program with the blocks' instructions transposed (the module docstring)."""

    def __init__(self, program: Program, blocks: list):
        self.program = program
        self.members = {inst.result.id for block_members, _ in blocks for inst in block_members}
        self.next_id = program.next_id
        self.transposed: dict = {}  # value id -> its transposed value
        self.instructions: list = []
        self.used_outside = {v.id for v in program.fetches}
        position = {inst.result.id: i for i, inst in enumerate(program.instructions) if inst.result is not None}
        # Each outside operand's transposed form comes before the first member of the first block
        # reading it: placed at a later use, its reshape (a kernel of its own) would end a fused kernel
        # there. A read or constant defined after that point moves up with it.
        self.placed_at: dict = {}  # instruction index -> [(definition, moved)] transposed before it
        self.moved = set()  # indices of the definitions that moved
        first_of_block = {}
        for block_members, _ in blocks:
            first = min(position[inst.result.id] for inst in block_members)
            first_of_block.update((inst.result.id, first) for inst in block_members)
        inputs: dict = {}  # value id -> index of the first member of the first block reading it
        for inst in program.instructions:
            if inst.result is not None and inst.result.id in self.members:
                for v in inst.values:
                    if v.id not in self.members and _reshaped(v.type.shape):
                        inputs[v.id] = min(inputs.get(v.id, len(position)), first_of_block[inst.result.id])
            elif not (_is_reduction_of_matrix(inst) and self._leaves(inst)):
                self.used_outside.update(v.id for v in inst.values if v.id in self.members)
        for value_id, first in sorted(inputs.items(), key=lambda item: position[item[0]]):
            defined_at = position[value_id]
            moved = defined_at > first and _can_move_up(program.instructions, defined_at, first)
            if moved:
                self.moved.add(defined_at)
            at = first if moved or defined_at < first else defined_at + 1
            self.placed_at.setdefault(at, []).append((program.instructions[defined_at], moved))

    def run(self) -> Program:
        for index, inst in enumerate(self.program.instructions):
            for definition, moved in self.placed_at.get(index, []):
                self._transpose_input(definition, moved)
            if index in self.moved:
                continue
            if inst.result is not None and inst.result.id in self.members:
                self._member(inst)
            elif _is_reduction_of_matrix(inst) and self._leaves(inst):
                self._leaving_reduction(inst)
            else:
                self.instructions.append(inst)
        for definition, moved in self.placed_at.get(len(self.program.instructions), []):
            self._transpose_input(definition, moved)
        return self.program.replace(instructions=tuple(self.instructions), next_id=self.next_id)

    def _leaves(self, inst: Instruction) -> bool:
        return inst.operands[0].id in self.members and inst.result.id not in self.members

    def _new(self, op: str, operands: tuple, attrs: dict, shape: tuple, dtype, source: str) -> Value:
        value = Value(self.next_id, IRType(dtype, shape))
        self.next_id += 1
        self.instructions.append(Instruction(op, value, operands, attrs, source))
        return value

    def _transpose_input(self, inst: Instruction, moved: bool) -> None:
        """The transposed form of an outside operand (a row, a column) that `inst` defines (placed here
        too when `moved`): a constant of its own, the value a reshape made it from, or a reshape of it
        (a view, no kernel)."""
        if moved:
            self.instructions.append(inst)
        value = inst.result
        shape = value.type.shape
        wanted = (shape[0], 1) if len(shape) == 1 else (shape[1], shape[0])
        array = constant_value(inst)
        if array is not None:
            result = self._new("constant", (), {**inst.attrs, "value": array.reshape(wanted)}, wanted,
                               value.type.dtype, inst.source)
        elif inst.op == "reshape" and inst.operands[0].type == IRType(value.type.dtype, wanted):
            result = inst.operands[0]  # reshape(reshape(w)) back to w's shape: w itself
        else:
            result = self._new("reshape", (value,), {"shape": wanted}, wanted, value.type.dtype, inst.source)
        self.transposed[value.id] = result

    def _operand(self, value: Value) -> Value:
        """`value` as the transposed block reads it: its transpose, or itself (a scalar, a [1, 1])."""
        return self.transposed.get(value.id, value)

    def _member(self, inst: Instruction) -> None:
        operands = tuple(self._operand(o) if isinstance(o, Value) else o for o in inst.operands)
        rows, cols = inst.result.type.shape
        attrs = dict(inst.attrs)
        if fusion_of(inst) is FusionClass.REDUCE:  # a sum across the short rows, the block's [N, 1] column
            attrs["axes"] = tuple(1 - a for a in _axes(inst))
        value = self._new(inst.op, operands, attrs, (cols, rows), inst.result.type.dtype, inst.source)
        self.transposed[inst.result.id] = value
        if inst.result.id in self.used_outside:  # an [N, 1] column: the same elements, under its own id
            self.instructions.append(Instruction("reshape", inst.result, (value,), {"shape": (rows, cols)},
                                                 inst.source))

    def _leaving_reduction(self, inst: Instruction) -> None:
        operand = self.transposed[inst.operands[0].id]
        axes = tuple(1 - a for a in reversed(_axes(inst)))
        kept = tuple(d for a, d in enumerate(operand.type.shape) if a not in axes)
        attrs = {"axes": axes, "keepdims": False}
        if kept == inst.result.type.shape:
            self.instructions.append(inst.replace(operands=(operand,), attrs=attrs))
            return
        summed = self._new(inst.op, (operand,), attrs, kept, inst.result.type.dtype, inst.source)
        self.instructions.append(Instruction("reshape", inst.result, (summed,),
                                             {"shape": inst.result.type.shape}, inst.source))


def _reshaped(shape: tuple) -> bool:
    """Whether an outside operand of this shape changes shape when transposed (a scalar, [1] and
    [1, 1] do not)."""
    return len(shape) > 0 and shape not in ((1,), (1, 1))


def _can_move_up(instructions: tuple, index: int, to: int) -> bool:
    """Whether the instruction at `index` computes the same value at `to` (earlier): a constant, or a
    read of a variable that nothing between writes."""
    inst = instructions[index]
    if inst.op == "constant":
        return True
    if inst.op != "read":
        return False
    name = inst.operands[0].name
    return not any(name in written_variables(between) for between in instructions[to:index])
