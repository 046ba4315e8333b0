"""A loaded step library and the one native call that runs it."""

from __future__ import annotations

import cffi
import numpy as np

from graphc import errors
from graphc.runtime import abi, cache, loader

_ffi = cffi.FFI()
_ffi.cdef(abi.TYPES + abi.STEP_EXPORTS)

ARENA_ALIGNMENT = 64
# `_ffi.from_buffer(array)` without cffi's Python wrapper around it (timeit: 584 -> 439 ns a
# buffer), paid for every feed and output of every run.
_CHAR_ARRAY = _ffi.typeof("char[]")
_from_buffer = _ffi._backend.from_buffer


def aligned_empty(nbytes: int) -> np.ndarray:
    """A byte buffer whose address is a multiple of ARENA_ALIGNMENT."""
    raw = np.empty(nbytes + ARENA_ALIGNMENT, dtype=np.uint8)
    start = (-raw.ctypes.data) % ARENA_ALIGNMENT
    return raw[start:start + nbytes]


class Executable:
    """One compiled step loaded into the process, with its arena and constant buffers.

    `run` sets the feed and output pointers, makes one native call, and raises
    the TF error the native code reported, if any. Pointers go into a C array
    through `ffi.from_buffer` (a fifth of what NumPy's array interface costs).
    `used` is a flag for its owner (a session marks the steps it runs through
    its fast path); after `unload()`, `loaded` is False and `run` raises.
    A failed run leaves the variables as they were: the variables the library
    names in `graphc_rollback_variables` (written before a kernel that can
    fail; usually none) are saved before each run and restored on failure.
    """

    def __init__(self, library: cache.Library, plan, constants: list):
        loader.runtime()  # the step's calls into the runtime resolve against the loaded one
        self._library = loader.load_library(_ffi, library)
        self._step = getattr(self._library.lib, abi.STEP_FUNCTION.name)
        self._steps = getattr(self._library.lib, abi.STEPS_FUNCTION.name)
        self._done = _ffi.new("int64_t *")
        self.loaded = True
        self.used = False
        self._status = _ffi.new("graphc_status *")
        self._plan = plan
        self._buffers = _ffi.new("void *[]", plan.slot_count)
        self._constants = [np.asarray(c, order="C") for c in constants]
        for value_id, array in zip(plan.const_values, self._constants):
            self._buffers[plan.slot(plan.locations[value_id])] = _ffi.from_buffer(array)
        self._arena = aligned_empty(max(plan.arena_bytes, 1))
        self._buffers[plan.arena_slot] = _ffi.from_buffer(self._arena)
        self._variable_base = plan.feed_count
        # The arrays the feed pointers point into. An ndarray's data never moves while
        # `from_buffer` holds its buffer (NumPy refuses to resize an exported array).
        self._fed: list = [None] * plan.feed_count
        self._output_base = plan.output_slot(0)
        table = getattr(self._library.lib, abi.ROLLBACK_TABLE)
        self._rollback_indices = [table[1 + i] for i in range(table[0])]
        self._rollback_arrays: list = []
        self._saved = aligned_empty(1)  # where graphc_steps saves the rollback variables before each run

    def bind_variables(self, arrays: list) -> None:
        """Points the step at the session's variable buffers (in plan order)."""
        self._variable_arrays = arrays  # keeps them alive as long as the step
        self._rollback_arrays = [arrays[i] for i in self._rollback_indices]
        self._saved = aligned_empty(max(sum(array.nbytes for array in self._rollback_arrays), 1))
        for i, array in enumerate(arrays):
            self._buffers[self._variable_base + i] = _ffi.from_buffer(array)

    def unload(self) -> None:
        """Unloads the library and frees the arena; the executable cannot run afterwards."""
        self.loaded = False
        self._step = self._steps = self._unloaded
        self._arena = self._constants = self._variable_arrays = None
        self._rollback_arrays = []
        self._library.unload()

    @staticmethod
    def _unloaded(buffers, status, *repeat):
        raise errors.FailedPreconditionError(None, None, "graphc ran a compiled step after unloading its library")

    def run(self, feeds: list, outputs: list, repeat=None) -> None:
        """One native call running the step, or with `repeat` = (count, strides) the step `count` times:
        run k reads feed i at its address + k * strides[i] bytes (0: the same batch every run); the
        outputs hold the last run's fetches. A failed run k raises its error, the variables as the runs
        before it left them."""
        buffers, char_array, fed = self._buffers, _CHAR_ARRAY, self._fed
        i = 0
        for array in feeds:
            if array is not fed[i]:  # a loop feeding the same arrays each step keeps their pointers
                buffers[i] = _from_buffer(char_array, array, False)
                fed[i] = array
            i += 1
        i = self._output_base
        for array in outputs:
            buffers[i] = _from_buffer(char_array, array, True)
            i += 1
        status = self._status
        if repeat is not None:
            count, strides = repeat
            code = self._steps(buffers, status, count, strides, _from_buffer(char_array, self._saved, True),
                               self._done)
            if code:
                self._raise(code, f" (run {self._done[0] + 1} of the {count} steps of this call)")
            return
        saved = [(array, array.copy()) for array in self._rollback_arrays] if self._rollback_arrays else ()
        code = self._step(buffers, status)
        if code:
            for array, copy in saved:
                np.copyto(array, copy)
            self._raise(code, "")

    def _raise(self, code: int, where: str) -> None:
        status = self._status
        message = _ffi.string(status.message).decode(errors="replace")
        status.code = 0
        raise errors.error_class_for_code(code)(None, None, message + where)
