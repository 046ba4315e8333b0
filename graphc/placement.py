"""Placing a run's ops on the host's devices, as TF1's placer does on a machine without a GPU.

graphc runs every op on the host CPU. The devices it has are TF's local ones,
`/job:localhost/replica:0/task:0/device:CPU:i` for i below the ConfigProto's
`device_count["CPU"]` (one by default); it has no GPU. An op whose `tf.device`
names another device is refused with TF's InvalidArgumentError, unless
`allow_soft_placement` is on and only the device type or index is unavailable
(a GPU, a CPU beyond the count): soft placement then runs it on CPU:0. A job,
replica or task other than the local one is refused either way, as TF does.
With `log_device_placement` the placement of each op is printed as TF's placer
prints it (`name: (Type): device`, to stdout: TF's printf; its LOG(INFO) copy
goes to stderr only with TF's logger on).

Ops without a device go to CPU:0. (TF's placer may colocate such an op with its
consumer on another CPU device; graphc's devices are one host, so it does not.)
"""

from __future__ import annotations

import sys

from graphc import errors
from graphc.frontend.device_spec import DeviceSpec

LOCAL_JOB = "/job:localhost/replica:0/task:0"


def cpu_device(index: int) -> str:
    """The full name of the host's CPU device `index`."""
    return f"{LOCAL_JOB}/device:CPU:{index}"


class Placer:
    """The devices of one session (from its ConfigProto) and its placement decisions."""

    def __init__(self, cpu_count: int, allow_soft_placement: bool, log_device_placement: bool):
        if cpu_count < 1:
            raise errors.NotFoundError(None, None, "No CPU devices are available in this process")
        self.cpu_count = cpu_count
        self.allow_soft_placement = allow_soft_placement
        self.log_device_placement = log_device_placement

    def place(self, ops) -> None:
        """Checks that each of `ops` (the ops one run needs) can run where it asks; logs where each runs."""
        lines = [f"{op.name}: ({op.type}): {self._device_of(op)}" for op in ops]
        if self.log_device_placement and lines:
            print("\n".join(lines), file=sys.stdout, flush=True)

    def _device_of(self, op) -> str:
        try:
            spec = DeviceSpec.from_string(op.device)
        except ValueError as e:
            raise errors.InvalidArgumentError(None, op, f"Malformed device specification '{op.device}' in node "
                                                        f"{op.name}: {e}") from None
        local = spec.job in (None, "localhost") and spec.replica in (None, 0) and spec.task in (None, 0)
        if spec.device_type is None and local:
            return cpu_device(0)
        if spec.device_type == "CPU" and local and (spec.device_index or 0) < self.cpu_count:
            return cpu_device(spec.device_index or 0)
        if local and self.allow_soft_placement:
            return cpu_device(0)
        raise errors.InvalidArgumentError(None, op, self._refusal(op, spec))

    def _refusal(self, op, spec: DeviceSpec) -> str:
        available = ", ".join(cpu_device(i) for i in range(self.cpu_count))
        hint = " The requested device appears to be a GPU, but CUDA is not enabled." \
            if spec.device_type == "GPU" else ""
        return (f"Cannot assign a device for operation {op.name}: {{{{node {op.name}}}}} was explicitly assigned "
                f"to {spec.to_string()} but available devices are [ {available} ]. Make sure the device "
                f"specification refers to a valid device.{hint}")
