"""CRC-32C and TensorFlow's masked CRCs (event files, checkpoint tables)."""

import numpy as np

from graphc.core import checksums
from graphc.summary.event_file import record


def test_crc32c_check_value_and_continuation():
    assert checksums.crc32c(b"123456789") == 0xE3069283  # the CRC catalogue's check value
    assert checksums.crc32c(b"6789", checksums.crc32c(b"12345")) == 0xE3069283
    assert checksums.crc32c(memoryview(b"123456789")) == 0xE3069283
    assert checksums.crc32c(b"") == 0
    assert checksums.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720, B.4
    assert checksums.crc32c(bytes(range(32))) == 0x46DD794E


def test_arrays_are_checksummed_as_their_bytes():
    values = np.random.default_rng(0).random((300, 7)).astype(np.float32)
    assert checksums.crc32c(values) == checksums.crc32c(values.tobytes())
    assert checksums.crc32c(values[:, ::2]) == checksums.crc32c(values[:, ::2].tobytes())  # not contiguous


def test_masking_round_trips_and_matches_leveldb():
    for crc in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert checksums.unmask(checksums.mask(crc)) == crc
    assert checksums.mask(0) == 0xA282EAD8
    # LevelDB's crc32c_test: Mask(crc) differs from crc, and Mask(Mask(crc)) from Mask(crc).
    crc = checksums.crc32c(b"foo")
    assert checksums.mask(crc) != crc and checksums.mask(checksums.mask(crc)) != checksums.mask(crc)


def test_a_record_is_length_crc_data_crc():
    framed = record(b"abc")
    assert framed[:8] == (3).to_bytes(8, "little") and framed[12:15] == b"abc" and len(framed) == 19
    assert int.from_bytes(framed[8:12], "little") == checksums.masked_crc32c(framed[:8])
    assert int.from_bytes(framed[15:], "little") == checksums.masked_crc32c(b"abc")
