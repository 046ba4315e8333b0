"""Direct convolutions for a small im2col depth K = KH*KW*C (a first layer: 3x3x1, 5x5x1).

With K this small the im2col GEMM (kernels/conv.py) is bound by memory, not
arithmetic: each output row of the im2col matrix is K elements written and read
back for 2K multiply-adds per output channel, the GEMM's tile of C is stored
after every K products, and the epilogue reads the block back (the tutorial
CNN's first convolution, K = 9: 38% im2col, 34% GEMM, 28% epilogue). Here the
taps go straight from the image into registers:

    forward:          y[r, o]  = sum over t of tap[r, t] * w[t, o]
                      an output row at a time: its KH input rows copied into a
                      zero-bordered strip, then tiles of adjacent pixels, each with
                      its vectors of output channels in registers, sharing every
                      load of w; then the fused epilogue on each chunk of rows
    filter gradient:  dw[t, o] = sum over r of tap[r, t] * dy[r, o]
                      K accumulators per vector of output channels stay in
                      registers while the rows stream past, their taps read
                      from the same strips

The filter gradient sums its rows in FILTER_PARTITIONS fixed partitions, each in
segments of about the square root of its rows (a segment's sum is added to the
partition's partial filter), and the partials are added in order at the end; the
forward sum of each element runs over t in order from zero, whatever the tile.
Neither depends on the thread count, so results are bit-identical with any number
of threads.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir

from graphc.backend import target
from graphc.backend.kernel_builder import I1, I64, PTR, declare, i64, memory_type, zeros

# Accumulators the filter gradient keeps in registers at once (of the 32 vector registers of
# AVX-512; with AVX2's 16 a few spill to L1, which still beats the im2col GEMM at this K).
_ACCUMULATORS = 24


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
        return kb.load_vector_masked(base, self.dtype, index, mask, zeros(self.vector))

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


def emit_forward_rows(kb, g, x, w, y, first, last) -> None:
    """y's rows [first, last) (output pixels, O channels each) = their taps @ w, a run of an output
    row's pixels at a time: the input a run's windows read is copied into a zero-bordered strip
    (_InputStrip), whose taps the pixels then read with no test, in tiles of adjacent pixels that
    share each load of w (_forward_tile). The pixel-at-a-time version this replaces ran two chains of
    K dependent multiply-adds a pixel, each with a load of w and, but for a w held in registers, a
    bounds test and select per tap: Deep MNIST's 5x5x1 conv1 with its bias, ReLU and max-pool, one
    thread, CPU per run at batch 50 1.36-2.40 -> 0.77-1.08 ms, at the evaluation's 10,000 images
    286-326 -> 180-182 ms; the tutorial CNN's 3x3x1, whose w was held, about the same."""
    b = kb.b
    groups = VectorGroups(g.dtype, g.out_channels)
    pixels = _tile_pixels(g.window.out_w, min(len(groups.groups), _forward_accumulators()))

    def run(column, row, count):
        whole = b.mul(b.udiv(count, i64(pixels)), i64(pixels))
        with kb.loop(b.udiv(count, i64(pixels)), "tile") as t:
            offset = b.mul(t, i64(pixels))
            _forward_tile(kb, g, groups, strip, w, y, b.add(column, offset), b.add(row, offset), pixels)
        with kb.loop(b.sub(count, whole), "pixel") as p:
            offset = b.add(whole, p)
            _forward_tile(kb, g, groups, strip, w, y, b.add(column, offset), b.add(row, offset), 1)

    strip = _InputStrip(kb, g, pixels)
    _strip_runs(kb, g, strip, x, first, last, run)


def _strip_runs(kb, g, strip, x, first, last, run) -> None:
    """run(column, row, count) for each run of the output pixels [first, last) (im2col rows, in order)
    in one output row and one strip: `count` pixels from `row` on, the first at the strip's output
    column `column`, with the strip filled for them."""
    win, b = g.window, kb.b
    if win.out_h == 0 or win.out_w == 0:
        return
    out_rows_first = b.udiv(first, i64(win.out_w))
    out_rows_end = b.udiv(b.add(last, i64(win.out_w - 1)), i64(win.out_w))
    with kb.loop(b.sub(out_rows_end, out_rows_first), "out_row") as i:
        out_row = b.add(out_rows_first, i)  # image * OH + oh
        row_start = b.mul(out_row, i64(win.out_w))
        image, oh = b.udiv(out_row, i64(win.out_h)), b.urem(out_row, i64(win.out_h))

        def columns(block_first, block_end):
            """The pixels of [first, last) in the output row's columns [block_first, block_end)."""
            begin, end = b.add(row_start, block_first), b.add(row_start, block_end)
            begin = b.select(b.icmp_unsigned(">", first, begin), first, begin)
            end = b.select(b.icmp_unsigned("<", last, end), last, end)
            count = b.select(b.icmp_unsigned("<", begin, end), b.sub(end, begin), i64(0))
            run(b.sub(b.sub(begin, row_start), block_first), begin, count)

        if strip.columns >= win.out_w:  # the whole row in one strip, filled at constant offsets
            strip.fill(kb, x, image, oh, i64(0))
            columns(i64(0), i64(win.out_w))
        else:
            with kb.loop(-(-win.out_w // strip.columns), "column_block") as block:
                block_first = b.mul(block, i64(strip.columns))
                strip.fill(kb, x, image, oh, block_first)
                block_end = b.add(block_first, i64(strip.columns))
                columns(block_first, b.select(b.icmp_unsigned("<", block_end, i64(win.out_w)), block_end,
                                              i64(win.out_w)))


def _forward_accumulators() -> int:
    """Vectors of sums a forward tile keeps in registers: 14 of AVX-512's 32 (with 28, LLVM's schedule
    spilled them: vmovaps to the stack were half the kernel's samples, and 7 pixels a tile ran 1.4 x
    faster than 14), 12 of AVX2's 16."""
    return 14 if target.vector_bytes() == 64 else 12


def _tile_pixels(out_w: int, groups: int) -> int:
    """Pixels of an output row a forward tile computes at once, with `groups` vectors of channels
    each: as many as the accumulators allow, but from half that many up the count that leaves the
    fewest of a row's pixels to single-pixel tiles (28 columns of two vectors: 4 tiles of 7)."""
    most = max(1, _forward_accumulators() // max(1, groups))
    if most >= out_w:
        return max(1, out_w)
    return min(range(max(1, most // 2), most + 1), key=lambda p: (out_w % p, -p))


# The most bytes of input a strip holds (it is on the task's stack, and read from L1).
_STRIP_BYTES = 16 * 1024


class _InputStrip:
    """The input that a run of `columns` output columns of one output row reads: KH input rows (at the
    window's dilation) of the columns their windows span, zero where they fall in the padding, in a
    stack array of the task. A tap of the run's column j is strip[kh, (j * stride + kw * dilation) * C
    + c], with no bounds test. Whole output rows when the strip stays within _STRIP_BYTES (a 28-wide
    5x5x1: 5 rows of 32 floats), else blocks of whole tiles (a wide 1-D signal)."""

    def __init__(self, kb, g, pixels: int):
        win = g.window
        self.g = g

        def span(columns):  # the input columns a run of output columns reads
            return (columns - 1) * win.stride_w + (win.k_w - 1) * win.dilation_w + 1

        row_bytes = win.k_h * g.channels * g.dtype.size
        self.columns = win.out_w
        if span(win.out_w) * row_bytes > _STRIP_BYTES:
            most = max(1, (_STRIP_BYTES // row_bytes - span(1)) // win.stride_w + 1)
            self.columns = pixels * max(1, most // pixels)
        self.span = span(self.columns)
        self.row_elements = self.span * g.channels
        self.array = kb.local_array(memory_type(g.dtype), win.k_h * self.row_elements)

    def fill(self, kb, x, image, out_row, column) -> None:
        """The input the output columns [column, column + self.columns) of output row `out_row` of
        `image` read (constant offsets when `column` is a constant)."""
        g, win, b = self.g, self.g.window, kb.b
        first = b.sub(b.mul(column, i64(win.stride_w)), i64(win.pad_left))  # the strip's first input column
        # the strip's columns [inside_first, inside_end) are the image's
        inside_first = b.select(b.icmp_signed("<", first, i64(0)), b.sub(i64(0), first), i64(0))
        inside_first = b.select(b.icmp_signed("<", inside_first, i64(self.span)), inside_first, i64(self.span))
        inside_end = b.sub(i64(g.width), first)
        inside_end = b.select(b.icmp_signed("<", inside_end, i64(self.span)), inside_end, i64(self.span))
        inside_end = b.select(b.icmp_signed("<", inside_end, inside_first), inside_first, inside_end)
        top = b.sub(b.mul(out_row, i64(win.stride_h)), i64(win.pad_top))
        channels = i64(g.channels)
        for kh in range(win.k_h):
            row = b.add(top, i64(kh * win.dilation_h))
            start = i64(kh * self.row_elements)
            with b.if_else(b.icmp_unsigned("<", row, i64(g.height))) as (inside, padding):  # negative rows wrap
                with inside:
                    self._zero(kb, start, b.mul(inside_first, channels))
                    source = b.mul(b.add(b.mul(b.add(b.mul(image, i64(g.height)), row), i64(g.width)),
                                         b.add(first, inside_first)), channels)
                    self._copy(kb, b.add(start, b.mul(inside_first, channels)), x, source,
                               b.mul(b.sub(inside_end, inside_first), channels))
                    self._zero(kb, b.add(start, b.mul(inside_end, channels)),
                               b.mul(b.sub(i64(self.span), inside_end), channels))
                with padding:
                    self._zero(kb, start, i64(self.row_elements))

    def _zero(self, kb, index, elements) -> None:
        memset = declare(kb.module, "llvm.memset.p0.i64", ir.VoidType(), [PTR, ir.IntType(8), I64, I1])
        kb.b.call(memset, [kb.address(self.array, self.g.dtype, index), ir.Constant(ir.IntType(8), 0),
                           kb.b.mul(elements, i64(self.g.dtype.size)), ir.Constant(I1, 0)])

    def _copy(self, kb, index, source, source_index, elements) -> None:
        memcpy = declare(kb.module, "llvm.memcpy.p0.p0.i64", ir.VoidType(), [PTR, PTR, I64, I1])
        kb.b.call(memcpy, [kb.address(self.array, self.g.dtype, index), kb.address(source, self.g.dtype, source_index),
                           kb.b.mul(elements, i64(self.g.dtype.size)), ir.Constant(I1, 0)])

    def tap(self, kb, column, kh: int, kw: int, c: int):
        """Channel c of tap (kh, kw) of the window of the strip's output column `column`."""
        win, b = self.g.window, kb.b
        index = b.add(b.mul(column, i64(win.stride_w * self.g.channels)),
                      i64(kh * self.row_elements + kw * win.dilation_w * self.g.channels + c))
        return kb.load(self.array, self.g.dtype, index)


def _forward_tile(kb, g, groups, strip, w, y, column, row, pixels: int) -> None:
    """y's rows [row, row + pixels): output columns [column, column + pixels) of the strip's output
    row. Each element sums its K products in tap order from zero, as a pixel's column of the im2col
    product does (zero taps in the padding included), so results do not depend on the tiling. The
    channel vectors go in blocks that leave each pixel of the tile its accumulator per vector."""
    b = kb.b
    per_block = max(1, _forward_accumulators() // pixels)
    for block_start in range(0, len(groups.groups), per_block):
        block = groups.groups[block_start:block_start + per_block]
        sums = [[zeros(groups.vector) for _ in block] for _ in range(pixels)]
        t = 0
        for kh in range(g.window.k_h):
            for kw in range(g.window.k_w):
                for c in range(g.channels):
                    vectors = [groups.load(kb, w, i64(t * g.out_channels + c0), mask) for c0, mask in block]
                    for p in range(pixels):
                        tap = strip.tap(kb, b.add(column, i64(p)), kh, kw, c)
                        sums[p] = [groups.fma(kb, tap, vector, total) for vector, total in zip(vectors, sums[p])]
                    t += 1
        for p in range(pixels):
            for (c0, mask), total in zip(block, sums[p]):
                groups.store(kb, y, b.add(b.mul(b.add(row, i64(p)), i64(g.out_channels)), i64(c0)), total, mask)


def emit_filter_gradient_partition(kb, g, x, dy, partial, begin, end, partial_sums=None) -> None:
    """partial [K, O] = the sum over rows [begin, end) of tap[r, :]^T dy[r, :], in segments; with
    `partial_sums` [O], also the sum of those rows of dy (the bias gradient's part), as a tap of ones
    would give it, in the same segments: one accumulator more per vector of channels, dy read once.
    The taps come from the forward's zero-bordered strip, untested (before, a pixel's window in the
    image read x at constant offsets, the others tested each tap, and each row divided its index into
    image, row and column): Deep MNIST's conv1 filter gradient alone, batch 50, one thread, CPU per
    run 1.33-1.70 -> 0.64-0.69 ms; the tutorial CNN's 3x3x1 about the same."""
    groups, b = VectorGroups(g.dtype, g.out_channels), kb.b
    out = g.out_channels
    rows_out = [(partial, t * out) for t in range(g.depth)] + ([(partial_sums, 0)] if partial_sums is not None else [])
    for c0, mask in groups.groups:  # zero the partials
        for target, offset in rows_out:
            groups.store(kb, target, i64(offset + c0), zeros(groups.vector), mask)
    rows = g.convolution.rows
    segment = math.isqrt(max(1, -(-rows // g.convolution.tasks)) - 1) + 1
    per_pass = max(1, _ACCUMULATORS // len(rows_out))
    strip = _InputStrip(kb, g, 1)
    for block_start in range(0, len(groups.groups), per_pass):
        block = groups.groups[block_start:block_start + per_pass]
        sums = [[kb.variable(groups.vector) for _ in block] for _ in rows_out]
        column_sums = sums[g.depth] if partial_sums is not None else []
        with kb.loop(b.udiv(b.add(b.sub(end, begin), i64(segment - 1)), i64(segment)), "segment") as s:
            first = b.add(begin, b.mul(s, i64(segment)))
            last = b.add(first, i64(segment))
            last = b.select(b.icmp_signed("<", last, end), last, end)
            for row_sums in sums:
                for slot in row_sums:
                    kb.set(slot, zeros(groups.vector))

            def run(column, row, count, block=block, sums=sums, column_sums=column_sums):
                with kb.loop(count, "pixel") as p:
                    pixel_row, pixel_column = b.add(row, p), b.add(column, p)
                    gradients = [groups.load(kb, dy, b.add(b.mul(pixel_row, i64(out)), i64(c0)), mask)
                                 for c0, mask in block]
                    taps = [strip.tap(kb, pixel_column, kh, kw, c) for kh in range(g.window.k_h)
                            for kw in range(g.window.k_w) for c in range(g.channels)]
                    for t, tap in enumerate(taps):
                        for slot, gradient in zip(sums[t], gradients):
                            kb.set(slot, groups.fma(kb, tap, gradient, kb.get(slot, groups.vector)))
                    for slot, gradient in zip(column_sums, gradients):
                        kb.set(slot, b.fadd(kb.get(slot, groups.vector), gradient))

            _strip_runs(kb, g, strip, x, first, last, run)
            for (target, offset), row_sums in zip(rows_out, sums):
                for slot, (c0, mask) in zip(row_sums, block):
                    index = i64(offset + c0)
                    groups.store(kb, target, index, b.fadd(groups.load(kb, target, index, mask),
                                                           kb.get(slot, groups.vector)), mask)

