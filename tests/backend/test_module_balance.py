"""The functions of a step are spread over the modules LLVM compiles in parallel by their cost
(backend/codegen.py): a function costs LLVM a fixed time beside its instructions, and the step's
functions, which come last, go to the kernel module with the least code."""

import numpy as np

import graphc as tf
from graphc.backend import codegen
from graphc.backend.kernel_builder import I32, I64, KernelBuilder, i64
from graphc.compiler.lower import lower
from graphc.passes.pipeline import run_pipeline
from graphc.runtime import abi
from tests.helpers import feed_types


def _program():
    x = tf.placeholder(tf.float32, [4, 8], name="x")
    h = tf.tanh(tf.matmul(x, tf.constant(np.ones((8, 8), np.float32))) + 0.1)
    step = lower([tf.reduce_sum(h)], feed_types({x: np.ones((4, 8), np.float32)}), frozenset())
    return run_pipeline(step.program)


def _function(name: str, instructions: int):
    """An emitter of the function `name` of `instructions` instructions: a chain of adds."""
    def emit(module, buffers):
        kb = KernelBuilder(module, name, ["data", "status"])
        value = kb.b.ptrtoint(kb.arg("status"), I64)
        for _ in range(instructions - 3):
            value = kb.b.add(value, i64(1))
        kb.b.ret(kb.b.trunc(value, I32))
        return kb.function
    return emit


def test_a_function_counts_its_fixed_cost_beside_its_instructions():
    modules = codegen._Modules(_program(), 2)
    large = modules.emit(_function("large", 300))
    small = [modules.emit(_function(f"small{n}", 10)) for n in range(4)]
    # By instructions alone the four would join the second module (40 < 300); each also costs
    # FUNCTION_COST, so once three are there the fourth goes to the first.
    assert 3 * (codegen.FUNCTION_COST + 10) > codegen.FUNCTION_COST + 300
    assert [modules.home[f.name] for f in [large] + small] == [0, 1, 1, 1, 0]


def test_the_step_goes_to_the_kernel_module_with_the_least_code():
    emitted = codegen.emit_modules(_program(), 2)
    steps = {abi.STEP_FUNCTION.name, abi.STEPS_FUNCTION.name}
    homes = [index for index, (module, _) in enumerate(emitted)
             if any(f.name == abi.STEP_FUNCTION.name and f.blocks for f in module.functions)]
    sizes = [sum(codegen.FUNCTION_COST + sum(len(block.instructions) for block in f.blocks)
                 for f in module.functions if f.blocks and f.name not in steps) for module, _ in emitted]
    assert len(emitted) == 2 and len(homes) == 1 and sizes[homes[0]] == min(sizes)
