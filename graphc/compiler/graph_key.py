"""A signature's key as the graph was built: a structural hash cheap enough to compute on every compile.

The disk cache finds a library by its program's text (backend/libraries.py), which
needs lowering and the passes first: most of a cache hit's time for a large step.
This key hashes what lowering reads instead: every op the fetches reach (through
data and control inputs, fed tensors' producers included, so it covers a superset of
what lowering prunes to) with its name, registry op, attributes, inputs, control
inputs and output types; the functions of control-flow ops the same way; the
fetches; the feeds' names, dtypes and shapes in calling order; which of the reached
variables the session has initialised (lowering decides `initialized_value()` by
it); whether the step is profiled. The compiler's fingerprint (graphc's sources,
runtime_c, LLVM, the host CPU) is added by the caller's cache name.

Names are part of the key: the native code's error messages name ops, and the
session binds variables by name. An attribute of a type the key cannot write down
exactly (a Python callable, an object whose repr does not say its value) makes the
signature keyless: it is compiled, and found in the cache by its program's text,
as before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

import numpy as np

from graphc.core.dtypes import DType
from graphc.frontend.function_graph import FunctionGraph
from graphc.frontend.graph import Operation, Tensor, walk_ops
from graphc.frontend.reduced_fetch import ReducedFetch


class _Keyless(Exception):
    """An attribute value the key cannot write down exactly."""


@dataclass(frozen=True)
class GraphKey:
    """The hex digest of a signature's graph, and the ops it covers by name (to resolve a cached step's
    references to variables)."""

    digest: str
    ops: dict  # op name -> Operation, of the fetches' graph


def graph_key(fetches, feed_types: dict, initialized: frozenset, profiled: bool) -> Optional[GraphKey]:
    """The key of compiling `fetches` with `feed_types` (Tensor -> IRType, in calling order), or None
    when some attribute of the graph cannot be written down exactly (see the module docstring)."""
    roots = [_op_of(element) for element in fetches] + [tensor.op for tensor in feed_types]
    if not roots:
        return None
    ops = sorted(walk_ops(roots, _neighbors), key=lambda op: op.name)
    digest = hashlib.sha256()
    try:
        digest.update(_ops_text(ops).encode())
    except _Keyless:
        return None
    fetched = [f"{type(element).__name__}:{element.name}:{getattr(element, 'reduction', '')}" for element in fetches]
    fed = [f"{tensor.name}:{ir_type}" for tensor, ir_type in feed_types.items()]
    names = {op.name: op for op in ops}
    reached_initialized = sorted(name for name in initialized if name in names)
    digest.update(repr((fetched, fed, reached_initialized, bool(profiled))).encode())
    return GraphKey(digest.hexdigest(), names)


def _op_of(element) -> Operation:
    if isinstance(element, ReducedFetch):
        return element.tensor.op
    return element.op if isinstance(element, Tensor) else element


def _neighbors(op: Operation) -> list:
    return [t.op for t in op.inputs] + op.control_inputs


def _ops_text(ops: list) -> str:
    """One line an op: name, registry op, attributes, inputs, ^control inputs -> output types."""
    lines = []
    for op in ops:
        attrs = ",".join(f"{name}={_attr_text(op.attrs[name])}" for name in sorted(op.attrs))
        inputs = ",".join([t.name for t in op.inputs] + ["^" + c.name for c in op.control_inputs])
        outputs = ",".join(f"{t.dtype.name}{t._dims}" for t in op.outputs)
        lines.append(f"{op.name} {op.op_def.name} {{{attrs}}} ({inputs}) -> {outputs}")
    return "\n".join(lines)


def _attr_text(value) -> str:
    """`value` written down exactly, its type included, or _Keyless."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str, bytes):
        return f"{kind.__name__}:{value!r}"
    if isinstance(value, DType):
        return f"dtype:{value.name}"
    if kind in (list, tuple):
        return f"{kind.__name__}[{','.join(_attr_text(item) for item in value)}]"
    if kind is dict:
        return "dict{" + ",".join(f"{_attr_text(k)}:{_attr_text(v)}" for k, v in sorted(value.items(), key=repr)) + "}"
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise _Keyless
        # A broadcast constant (tf.zeros of 2^40 elements is one element with zero strides) is hashed by the
        # elements it holds, never written out whole.
        repeated = tuple(axis for axis, stride in enumerate(array.strides) if stride == 0 and array.shape[axis] > 1)
        held = array[tuple(slice(0, 1) if axis in repeated else slice(None) for axis in range(array.ndim))]
        content = hashlib.sha256(np.ascontiguousarray(held).tobytes()).hexdigest()
        return f"array:{array.dtype.str}{array.shape}:repeated{repeated}:{content}"
    if isinstance(value, FunctionGraph):
        return "function{" + _function_text(value) + "}"
    raise _Keyless


def _function_text(function: FunctionGraph) -> str:
    """A control-flow op's function: its arguments, its results and the ops between them."""
    roots = [t.op for t in function.outputs] + [t.op for t in function.inputs]
    ops = sorted(walk_ops(roots, _neighbors), key=lambda op: op.name)
    head = f"({','.join(t.name for t in function.inputs)}) -> ({','.join(t.name for t in function.outputs)})"
    return head + "\n" + _ops_text(ops)
