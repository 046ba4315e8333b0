"""Loops over the channels of an NHWC pixel: the innermost, contiguous axis of images.

Convolution's im2col/col2im and pooling work on runs of C contiguous elements;
`for_channels` visits them a host vector at a time, then the remainder one
element at a time, and hands the body the lane count so one body serves both.
"""

from __future__ import annotations

from graphc.backend import target
from graphc.backend.kernel_builder import KernelBuilder, i64


def for_channels(kb: KernelBuilder, channels: int, dtype, body) -> None:
    """body(c, lanes) for c = 0, W, 2W, ... (lanes = W, the host's vector width) while a whole
    vector fits in `channels`, then for each remaining c (lanes = 1)."""
    width = target.lanes(dtype)
    vectors = channels // width
    if vectors == 1:
        body(i64(0), width)
    elif vectors > 1:
        with kb.loop(vectors, "cv") as v:
            body(kb.b.mul(v, i64(width)), width)
    rest = channels - vectors * width
    if rest == 1:
        body(i64(vectors * width), 1)
    elif rest > 1:
        with kb.loop(rest, "cr") as r:
            body(kb.b.add(r, i64(vectors * width)), 1)


def load(kb: KernelBuilder, dtype, base, index, lanes: int):
    """base[index : index + lanes] as a scalar (lanes = 1) or a vector."""
    return kb.load(base, dtype, index) if lanes == 1 else kb.load_vector(base, dtype, index, lanes)


def store(kb: KernelBuilder, dtype, base, index, value, lanes: int) -> None:
    if lanes == 1:
        kb.store(base, dtype, index, value)
    else:
        kb.store_vector(base, dtype, index, value)
