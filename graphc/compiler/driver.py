"""The compiler driver: one Session.run signature -> a runnable native step.

lower (graph -> IR) -> pass pipeline -> LLVM IR -> object -> shared library,
with the library cached on disk by content hash, and every stage dumped when
GRAPHC_DUMP is set.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphc.compiler import dump
from graphc.runtime import cache
from graphc.backend import codegen, toolchain
from graphc.passes import check_memory as memory_limits
from graphc.runtime.executable import Executable
from graphc.compiler.lower import LoweredStep, lower
from graphc.ir.printer import print_program
from graphc.ir.program import Program, constant_value
from graphc.passes.pipeline import run_pipeline


@dataclass(eq=False)
class CompiledStep:
    """What the session needs to run a signature: the lowered metadata, the final
    program and its loaded executable."""

    lowered: LoweredStep
    program: Program
    executable: Executable

    @property
    def plan(self):
        return self.program.annotations["memory_plan"]


def compile_step(fetches, feed_types: dict, initialized=frozenset()) -> CompiledStep:
    """Compiles `fetches` given feed types (Tensor -> IRType, in calling order)."""
    signature_dump = dump.start_signature(fetches)
    if signature_dump:
        signature_dump.write("graph", dump.graph_text(fetches))
    lowered = lower(fetches, feed_types, initialized, name=dump.signature_label(fetches))
    if signature_dump:
        signature_dump.write("lowered", print_program(lowered.program))
    memory_limits.check_values_fit(lowered.program)  # before folding constants allocates them
    program = run_pipeline(lowered.program, after_pass=(
        (lambda name, p: signature_dump.write(name, print_program(p))) if signature_dump else None))
    memory_limits.check_plan_fits(program, program.annotations["memory_plan"])
    library = build_library(program, signature_dump)
    plan = program.annotations["memory_plan"]
    definitions = program.definitions()
    constants = [constant_value(definitions[value_id]) for value_id in plan.const_values]
    return CompiledStep(lowered, program, Executable(library, plan, constants))


def build_library(program: Program, signature_dump=None):
    """The path of the shared library for `program`, from the cache or freshly built."""
    key = cache.key_for(print_program(program) + ("\nprofiled" if codegen.profiling() else ""))
    if signature_dump is None:
        library = cache.cached_library(key)
        if library is not None:
            return library
    llvm_irs = [str(module) for module in codegen.emit_modules(program, codegen.partition_count(program))]
    objects = toolchain.compile_to_objects(
        llvm_irs, dump=(lambda stage, text, suffix: signature_dump.write(stage, text, suffix)) if signature_dump else None)
    return cache.store_library(key, lambda path: toolchain.link_shared_library(objects, path, path.parent))
