"""Saver.restore reads a checkpoint's header first and then only the tensors it restores.

A header declaring a 3 GiB tensor must fail without allocating it, a huge tensor
that is not restored must never be read, and a graph/checkpoint mismatch must be
TF1's error before any tensor is read. Memory and bytes read are measured in a
child process, with its address space capped so that a regression fails instead
of taking the machine's memory. Peak RSS is the kernel's VmHWM, reset just before
the restore: resource.getrusage's ru_maxrss would start from the parent's peak,
which Linux carries through exec.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import graphc
import graphc as tf
from graphc.train import checkpoint_io
from tests.tf_oracle import tensorflow_answers

HUGE_SHAPE = [805306368]  # float32: 3 GiB
HUGE_BYTES = 3 << 30
# SHA-256 of b"<f4[805306368]" and 3 GiB of zero bytes (checkpoint_io's recipe for a zero tensor of
# HUGE_SHAPE), computed once: hashing 3 GiB takes seconds, and no restore here may read it anyway.
HUGE_ZEROS_SHA256 = "149cd84069f102eb2c250cd0596d39504c6aea56e6ad6fb9ac59dda4e4be58e8"
W_VALUE = np.array([1.0, 2.0, 3.0], np.float32)
MAX_EXTRA_RSS_MIB = 200
MAX_BYTES_READ = 1 << 20


def write_by_hand(path, tensors, pieces, data_size):
    """A graphc checkpoint written byte by byte: `tensors` maps name -> (safetensors dtype, shape, begin,
    end, SHA-256); the data part is `data_size` bytes, zero (a hole, no disk) except the (offset, bytes)
    `pieces`."""
    metadata = {"format": checkpoint_io.FORMAT}
    metadata.update({"sha256:" + name: entry[4] for name, entry in tensors.items()})
    header = {"__metadata__": metadata}
    header.update({name: {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}
                   for name, (dtype, shape, begin, end, _) in tensors.items()})
    text = json.dumps(header).encode()
    with open(path, "wb") as file:
        file.write(len(text).to_bytes(8, "little") + text)
        data_start = file.tell()
        for offset, piece in pieces:
            file.seek(data_start + offset)
            file.write(piece)
        file.truncate(data_start + data_size)


@pytest.fixture
def declares_3_gib(tmp_path):
    """A small file whose header declares a 3 GiB tensor `huge` that it does not hold."""
    prefix = str(tmp_path / "declares")
    write_by_hand(prefix + ".safetensors", {"huge": ("F32", HUGE_SHAPE, 0, HUGE_BYTES, HUGE_ZEROS_SHA256)}, [], 0)
    return prefix


@pytest.fixture
def holds_3_gib(tmp_path):
    """A valid checkpoint holding a 3 GiB zero tensor `huge` (a sparse file) and `w` = [1, 2, 3] after it."""
    prefix = str(tmp_path / "holds")
    tensors = {"huge": ("F32", HUGE_SHAPE, 0, HUGE_BYTES, HUGE_ZEROS_SHA256),
               "w": ("F32", [3], HUGE_BYTES, HUGE_BYTES + 12, checkpoint_io._checksum(W_VALUE))}
    write_by_hand(prefix + ".safetensors", tensors, [(HUGE_BYTES, W_VALUE.tobytes())], HUGE_BYTES + 12)
    return prefix


_CHILD = """
import contextlib, json, os, resource, sys
sys.path.insert(0, sys.argv[1])
import graphc as tf
prefix, variables = sys.argv[2], json.loads(sys.argv[3])
var_list = {key: tf.get_variable(name, shape, initializer=tf.zeros_initializer())
            for key, (name, shape) in variables.items()}
saver, sess = tf.train.Saver(var_list), tf.Session()

def status_bytes(field):
    return int(open("/proc/self/status").read().split(field + ":")[1].split()[0]) * 1024

def bytes_read():
    return int(dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())["rchar"])

resource.setrlimit(resource.RLIMIT_AS, (status_bytes("VmSize") + (1 << 30), resource.RLIM_INFINITY))
with contextlib.suppress(OSError):  # without it, VmHWM is this process's peak since exec: still its own
    with open("/proc/self/clear_refs", "w") as file:
        file.write("5")  # VmHWM := VmRSS
rss_before, read_before = status_bytes("VmRSS"), bytes_read()
try:
    saver.restore(sess, prefix)
    outcome = {}
except Exception as e:
    outcome = {"error": type(e).__name__, "message": str(e)}
outcome["extra_rss_mib"] = (status_bytes("VmHWM") - rss_before) / (1 << 20)
outcome["bytes_read"] = bytes_read() - read_before
if "error" not in outcome:  # after measuring: evaluating compiles a step
    outcome["restored"] = {key: var.eval(sess).tolist() for key, var in var_list.items()}
print(json.dumps(outcome))
"""


def restore_in_child(prefix, variables):
    """Restores `variables` (checkpoint name -> (variable name, shape), float32, zero-initialised) from `prefix`
    in a fresh process: what happened, the peak RSS beyond the RSS before the restore, and the bytes read."""
    package_parent = str(pathlib.Path(graphc.__file__).resolve().parent.parent)
    result = subprocess.run([sys.executable, "-c", _CHILD, package_parent, prefix, json.dumps(variables)],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_header_declaring_3_gib_is_data_loss_without_allocating_it(declares_3_gib):
    outcome = restore_in_child(declares_3_gib, {"huge": ("huge", HUGE_SHAPE)})
    assert outcome["error"] == "DataLossError", outcome
    assert "declares.safetensors is damaged: its header declares 3221225472 bytes of tensor data but the file " \
           "holds 0" in outcome["message"]
    assert outcome["extra_rss_mib"] < MAX_EXTRA_RSS_MIB, outcome
    assert outcome["bytes_read"] < MAX_BYTES_READ, outcome


def test_huge_tensor_not_restored_is_never_read(holds_3_gib):
    outcome = restore_in_child(holds_3_gib, {"w": ("w", [3])})
    assert outcome["restored"] == {"w": [1.0, 2.0, 3.0]}, outcome
    assert outcome["extra_rss_mib"] < MAX_EXTRA_RSS_MIB, outcome
    assert outcome["bytes_read"] < MAX_BYTES_READ, outcome


def test_restoring_a_tensor_larger_than_memory_is_resource_exhausted(holds_3_gib):
    outcome = restore_in_child(holds_3_gib, {"huge": ("huge", HUGE_SHAPE)})  # the child may not map 3 GiB more
    assert outcome["error"] == "ResourceExhaustedError", outcome
    assert "OOM when allocating tensor 'huge' of checkpoint " in outcome["message"]
    assert "holds.safetensors: 3221225472 bytes (float32 [805306368])" in outcome["message"]
    assert outcome["extra_rss_mib"] < MAX_EXTRA_RSS_MIB, outcome


@pytest.mark.parametrize("variables, error, message", [
    ({"w": ("w", [3]), "absent": ("absent", [3])}, "NotFoundError", "Key absent not found in checkpoint"),
    ({"w": ("w", [3]), "huge": ("small", [4])}, "InvalidArgumentError",
     "Assign requires shapes of both tensors to match. lhs shape= [4] rhs shape= [805306368]"),
])
def test_mismatch_beside_a_huge_tensor_fails_before_reading_anything(holds_3_gib, variables, error, message):
    outcome = restore_in_child(holds_3_gib, variables)
    assert outcome["error"] == error and message in outcome["message"], outcome
    assert outcome["extra_rss_mib"] < MAX_EXTRA_RSS_MIB, outcome
    assert outcome["bytes_read"] < MAX_BYTES_READ, outcome


def bytes_read_by_this_process():
    return int(dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())["rchar"])


def test_inspect_checkpoint_reads_only_the_header(holds_3_gib, capsys):
    from graphc.tools import cli  # here, not above: the TF oracle's child imports this module, and cli loads LLVM

    before = bytes_read_by_this_process()
    assert cli.main(["inspect-checkpoint", holds_3_gib]) == 0
    assert bytes_read_by_this_process() - before < MAX_BYTES_READ
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{holds_3_gib}.safetensors: 2 tensors (header checked; --values to read and verify them)"
    assert [line.split() for line in lines[1:]] == [["huge", "float32", "[805306368]", "3221225472", "bytes"],
                                                    ["w", "float32", "[3]", "12", "bytes"]]


# -- damaged headers: DataLossError naming the file, before anything is allocated -------------


@pytest.mark.parametrize("tensors, data_size, reason", [
    ({"w": ("F32", [3], 0, 16, "0")}, 16, "tensor 'w' of dtype F32 and shape [3] should have 12 bytes"),
    ({"w": ("F32", [3], 0, 12, "0"), "v": ("F32", [3], 8, 20, "0")}, 20, "tensor 'v' starts at byte 8"),
    ({"w": ("F32", [3], 4, 16, "0")}, 16, "tensor 'w' starts at byte 4 of the data, expected 0"),
    ({"w": ("F32", [3], 0, 12, "0")}, 20, "declares 12 bytes of tensor data but the file holds 20"),
    ({"w": ("F32", [-3], 0, 12, "0")}, 12, "tensor 'w' has the shape [-3]"),
    ({"w": ("F32", [True], 0, 4, "0")}, 4, "tensor 'w' has the shape [True]"),
    ({"w": ("BF99", [3], 0, 12, "0")}, 12, "tensor 'w' has the unknown dtype 'BF99'"),
])
def test_inconsistent_header_is_data_loss(tmp_path, tensors, data_size, reason):
    path = str(tmp_path / "bad.safetensors")
    write_by_hand(path, tensors, [], data_size)
    with pytest.raises(tf.errors.DataLossError, match="bad.safetensors is damaged") as caught:
        checkpoint_io.CheckpointReader(path)
    assert reason in caught.value.message


def test_header_length_beyond_the_file_is_data_loss(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes((1 << 62).to_bytes(8, "little") + b"{}")
    with pytest.raises(tf.errors.DataLossError, match="declares a header of 4611686018427387904 bytes in a file "
                                                      "of 10 bytes"):
        checkpoint_io.CheckpointReader(str(path))


# -- TF's errors for a graph that does not match the checkpoint --------------------------------


def _restore(make_var_list):
    """build(tf) for the oracle: saves hidden1/biases [3] float32 and global_step int64, restores
    `make_var_list(tf)` into a new graph."""
    def build(tf):
        directory = tempfile.mkdtemp()
        try:
            with tf.Graph().as_default():
                saved = [tf.Variable(tf.zeros([3]), name="hidden1/biases"),
                         tf.Variable(np.int64(42), name="global_step")]
                with tf.Session() as sess:
                    sess.run(tf.global_variables_initializer())
                    prefix = tf.train.Saver(saved).save(sess, os.path.join(directory, "model.ckpt"))
            with tf.Graph().as_default():
                var_list = make_var_list(tf)
                with tf.Session() as sess:
                    tf.train.Saver(var_list).restore(sess, prefix)
            return "restored"
        finally:
            shutil.rmtree(directory)
    return build


# name -> (build, TF's class, text in TF's message and graphc's). TF 2.21 gives these classes and texts.
MISMATCHES = {
    "missing variable": (_restore(lambda tf: [tf.Variable(tf.zeros([3]), name="absent")]),
                         "NotFoundError", "Key absent not found in checkpoint"),
    "missing checkpoint name": (_restore(lambda tf: {"nope": tf.Variable(0.0, name="v")}),
                                "NotFoundError", "Key nope not found in checkpoint"),
    "other length": (_restore(lambda tf: [tf.Variable(tf.zeros([4]), name="hidden1/biases")]),
                     "InvalidArgumentError",
                     "Assign requires shapes of both tensors to match. lhs shape= [4] rhs shape= [3]"),
    "other rank": (_restore(lambda tf: [tf.Variable(tf.zeros([3, 1]), name="hidden1/biases")]),
                   "InvalidArgumentError",
                   "Assign requires shapes of both tensors to match. lhs shape= [3,1] rhs shape= [3]"),
    "other float dtype": (_restore(lambda tf: [tf.Variable(tf.zeros([3], tf.float64), name="hidden1/biases")]),
                          "InvalidArgumentError",
                          "tensor_name = hidden1/biases; expected dtype double does not equal original dtype float"),
    "other int dtype": (_restore(lambda tf: [tf.Variable(tf.zeros([], tf.int32), name="global_step")]),
                        "InvalidArgumentError",
                        "tensor_name = global_step; expected dtype int32 does not equal original dtype int64"),
}


@pytest.mark.parametrize("name", sorted(MISMATCHES))
def test_mismatch_is_tf_error(name):
    build, error, text = MISMATCHES[name]
    with pytest.raises(getattr(tf.errors, error)) as caught:
        build(tf)
    assert text in caught.value.message


def test_tensorflow_gives_the_same_errors():
    answers = tensorflow_answers(__file__, "MISMATCHES")
    for name, (_, error, text) in MISMATCHES.items():
        assert answers[name][0] == error and text in answers[name][1], (name, answers[name])
