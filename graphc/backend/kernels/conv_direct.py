"""Direct convolutions for a small im2col depth K = KH*KW*C (a first layer: 3x3x1, 5x5x1).

With K this small the im2col GEMM (kernels/conv.py) is bound by memory, not
arithmetic: each output row of the im2col matrix is K elements written and read
back for 2K multiply-adds per output channel, the GEMM's tile of C is stored
after every K products, and the epilogue reads the block back (the tutorial
CNN's first convolution, K = 9: 38% im2col, 34% GEMM, 28% epilogue). Here each
output pixel gathers its K taps (zero in the padding) into registers once:

    forward:          y[r, o]  = sum over t of tap[r, t] * w[t, o]
                      a vector of output channels is K multiply-adds, w's rows held in
                      registers (or read from L1 if too many); then the fused epilogue
                      on each chunk of rows
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
# Vector registers the forward leaves for its sums and taps when it holds w in the others.
_UNHELD_REGISTERS = 12


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


def _with_taps(kb, g, x, row, body, split_interior: bool) -> None:
    """body(taps): taps the K entries of the im2col matrix's row `row` (output pixel), in (kh, kw, c)
    order: x's elements each tap reads, zero where it falls in the padding. With `split_interior`,
    a pixel whose window lies inside the image (24 x 24 of the 28 x 28 pixels of a 5x5 SAME
    convolution) reads its taps at constant offsets from its corner, with no test per tap; the
    others test each tap. (In the filter gradient the tests and selects had been 5-6 instructions
    a tap for one multiply-add a vector of 16 output channels: Deep MNIST's conv1, batch 50, one
    thread, 1.8 -> 1.4 ms of CPU. The forward, whose taps each serve two vectors of 16 channels
    with a load of w for each, measured no faster with it, unless w is held in registers: see
    emit_forward_rows.)"""
    win, b = g.window, kb.b
    image = b.udiv(row, i64(win.out_h * win.out_w))
    pixel = b.urem(row, i64(win.out_h * win.out_w))
    top = b.sub(b.mul(b.udiv(pixel, i64(win.out_w)), i64(win.stride_h)), i64(win.pad_top))
    left = b.sub(b.mul(b.urem(pixel, i64(win.out_w)), i64(win.stride_w)), i64(win.pad_left))
    last_top, last_left = g.height - 1 - (win.k_h - 1) * win.dilation_h, g.width - 1 - (win.k_w - 1) * win.dilation_w
    if not split_interior or last_top < 0 or last_left < 0:  # (or no window fits inside the image)
        body(_checked_taps(kb, g, x, image, top, left))
        return
    inside = b.and_(b.icmp_unsigned("<=", top, i64(last_top)), b.icmp_unsigned("<=", left, i64(last_left)))
    with b.if_else(inside) as (interior, border):
        with interior:
            corner = b.mul(b.add(b.mul(b.add(b.mul(image, i64(g.height)), top), i64(g.width)), left), i64(g.channels))
            body([kb.load(x, g.dtype, b.add(corner, i64(((kh * win.dilation_h * g.width) + kw * win.dilation_w)
                                                         * g.channels + c)))
                  for kh in range(win.k_h) for kw in range(win.k_w) for c in range(g.channels)])
        with border:
            body(_checked_taps(kb, g, x, image, top, left))


def _checked_taps(kb, g, x, image, top, left) -> list:
    """The taps of the window at (top, left) of `image`, each tested against the image's bounds."""
    win, b = g.window, kb.b
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


def emit_forward_rows(kb, g, x, w, y, first, last) -> None:
    """y's rows [first, last) (output pixels, O channels each) = their taps @ w. A w of few enough
    vectors (a 3x3x1 filter of 32 channels: 18 of AVX-512's 32 registers) is loaded into registers
    once, before the rows, and the interior's taps are read untested. (The tutorial CNN's conv1 alone,
    one thread, CPU per run: 0.80 ms with w read from L1 and every tap tested, 0.74 holding w, 0.59
    holding w and reading the interior untested; the interior untested with w read from L1, 0.93.)"""
    groups, b = VectorGroups(g.dtype, g.out_channels), kb.b
    held = len(groups.groups) * g.depth <= (32 if target.vector_bytes() == 64 else 16) - _UNHELD_REGISTERS
    weights = {(t, c0): groups.load(kb, w, i64(t * g.out_channels + c0), mask)
               for t in range(g.depth) for c0, mask in groups.groups} if held else None
    with kb.loop(b.sub(last, first), "row") as i:
        row = b.add(first, i)

        def body(taps):
            for c0, mask in groups.groups:
                total = ir.Constant(groups.vector, None)
                for t, tap in enumerate(taps):
                    vector = weights[t, c0] if held else groups.load(kb, w, i64(t * g.out_channels + c0), mask)
                    total = groups.fma(kb, tap, vector, total)
                groups.store(kb, y, b.add(b.mul(row, i64(g.out_channels)), i64(c0)), total, mask)

        _with_taps(kb, g, x, row, body, split_interior=held)


def emit_filter_gradient_partition(kb, g, x, dy, partial, begin, end, partial_sums=None) -> None:
    """partial [K, O] = the sum over rows [begin, end) of tap[r, :]^T dy[r, :], in segments; with
    `partial_sums` [O], also the sum of those rows of dy (the bias gradient's part), as a tap of ones
    would give it, in the same segments: one accumulator more per vector of channels, dy read once."""
    groups, b = VectorGroups(g.dtype, g.out_channels), kb.b
    out = g.out_channels
    rows_out = [(partial, t * out) for t in range(g.depth)] + ([(partial_sums, 0)] if partial_sums is not None else [])
    for c0, mask in groups.groups:  # zero the partials
        for target, offset in rows_out:
            groups.store(kb, target, i64(offset + c0), ir.Constant(groups.vector, None), mask)
    rows = g.convolution.rows
    segment = math.isqrt(max(1, -(-rows // g.convolution.tasks)) - 1) + 1
    per_pass = max(1, _ACCUMULATORS // len(rows_out))
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
                    kb.set(slot, ir.Constant(groups.vector, None))
            with kb.loop(b.sub(last, first), "row") as i:
                row = b.add(first, i)

                def body(taps, row=row):
                    gradients = [groups.load(kb, dy, b.add(b.mul(row, i64(out)), i64(c0)), mask)
                                 for c0, mask in block]
                    for t, tap in enumerate(taps):
                        for slot, gradient in zip(sums[t], gradients):
                            kb.set(slot, groups.fma(kb, tap, gradient, kb.get(slot, groups.vector)))
                    for slot, gradient in zip(column_sums, gradients):
                        kb.set(slot, b.fadd(kb.get(slot, groups.vector), gradient))

                _with_taps(kb, g, x, row, body, split_interior=True)
            for (target, offset), row_sums in zip(rows_out, sums):
                for slot, (c0, mask) in zip(row_sums, block):
                    index = i64(offset + c0)
                    groups.store(kb, target, index, b.fadd(groups.load(kb, target, index, mask),
                                                           kb.get(slot, groups.vector)), mask)

