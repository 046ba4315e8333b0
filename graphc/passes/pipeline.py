"""The pass pipeline: every pass, once, in order, with the reason for its place."""

from __future__ import annotations

import os
from typing import Callable, Optional

from graphc.ir.program import Program
from graphc.ir.verifier import verify
from graphc.passes.eliminate_common_subexpressions import eliminate_common_subexpressions
from graphc.passes.eliminate_dead_code import eliminate_dead_code
from graphc.passes.fold_constants import fold_constants
from graphc.passes.fuse import fuse
from graphc.passes.place_free_computations import place_free_computations
from graphc.passes.plan_memory import plan_memory
from graphc.passes.simplify import simplify

PIPELINE: list[tuple[str, Callable[[Program], Program]]] = [
    # Catch lowering bugs before any pass builds on them.
    ("verify", verify),
    # Gradient graphs compute shapes and counts from constants; fold them to literals.
    ("fold_constants", fold_constants),
    # After folding: x*1, sums over no axes, reshapes to the same shape become visible.
    ("simplify", simplify),
    # After simplification: once-different expressions (reshape(x) vs x) now match.
    ("eliminate_common_subexpressions", eliminate_common_subexpressions),
    # After folding and CSE: their left-over inputs and duplicates are unused.
    ("eliminate_dead_code", eliminate_dead_code),
    # Before fusion: work on only constants, feeds and reads, built where the graph happened
    # to build it (Adam's learning rate after the GEMMs it scales), would split kernels.
    ("place_free_computations", place_free_computations),
    # On the final instructions: every kernel it forms is one loop nest.
    ("fuse", fuse),
    # Last: buffers for the values that cross kernels, in kernel order.
    ("plan_memory", plan_memory),
]


def verify_between_passes() -> bool:
    """GRAPHC_VERIFY=1 runs the verifier after every pass (tests set it)."""
    return os.environ.get("GRAPHC_VERIFY", "") not in ("", "0")


def run_pipeline(program: Program, after_pass: Optional[Callable[[str, Program], None]] = None) -> Program:
    """Runs PIPELINE; `after_pass(name, program)` sees each result (for dumps)."""
    check = verify_between_passes()
    for name, run_pass in PIPELINE:
        program = run_pass(program)
        if check and run_pass is not verify:
            verify(program)
        if after_pass is not None and run_pass is not verify:
            after_pass(name, program)
    return program
