"""The sorted string table (LevelDB's format, as TensorFlow's `lib/io/table` writes it): a checkpoint's `.index`.

A table is a sequence of blocks, then a 48-byte footer:

    data block 0 .. data block n    sorted key/value entries
    metaindex block                 empty (TensorFlow writes no meta blocks)
    index block                     one entry per data block: a key >= its last key -> its BlockHandle
    footer                          metaindex handle, index handle (varints, zero-padded to 40 bytes),
                                    magic 0xdb4775248b80fb57 (little-endian)

A block is its entries, then the offsets of its restart points (fixed32 each)
and their count (fixed32); an entry is `varint shared, varint unshared, varint
value length, key[shared:], value`, its key sharing `shared` leading bytes with
the previous one (none at a restart point). Every block is followed by a
5-byte trailer: its compression type (0: none, all graphc writes or reads) and
the masked CRC-32C of the block and that byte. A BlockHandle is `varint
offset, varint size` (the size without the trailer).

Reading checks every checksum and every length; damage is a ValueError saying
what is wrong, which `tensor_bundle` turns into a DataLossError naming the file.
"""

from __future__ import annotations

from graphc.core import wire
from graphc.core.checksums import masked_crc32c

MAGIC = 0xDB4775248B80FB57
FOOTER_BYTES = 48
_HANDLES_BYTES = 40
_TRAILER_BYTES = 5
_NO_COMPRESSION = 0
BLOCK_BYTES = 256 * 1024  # TensorFlow's table::Options default
RESTART_INTERVAL = 16  # ditto


# -- writing -------------------------------------------------------------------------------


class _BlockBuilder:
    """One block being filled: entries with keys shared with the previous key between restart points."""

    def __init__(self, restart_interval: int):
        self.restart_interval = restart_interval
        self.buffer, self.restarts, self.count, self.last_key = bytearray(), [0], 0, b""

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.count and self.count % self.restart_interval == 0:
            self.restarts.append(len(self.buffer))
        elif self.count:
            limit = min(len(key), len(self.last_key))
            while shared < limit and key[shared] == self.last_key[shared]:
                shared += 1
        self.buffer += wire.encode_varint(shared) + wire.encode_varint(len(key) - shared)
        self.buffer += wire.encode_varint(len(value)) + key[shared:] + value
        self.count, self.last_key = self.count + 1, key

    def size(self) -> int:
        """What `finish` would return's length: LevelDB's test for a full block."""
        return len(self.buffer) + 4 * len(self.restarts) + 4

    def finish(self) -> bytes:
        restarts = b"".join(restart.to_bytes(4, "little") for restart in self.restarts)
        return bytes(self.buffer) + restarts + len(self.restarts).to_bytes(4, "little")


def _separator(start: bytes, limit: bytes) -> bytes:
    """A short key k with start <= k < limit (LevelDB's bytewise FindShortestSeparator)."""
    common = 0
    while common < min(len(start), len(limit)) and start[common] == limit[common]:
        common += 1
    if common < min(len(start), len(limit)) and start[common] < 0xFF and start[common] + 1 < limit[common]:
        return start[:common] + bytes([start[common] + 1])
    return start


def _successor(key: bytes) -> bytes:
    """A short key >= `key` (LevelDB's bytewise FindShortSuccessor)."""
    for index, byte in enumerate(key):
        if byte != 0xFF:
            return key[:index] + bytes([byte + 1])
    return key


def _handle(offset: int, size: int) -> bytes:
    return wire.encode_varint(offset) + wire.encode_varint(size)


def build_table(entries: list) -> bytes:
    """The table holding `entries`, (key bytes, value bytes) pairs sorted by key, keys unique.

    Blocks are cut and index keys chosen as TensorFlow's TableBuilder does, so
    the same entries give the same bytes.
    """
    keys = [key for key, _ in entries]
    if keys != sorted(set(keys)):
        raise ValueError("table keys must be unique and sorted")
    out = bytearray()

    def append_block(block: _BlockBuilder) -> bytes:
        contents = block.finish() + bytes([_NO_COMPRESSION])
        handle = _handle(len(out), len(contents) - 1)
        out.extend(contents + masked_crc32c(contents).to_bytes(4, "little"))
        return handle

    index, block, pending_handle = _BlockBuilder(1), _BlockBuilder(RESTART_INTERVAL), None
    for key, value in entries:
        if pending_handle is not None:
            # A finished block's index entry waits for the next key, to be given a short separator.
            index.add(_separator(block_last_key, key), pending_handle)
            pending_handle = None
        block.add(key, value)
        if block.size() >= BLOCK_BYTES:
            block_last_key, pending_handle = block.last_key, append_block(block)
            block = _BlockBuilder(RESTART_INTERVAL)
    if block.count:
        block_last_key, pending_handle = block.last_key, append_block(block)
    if pending_handle is not None:
        index.add(_successor(block_last_key), pending_handle)
    metaindex_handle = append_block(_BlockBuilder(RESTART_INTERVAL))
    handles = metaindex_handle + append_block(index)
    out += handles + bytes(_HANDLES_BYTES - len(handles)) + MAGIC.to_bytes(8, "little")
    return bytes(out)


# -- reading -------------------------------------------------------------------------------


def _read_handle(data: bytes, position: int) -> tuple:
    offset, position = wire.decode_varint(data, position)
    size, position = wire.decode_varint(data, position)
    return (offset, size), position


def _block_contents(table: bytes, handle: tuple, what: str) -> bytes:
    """The checked contents of the block at `handle`."""
    offset, size = handle
    if offset + size + _TRAILER_BYTES > len(table) - FOOTER_BYTES:
        raise ValueError(f"the {what} at bytes {offset}..{offset + size} lies beyond the table's "
                         f"{len(table) - FOOTER_BYTES} bytes of blocks")
    contents = table[offset:offset + size]
    compression = table[offset + size]
    stored = int.from_bytes(table[offset + size + 1:offset + size + _TRAILER_BYTES], "little")
    if masked_crc32c(table[offset:offset + size + 1]) != stored:
        raise ValueError(f"the {what} at byte {offset} fails its CRC-32C checksum")
    if compression != _NO_COMPRESSION:
        raise ValueError(f"the {what} at byte {offset} is compressed (type {compression}), which graphc does "
                         f"not read")
    return contents


def _block_entries(contents: bytes, what: str) -> list:
    """The (key, value) pairs of a block."""
    if len(contents) < 4:
        raise ValueError(f"the {what} has {len(contents)} bytes, too few for its restart count")
    restarts = int.from_bytes(contents[-4:], "little")
    end = len(contents) - 4 - 4 * restarts
    if restarts < 1 or end < 0:
        raise ValueError(f"the {what} declares {restarts} restart points in {len(contents)} bytes")
    entries, position, key = [], 0, b""
    while position < end:
        shared, position = wire.decode_varint(contents, position)
        unshared, position = wire.decode_varint(contents, position)
        length, position = wire.decode_varint(contents, position)
        if shared > len(key) or position + unshared + length > end:
            raise ValueError(f"the {what} has an entry at byte {position} that runs past its end")
        key = key[:shared] + contents[position:position + unshared]
        position += unshared
        entries.append((key, contents[position:position + length]))
        position += length
    return entries


def read_table(table: bytes) -> list:
    """The (key, value) pairs of `table`, in order, every block's checksum verified."""
    if len(table) < FOOTER_BYTES:
        raise ValueError(f"its {len(table)} bytes are too few for a table footer")
    footer = table[-FOOTER_BYTES:]
    if int.from_bytes(footer[_HANDLES_BYTES:], "little") != MAGIC:
        raise ValueError("its footer lacks the table magic number (not a table, or truncated)")
    metaindex_handle, position = _read_handle(footer, 0)
    index_handle, _ = _read_handle(footer, position)
    _block_contents(table, metaindex_handle, "metaindex block")  # holds nothing graphc needs; checked all the same
    entries = []
    for _, value in _block_entries(_block_contents(table, index_handle, "index block"), "index block"):
        handle, _ = _read_handle(value, 0)
        entries += _block_entries(_block_contents(table, handle, "data block"), "data block")
    keys = [key for key, _ in entries]
    if keys != sorted(set(keys)):
        raise ValueError("its keys are not unique and sorted")
    return entries
