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
                      segments of output rows, then images in order
    input gradient:   MR pixels of an output row x NR channels of one tap; per output
                      channel one broadcast of dy per pixel and two vector loads of
                      w^T; the tile is then added where its taps read, in the padded
                      dx, tap after tap in order

Taps in the padding must read zeros: an image that needs padding is first
copied into a zero-bordered one (Window.padded_h x padded_w, in the task's
workspace), so that no tap is ever tested. The tiles of an output row (or of
the channels) are full (MR) but for the last, and the panels of channels full
(NR) but for the last: both are known when compiling, so each shape of tile is
its own micro-kernel with constant offsets. Which image a task computes, or
which partition a filter gradient's image sums into, does not depend on the
thread count: results are bit-identical with any number of threads.
"""


from __future__ import annotations

import llvmlite.ir as ir

from graphc.backend.kernel_builder import I1, I8, I64, PTR, VOID, KernelBuilder, declare, i64
from graphc.backend.kernels import channels
from graphc.backend.kernels.conv_direct import VectorGroups
from graphc.backend.kernels.gemm import blocking


def _tile_sizes(extent: int, size: int) -> set:
    """The sizes of the tiles of at most `size` that cover range(extent): `size`, and the rest's."""
    return {min(size, extent - start) for start in range(0, extent, size)} if extent else set()


def _each_tile(kb, extent: int, size: int, name: str, body) -> None:
    """body(first, count) for the tiles covering range(extent): a loop over the full ones
    (count = size; first an i64 value), then the rest (count < size)."""
    full, rest = divmod(extent, size)
    if full:
        with kb.loop(full, name) as t:
            body(kb.b.mul(t, i64(size)), size)
    if rest:
        body(i64(full * size), rest)


class _Tiles:
    """The micro-kernels of one convolution product, one per shape of tile: `rows` (of MR) x
    `columns` (of NR, as host vectors, the last masked), their sums in 2*MR vector registers."""

    arguments: tuple = ()  # the micro-kernel's pointer arguments

    def __init__(self, module, name: str, g, rows: int, columns: int):
        self.g = g
        self.block = blocking(g.dtype)
        self.functions = {(r, c): self._emit(module, f"{name}_tile{r}x{c}", r, c)
                          for r in _tile_sizes(rows, self.block.mr) for c in _tile_sizes(columns, self.block.nr)}

    def _begin(self, module, name: str, rows: int, columns: int, extra=()):
        """The micro-kernel's builder, its vector groups and its rows x groups of zeroed sums."""
        kb = KernelBuilder(module, name, list(self.arguments) + [a for a, _ in extra],
                           [PTR] * len(self.arguments) + [t for _, t in extra], VOID)
        panel = VectorGroups(self.g.dtype, columns)
        sums = [[kb.variable(panel.vector, ir.Constant(panel.vector, None)) for _ in panel.groups] for _ in range(rows)]
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
    """The forward micro-kernels of one convolution: tile(x_at, w_at, y_at) computes y at the
    tile's pixels and panel, x_at pointing at pixel 0's first tap in the (padded) image, w_at at
    the panel's first column of w's row 0, y_at at the tile's first element of y."""

    arguments = ("x", "w", "y")

    def __init__(self, module, name: str, g):
        super().__init__(module, name, g, g.window.out_w, g.out_channels)

    def _emit(self, module, name: str, pixels: int, columns: int) -> ir.Function:
        g, win = self.g, self.g.window
        kb, panel, sums = self._begin(module, name, pixels, columns)
        b, x, w, y = kb.b, kb.arg("x"), kb.arg("w"), kb.arg("y")
        pixel_step = win.stride_w * g.channels
        with kb.loop(win.k_h, "kh") as kh:
            with kb.loop(win.k_w, "kw") as kw:
                tap = b.mul(b.add(b.mul(kh, i64(win.dilation_h * g.padded_w)), b.mul(kw, i64(win.dilation_w))),
                            i64(g.channels))
                weights = b.mul(b.mul(b.add(b.mul(kh, i64(win.k_w)), kw), i64(g.channels)), i64(g.out_channels))
                with kb.loop(g.channels, "c") as c:
                    vectors = self._load(kb, panel, w, b.add(weights, b.mul(c, i64(g.out_channels))))
                    at = b.add(tap, c)
                    for i in range(pixels):
                        self._accumulate(kb, panel, sums[i], kb.load(x, g.dtype, b.add(at, i64(i * pixel_step))),
                                         vectors)
        for i in range(pixels):
            for slot, (start, mask) in zip(sums[i], panel.groups):
                panel.store(kb, y, i64(i * g.out_channels + start), kb.get(slot, panel.vector), mask)
        return kb.finish()

    def emit_image(self, kb, image, w, y) -> None:
        """y's rows of one image [OH*OW, O] (y pointing at its first) from the (padded) `image`."""
        g, win, b = self.g, self.g.window, kb.b
        with kb.loop(win.out_h, "oh") as oh:
            top = b.mul(b.mul(oh, i64(win.stride_h * g.padded_w)), i64(g.channels))
            out_row = b.mul(oh, i64(win.out_w))

            def row_tile(first, pixels):
                x_at = _element(b, image, b.add(top, b.mul(first, i64(win.stride_w * g.channels))), g.dtype)

                def panel(column, columns):
                    y_at = _element(b, y, b.add(b.mul(b.add(out_row, first), i64(g.out_channels)), column), g.dtype)
                    b.call(self.functions[pixels, columns], [x_at, _element(b, w, column, g.dtype), y_at])

                _each_tile(kb, g.out_channels, self.block.nr, "panel", panel)

            _each_tile(kb, win.out_w, self.block.mr, "pixels", row_tile)


def _element(b, pointer, index, dtype):
    return b.gep(pointer, [b.mul(index, i64(dtype.size))], source_etype=I8)


def emit_zero_border(kb, g, padded) -> None:
    """Zeroes the whole padded image (its interior is overwritten by each emit_pad_image)."""
    size = g.padded_h * g.padded_w * g.channels
    channels.for_channels(kb, size, g.dtype, lambda c, lanes: channels.store(
        kb, g.dtype, padded, c, kb.constant(g.dtype, 0, lanes), lanes))


def emit_pad_image(kb, g, x, image, padded) -> None:
    """Copies image `image` of x into the interior of the zero-bordered `padded`."""
    _copy_interior(kb, g, x, image, padded, into_padded=True)


def emit_unpad_image(kb, g, padded, dx, image) -> None:
    """dx's image `image` = the interior of `padded` (what the padding's taps gathered is dropped)."""
    _copy_interior(kb, g, dx, image, padded, into_padded=False)


def _copy_interior(kb, g, images, image, padded, into_padded: bool) -> None:
    """Copies image `image` of `images` [N, H, W, C] into the interior of `padded`, or back."""
    win, b = g.window, kb.b
    row_elements = g.width * g.channels
    first = _element(b, images, b.mul(image, i64(g.height * row_elements)), g.dtype)
    memcpy = declare(kb.module, "llvm.memcpy.p0.p0.i64", VOID, [PTR, PTR, ir.IntType(64), I1])
    with kb.loop(g.height, "copy_row") as h:
        inside = _element(b, padded, b.mul(b.add(b.mul(b.add(h, i64(win.pad_top)), i64(g.padded_w)),
                                                 i64(win.pad_left)), i64(g.channels)), g.dtype)
        row = _element(b, first, b.mul(h, i64(row_elements)), g.dtype)
        target, source = (inside, row) if into_padded else (row, inside)
        b.call(memcpy, [target, source, i64(row_elements * g.dtype.size), ir.Constant(I1, 0)])


# Output pixels whose products a filter-gradient tile sums in registers before adding them to its
# partial filter (whole output rows; about this many): the sum of each element then adds a chain
# of about this many products, then a chain of the image's segments, then of the images.
SEGMENT_PIXELS = 64


class FilterGradientTiles(_Tiles):
    """The filter gradient's micro-kernels, over dw^T [O, K]: a tile of MR output channels x NR
    channels of one tap holds 2*MR vectors; per output pixel, one broadcast of dy per output channel
    and two vector loads of the tap's input channels feed 2*MR FMAs. (dw itself, [K, O], would need
    tiles of MR input channels, which do not divide a tap's C as well as MR divides O.)
    tile(x_at, dy_at, partial_at, first_row, rows) adds the tile's sums over output rows
    [first_row, first_row + rows) of one image to the partial, x_at pointing at the tap's first
    channel of the tile in the (padded) image, dy_at at the image's first row, first channel of
    the tile, partial_at at the tile's first element of the partial dw^T."""

    arguments = ("x", "dy", "partial")

    def __init__(self, module, name: str, g):
        super().__init__(module, name, g, g.out_channels, g.channels)

    def _emit(self, module, name: str, outputs: int, columns: int) -> ir.Function:
        g, win = self.g, self.g.window
        kb, panel, sums = self._begin(module, name, outputs, columns, [("first_row", I64), ("rows", I64)])
        b, x, dy, partial = kb.b, kb.arg("x"), kb.arg("dy"), kb.arg("partial")
        with kb.loop(kb.arg("rows"), "row") as r:
            oh = b.add(kb.arg("first_row"), r)
            top = b.mul(b.mul(oh, i64(win.stride_h * g.padded_w)), i64(g.channels))
            gradients = b.mul(b.mul(oh, i64(win.out_w)), i64(g.out_channels))
            with kb.loop(win.out_w, "ow") as ow:
                vectors = self._load(kb, panel, x, b.add(top, b.mul(ow, i64(win.stride_w * g.channels))))
                gradient = b.add(gradients, b.mul(ow, i64(g.out_channels)))
                for i in range(outputs):
                    self._accumulate(kb, panel, sums[i], kb.load(dy, g.dtype, b.add(gradient, i64(i))), vectors)
        for i in range(outputs):
            self._add_to(kb, panel, sums[i], partial, i64(i * g.depth))
        return kb.finish()

    def emit_image(self, kb, image, dy, partial) -> None:
        """partial (dw^T) += one image's products: `image` its (padded) pixels, dy its rows."""
        g, win, b = self.g, self.g.window, kb.b
        segment = max(1, min(win.out_h, -(-SEGMENT_PIXELS // max(1, win.out_w))))

        def rows(first_row, count):
            with kb.loop(win.k_h, "kh") as kh:
                with kb.loop(win.k_w, "kw") as kw:
                    tap = b.mul(b.add(b.mul(kh, i64(win.dilation_h * g.padded_w)), b.mul(kw, i64(win.dilation_w))),
                                i64(g.channels))
                    column = b.mul(b.add(b.mul(kh, i64(win.k_w)), kw), i64(g.channels))

                    def channel_tile(output, outputs):
                        def panel(channel, columns):
                            b.call(self.functions[outputs, columns], [
                                _element(b, image, b.add(tap, channel), g.dtype), _element(b, dy, output, g.dtype),
                                _element(b, partial, b.add(b.add(b.mul(output, i64(g.depth)), column), channel),
                                         g.dtype),
                                first_row, i64(count)])

                        _each_tile(kb, g.channels, self.block.nr, "panel", panel)

                    _each_tile(kb, g.out_channels, self.block.mr, "outputs", channel_tile)

        _each_tile(kb, win.out_h, segment, "segment", rows)


class InputGradientTiles(_Tiles):
    """The input gradient's micro-kernels: dx = col2im(dy @ w^T) without the columns. A tile of MR
    pixels of one output row x NR channels of one tap holds 2*MR vectors; per output channel, one
    broadcast of dy per pixel and two vector loads of w^T's row (packed once per call) feed 2*MR
    FMAs; then the tile is added to the input pixels its taps read (in the padded dx).
    tile(dy_at, w_at, dx_at) with dy_at at pixel 0's gradient, w_at at w^T [O, K]'s row 0, column
    (tap, first channel), dx_at at pixel 0's tap's first channel in the padded dx."""

    arguments = ("dy", "w", "dx")

    def __init__(self, module, name: str, g):
        super().__init__(module, name, g, g.window.out_w, g.channels)

    def _emit(self, module, name: str, pixels: int, columns: int) -> ir.Function:
        g, win = self.g, self.g.window
        kb, panel, sums = self._begin(module, name, pixels, columns)
        b, dy, w, dx = kb.b, kb.arg("dy"), kb.arg("w"), kb.arg("dx")
        with kb.loop(g.out_channels, "o") as o:
            vectors = self._load(kb, panel, w, b.mul(o, i64(g.depth)))
            for i in range(pixels):
                self._accumulate(kb, panel, sums[i], kb.load(dy, g.dtype, b.add(o, i64(i * g.out_channels))), vectors)
        for i in range(pixels):
            self._add_to(kb, panel, sums[i], dx, i64(i * win.stride_w * g.channels))
        return kb.finish()

    def emit_image(self, kb, dy, w_transposed, padded) -> None:
        """padded (zeroed) += one image's input gradient, dy pointing at the image's first row."""
        g, win, b = self.g, self.g.window, kb.b
        with kb.loop(win.out_h, "oh") as oh:
            top = b.mul(oh, i64(win.stride_h * g.padded_w))
            out_row = b.mul(oh, i64(win.out_w))

            def row_tile(first, pixels):
                dy_at = _element(b, dy, b.mul(b.add(out_row, first), i64(g.out_channels)), g.dtype)
                corner = b.mul(b.add(top, b.mul(first, i64(win.stride_w))), i64(g.channels))
                with kb.loop(win.k_h, "kh") as kh:
                    with kb.loop(win.k_w, "kw") as kw:
                        tap = b.mul(b.add(b.mul(kh, i64(win.dilation_h * g.padded_w)),
                                          b.mul(kw, i64(win.dilation_w))), i64(g.channels))
                        column = b.mul(b.add(b.mul(kh, i64(win.k_w)), kw), i64(g.channels))

                        def panel(channel, columns):
                            b.call(self.functions[pixels, columns], [
                                dy_at, _element(b, w_transposed, b.add(column, channel), g.dtype),
                                _element(b, padded, b.add(b.add(corner, tap), channel), g.dtype)])

                        _each_tile(kb, g.channels, self.block.nr, "panel", panel)

            _each_tile(kb, win.out_w, self.block.mr, "pixels", row_tile)

