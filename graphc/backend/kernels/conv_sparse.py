"""A filter gradient's image whose dy is block-sparse: a quarter of the multiply-adds.

The gradient through a 2x2 max-pool (and a ReLU before it) has, in each 2x2 block
of output pixels and each output channel o, at most one nonzero: the pool's
choice. Deep MNIST's conv2 and the tutorial CNN's (stride 2) are such layers; their
dense filter gradient (conv_tiled.FilterGradientTiles) multiplies every dy, three
quarters of them zeros. With dilation 1, output pixel p's tap (kh, kw) reads the
zero-bordered image at stride * p + (kh, kw), so

    dw^T [o, (kh, kw, c)] = sum over blocks q of g(q, o) * x_pad[stride * s(q, o) + (kh, kw), c]

where g(q, o) is the block's nonzero (or its first pixel's zero) and s(q, o) its
pixel: the other products are exact zeros, each added to a sum leaves it as it was,
as long as x is finite (0 * inf is NaN). Each image is tested once: a pass over its
dy (vectors of output channels) lists for each channel o the blocks whose g is not
zero, with g and the offset of s in the padded image (a block whose g is zero, a
ReLU's, adds only zeros), and counts the nonzeros of each block; the copy of x into
the padded image tests that x is finite. An image failing either test takes the dense tiles,
so the gradient is dw whatever dy holds.

The micro-kernel: for one output channel o and one tap row kh, the KW x C taps of
a window row are contiguous in the padded image (and in dw^T's row o), so a tile
holds them in vector registers (10 of 16 floats for 5 x 32) and, per block, takes one
broadcast of g and one load of x per multiply-add: every product needs its own x
(each block and channel has its own pixel), so the load is the bound, not the FMA.
Per element of dw, the products of an image are summed in the order of the blocks
(row-major), from +0.0 in registers, then added to the partition's partial (or
stored, for a partition's first image): another order than the dense path's (pixels
in segments of rows), so the last bits differ from it; which path an image takes
depends on its data alone, and the partitions on the batch alone, so the results do
not depend on the threads.
"""

from __future__ import annotations

from typing import NamedTuple

import llvmlite.ir as ir

from graphc.backend import target
from graphc.backend.kernel_builder import (I1, I32, I64, PTR, VOID, KernelBuilder, _suffix, declare, i64,
                                          memory_type, zeros)
from graphc.backend.kernels.conv_direct import VectorGroups
from graphc.backend.kernels.conv_tiled import CACHE_LINE_BYTES
from graphc.core import dtypes


def _element(b, pointer, index, dtype):
    return b.gep(pointer, [b.mul(index, i64(dtype.size))], source_etype=ir.IntType(8))


def _splat(llvm_type, value, lanes: int):
    return ir.Constant(ir.VectorType(llvm_type, lanes), [ir.Constant(llvm_type, value)] * lanes)


def _any_lane(b, vector_i1, lanes: int):
    """An i1: whether any lane of a <lanes x i1> is set."""
    return b.icmp_unsigned("!=", b.bitcast(vector_i1, ir.IntType(lanes)), ir.Constant(ir.IntType(lanes), 0))


def _prefetch_share(kb, regions, part, parts: int) -> None:
    """Prefetches into L2 share `part` (an i64 below `parts`) of the cache lines of each (pointer, bytes)
    region: the next image's dy (and x) while this image's micro-kernels run, spread over their outer
    loop, so that the next compaction pass (and copy) finds them in L2 rather than waiting on memory
    for each (conv2's dy is 2.5 MB a step, written by the pool gradient). A prefetch never faults, so
    the region past the last image is harmless."""
    b = kb.b
    prefetch = declare(kb.module, "llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
    for pointer, size in regions:
        lines = -(-size // CACHE_LINE_BYTES)
        share = -(-lines // parts)
        start = b.mul(part, i64(share * CACHE_LINE_BYTES))
        with kb.loop(share, "prefetch") as line:
            at = b.gep(pointer, [b.add(start, b.mul(line, i64(CACHE_LINE_BYTES)))], source_etype=ir.IntType(8))
            b.call(prefetch, [at, ir.Constant(I32, 0), ir.Constant(I32, 2), ir.Constant(I32, 1)])  # read, L2, data


class _Channels(NamedTuple):
    """A vector of output channels of one block (from channel `start`): each lane's g (the block's
    nonzero, or its first pixel's zero), which of the four pixels are nonzero, and whether to list it."""
    start: int
    value: ir.Value
    nonzero: list
    keep: ir.Value


class _BlockSparse:
    """What the two block-sparse paths share, over a scratch (Convolution.block_sparse_elements): a
    padded image [PH, PW, C], then the lists of the blocks' nonzeros (g in the gradient's type), then
    as many int32 offsets beside them, then int32 counts of the lists (Q = OH/2 x OW/2 blocks; each
    subclass lays the lists out). A list holds only the blocks whose g is not zero: a ReLU before the
    pool leaves a third of conv2's blocks without a nonzero (Deep MNIST), and their products, exact
    zeros, change no sum (each starts from +0, which adding a zero leaves +0)."""

    LISTS_PER_BLOCK_CHANNEL = 1  # places for g per block and output channel

    def __init__(self, module, name: str, g):
        self.module, self.name, self.g = module, name, g
        win = g.window
        self.blocks_w = win.out_w // 2
        self.blocks = (win.out_h // 2) * self.blocks_w
        self.padded = win.padded_h * win.padded_w * g.channels
        self.places = self.LISTS_PER_BLOCK_CHANNEL * self.blocks * g.out_channels
        self.width = target.lanes(g.dtype)
        # The offsets in the padded image of the windows of a block's pixels (0, 0), (0, 1), (1, 0),
        # (1, 1) from the first one's.
        self.moves = [step * g.channels for step in (0, win.stride_w, win.stride_h * win.padded_w,
                                                     win.stride_h * win.padded_w + win.stride_w)]
        self._functions = {}

    def _gradients(self, b, scratch):
        return _element(b, scratch, i64(self.padded), self.g.dtype)

    def _offsets(self, b, scratch):
        return _element(b, scratch, i64(self.padded + self.places), self.g.dtype)

    def _counts(self, b, scratch):
        return _element(b, scratch, i64(self.padded + 2 * self.places), self.g.dtype)

    def emit_zero_border(self, kb, scratch) -> None:
        """Zeros the padded image whole (the filter gradient's once per partition, each image then writing
        its inside only; the input gradient's per image, which it adds into)."""
        b, vector = kb.b, ir.VectorType(memory_type(self.g.dtype), self.width)
        full, rest = divmod(self.padded, self.width)
        with kb.loop(full, "zero") as v:
            kb.store_vector(scratch, self.g.dtype, b.mul(v, i64(self.width)), zeros(vector))
        if rest:
            with kb.loop(rest, "zero_rest") as v:
                kb.store(scratch, self.g.dtype, b.add(i64(full * self.width), v),
                         ir.Constant(memory_type(self.g.dtype), 0))

    def _compact(self, kb, dy, scratch, write):
        """Reads dy's blocks in row-major order for their nonzeros: per block (i, j), write(i, j, window,
        entries) with `window` the i32 offset of the block's first pixel's window in the padded image and
        `entries` a _Channels per vector of output channels. Returns whether no block of a channel has two
        nonzeros."""
        g, win, b = self.g, self.g.window, kb.b
        groups, width, channels = VectorGroups(g.dtype, g.out_channels), self.width, g.out_channels
        counts = ir.VectorType(I32, width)
        many = kb.variable(counts, zeros(counts))  # lanes with a block of two or more nonzeros
        zero = zeros(groups.vector)
        rows = (0, channels, win.out_w * channels, (win.out_w + 1) * channels)  # the block's pixels' rows of dy
        with kb.loop(win.out_h // 2, "block_row") as i:
            with kb.loop(self.blocks_w, "block") as j:
                first = b.mul(b.add(b.mul(b.mul(i, i64(2)), i64(win.out_w)), b.mul(j, i64(2))), i64(channels))
                window = b.trunc(b.mul(b.add(b.mul(b.mul(i, i64(2 * win.stride_h)), i64(win.padded_w)),
                                             b.mul(j, i64(2 * win.stride_w))), i64(g.channels)), I32)
                entries = []
                for start, mask in groups.groups:
                    values = [groups.load(kb, dy, b.add(first, i64(row + start)), mask) for row in rows]
                    nonzero = [b.fcmp_unordered("!=", value, zero) for value in values]
                    count = b.zext(nonzero[0], counts)
                    for flags in nonzero[1:]:
                        count = b.add(count, b.zext(flags, counts))
                    kb.set(many, b.or_(kb.get(many, counts), b.zext(b.icmp_unsigned(">", count, _splat(I32, 1, width)),
                                                                      counts)))
                    value = values[0]
                    for k in (3, 2, 1):
                        value = b.select(nonzero[k], values[k], value)
                    keep = b.fcmp_unordered("!=", value, zero)  # a NaN g is kept
                    if mask is not None:
                        keep = b.and_(keep, mask)
                    entries.append(_Channels(start, value, nonzero, keep))
                write(i, j, window, entries)
        return b.not_(_any_lane(b, b.icmp_unsigned("!=", kb.get(many, counts), zeros(counts)), width))

    def _move_rows(self, kb, source, target, into_padded: bool, each=None) -> None:
        """Copies an image's rows [H, W x C] between a compact image and the padded image's inside (into it
        with `into_padded`, else out of it), a vector at a time; each(value) sees every vector moved."""
        g, win, b, width = self.g, self.g.window, kb.b, self.width
        row_elements = g.width * g.channels
        full, rest = divmod(row_elements, width)
        tail = ir.Constant(ir.VectorType(I1, width), [ir.Constant(I1, int(lane < rest)) for lane in range(width)])
        zero = zeros(ir.VectorType(memory_type(g.dtype), width))
        with kb.loop(g.height, "copy_row") as r:
            compact = b.mul(r, i64(row_elements))
            padded = b.mul(b.add(b.mul(b.add(r, i64(win.pad_top)), i64(win.padded_w)), i64(win.pad_left)),
                           i64(g.channels))
            source_at, target_at = (compact, padded) if into_padded else (padded, compact)

            def move(offset, mask):
                if mask is None:
                    value = kb.load_vector(source, g.dtype, b.add(source_at, offset), width)
                    kb.store_vector(target, g.dtype, b.add(target_at, offset), value)
                else:
                    value = kb.load_vector_masked(source, g.dtype, b.add(source_at, offset), mask, zero)
                    kb.store_vector_masked(target, g.dtype, b.add(target_at, offset), value, mask)
                if each is not None:
                    each(value)

            with kb.loop(full, "copy") as v:
                move(b.mul(v, i64(width)), None)
            if rest:
                move(i64(full * width), tail)

    def _chunks(self) -> list:
        """(first element, elements) of the pieces of a window row (KW x C) a micro-kernel's registers hold:
        as few as hold at most half the vector registers less two, as even as they go."""
        row = self.g.window.k_w * self.g.channels
        vectors = -(-row // self.width)
        registers = 32 if self.width * self.g.dtype.size == 64 else 16
        pieces = -(-vectors // max(1, registers // 2 - 2))
        per = -(-vectors // pieces) * self.width
        return [(first, min(per, row - first)) for first in range(0, row, per)]

    def _function(self, elements: int) -> ir.Function:
        if elements not in self._functions:
            self._functions[elements] = self._emit(f"{self.name}_sparse{len(self._functions)}", elements)
        return self._functions[elements]

    def _emit(self, name: str, elements: int) -> ir.Function:
        """tile(source, g, offsets, target, row, count, accumulate): target[0 : elements] (+)= the sum over
        the listed entries n < count of g[n] * source[offsets[n] + row : ... + elements], summed in
        registers from +0 in the order of n. Each product loads its own source vector (each entry has its
        own window or output channel) and broadcasts g: the loads bound it, not the FMAs."""
        g = self.g
        kb = KernelBuilder(self.module, name, ["source", "gradients", "offsets", "target", "row", "count",
                                               "accumulate"], [PTR] * 4 + [I64] * 3, VOID)
        kb.function.attributes.add("noinline")
        b, panel = kb.b, VectorGroups(g.dtype, elements)
        sums = [kb.variable(panel.vector, zeros(panel.vector)) for _ in panel.groups]
        with kb.loop(kb.arg("count"), "n") as at:
            offset = b.add(b.sext(kb.load(kb.arg("offsets"), dtypes.int32, at), I64), kb.arg("row"))
            gradient = kb.load(kb.arg("gradients"), g.dtype, at)
            for slot, (start, mask) in zip(sums, panel.groups):
                x = panel.load(kb, kb.arg("source"), b.add(offset, i64(start)), mask)
                kb.set(slot, panel.fma(kb, gradient, x, kb.get(slot, panel.vector)))
        target = kb.arg("target")
        with b.if_else(b.icmp_unsigned("!=", kb.arg("accumulate"), i64(0))) as (add, store):
            with add:
                for slot, (start, mask) in zip(sums, panel.groups):
                    panel.store(kb, target, i64(start),
                                b.fadd(panel.load(kb, target, i64(start), mask), kb.get(slot, panel.vector)), mask)
            with store:
                for slot, (start, mask) in zip(sums, panel.groups):
                    panel.store(kb, target, i64(start), kb.get(slot, panel.vector), mask)
        return kb.finish()


class BlockSparseFilterGradient(_BlockSparse):
    """The block-sparse path of a register-tiled filter gradient, over a partition's scratch: the padded
    image is x's, zero-bordered once per partition (emit_zero_border), its inside copied per image. The
    lists: g [O, Q] and the offsets [O, Q] of the listed blocks' pixels' windows, row o listing channel
    o's blocks in row-major order in its first counts[o] places (counts [O])."""

    def emit_prepare(self, kb, image, dy, scratch):
        """Copies the image into the padded one and writes the blocks' g and offsets from dy (the image's
        rows [OH*OW, O]); returns an i1 value: whether the block-sparse path gives this image's products
        (x finite, at most one nonzero in each block and channel)."""
        b, width = kb.b, self.width
        counts = ir.VectorType(I32, width)
        groups = VectorGroups(self.g.dtype, self.g.out_channels).groups
        listed = {start: kb.variable(counts, zeros(counts)) for start, _ in groups}  # each lane's blocks so far
        gradients, offsets = self._gradients(b, scratch), self._offsets(b, scratch)
        moves = [_splat(I32, move, width) for move in self.moves]

        def write(i, j, window, entries):
            for entry in entries:
                move = moves[0]
                for k in (3, 2, 1):
                    move = b.select(entry.nonzero[k], moves[k], move)
                slot = listed[entry.start]
                # Lane o's entry goes to place listed[o] of row start + o.
                place = b.add(kb.get(slot, counts), ir.Constant(counts, [
                    ir.Constant(I32, (entry.start + lane) * self.blocks) for lane in range(width)]))
                self._scatter(kb, gradients, self.g.dtype, place, entry.value, entry.keep)
                self._scatter(kb, offsets, dtypes.int32, place, b.add(move, kb.broadcast(window, width)), entry.keep)
                kb.set(slot, b.add(kb.get(slot, counts), b.zext(entry.keep, counts)))

        copied = self._copy_image(kb, image, scratch)
        sparse = self._compact(kb, dy, scratch, write)
        counted = self._counts(b, scratch)
        for start, mask in groups:
            if mask is None:
                kb.store_vector(counted, dtypes.int32, i64(start), kb.get(listed[start], counts))
            else:
                kb.store_vector_masked(counted, dtypes.int32, i64(start), kb.get(listed[start], counts), mask)
        return b.and_(copied, sparse)

    def _scatter(self, kb, base, dtype, places, value, mask) -> None:
        """base[places[lane]] = value[lane] for the lanes where mask is set (one vector scatter)."""
        b, width = kb.b, self.width
        addresses = ir.VectorType(I64, width)
        at = b.add(kb.broadcast(b.ptrtoint(base, I64), width),
                   b.mul(b.sext(places, addresses), _splat(I64, dtype.size, width)))
        pointers = b.inttoptr(at, ir.VectorType(PTR, width))
        scatter = declare(kb.module, f"llvm.masked.scatter.{_suffix(value.type)}.v{width}p0", VOID,
                          [value.type, pointers.type, I32, mask.type])
        b.call(scatter, [value, pointers, ir.Constant(I32, dtype.size), mask])

    def _channel(self, kb, scratch, o):
        """(g, offsets, count as i64) of output channel o's list of blocks."""
        b, dtype = kb.b, self.g.dtype
        at = b.mul(o, i64(self.blocks))
        count = b.sext(kb.load(self._counts(b, scratch), dtypes.int32, o), I64)
        return (_element(b, self._gradients(b, scratch), at, dtype),
                _element(b, self._offsets(b, scratch), at, dtypes.int32), count)

    def _copy_image(self, kb, image, scratch):
        """The image into the inside of the padded image; whether all its elements are finite."""
        b, width = kb.b, self.width
        vector = ir.VectorType(memory_type(self.g.dtype), width)
        # The sum of x * 0 over the image: +-0 if every x is finite, NaN if one is not.
        probe, zero = kb.variable(vector, zeros(vector)), zeros(vector)
        self._move_rows(kb, image, scratch, True,
                        lambda value: kb.set(probe, b.fadd(kb.get(probe, vector), b.fmul(value, zero))))
        probed = kb.get(probe, vector)
        return b.not_(_any_lane(b, b.fcmp_unordered("uno", probed, probed), width))

    def emit_image(self, kb, scratch, partial, first_image, upcoming=()) -> None:
        """partial (dw^T [O, K]) += the products of the image emit_prepare left in the scratch; with
        `first_image` (an i1 value) true, stores them instead: per output channel o, tap row kh and piece
        of a window row, the micro-kernel over o's listed blocks (the window rows at their offsets).
        `upcoming`: (pointer, bytes) regions the next image reads, prefetched a share per channel."""
        g, win, b = self.g, self.g.window, kb.b
        accumulate = b.zext(b.not_(first_image), I64)
        row_elements = win.k_w * g.channels
        with kb.loop(g.out_channels, "o") as o:
            _prefetch_share(kb, upcoming, o, g.out_channels)
            channel_gradients, channel_offsets, count = self._channel(kb, scratch, o)
            with kb.loop(win.k_h, "kh") as kh:
                for first, elements in self._chunks():
                    at = b.add(b.add(b.mul(o, i64(g.depth)), b.mul(kh, i64(row_elements))), i64(first))
                    row = b.add(b.mul(kh, i64(win.padded_w * g.channels)), i64(first))
                    b.call(self._function(elements), [scratch, channel_gradients, channel_offsets,
                                                      _element(b, partial, at, g.dtype), row, count, accumulate])


class BlockSparseInputGradient(_BlockSparse):
    """The block-sparse path of a register-tiled input gradient: dx_pad [s(q, o) + (kh, kw), c] +=
    g(q, o) * w[kh, kw, c, o] for each block q and output channel o, over a thread's scratch (the
    padded dx, then the lists); then dx is the padded one's inside. The other products are w * 0:
    exact zeros while w is finite (the caller tests w once a call, as it packs w'' [O, KH, KW, C]).

    The lists: per block q and pixel k of its four, the output channels whose nonzero is at k, in
    increasing order, with their g and the offsets o x KH x KW x C of their rows of w'' (g [Q, 4, O],
    offsets [Q, 4, O], counts [Q, 4]). Per tap row kh, piece of a window row, block and pixel, the
    micro-kernel sums g times w'' [o, kh] over the pixel's channels in registers and adds the sum to
    the row of dx_pad the pixel's window reads there: dx is loaded and stored once per (kh, block,
    pixel) and vector, not once per multiply-add (a channel after another at one pixel reads the same
    dx), and each product loads its w'' row, as the filter gradient loads its x. kh is the outer loop
    so that the rows w'' [:, kh] (40 KB for conv2) stay near L1 while every block reads them (per
    block, all of w'' (200 KB) would come from L2: 2.4 against 3.4 ms a Deep MNIST step, one thread).
    Each element of dx sums in the order (kh, block row, block column, pixel), each term a sum over
    channels: the same with any number of threads."""

    LISTS_PER_BLOCK_CHANNEL = 4

    def emit_image(self, kb, scratch, w_rows, dx, upcoming=()) -> None:
        """dx [H, W, C] of the image whose lists emit_prepare left in the scratch; w_rows w''.
        `upcoming`: (pointer, bytes) regions the next image reads, prefetched a share per tap row."""
        g, win, b = self.g, self.g.window, kb.b
        self.emit_zero_border(kb, scratch)
        gradients, offsets, counts = self._gradients(b, scratch), self._offsets(b, scratch), self._counts(b, scratch)
        with kb.loop(win.k_h, "kh") as kh:
            _prefetch_share(kb, upcoming, kh, win.k_h)
            for first, elements in self._chunks():
                with kb.loop(win.out_h // 2, "block_row") as i:
                    with kb.loop(self.blocks_w, "block") as j:
                        block = b.add(b.mul(i, i64(self.blocks_w)), j)
                        window = b.mul(b.add(b.mul(b.mul(i, i64(2 * win.stride_h)), i64(win.padded_w)),
                                             b.mul(j, i64(2 * win.stride_w))), i64(g.channels))
                        # The block's pixels in a loop, not four call sites: a quarter of the code.
                        with kb.loop(4, "pixel") as k:
                            listing = b.add(b.mul(block, i64(4)), k)
                            count = b.sext(kb.load(counts, dtypes.int32, listing), I64)
                            at = b.mul(listing, i64(g.out_channels))
                            with b.if_then(b.icmp_unsigned("!=", count, i64(0))):
                                target = b.add(b.add(window, b.add(self._move(b, k), i64(first))),
                                               b.mul(kh, i64(win.padded_w * g.channels)))
                                b.call(self._function(elements), [
                                    w_rows, _element(b, gradients, at, g.dtype), _element(b, offsets, at, dtypes.int32),
                                    _element(b, scratch, target, g.dtype),
                                    b.add(b.mul(kh, i64(win.k_w * g.channels)), i64(first)), count, i64(1)])
        self._move_rows(kb, scratch, dx, False)

    def _move(self, b, k):
        """An i64 value: self.moves[k] for pixel k (an i64 value below 4), (k >> 1) rows and (k & 1) columns
        of windows on."""
        return b.add(b.mul(b.lshr(k, i64(1)), i64(self.moves[2])), b.mul(b.and_(k, i64(1)), i64(self.moves[1])))

    def emit_prepare(self, kb, dy, scratch):
        """The lists from the image's dy; an i1 value: whether it is block-sparse."""
        b, width = kb.b, self.width
        gradients, offsets, counts = self._gradients(b, scratch), self._offsets(b, scratch), self._counts(b, scratch)
        mask_int = ir.IntType(width)
        popcount = declare(kb.module, f"llvm.ctpop.i{width}", mask_int, [mask_int])

        def write(i, j, window, entries):
            block = b.add(b.mul(i, i64(self.blocks_w)), j)
            # Pixel k's list: its channels in increasing order, vector after vector. The pixels in a loop,
            # each picking its lanes' flags by k, not written out four times: LLVM took 88 ms of CPU on the
            # function with four copies, half of it on them (InstCombine, dead store elimination).
            with kb.loop(4, "pixel") as k:
                listing = b.add(b.mul(block, i64(4)), k)
                stored = i64(0)
                pixel = [b.icmp_unsigned("==", k, i64(p)) for p in (1, 2, 3)]
                for entry in entries:
                    at = b.add(b.mul(listing, i64(self.g.out_channels)), stored)
                    nonzero = entry.nonzero[0]
                    for is_pixel, flags in zip(pixel, entry.nonzero[1:]):
                        nonzero = b.select(is_pixel, flags, nonzero)
                    mask = b.and_(nonzero, entry.keep)
                    rows = ir.Constant(ir.VectorType(I32, width), [
                        ir.Constant(I32, (entry.start + lane) * self.g.depth) for lane in range(width)])
                    kept = b.call(popcount, [b.bitcast(mask, mask_int)])
                    # The first `kept` places: ones below bit `kept` (shifted in i32: `kept` may be `width`).
                    one = ir.Constant(I32, 1)
                    prefix = b.bitcast(b.trunc(b.sub(b.shl(one, b.zext(kept, I32)), one), mask_int), mask.type)
                    kb.store_vector_masked(gradients, self.g.dtype, at, self._compress(kb, entry.value, mask), prefix)
                    kb.store_vector_masked(offsets, dtypes.int32, at, self._compress(kb, rows, mask), prefix)
                    stored = b.add(stored, b.zext(kept, I64))
                kb.store(counts, dtypes.int32, listing, b.trunc(stored, I32))

        return self._compact(kb, dy, scratch, write)

    @staticmethod
    def _compress(kb, value, mask):
        """The lanes of value where mask is set, moved to its first lanes (in a register: AVX-512's
        compressing store to memory is microcoded on Zen 4, tens of cycles each)."""
        compress = declare(kb.module, f"llvm.experimental.vector.compress.{_suffix(value.type)}", value.type,
                           [value.type, mask.type, value.type])
        return kb.b.call(compress, [value, mask, ir.Constant(value.type, ir.Undefined)])

    def emit_finite(self, kb, w, count: int):
        """An i1 value: whether w [0 : count] is all finite (the sum of w * 0 is then +-0, else NaN)."""
        b, width, dtype = kb.b, self.width, self.g.dtype
        vector = ir.VectorType(memory_type(dtype), width)
        zero = zeros(vector)
        probe = kb.variable(vector, zero)
        full, rest = divmod(count, width)
        with kb.loop(full, "finite") as v:
            value = kb.load_vector(w, dtype, b.mul(v, i64(width)), width)
            kb.set(probe, b.fadd(kb.get(probe, vector), b.fmul(value, zero)))
        if rest:
            tail = ir.Constant(ir.VectorType(I1, width), [ir.Constant(I1, int(lane < rest)) for lane in range(width)])
            value = kb.load_vector_masked(w, dtype, i64(full * width), tail, zero)
            kb.set(probe, b.fadd(kb.get(probe, vector), b.fmul(value, zero)))
        probed = kb.get(probe, vector)
        return b.not_(_any_lane(b, b.fcmp_unordered("uno", probed, probed), width))
