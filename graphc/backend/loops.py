"""Loop nests that walk a shape in row-major order, one element offset per stream.

A kernel reads and writes several tensors (streams) while visiting one shape:
each stream steps through memory with its own element strides (0 along
broadcast dimensions, permuted for a transpose, negative for `x[::-1]`).
`emit_loops` is the one walker; the stride helpers build and simplify the
strides it takes, and `Periodic` and `horizontal` walk short rows in whole
vectors for the fused kernels.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import llvmlite.ir as ir

from graphc.backend.kernel_builder import I32, I64, KernelBuilder, i64, register_type, undefined
from graphc.core.machine import SHORT_INNER_LOOP


def contiguous_strides(shape) -> list:
    """Element strides of a row-major array of `shape`."""
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= d
    return list(reversed(strides))


def broadcast_strides(in_shape, out_shape) -> list:
    """Element strides reading `in_shape` as if broadcast to `out_shape`."""
    padded = [1] * (len(out_shape) - len(in_shape)) + list(in_shape)
    strides = contiguous_strides(padded)
    return [0 if d == 1 and o != 1 else s for d, o, s in zip(padded, out_shape, strides)]


def coalesce(shape, stride_lists):
    """Merges adjacent dimensions along which every operand steps contiguously."""
    dims = [d for d in shape]
    strides = [list(s) for s in stride_lists]
    axis = len(dims) - 1
    while axis > 0:
        outer, inner = axis - 1, axis
        if all(s[outer] == s[inner] * dims[inner] for s in strides):
            for s in strides:
                s[outer] = s[inner]
                del s[inner]
            dims[outer] *= dims[inner]
            del dims[inner]
        axis -= 1
    dims_and_strides = [(d, [s[i] for s in strides]) for i, d in enumerate(dims) if d != 1]
    return [d for d, _ in dims_and_strides], [[st[k] for _, st in dims_and_strides] for k in range(len(strides))]




def emit_loops(kb: KernelBuilder, shape, strides: list, body: Callable[[list], None],
               outer: Optional[tuple] = None, flatten_short_rows: bool = False) -> None:
    """Visits `shape` row-major; body(offsets) gets each stream's element offset (i64).

    `strides` has one list per stream, one entry per dimension: an element
    stride, or a function index -> the offset that index adds along that
    dimension (mirror padding's lookup tables). Callers merge contiguous
    dimensions first (`coalesce`). `outer` = (begin, end) restricts the
    outermost dimension to a thread's share. With `flatten_short_rows` (integer
    strides only), a shape whose innermost dimension is shorter than
    SHORT_INNER_LOOP is walked as one flat loop (`_emit_flat_loop`) so LLVM
    vectorizes across rows: the fused elementwise loops ask for it. A shape
    with no elements emits nothing.
    """
    if any(d == 0 for d in shape):
        return
    if not shape:
        body([i64(0)] * len(strides))
        return
    total = math.prod(shape)
    if flatten_short_rows and outer is None and len(shape) > 1 and shape[-1] < SHORT_INNER_LOOP and total < 2 ** 31:
        _emit_flat_loop(kb, shape, strides, body, total)
        return

    def advance(offsets, depth, index):
        return [kb.b.add(offset, stream[depth](index) if callable(stream[depth]) else
                         kb.b.mul(index, i64(stream[depth]))) for offset, stream in zip(offsets, strides)]

    def level(depth, offsets):
        if depth == len(shape):
            body(offsets)
            return
        if depth == 0 and outer is not None:
            begin, end = outer
            with kb.loop(kb.b.sub(end, begin), "d0") as local:
                level(1, advance(offsets, 0, kb.b.add(begin, local)))
            return
        with kb.loop(shape[depth], f"d{depth}") as i:
            level(depth + 1, advance(offsets, depth, i))

    level(0, [i64(0)] * len(strides))


def _emit_flat_loop(kb: KernelBuilder, shape, strides: list, body, total: int) -> None:
    """One loop over every element; each stream's offset comes from the flat index.

    The index arithmetic is 32-bit: AVX2 vectorizes 32-bit division by a constant
    and gathers with 32-bit indices, where 64-bit ones are split into scalars.
    """
    b = kb.b
    with kb.loop(total, "flat") as flat:
        rest = b.trunc(flat, I32)
        coordinates = []
        for extent in reversed(shape):
            coordinates.append(b.urem(rest, ir.Constant(I32, extent)))
            rest = b.udiv(rest, ir.Constant(I32, extent))
        coordinates.reverse()
        offsets = []
        for stream in strides:
            offset = ir.Constant(I32, 0)
            for coordinate, stride in zip(coordinates, stream):
                if stride:
                    offset = b.add(offset, b.mul(coordinate, ir.Constant(I32, stride)), flags=["nuw", "nsw"])
            offsets.append(b.zext(offset, I64))
        body(offsets)


class Periodic:
    """How a [rows, cols] region with short rows is walked in whole vectors.

    Element f of the region (row f // cols, column f % cols) goes to lane
    f % lanes. The lane pattern repeats every period of lcm(lanes, cols)
    elements, which is `rows` rows and `vectors` vectors: a [200, 10] region
    with 8 lanes is 50 periods of 4 rows, 5 vectors each. Every stream's
    elements for one vector of a period sit at offsets known at compile time
    from the period's first row, so a vector is one load of the window they
    span, shuffled into lane order: a plain load for a contiguous stream, a
    broadcast for a scalar, a few elements spread over the lanes for a [rows, 1]
    column; a stream whose whole period spans at most one vector (a [rows, 1]
    column) is loaded once a period and each vector shuffled from it. Streams
    constant across rows ([1, cols]) are loaded once, before the loop. Outputs
    are contiguous, so every store is a whole vector.
    """

    def __init__(self, cols: int, lanes: int):
        self.cols, self.lanes = cols, lanes
        self.period = math.lcm(cols, lanes)
        self.rows, self.vectors = self.period // cols, self.period // lanes

    def positions(self, vector: int) -> list:
        """(row within the period, column) of each lane of vector `vector`."""
        return [divmod(vector * self.lanes + lane, self.cols) for lane in range(self.lanes)]

    def gather(self, kb: KernelBuilder, base, dtype, strides, row0, vector: int):
        """The lanes of `vector` in the period starting at row `row0`, of a stream with these strides."""
        b = kb.b
        row_stride, col_stride = strides
        offsets = [row * row_stride + col * col_stride for row, col in self.positions(vector)]
        low, high = min(offsets), max(offsets)
        start = b.add(b.mul(row0, i64(row_stride)), i64(low)) if row_stride else i64(low)
        if low == high:
            return kb.broadcast(kb.load(base, dtype, start), self.lanes)
        window = high - low + 1
        if window > _MAX_WINDOW_VECTORS * self.lanes:  # lanes far apart: one element at a time
            lanes = undefined(ir.VectorType(register_type(dtype), self.lanes))
            for lane, offset in enumerate(offsets):
                element = kb.load(base, dtype, b.add(start, i64(offset - low)))
                lanes = b.insert_element(lanes, element, ir.Constant(I32, lane))
            return lanes
        loaded = kb.load_vector(base, dtype, start, window)
        mask = [offset - low for offset in offsets]
        if mask == list(range(window)):
            return loaded
        return b.shuffle_vector(loaded, undefined(loaded.type),
                                ir.Constant(ir.VectorType(I32, self.lanes), mask))

    def emit_loop(self, kb: KernelBuilder, begin, end, loads, load_strides, period) -> object:
        """Calls period(row0, inputs_by_vector) for each whole period in rows [begin, end).

        inputs_by_vector[v] holds each load stream's vector v of the period. Returns
        the first row after the last whole period (the caller does the rest).
        """
        b = kb.b
        # Streams constant across rows give the same vectors in every period: load them once.
        invariant = {index: self.gather_period(kb, pointer, dtype, strides, i64(0))
                     for index, ((pointer, dtype), strides) in enumerate(zip(loads, load_strides))
                     if strides[0] == 0}
        periods = b.udiv(b.sub(end, begin), i64(self.rows))
        with kb.loop(periods, "period") as index:
            row0 = b.add(begin, b.mul(index, i64(self.rows)))
            streams = [invariant[s] if s in invariant else self.gather_period(kb, pointer, dtype, strides, row0)
                       for s, ((pointer, dtype), strides) in enumerate(zip(loads, load_strides))]
            period(row0, [[vectors[v] for vectors in streams] for v in range(self.vectors)])
        return b.add(begin, b.mul(periods, i64(self.rows)))

    def gather_period(self, kb: KernelBuilder, base, dtype, strides, row0) -> list:
        """Every vector of the period starting at row `row0`, of a stream with these strides. A stream
        whose elements for the whole period fit in one vector (a [rows, 1] column: 8 values for 5
        vectors of ten-wide rows) is loaded once and shuffled into each vector, rather than loaded
        again, in pieces, for each."""
        b = kb.b
        row_stride, col_stride = strides
        offsets = [row * row_stride + col * col_stride for v in range(self.vectors) for row, col in self.positions(v)]
        low, high = min(offsets), max(offsets)
        if low == high or high - low + 1 > self.lanes:
            return [self.gather(kb, base, dtype, strides, row0, v) for v in range(self.vectors)]
        start = b.add(b.mul(row0, i64(row_stride)), i64(low)) if row_stride else i64(low)
        window = kb.load_vector(base, dtype, start, high - low + 1)
        unused = undefined(window.type)
        return [b.shuffle_vector(window, unused, ir.Constant(ir.VectorType(I32, self.lanes), [
            offset - low for offset in offsets[v * self.lanes:(v + 1) * self.lanes]])) for v in range(self.vectors)]


# A stream whose lanes of one vector span more than this many vectors' worth of
# elements is gathered element by element rather than loaded as one window.
_MAX_WINDOW_VECTORS = 4


def horizontal(kb: KernelBuilder, combine: Callable, vector):
    """combine() over the lanes of `vector` (a power of two of them), as a fixed tree:
    halves combined lane by lane until two scalars remain."""
    b = kb.b
    width = vector.type.count
    while width > 2:
        width //= 2
        unused = undefined(vector.type)
        low = b.shuffle_vector(vector, unused, ir.Constant(ir.VectorType(I32, width), list(range(width))))
        high = b.shuffle_vector(vector, unused,
                                ir.Constant(ir.VectorType(I32, width), list(range(width, 2 * width))))
        with kb.vector_lanes(width):
            vector = combine(low, high)
    with kb.vector_lanes(1):
        return combine(b.extract_element(vector, ir.Constant(I32, 0)), b.extract_element(vector, ir.Constant(I32, 1)))


def horizontal_each(kb: KernelBuilder, combine: Callable, vectors: list):
    """`horizontal` of each of `vectors` (a power of two of them, at most their lane count, each a
    power of two of lanes) at once: lane i of the result is vectors[i]'s total (a scalar for one vector).

    The arithmetic is `horizontal`'s tree, lane by lane, but the vectors share each level's
    shuffles: two vectors of g totals in progress, w lanes each, become one of 2g totals of w / 2
    lanes (the low halves against the high halves); a last vector is halved in place. Eight row
    sums of a period take 24 shuffles and additions instead of 96.
    """
    b = kb.b
    if len(vectors) == 1:
        return horizontal(kb, combine, vectors[0])
    lanes = vectors[0].type.count
    assert len(vectors) <= lanes and not len(vectors) & (len(vectors) - 1)
    groups, width = 1, lanes  # each vector: `groups` totals in progress of `width` lanes each
    while len(vectors) > 1 or width > 1:
        half = width // 2
        if len(vectors) > 1:  # pairs of vectors: group g of the pair's second vector counts from lanes
            sources = [(v * lanes + g * width) for v in range(2) for g in range(groups)]
            pairs = [(vectors[i], vectors[i + 1]) for i in range(0, len(vectors), 2)]
            groups *= 2
        else:
            sources = [g * width for g in range(groups)]
            pairs = [(vectors[0], undefined(vectors[0].type))]
        count = groups * half
        low = ir.Constant(ir.VectorType(I32, count), [start + j for start in sources for j in range(half)])
        high = ir.Constant(ir.VectorType(I32, count), [start + half + j for start in sources for j in range(half)])
        with kb.vector_lanes(count):
            vectors = [combine(b.shuffle_vector(first, second, low), b.shuffle_vector(first, second, high))
                       for first, second in pairs]
        width = half
    return vectors[0]
