"""The C interface of compiled code, in one table: what runtime_c exports, what a step exports.

Three parties meet at this interface: runtime_c (C, `graphc_runtime.h`), the
code the backend generates (LLVM IR calling runtime_c and the GEMM library),
and Python (cffi, loading libraries and calling steps). Each function is
listed here once, by its C prototype; the backend declares what its kernels
call from `RUNTIME_FUNCTIONS` and `gemm_function`, and `cdef` gives cffi the
same prototypes. tests/backend/test_abi.py checks the table against the
header.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphc.core import dtypes


@dataclass(frozen=True)
class Function:
    """A C function: its name, result type and argument types, as C spells them."""

    name: str
    result: str
    arguments: tuple = ()

    def prototype(self) -> str:
        return f"{self.result} {self.name}({', '.join(self.arguments) or 'void'});"


# The message buffer of a graphc_status (GRAPHC_STATUS_MESSAGE_BYTES in the header).
STATUS_MESSAGE_BYTES = 1024

TYPES = f"""
typedef struct graphc_status {{ int32_t code; char message[{STATUS_MESSAGE_BYTES}]; }} graphc_status;
typedef void (*graphc_task)(void *context, int64_t index, int64_t thread);
"""

_RANDOM = ("int64_t", "uint32_t", "uint32_t", "uint64_t")  # count, key0, key1, run
_RANDOM_RANGE = ("int64_t",) + _RANDOM  # first, end, key0, key1, run

RUNTIME_FUNCTIONS = {f.name: f for f in (
    # status.c: records a failure; `format` takes up to three int64 arguments (%lld).
    Function("graphc_fail", "int32_t", ("graphc_status *", "int32_t", "const char *", "int64_t", "int64_t",
                                        "int64_t")),
    # status.c: records a failed assertion, with TF's summaries of the values it names (tf.Assert).
    Function("graphc_fail_summarized", "int32_t", ("graphc_status *", "int32_t", "const char *", "const char *",
                                                   "const void *const *", "int64_t")),
    # random.c: counter-based random numbers (Philox4x32-10; graphc/ops/philox.py is the reference).
    Function("graphc_random_uniform_f32", "void", ("float *",) + _RANDOM_RANGE),
    Function("graphc_random_uniform_f64", "void", ("double *",) + _RANDOM_RANGE),
    Function("graphc_random_normal_f32", "void", ("float *",) + _RANDOM_RANGE),
    Function("graphc_random_normal_f64", "void", ("double *",) + _RANDOM_RANGE),
    Function("graphc_truncated_normal_f32", "void", ("float *",) + _RANDOM),
    Function("graphc_truncated_normal_f64", "void", ("double *",) + _RANDOM),
    # threads.c: the thread pool and per-thread scratch buffers.
    Function("graphc_parallel_for", "void", ("graphc_task", "void *", "int64_t")),
    Function("graphc_num_threads", "int32_t"),
    Function("graphc_set_num_threads", "int32_t", ("int32_t",)),
    Function("graphc_scratch", "void *", ("int64_t", "int64_t")),
    # profile.c: kernel timing for GRAPHC_PROFILE=1 and for traced runs (RunOptions FULL_TRACE).
    Function("graphc_now_ns", "int64_t"),
    Function("graphc_profile_record", "void", ("const char *", "int64_t", "int64_t")),
    Function("graphc_profile_report", "int64_t", ("char *", "int64_t")),
    Function("graphc_trace_start", "void"),
    Function("graphc_trace_stop", "int64_t", ("char *", "int64_t")),
    # collectives.c: MPI collectives through the addresses graphc.horovod connects (0, an MPI error, or -1).
    Function("graphc_mpi_connect", "int32_t", ("void *", "void *", "void *", "intptr_t", "intptr_t", "intptr_t",
                                               "const intptr_t *", "int32_t")),
    Function("graphc_mpi_size", "int32_t"),
    Function("graphc_mpi_allreduce", "int32_t", ("const void *", "void *", "int64_t", "int32_t")),
    Function("graphc_mpi_allgather", "int32_t", ("const void *", "void *", "int64_t", "int32_t", "int32_t")),
    Function("graphc_mpi_broadcast", "int32_t", ("const void *", "void *", "int64_t", "int32_t", "int32_t",
                                                 "int32_t")),
)}

# The element types collectives exchange; a kernel passes the index of its type (GRAPHC_COLLECTIVE_DTYPES).
COLLECTIVE_DTYPES = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)

# What every step library exports: the step; the step run `count` times in one call
# (graphc_steps(buffers, status, count, feed_strides, saved, done): feed i of run k at
# buffers[i] + k * feed_strides[i] bytes, the variables of the rollback table saved into
# `saved` before each run and restored if it fails, `*done` the runs that succeeded); and
# the variables to save before a run ({count, index...} in memory-plan order: see
# backend/codegen.py).
STEP_FUNCTION = Function("graphc_step", "int32_t", ("void **", "graphc_status *"))
STEPS_FUNCTION = Function("graphc_steps", "int32_t", ("void **", "graphc_status *", "int64_t", "const int64_t *",
                                                      "void *", "int64_t *"))
ROLLBACK_TABLE = "graphc_rollback_variables"
STEP_EXPORTS = (f"{STEP_FUNCTION.prototype()}\n{STEPS_FUNCTION.prototype()}\n"
                f"extern const int32_t {ROLLBACK_TABLE}[];")

# The GEMM library (backend/kernels/gemm.py) exports, per element type and transpose pair,
# C = op(A) @ op(B) with an epilogue(context, row, col, rows, cols) run on each finished
# block of C; the `_on_thread` form runs on the calling task's thread only.
GEMM_DTYPES = (dtypes.float32, dtypes.float64)
_GEMM_ARGUMENTS = ("int64_t", "int64_t", "int64_t", "const void *", "const void *", "void *", "void *", "void *",
                   "graphc_status *")


def gemm_function(dtype, transpose_a: bool, transpose_b: bool, on_thread: bool = False) -> Function:
    """`graphc_gemm_<f32|f64>_<n|t><n|t>[_on_thread](m, n, k, a, b, c, epilogue, context, status[, thread])`."""
    layout = ("t" if transpose_a else "n") + ("t" if transpose_b else "n")
    name = f"graphc_gemm_{dtype.ir_name}_{layout}" + ("_on_thread" if on_thread else "")
    return Function(name, "int32_t", _GEMM_ARGUMENTS + (("int64_t",) if on_thread else ()))


def gemm_functions() -> list:
    """Every function the GEMM library exports."""
    return [gemm_function(dtype, a, b, on_thread) for dtype in GEMM_DTYPES for a in (False, True)
            for b in (False, True) for on_thread in (False, True)]


def cdef(functions) -> str:
    """cffi declarations of the interface's types and of `functions`."""
    return TYPES + "\n".join(f.prototype() for f in functions) + "\n"
