"""Summary ops: `tf.summary.scalar`, `histogram`, `image`, `text`, `tensor_summary`, `merge`, `merge_all`.

Each is a graph op with TF1's type (ScalarSummary, HistogramSummary,
ImageSummary, TensorSummaryV2, MergeSummary) whose output is a string scalar:
the serialized `Summary` protobuf. The compiled step computes the op's numeric
input like any other fetch; the session then serializes it on the host
(`OpDef.host_function`, see graphc/host_fetches.py), so `sess.run(summary)`
returns bytes, as in TF1. A histogram's buckets are counted by the compiled
step (`histogram_statistics`, its `device_reduction`): only the counts and
sums leave the native code, not the tensor. Ops are named and tagged as TF1 names them (`loss`,
`hidden1/loss`, `family/name`) and collected in `GraphKeys.SUMMARIES`.

`text` summarises a string tensor, which the session evaluates on the host
with the summary (a constant, a fed placeholder, an identity of them).
"""

from __future__ import annotations

import contextlib
import logging
import re

import numpy as np

from graphc import errors
from graphc.core import dtypes, histograms, registry
from graphc.core.registry import NOT_DIFFERENTIABLE, DTypeError, OpDef, Role, ShapeError, TensorType
from graphc.frontend.graph import GraphKeys, Tensor, convert_to_tensor, get_default_graph, graph_of, name_scope
from graphc.ops import summary_serialization as serialization

_log = logging.getLogger(__name__)

_SUMMARY_TYPE = TensorType(dtypes.string, ())
_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w.]")


def _on_host(serialize):
    """A host function calling `serialize(op, *input_values)`; bad values become InvalidArgumentError."""

    def host_function(op, input_values):
        try:
            return serialize(op, *input_values)
        except serialization.SummaryValueError as e:
            raise errors.InvalidArgumentError(None, op, f"{e} (summary op {op.name})") from None

    return host_function


def _real_number_input(kind: str):
    """The shape rule of a summary over one real-valued tensor. A tensor of the wrong shape (a scalar
    summary's vector) fails when the summary is made, on the host, as TF1's kernel fails when it runs."""

    def infer(types, attrs):
        (value,) = types
        if not value.dtype.is_numeric:
            raise DTypeError(f"{kind} takes a real-valued tensor, not {value.dtype.name}")
        return _SUMMARY_TYPE

    return infer


scalar_summary_p = registry.register(OpDef(
    name="scalar_summary", tf_type="ScalarSummary", infer=_real_number_input("ScalarSummary"),
    role=Role.HOST, gradient=NOT_DIFFERENTIABLE, tf_attr_inputs=("tag",),
    host_function=_on_host(lambda op, value: serialization.scalar_summary(op.attrs["tag"], value))))

def _histogram_statistics_infer(types, attrs):
    (values,) = types
    if not values.dtype.is_numeric or values.dtype is dtypes.bool_:
        raise DTypeError(f"histogram statistics take a real-valued tensor, not {values.dtype.name}")
    return TensorType(dtypes.float64, (histograms.STATISTICS_SIZE,))


# The buckets, min, max, count, sum and sum of squares of a tensor (core/histograms.py): an IR op the
# graph never holds, which lowering applies to a histogram summary's input (`device_reduction`).
histogram_statistics_p = registry.register(OpDef(
    name="histogram_statistics", tf_type=None, infer=_histogram_statistics_infer,
    reference=histograms.statistics, gradient=NOT_DIFFERENTIABLE,
    compiled_dtypes=(dtypes.float16, dtypes.float32, dtypes.float64, dtypes.int8, dtypes.int16, dtypes.int32,
                     dtypes.int64, dtypes.uint8, dtypes.uint16)))

histogram_summary_p = registry.register(OpDef(
    name="histogram_summary", tf_type="HistogramSummary", infer=_real_number_input("HistogramSummary"),
    role=Role.HOST, gradient=NOT_DIFFERENTIABLE, tf_attr_inputs=("tag",),
    device_reduction=histogram_statistics_p.name,
    host_function=_on_host(lambda op, statistics: serialization.histogram_summary(op.attrs["tag"], statistics))))


def _image_infer(types, attrs):
    (images,) = types
    if not images.dtype.is_floating:
        raise DTypeError(f"ImageSummary takes float32 or float64 images, not {images.dtype.name}")
    return _SUMMARY_TYPE  # images of the wrong shape fail on the host, as TF1's kernel fails when it runs


image_summary_p = registry.register(OpDef(
    name="image_summary", tf_type="ImageSummary", infer=_image_infer, role=Role.HOST, gradient=NOT_DIFFERENTIABLE,
    tf_attr_inputs=("tag",),
    host_function=_on_host(lambda op, images: serialization.image_summary(
        op.attrs["tag"], images, op.attrs["max_images"], op.attrs["bad_color"]))))


def _tensor_summary_in_tensorflow(emit, attrs, value):
    """TF's TensorSummaryV2 takes its tag and its serialized SummaryMetadata (the plugin) as inputs."""
    metadata = serialization.summary_metadata(attrs["plugin_name"])
    return emit.node("TensorSummaryV2", [emit.constant(np.asarray(attrs["tag"].encode(), dtype=object)), value,
                                         emit.constant(np.asarray(metadata, dtype=object))])[0]


def _tensor_summary_infer(types, attrs):
    if len(types) != 1:
        raise ShapeError("TensorSummaryV2 takes one tensor")
    return _SUMMARY_TYPE


tensor_summary_p = registry.register(OpDef(
    name="tensor_summary", tf_type="TensorSummaryV2", infer=_tensor_summary_infer, role=Role.HOST,
    gradient=NOT_DIFFERENTIABLE, tf_expansion=_tensor_summary_in_tensorflow,
    host_function=_on_host(lambda op, value: serialization.tensor_summary(
        op.attrs["tag"], value, op.attrs["plugin_name"]))))


def _merge_infer(types, attrs):
    if not types:
        raise ShapeError("MergeSummary needs at least one input")
    for t in types:
        if t.dtype is not dtypes.string:
            raise DTypeError(f"MergeSummary merges serialized summaries (string tensors), not {t.dtype.name}")
    return _SUMMARY_TYPE


def _tags_made(tensor) -> "tuple | None":
    """The tags of the Summary the op making `tensor` gives, when they are its constants: a scalar,
    histogram or tensor summary holds one value tagged `tag`. None for any other op (an image summary's
    count of values depends on the batch; a constant's or a merge's are known only from their bytes)."""
    op = tensor.op
    return (op.attrs["tag"],) if op.op_def.name in _ONE_VALUE_SUMMARIES else None


_ONE_VALUE_SUMMARIES = frozenset(d.name for d in (scalar_summary_p, histogram_summary_p, tensor_summary_p))


def _merge_on_host(op, *parts):
    # The parts the step's own summary ops made are not parsed again for their tags (a histogram's
    # Summary cost ~2.5 us to parse, every step); a part fed in their place is (merge_summaries).
    return serialization.merge_summaries(parts, [_tags_made(t) for t in op.inputs])


merge_summary_p = registry.register(OpDef(
    name="merge_summary", tf_type="MergeSummary", infer=_merge_infer, role=Role.HOST, gradient=NOT_DIFFERENTIABLE,
    host_function=_on_host(_merge_on_host)))


# -- the public functions ------------------------------------------------------------------------


def clean_tag(name):
    """`name` with characters TensorBoard does not allow replaced by `_`, leading `/` dropped (TF1)."""
    if name is None:
        return None
    cleaned = _INVALID_TAG_CHARACTERS.sub("_", name).lstrip("/")
    if cleaned != name:
        _log.info("Summary name %s is illegal; using %s instead.", name, cleaned)
    return cleaned


@contextlib.contextmanager
def _summary_scope(name, family, values):
    """(tag, scope) as TF1's summary_scope: the op is named by the scope, tagged `family/scope`."""
    name, family = clean_tag(name), clean_tag(family)
    with name_scope(name if family is None else f"{family}/{name}", values=values) as scope:
        yield (scope.rstrip("/") if family is None else f"{family}/{scope.rstrip('/')}"), scope


def _summary(op_def, name, tensor, attrs, collections, family):
    """Creates one summary op over `tensor` (or none) and adds its output to `collections`."""
    values = [] if tensor is None else [tensor]
    with _summary_scope(name, family, values) as (tag, scope):
        inputs = [convert_to_tensor(v) for v in values]
        graph = graph_of(inputs)
        output = graph.create_op(op_def, inputs, dict(attrs, tag=tag), name=scope).outputs[0]
    _collect(output, collections, [GraphKeys.SUMMARIES])
    return output


def _collect(tensor, collections, default):
    for key in default if collections is None else collections:
        tensor.graph.add_to_collection(key, tensor)


def scalar(name, tensor, collections=None, family=None):
    """A summary of one real scalar (`tf.summary.scalar`); `sess.run` gives the serialized Summary."""
    return _summary(scalar_summary_p, name, tensor, {}, collections, family)


def histogram(name, values, collections=None, family=None):
    """A histogram summary of a real tensor of any shape, bucketed as TF1 does (`tf.summary.histogram`)."""
    return _summary(histogram_summary_p, name, values, {}, collections, family)


def image(name, tensor, max_outputs=3, collections=None, family=None):
    """Up to `max_outputs` PNG images of a float [batch, height, width, 1|3|4] tensor (`tf.summary.image`).

    Values are scaled to 0..255 as TF1 does (see serialization.image_to_uint8).
    """
    if max_outputs < 1:
        raise ValueError(f"max_outputs must be positive, got {max_outputs}")
    attrs = {"max_images": int(max_outputs), "bad_color": serialization.DEFAULT_BAD_COLOR}
    return _summary(image_summary_p, name, tensor, attrs, collections, family)


def tensor_summary(name, tensor, summary_description=None, collections=None, summary_metadata=None, family=None,
                   display_name=None):
    """A summary holding a whole numeric tensor as a TensorProto (`tf.summary.tensor_summary`).

    `summary_description`, `summary_metadata` and `display_name` are accepted and ignored.
    """
    return _summary(tensor_summary_p, name, tensor, {"plugin_name": ""}, collections, family)


def text(name, tensor, collections=None):
    """A text summary of a string tensor for TensorBoard's text plugin (`tf.summary.text`).

    Markdown is rendered by TensorBoard, as for TF1. Python strings (str, bytes,
    nested lists of them) are taken as a string constant.
    """
    if not isinstance(tensor, Tensor):
        tensor = convert_to_tensor(tensor, dtype=dtypes.string)
    if tensor.dtype is not dtypes.string:
        raise ValueError(f"Expected tensor {tensor.name} to have dtype string, got {tensor.dtype.name}")
    return _summary(tensor_summary_p, name, tensor, {"plugin_name": "text"}, collections, None)


def merge(inputs, collections=None, name=None):
    """One summary with the values of all `inputs` (serialized-summary tensors) (`tf.summary.merge`)."""
    inputs = list(inputs)
    with name_scope(name, "Merge", inputs):
        output = graph_of(inputs).create_op(merge_summary_p, inputs, {}, name=name).outputs[0]
    _collect(output, collections, [])
    return output


def merge_all(key=GraphKeys.SUMMARIES, scope=None, name=None):
    """`merge` of every summary in collection `key` of the default graph, or None if there is none."""
    summaries = get_default_graph().get_collection(key, scope)
    return merge(summaries, name=name) if summaries else None
