"""NumPy values -> serialized `Summary` protobufs, as TF1's summary kernels make them.

Pure functions of arrays: scalars as `simple_value`, histograms from the
statistics the compiled step computes with TF1's default bucket edges
(core/histograms.py), images
normalised as TF1's ImageSummary does and encoded as PNG (Pillow), tensors
(text) as `TensorProto`s. The protobuf classes are TensorBoard's
(`protos()`), an optional dependency: `pip install 'graphc[tensorboard]'`.
"""

from __future__ import annotations

import io

import numpy as np

from graphc.core import histograms, wire
from graphc.core.protos import protos
from graphc.core.tensor_shape import format_dims_as_list


class SummaryValueError(ValueError):
    """A value a summary cannot hold (NaN in a histogram, an image of the wrong shape)."""


def scalar_summary(tag: str, value) -> bytes:
    """A Summary with one `simple_value` (TF1's ScalarSummary)."""
    array = np.asarray(value)
    if array.shape != ():
        raise SummaryValueError(f"tags and values are not the same shape: [] != {format_dims_as_list(array.shape)} "
                                f"(tag '{tag}')")
    summary_pb2 = protos().summary_pb2
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(array))]) \
        .SerializeToString()


def histogram_proto(statistics):
    """A HistogramProto from a histogram's statistics vector (core/histograms.py), runs of empty buckets
    merged as TF1 does."""
    histogram = protos().summary_pb2.HistogramProto()
    _fill_histogram(histogram, statistics)
    return histogram


def histogram_summary(tag: str, statistics) -> bytes:
    """A Summary with one histogram (TF1's HistogramSummary), from its statistics vector."""
    summary = protos().summary_pb2.Summary()
    value = summary.value.add()
    value.tag = tag
    try:
        _fill_histogram(value.histo, statistics)  # in place: a histogram built apart is copied in whole
    except SummaryValueError as e:
        raise SummaryValueError(f"{e} for: {tag}") from None
    return summary.SerializeToString()


def _fill_histogram(histogram, statistics) -> None:
    if statistics[histograms.NANS]:
        raise SummaryValueError("Nan in summary histogram")
    if statistics[histograms.INFINITIES]:
        raise SummaryValueError("Infinity in summary histogram")
    limits, counts = histograms.default_bucket_limits(), statistics[:histograms.BUCKETS]
    # Keep non-empty buckets and, of each run of empty ones, only the last (its limit closes the run):
    # a bucket is kept when it or the next one is non-empty, and the last always. Built in place in one
    # mask (`np.append` of a shifted copy was a third of the histogram's NumPy time).
    keep = counts != 0
    keep[:-1] |= keep[1:]
    keep[-1] = True
    histogram.min, histogram.max = float(statistics[histograms.MIN]), float(statistics[histograms.MAX])
    histogram.num, histogram.sum = float(statistics[histograms.NUM]), float(statistics[histograms.SUM])
    histogram.sum_squares = float(statistics[histograms.SUM_SQUARES])
    # The two arrays reach the message as their packed encoding, parsed by protobuf itself: a histogram
    # fetched every step cost about 2 x 256 Python floats through `.tolist()` and the repeated fields'
    # extend, half of its ~60 us on the host (the step it is fetched with: 0.66 ms).
    # (summary.proto: bucket_limit = 6, bucket = 7, packed: one length-delimited field of doubles each).
    # (`copy=False`: the selections are float64 already, little-endian on every host graphc runs on.)
    histogram.MergeFromString(wire.bytes_field(6, limits[keep].astype("<f8", copy=False).tobytes())
                              + wire.bytes_field(7, counts[keep].astype("<f8", copy=False).tobytes()))


DEFAULT_BAD_COLOR = (255, 0, 0, 255)  # opaque red, as TF1: non-finite pixels


def image_to_uint8(image: np.ndarray, bad_color=DEFAULT_BAD_COLOR) -> np.ndarray:
    """One [height, width, channels] float image -> uint8, by TF1's rule.

    All values >= 0: scaled so the largest is 255. Some negative: scaled by
    the largest magnitude to [-127, 127] and shifted by 128. Pixels with a
    non-finite channel become `bad_color`. uint8 images pass unchanged.
    """
    if image.dtype == np.uint8:
        return image
    depth = image.shape[-1]
    finite = np.isfinite(image).all(axis=-1)
    if finite.any():
        image_min, image_max = float(image[finite].min()), float(image[finite].max())
    else:
        image_min, image_max = np.inf, -np.inf
    zero_threshold = 1e-6
    if image_min < 0:
        max_magnitude = max(abs(image_min), abs(image_max))
        scale, offset = (0.0 if max_magnitude < zero_threshold else 127.0 / max_magnitude), 128.0
    else:
        scale, offset = (0.0 if image_max < zero_threshold else 255.0 / image_max), 0.0
    kind = image.dtype.type
    scaled = np.where(finite[..., None], image, 0) * kind(scale) + kind(offset)
    result = scaled.astype(np.uint8)  # truncates toward zero, as Eigen's cast
    result[~finite] = np.asarray(bad_color[:depth], dtype=np.uint8)
    return result


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 [height, width, 1|3|4] image (Pillow, a TensorBoard dependency)."""
    from PIL import Image

    mode = {1: "L", 3: "RGB", 4: "RGBA"}[image.shape[-1]]
    pixels = image[..., 0] if image.shape[-1] == 1 else image
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels), mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def image_summary(tag: str, images, max_images: int = 3, bad_color=DEFAULT_BAD_COLOR) -> bytes:
    """A Summary with up to `max_images` PNG images of a [batch, h, w, 1|3|4] tensor (TF1's ImageSummary).

    Tags are `tag/image` for max_images 1, else `tag/image/0`, `tag/image/1` ...
    """
    array = np.asarray(images)
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise SummaryValueError(f"Tensor must be 4-D with last dim 1, 3, or 4, not {format_dims_as_list(array.shape)} "
                                f"(tag '{tag}')")
    if array.shape[1] < 1 or array.shape[2] < 1:
        raise SummaryValueError(f"image dimensions must be positive, got {list(array.shape)} (tag '{tag}')")
    summary_pb2 = protos().summary_pb2
    values = []
    for i in range(min(array.shape[0], max_images)):
        pixels = image_to_uint8(array[i], bad_color)
        name = f"{tag}/image" if max_images == 1 else f"{tag}/image/{i}"
        values.append(summary_pb2.Summary.Value(tag=name, image=summary_pb2.Summary.Image(
            height=pixels.shape[0], width=pixels.shape[1], colorspace=pixels.shape[2],
            encoded_image_string=encode_png(pixels))))
    return summary_pb2.Summary(value=values).SerializeToString()


def summary_metadata(plugin_name: str) -> bytes:
    """A serialized SummaryMetadata naming the TensorBoard plugin that shows the summary."""
    summary_pb2 = protos().summary_pb2
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin_name)).SerializeToString()


def tensor_summary(tag: str, value, plugin_name: str = "") -> bytes:
    """A Summary holding a whole tensor as a TensorProto (TF1's TensorSummaryV2; text with plugin "text")."""
    modules = protos()
    summary_pb2 = modules.summary_pb2
    metadata = summary_pb2.SummaryMetadata.FromString(summary_metadata(plugin_name))
    tensor = modules.tensor_util.make_tensor_proto(np.asarray(value))
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, metadata=metadata, tensor=tensor)]) \
        .SerializeToString()


def merge_summaries(serialized: list, known_tags=None) -> bytes:
    """One Summary with the values of all of `serialized`'s elements, in order (TF1's MergeSummary).

    `known_tags`, if given, holds per input the tags of its values when the input is a `bytes` Summary
    made in this step by a summary op of known tags (ops/summary_ops.py), else None: those inputs are
    not parsed again. Every other input (a constant, a fed string tensor) is parsed. A tag found twice,
    or an input that is no Summary, is a SummaryValueError, as in TF1.
    """
    tags: set = set()
    parts = []
    for item, item_tags in zip(serialized, known_tags or [None] * len(serialized)):
        if item_tags is not None and type(item) is bytes:  # fed strings are arrays: never taken on trust
            parts.append(item)
            _add_tags(tags, item_tags)
            continue
        # An input is a string tensor of any shape, each element a serialized Summary (a constant's value
        # is an object array: `bytes()` of that would be its buffer, the element pointers, not the strings).
        for element in np.asarray(item, dtype=object).reshape(-1):
            part = bytes(element)
            _add_tags(tags, [value.tag for value in _parse_summary(part).value])
            parts.append(part)
    # A Summary is one repeated field, so serialized Summaries laid end to end are the Summary of all
    # their values in order (protobuf's rule for repeated fields): no copy of each value into a new
    # message and no serialization again (a third of the merge's time, parsing is the rest).
    return b"".join(parts)


def _parse_summary(part: bytes):
    summary_pb2 = protos().summary_pb2
    try:
        return summary_pb2.Summary.FromString(part)
    except protos().DecodeError:
        raise SummaryValueError("Could not parse one of the summary inputs") from None


def _add_tags(tags: set, new_tags) -> None:
    """Adds `new_tags` to the `tags` seen so far in a merge; one already there is TF1's error."""
    for tag in new_tags:
        if tag in tags:
            raise SummaryValueError(f"Duplicate tag {tag} found in summary inputs")
        tags.add(tag)
