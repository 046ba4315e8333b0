"""The functions of a step go to modules LLVM compiles while the next are emitted (backend/codegen.py):
a module is handed over once its code, counted with each function's fixed cost beside its
instructions, reaches MODULE_COST; the step's functions come last, in the module still open."""

import re

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


def test_a_module_goes_to_llvm_once_its_code_with_each_functions_fixed_cost_reaches_the_bar():
    ready = []
    modules = codegen._Modules(_program(), ready.append)
    per_function = codegen.FUNCTION_COST + 10
    count = -(-codegen.MODULE_COST // per_function)  # functions that fill a module: fewer than by instructions alone
    assert count * 10 < codegen.MODULE_COST
    functions = [modules.emit(_function(f"small{n}", 10)) for n in range(count + 1)]
    assert [modules.home[f.name] for f in functions] == [0] * count + [1]
    assert [emitted.module for emitted in ready] == [modules.modules[0]]  # handed over before the emission ends
    assert all(f.linkage == "hidden" for f in functions)  # a step in a later module calls them
    emitted = modules.finish()
    assert [e.module for e in ready] == [e.module for e in emitted] == modules.modules


def test_the_step_comes_last_into_the_module_still_open_and_every_module_is_handed_over_once():
    ready = []
    emitted = codegen.emit_modules(_program(), ready=ready.append)
    homes = [index for index, (module, _) in enumerate(emitted)
             if any(f.name == abi.STEP_FUNCTION.name and f.blocks for f in module.functions)]
    assert homes == [len(emitted) - 1] and ready == emitted
    step = next(f for f in emitted[-1].module.functions if f.name == abi.STEP_FUNCTION.name)
    kernels = [f for module, _ in emitted for f in module.functions
               if f.blocks and re.fullmatch(r"k\d+_[a-z]+", f.name)]
    assert step.linkage == "external" and kernels and all(f.linkage == "hidden" for f in kernels)
