"""Passes over structured control flow: a pass runs on the program, then on each region as a program of its own.

A region is closed (ir/program.py): its `param`s bring in every outside value it
uses, so it is a program whose instructions are the region's and whose fetches are
the values it yields; a pass that knows nothing of control flow optimizes it as it
would a step (folds, simplifies, merges and drops dead code inside a loop body,
fuses the body's kernels). What a pass renames in a region's yields becomes the
region's new results. Kernel numbers stay unique across the whole program: a
region's kernels are numbered after those of the program so far. `rewrite_loops` is
the walk for passes that rewrite a loop as a whole (its cond and body together).
"""

from __future__ import annotations

from typing import Callable

from graphc.ir.program import Program


def in_regions(run_pass: Callable[[Program], Program]) -> Callable[[Program], Program]:
    """`run_pass` made to run on the program and then on every region, at any depth."""

    def apply(program: Program) -> Program:
        return _map_regions(run_pass(program), apply)

    apply.__name__ = run_pass.__name__
    apply.__doc__ = run_pass.__doc__
    return apply


def _map_regions(program: Program, run: Callable[[Program], Program]) -> Program:
    if not any(inst.regions for inst in program.instructions):
        return program
    next_id, kernels = program.next_id, dict(program.kernels)
    instructions = []
    for inst in program.instructions:
        if inst.regions:
            regions = []
            for region in inst.regions:
                sub = run(Program(program.name, program.variables, region.instructions, region.results, next_id))
                next_id = max(next_id, sub.next_id)
                body = sub.instructions
                if sub.kernels:
                    offset = max(kernels, default=-1) + 1
                    body = _renumbered(body, offset)
                    kernels.update((number + offset, kind) for number, kind in sub.kernels.items())
                regions.append(region.replace(instructions=body, results=sub.fetches))
            inst = inst.replace(regions=tuple(regions))
        instructions.append(inst)
    return program.replace(instructions=tuple(instructions), next_id=next_id, kernels=kernels)


def rewrite_loops(instructions: tuple, rewrite: Callable) -> tuple:
    """`instructions` with every `while`, at any depth, replaced by `rewrite(loop, definitions)`: the loop
    with its regions' loops rewritten first, and the instructions defining its operands (by value id, those
    of the instruction list the loop is in). The same tuple when nothing changed (`rewrite` returns the loop
    itself for no change)."""
    definitions = {v.id: inst for inst in instructions for v in inst.defined}
    result, changed = [], False
    for inst in instructions:
        regions = tuple(region.replace(instructions=body) if body is not region.instructions else region
                        for region, body in ((region, rewrite_loops(region.instructions, rewrite))
                                             for region in inst.regions))
        if any(new is not old for new, old in zip(regions, inst.regions)):
            inst, changed = inst.replace(regions=regions), True
        if inst.op == "while":
            rewritten = rewrite(inst, definitions)
            inst, changed = rewritten, changed or rewritten is not inst
        result.append(inst)
    return tuple(result) if changed else instructions


def _renumbered(instructions: tuple, offset: int) -> tuple:
    """`instructions` with every kernel number, in their regions too, moved up by `offset`."""
    result = []
    for inst in instructions:
        regions = tuple(r.replace(instructions=_renumbered(r.instructions, offset)) for r in inst.regions)
        kernel = None if inst.kernel is None else inst.kernel + offset
        result.append(inst.replace(kernel=kernel, regions=regions))
    return tuple(result)

