"""Max and average pooling over NHWC images, and their gradients.

Each window visits only the taps inside the image (TF's SAME padding never wins
a max and is not counted by an average), channels innermost a vector at a time.
The forward kernels split output rows (n, oh) across threads; the gradients
scatter into their image's dx, so they split images. MaxPoolGrad anchors a fused
pool_grad kernel (passes/fuse.py), whose epilogue runs on each image's dx once final. As TF's CPU kernels, a max
starts from the dtype's lowest value and takes each tap strictly greater, so NaN
never wins (max of [nan, 1, 2, 3] is 3; of a window of -inf or NaN, the lowest
float); MaxPoolGrad's argmax starts from the first tap instead and takes each
later tap strictly greater (row-major order), and routes the gradient there.
An average sums each row of its window, then the rows. The max-pool and its gradient prefetch, before
each output row, the input rows of the next one: their input was written long before (the gradient
reads the forward's ReLU output), and the loads of the taps waited on memory (perf: 60% of the
gradient's samples on one load; the tutorial CNN's max-pool 0.39-0.43 -> 0.29-0.32 ms on one thread).
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np

from graphc.backend import lowering
from graphc.backend.buffers import Buffers
from graphc.backend.kernel_builder import I8, I32, PTR, VOID, KernelBuilder, declare, i64, register_type
from graphc.backend.kernels import channels
from graphc.backend.kernels.conv_tiled import CACHE_LINE_BYTES
from graphc.backend.kernels.elementwise import PARALLEL_MIN_ELEMENTS, ElementwiseBody, materialized
from graphc.backend.kernels.matmul import channel_matrix_strides, emit_block
from graphc.backend.kernels.parallel import emit_parallel_for
from graphc.core.windows import pool_window


class Pool:
    """One pooling instruction's sizes, and the code for visiting a window's taps."""

    def __init__(self, inst, image_shape):
        self.dtype = inst.result.type.dtype
        self.batch, self.height, self.width, self.channels = image_shape
        self.window = win = pool_window(image_shape, inst.attrs)
        # No window reaches past the image (no padding, the last one ends inside: any VALID pool):
        # the tap loops then have constant bounds, which LLVM unrolls.
        self.windows_inside = (win.pad_top == win.pad_left == 0
                               and (win.out_h - 1) * win.stride_h + win.k_h <= self.height
                               and (win.out_w - 1) * win.stride_w + win.k_w <= self.width)

    def taps(self, kb: KernelBuilder, oh, ow):
        """For the window of output pixel (oh, ow): (first, count, visit) where visit(body) runs
        body(pixel, tap) over its taps inside the image in order (pixel = ih * W + iw of the
        input, tap = kh * KW + kw as i32), and row_start() / row_end() around each window row
        if given; first is the first such (pixel, tap), count their number."""
        b, win = kb.b, self.window
        top = b.sub(b.mul(oh, i64(win.stride_h)), i64(win.pad_top))
        left = b.sub(b.mul(ow, i64(win.stride_w)), i64(win.pad_left))
        if self.windows_inside:
            (kh_lo, kh_hi), (kw_lo, kw_hi) = (i64(0), i64(win.k_h)), (i64(0), i64(win.k_w))
        else:
            kh_lo, kh_hi = _clamp(b, top, win.k_h, self.height)
            kw_lo, kw_hi = _clamp(b, left, win.k_w, self.width)

        def place(kh, kw):
            pixel = b.add(b.mul(b.add(top, kh), i64(self.width)), b.add(left, kw))
            return pixel, b.trunc(b.add(b.mul(kh, i64(win.k_w)), kw), I32)

        def visit(body, row_start=None, row_end=None):
            with kb.loop(b.sub(kh_hi, kh_lo), "kh") as i:
                if row_start:
                    row_start()
                with kb.loop(b.sub(kw_hi, kw_lo), "kw") as j:
                    body(*place(b.add(kh_lo, i), b.add(kw_lo, j)))
                if row_end:
                    row_end()

        count = b.mul(b.sub(kh_hi, kh_lo), b.sub(kw_hi, kw_lo))
        return place(kh_lo, kw_lo), count, visit


def _prefetch_band(kb, pool: Pool, x, image_base, oh) -> None:
    """Prefetches into L2 the input rows the windows of output row `oh` read (past the image's last
    row: the next image's first rows, where the loops go next; a prefetch never faults)."""
    b, win = kb.b, pool.window
    row_bytes = pool.width * pool.channels * pool.dtype.size
    prefetch = declare(kb.module, "llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
    top = b.sub(b.mul(oh, i64(win.stride_h)), i64(win.pad_top))
    start = b.add(b.mul(image_base, i64(pool.dtype.size)), b.mul(top, i64(row_bytes)))
    with kb.loop(-(-win.k_h * row_bytes // CACHE_LINE_BYTES), "prefetch") as line:
        at = b.gep(x, [b.add(start, b.mul(line, i64(CACHE_LINE_BYTES)))], source_etype=I8)
        b.call(prefetch, [at, ir.Constant(I32, 0), ir.Constant(I32, 2), ir.Constant(I32, 1)])  # read, L2, data


def _clamp(b, start, k: int, size: int):
    """[lo, hi): the taps 0 <= t < k with 0 <= start + t < size."""
    lo = b.select(b.icmp_signed("<", start, i64(0)), b.sub(i64(0), start), i64(0))
    end = b.sub(i64(size), start)
    hi = b.select(b.icmp_signed("<", end, i64(k)), end, i64(k))
    return lo, b.select(b.icmp_signed("<", hi, lo), lo, hi)


def _first_max_tap(kb, pool: Pool, x, image_base, first, visit, c, lanes):
    """The tap (i32 per lane) of a window's first maximum for channels c..c+lanes, as TF's MaxPoolGrad
    finds it: the first tap, unless a later one is strictly greater (a NaN first tap keeps it)."""
    b, dtype = kb.b, pool.dtype
    index_type = kb.lane_type(I32, lanes)

    def at(pixel):
        return b.add(image_base, b.add(b.mul(pixel, i64(pool.channels)), c))

    best = kb.variable(kb.register_type(dtype, lanes), channels.load(kb, dtype, x, at(first[0]), lanes))
    index = kb.variable(index_type, kb.broadcast(first[1], lanes))

    def tap(pixel, number):
        value = channels.load(kb, dtype, x, at(pixel), lanes)
        larger = b.fcmp_ordered(">", value, kb.get(best, value.type))
        kb.set(best, b.select(larger, value, kb.get(best, value.type)))
        kb.set(index, b.select(larger, kb.broadcast(number, lanes), kb.get(index, index_type)))

    visit(tap)
    return kb.get(index, index_type)


def _window_max(kb, pool: Pool, x, image_base, visit, c, lanes):
    """The largest tap strictly above the dtype's lowest value, or that value (TF's MaxPool)."""
    b, dtype = kb.b, pool.dtype
    lowest = (np.finfo if dtype.is_floating else np.iinfo)(dtype.np_dtype).min
    best = kb.variable(kb.register_type(dtype, lanes), kb.constant(dtype, lowest, lanes))

    def tap(pixel, number):
        value = channels.load(kb, dtype, x, b.add(image_base, b.add(b.mul(pixel, i64(pool.channels)), c)), lanes)
        best_so_far = kb.get(best, value.type)  # NaN is never larger
        larger = (b.fcmp_ordered(">", value, best_so_far) if dtype.is_floating
                  else b.icmp_signed(">", value, best_so_far))
        kb.set(best, b.select(larger, value, best_so_far))

    visit(tap)
    return kb.get(best, kb.register_type(dtype, lanes))


def _window_sum(kb, pool: Pool, x, image_base, visit, c, lanes):
    """The sum of a window's taps: each window row's, then the rows' (a global pooling of H x W
    taps adds H + W times, not H * W, one after another)."""
    b, value_type = kb.b, kb.register_type(pool.dtype, lanes)
    zero = kb.constant(pool.dtype, 0, lanes)
    total, row_total = kb.variable(value_type, zero), kb.variable(value_type, zero)

    def tap(pixel, number):
        value = channels.load(kb, pool.dtype, x, b.add(image_base, b.add(b.mul(pixel, i64(pool.channels)), c)), lanes)
        kb.set(row_total, b.fadd(kb.get(row_total, value_type), value))

    visit(tap, row_start=lambda: kb.set(row_total, zero),
          row_end=lambda: kb.set(total, b.fadd(kb.get(total, value_type), kb.get(row_total, value_type))))
    return kb.get(total, value_type)


def _count(kb, pool: Pool, count, lanes: int):
    """A window's tap count (i64) as a float of the pool's dtype, in `lanes` lanes."""
    return kb.broadcast(kb.b.sitofp(count, register_type(pool.dtype)), lanes)


def emit_output_row(task: KernelBuilder, pool: Pool, x, image_base, out, row, oh, average: bool = False) -> None:
    """Row `row` of the pool's result [N*OH, OW, C] (`oh` its row in its image): each window's max (or
    average) of the image starting at element `image_base` of x. A fused conv_max_pool kernel
    (kernels/conv.py) pools its blocks with it, so its results are the pool kernel's bit for bit."""
    b, win, dtype = task.b, pool.window, pool.dtype
    with task.loop(win.out_w, "ow") as ow:
        _, count, visit = pool.taps(task, oh, ow)
        destination = b.mul(b.add(b.mul(row, i64(win.out_w)), ow), i64(pool.channels))

        def window(c, lanes):
            if average:
                result = b.fdiv(_window_sum(task, pool, x, image_base, visit, c, lanes),
                                _count(task, pool, count, lanes))
            else:
                result = _window_max(task, pool, x, image_base, visit, c, lanes)
            channels.store(task, dtype, out, b.add(destination, c), result, lanes)

        channels.for_channels(task, pool.channels, dtype, window)


def _lower_pool(module, name, inst, average: bool):
    (x_value,) = inst.values
    pool = Pool(inst, x_value.type.shape)
    win = pool.window
    kb = KernelBuilder(module, name, ["out", "x", "status"])
    output_rows = pool.batch * win.out_h

    def rows(task, values, outer):
        b = task.b
        out, x = values
        begin, end = outer
        with task.loop(b.sub(end, begin), "row") as i:
            row = b.add(begin, i)
            image_base = b.mul(b.udiv(row, i64(win.out_h)), i64(pool.height * pool.width * pool.channels))
            _prefetch_band(task, pool, x, image_base, b.add(b.urem(row, i64(win.out_h)), i64(1)))
            emit_output_row(task, pool, x, image_base, out, row, b.urem(row, i64(win.out_h)), average)

    emit_parallel_for(kb, f"{name}_rows", output_rows, [kb.arg("out"), kb.arg("x")], rows,
                      parallel=inst.result.type.num_elements * win.k_h * win.k_w >= PARALLEL_MIN_ELEMENTS)
    return kb.finish()


def _emit_pool_grad(kb, name, inst, image_shape, pointers: list, route, zeros_first: bool = True,
                   after_image=None, prefetch_x=None) -> None:
    """dx for each image: zeros (unless `zeros_first` is false: route then writes every element),
    then route(task, pool, values, image, oh, ow, c, lanes) adds each output pixel's gradient into
    its window (values: `pointers` in the task, dx first); then after_image(task, values, image),
    if given, while that image's dx is final and still in L2. With `prefetch_x` (the index in
    `pointers` of the image the windows read), each output row first prefetches the next one's rows."""
    pool = Pool(inst, image_shape)
    win, dtype = pool.window, pool.dtype
    image_elements = pool.height * pool.width * pool.channels

    def images(task, values, outer):
        b = task.b
        begin, end = outer
        dx = values[0]
        with task.loop(b.sub(end, begin), "image") as i:
            image = b.add(begin, i)
            base = b.mul(image, i64(image_elements))
            if zeros_first:
                with task.loop(pool.height * pool.width, "zero") as p:
                    start = b.add(base, b.mul(p, i64(pool.channels)))
                    channels.for_channels(task, pool.channels, dtype, lambda c, lanes: channels.store(
                        task, dtype, dx, b.add(start, c), task.constant(dtype, 0, lanes), lanes))
            with task.loop(win.out_h, "oh") as oh:
                if prefetch_x is not None:
                    _prefetch_band(task, pool, values[prefetch_x], base, b.add(oh, i64(1)))
                with task.loop(win.out_w, "ow") as ow:
                    grad_base = b.mul(b.add(b.mul(b.add(b.mul(image, i64(win.out_h)), oh), i64(win.out_w)), ow),
                                      i64(pool.channels))
                    channels.for_channels(task, pool.channels, dtype, lambda c, lanes: route(
                        task, pool, values, base, grad_base, oh, ow, c, lanes))
            if after_image is not None:
                after_image(task, values, image)

    emit_parallel_for(kb, f"{name}_images", pool.batch, pointers, images,
                      parallel=inst.result.type.num_elements * win.k_h * win.k_w >= PARALLEL_MIN_ELEMENTS)


def _add_at(task, pool, dx, base, pixel, c, value, lanes):
    b = task.b
    index = b.add(base, b.add(b.mul(pixel, i64(pool.channels)), c))
    channels.store(task, pool.dtype, dx, index, b.fadd(channels.load(task, pool.dtype, dx, index, lanes), value), lanes)


def lower_max_pool(module, name, inst):
    return _lower_pool(module, name, inst, average=False)


def lower_avg_pool(module, name, inst):
    return _lower_pool(module, name, inst, average=True)


@lowering.fused_kernel("pool_grad")
def emit_max_pool_grad_kernel(module, name: str, members, buffers: Buffers) -> ir.Function:
    """A pool_grad kernel of fusion (passes/fuse.py): MaxPoolGrad's dx, each output pixel's gradient
    added at its window's first maximum of x, then the epilogue (the ReLU gradient that follows a
    pool of ReLU outputs) on each image's dx while it is in L2, so that dx is not read back from memory.

    When the windows tile the image (each pixel in exactly one: the CNN's 2x2, stride-2 pools of even
    images), every element of dx is written once, 0 + the gradient at the maximum and 0 elsewhere,
    in one pass with no zeroing pass before it and no read of dx (the sum 0 + g keeps TF's +0 for a
    -0 g). Either way an image's dx is final before its epilogue reads it, once (epilogue_in_place)."""
    inst = members[0]
    body = ElementwiseBody(members[1:])
    image_shape = inst.values[0].type.shape
    tiles = _tiles(pool_window(image_shape, inst.attrs))
    kb = KernelBuilder(module, name, ["buffers", "status"])
    buffers_arg = kb.arg("buffers")
    pointers = [buffers.value(kb, buffers_arg, v) for v in (inst.result, *inst.values)] + [buffers_arg]

    def route(task, pool, values, base, grad_base, oh, ow, c, lanes):
        b, dtype = task.b, pool.dtype
        dx, x, _, grad, _ = values
        first, _, visit = pool.taps(task, oh, ow)
        winner = _first_max_tap(task, pool, x, base, first, visit, c, lanes)
        g = channels.load(task, dtype, grad, b.add(grad_base, c), lanes)
        zero = task.constant(dtype, 0, lanes)
        if tiles:
            g = b.fadd(zero, g)
            visit(lambda pixel, number: channels.store(
                task, dtype, dx, b.add(base, b.add(b.mul(pixel, i64(pool.channels)), c)),
                b.select(b.icmp_signed("==", winner, task.broadcast(number, lanes)), g, zero), lanes))
            return
        visit(lambda pixel, number: _add_at(task, pool, dx, base, pixel, c, b.select(
            b.icmp_signed("==", winner, task.broadcast(number, lanes)), g, zero), lanes))

    after_image = None
    if body.instructions or body.writes:
        batch, height, width, depth = image_shape
        outputs = materialized(buffers, body.instructions)

        def after_image(task, values, image):
            pixels = height * width
            emit_block(task, values[-1], buffers, body, outputs, (batch * pixels, depth),
                       task.b.mul(image, i64(pixels)), i64(0), i64(pixels), i64(depth),
                       matrix_strides=channel_matrix_strides(depth))

    _emit_pool_grad(kb, name, inst, image_shape, pointers, route, zeros_first=not tiles, after_image=after_image,
                    prefetch_x=1)
    return kb.finish()


def _tiles(win) -> bool:
    """Whether every input pixel lies in exactly one window: no padding, and along each axis the
    windows side by side (a stride of the window's size, or a single window) covering the image."""
    return (win.pad_top == win.pad_left == 0 and win.dilation_h == win.dilation_w == 1
            and all(out * k == size and (stride == k or out == 1) for out, k, stride, size in (
                (win.out_h, win.k_h, win.stride_h, win.in_h), (win.out_w, win.k_w, win.stride_w, win.in_w))))


def lower_avg_pool_grad(module, name, inst):
    """dx: each output pixel's gradient divided by its window's count, added over the window."""

    def route(task, pool, values, base, grad_base, oh, ow, c, lanes):
        b, dtype = task.b, pool.dtype
        dx, grad = values
        _, count, visit = pool.taps(task, oh, ow)
        share = b.fdiv(channels.load(task, dtype, grad, b.add(grad_base, c), lanes), _count(task, pool, count, lanes))
        visit(lambda pixel, number: _add_at(task, pool, dx, base, pixel, c, share, lanes))

    kb = KernelBuilder(module, name, ["out", "grad", "status"])
    _emit_pool_grad(kb, name, inst, inst.result.type.shape, [kb.arg("out"), kb.arg("grad")], route)
    return kb.finish()


lowering.register_kernels({
    "max_pool": lower_max_pool,
    "avg_pool": lower_avg_pool,
    "avg_pool_grad": lower_avg_pool_grad,
})
