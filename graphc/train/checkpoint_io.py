"""Checkpoint files on disk: checksummed safetensors data files and the `checkpoint` state file.

A checkpoint with prefix `dir/model.ckpt-1000` is the one file
`dir/model.ckpt-1000.safetensors`: a plain safetensors file (any
`safetensors.numpy.load_file` reads it) whose keys are the checkpoint names
("hidden1/weights") and whose metadata holds a format tag and, for every
tensor, a SHA-256 over its dtype, shape and bytes (`sha256:<name>`). Reading
first checks the header alone (it must describe the file's bytes exactly), then
reads only the tensors asked for, one at a time, each verified against its
checksum, so a truncated or bit-flipped file is a DataLossError, never wrong
values, and a huge tensor is neither allocated on a damaged header's word nor
read when it is not wanted.

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
import json
import math
import os
import re
import secrets

import numpy as np
import safetensors.numpy

from graphc import errors
from graphc.train import tf_datatypes

DATA_SUFFIX = ".safetensors"
STATE_FILENAME = "checkpoint"
FORMAT = "graphc-checkpoint-v1"
_CHECKSUM_PREFIX = "sha256:"


def data_file(prefix: str) -> str:
    """The data file of the checkpoint `prefix`."""
    return prefix + DATA_SUFFIX


# -- data files ------------------------------------------------------------------------------

# safetensors' element types that NumPy holds (what safetensors.numpy writes), little-endian.
_DTYPES = {name: np.dtype(code) for name, code in {
    "BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "F16": "<f2", "U32": "<u4", "I32": "<i4",
    "F32": "<f4", "U64": "<u8", "I64": "<i8", "F64": "<f8", "C64": "<c8"}.items()}
# safetensors' own bound: a longer header is damage, and is refused before it is read.
_MAX_HEADER_BYTES = 100_000_000
_HEADER_LENGTH_BYTES = 8
_ENTRY_FIELDS = {"dtype", "shape", "data_offsets"}


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


@dataclasses.dataclass(frozen=True)
class TensorEntry:
    """A tensor as the data file's header declares it: its type, and where its bytes and checksum are."""

    dtype: np.dtype
    shape: tuple
    offset: int  # of its first byte in the file
    nbytes: int
    checksum: str

    @property
    def type_name(self) -> str:
        """TensorFlow's name of the dtype, as restore errors write it."""
        return tf_datatypes.type_name(self.dtype)


def allocate(name: str, shape: tuple, dtype: np.dtype, type_name: str, source: str) -> np.ndarray:
    """An uninitialised array for tensor `name` of checkpoint `source`; ResourceExhaustedError if no memory."""
    try:
        return np.empty(shape, dtype)
    except MemoryError:
        raise errors.ResourceExhaustedError(
            None, None, f"OOM when allocating tensor '{name}' of checkpoint {source}: "
                        f"{math.prod(shape) * dtype.itemsize} bytes ({type_name} {list(shape)})") from None


def read_exactly(descriptor: int, view: memoryview, offset: int, damaged) -> None:
    """Fills `view` with the file's bytes from `offset` on; a failed or short read raises `damaged(reason)`."""
    while view.nbytes:
        try:
            count = os.preadv(descriptor, [view], offset)
        except OSError as e:
            raise damaged(f"reading {view.nbytes} bytes at offset {offset} failed: {e}") from None
        if count == 0:
            raise damaged(f"it ends at offset {offset}, inside a tensor (truncated while open?)")
        view, offset = view[count:], offset + count


class CheckpointReader:
    """An open data file whose header has been checked; tensors are read one at a time, on demand.

    Opening reads the header alone (its JSON: names, dtypes, shapes, byte
    offsets and checksums) and checks that it describes the file exactly, so
    what a restore needs can be checked before any tensor is read, and a
    tensor nobody asks for is never read. NotFoundError if there is no such
    file; DataLossError naming it if the header is damaged or declares more
    (or fewer) bytes than the file holds. Use it as a context manager.
    """

    def __init__(self, path: str):
        self.path = path
        if not os.path.isfile(path):
            raise errors.NotFoundError(None, None, f"Checkpoint data file {path} not found")
        try:
            self._file = open(path, "rb", buffering=0)
        except PermissionError as e:
            raise errors.PermissionDeniedError(None, None, f"Checkpoint {path} cannot be read: {e}") from None
        try:
            self.entries = self._read_header()
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> "CheckpointReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Closes the file; the entries stay readable."""
        self._file.close()

    def read(self, name: str) -> np.ndarray:
        """The tensor `name`, read into a new array and verified against its SHA-256 (else DataLossError).

        ResourceExhaustedError if there is no memory for it.
        """
        entry = self.entries[name]
        array = allocate(name, entry.shape, entry.dtype, entry.dtype.name, self.path)
        read_exactly(self._file.fileno(), memoryview(array.reshape(-1).view(np.uint8)), entry.offset, self._damaged)
        if _checksum(array) != entry.checksum:
            raise self._damaged(f"tensor '{name}' fails its SHA-256 checksum")
        return array

    def _damaged(self, reason: str) -> errors.DataLossError:
        return errors.DataLossError(None, None, f"Checkpoint {self.path} is damaged: {reason}")

    def _read_header(self) -> dict:
        """Name -> TensorEntry of every tensor, from the header, checked against itself and the file size."""
        size = os.fstat(self._file.fileno()).st_size
        if size < _HEADER_LENGTH_BYTES:
            raise self._damaged(f"its {size} bytes are too few for a safetensors header")
        length_field = bytearray(_HEADER_LENGTH_BYTES)
        read_exactly(self._file.fileno(), memoryview(length_field), 0, self._damaged)
        header_length = int.from_bytes(length_field, "little")
        if header_length > min(size - _HEADER_LENGTH_BYTES, _MAX_HEADER_BYTES):
            raise self._damaged(f"it declares a header of {header_length} bytes in a file of {size} bytes")
        header_bytes = bytearray(header_length)
        read_exactly(self._file.fileno(), memoryview(header_bytes), _HEADER_LENGTH_BYTES, self._damaged)
        try:
            header = json.loads(header_bytes.decode("utf-8"))
        except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise self._damaged(f"its header is not JSON: {e}") from None
        if not isinstance(header, dict):
            raise self._damaged("its header is not a JSON object")
        checksums = self._checksums(header.pop("__metadata__", None))
        for name in sorted(header.keys() | checksums.keys()):
            if name not in checksums:
                raise self._damaged(f"tensor '{name}' has no checksum")
            if name not in header:
                raise self._damaged(f"tensor '{name}' is missing")
        data_start = _HEADER_LENGTH_BYTES + header_length
        entries = {name: self._entry(name, fields, data_start, checksums[name]) for name, fields in header.items()}
        self._check_layout(entries, data_start, size)
        return entries

    def _checksums(self, metadata) -> dict:
        """Tensor name -> SHA-256 from the header's metadata, which must carry graphc's format tag."""
        if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
            raise errors.DataLossError(None, None, f"Checkpoint {self.path} is damaged or not a graphc checkpoint: "
                                                   f"its metadata lacks the tag format={FORMAT}")
        return {key[len(_CHECKSUM_PREFIX):]: value for key, value in metadata.items()
                if key.startswith(_CHECKSUM_PREFIX)}

    def _entry(self, name: str, fields, data_start: int, checksum: str) -> TensorEntry:
        """The header's description of tensor `name`, checked to be well formed and self-consistent."""
        if not isinstance(fields, dict) or fields.keys() != _ENTRY_FIELDS:
            raise self._damaged(f"tensor '{name}' is described by {fields!r:.200}")
        dtype, shape, offsets = fields["dtype"], fields["shape"], fields["data_offsets"]
        if dtype not in _DTYPES:
            raise self._damaged(f"tensor '{name}' has the unknown dtype {dtype!r:.40}")
        if not _are_sizes(shape) or not _are_sizes(offsets) or len(offsets) != 2 or offsets[0] > offsets[1]:
            raise self._damaged(f"tensor '{name}' has the shape {shape!r:.100} and offsets {offsets!r:.100}")
        nbytes = math.prod(shape) * _DTYPES[dtype].itemsize
        if offsets[1] - offsets[0] != nbytes:
            raise self._damaged(f"tensor '{name}' of dtype {dtype} and shape {shape} should have {nbytes} bytes, "
                                f"its offsets {offsets} give {offsets[1] - offsets[0]}")
        return TensorEntry(_DTYPES[dtype], tuple(shape), data_start + offsets[0], nbytes, checksum)

    def _check_layout(self, entries: dict, data_start: int, size: int) -> None:
        """The tensors must tile the data after the header exactly: no gap, no overlap, nothing beyond."""
        end = data_start
        for name, entry in sorted(entries.items(), key=lambda item: (item[1].offset, item[1].nbytes)):
            if entry.offset != end:
                raise self._damaged(f"tensor '{name}' starts at byte {entry.offset - data_start} of the data, "
                                    f"expected {end - data_start}")
            end += entry.nbytes
        if end != size:
            raise self._damaged(f"its header declares {end - data_start} bytes of tensor data but the file holds "
                                f"{size - data_start}")


def _are_sizes(values) -> bool:
    """Whether `values` is a JSON list of non-negative integers (JSON's true and false are not sizes)."""
    return isinstance(values, list) and all(type(value) is int and value >= 0 for value in values)


def read_tensors(path: str) -> dict:
    """Every tensor (name -> array) of the data file `path`, each verified.

    NotFoundError if there is no such file; DataLossError if it is not a
    complete, undamaged graphc checkpoint. A restore reads only what it
    restores, through CheckpointReader.
    """
    with CheckpointReader(path) as reader:
        return {name: reader.read(name) for name in reader.entries}


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


def atomic_write(path: str, *chunks) -> None:
    """Replaces `path` by a file holding the bytes-like `chunks` one after another, so that a crash leaves
    the old file or the new one."""
    directory = os.path.dirname(path) or "."
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
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
