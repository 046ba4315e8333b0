"""Checkpoint files on disk: checksummed safetensors data files and the `checkpoint` state file.

A checkpoint with prefix `dir/model.ckpt-1000` is the one file
`dir/model.ckpt-1000.safetensors`: a plain safetensors file (any
`safetensors.numpy.load_file` reads it) whose keys are the checkpoint names
("hidden1/weights") and whose metadata holds a format tag and, for every
tensor, a SHA-256 over its dtype, shape and bytes (`sha256:<name>`). Reading
verifies every checksum, so a truncated or bit-flipped file is a DataLossError,
never wrong values.

Every file is written atomically: the bytes go to a hidden temporary file in
the same directory, which is flushed and fsync'ed, renamed over the target
(`os.replace`), and the directory is fsync'ed. A process killed at any moment
leaves either the old file or the new one, plus at worst an orphaned
`.NAME.*.tmp` file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import secrets

import numpy as np
import safetensors
import safetensors.numpy

from graphc import errors

DATA_SUFFIX = ".safetensors"
STATE_FILENAME = "checkpoint"
FORMAT = "graphc-checkpoint-v1"
_CHECKSUM_PREFIX = "sha256:"


def data_file(prefix: str) -> str:
    """The data file of the checkpoint `prefix`."""
    return prefix + DATA_SUFFIX


# -- data files ------------------------------------------------------------------------------


def _checksum(array: np.ndarray) -> str:
    digest = hashlib.sha256(f"{array.dtype.str}{list(array.shape)}".encode())
    digest.update(array.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def write_checkpoint(prefix: str, tensors: dict) -> None:
    """Atomically writes `tensors` (checkpoint name -> array) as the data file of `prefix`."""
    arrays = {name: np.asarray(value, order="C") for name, value in tensors.items()}
    metadata = {"format": FORMAT}
    metadata.update({_CHECKSUM_PREFIX + name: _checksum(array) for name, array in arrays.items()})
    atomic_write(data_file(prefix), safetensors.numpy.save(arrays, metadata=metadata))


def read_tensors(path: str) -> dict:
    """The verified tensors (name -> array) of the data file `path`.

    NotFoundError if there is no such file; DataLossError if it is not a
    complete, undamaged graphc checkpoint.
    """
    if not os.path.isfile(path):
        raise errors.NotFoundError(None, None, f"Checkpoint data file {path} not found")
    try:
        with safetensors.safe_open(path, framework="numpy") as file:
            metadata = file.metadata() or {}
            tensors = {name: file.get_tensor(name) for name in file.keys()}
    # Whatever the decoder raises means the bytes are not a valid file: besides
    # SafetensorError, a damaged dtype fails in NumPy (TypeError, AttributeError).
    except Exception as e:
        raise errors.DataLossError(None, None, f"Checkpoint {path} is damaged: {e}") from None
    _verify(path, tensors, metadata)
    return tensors


def _verify(path: str, tensors: dict, metadata: dict) -> None:
    if metadata.get("format") != FORMAT:
        raise errors.DataLossError(None, None, f"Checkpoint {path} is damaged or not a graphc checkpoint: "
                                               f"its metadata lacks the tag format={FORMAT}")
    checksums = {key[len(_CHECKSUM_PREFIX):]: value for key, value in metadata.items()
                 if key.startswith(_CHECKSUM_PREFIX)}
    for name in sorted(tensors.keys() | checksums.keys()):
        if name not in checksums:
            raise errors.DataLossError(None, None, f"Checkpoint {path} is damaged: tensor '{name}' has no checksum")
        if name not in tensors:
            raise errors.DataLossError(None, None, f"Checkpoint {path} is damaged: tensor '{name}' is missing")
        if _checksum(tensors[name]) != checksums[name]:
            raise errors.DataLossError(None, None, f"Checkpoint {path} is damaged: tensor '{name}' fails its "
                                                   "SHA-256 checksum")


def delete_checkpoint(prefix: str) -> None:
    """Removes the data file of `prefix` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(data_file(prefix))


# -- the state file --------------------------------------------------------------------------


@dataclasses.dataclass
class CheckpointState:
    """The `checkpoint` state file: the latest checkpoint and all kept ones (oldest first)."""

    model_checkpoint_path: str
    all_model_checkpoint_paths: list


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b'"': b'"', b"'": b"'", b"\\": b"\\"}
_STATE_LINE = re.compile(r'\s*(\w+)\s*:\s*(?:"((?:[^"\\]|\\.)*)"|[-+.\w]+)\s*')
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|x[0-9a-fA-F]{1,2}|.)")


def _quote(text: str) -> str:
    """A protobuf text-format string literal."""
    return '"' + "".join(_ESCAPES.get(c, c if c >= " " else f"\\{ord(c):03o}") for c in text) + '"'


def _unescape_byte(match) -> bytes:
    escape = match.group(1)
    if escape[:1].isdigit():
        return bytes([int(escape, 8) & 0xFF])
    if escape[:1] == b"x":
        return bytes([int(escape[1:], 16)])
    if escape not in _UNESCAPES:
        raise ValueError(f"unknown escape \\{escape.decode(errors='replace')}")
    return _UNESCAPES[escape]


def _unquote(text: str) -> str:
    return _ESCAPE.sub(_unescape_byte, text.encode()).decode()


def write_state(path: str, state: CheckpointState) -> None:
    """Atomically writes the state file `path` in TF1's text format."""
    lines = [f"model_checkpoint_path: {_quote(state.model_checkpoint_path)}"]
    lines += [f"all_model_checkpoint_paths: {_quote(p)}" for p in state.all_model_checkpoint_paths]
    atomic_write(path, ("\n".join(lines) + "\n").encode())


def read_state(path: str):
    """The CheckpointState in the state file `path` (paths as written), or None if there is none.

    ValueError naming the file if it does not parse. Fields other than the two
    paths (TF's timestamps) are skipped.
    """
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        return None
    state = CheckpointState("", [])
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _STATE_LINE.fullmatch(line)
        if match is None:
            raise ValueError(f"{path}:{number}: cannot parse {line!r}")
        field, quoted = match.groups()
        if field == "model_checkpoint_path" and quoted is not None:
            state.model_checkpoint_path = _unquote(quoted)
        elif field == "all_model_checkpoint_paths" and quoted is not None:
            state.all_model_checkpoint_paths.append(_unquote(quoted))
    return state


# -- atomic writes ---------------------------------------------------------------------------


def atomic_write(path: str, data: bytes) -> None:
    """Replaces `path` by a file holding `data`, so that a crash leaves the old file or the new one."""
    directory = os.path.dirname(path) or "."
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Makes a rename in `directory` durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
