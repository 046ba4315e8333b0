"""Convolutions as register-tiled loops over the taps, reading the image in place (no im2col).

The im2col GEMM (kernels/conv.py) writes each output pixel's K = KH*KW*C taps
into a chunk, the GEMM then copies the chunk again into its MR-row panels, and
only then multiplies: with the tutorial CNN's second layer (K = 288, O = 64) an
element of the chunk serves 2 x 64 multiply-adds, so those two copies cost a
third of the kernel. Here the micro-kernels read the image itself. The taps of
MR neighbouring output pixels of one output row, for one (kh, kw), are MR rows
of C contiguous channels a stride apart: a GEMM's A read in place. Each tile
holds its sums in 2*MR vector registers (the GEMM micro-kernel's shape):

    forward:          MR pixels of an output row x NR output channels; per (kh, kw, c)
                      one broadcast of x per pixel and two vector loads of w's row
                      (kh, kw, c) feed 2*MR FMAs; each output element sums its taps in
                      the order (kh, kw, c)
    filter gradient:  MR output channels x NR input channels of one tap, over dw^T;
                      per output pixel one broadcast of dy per output channel and two
                      vector loads of the tap's channels; summed over an image in
                      segments of output rows, then images in order. At a column
                      stride over 1, two neighbouring taps whose 2C channels are
                      contiguous in x share a tile (fewer output channels, twice
                      the columns): each x line it loads is used whole
    input gradient:   MR pixels of an input row (a stride apart) x NR input channels;
                      per (kh, kw, o) of the taps that read them, one broadcast of dy
                      per pixel and two vector loads of w' [KH, KW, O, C]; each element
                      of dx sums in the order (kh, kw, o) and is stored once

Taps in the padding (Window.padded: SAME's rows and columns of zeros) are never
copied: x and dx are the images themselves. A tap in the padding reads its
zeros from a constant row of zeros (_ZeroPadding), so that the forward and the
filter gradient make the very multiply-adds of a zero-bordered copy, in the
same order (bit-identical results, 0 * inf = NaN included); the input
gradient, which gathers from dy, never meets it. The tests sit outside the
inner loops: once per tap row (a row in the padding reads the zeros whole), once per tap for the
pixels of the tiles at the left and right edges (compile-time known, the
others' taps are all inside), and in the filter gradient, whose tiles loop
over the output columns, by splitting that loop where the tap leaves the image.
(Without the copy's streaming read, the forward and filter gradient prefetch
the input rows their next output row or segment adds: _prefetch_rows.)
The tiles of an output row (or of the channels) are full (MR) but for the last
(the forward's: as even as tiles of at most MR go),
and the panels of channels full (NR) but for the last: both are known when
compiling, so each shape of tile is its own micro-kernel with constant offsets.
Which image a task computes, or which partition a filter gradient's image sums
into, does not depend on the thread count: results are bit-identical with any
number of threads.
"""


from __future__ import annotations

import llvmlite.ir as ir
import numpy as np

from graphc.backend.kernel_builder import I8, I32, I64, PTR, VOID, KernelBuilder, declare, global_array, i64, zeros
from graphc.backend.kernels.conv_direct import VectorGroups
from graphc.backend.kernels.gemm import blocking

CACHE_LINE_BYTES = 64


def _each_tile(kb, extent: int, size: int, name: str, body) -> None:
    """body(first, count) for the tiles covering range(extent): a loop over the full ones
    (count = size; first an i64 value), then the rest (count < size)."""
    full, rest = divmod(extent, size)
    if full:
        with kb.loop(full, name) as t:
            body(kb.b.mul(t, i64(size)), size)
    if rest:
        body(i64(full * size), rest)


def _even_tile(extent: int, most: int) -> int:
    """Pixels a forward tile of an output row of `extent` pixels takes: as few tiles as tiles of `most`
    need, as even as they go (14 = 7 + 7, not 10 + 4: one thread, CPU per run, two runs of 4 alternated
    rounds, Deep MNIST's conv2 forward 9.20 -> 8.95 and 9.26 -> 9.10 ms, the tutorial CNN's 7.61 -> 7.64
    and 7.74 -> 7.54, within the noise. The input gradient's tiles of a residue's columns were 2% slower
    split so in the CNN's conv2, and stay in tiles of MR)."""
    tiles = max(1, -(-extent // most))
    return max(1, -(-extent // tiles))


def _each_row_tile(kb, win, size: int, body) -> None:
    """body(first, pixels, edge) for the tiles of `size` pixels covering an output row, in order:
    `edge` the tile's pixels (indices in the tile) some of whose taps fall in the left or right
    padding. A run of full tiles with no such pixel is a loop; the others are emitted one by one,
    so that `edge` is known when compiling."""
    spans = [win.inside_columns(kw) for kw in range(win.k_w)]
    inside = range(max(span.start for span in spans), min(span.stop for span in spans))
    run = []  # the first pixels of consecutive full tiles whose pixels are all inside

    def flush():
        if len(run) > 1:
            with kb.loop(len(run), "pixels") as t:
                body(kb.b.add(i64(run[0]), kb.b.mul(t, i64(size))), size, ())
        elif run:
            body(i64(run[0]), size, ())
        run.clear()

    for first in range(0, win.out_w, size):
        pixels = min(size, win.out_w - first)
        edge = tuple(i for i in range(pixels) if first + i not in inside)
        if pixels == size and not edge:
            run.append(first)
        else:
            flush()
            body(i64(first), pixels, edge)
    flush()


class _ZeroPadding:
    """Where a tap reads one image [H, W, C] (the pointer `image`) at pixel (row, column), in input
    coordinates (negative or past the end in the padding), as a (base, index) pair: the image and
    the pixel's first channel if the pixel is inside, else a constant row of zeros as wide as a
    padded row (Window.padded_w) and the padded column's first channel. Loads at base[index + c]
    then read x or zeros, with no test per element."""

    def __init__(self, module, name: str, g):
        self.g = g
        self.zeros = global_array(module, f"{name}_zeros", g.dtype, np.zeros(g.padded_w * g.channels))

    def zeros_at(self, kb, column):
        """The zeros a pixel at `column` (of a row in the padding) reads."""
        b = kb.b
        return self.zeros, b.mul(b.add(column, i64(self.g.window.pad_left)), i64(self.g.channels))

    def row(self, kb, image, row, column):
        """Pixel (row, column), testing its row alone: base[index + j * C + c] is channel c of pixel
        (row, column + j) for each j whose column is inside."""
        return self._select(kb, kb.b.icmp_unsigned("<", row, i64(self.g.height)), image, row, column)

    def pixel(self, kb, image, row, column):
        """Pixel (row, column), testing its row and column."""
        b = kb.b
        inside = b.and_(b.icmp_unsigned("<", row, i64(self.g.height)), b.icmp_unsigned("<", column, i64(self.g.width)))
        return self._select(kb, inside, image, row, column)

    def _select(self, kb, inside, image, row, column):
        b = kb.b  # (negative rows and columns wrap to huge in the unsigned tests)
        zeros, zero_index = self.zeros_at(kb, column)
        index = b.mul(b.add(b.mul(row, i64(self.g.width)), column), i64(self.g.channels))
        return b.select(inside, image, zeros), b.select(inside, index, zero_index)


class _Tiles:
    """The micro-kernels of one convolution product, one per shape of tile (its rows (of MR) x
    columns (of NR, as host vectors, the last masked), then what else it depends on), emitted on
    first use, their sums in 2*MR vector registers."""

    arguments: tuple = ()  # the micro-kernel's pointer arguments
    integers: tuple = ()  # then its i64 arguments

    def __init__(self, module, name: str, g):
        self.module, self.name, self.g = module, name, g
        self.block = blocking(g.dtype)
        self._functions = {}

    def function(self, *shape) -> ir.Function:
        """The micro-kernel of tiles of this shape: _emit(module, name, *shape)."""
        if shape not in self._functions:
            self._functions[shape] = self._emit(self.module, f"{self.name}_tile{len(self._functions)}", *shape)
        return self._functions[shape]

    def _begin(self, module, name: str, rows: int, columns: int):
        """The micro-kernel's builder, its vector groups and its rows x groups of zeroed sums."""
        kb = KernelBuilder(module, name, list(self.arguments) + list(self.integers),
                           [PTR] * len(self.arguments) + [I64] * len(self.integers), VOID)
        # A tile's call runs hundreds of multiply-adds or more; inlined at each of its call sites (12 in
        # conv2's filter gradient) it made LLVM compile the body that many times: that kernel's module
        # took 0.23 s of LLVM's time, 0.12 s with its tiles called.
        kb.function.attributes.add("noinline")
        panel = VectorGroups(self.g.dtype, columns)
        sums = [[kb.variable(panel.vector, zeros(panel.vector)) for _ in panel.groups] for _ in range(rows)]
        return kb, panel, sums

    @staticmethod
    def _accumulate(kb, panel, sums, scalar, vectors) -> None:
        """sums[j] += scalar * vectors[j], each a fused multiply-add."""
        for slot, vector in zip(sums, vectors):
            kb.set(slot, panel.fma(kb, scalar, vector, kb.get(slot, panel.vector)))

    @staticmethod
    def _load(kb, panel, base, index):
        return [panel.load(kb, base, kb.b.add(index, i64(start)), mask) for start, mask in panel.groups]

    @staticmethod
    def _add_to(kb, panel, sums, base, index) -> None:
        """base[index + group] += the sums, group by group."""
        for slot, (start, mask) in zip(sums, panel.groups):
            at = kb.b.add(index, i64(start))
            panel.store(kb, base, at, kb.b.fadd(panel.load(kb, base, at, mask), kb.get(slot, panel.vector)), mask)


class ForwardTiles(_Tiles):
    """The forward micro-kernels of one convolution: tile(x, w, y, top, left) computes y at the
    tile's pixels and panel, x the image, (top, left) the input row and column of pixel 0's tap
    (0, 0), w pointing at the panel's first column of w's row 0, y at the tile's first element of
    y. A tile's `edge` pixels test their column at each tap; its rows are tested at each kh."""

    arguments = ("x", "w", "y")
    integers = ("top", "left")

    def __init__(self, module, name: str, g):
        super().__init__(module, name, g)
        self.padding = _ZeroPadding(module, name, g)

    def _emit(self, module, name: str, pixels: int, columns: int, edge: tuple) -> ir.Function:
        g, win = self.g, self.g.window
        kb, panel, sums = self._begin(module, name, pixels, columns)
        b, x, w, y, top, left = (kb.b, kb.arg("x"), kb.arg("w"), kb.arg("y"), kb.arg("top"), kb.arg("left"))
        with kb.loop(win.k_h, "kh") as kh:
            row = b.add(top, b.mul(kh, i64(win.dilation_h)))
            row_base, row_index = self.padding.row(kb, x, row, left)
            with kb.loop(win.k_w, "kw") as kw:
                tap = b.mul(kw, i64(win.dilation_w))
                reads = [self.padding.pixel(kb, x, row, b.add(left, b.add(tap, i64(i * win.stride_w)))) if i in edge
                         else (row_base, b.add(row_index, b.mul(b.add(tap, i64(i * win.stride_w)), i64(g.channels))))
                         for i in range(pixels)]
                weights = b.mul(b.mul(b.add(b.mul(kh, i64(win.k_w)), kw), i64(g.channels)), i64(g.out_channels))
                with kb.loop(g.channels, "c") as c:
                    vectors = self._load(kb, panel, w, b.add(weights, b.mul(c, i64(g.out_channels))))
                    for i, (base, index) in enumerate(reads):
                        self._accumulate(kb, panel, sums[i], kb.load(base, g.dtype, b.add(index, c)), vectors)
        for i in range(pixels):
            for slot, (start, mask) in zip(sums[i], panel.groups):
                panel.store(kb, y, i64(i * g.out_channels + start), kb.get(slot, panel.vector), mask)
        return kb.finish()

    def emit_image(self, kb, image, w, y) -> None:
        """y's rows of one image [OH*OW, O] (y pointing at its first) from the image `image`."""
        g, win, b = self.g, self.g.window, kb.b
        with kb.loop(win.out_h, "oh") as oh:
            top = b.sub(b.mul(oh, i64(win.stride_h)), i64(win.pad_top))
            out_row = b.mul(oh, i64(win.out_w))
            # The input rows the next output row adds to its window, into L2 while this row's tiles run.
            # (A padded copy had brought the image in with a streaming memcpy: without either, the tiles'
            # strided first reads made conv2's forward 4% slower; with this, 5% faster than the copy.)
            _prefetch_rows(kb, g, image, b.add(top, i64((win.k_h - 1) * win.dilation_h + 1)), i64(win.stride_h))

            def row_tile(first, pixels, edge):
                left = b.sub(b.mul(first, i64(win.stride_w)), i64(win.pad_left))

                def panel(column, columns):
                    y_at = _element(b, y, b.add(b.mul(b.add(out_row, first), i64(g.out_channels)), column), g.dtype)
                    b.call(self.function(pixels, columns, edge), [image, _element(b, w, column, g.dtype), y_at,
                                                                  top, left])

                _each_tile(kb, g.out_channels, self.block.nr, "panel", panel)

            _each_row_tile(kb, win, _even_tile(win.out_w, self.block.mr), row_tile)


def _prefetch_rows(kb, g, image, first_row, rows) -> None:
    """Prefetches rows [first_row, first_row + rows) of the image (`rows` an i64 value), those inside it, into L2."""
    b, row_bytes = kb.b, g.width * g.channels * g.dtype.size
    prefetch = declare(kb.module, "llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
    begin = b.select(b.icmp_signed("<", first_row, i64(g.height)), first_row, i64(g.height))
    end = b.add(first_row, rows)
    end = b.select(b.icmp_signed("<", end, i64(g.height)), end, i64(g.height))
    with kb.loop(b.mul(b.sub(end, begin), i64(-(-row_bytes // CACHE_LINE_BYTES))), "prefetch") as line:
        at = b.gep(image, [b.add(b.mul(begin, i64(row_bytes)), b.mul(line, i64(CACHE_LINE_BYTES)))], source_etype=I8)
        b.call(prefetch, [at, ir.Constant(I32, 0), ir.Constant(I32, 2), ir.Constant(I32, 1)])  # read, L2, data


def _element(b, pointer, index, dtype):
    return b.gep(pointer, [b.mul(index, i64(dtype.size))], source_etype=I8)


# Output pixels whose products a filter-gradient tile sums in registers before adding them to its
# partial filter (whole output rows; about this many): the sum of each element then adds a chain
# of about this many products, then a chain of the image's segments, then of the images.
SEGMENT_PIXELS = 64


class FilterGradientTiles(_Tiles):
    """The filter gradient's micro-kernels, over dw^T [O, K]: a tile of MR output channels x NR
    channels of one tap holds 2*MR vectors; per output pixel, one broadcast of dy per output channel
    and two vector loads of the tap's input channels feed 2*MR FMAs. (dw itself, [K, O], would need
    tiles of MR input channels, which do not divide a tap's C as well as MR divides O.)
    tile(x, dy_at, partial_at, first_row, rows, tap_row, tap_column, channel, accumulate, inside_first,
    inside_end) adds the tile's sums over output rows [first_row, first_row + rows) of one image x to
    the partial: the tap reads input row oh * stride + tap_row and column ow * stride + tap_column,
    from channel `channel` on; dy_at points at the image's first row, first channel of the tile,
    partial_at at the tile's first element of the partial dw^T; with `accumulate` 0 the tile stores
    its sums there instead (a partition's first: no zeroing of the partials first, whose lines the
    other thread read last, in the sum of the run before, and each store had to take back: 6% of
    conv2's filter gradient on two threads). The output columns [inside_first, inside_end) are those
    whose tap is inside the image (Window.inside_columns): the others read zeros. A row's columns are
    three pieces, before, inside and after, one loop of one body over the pieces: the pieces' bounds
    and the taps' width are arguments, so one micro-kernel serves every tap of a shape of tile (one
    body emitted instead of three, and two micro-kernels for conv2's nine taps instead of four:
    its module's LLVM CPU 118 -> 102 ms, the kernel as fast). (Its sums start at +0.0, so they are never -0.0: a stored
    sum has the bits 0.0 + the sum had.)"""

    arguments = ("x", "dy", "partial")
    integers = ("first_row", "rows", "tap_row", "tap_column", "channel", "accumulate", "inside_first", "inside_end")

    def __init__(self, module, name: str, g):
        super().__init__(module, name, g)
        self.padding = _ZeroPadding(module, name, g)

    def _emit(self, module, name: str, outputs: int, columns: int) -> ir.Function:
        g, win = self.g, self.g.window
        kb, panel, sums = self._begin(module, name, outputs, columns)
        b, x, dy, partial = kb.b, kb.arg("x"), kb.arg("dy"), kb.arg("partial")
        tap_column, channel = kb.arg("tap_column"), kb.arg("channel")
        bounds = [i64(0), kb.arg("inside_first"), kb.arg("inside_end"), i64(win.out_w)]

        def column(ow):
            return b.add(b.mul(ow, i64(win.stride_w)), tap_column)

        with kb.loop(kb.arg("rows"), "row") as r:
            oh = b.add(kb.arg("first_row"), r)
            row = b.add(b.mul(oh, i64(win.stride_h)), kb.arg("tap_row"))
            gradients = b.mul(b.mul(oh, i64(win.out_w)), i64(g.out_channels))
            # (base, index) of each piece's first column's tap: zeros, the image's row, zeros.
            reads = [self.padding.zeros_at(kb, column(bounds[0])), self.padding.row(kb, x, row, column(bounds[1])),
                     self.padding.zeros_at(kb, column(bounds[2]))]
            with kb.loop(len(reads), "piece") as piece:
                def pick(values):
                    chosen = values[-1]
                    for number in reversed(range(len(values) - 1)):
                        chosen = b.select(b.icmp_unsigned("==", piece, i64(number)), values[number], chosen)
                    return chosen

                first, end = pick(bounds[:-1]), pick(bounds[1:])
                base, index = pick([read[0] for read in reads]), pick([read[1] for read in reads])
                with kb.loop(b.sub(end, first), "ow") as j:
                    vectors = self._load(kb, panel, base, b.add(b.add(index, channel),
                                                                b.mul(j, i64(win.stride_w * g.channels))))
                    gradient = b.add(gradients, b.mul(b.add(j, first), i64(g.out_channels)))
                    for i in range(outputs):
                        self._accumulate(kb, panel, sums[i], kb.load(dy, g.dtype, b.add(gradient, i64(i))), vectors)
        with b.if_else(b.icmp_unsigned("!=", kb.arg("accumulate"), i64(0))) as (add, store):
            with add:
                for i in range(outputs):
                    self._add_to(kb, panel, sums[i], partial, i64(i * g.depth))
            with store:
                for i in range(outputs):
                    for slot, (start, mask) in zip(sums[i], panel.groups):
                        panel.store(kb, partial, i64(i * g.depth + start), kb.get(slot, panel.vector), mask)
        return kb.finish()

    def emit_image(self, kb, image, dy, partial, first_image) -> None:
        """partial (dw^T) += one image's products: `image` its pixels, dy its rows. With `first_image`
        (an i1 value) true, the image's first segment stores its sums into the partial instead."""
        g, win, b = self.g, self.g.window, kb.b
        segment = max(1, min(win.out_h, -(-SEGMENT_PIXELS // max(1, win.out_w))))

        # One loop over the segments, the last one's rows a value: not the full segments' loop and then
        # the rest, each with its own calls of every tile (conv2: 358 -> 209 instructions of LLVM IR).
        with kb.loop(-(-win.out_h // segment), "segment") as number:
            first_row = b.mul(number, i64(segment))
            left = b.sub(i64(win.out_h), first_row)
            count = b.select(b.icmp_signed("<", left, i64(segment)), left, i64(segment))
            # The input rows the next segment adds to this one's, into L2 while this one's taps run
            # (conv2's filter gradient: 3% less CPU).
            window_end = b.add(b.mul(b.add(first_row, count), i64(win.stride_h)),
                               i64((win.k_h - 1) * win.dilation_h - win.pad_top - win.stride_h + 1))
            _prefetch_rows(kb, g, image, window_end, b.mul(count, i64(win.stride_h)))
            accumulate = b.zext(b.or_(b.not_(first_image), b.icmp_unsigned("!=", first_row, i64(0))), I64)
            with kb.loop(win.k_h, "kh") as kh:
                tap_row = b.sub(b.mul(kh, i64(win.dilation_h)), i64(win.pad_top))
                for kw, taps in self._tap_runs():
                    inside = win.inside_columns(kw)
                    tap = b.mul(b.add(b.mul(kh, i64(win.k_w)), i64(kw)), i64(g.channels))
                    outputs_per_tile, panel_columns = (self.block.mr, self.block.nr) if taps == 1 else self._paired

                    def channel_tile(output, outputs, kw=kw, inside=inside, tap=tap, panel_columns=panel_columns,
                                     taps=taps):
                        def panel(channel, columns):
                            b.call(self.function(outputs, columns), [
                                image, _element(b, dy, output, g.dtype),
                                _element(b, partial, b.add(b.add(b.mul(output, i64(g.depth)), tap), channel), g.dtype),
                                first_row, count, tap_row, i64(kw * win.dilation_w - win.pad_left), channel,
                                accumulate, i64(min(inside.start, win.out_w)), i64(min(inside.stop, win.out_w))])

                        _each_tile(kb, taps * g.channels, panel_columns, "panel", panel)

                    _each_tile(kb, g.out_channels, outputs_per_tile, "outputs", channel_tile)

    @property
    def _paired(self) -> tuple:
        """(outputs, columns) of a tile over two neighbouring taps: two panels' width of columns, and as
        many output channels as leave, with their 2 x 2 vectors of sums each, registers for the four
        vector loads and a broadcast."""
        registers = 32 if self.block.width * self.g.dtype.size == 64 else 16
        vectors = 2 * self.block.nr // self.block.width
        return max(1, (registers - vectors - 1) // vectors), 2 * self.block.nr

    def _tap_runs(self) -> list:
        """(kw, 1 or 2) for the taps of a row of the window, in order: two neighbouring taps kw, kw + 1 at
        once where they read neighbouring input pixels (no dilation) and the same output columns read
        the image (the others read zeros for both), whose 2 C channels are then contiguous both in x
        and in dw^T's rows (K = (kh, kw, c)): a tile of 2 x 2 vectors of columns loads each x line once
        per output pixel, where at a column stride of 2 each tap alone used half of every line it read."""
        win, runs, kw = self.g.window, [], 0
        while kw < win.k_w:
            pair = (kw + 1 < win.k_w and win.dilation_w == 1 and win.stride_w > 1
                    and _clipped(win.inside_columns(kw), win.out_w) == _clipped(win.inside_columns(kw + 1), win.out_w))
            runs.append((kw, 2 if pair else 1))
            kw += 2 if pair else 1
        return runs


def _clipped(span: range, end: int) -> tuple:
    return min(span.start, end), min(span.stop, end)


class InputGradientTiles(_Tiles):
    """The input gradient's micro-kernels: dx gathered pixel by pixel, as a forward convolution of dy
    with w turned around (no columns, no col2im). Input pixel (row, column) sums, over the taps
    (kh, kw) that read it from an output pixel (oh, ow) (row + pad_top - kh * dilation = oh * stride,
    and the same for columns), and over the output channels o, dy[oh, ow, o] * w[kh, kw, c, o]. The
    columns of one residue (column + pad_left) mod stride_w are read by the same kw, each from the
    output column after its left neighbour's: a tile of MR such columns of one input row x NR
    channels holds 2*MR vectors; per (kh, kw, o), one broadcast of dy per pixel and two vector loads
    of w' [KH, KW, O, C] (w packed once per call) feed 2*MR FMAs. Each element of dx is then stored
    once, whole: no zeroing of dx, no adding to it tap after tap (on the scatter this replaces, 5% of
    the tutorial CNN's conv2 input gradient went to zeroing dx and more to adding each tap's tile
    in; Deep MNIST's 5x5 SAME also computed, then dropped, the taps of its edge tiles that fall in
    the padding). Each element sums its products in the order (kh, kw, o), whatever the threads.
    tile(dy, w, dx, row, column) with dy at the image's first gradient, w at w' [0, 0, 0, panel's
    first channel], dx at the tile's first element of dx, `row` and `column` the input row and the
    tile's first column. The rows of taps outside dy are tested at each kh; the taps of the columns
    (pixels) outside dy are left out when compiling: the tiles of a row are known then."""

    arguments = ("dy", "w", "dx")
    integers = ("row", "column")

    def _taps(self, residue: int) -> list:
        """The kw whose taps read the columns of this residue."""
        win = self.g.window
        return [kw for kw in range(win.k_w) if (residue - kw * win.dilation_w) % win.stride_w == 0]

    def _emit(self, module, name: str, pixels: int, columns: int, taps: tuple) -> ir.Function:
        """taps: (kw, the tile's pixels whose tap kw reads a column of dy) for each kw of the residue."""
        g, win = self.g, self.g.window
        kb, panel, sums = self._begin(module, name, pixels, columns)
        b, dy, w, dx = kb.b, kb.arg("dy"), kb.arg("w"), kb.arg("dx")
        with kb.loop(win.k_h, "kh") as kh:
            # row + pad_top - kh * dilation: oh * stride for the output row oh that reads this row at kh
            offset = b.sub(b.add(kb.arg("row"), i64(win.pad_top)), b.mul(kh, i64(win.dilation_h)))
            reads = b.and_(b.icmp_unsigned("<", offset, i64(win.out_h * win.stride_h)),  # (negative: huge)
                           b.icmp_unsigned("==", b.urem(offset, i64(win.stride_h)), i64(0)))
            with b.if_then(reads):
                gradient_row = b.mul(b.udiv(offset, i64(win.stride_h)), i64(win.out_w))
                for kw, reading in taps:
                    # The output column the tile's pixel 0 reads at kw (exact: the residue's kw).
                    first = b.sdiv(b.sub(b.add(kb.arg("column"), i64(win.pad_left)), i64(kw * win.dilation_w)),
                                   i64(win.stride_w))
                    gradients = b.mul(b.add(gradient_row, first), i64(g.out_channels))
                    weights = b.mul(b.add(b.mul(kh, i64(win.k_w)), i64(kw)), i64(g.out_channels * g.channels))
                    with kb.loop(g.out_channels, "o") as o:
                        vectors = self._load(kb, panel, w, b.add(weights, b.mul(o, i64(g.channels))))
                        for i in reading:
                            at = b.add(gradients, b.add(o, i64(i * g.out_channels)))
                            self._accumulate(kb, panel, sums[i], kb.load(dy, g.dtype, at), vectors)
        for i in range(pixels):
            for slot, (start, mask) in zip(sums[i], panel.groups):
                panel.store(kb, dx, i64(i * win.stride_w * g.channels + start), kb.get(slot, panel.vector), mask)
        return kb.finish()

    def _row_tiles(self) -> list:
        """The tiles of an input row, in order: (first column, pixels, taps) for each, the runs of
        consecutive columns of a residue in tiles of MR (the last one shorter)."""
        g, win = self.g, self.g.window
        tiles = []
        for residue in range(win.stride_w):
            columns = [c for c in range(g.width) if (c + win.pad_left) % win.stride_w == residue]
            for at in range(0, len(columns), self.block.mr):
                tile = columns[at:at + self.block.mr]
                taps = tuple((kw, tuple(i for i, c in enumerate(tile)
                                        if 0 <= (c + win.pad_left - kw * win.dilation_w) // win.stride_w < win.out_w))
                             for kw in self._taps(residue))
                tiles.append((tile[0], len(tile), taps))
        return tiles

    def emit_image(self, kb, dy, w_packed, dx) -> None:
        """dx (one image's, all of it stored) = its input gradient, dy pointing at the image's first row,
        w_packed at w' [KH, KW, O, C]."""
        g, win, b = self.g, self.g.window, kb.b
        tiles = self._row_tiles()
        with kb.loop(g.height, "row") as row:
            index = 0
            while index < len(tiles):  # a run of tiles of one shape, a column stride apart, is a loop
                first, pixels, taps = tiles[index]
                run = 1
                while (index + run < len(tiles) and tiles[index + run][1:] == (pixels, taps)
                       and tiles[index + run][0] == first + run * pixels * win.stride_w):
                    run += 1

                def tile(column, first=first, pixels=pixels, taps=taps):
                    at = b.mul(b.add(b.mul(row, i64(g.width)), column), i64(g.channels))

                    def panel(channel, columns):
                        b.call(self.function(pixels, columns, taps), [
                            dy, _element(b, w_packed, channel, g.dtype), _element(b, dx, b.add(at, channel), g.dtype),
                            row, column])

                    _each_tile(kb, g.channels, self.block.nr, "panel", panel)

                if run > 1:
                    with kb.loop(run, "tiles") as t:
                        tile(b.add(i64(first), b.mul(t, i64(pixels * win.stride_w))))
                else:
                    tile(i64(first))
                index += run
