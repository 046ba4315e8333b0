"""Fetches the session finishes on the host after the native call: summaries and strings.

Two kinds of op run on the host, never in native code:

- host ops (role HOST, e.g. ScalarSummary): the compiled step computes the
  tensors they read, and the session then calls the op's host function on
  their values; for an op with a `device_reduction` (HistogramSummary) the
  step computes that statistic of the tensor (a ReducedFetch), which the host
  function receives instead;
- ops whose outputs are strings (`tf.string` tensors are host data: a Python
  bytes object per element). Only ops with no arithmetic run there, each by its
  role: a Const gives its value, a Placeholder the value fed to it, a
  forwarding op (Identity) its input's value. Any other string op raises
  UnimplementedError naming it.

`plan_fetches` splits a run's fetch elements into what the compiled step must
produce and a `finish` function that turns its results (and the strings fed)
into the values the user asked for, running on the way the host ops with no
output (tf.print) the fetches depend on through control dependencies.
"""

from __future__ import annotations

import weakref
from typing import Callable, Optional

import numpy as np

from graphc import errors
from graphc.core import dtypes, messages
from graphc.core.registry import Role
from graphc.core.tensor_shape import format_dims_as_list
from graphc.frontend.graph import Operation
from graphc.frontend.reduced_fetch import ReducedFetch


def is_host_op(op: Operation) -> bool:
    """Whether `op` runs on the host after the compiled step (a summary, or an op making strings)."""
    return op.op_def.role is Role.HOST or any(t.dtype is dtypes.string for t in op.outputs)


def _host_op_of(element) -> Optional[Operation]:
    op = element if isinstance(element, Operation) else element.op
    return op if is_host_op(op) else None


def _run_on_host(op: Operation, inputs: list):
    """The value of `op`'s one output from its inputs' values, by what its role says it computes."""
    role = op.op_def.role
    if role is Role.HOST:
        return op.op_def.host_function(op, inputs)
    if role is Role.CONSTANT:
        return op.attrs["value"]
    if role is Role.FORWARD:
        return inputs[0]
    if role is Role.PLACEHOLDER:  # a placeholder fed never runs: finish takes its value from the feeds
        t = op.outputs[0]
        raise errors.InvalidArgumentError(None, op, messages.unfed_placeholder(
            op.name, t.dtype.name, format_dims_as_list(t._dims)))
    raise errors.UnimplementedError(
        None, op, messages.unsupported_string_op(op.type, op.name))


_graphs_scanned = weakref.WeakKeyDictionary()  # graph -> (ops scanned, whether one is a host effect)


def _is_host_effect(op: Operation) -> bool:
    return not op.outputs and op.op_def.role is Role.HOST


def _has_host_effects(graph) -> bool:
    """Whether `graph` has a host op with no outputs, scanning only the ops added since last asked."""
    scanned, found = _graphs_scanned.get(graph, (0, False))
    ops = graph.get_operations()
    found = found or any(_is_host_effect(op) for op in ops[scanned:])
    _graphs_scanned[graph] = (len(ops), found)
    return found


def _host_effects_required(elements: list) -> list:
    """The host ops with no outputs (tf.print's PrintV2) that `elements` depend on, in graph order: TF runs
    an op a fetch depends on through a control dependency, so these print when the step runs. (A graph
    without any is not walked: most are not.)"""
    if not elements or not _has_host_effects(elements[0].graph):
        return []
    seen, stack, effects = set(), [e if isinstance(e, Operation) else e.op for e in elements], []
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        if _is_host_effect(op):
            effects.append(op)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return sorted((e for e in effects if e not in elements), key=lambda op: op._id)


def plan_fetches(elements: list) -> tuple[list, Optional[Callable]]:
    """(device elements, finish) for fetch `elements` (Tensors and Operations).

    `finish(device_values, host_feeds)` maps the compiled step's values of the
    device elements (None for Operations) and the string values fed
    (`{id(tensor): array}`) to one value per element. When no element is a host
    op the elements are returned as they are and finish is None, so ordinary
    runs pay nothing.
    """
    effects = _host_effects_required(elements)
    if not effects and not any(_host_op_of(e) is not None for e in elements):
        return elements, None
    device: list = []
    slot_of: dict = {}  # id(element), or (id(tensor), reduction) of a ReducedFetch -> its device slot

    def device_slot(element, key=None) -> int:
        key = id(element) if key is None else key
        if key not in slot_of:
            slot_of[key] = len(device)
            device.append(element)
        return slot_of[key]

    host_ops: list[Operation] = []  # in an order where inputs come first

    def visit(op: Operation, seen: set) -> None:
        if op in seen:
            return
        seen.add(op)
        for control in op.control_inputs:
            device_slot(control)
        reduction = op.op_def.device_reduction
        inputs = []  # (id of the tensor: its key if fed or made on the host, its device slot or None)
        for tensor in op.inputs:
            if is_host_op(tensor.op):
                visit(tensor.op, seen)
                inputs.append((id(tensor), None))
            elif reduction is not None:
                inputs.append((id(tensor), device_slot(ReducedFetch(tensor, reduction), (id(tensor), reduction))))
            else:
                inputs.append((id(tensor), device_slot(tensor)))
        host_ops.append((op, id(op.outputs[0]) if op.outputs else None, inputs))

    seen: set = set()
    for effect in effects:  # run for their effect (a print) only: their value is no fetch's
        visit(effect, seen)
    sources = []  # per element: ("device", slot) or ("host", tensor or op)
    for element in elements:
        host_op = _host_op_of(element)
        if host_op is None:
            sources.append(("device", device_slot(element)))
        else:
            visit(host_op, seen)
            sources.append(("host", element))

    def finish(device_values: list, host_feeds: dict) -> list:
        # What each host op reads was worked out above, once: a step fetching summaries runs this every
        # step. A string fed replaces the value the step or a host op would give the tensor.
        outputs: dict[int, object] = dict(host_feeds)
        for op, output, inputs in host_ops:
            if output in outputs:
                continue  # fed
            value = _run_on_host(op, [outputs[key] if key in outputs else device_values[slot]
                                      for key, slot in inputs])
            if output is not None:
                outputs[output] = value
        return [device_values[where] if kind == "device"
                else None if isinstance(where, Operation) else fetched(outputs[id(where)])
                for kind, where in sources]

    return device, finish


def fetched(value):
    """What `Session.run` gives for a value: a 0-d array as its element (a NumPy scalar, a string's
    bytes), anything else as it is."""
    return value[()] if type(value) is np.ndarray and value.ndim == 0 else value
