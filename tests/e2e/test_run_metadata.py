"""`sess.run(..., options=tf.RunOptions(trace_level=FULL_TRACE), run_metadata=md)` fills `md.step_stats` with
the compiled kernels' timings, and `FileWriter.add_run_metadata` writes it where TensorBoard finds it.

TF 2.21 (the oracle, when installed) reports one NodeExecStats per op on the
host's CPU device; graphc reports one per kernel, naming the ops it computes:
the table compares the device and the ops the stats mention.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

import graphc as tf
from tests.tf_oracle import table_tests

_CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"


def _model(tf):
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    w = tf.Variable(tf.ones([4, 3]), name="w")
    h = tf.nn.relu(tf.matmul(x, w) + 1.0, name="h")
    return x, w, tf.reduce_sum(h, name="loss")


def _traced(tf):
    x, _, loss = _model(tf)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        metadata = tf.RunMetadata()
        value = sess.run(loss, {x: np.ones((5, 4), np.float32)},
                         options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=metadata)
        untraced = tf.RunMetadata()
        sess.run(loss, {x: np.ones((5, 4), np.float32)}, run_metadata=untraced)
    mentioned = {word for device in metadata.step_stats.dev_stats for node in device.node_stats
                 for word in re.split(r"[^\w/]+", f"{node.node_name} {node.timeline_label}")}
    return (float(value), [device.device for device in metadata.step_stats.dev_stats],
            sorted(mentioned & {"MatMul", "add", "h", "loss"}), untraced.ByteSize())


# name -> (build(tf), TF 2.21's answer).
TRACES = {"a traced run": (_traced, (75.0, [_CPU0], ["MatMul", "add", "h", "loss"], 0))}


test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "TRACES", TRACES)


def _trained(traced: bool):
    """(loss, w after one step, the RunMetadata) of a training step, traced or not."""
    with tf.Graph().as_default():
        x, w, loss = _model(tf)
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        metadata = tf.RunMetadata()
        options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE) if traced else None
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            _, value = sess.run([train, loss], {x: np.arange(20, dtype=np.float32).reshape(5, 4)}, options=options,
                                run_metadata=metadata)
            return value, sess.run(w), metadata


def test_a_traced_training_step_computes_what_an_untraced_one_does_and_times_each_kernel():
    started = time.time()
    loss, weights, metadata = _trained(traced=True)
    ended = time.time()
    plain_loss, plain_weights, plain_metadata = _trained(traced=False)
    assert loss == plain_loss
    np.testing.assert_array_equal(weights, plain_weights)
    assert plain_metadata.ByteSize() == 0
    (device,) = metadata.step_stats.dev_stats
    assert device.device == _CPU0
    nodes = list(device.node_stats)
    assert len(nodes) >= 3  # at least the forward GEMM, the loss's reduction, the update
    starts = [node.all_start_nanos for node in nodes]
    assert starts == sorted(starts) and started * 1e9 <= starts[0] and starts[-1] <= ended * 1e9
    for node in nodes:
        kind, _, ops = node.timeline_label.partition(" kernel: ")
        assert kind and node.node_name == ops.split(", ")[0]
        assert node.all_start_micros == node.all_start_nanos // 1000
        assert node.op_end_rel_nanos == node.all_end_rel_nanos >= 0
    covered = {op for node in nodes for op in node.timeline_label.partition(" kernel: ")[2].split(", ")}
    assert {"MatMul", "loss", "GradientDescent/update_w/ApplyGradientDescent"} <= covered


def test_run_options_other_than_a_trace_change_nothing_and_must_be_run_options():
    with tf.Session() as sess:
        metadata = tf.RunMetadata()
        assert sess.run(tf.constant(2.0) * 3.0, options=tf.RunOptions(timeout_in_ms=1000),
                        run_metadata=metadata) == 6.0
        assert metadata.ByteSize() == 0
        with pytest.raises(TypeError, match="options must be a tf.RunOptions"):
            sess.run(tf.constant(1.0), options={"trace_level": 3})


def test_file_writer_writes_run_metadata_that_tensorboard_reads(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    _, _, metadata = _trained(traced=True)
    with tf.summary.FileWriter(str(tmp_path)) as writer:
        writer.add_run_metadata(metadata, "step0", global_step=7)
        with pytest.raises(ValueError, match="The provided tag was already used for this event type"):
            writer.add_run_metadata(metadata, "step0")
    accumulator = event_accumulator.EventAccumulator(str(tmp_path))
    accumulator.Reload()
    assert accumulator.Tags()["run_metadata"] == ["step0"]
    assert accumulator.RunMetadata("step0") == metadata


def test_profile_table_at_exit_names_kernels_of_closed_sessions(tmp_path):
    """GRAPHC_PROFILE=1 prints its table at exit, also for steps whose Session was closed (its library
    unloaded: the runtime keeps copies of the kernels' labels; it used to crash reading them)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    program = ("import numpy as np\nimport graphc as tf\nx = tf.placeholder(tf.float32, [None, 4])\n"
               "with tf.Session() as sess:\n"
               "    sess.run(tf.nn.relu(tf.matmul(x, tf.ones([4, 3]))), {x: np.ones((2, 4))})\n")
    root = str(Path(__file__).resolve().parents[2])
    environment = {**os.environ, "GRAPHC_PROFILE": "1",
                   "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    finished = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=environment, capture_output=True,
                              text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "graphc profile: kernels by total time" in finished.stdout + finished.stderr
    assert re.search(r"kernel \d+ gemm \(MatMul\)", finished.stdout + finished.stderr)
