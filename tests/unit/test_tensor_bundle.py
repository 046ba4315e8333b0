"""TensorFlow's checkpoint format without sessions: CRC-32C, the protobuf wire helpers, the table, the bundle.

The oracles: CRC-32C's published check value and a byte-at-a-time loop; the
index TensorFlow wrote into tests/data/tf_checkpoint, which graphc must read
and write back byte for byte; and every damage of it, which must be a
DataLossError.
"""

import pathlib

import numpy as np
import pytest

import graphc as tf
from graphc.core import checksums
from graphc.core import wire
from graphc.train import sstable, tensor_bundle

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "tf_checkpoint"
TF_INDEX = (DATA / "dnn.ckpt-30.index").read_bytes()


# -- wire format -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31, 2**63 - 1])
def test_varints_round_trip(value):
    encoded = wire.encode_varint(value)
    assert wire.decode_varint(b"x" + encoded, 1) == (value, 1 + len(encoded))


def test_negative_varints_are_ten_byte_twos_complement():
    assert wire.encode_varint(-1) == b"\xff" * 9 + b"\x01"
    assert wire.signed64(wire.decode_varint(wire.encode_varint(-5), 0)[0]) == -5


def test_malformed_messages_are_value_errors():
    with pytest.raises(ValueError, match="runs past the end"):
        wire.decode_varint(b"\x80\x80", 0)
    with pytest.raises(ValueError, match="longer than 10 bytes"):
        wire.decode_varint(b"\xff" * 11, 0)
    with pytest.raises(ValueError, match="field 2 of 5 bytes runs past the end"):
        list(wire.fields(b"\x12\x05ab"))
    with pytest.raises(ValueError, match="unsupported wire type 3"):
        list(wire.fields(b"\x0b"))


# -- the table -------------------------------------------------------------------------------------


def test_tfs_index_reads_and_is_written_back_byte_for_byte():
    entries = sstable.read_table(TF_INDEX)
    assert [key for key, _ in entries][:3] == [b"", b"extras/counts", b"extras/flags"]
    assert sstable.build_table(entries) == TF_INDEX


def test_a_table_of_many_blocks_round_trips():
    entries = [(b"tensor/%05d" % i, bytes([i % 256]) * (i % 700)) for i in range(2000)]
    table = sstable.build_table(entries)
    assert len(table) > 2 * sstable.BLOCK_BYTES
    assert sstable.read_table(table) == entries


def test_unsorted_keys_are_refused():
    with pytest.raises(ValueError, match="unique and sorted"):
        sstable.build_table([(b"b", b""), (b"a", b"")])


def test_every_flipped_byte_of_an_index_is_data_loss(tmp_path):
    (tmp_path / "m.data-00000-of-00001").write_bytes((DATA / "dnn.ckpt-30.data-00000-of-00001").read_bytes())
    undetected = []
    for position in range(len(TF_INDEX)):
        damaged = bytearray(TF_INDEX)
        damaged[position] ^= 0x01
        (tmp_path / "m.index").write_bytes(bytes(damaged))
        try:
            with tensor_bundle.BundleReader(str(tmp_path / "m")) as reader:
                for name in reader.entries:
                    reader.read(name)
        except tf.errors.DataLossError as e:
            assert "m.index is damaged" in str(e), (position, str(e))
        else:
            undetected.append(position)
    # Only the footer's zero padding goes unchecked, as in TensorFlow; the tensors still verify.
    assert set(undetected) <= set(range(len(TF_INDEX) - 48, len(TF_INDEX) - 8))


def test_every_truncation_of_an_index_is_data_loss(tmp_path):
    (tmp_path / "m.data-00000-of-00001").write_bytes((DATA / "dnn.ckpt-30.data-00000-of-00001").read_bytes())
    for length in range(len(TF_INDEX)):
        (tmp_path / "m.index").write_bytes(TF_INDEX[:length])
        with pytest.raises(tf.errors.DataLossError, match="m.index is damaged"):
            tensor_bundle.BundleReader(str(tmp_path / "m"))


# -- the bundle ------------------------------------------------------------------------------------


def test_every_numpy_dtype_tf_has_round_trips(tmp_path):
    tensors = {name: np.arange(6).astype(name).reshape(2, 3) for name in
               ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "complex64", "complex128", "bool")}
    tensors["scalar"], tensors["empty"] = np.float32(2.5), np.zeros((0, 4), np.float32)
    prefix = str(tmp_path / "all")
    tensor_bundle.write_bundle(prefix, tensors)
    with tensor_bundle.BundleReader(prefix) as reader:
        assert sorted(reader.entries) == sorted(tensors)
        for name, value in tensors.items():
            read = reader.read(name)
            assert read.dtype == np.asarray(value).dtype and read.shape == np.shape(value), name
            np.testing.assert_array_equal(read, value)


def test_types_tf_has_and_numpy_lacks_are_listed_but_not_read(tmp_path):
    entry = wire.varint_field(1, 7) + wire.bytes_field(2, b"") + wire.varint_field(5, 9) + wire.fixed32_field(6, 0)
    header = wire.varint_field(1, 1) + wire.bytes_field(3, wire.varint_field(1, 1))
    (tmp_path / "s.index").write_bytes(sstable.build_table([(b"", header), (b"text", entry)]))
    (tmp_path / "s.data-00000-of-00001").write_bytes(bytes(9))
    with tensor_bundle.BundleReader(str(tmp_path / "s")) as reader:
        assert reader.entries["text"].type_name == "string"
        with pytest.raises(tf.errors.UnimplementedError, match="'text' .* has dtype string"):
            reader.read("text")


def bundle_entry(dtype_enum, shape, shard, offset, data: bytes) -> bytes:
    """A BundleEntryProto, encoded as TensorFlow's BundleWriter encodes it."""
    shape_proto = b"".join(wire.bytes_field(2, wire.varint_field(1, size)) for size in shape)
    return (wire.varint_field(1, dtype_enum) + wire.bytes_field(2, shape_proto) + wire.varint_field(3, shard)
            + wire.varint_field(4, offset) + wire.varint_field(5, len(data))
            + wire.fixed32_field(6, checksums.masked_crc32c(data)))


def test_a_checkpoint_of_two_shards_reads_each_tensor_from_its_shard(tmp_path):
    a, b = np.arange(3, dtype=np.float32), np.array([7, 8], np.int64)
    header = wire.varint_field(1, 2) + wire.bytes_field(3, wire.varint_field(1, 1))
    entries = [(b"", header), (b"a", bundle_entry(1, [3], 0, 4, a.tobytes())),
               (b"b", bundle_entry(9, [2], 1, 0, b.tobytes()))]
    (tmp_path / "s.index").write_bytes(sstable.build_table(entries))
    (tmp_path / "s.data-00000-of-00002").write_bytes(b"pad!" + a.tobytes())
    (tmp_path / "s.data-00001-of-00002").write_bytes(b.tobytes())
    with tensor_bundle.BundleReader(str(tmp_path / "s")) as reader:
        np.testing.assert_array_equal(reader.read("a"), a)
        np.testing.assert_array_equal(reader.read("b"), b)
    (tmp_path / "s.data-00001-of-00002").unlink()
    with pytest.raises(tf.errors.DataLossError, match="s.data-00001-of-00002 is missing \\(it holds tensor 'b'\\)"):
        tensor_bundle.BundleReader(str(tmp_path / "s"))


def test_unsupported_dtype_cannot_be_saved(tmp_path):
    with pytest.raises(tf.errors.UnimplementedError, match="tensor 'words' of dtype <U1"):
        tensor_bundle.write_bundle(str(tmp_path / "x"), {"words": np.array(["a"])})


def test_missing_index_is_not_found(tmp_path):
    with pytest.raises(tf.errors.NotFoundError, match="absent.index not found"):
        tensor_bundle.BundleReader(str(tmp_path / "absent"))
