"""`tf.print` in eager code: prints at once; inside a `tf.function`, a PrintV2 op of the trace.

The text is graphc.ops.logging_ops' (TF's). A trace's PrintV2 ops run on the
host after each call's native step, in the order they were traced (see
graphc.eager.function).
"""

from __future__ import annotations

import numpy as np

from graphc.eager.context import TraceStep, context, eager_function
from graphc.ops import logging_ops


def print_(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):
    """`tf.print`: writes `inputs` (tensors, variables, Python values, nested) to `output_stream` (sys.stdout or
    sys.stderr; None, the default: sys.stderr)."""
    if isinstance(context().step(), TraceStep):
        eager_function(logging_ops.print_v2, "print")(*inputs, output_stream=output_stream, summarize=summarize,
                                                      sep=sep, end=end, name=name)
        return None
    tensors: list = []
    templates = tuple(logging_ops.template_of(value, tensors) for value in inputs)
    text = logging_ops.format_print(templates, [np.asarray(t) for t in tensors], sep, end, summarize)
    logging_ops.write(text, logging_ops.stream_name(output_stream))
    return None
