"""CRC-32C (Castagnoli), the checksum of TensorFlow's checkpoint files, and its masked form.

No CRC-32C package is among graphc's dependencies, so it is computed here with
NumPy, fast enough for checkpoints (280 MB/s on one core of the development
machine): the data is cut into many equal chunks whose CRCs are computed side by
side, four bytes of every chunk per step (the "slicing-by-4" tables), and then
joined pairwise. Joining uses that a CRC register is linear over GF(2): appending
`n` bytes maps the register of the part before them by a fixed 32x32 bit matrix
(`_Shift`), whatever those bytes are.
"""

from __future__ import annotations

import functools

import numpy as np

_POLYNOMIAL = 0x82F63B78  # Castagnoli's, bit-reversed
_MASK_DELTA = 0xA282EAD8  # LevelDB's and TensorFlow's masking constant
_CHUNK = 256  # bytes per lane, a multiple of 4; measured fastest among 64, 256 and 1024
_SLAB = 1 << 24  # bytes handled at once, which bounds the temporary copies
_SERIAL_BELOW = 4096  # shorter inputs go byte by byte: NumPy's per-call cost dominates there


def _byte_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_POLYNOMIAL), table >> 1).astype(np.uint32)
    return table


def _slicing_tables(table: np.ndarray) -> np.ndarray:
    """Tables k = 0..3: the register's change from a byte followed by k zero bytes."""
    tables = [table]
    for _ in range(3):
        tables.append((tables[-1] >> 8) ^ table[tables[-1] & 0xFF])
    return np.stack(tables).astype(np.uint32)


_TABLE = _byte_table()
_SLICING = _slicing_tables(_TABLE)
_TABLE_LIST = _TABLE.tolist()
_BASIS = (np.uint32(1) << np.arange(32, dtype=np.uint32)).astype(np.uint32)


class _Shift:
    """The linear map of a CRC register over `n` appended zero bytes, as four byte-indexed tables."""

    def __init__(self, columns: np.ndarray):
        """`columns[j]` is the image of the register holding bit j alone."""
        values = np.arange(256, dtype=np.uint32)
        self.tables = np.zeros((4, 256), np.uint32)
        for byte in range(4):
            for bit in range(8):
                self.tables[byte] ^= np.where((values >> bit) & 1, columns[8 * byte + bit], 0).astype(np.uint32)

    def __call__(self, registers: np.ndarray) -> np.ndarray:
        t = self.tables
        return (t[0][registers & 0xFF] ^ t[1][(registers >> 8) & 0xFF] ^ t[2][(registers >> 16) & 0xFF]
                ^ t[3][registers >> 24])

    def then(self, other: "_Shift") -> "_Shift":
        """This map followed by `other`."""
        return _Shift(other(self(_BASIS)))


@functools.cache
def _shift_by_power_of_two(log2_bytes: int) -> _Shift:
    if log2_bytes == 0:
        return _Shift(_TABLE[_BASIS & 0xFF] ^ (_BASIS >> 8))
    half = _shift_by_power_of_two(log2_bytes - 1)
    return half.then(half)


def _shift(registers: np.ndarray, nbytes: int) -> np.ndarray:
    """`registers` carried over `nbytes` zero bytes."""
    for log2_bytes in range(nbytes.bit_length()):
        if nbytes >> log2_bytes & 1:
            registers = _shift_by_power_of_two(log2_bytes)(registers)
    return registers


def _serial(register: int, data) -> int:
    for byte in data:
        register = _TABLE_LIST[(register ^ byte) & 0xFF] ^ (register >> 8)
    return register


def _slab_register(slab: np.ndarray) -> int:
    """The register after `slab` from a zero register: side-by-side lanes of `_CHUNK` bytes, joined pairwise."""
    # Zero bytes in front of a zero register leave it zero, so padding the front makes the lanes equal.
    lanes = -(-slab.size // _CHUNK)
    lanes_padded = 1 << (lanes - 1).bit_length()
    padded = np.zeros(lanes_padded * _CHUNK, np.uint8)
    padded[padded.size - slab.size:] = slab
    words = np.ascontiguousarray(padded.view("<u4").reshape(lanes_padded, _CHUNK // 4).T)
    registers = np.zeros(lanes_padded, np.uint32)
    table0, table1, table2, table3 = _SLICING
    for word in words:
        registers ^= word
        registers = (table3[registers & 0xFF] ^ table2[(registers >> 8) & 0xFF] ^ table1[(registers >> 16) & 0xFF]
                     ^ table0[registers >> 24])
    length = _CHUNK
    while registers.size > 1:
        registers = _shift(registers[0::2], length) ^ registers[1::2]
        length *= 2
    return int(registers[0])


def crc32c(data) -> int:
    """The CRC-32C of `data` (bytes-like, or a NumPy array's bytes)."""
    array = data.reshape(-1).view(np.uint8) if isinstance(data, np.ndarray) else np.frombuffer(data, np.uint8)
    if array.size < _SERIAL_BELOW:
        return _serial(0xFFFFFFFF, array.tobytes()) ^ 0xFFFFFFFF
    register = 0xFFFFFFFF
    for start in range(0, array.size, _SLAB):
        slab = array[start:start + _SLAB]
        register = int(_shift(np.array([register], np.uint32), slab.size)[0]) ^ _slab_register(slab)
    return register ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    """TensorFlow's masked CRC (rotated and offset), stored where the data may itself hold CRCs."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def masked_crc32c(data) -> int:
    """`mask(crc32c(data))`."""
    return mask(crc32c(data))
