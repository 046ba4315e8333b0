"""Summary protobufs from NumPy values, as TF1's summary kernels make them; GraphDefs of graphs."""

import io
import sys

import numpy as np
import pytest
from PIL import Image
from tensorboard.compat.proto import summary_pb2
from tensorboard.util import tensor_util

import graphc as tf
from graphc.core import histograms
from graphc.frontend import graph_def
from graphc.ops import summary_serialization as serialization
from graphc.ops.summary_serialization import SummaryValueError


def parse(serialized):
    return summary_pb2.Summary.FromString(serialized)


def test_scalar_is_a_simple_value():
    (value,) = parse(serialization.scalar_summary("loss", np.float32(0.25))).value
    assert (value.tag, value.simple_value) == ("loss", 0.25)
    with pytest.raises(SummaryValueError, match=r"not the same shape: \[\] != \[2\]"):
        serialization.scalar_summary("loss", np.zeros(2))


# -- histograms ------------------------------------------------------------------------------


def tf1_histogram(values):
    """TF1's Histogram::Add and EncodeToProto, written out loop by loop as the C++ does."""
    limits = list(histograms.default_bucket_limits())
    buckets = [0.0] * len(limits)
    for v in values:
        b = next(i for i, limit in enumerate(limits) if limit > v)  # std::upper_bound
        buckets[b] += 1
    out_limits, out_counts, i = [], [], 0
    while i < len(buckets):
        end, count, j = limits[i], buckets[i], i + 1
        while count == 0 and j < len(buckets) and buckets[j] == 0:
            end, count, j = limits[j], buckets[j], j + 1
        out_limits.append(end)
        out_counts.append(count)
        i = j
    return out_limits, out_counts


def test_default_bucket_limits_are_tf1s():
    limits = histograms.default_bucket_limits()
    positive = limits[limits > 0]
    assert limits.size == 2 * positive.size + 1 and limits[positive.size] == 0.0
    np.testing.assert_array_equal(limits[:positive.size], -positive[::-1])
    assert positive[0] == 1e-12 and positive[-1] == sys.float_info.max and positive[-2] < 1e20
    np.testing.assert_allclose(positive[1:-1] / positive[:-2], 1.1)
    assert positive.size == 775  # TF1's kDefaultBuckets has 774 finite positive limits + DBL_MAX


@pytest.mark.parametrize("values", [
    [0.0], [1.0, 1.0, 2.5, -3.0, 1e-13, -1e-13], np.linspace(-5, 5, 101), [1e25, -1e25], [],
])
def test_histogram_buckets_match_tf1s_algorithm(values):
    proto = serialization.histogram_proto(histograms.statistics(np.asarray(values, dtype=np.float32)))
    expected_limits, expected_counts = tf1_histogram(np.asarray(values, dtype=np.float32).astype(np.float64))
    assert list(proto.bucket_limit) == expected_limits
    assert list(proto.bucket) == expected_counts
    assert proto.num == len(values) and sum(proto.bucket) == len(values)
    if len(values):
        data = np.asarray(values, dtype=np.float32).astype(np.float64)
        assert (proto.min, proto.max) == (data.min(), data.max())
        assert proto.sum == pytest.approx(data.sum()) and proto.sum_squares == pytest.approx((data ** 2).sum())
        assert proto.sum == sum(data.tolist()) and proto.sum_squares == sum((data * data).tolist())  # in order
    else:
        assert (proto.min, proto.max) == (sys.float_info.max, -sys.float_info.max)


@pytest.mark.parametrize("bad, word", [(np.nan, "Nan"), (np.inf, "Infinity")])
def test_histogram_refuses_non_finite_values(bad, word):
    with pytest.raises(SummaryValueError, match=f"{word} in summary histogram for: weights"):
        serialization.histogram_summary("weights", histograms.statistics([1.0, bad]))


def protobuf_histogram_summary(tag, statistics):
    """The Summary protobuf's own serialization of a histogram's statistics, field by field."""
    limits, counts = histograms.default_bucket_limits(), statistics[:histograms.BUCKETS]
    keep = (counts != 0) | np.append(counts[1:] != 0, True)
    histo = summary_pb2.HistogramProto(
        min=statistics[histograms.MIN], max=statistics[histograms.MAX], num=statistics[histograms.NUM],
        sum=statistics[histograms.SUM], sum_squares=statistics[histograms.SUM_SQUARES],
        bucket_limit=limits[keep].tolist(), bucket=counts[keep].tolist())
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, histo=histo)]).SerializeToString()


@pytest.mark.parametrize("tag, values", [
    ("w", np.random.default_rng(0).standard_normal(5000) * 0.05),
    ("relu/activations", np.maximum(np.random.default_rng(1).standard_normal(3000), 0)),  # min +0.0: left out
    ("négatif", [-0.0, -1.0, -2.0]),  # max -0.0 (the first zero): written, a bit set; +0.0 is not
    ("zeros", [-0.0, 0.0]), ("one", [3.5]), ("", [1.0, 2.0]), ("empty", []), ("huge", [1e25, -1e25]),
])
def test_histogram_summary_bytes_are_protobufs(tag, values):
    statistics = histograms.statistics(np.asarray(values, dtype=np.float32))
    assert serialization.histogram_summary(tag, statistics) == protobuf_histogram_summary(tag, statistics)


def test_histogram_summary_bytes_are_tensorflows():
    tf2 = pytest.importorskip("tensorflow")
    for tag, values in (("w", np.random.default_rng(2).standard_normal(20000).astype(np.float32) * 0.05),
                        ("relu", np.maximum(np.random.default_rng(3).standard_normal(999), 0).astype(np.float32)),
                        ("negative zero", np.array([-0.0, 2.0, 1.0], np.float32))):
        expected = tf2.raw_ops.HistogramSummary(tag=tag, values=values).numpy()
        assert serialization.histogram_summary(tag, histograms.statistics(values)) == expected


# -- images ------------------------------------------------------------------------------------


def decode_png(data):
    return np.asarray(Image.open(io.BytesIO(data)))


def test_positive_images_scale_to_255_and_negative_ones_centre_on_128():
    positive = np.array([[[0.0], [0.5], [2.0]]], dtype=np.float32)
    assert serialization.image_to_uint8(positive)[..., 0].tolist() == [[0, 63, 255]]
    mixed = np.array([[[-2.0], [0.0], [1.0]]], dtype=np.float32)
    assert serialization.image_to_uint8(mixed)[..., 0].tolist() == [[1, 128, 191]]
    assert serialization.image_to_uint8(np.zeros((1, 2, 1), np.float32)).tolist() == [[[0], [0]]]


def test_non_finite_pixels_take_the_bad_color():
    image = np.array([[[0.0, 1.0, 0.5], [np.nan, 0.0, 0.0]]], dtype=np.float64)
    assert serialization.image_to_uint8(image).tolist() == [[[0, 255, 127], [255, 0, 0]]]


def test_image_summary_tags_sizes_and_png_pixels():
    images = np.random.default_rng(0).uniform(0, 1, size=(4, 5, 7, 3)).astype(np.float32)
    values = parse(serialization.image_summary("inputs", images, max_images=2)).value
    assert [v.tag for v in values] == ["inputs/image/0", "inputs/image/1"]
    for i, value in enumerate(values):
        assert (value.image.height, value.image.width, value.image.colorspace) == (5, 7, 3)
        np.testing.assert_array_equal(decode_png(value.image.encoded_image_string),
                                      serialization.image_to_uint8(images[i]))
    (single,) = parse(serialization.image_summary("gray", images[:, :, :, :1], max_images=1)).value
    assert single.tag == "gray/image" and decode_png(single.image.encoded_image_string).shape == (5, 7)
    with pytest.raises(SummaryValueError, match="4-D with last dim 1, 3, or 4"):
        serialization.image_summary("bad", np.zeros((1, 2, 2, 2)))


# -- tensors, text, merging --------------------------------------------------------------------


def test_tensor_summary_round_trips_numbers_and_text():
    (value,) = parse(serialization.tensor_summary("t", np.arange(6, dtype=np.int32).reshape(2, 3))).value
    np.testing.assert_array_equal(tensor_util.make_ndarray(value.tensor), np.arange(6).reshape(2, 3))
    text = np.array([b"a", "\u00e9".encode()], dtype=object)
    (value,) = parse(serialization.tensor_summary("note", text, "text")).value
    assert value.metadata.plugin_data.plugin_name == "text"
    assert list(value.tensor.string_val) == [b"a", "\u00e9".encode()]


def test_merge_concatenates_values_and_refuses_duplicate_tags():
    a = serialization.scalar_summary("a", 1.0)
    b = serialization.histogram_summary("b", histograms.statistics([1.0, 2.0]))
    assert [v.tag for v in parse(serialization.merge_summaries([a, b])).value] == ["a", "b"]
    with pytest.raises(SummaryValueError, match="Duplicate tag a"):
        serialization.merge_summaries([a, a])
    with pytest.raises(SummaryValueError, match="^Could not parse one of the summary inputs$"):
        serialization.merge_summaries([a, b"garbage\xff"])  # TF1's InvalidArgumentError, its words


def test_merge_takes_known_tags_of_the_steps_own_parts_and_parses_the_others():
    """A part made in the step (bytes, its tags known from its op) is not parsed; its tags still count as
    duplicates. A part given as an array (a fed or constant string tensor) is parsed whatever is known."""
    a, b = (serialization.scalar_summary(tag, 1.0) for tag in "ab")
    assert serialization.merge_summaries([a, b], [("a",), ("b",)]) == a + b
    with pytest.raises(SummaryValueError, match="Duplicate tag a"):
        serialization.merge_summaries([a, b], [("a",), ("a",)])
    with pytest.raises(SummaryValueError, match="Duplicate tag a"):
        serialization.merge_summaries([a, np.asarray(a, dtype=object)], [("a",), ("b",)])
    with pytest.raises(SummaryValueError, match="Could not parse one of the summary inputs"):
        serialization.merge_summaries([a, np.asarray(b"garbage\xff", dtype=object)], [("a",), ("b",)])


@pytest.mark.parametrize("values", [[], [0.0], [-0.0, 1e-30, 7.5], np.random.default_rng(3).normal(0, 0.1, 5000)])
def test_histogram_bytes_are_protobufs_own(values):
    """The packed arrays handed to protobuf as their encoding give the bytes protobuf's own API gives,
    and a merge laid end to end gives the bytes of the merged message."""
    statistics = histograms.statistics(np.asarray(values, dtype=np.float32))
    proto = serialization.histogram_proto(statistics)
    by_api = summary_pb2.HistogramProto(min=proto.min, max=proto.max, num=proto.num, sum=proto.sum,
                                        sum_squares=proto.sum_squares, bucket_limit=list(proto.bucket_limit),
                                        bucket=list(proto.bucket))
    assert proto.SerializeToString() == by_api.SerializeToString() and len(by_api.bucket) >= 1
    summary = serialization.histogram_summary("h", statistics)
    assert summary == summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="h", histo=by_api)]).SerializeToString()
    parts = [serialization.scalar_summary("a", 1.0), summary, serialization.scalar_summary("b", 2.0)]
    merged = summary_pb2.Summary(value=[value for part in parts for value in parse(part).value])
    assert serialization.merge_summaries(parts) == merged.SerializeToString()


def test_missing_tensorboard_names_the_extra(monkeypatch):
    serialization.protos.cache_clear()
    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto", None)
    try:
        with pytest.raises(ImportError, match=r"pip install 'graphc\[tensorboard\]'"):
            serialization.protos()
    finally:
        serialization.protos.cache_clear()


# -- GraphDef ----------------------------------------------------------------------------------


def test_graph_def_has_names_types_inputs_and_simple_attrs():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.Variable(tf.zeros([3, 2]), name="w")
        with tf.control_dependencies([w.initializer]):
            y = tf.matmul(x, w, name="y")
        tf.summary.scalar("average", tf.reduce_mean(y))
    nodes = {n.name: n for n in graph_def.graph_def(graph).node}
    assert [name for name in nodes if name != "average/tag"] == [op.name for op in graph.get_operations()]
    assert nodes["y"].op == "MatMul" and list(nodes["y"].input) == ["x", "w/read", "^w/Assign"]
    assert nodes["y"].device == ""
    assert nodes["x"].attr["dtype"].type == 1  # DT_FLOAT
    assert [d.size for d in nodes["x"].attr["shape"].shape.dim] == [-1, 3]
    assert [d.size for d in nodes["w"].attr["shape"].shape.dim] == [3, 2]
    assert [d.size for d in nodes["y"].attr["_output_shapes"].list.shape[0].dim] == [-1, 2]
    assert nodes["average"].op == "ScalarSummary" and list(nodes["average"].input) == ["average/tag", "Mean"]
    assert tensor_util.make_ndarray(nodes["average/tag"].attr["value"].tensor) == b"average"  # TF: an input
    zeros = tensor_util.make_ndarray(nodes["zeros"].attr["value"].tensor)
    assert zeros.shape == (3, 2) and not zeros.any()
