"""The compiler driver: one `Session.run` signature -> a native step, through STAGES.

    graph        the graph ops the signature runs (shown, not changed)
    graph cache  the step compiled before from this graph, if the cache has it  compiler/step_records.py
    lowered      graph -> Program                                   compiler/lower.py
    verify ...   Program -> Program, each pass of passes/pipeline.py in its order
    cache        the program's library, if the cache has it         backend/libraries.py
    llvm         Program -> LLVM modules, each sent to LLVM when whole  backend/codegen.py
    objects      LLVM modules -> optimized object code (the rest of it)  backend/toolchain.py
    library      objects -> a shared library, stored in the cache   backend/toolchain.py
    record       the step, stored in the cache by its graph's key   compiler/step_records.py
    load         the library loaded, its constants and arena made: a step ready to run  runtime/executable.py

`compile_step` runs STAGES in one loop, and one `Instrument` watches every
stage: it times it (GRAPHC_TIMING=1 prints the times), verifies a program the
stage changed (GRAPHC_VERIFY=1), and writes what the stage made into the
signature's dump directory (GRAPHC_DUMP or `graphc dump`; compiler/dump.py).
The stages that build the program are skipped when the cache has the step by
its graph's key (compiler/graph_key.py); those that build the library, when it
has the program's library. Dumping skips both look-ups: it is there to show the
stages.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from graphc import environment, errors
from graphc.backend import codegen, libraries, toolchain
from graphc.compiler import dump, graph_key, step_records
from graphc.compiler.lower import LoweredStep, lower
from graphc.ir.printer import print_program
from graphc.ir.program import Program, constant_value, walk
from graphc.ir.verifier import verify
from graphc.passes.pipeline import PIPELINE
from graphc.runtime import cache, loader
from graphc.runtime.executable import Executable


@dataclass
class Build:
    """A signature, and what the stages have made of it so far."""

    fetches: list
    feed_types: dict                   # Tensor -> IRType, in calling order
    initialized: frozenset             # names of the variables the session has initialised
    profiled: bool = False             # whether the step times its kernels (GRAPHC_PROFILE, traced runs)
    key: Optional[graph_key.GraphKey] = None  # the graph's key, when it has one and the cache is looked in
    restored: bool = False             # whether the program came from the cache by the graph's key
    library_name: Optional[str] = None  # the final program's library's cache name, once asked for
    lowered: Optional[LoweredStep] = None
    program: Optional[Program] = None
    library: Optional[cache.Library] = None  # the library, open and verified, once it is in the cache
    llvm_modules: list = field(default_factory=list)    # LLVM IR texts
    speed_levels: list = field(default_factory=list)    # the optimization level of each
    compilation: Optional[toolchain.Compilation] = None  # the modules' compilation, from "llvm" to "objects"
    compiled: list = field(default_factory=list)        # toolchain.CompiledModule per module


@dataclass(frozen=True)
class Stage:
    """A named step of compilation. `show(build)` gives the dump files of what it made,
    [(stage name, text, suffix)]; by default a stage that changed the program shows it."""

    name: str
    run: Callable[[Build], None]
    show: Optional[Callable[[Build], list]] = None
    # skipped when the step came from the cache by its graph's key: the stages that make the program,
    # look its library up and record it
    builds_program: bool = False
    builds_library: bool = False       # skipped when the library is already in the cache


def _show_graph(build: Build) -> list:
    return [("graph", dump.graph_text(build.fetches), ".txt")]


def _look_up_graph_cache(build: Build) -> None:
    if environment.get().dump_dir is None:  # a dump shows every stage
        build.key = graph_key.graph_key(build.fetches, build.feed_types, build.initialized, build.profiled)
    cached = step_records.load(build.key, build.feed_types) if build.key is not None else None
    if cached is not None:
        build.lowered, build.program, build.library = cached.lowered, cached.program, cached.library
        build.restored = True


def _store_record(build: Build) -> None:
    if build.key is not None:
        step_records.store(build.key, build.lowered, build.program, _library_name(build), build.feed_types)


def _lower(build: Build) -> None:
    build.lowered = lower(build.fetches, build.feed_types, build.initialized,
                          name=dump.signature_label(build.fetches))
    build.program = build.lowered.program


def _pass_stage(name: str, run_pass: Callable[[Program], Program]) -> Stage:
    def run(build: Build) -> None:
        build.program = run_pass(build.program)

    return Stage(name, run, builds_program=True)


def _library_name(build: Build) -> str:
    """The cache name of the final program's library (printed once: a large step's text takes milliseconds)."""
    if build.library_name is None:
        build.library_name = libraries.step_key(print_program(build.program) + ("\nprofiled" if build.profiled else ""))
    return build.library_name


def _look_up_cache(build: Build) -> None:
    if environment.get().dump_dir is None:  # a dump shows every stage, so it builds the library again
        build.library = cache.cached_file(_library_name(build))


def _emit_llvm(build: Build) -> None:
    program = build.program
    # The workers compile each module as soon as it is whole, while the next ones are emitted; the
    # "objects" stage waits for what is left.
    build.compilation = toolchain.Compilation(keep_texts=environment.get().dump_dir is not None,
                                              workers=codegen.partition_count(program))

    def ready(emitted: codegen.EmittedModule) -> None:
        text = str(emitted.module)
        build.llvm_modules.append(text)
        build.speed_levels.append(emitted.speed_level)
        build.compilation.submit(text, emitted.speed_level)

    with _collector_paused():
        codegen.emit_modules(program, profiled=build.profiled, ready=ready)
        # The modules are cycles of llvmlite objects (a module and its functions, blocks and
        # instructions refer to each other), which only the collector frees. All of them are in
        # its youngest generation still (it was off): freed there, now, they cost a collection of
        # that generation alone. Left to the collector, they were promoted to the oldest one, and
        # a full collection (90-100 ms for the CNN step: it walks every object of the process) came
        # during the step's first run.
        gc.collect(0)


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off for the block. Emission allocates a few hundred
    thousand llvmlite objects, all alive until the modules are printed, and each collection the
    allocations set off walked them again, and the user's graph with them: the CNN step's emission
    took 135-160 ms of CPU, 110-125 with the collector off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _compile_objects(build: Build) -> None:
    build.compiled = build.compilation.results()


def _link(build: Build) -> None:
    objects = [compiled.object for compiled in build.compiled]
    build.library = cache.store_file(_library_name(build),
                                     lambda path: toolchain.link_shared_library(objects, path, path.parent))


STAGES: list[Stage] = [
    Stage("graph", lambda build: None, show=_show_graph),
    Stage("graph cache", _look_up_graph_cache, show=lambda build: []),
    Stage("lowered", _lower, builds_program=True),
    *(_pass_stage(name, run_pass) for name, run_pass in PIPELINE),
    Stage("cache", _look_up_cache, show=lambda build: [], builds_program=True),
    Stage("llvm", _emit_llvm, show=lambda build: [("llvm", "\n".join(build.llvm_modules), ".ll")],
          builds_library=True),
    Stage("objects", _compile_objects, builds_library=True, show=lambda build: [
        ("llvm_opt", "\n".join(c.optimized_ir for c in build.compiled), ".ll"),
        ("asm", "\n".join(c.assembly for c in build.compiled), ".s")]),
    Stage("library", _link, show=lambda build: [], builds_library=True),
    Stage("record", _store_record, show=lambda build: [], builds_program=True),
]


class Instrument:
    """What watches every stage: timing, verification and dumps (see the module docstring)."""

    def __init__(self, fetches):
        self.environment = environment.get()
        self.dump = dump.start_signature(fetches)
        self.label = dump.signature_label(fetches)
        self.seconds: list = []  # (stage name, seconds)

    def run(self, stage: Stage, build: Build) -> None:
        """Runs `stage`; a stage that runs out of memory raises ResourceExhaustedError, and the process goes on
        (LLVM, which would abort it instead, runs in child processes: backend/toolchain.py)."""
        program = build.program
        started = time.perf_counter()
        try:
            stage.run(build)
        except MemoryError:
            raise errors.ResourceExhaustedError(None, None, f"out of memory compiling {self.label} "
                                                            f"(stage {stage.name})") from None
        self.seconds.append((stage.name, time.perf_counter() - started))
        changed = build.program is not program
        if changed and self.environment.verify:
            verify(build.program)
        if self.dump is not None:
            shown = stage.show(build) if stage.show else (
                [(stage.name, print_program(build.program), ".txt")] if changed else [])
            for name, text, suffix in shown:
                self.dump.write(name, text, suffix)

    @contextlib.contextmanager
    def timed(self, name: str):
        """Times a phase that is no stage (loading the step), as the stages are timed."""
        started = time.perf_counter()
        yield
        self.seconds.append((name, time.perf_counter() - started))

    def finish(self) -> None:
        if self.environment.timing:
            total = sum(seconds for _, seconds in self.seconds)
            times = ", ".join(f"{name} {seconds * 1e3:.1f}" for name, seconds in self.seconds if seconds >= 5e-5)
            print(f"graphc: compiled {self.label} in {total * 1e3:.1f} ms ({times})", file=sys.stderr)


@dataclass(eq=False)
class CompiledStep:
    """What the session needs to run a signature: the lowered metadata, the final
    program and its loaded executable."""

    lowered: LoweredStep
    program: Program
    executable: Executable
    stage_seconds: tuple = ()  # (stage name, seconds) of its compilation

    @property
    def plan(self):
        return self.program.memory_plan

    def kernel_labels(self) -> dict:
        """{the label a profiled step records for a kernel: (its kind, the graph ops it computes)}."""
        return codegen.kernel_labels(self.program)


def compile_step(fetches, feed_types: dict, initialized=frozenset(), profiled: Optional[bool] = None) -> CompiledStep:
    """Compiles `fetches` given feed types (Tensor -> IRType, in calling order) and loads the library.

    A `profiled` step times each kernel (default: GRAPHC_PROFILE); the library is cached apart."""
    profiled = environment.get().profile if profiled is None else profiled
    build = Build(list(fetches), feed_types, frozenset(initialized), profiled)
    instrument = Instrument(build.fetches)
    try:
        for stage in STAGES:
            if (stage.builds_program and build.restored) or (stage.builds_library and build.library is not None):
                continue
            instrument.run(stage, build)
    finally:
        if build.compilation is not None:  # unless "objects" had the results, a stage failed: stop the workers
            build.compilation.close(abandon=True)
    with instrument.timed("load"), build.library:  # loaded from its descriptor, then closed
        load_runtime()
        plan = build.program.memory_plan
        # constants defined inside loops' and conds' regions too (the plan places those of every region)
        definitions = {value.id: inst for inst in walk(build.program.instructions) for value in inst.defined}
        constants = [constant_value(definitions[value_id]) for value_id in plan.const_values]
        executable = Executable(build.library, plan, constants)
    instrument.finish()
    return CompiledStep(build.lowered, build.program, executable, tuple(instrument.seconds))


def load_runtime() -> None:
    """Loads the C runtime and the GEMM library into the process, building them into the cache the first time."""
    if not loader.is_loaded():  # finding the libraries verifies their checksums: once is enough
        with libraries.runtime_library() as runtime, libraries.gemm_library() as gemm:
            loader.load_support_libraries(runtime, gemm)
