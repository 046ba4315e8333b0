"""Each pass: golden before/after IR, and the reference interpreter agreeing before and after."""

import numpy as np
import pytest

from graphc.ir.interpreter import interpret
from graphc.ir.memory_plan import Location, Place
from graphc.ir.parser import parse
from graphc.ir.printer import print_program
from graphc.passes.eliminate_common_subexpressions import eliminate_common_subexpressions
from graphc.passes.eliminate_dead_code import eliminate_dead_code
from graphc.passes.fold_constants import fold_constants
from graphc.passes.fuse import fuse
from graphc.passes.pipeline import PIPELINE, run_pipeline
from graphc.passes.place_free_computations import place_free_computations
from graphc.passes.plan_memory import plan_memory
from graphc.passes.simplify import simplify
from tests.mlp_graph import mlp_training_program


def check_golden(run_pass, before: str, after: str):
    assert print_program(run_pass(parse(before))) == after


def ops_by_kernel(program) -> list:
    """The ops of each kernel of a fused program, kernel by kernel."""
    kernels = {}
    for inst in program.instructions:
        if inst.kernel is not None:
            kernels.setdefault(inst.kernel, []).append(inst.op)
    return list(kernels.values())


def test_fold_constants_golden():
    check_golden(fold_constants, """\
program step:
  %0:f32[2] = feed {tensor="x:0"}
  %1:i32[] = constant {value=6}
  %2:i32[] = constant {value=4}
  %3:i32[] = floordiv %1, %2  # count
  %4:f32[] = cast %3 {dtype=f32}
  %5:f32[2] = mul %0, %4
  %6:f32[500,500] = constant {value=2.0}
  %7:f32[500,500] = neg %6  # big splat stays a splat
  fetch %5, %7
""", """\
program step:
  %0:f32[2] = feed {tensor="x:0"}
  %1:i32[] = constant {value=6}
  %2:i32[] = constant {value=4}
  %3:i32[] = constant {value=1}  # count
  %4:f32[] = constant {value=1.0}
  %5:f32[2] = mul %0, %4
  %6:f32[500,500] = constant {value=2.0}
  %7:f32[500,500] = constant {value=-2.0}  # big splat stays a splat
  fetch %5, %7
""")


def test_fold_constants_leaves_failing_and_stateful_ops():
    text = """\
program step:
  rng @rng:r: i64[]
  %0:i32[] = constant {value=1}
  %1:i32[] = constant {value=0}
  %2:i32[] = floordiv %0, %1
  %3:f32[2] = random_uniform @rng:r {dtype=f32, seed=1, seed2=2, shape=[2]}
  fetch %2, %3
"""
    check_golden(fold_constants, text, text)


def test_eliminate_dead_code_golden():
    check_golden(eliminate_dead_code, """\
program step:
  var @v: f32[2]
  %0:f32[2] = feed {tensor="x:0"}
  %1:f32[2] = feed {tensor="unused:0"}
  %2:f32[2] = neg %0
  %3:f32[2] = exp %2
  %4:f32[2] = read @v
  write @v, %2
  fetch %0
""", """\
program step:
  var @v: f32[2]
  %0:f32[2] = feed {tensor="x:0"}
  %1:f32[2] = feed {tensor="unused:0"}
  %2:f32[2] = neg %0
  write @v, %2
  fetch %0
""")


def test_plan_memory_golden():
    # %2 and %6 stay in registers (used only inside their kernel); %1 is fetched and v is
    # written later, so it is copied into its output at the read; %3 (kernel 1) and %7
    # (kernel 3) never live at once, so they share arena offset 0; %4 is live across both.
    check_golden(plan_memory, """\
program step:
  var @v: f32[4]
  %0:f32[4] = feed {tensor="x:0"}
  %1:f32[4] = read @v
  kernel 0 loop:
    %2:f32[4] = add %0, %1
    %3:f32[4] = neg %2
  kernel 1 reduce:
    %4:f32[] = reduce_sum %3 {axes=[0], keepdims=false}
  kernel 2 loop:
    %5:f32[4] = mul %0, %4
    %6:f32[4] = exp %5
    write @v, %6
  kernel 3 reduce:
    %7:f32[] = reduce_max %0 {axes=[0], keepdims=false}
  kernel 4 loop:
    %8:f32[] = add %7, %4
  fetch %8, %1
""", """\
program step:
  var @v: f32[4]
  %0:f32[4] = feed {tensor="x:0"}
  %1:f32[4] = read @v
  kernel 0 loop:
    %2:f32[4] = add %0, %1
    %3:f32[4] = neg %2
  kernel 1 reduce:
    %4:f32[] = reduce_sum %3 {axes=[0], keepdims=false}
  kernel 2 loop:
    %5:f32[4] = mul %0, %4
    %6:f32[4] = exp %5
    write @v, %6
  kernel 3 reduce:
    %7:f32[] = reduce_max %0 {axes=[0], keepdims=false}
  kernel 4 loop:
    %8:f32[] = add %7, %4
  fetch %8, %1
  # memory: arena peak 128 bytes (without reuse 192); 3 values in registers; 0 passed-in constants
  #   %0 -> feed[0]
  #   %1 -> output[1]
  #   %2 -> register
  #   %3 -> arena+0
  #   %4 -> arena+64
  #   %5 -> register
  #   %6 -> register
  #   %7 -> arena+0
  #   %8 -> output[0]
""")


def test_plan_memory_snapshots_reads_that_outlive_a_write():
    program = plan_memory(parse("""\
program step:
  var @v: f32[4]
  %0:f32[4] = read @v
  %1:f32[4] = neg %0
  write @v, %1
  %2:f32[4] = exp %0
  fetch %2
"""))
    plan = program.memory_plan
    assert plan.locations[0].place is Place.ARENA and 0 in plan.materialized_reads


def test_plan_memory_updates_variables_in_place():
    # The SGD update w - lr * g reads w[i] and writes w[i] in one kernel: w is not copied.
    # The GEMM kernel before it reads w whole, but it is done before the write.
    program = plan_memory(parse("""\
program step:
  var @w: f32[8,4]
  %0:f32[2,8] = feed {tensor="x:0"}
  %1:f32[2,4] = feed {tensor="g:0"}
  %2:f32[] = constant {value=0.1}
  %3:f32[8,4] = read @w
  kernel 0 gemm:
    %4:f32[2,4] = matmul %0, %3 {transpose_a=false, transpose_b=false}
  kernel 1 gemm:
    %5:f32[8,4] = matmul %0, %1 {transpose_a=true, transpose_b=false}
    %6:f32[8,4] = mul %2, %5
    %7:f32[8,4] = sub %3, %6
    write @w, %7
  fetch %4
"""))
    plan = program.memory_plan
    assert plan.locations[3] == Location(Place.VARIABLE, 0) and not plan.materialized_reads


@pytest.mark.parametrize("program_text", [
    # a later kernel reads the old value
    """\
program step:
  var @v: f32[4]
  %0:f32[4] = feed {tensor="x:0"}
  %1:f32[4] = read @v
  kernel 0 loop:
    %2:f32[4] = add %0, %1
    write @v, %2
  kernel 1 loop:
    %3:f32[4] = exp %1
  fetch %3
""",
    # the writing kernel's GEMM reads the whole old value while its epilogue writes tiles
    """\
program step:
  var @v: f32[4,4]
  %0:f32[4,4] = feed {tensor="x:0"}
  %1:f32[4,4] = read @v
  kernel 0 gemm:
    %2:f32[4,4] = matmul %0, %1 {transpose_a=false, transpose_b=false}
    %3:f32[4,4] = sub %1, %2
    write @v, %3
  fetch
""",
])
def test_plan_memory_snapshots_reads_still_needed_when_written(program_text):
    assert 1 in plan_memory(parse(program_text)).memory_plan.materialized_reads


# verify and check_plan_fits change nothing; the latter needs a planned program.
@pytest.mark.parametrize("name, run_pass", [p for p in PIPELINE if p[0] not in ("verify", "check_plan_fits")])
def test_pass_preserves_meaning_of_training_step(name, run_pass):
    program, feeds, variables = mlp_training_program()
    before_values, before_state = interpret(program, feeds, variables)
    after_values, after_state = interpret(run_pass(program), feeds, variables)
    for a, b in zip(before_values, after_values):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    for name_ in before_state:
        np.testing.assert_allclose(before_state[name_], after_state[name_], rtol=1e-6)


def test_pipeline_folds_gradient_shape_arithmetic():
    program, _, _ = mlp_training_program()
    optimized = run_pipeline(program)
    ops = [inst.op for inst in optimized.instructions]
    assert "floordiv" not in ops and "broadcast_to" not in ops
    assert len(optimized.instructions) < len(program.instructions)


def test_simplify_golden():
    # x*1 and 0+x go; the reshape chain back to x's shape goes; the sum over no axes goes;
    # a [4,1] @ [1,3] product becomes a broadcast multiply.
    check_golden(simplify, """\
program step:
  %0:f32[4,3] = feed {tensor="x:0"}
  %1:f32[] = constant {value=1.0}
  %2:f32[] = constant {value=0.0}
  %3:f32[4,3] = mul %0, %1
  %4:f32[4,3] = add %2, %3
  %5:f32[12] = reshape %4 {shape=[12]}
  %6:f32[4,3] = reshape %5 {shape=[4, 3]}
  %7:f32[4,3] = reduce_sum %6 {axes=[], keepdims=false}
  %8:f32[4,1] = feed {tensor="a:0"}
  %9:f32[1,3] = feed {tensor="b:0"}
  %10:f32[4,3] = matmul %8, %9 {transpose_a=false, transpose_b=false}  # outer
  %11:f32[4,3] = neg %10
  %12:f32[4,3] = neg %11
  fetch %7, %12
""", """\
program step:
  %0:f32[4,3] = feed {tensor="x:0"}
  %1:f32[] = constant {value=1.0}
  %2:f32[] = constant {value=0.0}
  %5:f32[12] = reshape %0 {shape=[12]}
  %8:f32[4,1] = feed {tensor="a:0"}
  %9:f32[1,3] = feed {tensor="b:0"}
  %13:f32[4,3] = mul %8, %9  # outer
  %11:f32[4,3] = neg %13
  fetch %0, %13
""")


def test_cse_golden():
    # Equal constants and equal expressions merge; two reads of @v merge while no write
    # of @v comes between them, and not after one.
    check_golden(eliminate_common_subexpressions, """\
program step:
  var @v: f32[2]
  %0:f32[2] = feed {tensor="x:0"}
  %1:f32[] = constant {value=2.0}
  %2:f32[] = constant {value=2.0}
  %3:f32[2] = mul %0, %1
  %4:f32[2] = mul %0, %2
  %5:f32[2] = read @v
  %6:f32[2] = read @v
  write @v, %3
  %7:f32[2] = read @v
  %8:f32[2] = add %4, %6
  fetch %8, %7, %5
""", """\
program step:
  var @v: f32[2]
  %0:f32[2] = feed {tensor="x:0"}
  %1:f32[] = constant {value=2.0}
  %3:f32[2] = mul %0, %1
  %5:f32[2] = read @v
  write @v, %3
  %7:f32[2] = read @v
  %8:f32[2] = add %3, %5
  fetch %8, %7, %5
""")


def test_fuse_golden():
    # The bias add and relu join the GEMM; the update of @w joins its gradient's GEMM
    # (the read %3 moves into it: no write of @w in between); the loss reduction takes
    # its square; the increment of @step is a loop of its own.
    check_golden(fuse, """\
program step:
  var @w: f32[3,2]
  var @step: i32[]
  %0:f32[4,3] = feed {tensor="x:0"}
  %1:f32[2] = feed {tensor="b:0"}
  %2:f32[3,2] = read @w
  %4:f32[4,2] = matmul %0, %2 {transpose_a=false, transpose_b=false}
  %5:f32[4,2] = add %4, %1
  %6:f32[4,2] = relu %5
  %7:f32[4,2] = square %6
  %8:f32[] = reduce_sum %7 {axes=[0, 1], keepdims=false}
  %9:f32[3,2] = matmul %0, %6 {transpose_a=true, transpose_b=false}
  %10:f32[] = constant {value=0.1}
  %3:f32[3,2] = read @w
  %11:f32[3,2] = mul %10, %9
  %12:f32[3,2] = sub %3, %11
  write @w, %12
  %13:i32[] = read @step
  %14:i32[] = constant {value=1}
  %15:i32[] = add %13, %14
  write @step, %15
  fetch %8
""", """\
program step:
  var @w: f32[3,2]
  var @step: i32[]
  %0:f32[4,3] = feed {tensor="x:0"}
  %1:f32[2] = feed {tensor="b:0"}
  %10:f32[] = constant {value=0.1}
  %14:i32[] = constant {value=1}
  %2:f32[3,2] = read @w
  kernel 0 gemm:
    %4:f32[4,2] = matmul %0, %2 {transpose_a=false, transpose_b=false}
    %5:f32[4,2] = add %4, %1
    %6:f32[4,2] = relu %5
    %7:f32[4,2] = square %6
  kernel 1 reduce:
    %8:f32[] = reduce_sum %7 {axes=[0, 1], keepdims=false}
  %3:f32[3,2] = read @w
  kernel 2 gemm:
    %9:f32[3,2] = matmul %0, %6 {transpose_a=true, transpose_b=false}
    %11:f32[3,2] = mul %10, %9
    %12:f32[3,2] = sub %3, %11
    write @w, %12
  %13:i32[] = read @step
  kernel 3 loop:
    %15:i32[] = add %13, %14
    write @step, %15
  fetch %8
""")


def test_fuse_merges_sibling_reductions_golden():
    # A layer's bias and weight gradients: two column sums of one tanh gradient (%7) over
    # [8, 10], one kept as a row. The second's producer %9 and its update join the first's
    # kernel: one pass over the rows computes both sums, the main pass before the
    # reductions, the updates after. The sum over both axes walks the same rows but other
    # axes: a kernel of its own.
    check_golden(fuse, """\
program step:
  var @b: f32[10]
  var @w: f32[1,10]
  %0:f32[8,10] = feed {tensor="h:0"}
  %1:f32[8,1] = feed {tensor="g:0"}
  %2:f32[8,1] = feed {tensor="x:0"}
  %3:f32[] = constant {value=1.0}
  %4:f32[] = constant {value=0.1}
  %5:f32[8,10] = mul %0, %0
  %6:f32[8,10] = sub %3, %5
  %7:f32[8,10] = mul %6, %1
  %8:f32[10] = reduce_sum %7 {axes=[0], keepdims=false}
  %9:f32[8,10] = mul %2, %7
  %10:f32[1,10] = reduce_sum %9 {axes=[0], keepdims=true}
  %11:f32[8,10] = mul %0, %1
  %12:f32[1] = reduce_sum %11 {axes=[0, 1], keepdims=false}
  %13:f32[10] = read @b
  %14:f32[10] = mul %4, %8
  %15:f32[10] = sub %13, %14
  write @b, %15
  %16:f32[1,10] = read @w
  %17:f32[1,10] = mul %4, %10
  %18:f32[1,10] = sub %16, %17
  write @w, %18
  fetch %12
""", """\
program step:
  var @b: f32[10]
  var @w: f32[1,10]
  %0:f32[8,10] = feed {tensor="h:0"}
  %1:f32[8,1] = feed {tensor="g:0"}
  %2:f32[8,1] = feed {tensor="x:0"}
  %3:f32[] = constant {value=1.0}
  %4:f32[] = constant {value=0.1}
  %13:f32[10] = read @b
  %16:f32[1,10] = read @w
  kernel 0 reduce:
    %5:f32[8,10] = mul %0, %0
    %6:f32[8,10] = sub %3, %5
    %7:f32[8,10] = mul %6, %1
    %9:f32[8,10] = mul %2, %7
    %8:f32[10] = reduce_sum %7 {axes=[0], keepdims=false}
    %10:f32[1,10] = reduce_sum %9 {axes=[0], keepdims=true}
    %14:f32[10] = mul %4, %8
    %15:f32[10] = sub %13, %14
    write @b, %15
    %17:f32[1,10] = mul %4, %10
    %18:f32[1,10] = sub %16, %17
    write @w, %18
  kernel 1 reduce:
    %11:f32[8,10] = mul %0, %1
    %12:f32[1] = reduce_sum %11 {axes=[0, 1], keepdims=false}
  fetch %12
""")


def test_fuse_keeps_apart_a_sibling_reduction_that_reads_a_later_state():
    # The second sum reads @v after a write that runs after the first sum's kernel starts:
    # joining that kernel would read @v before the write.
    fused = fuse(parse("""\
program step:
  var @v: f32[8,10]
  %0:f32[8,10] = feed {tensor="h:0"}
  %1:f32[8,10] = mul %0, %0
  %2:f32[10] = reduce_sum %1 {axes=[0], keepdims=false}
  write @v, %1
  %3:f32[8,10] = read @v
  %4:f32[8,10] = mul %3, %0
  %5:f32[10] = reduce_sum %4 {axes=[0], keepdims=false}
  fetch %2, %5
"""))
    assert ops_by_kernel(fused) == [["mul", "reduce_sum"], ["write"], ["mul", "reduce_sum"]]


def test_checks_survive_dead_code_elimination_and_stay_ahead_of_writes():
    # The check's result is unused, yet it stays. The new @w joins the gemm kernel, which
    # starts before the check; its write may not (it would change @w before the check ran):
    # it becomes a copy after the check.
    check_golden(lambda p: fuse(eliminate_dead_code(p)), """\
program step:
  var @w: f32[3,3]
  %0:f32[4,3] = feed {tensor="x:0"}
  %1:f32[3,3] = read @w
  %2:f32[3,3] = matmul %0, %0 {transpose_a=true, transpose_b=false}
  %3:f32[4,3] = check_numerics %0 {message="x"}
  %4:f32[3,3] = sub %1, %2
  write @w, %4
  fetch %2
""", """\
program step:
  var @w: f32[3,3]
  %0:f32[4,3] = feed {tensor="x:0"}
  %1:f32[3,3] = read @w
  kernel 0 gemm:
    %2:f32[3,3] = matmul %0, %0 {transpose_a=true, transpose_b=false}
    %4:f32[3,3] = sub %1, %2
  kernel 1 opaque:
    %3:f32[4,3] = check_numerics %0 {message="x"}
  kernel 2 copy:
    write @w, %4
  fetch %2
""")


def test_place_free_computations_golden():
    # Scalars on constants and reads move as early as they may: @p * 0.5 (%4) to the top
    # with its read and constant, 1 - @p (%11) to just after the write of @p that its read
    # %10 must see. The tensor @m * 0.9 (%6) moves to just before its first user %8.
    # The writes and the GEMM stay in place.
    check_golden(place_free_computations, """\
program step:
  var @w: f32[3,2]
  var @m: f32[3,2]
  var @p: f32[]
  %0:f32[4,3] = feed {tensor="x:0"}
  %1:f32[4,2] = feed {tensor="dy:0"}
  %2:f32[] = read @p
  %3:f32[] = constant {value=0.5}
  %4:f32[] = mul %2, %3
  write @p, %4
  %5:f32[3,2] = read @m
  %13:f32[] = constant {value=0.9}
  %6:f32[3,2] = mul %5, %13
  %7:f32[3,2] = matmul %0, %1 {transpose_a=true, transpose_b=false}
  %8:f32[3,2] = add %6, %7
  write @m, %8
  %9:f32[] = constant {value=1.0}
  %10:f32[] = read @p
  %11:f32[] = sub %9, %10
  %12:f32[3,2] = mul %8, %11
  write @w, %12
  fetch
""", """\
program step:
  var @w: f32[3,2]
  var @m: f32[3,2]
  var @p: f32[]
  %2:f32[] = read @p
  %3:f32[] = constant {value=0.5}
  %4:f32[] = mul %2, %3
  %9:f32[] = constant {value=1.0}
  %0:f32[4,3] = feed {tensor="x:0"}
  %1:f32[4,2] = feed {tensor="dy:0"}
  write @p, %4
  %10:f32[] = read @p
  %11:f32[] = sub %9, %10
  %5:f32[3,2] = read @m
  %13:f32[] = constant {value=0.9}
  %7:f32[3,2] = matmul %0, %1 {transpose_a=true, transpose_b=false}
  %6:f32[3,2] = mul %5, %13
  %8:f32[3,2] = add %6, %7
  write @m, %8
  %12:f32[3,2] = mul %8, %11
  write @w, %12
  fetch
""")


def test_fuse_puts_free_operations_into_the_kernel_of_their_user():
    # After place_free_computations, @m * 0.9 joins the GEMM its sum with the product
    # extends; the scalar 1 - @p joins the scalar loop before it.
    fused = fuse(place_free_computations(parse("""\
program step:
  var @m: f32[3,2]
  var @p: f32[]
  %0:f32[4,3] = feed {tensor="x:0"}
  %1:f32[4,2] = feed {tensor="dy:0"}
  %2:f32[] = read @p
  %3:f32[] = constant {value=0.5}
  %4:f32[] = mul %2, %3
  %5:f32[3,2] = read @m
  %6:f32[3,2] = mul %5, %3
  %7:f32[3,2] = matmul %0, %1 {transpose_a=true, transpose_b=false}
  %8:f32[3,2] = add %6, %7
  %9:f32[] = constant {value=1.0}
  %10:f32[] = sub %9, %2
  %11:f32[3,2] = mul %8, %10
  write @m, %11
  fetch %4
""")))
    assert ops_by_kernel(fused) == [["mul", "sub"], ["matmul", "mul", "add", "mul", "write"]]


def test_place_free_computations_keeps_a_sunk_value_before_all_its_users():
    # %1's first user %3 sinks down to %6, past %1's other user %4: %1 must go before %4.
    check_golden(place_free_computations, """\
program step:
  %0:f64[4] = feed {tensor="x:0"}
  %1:f64[4] = tanh %0
  %2:f64[4] = constant {value=3.0}
  %3:f64[4] = mul %2, %1
  %4:f64[4] = tanh_grad %1, %2
  %5:f64[] = reduce_sum %0 {axes=[0], keepdims=false}
  %6:f64[4] = add %3, %4
  fetch %5, %6
""", """\
program step:
  %0:f64[4] = feed {tensor="x:0"}
  %2:f64[4] = constant {value=3.0}
  %5:f64[] = reduce_sum %0 {axes=[0], keepdims=false}
  %1:f64[4] = tanh %0
  %3:f64[4] = mul %2, %1
  %4:f64[4] = tanh_grad %1, %2
  %6:f64[4] = add %3, %4
  fetch %5, %6
""")


def test_place_free_computations_never_reorders_feeds():
    # Feeds are the step's calling convention: the scalar 1 - keep and its constant move up,
    # the feeds keep their order.
    check_golden(place_free_computations, """\
program step:
  %0:f32[2,3] = feed {tensor="x:0"}
  %1:f32[] = feed {tensor="keep:0"}
  %2:f32[2,3] = neg %0
  %3:f32[] = constant {value=1.0}
  %4:f32[] = sub %3, %1
  %5:f32[2,3] = mul %2, %4
  fetch %5
""", """\
program step:
  %3:f32[] = constant {value=1.0}
  %0:f32[2,3] = feed {tensor="x:0"}
  %1:f32[] = feed {tensor="keep:0"}
  %4:f32[] = sub %3, %1
  %2:f32[2,3] = neg %0
  %5:f32[2,3] = mul %2, %4
  fetch %5
""")


@pytest.mark.parametrize("m, k, n", [(5, 7, 1), (1, 7, 5), (5, 1, 4), (1, 6, 1)])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
def test_simplify_turns_products_with_a_dimension_of_1_into_elementwise_work(m, k, n, transpose_a, transpose_b):
    a_shape = (k, m) if transpose_a else (m, k)
    b_shape = (n, k) if transpose_b else (k, n)
    program = parse(f"""\
program step:
  %0:f32[{a_shape[0]},{a_shape[1]}] = feed {{tensor="a:0"}}
  %1:f32[{b_shape[0]},{b_shape[1]}] = feed {{tensor="b:0"}}
  %2:f32[{m},{n}] = matmul %0, %1 {{transpose_a={str(transpose_a).lower()}, transpose_b={str(transpose_b).lower()}}}
  fetch %2
""")
    rng = np.random.RandomState(0)
    feeds = {"a:0": rng.rand(*a_shape).astype(np.float32), "b:0": rng.rand(*b_shape).astype(np.float32)}
    simplified = simplify(program)
    assert "matmul" not in [inst.op for inst in simplified.instructions]
    (expected,), _ = interpret(program, feeds, {})
    (got,), _ = interpret(simplified, feeds, {})
    np.testing.assert_allclose(got, expected, rtol=1e-6)


_PADDED_PIECES = """\
program step:
  %0:f32[2,3] = feed {{tensor="a:0"}}
  %1:f32[2,1] = feed {{tensor="b:0"}}
  %2:f32[] = constant {{value={fill}}}
  %3:f32[2,4] = pad %0, %2 {{paddings=[0, 0, {a_before}, {a_after}]}}
  %4:f32[2,4] = pad %1, %2 {{paddings=[0, 0, {b_before}, {b_after}]}}
  %5:f32[2,4] = add_n %3, %4
  fetch %5
"""


def test_simplify_turns_zero_pads_tiling_an_axis_into_a_concat():
    # A split's gradient: the slices' gradients padded back to the whole and summed. -0.0 stays -0.0, as in
    # TF's split gradient (a concat); the sum would give +0.0.
    program = parse(_PADDED_PIECES.format(fill=0.0, a_before=1, a_after=0, b_before=0, b_after=3))
    simplified = eliminate_dead_code(simplify(program))
    assert [inst.op for inst in simplified.instructions if inst.op not in ("feed", "constant")] == ["concat"]
    concat = simplified.instructions[-1]
    assert [v.id for v in concat.operands] == [1, 0] and concat.attrs["axis"] == 1
    feeds = {"a:0": np.array([[1, -0.0, np.inf], [np.nan, 2, 3]], np.float32),
             "b:0": np.array([[-0.0], [4]], np.float32)}
    (got,), _ = interpret(simplified, feeds, {})
    (summed,), _ = interpret(program, feeds, {})
    np.testing.assert_array_equal(got, summed)
    assert np.signbit(got[0, 0]) and np.signbit(got[0, 2]) and not np.signbit(summed[0, 0])


@pytest.mark.parametrize("fill, a_before, a_after, b_before, b_after", [
    (1.0, 1, 0, 0, 3),   # padded with ones: the sum adds them
    (0.0, 0, 1, 0, 3),   # overlapping pieces
    (0.0, 1, 0, 1, 2),   # overlapping at the start, a gap at the end
])
def test_simplify_keeps_pads_that_do_not_tile_with_zeros(fill, a_before, a_after, b_before, b_after):
    program = parse(_PADDED_PIECES.format(fill=fill, a_before=a_before, a_after=a_after, b_before=b_before,
                                          b_after=b_after))
    assert "concat" not in [inst.op for inst in simplify(program).instructions]


@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("begin, size", [((0, 2), (5, 3)), ((1, 0), (3, 5)), ((2, 1), (2, 3))])
def test_simplify_slices_the_operands_of_a_product_only_sliced(transpose_a, transpose_b, begin, size):
    # dx[:, 28:] of an LSTM's dx = dgates @ Kᵀ: the product of dgates and K's last rows.
    a_shape = (4, 5) if transpose_a else (5, 4)
    b_shape = (5, 4) if transpose_b else (4, 5)
    program = parse(f"""\
program step:
  %0:f32[{a_shape[0]},{a_shape[1]}] = feed {{tensor="a:0"}}
  %1:f32[{b_shape[0]},{b_shape[1]}] = feed {{tensor="b:0"}}
  %2:f32[5,5] = matmul %0, %1 {{transpose_a={str(transpose_a).lower()}, transpose_b={str(transpose_b).lower()}}}
  %3:f32[{size[0]},{size[1]}] = slice %2 {{begin=[{begin[0]}, {begin[1]}], size=[{size[0]}, {size[1]}]}}
  fetch %3
""")
    rng = np.random.RandomState(0)
    feeds = {"a:0": rng.rand(*a_shape).astype(np.float32), "b:0": rng.rand(*b_shape).astype(np.float32)}
    simplified = eliminate_dead_code(simplify(program))
    (product,) = [inst for inst in simplified.instructions if inst.op == "matmul"]
    assert product.result.type.shape == size
    (expected,), _ = interpret(program, feeds, {})
    (got,), _ = interpret(simplified, feeds, {})
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_simplify_keeps_a_product_read_besides_its_slice():
    program = parse("""\
program step:
  %0:f32[5,4] = feed {tensor="a:0"}
  %1:f32[4,5] = feed {tensor="b:0"}
  %2:f32[5,5] = matmul %0, %1 {transpose_a=false, transpose_b=false}
  %3:f32[5,3] = slice %2 {begin=[0, 2], size=[5, 3]}
  fetch %3, %2
""")
    assert [inst.op for inst in simplify(program).instructions].count("matmul") == 1
    assert "slice" in [inst.op for inst in simplify(program).instructions]


_LOOP_WITH_INVARIANT_WORK = """\
program step:
  %0:f32[4,3] = feed {tensor="w:0"}
  %1:f32[2,2] = feed {tensor="x:0"}
  %2:i32[] = constant {value=0}
  %3:i32[] = constant {value=3}
  %4:i32[], %5:f32[2,2] = while %2, %1, %3, %0 {carried=2}
    cond:
      %6:i32[] = param {index=0}
      %7:i32[] = param {index=2}
      %8:bool[] = less %6, %7
      yield %8
    body:
      %9:i32[] = param {index=0}
      %10:f32[2,2] = param {index=1}
      %11:f32[4,3] = param {index=3}
      %12:i32[] = constant {value=1}
      %13:f32[] = constant {value=0.5}
      %14:f32[2,3] = slice %11 {begin=[2, 0], size=[2, 3]}
      %15:f32[2,3] = mul %14, %13
      %16:f32[2,3] = matmul %10, %15 {transpose_a=false, transpose_b=false}
      %17:f32[2,2] = slice %16 {begin=[0, 0], size=[2, 2]}
      %18:f32[2,2] = tanh %17
      %19:i32[] = add %9, %12
      yield %19, %18
  fetch %5
"""


def test_hoist_loop_invariants_moves_work_on_captured_values_before_the_loop():
    from graphc.passes.hoist_loop_invariants import hoist_loop_invariants
    program = parse(_LOOP_WITH_INVARIANT_WORK)
    hoisted = hoist_loop_invariants(program)
    loop = next(inst for inst in hoisted.instructions if inst.op == "while")
    before = [inst.op for inst in hoisted.instructions[:hoisted.instructions.index(loop)]]
    assert before.count("slice") == 1 and before.count("mul") == 1  # the scaled kernel slice, once
    body = [inst.op for inst in loop.regions[1].instructions]
    assert "mul" not in body and body.count("slice") == 1 and "matmul" in body  # the product reads h: it stays
    assert len(loop.operands) == 5 and loop.regions[1].instructions[0].op == "param"
    print_program(parse(print_program(hoisted)))  # well-formed
    feeds = {"w:0": np.arange(12, dtype=np.float32).reshape(4, 3) / 12,
             "x:0": np.array([[1, -1], [0.5, 2]], np.float32)}
    (expected,), _ = interpret(program, feeds, {})
    (got,), _ = interpret(hoisted, feeds, {})
    np.testing.assert_array_equal(got, expected)


_LOOP_WRITING_ROWS = """\
program step:
  %0:f32[2] = feed {{tensor="x:0"}}
  %1:i32[] = constant {{value={start}}}
  %2:i32[] = constant {{value=3}}
  %3:f32[3,2] = constant {{value=0.0}}
  %4:f32[2,2] = constant {{value=0.0}}
  %5:i32[], %6:f32[2], %7:f32[3,2], %8:f32[2,2] = while %1, %0, %3, %4, %2 {{carried=4}}
    cond:
      %9:i32[] = param {{index=0}}
      %10:i32[] = param {{index=4}}
      %11:bool[] = less %9, %10
      %12:bool[] = constant {{value=true}}
      %13:bool[] = logical_and %12, %11
      yield %13
    body:
      %14:i32[] = param {{index=0}}
      %15:f32[2] = param {{index=1}}
      %16:f32[3,2] = param {{index=2}}
      %17:f32[2,2] = param {{index=3}}
      %18:i32[] = constant {{value=1}}
      %19:f32[2] = tanh %15
      %20:f32[3,2] = row_write %16, %14, %19
      %21:f32[2,2] = row_write %17, %14, %19
      %22:i32[] = add %18, %14
      yield %22, %19, %20, %21
  fetch %6{fetch_rows}
"""


def test_bound_counter_rows_marks_row_writes_at_a_counter_the_cond_bounds():
    from graphc.passes.bound_counter_rows import bound_counter_rows
    program = parse(_LOOP_WRITING_ROWS.format(start=0, fetch_rows=", %8"))
    marked = bound_counter_rows(program)
    loop = next(inst for inst in marked.instructions if inst.op == "while")
    writes = [inst for inst in loop.regions[1].instructions if inst.op == "row_write"]
    # Rows 0..2 of the [3, 2] TensorArray: in range; the [2, 2] one would fail at the third iteration.
    assert [inst.attrs.get("in_range", False) for inst in writes] == [True, False]
    print_program(parse(print_program(marked)))  # well-formed
    with pytest.raises(Exception, match="not in"):
        interpret(marked, {"x:0": np.array([0.5, -1], np.float32)}, {})
    # A counter from 1 (or any start not the constant 0) is not known to stay in range: nothing marked.
    other = bound_counter_rows(parse(_LOOP_WRITING_ROWS.format(start=1, fetch_rows="")))
    assert not any(inst.attrs.get("in_range") for inst in other.instructions[5].regions[1].instructions)


def test_bound_counter_rows_lets_dead_code_elimination_drop_an_unread_tensor_array():
    from graphc.passes.bound_counter_rows import bound_counter_rows
    from graphc.passes.eliminate_dead_code import eliminate_dead_code
    from graphc.passes.regions import in_regions
    text = _LOOP_WRITING_ROWS.format(start=0, fetch_rows="").replace(
        "%21:f32[2,2] = row_write %17, %14, %19", "%21:f32[2,2] = mul %17, %17")
    program = parse(text)
    # The [2, 2] variable nothing reads goes; the [3, 2] one stays while its write may fail.
    assert eliminate_dead_code(program).instructions[-1].attrs["carried"] == 3
    dropped = in_regions(eliminate_dead_code)(bound_counter_rows(program))  # as the pipeline runs it
    loop = dropped.instructions[-1]
    assert loop.attrs["carried"] == 2 and "row_write" not in [inst.op for inst in loop.regions[1].instructions]
    feeds = {"x:0": np.array([0.5, -1], np.float32)}
    (expected,), _ = interpret(program, feeds, {})
    (got,), _ = interpret(dropped, feeds, {})
    np.testing.assert_array_equal(got, expected)


_LOOP_READING_ZEROS = """\
program step:
  %0:f32[2] = feed {{tensor="x:0"}}
  %1:i32[] = constant {{value=0}}
  %2:i32[] = constant {{value=3}}
  %3:f32[3,2] = constant {{value={first}}}
  %4:i32[], %5:f32[2], %6:f32[3,2] = while %1, %0, %3, %2 {{carried=3}}
    cond:
      %7:i32[] = param {{index=0}}
      %8:i32[] = param {{index=3}}
      %9:bool[] = less %7, %8
      yield %9
    body:
      %10:i32[] = param {{index=0}}
      %11:f32[2] = param {{index=1}}
      %12:f32[3,2] = param {{index=2}}
      %13:i32[] = constant {{value=1}}
      %14:f32[2] = row_read %12, %10 {{in_range=true}}
      %15:f32[2] = constant {{value={written}}}
      %16:f32[3,2] = row_write %12, %10, %15 {{in_range=true}}
      %17:f32[2] = add_n %11, %14
      %18:f32[2] = tanh %17
      %19:i32[] = add %10, %13
      yield %19, %18, %16
  fetch %5
"""


@pytest.mark.parametrize("first, written, folded", [(0.0, 0.0, True), (0.5, 0.5, True), (0.0, 0.5, False),
                                                    (0.0, -0.0, False)])
def test_constant_loop_variables_reads_an_unchanging_tensor_array_as_its_constant(first, written, folded):
    from graphc.passes.constant_loop_variables import constant_loop_variables
    program = parse(_LOOP_READING_ZEROS.format(first=first, written=written))
    result = run_pipeline(program)
    loop = next(inst for inst in result.instructions if inst.op == "while")
    # Folded: the TensorArray, its reads and writes are gone (h + 0 stays: a splat inlined in its kernel).
    assert (loop.attrs["carried"] == 2) == folded
    assert (constant_loop_variables(program) is program) != folded
    feeds = {"x:0": np.array([0.5, -1], np.float32)}
    (expected,), _ = interpret(program, feeds, {})
    (got,), _ = interpret(constant_loop_variables(program), feeds, {})
    np.testing.assert_array_equal(got, expected)

