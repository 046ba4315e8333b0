"""Convolutions as products with the blocked GEMM (kernels/gemm.py) over im2col matrices.

For a convolution of x [N, H, W, C] with w [KH, KW, C, O] giving y [N, OH, OW, O],
the im2col matrix X has one row per output pixel (M = N*OH*OW) and one column per
(kh, kw, c) (K = KH*KW*C): X[(n,oh,ow), (kh,kw,c)] = x[n, oh*s - pad + kh*d, ..., c],
zero where that falls in the padding. An HWIO filter is already the [K, O] matrix
and an NHWC output the [M, O] one, so:

    conv2d:                 y  = X @ w                      (GEMM nn)
    conv2d_backprop_filter: dw = X^T @ dy                   (GEMM tn)
    conv2d_backprop_input:  dX = dy @ w^T (GEMM nt), then dx = col2im(dX): each
                            input pixel gathers the entries of dX that read it

X and dX live in the kernel's workspace (planned by passes/plan_memory.py). The
im2col copy and the col2im gather run on the thread pool over rows (pixels);
each output element is summed in a fixed order, so results do not depend on the
thread count. A pointwise window (1x1, stride 1) needs neither: x is X.
"""

from __future__ import annotations

import llvmlite.ir as ir

from graphc.backend.kernel_builder import I32, PTR, KernelBuilder, declare, i64
from graphc.backend.kernels import channels
from graphc.backend.kernels.fused_kernels import PARALLEL_MIN_ELEMENTS
from graphc.backend.kernels.gemm import GEMM_TYPES, function_name
from graphc.backend.kernels.parallel import emit_parallel_for
from graphc.ops.conv_ops import conv_geometry


class _Geometry:
    """The sizes one convolution instruction works with."""

    def __init__(self, inst):
        x, w, window = conv_geometry(inst)
        self.dtype = inst.result.type.dtype
        self.batch, self.height, self.width, self.channels = x
        self.out_channels = w[3]
        self.window = window
        self.rows = self.batch * window.out_h * window.out_w       # M
        self.depth = window.k_h * window.k_w * self.channels      # K


def _call_gemm(kb, geometry, transpose_a, transpose_b, m, n, k, a, b_matrix, c):
    gemm = declare(kb.module, function_name(geometry.dtype, transpose_a, transpose_b), I32, GEMM_TYPES)
    null = ir.Constant(PTR, None)
    return kb.b.call(gemm, [i64(m), i64(n), i64(k), a, b_matrix, c, null, null, kb.arg("status")])


def _emit_im2col(kb: KernelBuilder, name: str, g: _Geometry, x, columns) -> None:
    """columns[M, K] = the im2col matrix of x (zeros for taps in the padding)."""
    win, dtype = g.window, g.dtype

    def rows(task, values, outer):
        b = task.b
        source, target = values
        begin, end = outer
        with task.loop(b.sub(end, begin), "row") as i:
            row = b.add(begin, i)
            image = b.udiv(row, i64(win.out_h * win.out_w))
            pixel = b.urem(row, i64(win.out_h * win.out_w))
            top = b.sub(b.mul(b.udiv(pixel, i64(win.out_w)), i64(win.stride_h)), i64(win.pad_top))
            left = b.sub(b.mul(b.urem(pixel, i64(win.out_w)), i64(win.stride_w)), i64(win.pad_left))
            with task.loop(win.k_h, "kh") as kh:
                ih = b.add(top, b.mul(kh, i64(win.dilation_h)))
                inside_h = b.icmp_unsigned("<", ih, i64(g.height))  # negative rows wrap to huge
                with task.loop(win.k_w, "kw") as kw:
                    iw = b.add(left, b.mul(kw, i64(win.dilation_w)))
                    inside = b.and_(inside_h, b.icmp_unsigned("<", iw, i64(g.width)))
                    destination = b.add(b.mul(row, i64(g.depth)),
                                        b.mul(b.add(b.mul(kh, i64(win.k_w)), kw), i64(g.channels)))
                    with b.if_else(inside) as (copy, zero):
                        with copy:
                            start = b.mul(b.add(b.mul(b.add(b.mul(image, i64(g.height)), ih), i64(g.width)), iw),
                                          i64(g.channels))
                            channels.for_channels(task, g.channels, dtype, lambda c, lanes: channels.store(
                                task, dtype, target, b.add(destination, c),
                                channels.load(task, dtype, source, b.add(start, c), lanes), lanes))
                        with zero:
                            channels.for_channels(task, g.channels, dtype, lambda c, lanes: channels.store(
                                task, dtype, target, b.add(destination, c), channels.splat(dtype, 0, lanes), lanes))

    emit_parallel_for(kb, f"{name}_im2col", g.rows, [x, columns], rows,
                      parallel=g.rows * g.depth >= PARALLEL_MIN_ELEMENTS)


def _emit_col2im(kb: KernelBuilder, name: str, g: _Geometry, columns, dx) -> None:
    """dx[n, ih, iw, c] = the sum, over taps (kh, kw) in order, of columns[(n, oh, ow), (kh, kw, c)]
    for the output pixel (oh, ow) whose tap reads (ih, iw), if there is one."""
    win, dtype = g.window, g.dtype
    pixels = g.batch * g.height * g.width

    def gather(task, values, outer):
        b = task.b
        source, target = values
        begin, end = outer
        with task.loop(b.sub(end, begin), "pixel") as i:
            pixel = b.add(begin, i)
            image = b.udiv(pixel, i64(g.height * g.width))
            place = b.urem(pixel, i64(g.height * g.width))
            ih = b.add(b.udiv(place, i64(g.width)), i64(win.pad_top))
            iw = b.add(b.urem(place, i64(g.width)), i64(win.pad_left))
            destination = b.mul(pixel, i64(g.channels))
            channels.for_channels(task, g.channels, dtype, lambda c, lanes: channels.store(
                task, dtype, target, b.add(destination, c), channels.splat(dtype, 0, lanes), lanes))
            with task.loop(win.k_h, "kh") as kh:
                oh, inside_h = _output_index(b, ih, kh, win.dilation_h, win.stride_h, win.out_h)
                with task.loop(win.k_w, "kw") as kw:
                    ow, inside_w = _output_index(b, iw, kw, win.dilation_w, win.stride_w, win.out_w)
                    with b.if_then(b.and_(inside_h, inside_w)):
                        row = b.add(b.mul(b.add(b.mul(image, i64(win.out_h)), oh), i64(win.out_w)), ow)
                        start = b.add(b.mul(row, i64(g.depth)),
                                      b.mul(b.add(b.mul(kh, i64(win.k_w)), kw), i64(g.channels)))

                        def accumulate(c, lanes):
                            index = b.add(destination, c)
                            total = b.fadd(channels.load(task, dtype, target, index, lanes),
                                           channels.load(task, dtype, source, b.add(start, c), lanes))
                            channels.store(task, dtype, target, index, total, lanes)

                        channels.for_channels(task, g.channels, dtype, accumulate)

    emit_parallel_for(kb, f"{name}_col2im", pixels, [columns, dx], gather,
                      parallel=pixels * g.depth >= PARALLEL_MIN_ELEMENTS)


def _output_index(b, padded, tap, dilation: int, stride: int, extent: int):
    """(o, whether it exists): the output row o whose tap `tap` reads padded input row `padded`,
    i.e. o * stride + tap * dilation = padded with 0 <= o < extent."""
    offset = b.sub(padded, b.mul(tap, i64(dilation)))
    non_negative = b.icmp_signed(">=", offset, i64(0))
    safe = b.select(non_negative, offset, i64(0))
    index = b.udiv(safe, i64(stride))
    exact = b.icmp_unsigned("==", b.urem(safe, i64(stride)), i64(0))
    return index, b.and_(non_negative, b.and_(exact, b.icmp_unsigned("<", index, i64(extent))))


def _kernel(module, name, inst, operands):
    g = _Geometry(inst)
    names = ["out"] + operands + ([] if g.window.pointwise else ["workspace"]) + ["status"]
    kb = KernelBuilder(module, name, names, [PTR] * len(names))
    return kb, g


def lower_conv2d(module, name, inst):
    """y = im2col(x) @ w."""
    kb, g = _kernel(module, name, inst, ["x", "w"])
    columns = kb.arg("x")
    if not g.window.pointwise:
        columns = kb.arg("workspace")
        _emit_im2col(kb, name, g, kb.arg("x"), columns)
    kb.b.ret(_call_gemm(kb, g, False, False, g.rows, g.out_channels, g.depth, columns, kb.arg("w"), kb.arg("out")))
    return kb.function


def lower_conv2d_backprop_filter(module, name, inst):
    """dw = im2col(x)^T @ dy."""
    kb, g = _kernel(module, name, inst, ["x", "dy"])
    columns = kb.arg("x")
    if not g.window.pointwise:
        columns = kb.arg("workspace")
        _emit_im2col(kb, name, g, kb.arg("x"), columns)
    kb.b.ret(_call_gemm(kb, g, True, False, g.depth, g.out_channels, g.rows, columns, kb.arg("dy"), kb.arg("out")))
    return kb.function


def lower_conv2d_backprop_input(module, name, inst):
    """dx = col2im(dy @ w^T)."""
    kb, g = _kernel(module, name, inst, ["w", "dy"])
    b = kb.b
    columns = kb.arg("out") if g.window.pointwise else kb.arg("workspace")
    code = _call_gemm(kb, g, False, True, g.rows, g.depth, g.out_channels, kb.arg("dy"), kb.arg("w"), columns)
    if not g.window.pointwise:
        with b.if_then(b.icmp_signed("!=", code, ir.Constant(I32, 0)), likely=False):
            b.ret(code)
        _emit_col2im(kb, name, g, columns, kb.arg("out"))
    b.ret(ir.Constant(I32, 0) if not g.window.pointwise else code)
    return kb.function


CONV_LOWERINGS = {
    "conv2d": lower_conv2d,
    "conv2d_backprop_filter": lower_conv2d_backprop_filter,
    "conv2d_backprop_input": lower_conv2d_backprop_input,
}
