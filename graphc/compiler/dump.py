"""Dumps of every compilation stage, written by one code path.

With `GRAPHC_DUMP=DIR` (or `graphc dump`, which sets it), each compiled
signature gets a directory `DIR/NNN_<fetches>/` with numbered files:

| file                    | stage                                               |
|-------------------------|-----------------------------------------------------|
| 000_graph.txt           | the frontend graph ops this signature runs          |
| 001_lowered.txt         | the IR right after lowering                         |
| 00k_<pass>.txt          | the IR after each pass of passes/pipeline.py        |
| 00k_llvm.ll             | the LLVM IR graphc generated                        |
| 00k_llvm_opt.ll         | the LLVM IR after LLVM's O3 pipeline                |
| 00k_asm.s               | the host assembly                                   |

Dumps go where only this user can write: the directory, and every one on the
way to it, must be this user's or root's and writable by no one else (as for
the compiled-library cache: `runtime/private_dirs.py`). Each signature's
directory is new (mkdir, never one that exists), and its files are created
relative to its descriptor with O_CREAT | O_EXCL | O_NOFOLLOW, so a link
planted at a predictable name is never followed.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import weakref
from pathlib import Path
from typing import NamedTuple, Optional

from graphc import environment
from graphc.core.tensor_shape import format_dims
from graphc.frontend.graph import Operation, Tensor, walk_ops
from graphc.frontend.reduced_fetch import ReducedFetch
from graphc.runtime import private_dirs

_lock = threading.Lock()
_counters: dict = {}  # dump directory -> the number of its next signature
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class SignatureDump:
    """The numbered files of one compiled signature, in the directory open as `fd` (closed with the dump)."""

    def __init__(self, directory: Path, fd: int):
        self.directory = directory
        self._fd = fd
        weakref.finalize(self, os.close, fd)
        self._numbers = itertools.count()

    def write(self, stage: str, text: str, suffix: str = ".txt") -> Path:
        name = f"{next(self._numbers):03d}_{stage}{suffix}"
        with os.fdopen(os.open(name, _NEW_FILE, 0o644, dir_fd=self._fd), "w", encoding="utf-8") as file:
            file.write(text)
        return self.directory / name


def start_signature(fetches) -> Optional[SignatureDump]:
    """A SignatureDump for a new signature when dumping is on, else None."""
    root = environment.get().dump_dir
    if root is None:
        return None
    label = signature_label(fetches)
    with private_dirs.open_private_directory(root, "write dumps to", "choose a GRAPHC_DUMP directory only you "
                                                                     "can write") as dump_dir, _lock:
        number = _counters.get(dump_dir.path)
        if number is None:
            with os.scandir(dump_dir.fd) as entries:
                number = sum(1 for entry in entries if entry.is_dir(follow_symlinks=False))
        while True:  # a new directory: one that exists (another process's, or planted) is skipped
            name = f"{number:03d}_{label}"
            try:
                os.mkdir(name, dir_fd=dump_dir.fd)
                break
            except FileExistsError:
                number += 1
        _counters[dump_dir.path] = number + 1
        return SignatureDump(dump_dir.path / name, os.open(name, _DIRECTORY, dir_fd=dump_dir.fd))


def signature_label(fetches) -> str:
    """A short name for a signature, from its fetches: `GradientDescent_xentropy_mean-0`."""
    return "_".join(_label(f) for f in fetches)[:60] or "step"


def _label(element) -> str:
    name = element.name if isinstance(element, (Tensor, Operation, ReducedFetch)) else str(element)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def graph_text(fetches) -> str:
    """The graph ops `fetches` depend on, one a line in creation order."""
    tensors_or_ops = [f.tensor if isinstance(f, ReducedFetch) else f for f in fetches]
    seen = walk_ops([f.op if isinstance(f, Tensor) else f for f in tensors_or_ops],
                    lambda op: [t.op for t in op.inputs] + op.control_inputs)
    lines = []
    for op in sorted(seen, key=lambda o: o._id):
        outputs = ", ".join(f"{t.dtype.name}{format_dims(t._dims)}" for t in op.outputs) or "-"
        inputs = ", ".join(t.name for t in op.inputs)
        controls = "".join(f" ^{c.name}" for c in op.control_inputs)
        lines.append(f"{op.name} = {op.type}({inputs}){controls} -> {outputs}")
    return "\n".join(lines) + "\n"


class GraphOp(NamedTuple):
    """One line of `graph_text`: an op, the tensors it reads, and its outputs' types."""

    name: str
    type: str
    inputs: tuple           # tensor names, `hidden1/MatMul:0`
    control_inputs: tuple   # op names
    outputs: tuple          # one `float32(100, 128)` a tensor


_GRAPH_LINE = re.compile(r"(?P<name>\S+) = (?P<type>\w+)\((?P<inputs>[^)]*)\)(?P<controls>(?: \^\S+)*)"
                         r" -> (?P<outputs>.*)")
_OUTPUT_TYPE = re.compile(r"\w+(?:\([^)]*\)|<unknown>)")


def parse_graph_text(text: str) -> list:
    """The GraphOps of a `graph_text` dump, in its order."""
    ops = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _GRAPH_LINE.fullmatch(line)
        if match is None:
            raise ValueError(f"line {number}: not a graph op: {line!r}")
        inputs = match["inputs"]
        ops.append(GraphOp(match["name"], match["type"], tuple(inputs.split(", ")) if inputs else (),
                           tuple(c.strip()[1:] for c in match["controls"].split()),
                           tuple(_OUTPUT_TYPE.findall(match["outputs"]))))
    return ops
