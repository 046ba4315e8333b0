"""The pass pipeline: every pass, once, in order, with the reason for its place."""

from __future__ import annotations

import os
from typing import Callable, Optional

from graphc.ir.program import Program
from graphc.ir.verifier import verify
from graphc.passes.eliminate_dead_code import eliminate_dead_code
from graphc.passes.fold_constants import fold_constants
from graphc.passes.plan_memory import plan_memory

PIPELINE: list[tuple[str, Callable[[Program], Program]]] = [
    # Catch lowering bugs before any pass builds on them.
    ("verify", verify),
    # Gradient graphs compute shapes and counts from constants; fold them to literals.
    ("fold_constants", fold_constants),
    # After folding: the inputs of folded instructions are now unused.
    ("eliminate_dead_code", eliminate_dead_code),
    # Last: it assigns buffers to the final set of values.
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
