"""A fetch of a statistic of a tensor, which the compiled step computes and the graph does not hold."""

from __future__ import annotations

from dataclasses import dataclass

from graphc.frontend.graph import Tensor


@dataclass(frozen=True)
class ReducedFetch:
    """`reduction(tensor)` as a fetch of the compiled step, `reduction` an IR op's registry name: what
    the session asks the step for when a host op needs only a statistic of its input (a histogram
    summary's buckets, `OpDef.device_reduction`), so that the tensor itself never leaves the step."""

    tensor: Tensor
    reduction: str

    @property
    def name(self) -> str:
        """A name for dumps and signature labels."""
        return f"{self.tensor.name}/{self.reduction}"
