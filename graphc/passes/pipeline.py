"""The pass pipeline: every pass, once, in order, with the reason for its place."""

from __future__ import annotations

from typing import Callable

from graphc import environment
from graphc.ir.program import Program
from graphc.ir.verifier import verify
from graphc.passes.bound_counter_rows import bound_counter_rows
from graphc.passes.check_memory import check_plan_fits, check_values_fit
from graphc.passes.constant_loop_variables import constant_loop_variables
from graphc.passes.eliminate_common_subexpressions import eliminate_common_subexpressions
from graphc.passes.eliminate_dead_code import eliminate_dead_code
from graphc.passes.fold_constants import fold_constants
from graphc.passes.fuse import fuse
from graphc.passes.hoist_loop_invariants import hoist_loop_invariants
from graphc.passes.place_free_computations import place_free_computations
from graphc.passes.plan_memory import plan_memory
from graphc.passes.regions import in_regions
from graphc.passes.simplify import simplify
from graphc.passes.transpose_short_rows import transpose_short_rows

# Passes marked in_regions run on the program, then on each region of its loops and conds as a
# program of its own (passes/regions.py); the others see the regions themselves.
PIPELINE: list[tuple[str, Callable[[Program], Program]]] = [
    # Catch lowering bugs before any pass builds on them.
    ("verify", verify),
    # Before folding allocates constants: refuse a tensor larger than the machine's memory.
    ("check_values_fit", check_values_fit),
    # Gradient graphs compute shapes and counts from constants; fold them to literals.
    ("fold_constants", in_regions(fold_constants)),
    # After folding (a cond's bound is a literal then); before DCE, which can then drop a TensorArray
    # nothing reads, whose row writes at the loop counter no longer may fail.
    ("bound_counter_rows", bound_counter_rows),
    # After folding (splat first values are literals then); before DCE, which then drops the gradient of
    # a TensorArray nothing read (zeros, read as such now).
    ("constant_loop_variables", constant_loop_variables),
    # After folding: x*1, sums over no axes, reshapes to the same shape become visible.
    ("simplify", in_regions(simplify)),
    # After simplify has turned products with a dimension of 1 into elementwise work and sums;
    # before CSE and DCE, which merge the reshapes it adds and drop the ones it makes unused.
    ("transpose_short_rows", in_regions(transpose_short_rows)),
    # After simplification: once-different expressions (reshape(x) vs x) now match.
    ("eliminate_common_subexpressions", in_regions(eliminate_common_subexpressions)),
    # After folding and CSE: their left-over inputs and duplicates are unused.
    ("eliminate_dead_code", in_regions(eliminate_dead_code)),
    # After DCE (no dead work moved out): loop bodies' work on captured values runs once, before the
    # loop (the kernel slice simplify gives an LSTM's input gradient); before fusion groups the moved work.
    ("hoist_loop_invariants", hoist_loop_invariants),
    # Before fusion: work on only constants, feeds and reads, built where the graph happened
    # to build it (Adam's learning rate after the GEMMs it scales), would split kernels.
    ("place_free_computations", in_regions(place_free_computations)),
    # On the final instructions: every kernel it forms is one loop nest.
    ("fuse", in_regions(fuse)),
    # Last: buffers for the values that cross kernels, in kernel order.
    ("plan_memory", plan_memory),
    # On the plan: the arena, variables and outputs must fit in memory together.
    ("check_plan_fits", check_plan_fits),
]


def run_pipeline(program: Program) -> Program:
    """Runs PIPELINE on `program` (verifying every pass's result with GRAPHC_VERIFY=1).

    The compiler driver runs these passes as stages of its own (compiler/driver.py);
    this is for tools and tests that want the optimized IR alone.
    """
    check = environment.get().verify
    for _, run_pass in PIPELINE:
        result = run_pass(program)
        if check and result is not program:
            verify(result)
        program = result
    return program
