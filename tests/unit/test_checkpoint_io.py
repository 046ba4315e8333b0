"""Checkpoint files: checksummed safetensors data, the TF1 state file, atomic writes (no sessions)."""

import os

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import graphc as tf
from graphc.train import checkpoint_io


def sample_tensors():
    return {"hidden1/weights": np.arange(6, dtype=np.float32).reshape(2, 3), "global_step": np.array(5, np.int64),
            "flags": np.array([True, False]), "counts": np.array([-1, 2], np.int32),
            "scale": np.array([1.5], np.float64), "nothing": np.zeros((0, 3), np.float32)}


@pytest.fixture
def written(tmp_path):
    prefix = str(tmp_path / "model.ckpt-5")
    checkpoint_io.write_checkpoint(prefix, sample_tensors())
    return checkpoint_io.data_file(prefix)


def assert_same_tensors(actual, expected):
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        assert actual[name].dtype == value.dtype and actual[name].shape == value.shape, name
        np.testing.assert_array_equal(actual[name], value)


def test_round_trip_of_every_dtype_and_rank(written):
    assert written.endswith("model.ckpt-5.safetensors")
    assert_same_tensors(checkpoint_io.read_tensors(written), sample_tensors())


def test_data_file_is_plain_safetensors_with_checksums_in_metadata(written):
    assert_same_tensors(safetensors.numpy.load_file(written), sample_tensors())
    with safetensors.safe_open(written, framework="numpy") as file:
        metadata = file.metadata()
    assert metadata["format"] == checkpoint_io.FORMAT
    assert {key for key in metadata if key.startswith("sha256:")} == {"sha256:" + n for n in sample_tensors()}
    assert all(len(metadata["sha256:" + n]) == 64 for n in sample_tensors())


def test_missing_file_is_not_found(tmp_path):
    path = str(tmp_path / "absent.safetensors")
    with pytest.raises(tf.errors.NotFoundError, match="absent.safetensors"):
        checkpoint_io.read_tensors(path)


def test_every_truncation_is_data_loss(written):
    data = open(written, "rb").read()
    for length in range(len(data)):
        with open(written, "wb") as file:
            file.write(data[:length])
        with pytest.raises(tf.errors.DataLossError, match="model.ckpt-5.safetensors"):
            checkpoint_io.read_tensors(written)


def test_every_single_bit_flip_is_data_loss(tmp_path):
    """Header, metadata, checksums and tensor bytes: no flipped bit ever reads back silently."""
    written = checkpoint_io.data_file(str(tmp_path / "small"))
    checkpoint_io.write_checkpoint(str(tmp_path / "small"), {
        "w": np.arange(3, dtype=np.float32), "step": np.array(5, np.int64), "flags": np.array([True, False])})
    data = open(written, "rb").read()
    for position in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[position] ^= 1 << bit
            with open(written, "wb") as file:
                file.write(damaged)
            with pytest.raises(tf.errors.DataLossError):
                checkpoint_io.read_tensors(written)


def test_flipped_tensor_byte_names_the_tensor(written):
    data = bytearray(open(written, "rb").read())
    data[data.find(sample_tensors()["hidden1/weights"].tobytes()) + 5] ^= 0x10
    with open(written, "wb") as file:
        file.write(data)
    with pytest.raises(tf.errors.DataLossError, match="tensor 'hidden1/weights' fails its SHA-256 checksum"):
        checkpoint_io.read_tensors(written)


def test_appended_bytes_are_data_loss(written):
    with open(written, "ab") as file:
        file.write(b"\0" * 8)
    with pytest.raises(tf.errors.DataLossError):
        checkpoint_io.read_tensors(written)


def test_safetensors_file_without_checksums_is_refused(tmp_path):
    path = str(tmp_path / "foreign.safetensors")
    safetensors.numpy.save_file({"w": np.ones(3, np.float32)}, path)
    with pytest.raises(tf.errors.DataLossError, match="not a graphc checkpoint"):
        checkpoint_io.read_tensors(path)


def test_delete_checkpoint_is_idempotent(written, tmp_path):
    prefix = str(tmp_path / "model.ckpt-5")
    checkpoint_io.delete_checkpoint(prefix)
    checkpoint_io.delete_checkpoint(prefix)
    assert not os.path.exists(written)


# -- the state file ---------------------------------------------------------------------------


def test_state_file_is_tf1_text_format(tmp_path):
    path = str(tmp_path / "checkpoint")
    checkpoint_io.write_state(path, checkpoint_io.CheckpointState("model.ckpt-20", ["model.ckpt-10", "model.ckpt-20"]))
    assert open(path).read() == ('model_checkpoint_path: "model.ckpt-20"\n'
                                 'all_model_checkpoint_paths: "model.ckpt-10"\n'
                                 'all_model_checkpoint_paths: "model.ckpt-20"\n')
    state = checkpoint_io.read_state(path)
    assert state == checkpoint_io.CheckpointState("model.ckpt-20", ["model.ckpt-10", "model.ckpt-20"])


def test_state_file_quotes_any_path(tmp_path):
    path = str(tmp_path / "checkpoint")
    odd = 'dir "quoted"\\back\nline\ttab\x01 ünï'
    checkpoint_io.write_state(path, checkpoint_io.CheckpointState(odd, [odd]))
    assert len(open(path, encoding="utf-8").read().splitlines()) == 2
    assert checkpoint_io.read_state(path) == checkpoint_io.CheckpointState(odd, [odd])


def test_state_file_written_by_tf1_parses(tmp_path):
    path = tmp_path / "checkpoint"
    path.write_text('model_checkpoint_path: "/abs/model.ckpt-2"\n'
                    'all_model_checkpoint_paths: "/abs/model.ckpt-1"\n'
                    'all_model_checkpoint_paths: "/abs/model.ckpt-2"\n'
                    "all_model_checkpoint_timestamps: 1565000000.25\n"
                    "last_preserved_timestamp: 1564999999.5\n"
                    'model_checkpoint_path: "caf\\303\\251\\\\x"\n')
    state = checkpoint_io.read_state(str(path))
    assert state.model_checkpoint_path == "caf\u00e9\\x"
    assert state.all_model_checkpoint_paths == ["/abs/model.ckpt-1", "/abs/model.ckpt-2"]


def test_missing_state_file_is_none_and_garbage_names_the_file(tmp_path):
    assert checkpoint_io.read_state(str(tmp_path / "checkpoint")) is None
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "a"\nthis is not a state file\n')
    with pytest.raises(ValueError, match="checkpoint:2"):
        checkpoint_io.read_state(str(tmp_path / "checkpoint"))


# -- atomic writes ----------------------------------------------------------------------------


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / "file")
    checkpoint_io.atomic_write(path, b"old")
    checkpoint_io.atomic_write(path, b"new")
    assert open(path, "rb").read() == b"new"
    assert os.listdir(tmp_path) == ["file"]


def test_failed_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / "file")
    checkpoint_io.atomic_write(path, b"old")

    def failing_fsync(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        checkpoint_io.atomic_write(path, b"new")
    assert open(path, "rb").read() == b"old"
    assert os.listdir(tmp_path) == ["file"]


def test_atomic_write_honours_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        checkpoint_io.atomic_write(str(tmp_path / "file"), b"x")
    finally:
        os.umask(previous)
    assert os.stat(tmp_path / "file").st_mode & 0o777 == 0o640
