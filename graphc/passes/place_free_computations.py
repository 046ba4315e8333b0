"""Placing free computations: elementwise work on constants, feeds and reads moves where fusion wants it.

An instruction is *free-computed* if it is elementwise and its operands are,
transitively, only constants, feeds and variable reads: it can run anywhere
after its reads without changing what it computes. Lowering places such work
where the graph happened to build it, which can keep it out of the kernel that
uses it, because fusion only moves an instruction into a kernel that starts
after all its operands are computed:

- scalars (hyperparameter arithmetic: Adam's lr * sqrt(1 - beta2_power) /
  (1 - beta1_power), a decayed learning rate of the global step) are built
  after the gradients, so they land after the GEMMs whose epilogues — the
  optimizer updates — consume them. They move as early as they may: just
  after the last instruction they depend on; a read they use moves to just
  after the last earlier write of its variable, so it sees the same value.
- tensors (RMSProp's `mom * momentum`, built before the gradient term it is
  added to) move to just before the first of their users, so they join that
  user's kernel and stay in registers; when users sink too, just before the
  first instruction that stays where it is among those they sink to. Their
  reads stay where they are: a read is a value, whatever happens to the
  variable afterwards.

- a gradient loop's row reads of its forward loop's rows (`in_range`: they cannot fail, and nothing in
  the loop writes those rows) move to just after their index, as early as they may: each is a view of
  its row (passes/shared_storage.py), a kernel that computes nothing, and the elementwise work that
  reads it would otherwise start a kernel of its own after it (an LSTM's gradient: eleven small loop
  kernels between ten row reads, instead of a few).

Feeds never move: their order is the step's calling convention.

Nothing else moves, so the program computes exactly what it did.
"""

from __future__ import annotations

from graphc.ir.facts import is_elementwise, written_variables
from graphc.ir.program import Program


def place_free_computations(program: Program) -> Program:
    """Reorders the program as the module docstring says, by sorting keys (see `placement_keys`)."""
    instructions = program.instructions
    keys = placement_keys(program)
    order = sorted(range(len(instructions)), key=keys.__getitem__)
    return program.replace(instructions=tuple(instructions[i] for i in order))


def placement_keys(program: Program) -> dict:
    """Instruction index -> its sorting key; every key has at most six elements.

    An instruction that stays at index i has key (i, 0). A hoisted scalar
    placed just after the instruction at index a has (a, 1, i, 0); so does a
    constant or read it moves (a = -1, or the variable's last earlier write).
    Feeds never move. A sunk tensor goes just before its *anchor*: the earliest
    placed among its users' anchors, a user that does not sink being its own.
    It takes the anchor's key with the last element replaced by (-1, i, 0),
    so the tensors sunk to one anchor keep their order. Keys only ever
    decrease for hoisted instructions, a hoisted one's anchor is the latest
    among its operands', and a sunk one precedes all its users (each is its
    anchor or sunk to a later one, or to the same one with a larger index):
    definitions stay before uses. (Extending the first user's own key instead
    made keys as long as a chain of sunk tensors, and sorting quadratic.)
    """
    instructions = program.instructions
    keys = {i: (i, 0) for i in range(len(instructions))}
    definition: dict = {}
    users: dict = {}
    last_write: dict = {}
    earliest: dict = {}  # a constant or read -> its key were it hoisted
    free = set()         # constants, feeds, reads and free-computed instructions
    sinkable = []
    for i, inst in enumerate(instructions):
        operands = [definition[v.id] for v in inst.values]
        for j in operands:
            users.setdefault(j, []).append(i)
        for value in inst.defined:
            definition[value.id] = i
        for name in written_variables(inst):  # a write, or a loop or cond writing in its regions
            last_write[name] = i
        if inst.op == "feed":
            free.add(i)  # feeds stay: their order is the step's calling convention (lowering puts them first)
        elif inst.op in ("constant", "read"):
            free.add(i)
            anchor = last_write.get(inst.operands[0].name, -1) if inst.op == "read" else -1
            earliest[i] = (anchor, 1, i, 0)
        elif inst.op == "row_read" and inst.attrs.get("in_range"):
            keys[i] = (max((keys[j][0] for j in operands), default=-1), 1, i, 0)
        elif is_elementwise(inst) and all(j in free for j in operands):
            free.add(i)
            if inst.result.type.shape != ():
                sinkable.append(i)
                continue
            for j in operands:
                if j in earliest:
                    keys[j] = min(keys[j], earliest[j])
            keys[i] = (max((keys[j][0] for j in operands), default=-1), 1, i, 0)
    anchor_key: dict = {}  # a sunk tensor -> the key of its anchor
    for i in reversed(sinkable):  # users first: a sunk user's anchor is final before its operands'
        if i in users:
            anchor_key[i] = min(anchor_key.get(u, keys[u]) for u in users[i])
            keys[i] = anchor_key[i][:-1] + (-1, i, 0)
    return keys
