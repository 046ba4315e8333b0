"""One LLVM module -> its optimized object, here or in a worker process that does nothing else.

`compile_module` verifies, optimizes and assembles an LLVM IR text. `serve` is
the main loop of a worker (toolchain.py starts them, `python -c`): it reads
requests on stdin and writes answers on stdout, each a pickled tuple after its
8-byte length, and leaves when stdin closes or no request came for
IDLE_SECONDS. A worker imports llvmlite and the few modules this one needs, so
it starts in about 0.1 s; when LLVM aborts it (`LLVM ERROR: out of memory`
under an address-space limit), only the worker dies.
"""

from __future__ import annotations

import functools
import os
import pickle
import select
import struct

import llvmlite.binding as llvm

from graphc import errors
from graphc.backend import target

IDLE_SECONDS = 60
_LENGTH = struct.Struct("<Q")


@functools.cache
def _configure_llvm() -> None:
    """LLVM's process-wide options, set once per process. Its loop vectorizer also vectorizes the
    remainder of each loop it vectorizes (a second, narrower vector loop); without that, LLVM took
    20-24% less CPU time on the MLP and CNN training steps (341 -> 274 ms, 678 -> 518 ms), and the
    steps ran no slower (one thread, two runs each: MLP 1.38-1.46 ms a step, against 1.39-1.47 with
    it; CNN 36.8-38.6 ms, against 40.5-41.7)."""
    llvm.set_option("graphc", "-enable-epilogue-vectorization=false")


def optimize(module_ref, machine, speed_level: int = 3) -> None:
    """Runs LLVM's pipeline of `speed_level` (loop and SLP vectorization from O2 up) for the host."""
    _configure_llvm()
    tuning = llvm.create_pipeline_tuning_options(speed_level=speed_level)
    tuning.loop_vectorization = speed_level >= 2
    tuning.slp_vectorization = speed_level >= 2
    # Unrolling every loop of every kernel tripled compile time (0.31 s -> 0.94 s
    # for the MNIST training step) for loops that are vectorized already.
    tuning.loop_unrolling = False
    builder = llvm.create_pass_builder(machine, tuning)
    builder.getModulePassManager().run(module_ref, builder)


def compile_module(llvm_ir: str, speed_level: int, keep_texts: bool) -> tuple:
    """(object, optimized IR text, assembly) of one module; the texts only if `keep_texts`."""
    context = llvm.create_context()
    module_ref = llvm.parse_assembly(llvm_ir, context=context)
    try:
        module_ref.verify()
    except RuntimeError as e:
        raise errors.InternalError(None, None, f"graphc generated invalid LLVM IR ({e}); run with "
                                               "GRAPHC_DUMP=DIR to see it (stage llvm)") from None
    machine = target.new_target_machine(speed_level)
    optimize(module_ref, machine, speed_level)
    optimized = str(module_ref) if keep_texts else None
    assembly = machine.emit_assembly(module_ref) if keep_texts else None
    return machine.emit_object(module_ref), optimized, assembly


def serve() -> None:
    """A worker's main loop: (llvm_ir, speed_level, keep_texts) in, ("ok", result) or
    ("error", (error code, message)) out."""
    requests, answers = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # whatever prints goes to the messages, not into the answers
    while select.select([requests], [], [], IDLE_SECONDS)[0]:
        request = read_message(requests)
        if request is None:
            return
        try:
            answer = ("ok", compile_module(*request))
        except MemoryError:
            answer = ("error", (errors.RESOURCE_EXHAUSTED, "out of memory compiling an LLVM module"))
        except errors.OpError as e:
            answer = ("error", (e.error_code, e.message))
        except Exception as e:  # noqa: BLE001 - whatever it is, the caller raises it as an internal error
            answer = ("error", (errors.INTERNAL, f"compiling an LLVM module failed: {e!r}"))
        write_message(answers, answer)


def write_message(fd: int, value) -> None:
    """Writes `value`, pickled, after its length."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def read_message(fd: int):
    """The next value `write_message` wrote, or None at the end of the stream."""
    header = _read_exactly(fd, _LENGTH.size)
    if header is None:
        return None
    data = _read_exactly(fd, _LENGTH.unpack(header)[0])
    return None if data is None else pickle.loads(data)


def _read_exactly(fd: int, size: int):
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def parse_message(buffer: bytearray):
    """(value, bytes it took) of a whole message at the start of `buffer`, or None if it is not all there yet."""
    if len(buffer) < _LENGTH.size:
        return None
    size = _LENGTH.unpack_from(buffer)[0]
    if len(buffer) < _LENGTH.size + size:
        return None
    return pickle.loads(bytes(buffer[_LENGTH.size:_LENGTH.size + size])), _LENGTH.size + size
