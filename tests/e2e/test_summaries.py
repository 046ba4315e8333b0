"""tf.summary and FileWriter as TF1 programs use them, read back with TensorBoard's own EventAccumulator."""

import io
import os

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

import graphc as tf


def read_events(logdir):
    accumulator = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0, "images": 0,
                                                               "tensors": 0})
    accumulator.Reload()
    return accumulator


def regression():
    """A linear fit of y = 3x + 1 with scalar and histogram summaries of its loss and weights."""
    x = tf.placeholder(tf.float32, [None, 1], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    with tf.name_scope("model"):
        w = tf.Variable(tf.zeros([1, 4]), name="w")
        v = tf.Variable(tf.ones([4, 1]), name="v")
        prediction = tf.matmul(tf.matmul(x, w), v)
        tf.summary.histogram("weights", w)
    loss = tf.reduce_mean(tf.square(prediction - y))
    tf.summary.scalar("loss", loss)
    train_op = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    return x, y, w, loss, train_op


def batch(step):
    xs = np.linspace(-1, 1, 16, dtype=np.float32).reshape(-1, 1) + 0.01 * step
    return xs, 3 * xs + 1


def test_training_loop_logs_every_scalar_at_its_step(tmp_path):
    x, y, w, loss, train_op = regression()
    summary = tf.summary.merge_all()
    logged = {}
    with tf.Session() as sess:
        writer = tf.summary.FileWriter(str(tmp_path), sess.graph)
        sess.run(tf.global_variables_initializer())
        for step in range(30):
            xs, ys = batch(step)
            sess.run(train_op, {x: xs, y: ys})
            if step % 3 == 0:
                summary_str, loss_value, w_value = sess.run([summary, loss, w], {x: xs, y: ys})
                assert isinstance(summary_str, bytes)
                writer.add_summary(summary_str, step)
                logged[step] = (loss_value, w_value)
        writer.close()

    events = read_events(tmp_path)
    assert events.Tags()["scalars"] == ["loss"] and events.Tags()["histograms"] == ["model/weights"]
    scalars = events.Scalars("loss")
    assert [e.step for e in scalars] == sorted(logged)
    for event in scalars:
        assert event.value == np.float32(logged[event.step][0])  # the loss the step computed, bit for bit
    for event in events.Histograms("model/weights"):
        histogram, weights = event.histogram_value, logged[event.step][1]
        assert histogram.num == weights.size and sum(histogram.bucket) == weights.size
        assert (histogram.min, histogram.max) == (weights.min(), weights.max())
        assert histogram.sum == pytest.approx(float(weights.sum()))
    assert scalars[-1].value < scalars[0].value / 2


def graph_view(logdir, run):
    """The graph TensorBoard's graph plugin serves for `run` (its pbtxt text), as the web UI asks for it."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.graph import graphs_plugin

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    plugin = graphs_plugin.GraphsPlugin(base_plugin.TBContext(data_provider=provider, logdir=str(logdir)))
    request = context.RequestContext()
    assert plugin.info_impl(request, experiment="")[run]["run_graph"]
    text, mime_type = plugin.graph_impl(request, run, tag=None, is_conceptual=False, experiment="")
    assert mime_type == "text/x-protobuf"
    return text


# TensorBoard's graph plugin imports a vendored html5lib that warns about itself.
@pytest.mark.filterwarnings("ignore:html5lib's sanitizer is deprecated:DeprecationWarning")
def test_graph_is_in_the_event_file(tmp_path):
    x, y, w, loss, train_op = regression()
    with tf.Session() as sess:
        with tf.summary.FileWriter(str(tmp_path / "run"), graph=sess.graph):
            pass
    assert 'name: "model/w"' in graph_view(tmp_path, "run")
    graph_def = read_events(tmp_path / "run").Graph()
    nodes = {node.name: node for node in graph_def.node}
    # Besides graphc's ops, the nodes TensorFlow's form of them adds: the summary's tag is an input, the
    # reduction gradient's ReducedShape (an op TF lacks) TF's ops.
    extra = set(nodes) - {op.name for op in tf.get_default_graph().get_operations()}
    assert extra and {name for name in extra if "/ReducedShape/" not in name} == {"loss/tag", "model/weights/tag"}
    assert nodes["model/w"].op == "VariableV2" and nodes["x"].op == "Placeholder"
    assert nodes["loss"].op == "ScalarSummary" and list(nodes["loss"].input) == ["loss/tag", "Mean"]
    assert nodes["GradientDescent/update_model/w/ApplyGradientDescent"].input[0] == "model/w"
    assert sess.graph_def == graph_def == tf.get_default_graph().as_graph_def()


def test_image_and_text_summaries(tmp_path):
    images = tf.placeholder(tf.float32, [None, 6, 5, 1], name="images")
    tf.summary.image("digits", images * 2.0, max_outputs=2)
    tf.summary.text("notes", ["first", "second"])
    merged = tf.summary.merge_all()
    pixels = np.random.default_rng(1).uniform(0, 1, size=(3, 6, 5, 1)).astype(np.float32)
    with tf.Session() as sess, tf.summary.FileWriter(str(tmp_path)) as writer:
        writer.add_summary(sess.run(merged, {images: pixels}), global_step=7)
    events = read_events(tmp_path)
    assert sorted(events.Tags()["images"]) == ["digits/image/0", "digits/image/1"]
    for i in range(2):
        (event,) = events.Images(f"digits/image/{i}")
        assert (event.step, event.height, event.width) == (7, 6, 5)
        decoded = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))
        scaled = pixels[i, :, :, 0] * 2.0
        np.testing.assert_array_equal(decoded, (scaled * np.float32(255.0 / scaled.max())).astype(np.uint8))
    (text,) = events.Tensors("notes")
    assert text.step == 7 and tensor_util.make_ndarray(text.tensor_proto).tolist() == [b"first", b"second"]


def test_summary_names_tags_and_collections():
    value = tf.constant(2.0)
    with tf.name_scope("train"):
        scoped = tf.summary.scalar("loss", value)
        family = tf.summary.scalar("lr", value, family="opt")
    cleaned = tf.summary.scalar("bad name:1", value)
    private = tf.summary.scalar("private", value, collections=["mine"])
    assert (scoped.name, scoped.dtype) == ("train/loss:0", tf.string)
    assert family.op.name == "train/opt/lr" and family.op.get_attr("tag") == "opt/train/opt/lr"
    assert cleaned.op.get_attr("tag") == "bad_name_1"
    assert tf.get_collection(tf.GraphKeys.SUMMARIES) == [scoped, family, cleaned]
    assert tf.get_collection("mine") == [private]
    merged = tf.summary.merge_all()
    assert merged.op.type == "MergeSummary" and merged.name == "Merge/MergeSummary:0"
    with tf.Session() as sess:
        summary = tf.Summary.FromString(sess.run(merged))
        assert [(v.tag, v.simple_value) for v in summary.value] == [
            ("train/loss", 2.0), ("opt/train/opt/lr", 2.0), ("bad_name_1", 2.0)]
        assert sess.run(scoped.op) is None
    assert tf.summary.merge_all("nothing_here") is None


def test_summary_inputs_come_from_the_same_compiled_step_as_the_other_fetches():
    counter = tf.Variable(0.0, name="counter")
    increment = tf.assign_add(counter, 1.0)
    summary = tf.summary.scalar("counter", increment)
    with tf.Session() as sess:
        sess.run(counter.initializer)
        for expected in (1.0, 2.0, 3.0):
            summary_str, value = sess.run([summary, increment])
            assert value == expected and tf.Summary.FromString(summary_str).value[0].simple_value == expected


def test_merge_takes_every_element_of_constant_string_inputs():
    """MergeSummary's inputs are string tensors of any shape (TF 2.21 merges [[a, b]] and c into a, b, c); a
    constant's value is an object array, whose bytes would be element pointers, not the summaries."""
    a, b, c = (tf.Summary(value=[tf.Summary.Value(tag=tag, simple_value=value)]).SerializeToString()
               for tag, value in (("a", 1.0), ("b", 2.0), ("c", 3.0)))
    merged = tf.summary.merge([tf.constant([[a, b]]), tf.constant(c)])
    with tf.Session() as sess:
        values = tf.Summary.FromString(sess.run(merged)).value
    assert [(v.tag, v.simple_value) for v in values] == [("a", 1.0), ("b", 2.0), ("c", 3.0)]


def test_bad_values_are_tf1_errors_naming_the_op():
    data = tf.placeholder(tf.float32, [None], name="data")
    histogram = tf.summary.histogram("spread", data)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Nan in summary histogram for: spread") as info:
            sess.run(histogram, {data: [1.0, np.nan]})
        assert info.value.op is histogram.op
        duplicate = tf.summary.merge([histogram, histogram])
        with pytest.raises(tf.errors.InvalidArgumentError, match="Duplicate tag spread"):
            sess.run(duplicate, {data: [1.0]})
        garbage = tf.summary.merge([histogram, tf.constant(b"garbage\xff")])  # TF 2.21: its class and words
        with pytest.raises(tf.errors.InvalidArgumentError, match="Could not parse one of the summary inputs"):
            sess.run(garbage, {data: [1.0]})
        # A summary fed in place of the one the step makes is parsed, as TF1 parses every input.
        merged = tf.summary.merge([histogram, tf.summary.scalar("other", data[0])])
        with pytest.raises(tf.errors.InvalidArgumentError, match="Could not parse one of the summary inputs"):
            sess.run(merged, {data: [1.0], histogram: b"garbage\xff"})
        other = tf.Summary(value=[tf.Summary.Value(tag="other", simple_value=2.0)]).SerializeToString()
        with pytest.raises(tf.errors.InvalidArgumentError, match="Duplicate tag other"):
            sess.run(merged, {data: [1.0], histogram: other})
        values = tf.Summary.FromString(sess.run(merged, {data: [1.0]})).value
        assert [v.tag for v in values] == ["spread", "other"]
    vector = tf.summary.scalar("vector", data)  # TF1 checks the shape when the op runs
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match=r"shape: \[\] != \[2\]"):
        sess.run(vector, {data: [1.0, 2.0]})
    with pytest.raises(TypeError, match="ImageSummary"):
        tf.summary.image("ints", tf.zeros([1, 2, 2, 1], dtype=tf.int32))
    with pytest.raises(ValueError, match="Expected tensor data:0 to have dtype string, got float32"):
        tf.summary.text("t", data)


def test_file_writer_accepts_protobufs_and_refuses_writes_when_closed(tmp_path):
    writer = tf.summary.FileWriter(str(tmp_path / "run"), filename_suffix=".v1")
    assert writer.get_logdir() == str(tmp_path / "run")
    writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="accuracy", simple_value=0.5)]), np.int64(3))
    writer.flush()
    (name,) = os.listdir(tmp_path / "run")
    assert name.startswith("events.out.tfevents.") and name.endswith(".v1")
    assert [(e.step, e.value) for e in read_events(tmp_path / "run").Scalars("accuracy")] == [(3, 0.5)]
    writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        writer.add_summary(b"", 4)


def test_writing_event_files_does_not_import_tensorflow(tmp_path):
    # TensorBoard's own writer goes through tf.io.gfile, which imported all of TensorFlow when installed.
    import subprocess
    import sys
    program = ("import sys, graphc as tf\n"
               f"w = tf.summary.FileWriter({str(tmp_path)!r}, tf.get_default_graph())\n"
               "w.add_summary(tf.Session().run(tf.summary.scalar('a', tf.constant(1.0))), 1)\n"
               "w.close()\n"
               "print('tensorflow' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.strip() == "False"
    assert read_events(tmp_path).Scalars("a")[0].value == 1.0
