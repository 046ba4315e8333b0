"""TensorFlow's texts for run-time failures, shared by the NumPy references and the kernels.

A kernel reports through graphc_fail, whose format takes `%lld` placeholders
for run-time numbers; a reference raises with the numbers filled in. Both
build their text here, so the oracle and the compiled code say the same thing.
"""

from __future__ import annotations

import numpy as np

INTEGER_DIVISION_BY_ZERO = "Integer division by zero"
NEGATIVE_INTEGER_POWER = "Integers to negative integer powers are not allowed"


def label_out_of_range(label, classes) -> str:
    """A sparse cross-entropy label outside [0, classes): pass "%lld" twice for the kernel's format."""
    return f"Received a label value of {label} which is outside the valid range of [0, {classes})."


def check_numerics_failure(has_nan: bool, has_inf: bool, message: str) -> str:
    """A failed `tf.check_numerics` with the user's `message`."""
    found = "Inf and NaN" if has_nan and has_inf else "NaN" if has_nan else "Inf"
    return f"{message} : Tensor had {found} values"


def unfed_placeholder(name: str, dtype_name: str, shape_text: str) -> str:
    """A run that needs placeholder `name` and was not fed it."""
    return f"You must feed a value for placeholder tensor '{name}' with dtype {dtype_name} and shape {shape_text}"


def unsupported_string_op(op_type: str, name: str) -> str:
    """An op graphc cannot run on strings (see graphc/host_fetches.py)."""
    return (f"graphc does not support the string op {op_type} ('{name}'): string tensors live on the host, where "
            "graphc runs only constants, placeholders, identities and summaries of them")


def gather_out_of_range(position, index, limit) -> str:
    """TF's message for an index outside [0, limit) (the kernel passes "%lld" for each)."""
    return f"indices[{position}] = {index} is not in [0, {limit})"


def segment_out_of_range(position, segment, count) -> str:
    """TF's message for a segment id at or past num_segments (the kernel passes "%lld" for each)."""
    return f"segment_ids[{position}] = {segment} is out of range [0, {count})"


def gather_nd_of_empty_params(shape) -> str:
    """TF's message for index tuples into params with no element (even when each tuple's slice is empty)."""
    return "Requested more than 0 entries, but params is empty.  Params shape: " + str(list(shape)).replace(" ", "")


def gather_nd_out_of_range(shape) -> str:
    """The message for an index tuple outside `shape` (the kernel passes "%lld" for the position, the
    component and its value)."""
    return ("indices[%lld] does not index into param shape " + str(list(shape)).replace(" ", "")
            + ": component %lld is %lld")


def sampler_exhausted(num_sampled, found, draws) -> str:
    """The message of a unique sample that ran out of draws (the kernel passes "%lld" for `found`)."""
    return (f"the log-uniform sampler found {found} distinct candidates of the {num_sampled} asked in {draws} "
            "draws; ask for fewer, or a larger range_max")


def summarize_element(value) -> str:
    """One element as TensorFlow's Tensor::SummarizeValue writes it (runtime_c/status.c writes the same):
    floats by the shortest of %.6g and %.9g (float64: 15 and 17 digits) that reads back exactly, booleans as
    1 and 0, strings C-escaped."""
    if isinstance(value, (bytes, str)):
        raw = value if isinstance(value, bytes) else value.encode()
        return raw.decode("latin-1").encode("unicode_escape").decode("ascii").replace('"', '\\"')
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, np.floating):
        if np.isnan(value):
            return "-nan" if np.signbit(value) else "nan"
        short, full = (15, 17) if value.dtype == np.float64 else (6, 9)
        text = "%.*g" % (short, value)
        return text if value.dtype.type(text) == value else "%.*g" % (full, value)
    return str(value)


def summarize_value(array, summarize: int) -> str:
    """TensorFlow's Tensor::SummarizeValue(summarize) (the legacy form tf.Assert writes): the first `summarize`
    elements (negative: all), rows of the last dimension in brackets but the outermost, `...` where cut."""
    array = np.asarray(array)
    flat = array.reshape(-1)
    limit = flat.size if summarize < 0 else min(summarize, flat.size)
    parts: list = []
    index = 0

    def dimension(dim: int) -> None:
        nonlocal index
        if index >= limit:
            return
        if dim == array.ndim - 1:
            for i in range(array.shape[dim]):
                if index >= limit:
                    if dim != 0:
                        parts.append("...")
                    return
                parts.append((" " if i > 0 else "") + summarize_element(flat[index]))
                index += 1
            return
        for _ in range(array.shape[dim]):
            opened = index < limit
            if opened:
                parts.append("[")
            dimension(dim + 1)
            if index < limit or opened:
                parts.append("]")

    if array.ndim == 0:
        parts += [summarize_element(v) for v in flat[:limit]]
    else:
        dimension(0)
    if flat.size > limit:
        parts.append("...")
    return "".join(parts)


def assertion_format(format_text, count: int) -> str:
    """A tf.Assert op's message format: its `format` attribute, or, for an Assert imported from a TensorFlow
    GraphDef (which has none, and keeps only the data graphc's export wrote), one summary per value."""
    return format_text if format_text is not None else "assertion failed: " + " ".join(["[%v]"] * count)


def assertion_failure(format_text: str, values, summarize: int) -> str:
    """A failed `tf.Assert`'s message: `format_text` (the op's, "assertion failed: [...] [%v]") with each `%v`
    replaced by the summary of the next of `values` and `%%` by `%`, as runtime_c's graphc_fail_summarized."""
    pieces = format_text.split("%%")
    values = iter(values)
    out = []
    for piece in pieces:
        chunks = piece.split("%v")
        out.append("".join(chunk if k == 0 else summarize_value(next(values), summarize) + chunk
                           for k, chunk in enumerate(chunks)))
    return "%".join(out)
