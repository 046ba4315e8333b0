"""Loading compiled libraries into the process: the support libraries once, then steps.

Steps leave their calls into the C runtime (runtime_c/: status, Philox, thread
pool, profiling) and the GEMM library undefined; both are loaded first, once
per process and RTLD_GLOBAL, so those calls resolve against them and the
process has a single thread pool. Building them is the backend's job
(backend/libraries.py); this module only loads what it is given, so running
a step needs no LLVM.

Every library is loaded from the descriptor the cache verified its bytes
through (`cache.Library`), as `/proc/self/fd/N`: the dynamic loader maps that
open file, whatever has been renamed into its place in the cache since. The
dynamic loader knows objects by name, and descriptor numbers are reused, so a
duplicate of the descriptor is held while the library is loaded (one per
loaded library, shared by the sessions that load it): no other file can be
called by its name meanwhile.
"""

from __future__ import annotations

import ctypes
import os
import threading
import weakref
from dataclasses import dataclass

import cffi

from graphc import environment, errors
from graphc.runtime import abi, cache, profile

_ffi = cffi.FFI()
_ffi.cdef(abi.cdef(abi.RUNTIME_FUNCTIONS.values()))
_lock = threading.Lock()
_runtime = None
_gemm = None  # kept referenced: a collected LoadedLibrary is unloaded


class LoadedLibrary:
    """A library loaded from a verified descriptor: `lib` is cffi's library object.

    `unload()` unloads it (nothing may call into it afterwards). A collected
    one is unloaded at the next load or unload: collection may happen anywhere,
    even inside this module's lock, so its finalizer only queues it (and does
    nothing at the interpreter's exit, when threads may still run it).
    """

    def __init__(self, ffi: cffi.FFI, lib, identity: tuple):
        self.lib = lib
        self._collected = weakref.finalize(self, _collected.append, (ffi, lib, identity))
        self._collected.atexit = False

    def unload(self) -> None:
        detached = self._collected.detach()
        if detached is not None:
            with _lock:
                _release(*detached[2][0])
                _release_collected()


@dataclass
class _Mapped:
    """A file the dynamic loader has loaded for us, under `name`, /proc/self/fd/<fd>."""

    name: str
    fd: int  # held while the library is loaded: no other file can take its number, so its name stays this file's
    users: int = 0


# (st_dev, st_ino) -> _Mapped. The dynamic loader returns a loaded object instead of opening a file
# whose name, or whose device and inode, match that object's: a file loaded twice is loaded once.
_mapped: dict = {}
_collected: list = []  # (ffi, lib, identity) of collected LoadedLibrary objects, to release


def load_library(ffi: cffi.FFI, library: cache.Library, flags: int = 0) -> LoadedLibrary:
    """Loads a verified library from its descriptor (`ffi.dlopen` of /proc/self/fd/N), RTLD_NOW."""
    with _lock:
        return _load(ffi, library, flags)


def _load(ffi: cffi.FFI, library: cache.Library, flags: int) -> LoadedLibrary:
    _release_collected()
    status = os.fstat(library.fd)
    identity = (status.st_dev, status.st_ino)
    mapped = _mapped.get(identity)
    if mapped is None:
        mapped = _Mapped(*_unclaimed_name(library.fd))
        try:
            lib = ffi.dlopen(mapped.name, flags | ffi.RTLD_NOW)
        except OSError as e:
            os.close(mapped.fd)
            raise errors.InternalError(None, None, f"graphc could not load {library.path}: {e}") from None
        _mapped[identity] = mapped
    else:  # loaded already (another session's step): by its name, the same object
        lib = ffi.dlopen(mapped.name, flags | ffi.RTLD_NOW)
    mapped.users += 1
    return LoadedLibrary(ffi, lib, identity)


def _unclaimed_name(fd: int) -> tuple:
    """(name, descriptor): a duplicate of `fd` whose /proc/self/fd name no loaded object has (code other
    than graphc's may have loaded a library as /proc/self/fd/N and closed N since)."""
    taken = _loaded_names()
    spares = []
    duplicate = os.dup(fd)
    while _fd_path(duplicate) in taken:
        spares.append(duplicate)
        duplicate = os.dup(fd)
    for spare in spares:
        os.close(spare)
    return _fd_path(duplicate), duplicate


def _release(ffi: cffi.FFI, lib, identity: tuple) -> None:
    ffi.dlclose(lib)
    mapped = _mapped[identity]
    mapped.users -= 1
    if mapped.users == 0 and not _still_loaded(mapped.name):
        os.close(mapped.fd)
        del _mapped[identity]
    # Still loaded by someone else (dlopen by path of a cache file): the descriptor stays
    # held, so its name keeps naming this file, and a later load finds it here.


def _release_collected() -> None:
    while _collected:
        _release(*_collected.pop())


def _still_loaded(name: str) -> bool:
    """Whether the dynamic loader still has an object called `name` (held by us: the probe opens our file).

    Through libc, not cffi: a RTLD_NOLOAD miss sets no dlerror(), on which cffi's dlopen crashes.
    """
    probe = _libc.dlopen(name.encode(), os.RTLD_NOW | os.RTLD_NOLOAD)
    if not probe:
        return False
    _libc.dlclose(ctypes.c_void_p(probe))
    return True


def _fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


class _PhdrInfo(ctypes.Structure):
    _fields_ = [("address", ctypes.c_void_p), ("name", ctypes.c_char_p)]  # the head of struct dl_phdr_info


_PHDR_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(_PhdrInfo), ctypes.c_size_t, ctypes.c_void_p)
_libc = ctypes.CDLL(None)
_libc.dlopen.restype = ctypes.c_void_p
_libc.dlopen.argtypes = (ctypes.c_char_p, ctypes.c_int)


def _loaded_names() -> set:
    """The names of the objects the dynamic loader has loaded (`dl_iterate_phdr`)."""
    names = set()

    def add(info, size, data):
        names.add((info.contents.name or b"").decode(errors="replace"))
        return 0

    _libc.dl_iterate_phdr(_PHDR_CALLBACK(add), None)
    return names


def load_support_libraries(runtime_library: cache.Library, gemm_library: cache.Library) -> None:
    """Loads the C runtime and the GEMM library (RTLD_GLOBAL), once per process."""
    global _runtime, _gemm
    with _lock:
        if _runtime is not None:
            return
        # RTLD_NODELETE: never unmapped, not even by the interpreter's exit freeing these objects while
        # the pool's workers still sleep on its condition variable (they then crashed at exit, in
        # ~1 of 3 runs of two Deep MNIST processes at once).
        runtime = _load(_ffi, runtime_library, _ffi.RTLD_GLOBAL | os.RTLD_NODELETE)
        _gemm = _load(_ffi, gemm_library, _ffi.RTLD_GLOBAL | os.RTLD_NODELETE)
        _runtime = runtime
        if environment.get().profile:
            profile.report_at_exit(_runtime.lib)


def is_loaded() -> bool:
    """Whether the support libraries are loaded (steps can be loaded and run)."""
    return _runtime is not None


def runtime():
    """The loaded C runtime's functions (`abi.RUNTIME_FUNCTIONS`), through cffi."""
    if _runtime is None:
        raise errors.FailedPreconditionError(None, None, "graphc's C runtime is not loaded yet (it loads with the "
                                                         "first compiled step)")
    return _runtime.lib


def num_threads() -> int:
    """The size of the thread pool (GRAPHC_NUM_THREADS, default the number of CPUs)."""
    return runtime().graphc_num_threads()


def set_num_threads(threads: int) -> int:
    """Resizes the thread pool (threads < 1: back to the default); returns the new size."""
    return runtime().graphc_set_num_threads(int(threads))


def connect_mpi(functions: tuple, communicator: int, sum_op: int, in_place: int, types: tuple, size: int) -> None:
    """Connects runtime_c's collectives to an MPI library (collectives.c): `functions` are the addresses of
    MPI_Allreduce, MPI_Allgather and MPI_Bcast; the handles are integers; `types` has one handle per
    `abi.COLLECTIVE_DTYPES`. Connecting null functions and size 1 makes the world this process again."""
    if len(types) != len(abi.COLLECTIVE_DTYPES):
        raise ValueError(f"connect_mpi needs {len(abi.COLLECTIVE_DTYPES)} datatype handles, not {len(types)}")
    pointers = [_ffi.cast("void *", address) for address in functions]
    runtime().graphc_mpi_connect(*pointers, communicator, sum_op, in_place, _ffi.new("intptr_t[]", list(types)),
                                 size)
