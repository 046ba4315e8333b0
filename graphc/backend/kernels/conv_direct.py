"""Direct convolutions for a small im2col depth K = KH*KW*C (a first layer: 3x3x1, 5x5x1).

With K this small the im2col GEMM (kernels/conv.py) is bound by memory, not
arithmetic: each output row of the im2col matrix is K elements written and read
back for 2K multiply-adds per output channel, the GEMM's tile of C is stored
after every K products, and the epilogue reads the block back (the tutorial
CNN's first convolution, K = 9: 38% im2col, 34% GEMM, 28% epilogue). Here each
output pixel gathers its K taps (zero in the padding) into registers once:

    forward:          y[r, o]  = sum over t of tap[r, t] * w[t, o]
                      a vector of output channels is K multiply-adds, w's rows read
                      from L1; then the fused epilogue on each chunk of rows
    filter gradient:  dw[t, o] = sum over r of tap[r, t] * dy[r, o]
                      K accumulators per vector of output channels stay in
                      registers while the rows stream past

The filter gradient sums its rows in FILTER_PARTITIONS fixed partitions, each in
segments of about the square root of its rows (a segment's sum is added to the
partition's partial filter), and the partials are added in order at the end; the
forward sum of each element runs over t in order. Neither depends on the thread
count, so results are bit-identical with any number of threads.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir

from graphc.backend import target
from graphc.backend.kernel_builder import I1, declare, i64, memory_type

# Accumulators the filter gradient keeps in registers at once (of the 32 vector registers of
# AVX-512; with AVX2's 16 a few spill to L1, which still beats the im2col GEMM at this K).
_ACCUMULATORS = 24
# Independent FMA chains that keep both of a core's FMA units busy (two units, 4 cycles of latency).
_LATENCY_CHAINS = 8


class VectorGroups:
    """A run of contiguous channels (here the output channels; conv_tiled.py's panels too) in vectors
    of the host's width, the last one masked if the run is not a multiple of the width."""

    def __init__(self, dtype, channels: int):
        self.width = target.lanes(dtype)
        full, rest = divmod(channels, self.width)
        self.groups = [(i * self.width, None) for i in range(full)]
        if rest:
            lanes = [ir.Constant(I1, int(lane < rest)) for lane in range(self.width)]
            self.groups.append((full * self.width, ir.Constant(ir.VectorType(I1, self.width), lanes)))
        self.dtype = dtype
        self.vector = ir.VectorType(memory_type(dtype), self.width)

    def load(self, kb, base, index, mask):
        if mask is None:
            return kb.load_vector(base, self.dtype, index, self.width)
        return kb.load_vector_masked(base, self.dtype, index, mask, ir.Constant(self.vector, None))

    def store(self, kb, base, index, value, mask) -> None:
        if mask is None:
            kb.store_vector(base, self.dtype, index, value)
        else:
            kb.store_vector_masked(base, self.dtype, index, value, mask)

    def fma(self, kb, scalar, vector, accumulator):
        """accumulator + scalar * vector, as one fused multiply-add per lane."""
        suffix = f"v{self.width}f{8 * self.dtype.size}"
        fmuladd = declare(kb.module, f"llvm.fmuladd.{suffix}", self.vector, [self.vector] * 3)
        return kb.b.call(fmuladd, [kb.broadcast(scalar, self.width), vector, accumulator])


def _window_corner(kb, g, row):
    """(image, top, left) of output pixel `row`'s window: its first tap's input row and column."""
    win, b = g.window, kb.b
    image = b.udiv(row, i64(win.out_h * win.out_w))
    pixel = b.urem(row, i64(win.out_h * win.out_w))
    top = b.sub(b.mul(b.udiv(pixel, i64(win.out_w)), i64(win.stride_h)), i64(win.pad_top))
    left = b.sub(b.mul(b.urem(pixel, i64(win.out_w)), i64(win.stride_w)), i64(win.pad_left))
    return image, top, left


def _taps(kb, g, x, row) -> list:
    """The K entries of the im2col matrix's row `row` (output pixel), in (kh, kw, c) order: x's
    elements each tap reads, zero where it falls in the padding."""
    win, b = g.window, kb.b
    image, top, left = _window_corner(kb, g, row)
    zero = kb.constant(g.dtype, 0, 1)
    taps = []
    for kh in range(win.k_h):
        ih = b.add(top, i64(kh * win.dilation_h))
        inside_h = b.icmp_unsigned("<", ih, i64(g.height))  # negative rows wrap to huge
        for kw in range(win.k_w):
            iw = b.add(left, i64(kw * win.dilation_w))
            inside = b.and_(inside_h, b.icmp_unsigned("<", iw, i64(g.width)))
            start = b.mul(b.add(b.mul(b.add(b.mul(image, i64(g.height)), ih), i64(g.width)), iw), i64(g.channels))
            start = b.select(inside, start, i64(0))  # a safe address; its value is not used
            for c in range(g.channels):
                taps.append(b.select(inside, kb.load(x, g.dtype, b.add(start, i64(c))), zero))
    return taps


def _interior_taps(kb, g, x, row) -> list:
    """_taps of a pixel whose window lies inside the image: loads at constant offsets from its corner."""
    win, b = g.window, kb.b
    image, top, left = _window_corner(kb, g, row)
    corner = b.mul(b.add(b.mul(b.add(b.mul(image, i64(g.height)), top), i64(g.width)), left), i64(g.channels))
    return [kb.load(x, g.dtype, b.add(corner, i64(((kh * win.dilation_h * g.width) + kw * win.dilation_w)
                                                  * g.channels + c)))
            for kh in range(win.k_h) for kw in range(win.k_w) for c in range(g.channels)]


def _with_taps(kb, g, x, rows: list, body) -> None:
    """body(taps of each row): with _interior_taps when every row's window lies inside the image
    (most of a padded image's pixels: no bounds checks, no selects, each tap one load), else with
    _taps. Both give the same values, so the branch changes no result."""
    win, b = g.window, kb.b
    extent_h, extent_w = (win.k_h - 1) * win.dilation_h, (win.k_w - 1) * win.dilation_w
    if extent_h >= g.height or extent_w >= g.width:  # no window fits inside
        body([_taps(kb, g, x, row) for row in rows])
        return
    interior = ir.Constant(I1, 1)
    for row in rows:
        _, top, left = _window_corner(kb, g, row)  # a negative corner wraps to huge
        interior = b.and_(interior, b.and_(b.icmp_unsigned("<", top, i64(g.height - extent_h)),
                                           b.icmp_unsigned("<", left, i64(g.width - extent_w))))
    with b.if_else(interior) as (inside, border):
        with inside:
            body([_interior_taps(kb, g, x, row) for row in rows])
        with border:
            body([_taps(kb, g, x, row) for row in rows])


def forward_tile_rows(groups: int) -> int:
    """Output pixels the forward computes at once, for `groups` vectors of output channels: enough
    independent sums to cover the FMA units' latency (2 units x 4 cycles: 8 chains; one pixel of
    32 float32 channels has only 2, which held conv1 at a third of the peak), at most
    _ACCUMULATORS of them."""
    if groups == 0:  # no output channels: nothing to compute
        return 1
    return max(1, min(-(-_LATENCY_CHAINS // groups), _ACCUMULATORS // groups))


def emit_forward_rows(kb, g, x, w, y, first, last) -> None:
    """y's rows [first, last) (output pixels, O channels each) = their taps @ w, forward_tile_rows
    pixels at a time (the rest one by one): each w row is loaded once for them all, and every
    element still sums its taps in order from zero, so the tiling does not change a bit."""
    groups, b = VectorGroups(g.dtype, g.out_channels), kb.b
    tile = forward_tile_rows(len(groups.groups))
    count = b.sub(last, first)
    tiles = b.udiv(count, i64(tile))
    with kb.loop(tiles, "tile") as i:
        _emit_forward_pixels(kb, g, groups, x, w, y, b.add(first, b.mul(i, i64(tile))), tile)
    if tile > 1:
        with kb.loop(b.sub(count, b.mul(tiles, i64(tile))), "row") as i:
            _emit_forward_pixels(kb, g, groups, x, w, y, b.add(b.add(first, b.mul(tiles, i64(tile))), i), 1)


def _emit_forward_pixels(kb, g, groups: "VectorGroups", x, w, y, row, pixels: int) -> None:
    """y's rows [row, row + pixels): each vector of channels a sum of K FMAs, all interleaved."""
    b = kb.b
    rows = [b.add(row, i64(p)) for p in range(pixels)]

    def products(taps):
        totals = [[ir.Constant(groups.vector, None) for _ in groups.groups] for _ in rows]
        for t in range(g.depth):
            weights = [groups.load(kb, w, i64(t * g.out_channels + c0), mask) for c0, mask in groups.groups]
            for p in range(pixels):
                totals[p] = [groups.fma(kb, taps[p][t], weight, total) for weight, total in zip(weights, totals[p])]
        for r, pixel_totals in zip(rows, totals):
            for (c0, mask), total in zip(groups.groups, pixel_totals):
                groups.store(kb, y, b.add(b.mul(r, i64(g.out_channels)), i64(c0)), total, mask)

    _with_taps(kb, g, x, rows, products)


def emit_filter_gradient_partition(kb, g, x, dy, partial, begin, end) -> None:
    """partial [K, O] = the sum over rows [begin, end) of tap[r, :]^T dy[r, :], in segments."""
    groups, b = VectorGroups(g.dtype, g.out_channels), kb.b
    depth, out = g.depth, g.out_channels
    for c0, mask in groups.groups:  # zero the partial
        for t in range(depth):
            groups.store(kb, partial, i64(t * out + c0), ir.Constant(groups.vector, None), mask)
    rows = g.convolution.rows
    segment = math.isqrt(max(1, -(-rows // g.convolution.tasks)) - 1) + 1
    per_pass = max(1, _ACCUMULATORS // depth)
    for block_start in range(0, len(groups.groups), per_pass):
        block = groups.groups[block_start:block_start + per_pass]
        sums = [[kb.variable(groups.vector) for _ in block] for _ in range(depth)]
        with kb.loop(b.udiv(b.add(b.sub(end, begin), i64(segment - 1)), i64(segment)), "segment") as s:
            first = b.add(begin, b.mul(s, i64(segment)))
            last = b.add(first, i64(segment))
            last = b.select(b.icmp_signed("<", last, end), last, end)
            for row_sums in sums:
                for slot in row_sums:
                    kb.set(slot, ir.Constant(groups.vector, None))
            with kb.loop(b.sub(last, first), "row") as i:
                row = b.add(first, i)
                gradients = [groups.load(kb, dy, b.add(b.mul(row, i64(out)), i64(c0)), mask) for c0, mask in block]

                def accumulate(taps):
                    for t, tap in enumerate(taps[0]):
                        for slot, gradient in zip(sums[t], gradients):
                            kb.set(slot, groups.fma(kb, tap, gradient, kb.get(slot, groups.vector)))

                _with_taps(kb, g, x, [row], accumulate)
            for t in range(depth):
                for slot, (c0, mask) in zip(sums[t], block):
                    index = i64(t * out + c0)
                    groups.store(kb, partial, index, b.fadd(groups.load(kb, partial, index, mask),
                                                            kb.get(slot, groups.vector)), mask)

