"""CRC-32C (Castagnoli) and the masked form TensorFlow's record files store.

TensorBoard event files (TFRecord framing) and TensorFlow's checkpoint tables
checksum their data with CRC-32C, stored "masked" (rotated and offset, so that
a CRC of data that itself holds CRCs is not degenerate). The CRC itself comes
from google-crc32c (Google's C library, with a pure-Python fallback).
"""

from __future__ import annotations

import google_crc32c
import numpy as np

_MASK_DELTA = 0xA282EAD8  # LevelDB's and TensorFlow's masking constant


def crc32c(data, initial: int = 0) -> int:
    """The CRC-32C of `data` (bytes, a NumPy array's bytes, or another bytes-like object), continuing from
    the CRC `initial` of the bytes before it. Arrays are read in place, not copied."""
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data)
    elif not isinstance(data, bytes):
        data = bytes(data)  # google-crc32c takes read-only buffers only
    return google_crc32c.extend(initial, data)


def mask(crc: int) -> int:
    """TensorFlow's masked CRC: rotated right by 15 bits, plus a constant."""
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def unmask(masked: int) -> int:
    """The CRC that `mask` turned into `masked`."""
    rotated = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rotated >> 17) | (rotated << 15)) & 0xFFFFFFFF


def masked_crc32c(data) -> int:
    return mask(crc32c(data))
