"""`tf.print`: the PrintV2 host op, and the text TensorFlow prints for tensors.

In a graph (a TF1 program, a `tf.function`'s trace) `tf.print` adds a PrintV2
op: the compiled step computes the tensors it prints and the session prints them
on the host when the op runs (`OpDef.host_function`, see graphc/host_fetches.py),
to stderr unless `output_stream=sys.stdout`. Eager code prints at once, with the
same text (`format_print`). The text is TF's: floats by `%.6g` if that reads
back exactly, else `%.9g` (float64: 15 and 17 digits), booleans as 1/0, `summarize` elements at each end of a long
dimension with `...` between, Python values in nested lists and dicts as Python
writes them.
"""

from __future__ import annotations

import sys

import numpy as np

from graphc.core import registry
from graphc.core.registry import NOT_DIFFERENTIABLE, OpDef, Role
from graphc.frontend.graph import convert_to_tensor, get_default_graph, graph_of, is_tensor_like

_STREAMS = {"stderr": lambda: sys.stderr, "stdout": lambda: sys.stdout}
_ORIGINAL_STREAMS = {"stderr": lambda: sys.__stderr__, "stdout": lambda: sys.__stdout__}


def _element(value) -> str:
    if isinstance(value, (np.bool_, bool)):
        return "1" if value else "0"
    if isinstance(value, np.floating):  # TF's FloatToBuffer: the short form if it reads back exactly
        short, full = (15, 17) if value.dtype == np.float64 else (6, 9)
        text = "%.*g" % (short, value)
        return text if value.dtype.type(text) == value or np.isnan(value) else "%.*g" % (full, value)
    if isinstance(value, bytes):
        return '"' + value.decode(errors="replace") + '"'
    return str(value)


def _kept(items: list, summarize: int) -> list:
    """`items` with the middle elided when longer than twice `summarize` (-1: all)."""
    if 0 <= summarize and len(items) > 2 * summarize:
        return items[:summarize] + ["..."] + items[len(items) - summarize:]
    return items


def format_tensor(array: np.ndarray, summarize: int = 3) -> str:
    """A tensor's value as tf.print writes it: `[[1 2.5]\\n [3 4]]`."""
    array = np.asarray(array)
    if array.ndim == 0:
        return _element(array[()])

    def nested(part, depth: int) -> str:
        if part.ndim == 1:
            return "[" + " ".join(_kept([_element(v) for v in part], summarize)) + "]"
        rows = _kept([nested(row, depth + 1) for row in part], summarize)
        return "[" + ("\n" * (part.ndim - 1) + " " * (depth + 1)).join(rows) + "]"  # blank lines as NumPy

    return nested(array, 0)


def template_of(value, tensors: list):
    """`value` (nested lists, tuples, dicts) with each tensor leaf replaced by ("tensor", its index in
    `tensors`, which it is appended to); Python leaves as ("python", value)."""
    if isinstance(value, dict):
        return ("dict", tuple((key, template_of(value[key], tensors)) for key in sorted(value)))
    if isinstance(value, (list, tuple)):
        return ("list" if isinstance(value, list) else "tuple", tuple(template_of(v, tensors) for v in value))
    if is_tensor_like(value):
        tensors.append(value)
        return ("tensor", len(tensors) - 1)
    return ("python", value)


def _render(template, values: list, summarize: int, top: bool) -> str:
    kind, content = template
    if kind == "tensor":
        return format_tensor(values[content], summarize)
    if kind == "python":
        return str(content) if top else repr(content)
    if kind == "dict":
        return "{" + ", ".join(f"{key!r}: {_render(v, values, summarize, False)}" for key, v in content) + "}"
    items = [_render(v, values, summarize, False) for v in content]
    if kind == "tuple":
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return "[" + ", ".join(items) + "]"


def format_print(templates: tuple, values: list, sep: str, end: str, summarize: int) -> str:
    """The text tf.print writes for its arguments' `templates` and the values of their tensors."""
    return sep.join(_render(t, values, summarize, True) for t in templates) + end


def stream_name(output_stream) -> str:
    """"stdout" or "stderr" for `output_stream` (sys.stdout, sys.stderr, as they are now or were at start;
    None: stderr); ValueError for others, as TF."""
    if output_stream is None:
        return "stderr"
    for name in _STREAMS:
        if output_stream is _STREAMS[name]() or output_stream is _ORIGINAL_STREAMS[name]():
            return name
    raise ValueError(f"Unsupported output stream, logging level, or file: {output_stream!r}. graphc's tf.print "
                     "writes to sys.stdout or sys.stderr")


def write(text: str, stream: str) -> None:
    """Writes `text` to the named stream (looked up when printing, so redirections are honoured)."""
    out = _STREAMS[stream]()
    out.write(text)
    out.flush()


def _print_on_host(op, values):
    attrs = op.attrs
    write(format_print(attrs["templates"], values, attrs["sep"], attrs["end"], attrs["summarize"]),
          attrs["output_stream"])


print_v2_p = registry.register(OpDef(
    name="print_v2", tf_type="PrintV2", role=Role.HOST, gradient=NOT_DIFFERENTIABLE,
    infer=lambda types, attrs: [], host_function=_print_on_host))


def print_v2(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):
    """`tf.print` in a graph: a PrintV2 op printing `inputs` (tensors, Python values, nested) when it runs,
    to `output_stream` (sys.stdout or sys.stderr; None, the default: sys.stderr)."""
    tensors: list = []
    templates = tuple(template_of(value, tensors) for value in inputs)
    graph = graph_of(tensors) if tensors else get_default_graph()
    with graph.as_default():
        tensors = [convert_to_tensor(t) for t in tensors]
        attrs = {"templates": templates, "sep": sep, "end": end, "summarize": summarize,
                 "output_stream": stream_name(output_stream)}
        return graph.create_op(print_v2_p, tensors, attrs, name=name or "PrintV2")
