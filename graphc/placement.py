"""Placing a run's ops on the host's devices, as TF1's placer does on a machine without a GPU.

graphc runs every op on the host CPU. The devices it has are TF's local ones,
`/job:localhost/replica:0/task:0/device:CPU:i` for i below the ConfigProto's
`device_count["CPU"]` (one by default); it has no GPU. An op whose `tf.device`
names another device is refused with TF's InvalidArgumentError, unless
`allow_soft_placement` is on and only the device type or index is unavailable
(a GPU, a CPU beyond the count): soft placement then runs it on CPU:0. A job,
replica or task other than the local one is refused either way, as TF does.
As in TF's DirectSession, a session places its whole graph when it first runs,
and again when the graph has grown since: an op that cannot be placed fails
every run, whatever it fetches. With `log_device_placement` the placement of
each op is printed as TF's placer prints it (`name: (Type): device`, on
stdout: TF's printf; its LOG(INFO) copy goes to stderr only with TF's logger
on). Every device is the one host: the device only decides what is refused.
"""

from __future__ import annotations

import secrets

from graphc import errors
from graphc.core.registry import Role
from graphc.frontend.device_spec import DeviceSpec

LOCAL_JOB = "/job:localhost/replica:0/task:0"


def cpu_device(index: int) -> str:
    """The full name of the host's CPU device `index`."""
    return f"{LOCAL_JOB}/device:CPU:{index}"


_HOST_CPU = cpu_device(0)


# What TF reports as a CPU device's memory limit (its default allocator's, 256 MiB).
_CPU_MEMORY_LIMIT_BYTES = 1 << 28


class DeviceAttributes:
    """One device as `Session.list_devices()` describes it (TF's `_DeviceAttributes`)."""

    def __init__(self, name: str, device_type: str, memory_limit_bytes: int, incarnation: int):
        self.name, self.device_type = name, device_type
        self.memory_limit_bytes, self.incarnation = memory_limit_bytes, incarnation

    def __repr__(self) -> str:
        return (f"_DeviceAttributes({self.name}, {self.device_type}, {self.memory_limit_bytes}, "
                f"{self.incarnation})")


class Placer:
    """The devices of one session (from its ConfigProto) and its placement decisions."""

    def __init__(self, cpu_count: int, allow_soft_placement: bool, log_device_placement: bool):
        if cpu_count < 1:
            raise errors.NotFoundError(None, None, "No CPU devices are available in this process")
        self.cpu_count = cpu_count
        self.allow_soft_placement = allow_soft_placement
        self.log_device_placement = log_device_placement

    def devices(self) -> list:
        """The session's devices: its CPU devices, each with a random incarnation as TF gives them."""
        return [DeviceAttributes(cpu_device(i), "CPU", _CPU_MEMORY_LIMIT_BYTES, secrets.randbits(63))
                for i in range(self.cpu_count)]

    def place(self, ops, placed_before: int = 0) -> None:
        """Places `ops` (a graph's, in creation order) as TF's placer does: the ops that are not generators
        first, then the generators (no inputs, one output that is not a variable), each on the device its
        consumers all share if it asks for none (TF's "heuristic A"). Raises TF's InvalidArgumentError for
        the first op asking for a device the host lacks; logs each placement if asked.

        The first `placed_before` ops were placed already: unless the log shows them all again, as TF's
        does, only the new ones are checked (a graph growing between runs costs only its new ops).
        """
        if not self.log_device_placement:
            for op in ops[placed_before:]:
                self._device_of(op)
            return
        consumers: dict = {}
        for op in ops:
            for producer in [t.op for t in op.inputs] + op.control_inputs:
                consumers.setdefault(producer, []).append(op)
        generators = [op for op in ops if _is_generator(op)]
        placed = {op: self._device_of(op) for op in ops if not _is_generator(op)}
        for op in generators:
            devices = {placed.get(consumer) for consumer in consumers.get(op, [])}
            shared = devices.pop() if len(devices) == 1 else None
            placed[op] = shared if not op.device and shared is not None else self._device_of(op)
        if placed:
            print("\n".join(f"{op.name}: ({op.type}): {device}" for op, device in placed.items()), flush=True)

    def _device_of(self, op) -> str:
        if not op.device:
            return _HOST_CPU
        try:
            spec = DeviceSpec.from_string(op.device)
        except ValueError as e:
            raise errors.InvalidArgumentError(None, op, f"Malformed device specification '{op.device}' in node "
                                                        f"{op.name}: {e}") from None
        local = spec.job in (None, "localhost") and spec.replica in (None, 0) and spec.task in (None, 0)
        if spec.device_type is None and local:
            return _HOST_CPU
        if spec.device_type == "CPU" and local and (spec.device_index or 0) < self.cpu_count:
            return cpu_device(spec.device_index or 0)
        if local and self.allow_soft_placement:
            return _HOST_CPU
        raise errors.InvalidArgumentError(None, op, self._refusal(op, spec))

    def _refusal(self, op, spec: DeviceSpec) -> str:
        available = ", ".join(cpu_device(i) for i in range(self.cpu_count))
        hint = " The requested device appears to be a GPU, but CUDA is not enabled." \
            if spec.device_type == "GPU" else ""
        return (f"Cannot assign a device for operation {op.name}: {{{{node {op.name}}}}} was explicitly assigned "
                f"to {spec.to_string()} but available devices are [ {available} ]. Make sure the device "
                f"specification refers to a valid device.{hint}")


def _is_generator(op) -> bool:
    """TF's generator node: no inputs and one output, not a reference to a variable."""
    return not op.inputs and len(op.outputs) == 1 and op.op_def.role is not Role.VARIABLE
