"""TensorFlow's checkpoint format ("V2" tensor bundle): `PREFIX.index` and `PREFIX.data-00000-of-00001`.

The data files hold the tensors' bytes back to back (little-endian, no
padding). The index is a table (`sstable`) whose keys are the tensor names in
byte order: the empty key holds a BundleHeaderProto (shard count, endianness,
format version), every other key a BundleEntryProto:

    BundleHeaderProto  1 num_shards: int32   2 endianness: LITTLE=0 | BIG=1   3 version: VersionDef
    BundleEntryProto   1 dtype: DataType     2 shape: TensorShapeProto   3 shard_id: int32   4 offset: int64
                       5 size: int64         6 crc32c: fixed32 (masked CRC-32C of the bytes)   7 slices

These protos are not among TensorBoard's generated classes, so their fields
are encoded by hand (`wire`). What graphc writes is byte for byte what
TensorFlow's BundleWriter writes for the same tensors.

Reading opens the index alone, checks it (table checksums, every entry's size
against its dtype and shape, every data file present and long enough) before
any tensor is read, then reads the tensors asked for, one at a time, each
verified against its CRC-32C: damage is a DataLossError naming the file and,
where there is one, the tensor.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import math
import os

import numpy as np

from graphc import errors
from graphc.core import wire
from graphc.train import sstable, tf_datatypes
from graphc.train.checkpoint_io import allocate, atomic_write, read_exactly
from graphc.core.checksums import crc32c, mask

INDEX_SUFFIX = ".index"
_FORMAT_VERSION = 1  # TensorFlow's kTensorBundleVersion
_LITTLE_ENDIAN = 0

def index_file(prefix: str) -> str:
    """The index file of the checkpoint `prefix`."""
    return prefix + INDEX_SUFFIX


def data_file(prefix: str, shard: int = 0, num_shards: int = 1) -> str:
    """The data file of shard `shard` (of `num_shards`) of the checkpoint `prefix`."""
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


def files_of(prefix: str) -> list:
    """The checkpoint's files that exist: its index and all its data shards."""
    shards = glob.glob(glob.escape(prefix) + ".data-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]")
    return [path for path in [index_file(prefix)] if os.path.isfile(path)] + sorted(shards)


# -- writing -------------------------------------------------------------------------------


def _shape_proto(shape: tuple) -> bytes:
    return b"".join(wire.bytes_field(2, wire.varint_field(1, size)) for size in shape)


def write_bundle(prefix: str, tensors: dict, shard_of=None) -> None:
    """Writes `tensors` (name -> array) as the checkpoint `prefix` in TensorFlow's format.

    `shard_of` (name -> shard number, from 0; default: all in shard 0) splits
    the tensors between data files `PREFIX.data-0000i-of-0000N`, as TF's
    sharded Saver does, one shard per device. The data files are written
    first and the index last, each atomically, so the index never names bytes
    that are not on disk; then data files of another shard count the prefix
    had are removed.
    """
    shard_of = shard_of or {}
    num_shards = max(shard_of.values(), default=0) + 1
    chunks = [[] for _ in range(num_shards)]
    offsets = [0] * num_shards
    entries = []
    for name in sorted(tensors, key=lambda name: name.encode()):
        array = np.asarray(tensors[name], order="C")
        dtype = array.dtype.newbyteorder("<")
        if tf_datatypes.enum_of(dtype) is None:
            raise errors.UnimplementedError(None, None, f"Cannot save tensor '{name}' of dtype {array.dtype} in "
                                                        f"TensorFlow's checkpoint format")
        array = array.astype(dtype, copy=False)
        shard = shard_of.get(name, 0)
        entry = (wire.varint_field(1, tf_datatypes.enum_of(dtype)) + wire.bytes_field(2, _shape_proto(array.shape))
                 + wire.varint_field(3, shard) + wire.varint_field(4, offsets[shard])
                 + wire.varint_field(5, array.nbytes) + wire.fixed32_field(6, mask(crc32c(array))))
        entries.append((name.encode(), entry))
        chunks[shard].append(memoryview(array.reshape(-1).view(np.uint8)))
        offsets[shard] += array.nbytes
    header = wire.varint_field(1, num_shards) + wire.bytes_field(3, wire.varint_field(1, _FORMAT_VERSION))
    written = [data_file(prefix, shard, num_shards) for shard in range(num_shards)]
    for path, shard_chunks in zip(written, chunks):
        atomic_write(path, *shard_chunks)
    atomic_write(index_file(prefix), sstable.build_table([(b"", header)] + entries))
    for path in files_of(prefix):
        if path not in written and path != index_file(prefix):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


def delete_bundle(prefix: str) -> None:
    """Removes the checkpoint's index and data files, those that exist."""
    for path in files_of(prefix):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


# -- reading -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BundleEntry:
    """A tensor as the index declares it: its type, and where its bytes and checksum are."""

    dtype: np.dtype | None  # None: a TensorFlow type graphc cannot hold (string, bfloat16 ...)
    type_name: str  # TensorFlow's name of the dtype
    shape: tuple
    shard: int
    offset: int
    nbytes: int
    masked_crc: int


class BundleReader:
    """An open checkpoint in TensorFlow's format whose index has been checked; tensors are read on demand.

    NotFoundError if `prefix` has no index file; DataLossError naming the file
    (and the tensor) if the index is damaged or a data file is missing or too
    short for the tensors it should hold. Use it as a context manager.
    """

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.path = index_file(prefix)
        if not os.path.isfile(self.path):
            raise errors.NotFoundError(None, None, f"Checkpoint index file {self.path} not found")
        try:
            with open(self.path, "rb") as file:
                table = file.read()
        except PermissionError as e:
            raise errors.PermissionDeniedError(None, None, f"Checkpoint {self.path} cannot be read: {e}") from None
        try:
            records = sstable.read_table(table)
            self.num_shards = self._header(records)
            self.entries = {key.decode(): self._entry(key.decode(), value) for key, value in records if key}
        except (ValueError, UnicodeDecodeError) as e:
            raise errors.DataLossError(None, None, f"Checkpoint index {self.path} is damaged: {e}") from None
        self._files = {}
        try:
            self._open_shards()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "BundleReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Closes the data files; the entries stay readable."""
        for file in self._files.values():
            file.close()
        self._files = {}

    def _header(self, records: list) -> int:
        if not records or records[0][0] != b"":
            raise ValueError("it has no header entry (the empty key)")
        header = {number: value for number, _, value in wire.fields(records[0][1])}
        if header.get(2, _LITTLE_ENDIAN) != _LITTLE_ENDIAN:
            raise ValueError("its tensors are big-endian, which graphc does not read")
        version = {number: value for number, _, value in wire.fields(header.get(3, b""))}
        if version.get(2, 0) > _FORMAT_VERSION:
            raise ValueError(f"it needs a reader of format version {version[2]}; graphc reads {_FORMAT_VERSION}")
        num_shards = header.get(1, 0)
        if num_shards < 1:
            raise ValueError(f"its header declares {num_shards} data shards")
        return num_shards

    def _entry(self, name: str, value: bytes) -> BundleEntry:
        """The index's description of tensor `name`, checked to be well formed and self-consistent."""
        fields = {}
        for number, _, field in wire.fields(value):
            fields.setdefault(number, []).append(field)
        if 7 in fields:
            raise errors.UnimplementedError(None, None, f"Tensor '{name}' of checkpoint {self.prefix} is a slice of "
                                                        f"a partitioned variable, which graphc does not restore")
        code = fields.get(1, [0])[-1]
        if code not in tf_datatypes.DATA_TYPES:
            raise ValueError(f"tensor '{name}' has the unknown DataType {code}")
        type_name, dtype = tf_datatypes.DATA_TYPES[code]
        shape = self._shape(name, fields.get(2, [b""])[-1])
        shard, offset, nbytes = (wire.signed64(fields.get(number, [0])[-1]) for number in (3, 4, 5))
        if not 0 <= shard < self.num_shards or offset < 0:
            raise ValueError(f"tensor '{name}' lies in shard {shard} at offset {offset} "
                             f"(the checkpoint has {self.num_shards} shards)")
        if dtype is not None and nbytes != math.prod(shape) * dtype.itemsize:
            raise ValueError(f"tensor '{name}' of dtype {type_name} and shape {list(shape)} should have "
                             f"{math.prod(shape) * dtype.itemsize} bytes, its entry says {nbytes}")
        return BundleEntry(dtype, type_name, shape, shard, offset, nbytes, fields.get(6, [0])[-1])

    @staticmethod
    def _shape(name: str, proto: bytes) -> tuple:
        shape = []
        for number, _, field in wire.fields(proto):
            if number == 3 and field:
                raise ValueError(f"tensor '{name}' has an unknown rank")
            if number == 2:
                size = wire.signed64(dict((n, v) for n, _, v in wire.fields(field)).get(1, 0))
                if size < 0:
                    raise ValueError(f"tensor '{name}' has the dimension {size}")
                shape.append(size)
        return tuple(shape)

    def _open_shards(self) -> None:
        """Opens every data file an entry needs, each checked to hold all of its tensors' bytes."""
        needed = {}
        for name, entry in self.entries.items():
            end = needed.get(entry.shard, (0, None))[0]
            if entry.offset + entry.nbytes >= end:
                needed[entry.shard] = (entry.offset + entry.nbytes, name)
        for shard, (end, name) in sorted(needed.items()):
            path = data_file(self.prefix, shard, self.num_shards)
            try:
                self._files[shard] = open(path, "rb", buffering=0)
            except FileNotFoundError:
                raise errors.DataLossError(None, None, f"Checkpoint {self.prefix} is damaged: its data file {path} "
                                                       f"is missing (it holds tensor '{name}')") from None
            size = os.fstat(self._files[shard].fileno()).st_size
            if size < end:
                raise errors.DataLossError(None, None, f"Checkpoint data file {path} is truncated: it has {size} "
                                                       f"bytes, tensor '{name}' ends at byte {end}")

    def read(self, name: str) -> np.ndarray:
        """The tensor `name`, read into a new array and verified against its CRC-32C (else DataLossError)."""
        entry = self.entries[name]
        if entry.dtype is None:
            raise errors.UnimplementedError(None, None, f"Tensor '{name}' of checkpoint {self.prefix} has dtype "
                                                        f"{entry.type_name}, which graphc cannot hold")
        path = data_file(self.prefix, entry.shard, self.num_shards)

        def damaged(reason: str) -> errors.DataLossError:
            return errors.DataLossError(None, None, f"Checkpoint data file {path} is damaged: tensor '{name}': {reason}")

        array = allocate(name, entry.shape, entry.dtype, entry.type_name, self.prefix)
        read_exactly(self._files[entry.shard].fileno(), memoryview(array.reshape(-1).view(np.uint8)), entry.offset,
                     damaged)
        if mask(crc32c(array)) != entry.masked_crc:
            raise errors.DataLossError(None, None, f"Checkpoint data file {path} is damaged: tensor '{name}' fails "
                                                   f"its CRC-32C checksum")
        return array.astype(entry.dtype.newbyteorder("="), copy=False)
