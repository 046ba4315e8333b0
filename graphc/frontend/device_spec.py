"""`tf.DeviceSpec`: a (possibly partial) device name, `/job:J/replica:R/task:T/device:TYPE:INDEX`.

Parsed and printed as TF1 does: `"/gpu:0"`, `"GPU:0"` and `"/device:GPU:0"` are
all `/device:GPU:0`; a type without an index is `/device:CPU:*`. Nested
`tf.device` scopes merge field by field, the inner scope's fields winning
(`Graph.device`); the session places ops by these specs (`graphc/placement.py`).
"""

from __future__ import annotations

from typing import Optional

# Device types a bare `/gpu:0` component may name (TF 1.15 knew CPU and GPU; TF 2 adds TPU).
_SHORT_DEVICE_TYPES = ("CPU", "GPU", "TPU")
_FIELDS = ("job", "replica", "task", "device_type", "device_index")


class DeviceSpec:
    """A device name's five optional fields; None is "any"."""

    def __init__(self, job: Optional[str] = None, replica=None, task=None, device_type: Optional[str] = None,
                 device_index=None):
        self.job = None if job is None else str(job)
        self.replica = None if replica is None else int(replica)
        self.task = None if task is None else int(task)
        # TF keeps lowercase cpu/gpu for backwards compatibility by uppercasing them.
        self.device_type = device_type.upper() if device_type in ("cpu", "gpu") else device_type
        self.device_index = None if device_index is None else int(device_index)

    @classmethod
    def from_string(cls, spec: Optional[str]) -> "DeviceSpec":
        """Parses `spec` ("" and None are the empty spec); ValueError for a malformed one, as TF raises."""
        fields: dict = {}
        for part in (spec or "").split("/"):
            pieces = part.split(":")
            key = pieces[0]
            if len(pieces) == 2 and key in ("job", "replica", "task"):
                fields[key] = pieces[1]
            elif len(pieces) in (1, 2) and key.upper() in _SHORT_DEVICE_TYPES:
                cls._set_device(fields, spec, key.upper(), pieces[1] if len(pieces) == 2 else "*")
            elif len(pieces) == 3 and key == "device":
                cls._set_device(fields, spec, pieces[1], pieces[2])
            elif key != "":
                raise ValueError(f"Unknown attribute '{key}' is encountered while parsing the device spec: "
                                 f"'{spec}'.")
        return cls(**fields)

    @staticmethod
    def _set_device(fields: dict, spec: str, device_type: str, index: str) -> None:
        if "device_type" in fields:
            raise ValueError(f"Multiple device types are not allowed while parsing the device spec: {spec}.")
        fields["device_type"] = device_type
        fields["device_index"] = None if index == "*" else int(index)

    def to_string(self) -> str:
        """The canonical name: the fields that are set, in TF's order."""
        parts = []
        if self.job is not None:
            parts.append(f"/job:{self.job}")
        if self.replica is not None:
            parts.append(f"/replica:{self.replica}")
        if self.task is not None:
            parts.append(f"/task:{self.task}")
        if self.device_type is not None:
            index = "*" if self.device_index is None else self.device_index
            parts.append(f"/device:{self.device_type}:{index}")
        return "".join(parts)

    def make_merged_spec(self, dev: "DeviceSpec") -> "DeviceSpec":
        """A new spec: this one's fields, overridden by those `dev` sets."""
        return DeviceSpec(**{name: getattr(dev, name) if getattr(dev, name) is not None else getattr(self, name)
                             for name in _FIELDS})

    def merge_from(self, dev: "DeviceSpec") -> None:
        """TF1's in-place merge: the fields `dev` sets replace this spec's."""
        merged = self.make_merged_spec(dev)
        for name in _FIELDS:
            setattr(self, name, getattr(merged, name))

    def parse_from_string(self, spec: str) -> "DeviceSpec":
        """TF1's in-place parse: this spec becomes `spec`'s fields; returns itself."""
        parsed = DeviceSpec.from_string(spec)
        for name in _FIELDS:
            setattr(self, name, getattr(parsed, name))
        return self

    def replace(self, **fields) -> "DeviceSpec":
        """A copy with `fields` replaced."""
        return DeviceSpec(**{name: fields.get(name, getattr(self, name)) for name in _FIELDS})

    def __eq__(self, other) -> bool:
        return isinstance(other, DeviceSpec) and self.to_string() == other.to_string()

    def __hash__(self) -> int:
        return hash(self.to_string())

    def __repr__(self) -> str:
        return f"<DeviceSpec {self.to_string()!r}>"


def merge_device(outer: DeviceSpec, current: str) -> str:
    """`current` (an op's device so far) completed by an enclosing `tf.device(outer)` scope."""
    return outer.make_merged_spec(DeviceSpec.from_string(current)).to_string()
