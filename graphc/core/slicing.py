"""Index maps of the slicing ops: which input element each output element reads.

`Slice`, `StridedSlice` and its gradient all read (or write) an input through an
affine map: output coordinate i along output axis k reads input coordinate
`start[d] + i * step` on input axis d, input axes dropped by a shrinking index
stay at their start, and new axes (tf.newaxis) read nothing. `IndexMap` holds
that map; the shape rules, the NumPy references and the kernels all use it,
so they cannot disagree about what a spec means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from graphc.core.registry import ShapeError


@dataclass(frozen=True)
class IndexMap:
    """starts: per input axis. axes: per output axis, (input axis or None for a new axis, step).
    out_dims: per output axis (None where unknown while building)."""

    starts: tuple
    axes: tuple
    out_dims: tuple

    def element_strides(self, in_strides) -> tuple[int, list]:
        """(offset of output element 0, per output axis its stride) in the input's elements."""
        offset = sum(start * stride for start, stride in zip(self.starts, in_strides))
        return offset, [0 if axis is None else step * in_strides[axis] for axis, step in self.axes]

    def _coordinates(self) -> list:
        """Per input axis, the input coordinates the output reads along it, in order."""
        lengths = {axis: length for (axis, _), length in zip(self.axes, self.out_dims) if axis is not None}
        steps = {axis: step for axis, step in self.axes if axis is not None}
        return [np.arange(lengths.get(d, 1), dtype=np.int64) * steps.get(d, 1) + start
                for d, start in enumerate(self.starts)]

    def gather(self, x: np.ndarray) -> np.ndarray:
        """The NumPy reference: every output element read by explicit coordinates."""
        coordinates = self._coordinates()
        picked = x[np.ix_(*coordinates)] if coordinates else x
        return np.array(picked.reshape(self.out_dims))

    def scatter(self, dy: np.ndarray, in_shape) -> np.ndarray:
        """The adjoint of `gather`: dy placed into zeros of `in_shape`."""
        out = np.zeros(in_shape, dtype=dy.dtype)
        coordinates = self._coordinates()
        if coordinates:
            out[np.ix_(*coordinates)] = dy.reshape([len(c) for c in coordinates])
        else:
            out[...] = dy
        return out


def _vector(value, what: str) -> Optional[list]:
    if value is None:
        return None
    if isinstance(value, tuple) and None in value:
        return None
    flat = np.asarray(value)
    if flat.ndim > 1:
        raise ShapeError(f"Shape must be rank 1 but is rank {flat.ndim} ({what})")
    return [int(v) for v in flat.reshape(-1).tolist()]


def slice_map(dims, begin, size) -> tuple:
    """`tf.slice`: (out dims, IndexMap or None while dims, begin or size are unknown)."""
    begin, size = _vector(begin, "begin"), _vector(size, "size")
    rank = None if dims is None else len(dims)
    if rank is not None and ((begin is not None and len(begin) != rank) or (size is not None and len(size) != rank)):
        raise ShapeError(f"Expected begin and size arguments to be 1-D tensors of size {rank}, but got shapes "
                         f"[{len(begin) if begin is not None else '?'}] and "
                         f"[{len(size) if size is not None else '?'}] instead")
    if size is None:
        return (None if rank is None else (None,) * rank), None
    out = []
    for d, length in enumerate(size):
        extent = None if dims is None else dims[d]
        start = None if begin is None else begin[d]
        if start is not None and start < 0:
            raise ShapeError(f"Expected begin[{d}] >= 0, but got {start}")
        if length == -1:
            out.append(None if extent is None or start is None else extent - start)
        elif length < -1:
            raise ShapeError(f"Expected size[{d}] >= -1, but got {length}")
        else:
            out.append(length)
        if extent is not None and start is not None:
            if start > extent:
                raise ShapeError(f"Expected begin[{d}] in [0, {extent}], but got {start}")
            if out[-1] is not None and start + out[-1] > extent:
                raise ShapeError(f"Expected size[{d}] in [0, {extent - start}], but got {length}")
    out = tuple(out)
    if begin is None or dims is None or None in out:
        return out, None
    return out, IndexMap(tuple(begin), tuple((d, 1) for d in range(len(out))), out)


STRIDED_SLICE_MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")


def strided_slice_map_of(dims, attrs) -> tuple:
    """`strided_slice_map` with begin, end, strides and the masks taken from an op's attrs."""
    return strided_slice_map(dims, attrs["begin"], attrs["end"], attrs["strides"],
                             **{m: attrs[m] for m in STRIDED_SLICE_MASKS})


def _bits(mask: int) -> list:
    return [bool(mask >> i & 1) for i in range(64)]


def strided_slice_map(dims, begin, end, strides, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                      shrink_axis_mask=0) -> tuple:
    """`tf.strided_slice` with TF's masks: (out dims, IndexMap or None while something is unknown)."""
    begin, end, strides = _vector(begin, "begin"), _vector(end, "end"), _vector(strides, "strides")
    if dims is None or begin is None or end is None or strides is None:
        return None, None
    if not len(begin) == len(end) == len(strides):
        raise ShapeError(f"Expected begin, end, and strides to be 1D equal size tensors, but got shapes "
                         f"[{len(begin)}], [{len(end)}], and [{len(strides)}] instead.")
    ellipsis, new_axis, shrink = _bits(ellipsis_mask), _bits(new_axis_mask), _bits(shrink_axis_mask)
    begin_masked, end_masked = _bits(begin_mask), _bits(end_mask)
    if sum(ellipsis[:len(begin)]) > 1:
        raise ShapeError("Multiple ellipses in slice spec not allowed")
    # Without an ellipsis the spec ends with an implicit one.
    entries = list(range(len(begin)))
    consuming = sum(1 for i in entries if not ellipsis[i] and not new_axis[i])
    if not any(ellipsis[:len(begin)]):
        entries.append("ellipsis")
    if consuming > len(dims):
        raise ShapeError(f"Index out of range using input dim {len(dims)}; input has only {len(dims)} dims")
    starts = [0] * len(dims)
    axes, out = [], []
    d = 0
    for entry in entries:
        if entry == "ellipsis" or ellipsis[entry]:
            for _ in range(len(dims) - consuming):
                axes.append((d, 1))
                out.append(dims[d])
                d += 1
            continue
        i = entry
        if new_axis[i]:
            axes.append((None, 1))
            out.append(1)
            continue
        step, extent = strides[i], dims[d]
        if step == 0:
            raise ShapeError(f"strides[{i}] must be non-zero")
        if shrink[i]:
            index = begin[i]
            if extent is not None:
                if not -extent <= index < extent:
                    raise ShapeError(f"slice index {index} of dimension {d} out of bounds.")
                starts[d] = index % extent
            d += 1
            continue
        if extent is None:
            axes.append((d, step))
            out.append(None)
            d += 1
            continue
        low, high = (0, extent) if step > 0 else (-1, extent - 1)

        def bound(value, masked, default):
            if masked:
                return default
            value = value + extent if value < 0 else value
            return min(max(value, low), high)

        start = bound(begin[i], begin_masked[i], 0 if step > 0 else extent - 1)
        stop = bound(end[i], end_masked[i], extent if step > 0 else -1)
        length = max(0, -(-(stop - start) // step))
        starts[d] = start if length else 0
        axes.append((d, step))
        out.append(length)
        d += 1
    out = tuple(out)
    if None in out or None in dims:
        return out, None
    return out, IndexMap(tuple(starts), tuple(axes), out)


MIRROR_SKIP = {"REFLECT": 1, "SYMMETRIC": 0}  # edge elements a mirror mode does not repeat


def mirror_source(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """The input index each position of an axis mirror-padded by (before, after) copies.

    Position i - before is reflected at the axis ends: REFLECT (skip 1) mirrors about the
    edge element, SYMMETRIC (skip 0) repeats it. Legal paddings (at most size - skip)
    need one reflection at most, so every index lands in [0, size).
    """
    skip = MIRROR_SKIP[mode]
    i = np.arange(-before, size + after)
    i = np.where(i < 0, skip - 1 - i, i)
    return np.where(i >= size, 2 * size - 1 - skip - i, i)
