"""Fetches the session finishes on the host after the native call (summaries).

A host op (role HOST, e.g. ScalarSummary) is not compiled:
the compiled step computes the tensors it reads, and the session then calls
the op's host function on their values. `plan_fetches` splits a run's fetch
elements into what the compiled step must produce and a `finish` function
that turns its results into the values the user asked for.
"""

from __future__ import annotations

from typing import Callable, Optional

from graphc.core.registry import Role
from graphc.frontend.graph import Operation, Tensor


def is_host_op(op: Operation) -> bool:
    """Whether `op` runs on the host after the compiled step."""
    return op.op_def.role is Role.HOST


def _host_op_of(element) -> Optional[Operation]:
    op = element if isinstance(element, Operation) else element.op
    return op if is_host_op(op) else None


def plan_fetches(elements: list) -> tuple[list, Optional[Callable]]:
    """(device elements, finish) for fetch `elements` (Tensors and Operations).

    `finish(device_values)` maps the compiled step's values of the device
    elements (None for Operations) to one value per element. When no element
    is a host op the elements are returned as they are and finish is None, so
    ordinary runs pay nothing. (Host ops output strings, which cannot be fed.)
    """
    if not any(_host_op_of(e) is not None for e in elements):
        return elements, None
    device: list = []
    slot_of: dict[int, int] = {}

    def device_slot(element) -> int:
        if id(element) not in slot_of:
            slot_of[id(element)] = len(device)
            device.append(element)
        return slot_of[id(element)]

    host_ops: list[Operation] = []  # in an order where inputs come first

    def visit(op: Operation, seen: set) -> None:
        if op in seen:
            return
        seen.add(op)
        for control in op.control_inputs:
            device_slot(control)
        for tensor in op.inputs:
            if is_host_op(tensor.op):
                visit(tensor.op, seen)
            else:
                device_slot(tensor)
        host_ops.append(op)

    seen: set = set()
    sources = []  # per element: ("device", slot) or ("host", tensor or op)
    for element in elements:
        host_op = _host_op_of(element)
        if host_op is None:
            sources.append(("device", device_slot(element)))
        else:
            visit(host_op, seen)
            sources.append(("host", element))

    def finish(device_values: list) -> list:
        outputs: dict[int, object] = {}

        def value_of(tensor: Tensor):
            if id(tensor) in outputs:
                return outputs[id(tensor)]
            return device_values[slot_of[id(tensor)]]

        for op in host_ops:
            inputs = [value_of(t) for t in op.inputs]
            outputs[id(op.outputs[0])] = op.op_def.host_function(op, inputs)
        return [device_values[where] if kind == "device"
                else None if isinstance(where, Operation) else outputs[id(where)]
                for kind, where in sources]

    return device, finish
