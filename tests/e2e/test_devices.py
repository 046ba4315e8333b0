"""`tf.device`, `tf.DeviceSpec` and the ConfigProto's placement fields, as TensorFlow 2.21 (compat.v1) does
them on a machine without a GPU.

Each `build(tf)` of the table runs here with graphc and, in the oracle test, with
TensorFlow itself (when it is installed); the table pins TF's answer as a literal.
Placement failures are compared by their class and their first line, TF's
"Cannot assign a device for operation ..." text (TF 2 puts a traceback summary
before it and each framework its own `[[node]]` line after it).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

import pytest

import graphc as tf
from graphc import errors
from tests.tf_oracle import table_tests


def _stdout_of(run):
    """(run(), what it printed): on file descriptor 1, where TF's placer prints with C's printf, or on
    sys.stdout, where graphc prints."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+") as captured:
        os.dup2(captured.fileno(), 1)
        try:
            with contextlib.redirect_stdout(captured):
                result = run()
        finally:
            captured.flush()
            os.dup2(saved, 1)
            os.close(saved)
        captured.seek(0)
        return result, captured.read().splitlines()


def _placed(tf, device, soft=False, cpus=1, log=False):
    """Runs `identity(a)` placed on `device`: its value, or the failure's class and placement line; and what
    log_device_placement printed."""
    a = tf.constant(1.5, name="a")
    with tf.device(device):
        b = tf.identity(a, name="b")
    config = tf.ConfigProto(allow_soft_placement=soft, log_device_placement=log, device_count={"CPU": cpus})

    def run():
        try:
            with tf.Session(config=config) as sess:
                return float(sess.run(b))
        except Exception as e:
            return type(e).__name__, re.search(r"Cannot assign a device.*|No CPU devices.*", str(e))[0]

    return _stdout_of(run)


def _devices(tf):
    """op.device, tensor.device and NodeDef.device under nested scopes, None, "" and a device function."""
    a = tf.constant(1.0, name="a")
    with tf.device("/job:worker/task:0"):
        with tf.device("/gpu:0"):
            b = tf.identity(a, name="b")
        with tf.device("/device:GPU:1"):
            with tf.device("/cpu:1"):
                c = tf.identity(b, name="c")
            with tf.device("/replica:2"):
                d = tf.identity(b, name="d")
            with tf.device(None):
                e = tf.identity(b, name="e")
            with tf.device(""):
                f = tf.identity(b, name="f")
    with tf.device("GPU:0"):
        g = tf.identity(a, name="g")
    with tf.device(lambda op: "/cpu:0" if op.type == "Identity" else "/gpu:0"):
        h = tf.identity(a, name="h")
        i = tf.constant(2.0, name="i")
    with tf.device("/job:ps"):
        with tf.device(lambda op: "/gpu:1"):
            j = tf.identity(a, name="j")
    with tf.device(tf.DeviceSpec(device_type="CPU", device_index=0)):
        k = tf.identity(a, name="k")
    tensors = [a, b, c, d, e, f, g, h, i, j, k]
    nodes = {node.name: node.device for node in tf.get_default_graph().as_graph_def().node}
    return [(t.op.name, t.op.device, t.device, nodes[t.op.name]) for t in tensors]


def _spec(tf, text):
    try:
        return tf.DeviceSpec.from_string(text).to_string()
    except ValueError as e:
        return "ValueError", str(e)


def _merged(tf):
    spec = tf.DeviceSpec.from_string("/job:ps/task:1")
    merged = spec.make_merged_spec(tf.DeviceSpec.from_string("/device:GPU:2"))
    return merged.to_string(), spec.to_string(), merged.job, merged.task, merged.device_type, merged.device_index


_CANNOT = ("Cannot assign a device for operation b: {{node b}} was explicitly assigned to %s but available devices "
           "are [ /job:localhost/replica:0/task:0/device:CPU:0 ]. Make sure the device specification refers to a "
           "valid device.")
_CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"

def _unplaceable_op_elsewhere(tf):
    """A run that does not need the op on a GPU still fails: TF places the session's whole graph."""
    a = tf.constant(2.0, name="a")
    with tf.device("/gpu:0"):
        tf.identity(a, name="on_gpu")
    with tf.Session() as sess:
        try:
            return float(sess.run(a))
        except tf.errors.InvalidArgumentError as e:
            return type(e).__name__, re.search(r"Cannot assign a device for operation \w+", str(e))[0]


def _placement_as_the_graph_grows(tf):
    """What log_device_placement prints: every op, when a session first runs and when its graph has grown."""
    a = tf.constant(2.0, name="a")
    x = tf.placeholder(tf.float32, [], name="x")
    v = tf.Variable(1.0, name="v")
    total = tf.add(a, x, name="total")
    with tf.Session(config=tf.ConfigProto(log_device_placement=True)) as sess:
        first = _stdout_of(lambda: [float(sess.run(total, {x: 1.0})), float(sess.run(a))])
        tf.identity(v, name="later")
        grown = _stdout_of(lambda: float(sess.run(a)))
    return first, grown


def _listed_devices(tf):
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        return [(d.name, d.device_type, d.memory_limit_bytes, type(d.incarnation).__name__, repr(d).split(",")[0])
                for d in sess.list_devices()]


# name -> (build(tf), TF 2.21's answer).
DEVICES = {
    "list_devices": (_listed_devices, [
        (_CPU0, "CPU", 268435456, "int", f"_DeviceAttributes({_CPU0}"),
        ("/job:localhost/replica:0/task:0/device:CPU:1", "CPU", 268435456, "int",
         "_DeviceAttributes(/job:localhost/replica:0/task:0/device:CPU:1")]),
    "an unplaceable op fails every run": (_unplaceable_op_elsewhere, (
        "InvalidArgumentError", "Cannot assign a device for operation on_gpu")),
    "placement logged as the graph grows": (_placement_as_the_graph_grows, (
        ([3.0, 2.0], [f"v: (VariableV2): {_CPU0}", f"v/Assign: (Assign): {_CPU0}", f"v/read: (Identity): {_CPU0}",
                      f"total: (AddV2): {_CPU0}", f"a: (Const): {_CPU0}", f"x: (Placeholder): {_CPU0}",
                      f"v/initial_value: (Const): {_CPU0}"]),
        (2.0, [f"v: (VariableV2): {_CPU0}", f"v/Assign: (Assign): {_CPU0}", f"v/read: (Identity): {_CPU0}",
               f"total: (AddV2): {_CPU0}", f"later: (Identity): {_CPU0}", f"a: (Const): {_CPU0}",
               f"x: (Placeholder): {_CPU0}", f"v/initial_value: (Const): {_CPU0}"]))),
    "scopes, functions and NodeDef.device": (_devices, [
        ("a", "", "", ""),
        ("b", "/job:worker/task:0/device:GPU:0", "/job:worker/task:0/device:GPU:0", "/job:worker/task:0/device:GPU:0"),
        ("c", "/job:worker/task:0/device:CPU:1", "/job:worker/task:0/device:CPU:1", "/job:worker/task:0/device:CPU:1"),
        ("d", "/job:worker/replica:2/task:0/device:GPU:1", "/job:worker/replica:2/task:0/device:GPU:1",
         "/job:worker/replica:2/task:0/device:GPU:1"),
        ("e", "", "", ""),
        ("f", "/job:worker/task:0/device:GPU:1", "/job:worker/task:0/device:GPU:1", "/job:worker/task:0/device:GPU:1"),
        ("g", "/device:GPU:0", "/device:GPU:0", "/device:GPU:0"),
        ("h", "/cpu:0", "/cpu:0", "/cpu:0"),
        ("i", "/gpu:0", "/gpu:0", "/gpu:0"),
        ("j", "/job:ps/device:GPU:1", "/job:ps/device:GPU:1", "/job:ps/device:GPU:1"),
        ("k", "/device:CPU:0", "/device:CPU:0", "/device:CPU:0")]),
    "spec /device:CPU:0": (lambda tf: _spec(tf, "/device:CPU:0"), "/device:CPU:0"),
    "spec cpu": (lambda tf: _spec(tf, "cpu"), "/device:CPU:*"),
    "spec /CPU:0": (lambda tf: _spec(tf, "/CPU:0"), "/device:CPU:0"),
    "spec gpu:0/job:x": (lambda tf: _spec(tf, "gpu:0/job:x"), "/job:x/device:GPU:0"),
    "spec a full name": (lambda tf: _spec(tf, "/job:ps/replica:0/task:1/device:GPU:2"),
                         "/job:ps/replica:0/task:1/device:GPU:2"),
    "spec of an unknown field": (lambda tf: _spec(tf, "/foo:1"), (
        "ValueError", "Unknown attribute 'foo' is encountered while parsing the device spec: '/foo:1'.")),
    "spec of two device types": (lambda tf: _spec(tf, "/cpu:0/gpu:0"), (
        "ValueError", "Multiple device types are not allowed while parsing the device spec: /cpu:0/gpu:0.")),
    "merged specs": (_merged, ("/job:ps/task:1/device:GPU:2", "/job:ps/task:1", "ps", 1, "GPU", 2)),
    # -- placement at Session.run -------------------------------------------------------------------------
    "/gpu:0 without soft placement": (lambda tf: _placed(tf, "/gpu:0"), (
        ("InvalidArgumentError", _CANNOT % "/device:GPU:0" + " The requested device appears to be a GPU, but "
                                                              "CUDA is not enabled."), [])),
    "/device:GPU:0 with soft placement, logged": (lambda tf: _placed(tf, "/device:GPU:0", soft=True, log=True), (
        1.5, [f"b: (Identity): {_CPU0}", f"a: (Const): {_CPU0}"])),
    "/cpu:1 without soft placement": (lambda tf: _placed(tf, "/cpu:1"), (
        ("InvalidArgumentError", _CANNOT % "/device:CPU:1"), [])),
    "/cpu:1 with soft placement": (lambda tf: _placed(tf, "/cpu:1", soft=True), (1.5, [])),
    "/cpu:0, logged": (lambda tf: _placed(tf, "/cpu:0", log=True), (
        1.5, [f"b: (Identity): {_CPU0}", f"a: (Const): {_CPU0}"])),
    "/cpu:1 of two CPU devices, logged": (lambda tf: _placed(tf, "/cpu:1", cpus=2, log=True), (
        1.5, ["b: (Identity): /job:localhost/replica:0/task:0/device:CPU:1",
              "a: (Const): /job:localhost/replica:0/task:0/device:CPU:1"])),
    "/cpu:2 of two CPU devices": (lambda tf: _placed(tf, "/cpu:2", cpus=2)[0], (
        "InvalidArgumentError", _CANNOT.replace("CPU:0 ]", "CPU:0, /job:localhost/replica:0/task:0/device:CPU:1 ]")
        % "/device:CPU:2")),
    "/job:worker/task:0 even with soft placement": (lambda tf: _placed(tf, "/job:worker/task:0", soft=True), (
        ("InvalidArgumentError", _CANNOT % "/job:worker/task:0"), [])),
    "/replica:1 even with soft placement": (lambda tf: _placed(tf, "/replica:1", soft=True)[0], (
        "InvalidArgumentError", _CANNOT % "/replica:1")),
    "the local job's CPU by its full name": (lambda tf: _placed(tf, _CPU0)[0], 1.5),
    "/device:TPU:0 without soft placement": (lambda tf: _placed(tf, "/device:TPU:0")[0], (
        "InvalidArgumentError", _CANNOT % "/device:TPU:0")),
    "no CPU device": (lambda tf: _placed(tf, "", cpus=0)[0], (
        "NotFoundError", "No CPU devices are available in this process")),
}


test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "DEVICES", DEVICES)


def test_config_must_be_a_config_proto():
    with pytest.raises(TypeError, match="config must be a tf.ConfigProto, but got <class 'dict'>"):
        tf.Session(config={"allow_soft_placement": True})


def test_gpu_options_and_device_count_are_accepted():
    gpu_options = tf.GPUOptions(allow_growth=True, per_process_gpu_memory_fraction=0.5)
    config = tf.ConfigProto(gpu_options=gpu_options, device_count={"GPU": 0}, inter_op_parallelism_threads=2)
    config.gpu_options.allow_growth = False
    with tf.Session(config=config) as sess:
        assert sess.run(tf.constant(3.0) + 1.0) == 4.0


def test_intra_op_threads_size_the_thread_pool():
    from graphc.runtime import loader

    x = tf.constant([1.0, 2.0])
    try:
        with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=1)) as sess:
            sess.run(x * 2.0)
            assert loader.num_threads() == 1
        with tf.InteractiveSession(config=tf.ConfigProto(intra_op_parallelism_threads=3)) as sess:
            assert (x * 3.0).eval().tolist() == [3.0, 6.0]
            assert loader.num_threads() == 3
    finally:
        loader.set_num_threads(0)


def test_a_placement_failure_names_the_op():
    a = tf.constant(2.0, name="a")
    with tf.device("/gpu:0"):
        on_gpu = tf.identity(a, name="on_gpu")
    with tf.Session() as sess:
        for _ in range(2):  # every run: the graph stays unplaceable
            with pytest.raises(errors.InvalidArgumentError) as failure:
                sess.run(a)
            assert failure.value.op is on_gpu.op
