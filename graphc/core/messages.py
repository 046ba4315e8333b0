"""TensorFlow's texts for run-time failures, shared by the NumPy references and the kernels.

A kernel reports through graphc_fail, whose format takes `%lld` placeholders
for run-time numbers; a reference raises with the numbers filled in. Both
build their text here, so the oracle and the compiled code say the same thing.
"""

from __future__ import annotations

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
