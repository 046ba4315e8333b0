"""LLVM modules -> optimized objects -> shared library linked with runtime_c.

The objects come from llvmlite, each module at its own optimization level for
the host CPU (O3 for kernels), in worker processes, one per core (see
compile_modules); the system C compiler (`$CC`, default `cc`) compiles
runtime_c once per cache directory and links each step's objects into a
shared library.
"""

from __future__ import annotations

import atexit
import collections
import functools
import hashlib
import importlib.resources
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import NamedTuple, Optional

from graphc import environment, errors
from graphc.backend import llvm_worker


class CompiledModule(NamedTuple):
    """One LLVM module compiled: its object code, and (when asked for) its optimized IR and assembly."""

    object: bytes
    optimized_ir: Optional[str]
    assembly: Optional[str]


def compile_modules(llvm_irs: list, keep_texts: bool = False, speed_levels: Optional[list] = None) -> list:
    """Verifies, optimizes and assembles each LLVM IR text; returns a CompiledModule each, in order.

    `speed_levels` gives each module's optimization level (default 3 for all);
    `keep_texts` keeps the optimized IR and the assembly (for dumps).

    LLVM ends the process it runs in on some failures (`LLVM ERROR: out of
    memory` under an address-space limit is an abort), and llvmlite holds one
    global lock around every LLVM call, so threads could not compile in
    parallel anyway. So the modules compile in worker processes, one per core
    (llvm_worker.py), started with the first compilation and kept while there
    is work. A worker that dies raises ResourceExhaustedError here (or
    InternalError when it did not run out of memory), and this process goes
    on. (Workers are started, not forked: a fork runs other libraries' fork
    handlers, and OpenBLAS's stop the threads of a matrix product another
    thread is in the middle of.) A child forked from this process starts
    workers of its own. With GRAPHC_PARALLEL_COMPILE=0 the modules
    compile here, one after another, each after a check that the address-space
    limit leaves LLVM room for it (ResourceExhaustedError otherwise).
    """
    speed_levels = speed_levels or [3] * len(llvm_irs)
    if not environment.get().parallel_compile:
        with _COMPILE_LOCK:
            results = []
            for text, level in zip(llvm_irs, speed_levels):
                _check_address_space(text)
                results.append(llvm_worker.compile_module(text, level, keep_texts))
        return [CompiledModule(*result) for result in results]
    with Compilation(keep_texts, workers=len(llvm_irs)) as compilation:
        for text, level in zip(llvm_irs, speed_levels):
            compilation.submit(text, level)
        return compilation.results()


class Compilation:
    """Modules compiled while the caller is still emitting the next ones: `submit` each module's text as
    soon as it is whole, and `results` waits for them all (CompiledModules, in the order submitted).

    The workers (see compile_modules) take the modules in turn, a module to each idle worker, from a
    thread of this process that waits on their answers and on new modules; the caller's Python goes on
    emitting meanwhile (the thread and the workers' pipes release the GIL while they wait). With
    GRAPHC_PARALLEL_COMPILE=0 `results` compiles them here, through compile_modules. Use it as a context
    manager: leaving the block by an exception (an error while emitting) abandons the compilation, whose
    workers stop at once, so the next compilation finds the workers free."""

    def __init__(self, keep_texts: bool = False, workers: Optional[int] = None):
        self.keep_texts = keep_texts
        self.texts: list = []    # submitted (text, speed level), in order, to compile here
        self.error: Optional[BaseException] = None
        self.finished = False
        self.feed = _Feed() if environment.get().parallel_compile else None
        self.thread = None
        if self.feed is not None:
            _COMPILE_LOCK.acquire()  # the workers serve one compilation at a time
            self.thread = threading.Thread(target=self._serve, args=(workers or os.cpu_count() or 1,),
                                           name="graphc-llvm-dispatch", daemon=True)
            self.thread.start()

    def __enter__(self) -> "Compilation":
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.close(abandon=exc_type is not None)

    def submit(self, llvm_ir: str, speed_level: int = 3) -> None:
        """Queues one module for compilation at `speed_level`; it starts as soon as a worker is idle."""
        if self.feed is None:
            self.texts.append((llvm_ir, speed_level))
        else:
            self.feed.put((llvm_ir, speed_level, self.keep_texts))

    def results(self) -> list:
        """Every submitted module compiled, as CompiledModules in order; raises what compiling one raised."""
        if self.feed is None:
            self.finished = True
            return compile_modules([text for text, _ in self.texts], self.keep_texts,
                                   [level for _, level in self.texts])
        self.close()
        if self.error is not None:
            raise self.error
        return [CompiledModule(*result) for result in self.compiled]

    def close(self, abandon: bool = False) -> None:
        """Ends the submissions and waits for the modules submitted, or, to `abandon` them, for the workers
        compiling them to be stopped (a no-op once done)."""
        if self.finished or self.feed is None:
            self.finished = True
            return
        self.finished = True
        self.feed.close(abandon)
        self.thread.join()
        self.feed.release()
        _COMPILE_LOCK.release()

    def _serve(self, workers: int) -> None:
        try:
            self.compiled = _compile_in_workers(self.feed, workers)
        except BaseException as e:  # noqa: BLE001 - raised in the caller's thread, by `results`
            self.error = e


class _Feed:
    """The modules submitted to a Compilation, and a pipe that wakes its thread when one comes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items: list = []
        self.closed = self.abandoned = False
        self.wake, self._waker = os.pipe()

    def put(self, item) -> None:
        with self.lock:
            self.items.append(item)
        os.write(self._waker, b"m")

    def close(self, abandon: bool = False) -> None:
        with self.lock:
            self.closed, self.abandoned = True, abandon
        os.write(self._waker, b"c")

    def take(self) -> tuple:
        """(the items put since the last take, whether the feed is closed, whether its modules are abandoned)."""
        with self.lock:
            items, self.items = self.items, []
            return items, self.closed, self.abandoned

    def release(self) -> None:
        os.close(self.wake)
        os.close(self._waker)


_COMPILE_LOCK = threading.Lock()

# The address space LLVM takes beyond what the process has mapped, to compile a module
# at O3: measured (a child under RLIMIT_AS, halving the headroom until it aborts), a
# 9 MB text of a 3,000-op step needed up to 128 MB, i.e. 14 bytes per character;
# modules of 1-2 MB fitted in the heap's free space. The estimate is a guess on the
# safe side, which the in-process path (GRAPHC_PARALLEL_COMPILE=0) must make.
_LLVM_BASE_BYTES = 8 << 20
_LLVM_BYTES_PER_CHARACTER = 16


def _check_address_space(llvm_ir: str) -> None:
    """Raises ResourceExhaustedError when the address-space limit leaves LLVM too little room for `llvm_ir`."""
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY or not os.path.exists("/proc/self/statm"):
        return
    with open("/proc/self/statm") as statm:
        used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    needed = _LLVM_BASE_BYTES + _LLVM_BYTES_PER_CHARACTER * len(llvm_ir)
    if used + needed > limit:
        raise errors.ResourceExhaustedError(
            None, None, f"out of memory: LLVM needs about {needed >> 20} MB to compile a module of "
                        f"{len(llvm_ir) >> 10} KB of IR, and the address-space limit (RLIMIT_AS, {limit >> 20} MB) "
                        f"leaves {max(limit - used, 0) >> 20} MB")


def _compile_in_workers(feed: _Feed, workers: int) -> list:
    """Each module the feed brings compiled by a worker, a module to each idle worker in the order they came,
    until the feed is closed and every module compiled; results in that order."""
    requests: list = []  # (llvm_ir, speed_level, keep_texts) as they came
    results: list = []
    waiting: collections.deque = collections.deque()  # indices of requests not sent yet
    retried: set = set()  # modules whose worker left without a word
    busy: dict = {}  # worker -> index of its module
    idle = _Worker.pool(workers)
    selector = selectors.DefaultSelector()
    selector.register(feed.wake, selectors.EVENT_READ, None)

    def left(worker: _Worker, index: int) -> None:
        """A worker ended without answering: a worker that left idle as the module came (status 0) gets
        one successor; anything else is the error to raise."""
        if worker.process.wait() != 0 or index in retried:
            error = worker.failure()
            _Worker.discard(worker)
            raise error
        _Worker.discard(worker)
        retried.add(index)
        idle.append(_Worker.start())
        waiting.appendleft(index)

    try:
        while True:
            items, closed, abandoned = feed.take()
            if abandoned:
                raise _Abandoned()
            for item in items:
                waiting.append(len(requests))
                requests.append(item)
                results.append(None)
            while waiting and idle:
                worker, index = idle.pop(), waiting.popleft()
                if not worker.send(requests[index]):
                    left(worker, index)
                    continue
                busy[worker] = index
                selector.register(worker.answers, selectors.EVENT_READ, worker)
            if closed and not waiting and not busy:
                return results
            for key, _ in selector.select():
                worker = key.data
                if worker is None:  # a module came, or the feed closed
                    os.read(feed.wake, 4096)
                    continue
                answer = worker.receive()
                if answer is None:  # not all there yet
                    continue
                selector.unregister(worker.answers)
                index = busy.pop(worker)
                if answer is _Worker.LEFT:
                    left(worker, index)
                else:
                    idle.append(worker)
                    results[index] = answer
    except BaseException as e:
        # Every worker goes: one still compiling would answer the next compilation, and one that
        # compiled a module beside a worker that ran out of memory may be near the limit itself.
        for worker in list(_Worker._pool):
            _Worker.discard(worker)
        if not isinstance(e, _Abandoned):
            raise
        return []
    finally:
        selector.close()


class _Abandoned(Exception):
    """The caller of a Compilation left it unfinished."""


class _Worker:
    """A worker process (llvm_worker.serve), and the answer it is sending."""

    _pool: list = []
    LEFT = object()  # what `receive` returns when the worker ended instead of answering

    def __init__(self):
        root = str(Path(llvm_worker.__file__).resolve().parents[2])
        self.messages = tempfile.TemporaryFile()  # the worker's stderr: LLVM's last words, if it aborts
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", f"import sys; sys.path.insert(0, {root!r}); "
                                       "from graphc.backend import llvm_worker; llvm_worker.serve()"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.messages)
        except OSError as e:
            self.messages.close()
            raise errors.ResourceExhaustedError(None, None, f"cannot start a process to compile LLVM modules "
                                                            f"({e})") from None
        self.answers = self.process.stdout.fileno()
        self.received = bytearray()

    @classmethod
    def start(cls) -> "_Worker":
        """A new worker, in the pool."""
        cls._pool.append(cls())
        return cls._pool[-1]

    @classmethod
    def pool(cls, wanted: int) -> list:
        """Up to `wanted` workers, at most one per core, started if need be."""
        for worker in [worker for worker in cls._pool if worker.process.poll() is not None]:
            cls.discard(worker)  # it left, idle too long
        count = min(wanted, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        while len(cls._pool) < count:
            cls.start()
        return cls._pool[:count]

    @classmethod
    def discard(cls, worker: "_Worker") -> None:
        """Stops `worker` (if it still runs) and forgets it."""
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait()
        worker.process.stdin.close()
        worker.process.stdout.close()
        worker.messages.close()
        if worker in cls._pool:
            cls._pool.remove(worker)

    def send(self, request: tuple) -> bool:
        """Sends a request; False if the worker has left."""
        self.messages.seek(0)
        self.messages.truncate()
        self.received.clear()
        try:
            llvm_worker.write_message(self.process.stdin.fileno(), request)
            return True
        except BrokenPipeError:
            return False

    def receive(self):
        """The result once all of it has come (None until then; LEFT if the worker ended); raises the error the
        worker answered with."""
        data = os.read(self.answers, 1 << 20)
        if not data:
            return self.LEFT
        self.received += data
        parsed = llvm_worker.parse_message(self.received)
        if parsed is None:
            return None
        (outcome, payload), _ = parsed
        if outcome == "ok":
            return payload
        error_code, message = payload
        raise errors.error_class_for_code(error_code)(None, None, message)

    def failure(self) -> errors.OpError:
        """The error to raise for a worker that ended while compiling."""
        status = self.process.wait()
        self.messages.seek(0)
        messages = self.messages.read().decode(errors="replace").strip()
        how = (f"was killed by {signal.Signals(-status).name}" if status < 0 else f"exited with status {status}")
        ran_out = "out of memory" in messages.lower() or "MemoryError" in messages or status == -signal.SIGKILL
        error = errors.ResourceExhaustedError if ran_out else errors.InternalError
        return error(None, None, f"{'out of memory: ' if ran_out else ''}the process compiling an LLVM module {how}"
                                 + (f" ({messages[-2000:]})" if messages else ""))


def _forget_workers_in_child() -> None:
    """After a fork, in the child: the pool's workers serve the parent (two processes writing to one
    worker would read each other's answers), and a thread of the parent may have held the lock."""
    global _COMPILE_LOCK
    _COMPILE_LOCK = threading.Lock()
    for worker in _Worker._pool:  # the child's copies of the pipes; the parent keeps its own
        worker.process.stdin.close()
        worker.process.stdout.close()
        worker.messages.close()
    _Worker._pool = []


os.register_at_fork(after_in_child=_forget_workers_in_child)


@atexit.register
def _stop_workers() -> None:
    for worker in list(_Worker._pool):  # closing stdin ends a worker's loop
        worker.process.stdin.close()
    for worker in list(_Worker._pool):
        try:
            worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            worker.process.kill()


def c_compiler() -> str:
    compiler = environment.get().c_compiler
    if shutil.which(compiler) is None:
        raise errors.UnavailableError(None, None, f"graphc needs a C compiler to link compiled steps, and "
                                                  f"'{compiler}' was not found (install gcc or clang, or set CC)")
    return compiler


def _run(command: list) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise errors.InternalError(None, None, f"command failed: {' '.join(command)}\n{result.stderr}")


def runtime_source_dir() -> Path:
    return Path(str(importlib.resources.files("graphc.runtime_c")))


@functools.lru_cache(maxsize=None)
def runtime_digest() -> str:
    digest = hashlib.sha256()
    for name in sorted(os.listdir(runtime_source_dir())):
        if name.endswith((".c", ".h")):
            digest.update(name.encode())
            digest.update((runtime_source_dir() / name).read_bytes())
    return digest.hexdigest()[:16]


SANITIZER_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-g"]


def build_runtime_library(output: Path) -> None:
    """Compiles runtime_c into the shared library every step resolves its runtime calls against."""
    sources = sorted(str(p) for p in runtime_source_dir().glob("*.c"))
    sanitizer = SANITIZER_FLAGS if environment.get().sanitize else []
    _run([c_compiler(), "-O2", "-fPIC", "-std=c11", *sanitizer, "-shared", "-o", str(output), *sources, "-lm",
          "-lpthread"])


def link_shared_library(objects: list, output: Path, work_dir: Path) -> None:
    """Links a step's objects into the shared library `output`.

    Calls into runtime_c stay undefined here: they resolve, when the step is
    loaded, against the one runtime library the process loaded (so there is
    one thread pool per process, whatever the number of steps).
    """
    with tempfile.TemporaryDirectory(dir=work_dir) as work:
        paths = []
        for index, code in enumerate(objects):
            paths.append(Path(work) / f"part{index}.o")
            paths[-1].write_bytes(code)
        _run([c_compiler(), "-shared", "-o", str(output), *map(str, paths)])
