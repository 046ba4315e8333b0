"""Convolutions: products with the blocked GEMM (kernels/gemm.py) over im2col matrices, or register tiles.

For a convolution of x [N, H, W, C] with w [KH, KW, C, O] giving y [N, OH, OW, O],
the im2col matrix X has one row per output pixel (M = N*OH*OW) and one column per
(kh, kw, c) (K = KH*KW*C): X[(n,oh,ow), (kh,kw,c)] = x[n, oh*s - pad + kh*d, ..., c],
zero where that falls in the padding. An HWIO filter is already the [K, O] matrix
and an NHWC output the [M, O] one, so:

    conv2d:                 y  = X @ w                      (GEMM nn)
    conv2d_backprop_filter: dw = X^T @ dy                   (GEMM tn)
    conv2d_backprop_input:  dX = dy @ w^T (GEMM nt), then dx = col2im(dX): each
                            entry of dX is added to the input pixel it read

conv2d is the anchor of a fused kernel (passes/fuse.py): its epilogue (a bias
add, relu) runs on each finished block of y, as a matmul's does, and like it
may store its value into y's own buffer (OpDef.epilogue_in_place): every path
below computes a block of y whole before the epilogue reads it, once. The input
gradient anchors a conv_input_gradient kernel the same way: its epilogue (the ReLU
gradient of the layer below) runs on each image of dx once final.

X and dX never exist whole: each task of the thread pool fills a chunk of rows
small enough to stay in L2 and multiplies it on its own thread
(`graphc_gemm_*_on_thread`), straight into its rows of y. The input gradient
works on chunks of whole images the same way (an image's dx adds up only its
own rows of dX). The filter gradient sums over every row: a fixed set of partitions
of the chunks each sum into a partial filter (in segments of chunks, so that the
sums stay short), added up in order at the end. The chunks and partial sums live
in the kernel's workspace (sized by
Convolution.workspace_bytes in core/windows.py, placed by plan_memory).
Every output element is summed in one fixed order, whatever the thread count.
A pointwise window (1x1, stride 1) needs no im2col: x is X. A small K (a first
layer's 3x3x1) is computed directly instead, by kernels/conv_direct.py; an image
whose padded extent (its rows and columns of SAME's zeros included) fits in a
quarter of the L2, with 16 or more channels along the vectors, by register tiles
that read it in place (kernels/conv_tiled.py, Convolution.tiled): im2col and the
GEMM serve the larger images.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir

from graphc.backend import lowering
from graphc.backend.buffers import Buffers
from graphc.backend.kernel_builder import (I32, I64, I8, PTR, VOID, KernelBuilder, declare_c, i64, runtime_function,
                                          zeros)
from graphc.backend.kernels import channels, conv_direct, conv_sparse, conv_tiled
from graphc.backend.kernels.conv_direct import VectorGroups
from graphc.backend.kernels.elementwise import PARALLEL_MIN_ELEMENTS, ElementwiseBody, ElementwiseRegion, materialized
from graphc.backend.kernels.matmul import channel_matrix_strides, emit_block
from graphc.backend.kernels.parallel import emit_parallel_for
from graphc.backend.kernels.pool import Pool, emit_output_row
from graphc.core import registry
from graphc.core.windows import MAX_CONV_TASKS, Convolution
from graphc.runtime import abi


class _Geometry:
    """A Convolution's sizes (core/windows.py), unpacked for the kernels, with its element type."""

    def __init__(self, convolution: Convolution, inst):
        self.convolution = convolution
        self.dtype = inst.result.type.dtype
        self.batch, self.height, self.width, self.channels = convolution.image
        self.out_channels = convolution.out_channels
        self.window = convolution.window
        self.rows, self.depth = convolution.rows, convolution.depth  # M and K of the im2col product
        self.chunk_rows = convolution.chunk_rows
        self.padded_w = convolution.window.padded_w


def _gemm(kb, g, transpose_a, transpose_b, m, n, k, a, b_matrix, c, status, thread=None, epilogue=None,
          context=None):
    """C = op(A) @ op(B) on the pool, or with `thread` on the calling task's thread alone;
    then epilogue(context, block...) on each finished block of C."""
    gemm = declare_c(kb.module, abi.gemm_function(g.dtype, transpose_a, transpose_b, on_thread=thread is not None))
    null = ir.Constant(PTR, None)
    sizes = [x if isinstance(x, ir.Value) else i64(x) for x in (m, n, k)]
    return kb.b.call(gemm, sizes + [a, b_matrix, c, epilogue or null, context or null, status] +
                     ([thread] if thread is not None else []))


def _element_offset(b, pointer, index, dtype):
    return b.gep(pointer, [b.mul(index, i64(dtype.size))], source_etype=I8)


def _emit_im2col_rows(task: KernelBuilder, g: _Geometry, x, target, begin, end) -> None:
    """Rows [begin, end) of the im2col matrix of x, written from `target` on (row begin first)."""
    win, dtype, b = g.window, g.dtype, task.b
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
                destination = b.add(b.mul(i, i64(g.depth)), b.mul(b.add(b.mul(kh, i64(win.k_w)), kw), i64(g.channels)))
                with b.if_else(inside) as (copy, zero):
                    with copy:
                        start = b.mul(b.add(b.mul(b.add(b.mul(image, i64(g.height)), ih), i64(g.width)), iw),
                                      i64(g.channels))
                        channels.for_channels(task, g.channels, dtype, lambda c, lanes: channels.store(
                            task, dtype, target, b.add(destination, c),
                            channels.load(task, dtype, x, b.add(start, c), lanes), lanes))
                    with zero:
                        channels.for_channels(task, g.channels, dtype, lambda c, lanes: channels.store(
                            task, dtype, target, b.add(destination, c), task.constant(dtype, 0, lanes), lanes))


def _emit_col2im_image(task: KernelBuilder, g: _Geometry, columns, dx, image) -> None:
    """dx[image] = the sum of the entries of its im2col matrix's gradient `columns` at the input
    pixels they read: dx is zeroed, then each row (output pixel, in order) adds each of its taps
    (kh, kw in order) that falls inside the image. (Gathering per input pixel instead tested every
    tap of every pixel against the stride: 4 in 9 of them read nothing at stride 2.)"""
    win, dtype, b = g.window, g.dtype, task.b
    image_start = b.mul(image, i64(g.height * g.width * g.channels))
    _emit_zeros(task, dtype, _element_offset(b, dx, image_start, dtype), g.height * g.width * g.channels)
    with task.loop(win.out_h * win.out_w, "row") as row:
        top = b.sub(b.mul(b.udiv(row, i64(win.out_w)), i64(win.stride_h)), i64(win.pad_top))
        left = b.sub(b.mul(b.urem(row, i64(win.out_w)), i64(win.stride_w)), i64(win.pad_left))
        with task.loop(win.k_h, "kh") as kh:
            ih = b.add(top, b.mul(kh, i64(win.dilation_h)))
            inside_h = b.icmp_unsigned("<", ih, i64(g.height))  # negative rows wrap to huge
            with task.loop(win.k_w, "kw") as kw:
                iw = b.add(left, b.mul(kw, i64(win.dilation_w)))
                with b.if_then(b.and_(inside_h, b.icmp_unsigned("<", iw, i64(g.width)))):
                    destination = b.add(image_start, b.mul(b.add(b.mul(ih, i64(g.width)), iw), i64(g.channels)))
                    start = b.add(b.mul(row, i64(g.depth)),
                                  b.mul(b.add(b.mul(kh, i64(win.k_w)), kw), i64(g.channels)))

                    def accumulate(c, lanes):
                        index = b.add(destination, c)
                        total = b.fadd(channels.load(task, dtype, dx, index, lanes),
                                       channels.load(task, dtype, columns, b.add(start, c), lanes))
                        channels.store(task, dtype, dx, index, total, lanes)

                    channels.for_channels(task, g.channels, dtype, accumulate)


def _kernel(module, name, inst, operands, convolution: Convolution):
    g = _Geometry(convolution, inst)
    names = ["out"] + operands + (["workspace"] if convolution.workspace_bytes else []) + ["status"]
    return KernelBuilder(module, name, names, [PTR] * len(names)), g


def _finish_with_status(kb) -> ir.Function:
    """Returns the code the tasks' GEMMs left in the status (0 unless one failed)."""
    kb.b.ret(kb.b.load(kb.arg("status"), typ=I32))
    return kb.function


_EPILOGUE_CONTEXT = ir.LiteralStructType([PTR, I64])  # the step's buffers, the chunk's first row


@lowering.fused_kernel("conv")
def emit_conv_kernel(module, name: str, members, buffers: Buffers) -> ir.Function:
    """A conv kernel of fusion (passes/fuse.py): y = im2col(x) @ w, a chunk of rows per task,
    then the epilogue body (a bias add, relu) on each finished block of y while it is in L2."""
    conv = members[0]
    g = _Geometry(Convolution.forward(conv), conv)
    body = ElementwiseBody(members[1:])
    kb = KernelBuilder(module, name, ["buffers", "status"])
    b, buffers_arg, status = kb.b, kb.arg("buffers"), kb.arg("status")
    x, w, y = (buffers.value(kb, buffers_arg, v) for v in (conv.values[0], conv.values[1], conv.result))
    epilogue = (_epilogue(module, name, body, buffers, (g.rows, g.out_channels))
                if body.instructions or body.writes else None)

    def context_for(builder, buffers_pointer, first_row):
        return _epilogue_context(builder, buffers_pointer, first_row) if epilogue is not None else ir.Constant(PTR, None)

    if g.window.pointwise:
        b.ret(_gemm(kb, g, False, False, g.rows, g.out_channels, g.depth, x, w, y, status,
                    epilogue=epilogue, context=context_for(kb, buffers_arg, i64(0))))
        return kb.function
    chunks = -(-g.rows // g.chunk_rows)
    if g.convolution.direct:
        _emit_direct_forward(kb, name, g, chunks, [x, w, y, buffers_arg], epilogue, context_for)
        b.ret(ir.Constant(I32, 0))
        return kb.function
    if g.convolution.tiled:
        _emit_tiled_forward(kb, name, g, [x, w, y, buffers_arg], epilogue, context_for)
        b.ret(ir.Constant(I32, 0))
        return kb.function

    def chunk_range(task, values, outer):
        tb = task.b
        x, w, y, workspace, status, buffers_pointer = values
        region = _element_offset(tb, workspace, tb.mul(task.arg("index"), i64(g.chunk_rows * g.depth)), g.dtype)
        with task.loop(tb.sub(outer[1], outer[0]), "chunk") as i:
            first = tb.mul(tb.add(outer[0], i), i64(g.chunk_rows))
            last = tb.add(first, i64(g.chunk_rows))
            last = tb.select(tb.icmp_signed("<", last, i64(g.rows)), last, i64(g.rows))
            _emit_im2col_rows(task, g, x, region, first, last)
            _gemm(task, g, False, False, tb.sub(last, first), g.out_channels, g.depth, region, w,
                  _element_offset(tb, y, tb.mul(first, i64(g.out_channels)), g.dtype), status,
                  thread=task.arg("thread"), epilogue=epilogue, context=context_for(task, buffers_pointer, first))

    workspace = buffers.workspace(kb, buffers_arg, conv.result)
    emit_parallel_for(kb, f"{name}_chunks", chunks, [x, w, y, workspace, status, buffers_arg], chunk_range,
                      parallel=g.rows * g.depth * g.out_channels >= PARALLEL_MIN_ELEMENTS, max_tasks=MAX_CONV_TASKS)
    return _finish_with_status(kb)


def _emit_direct_forward(kb, name, g: _Geometry, chunks: int, values, epilogue, context_for) -> None:
    """y = x * w computed directly (kernels/conv_direct.py), a chunk of rows at a time, each
    followed by the epilogue while its rows are in L1."""

    def chunk_range(task, task_values, outer):
        tb = task.b
        x, w, y, buffers_pointer = task_values
        with task.loop(tb.sub(outer[1], outer[0]), "chunk") as i:
            first = tb.mul(tb.add(outer[0], i), i64(g.chunk_rows))
            last = tb.add(first, i64(g.chunk_rows))
            last = tb.select(tb.icmp_signed("<", last, i64(g.rows)), last, i64(g.rows))
            conv_direct.emit_forward_rows(task, g, x, w, y, first, last)
            if epilogue is not None:
                tb.call(epilogue, [context_for(task, buffers_pointer, first), i64(0), i64(0), tb.sub(last, first),
                                   i64(g.out_channels)])

    emit_parallel_for(kb, f"{name}_direct", chunks, values, chunk_range,
                      parallel=g.rows * g.depth * g.out_channels >= PARALLEL_MIN_ELEMENTS)


def _emit_tiled_forward(kb, name, g: _Geometry, values, epilogue, context_for) -> None:
    """y = x * w with register tiles reading the image in place (kernels/conv_tiled.py), an
    image at a time, each followed by the epilogue while its rows are in L2."""
    tiles = conv_tiled.ForwardTiles(kb.module, name, g)
    image_rows = g.window.out_h * g.window.out_w
    image_elements = g.height * g.width * g.channels

    def image_range(task, task_values, outer):
        tb = task.b
        x, w, y, buffers_pointer = task_values
        with task.loop(tb.sub(outer[1], outer[0]), "image") as i:
            image = tb.add(outer[0], i)
            source = _element_offset(tb, x, tb.mul(image, i64(image_elements)), g.dtype)
            first = tb.mul(image, i64(image_rows))
            tiles.emit_image(task, source, w, _element_offset(tb, y, tb.mul(first, i64(g.out_channels)), g.dtype))
            if epilogue is not None:
                tb.call(epilogue, [context_for(task, buffers_pointer, first), i64(0), i64(0), i64(image_rows),
                                   i64(g.out_channels)])

    emit_parallel_for(kb, f"{name}_images", g.batch, values, image_range,
                      parallel=g.rows * g.depth * g.out_channels >= PARALLEL_MIN_ELEMENTS, each_index=True)


@lowering.fused_kernel("conv_max_pool")
def emit_conv_max_pool_kernel(module, name: str, members, buffers: Buffers) -> ir.Function:
    """A conv_max_pool kernel of fusion (passes/fuse.py): a conv kernel whose value the max-pool that
    ends it alone reads. Each task computes its images one at a time into its block of the workspace
    (Convolution.image_blocks_bytes), directly or with register tiles as the conv kernel does; runs the
    epilogue (bias, ReLU) on the block in place, then pools the block into the pool's result while it
    is in L2. The convolution's whole result is never written: Deep MNIST's 10,000-image evaluation
    leaves 1 GB of arena untouched at its first convolution. The same code computes each element as
    the conv, epilogue and pool kernels do, so the results are theirs bit for bit, whatever the threads."""
    return _emit_conv_then_pool(module, name, members, buffers, in_blocks=True)


@lowering.fused_kernel("conv_then_max_pool")
def emit_conv_then_max_pool_kernel(module, name: str, members, buffers: Buffers) -> ir.Function:
    """A conv_then_max_pool kernel of fusion (passes/fuse.py): a conv kernel ended by a max-pool whose
    values other kernels read too (in training, the gradients read the ReLU's output). Each task
    computes an image at a time into the result, directly or with register tiles, runs the epilogue
    on it and pools the image's pooled value while it is in L2, instead of a pool kernel reading the
    whole result back from memory (the tutorial CNN's conv2: 5 MB). Bit for bit the conv and pool
    kernels' results, whatever the threads."""
    return _emit_conv_then_pool(module, name, members, buffers, in_blocks=False)


def _emit_conv_then_pool(module, name: str, members, buffers: Buffers, in_blocks: bool) -> ir.Function:
    """A convolution kernel ended by its pool, an image at a time: each image of the result computed
    into the task's block of the workspace (`in_blocks`) or into the result, then its epilogue, then
    its pooled rows."""
    conv, stage = members[0], members[-1]
    g = _Geometry(Convolution.forward(conv), conv)
    body = ElementwiseBody(members[1:-1])
    pooled = stage.values[0]  # the epilogue's value (or the product) the pool reads
    pool = Pool(stage, pooled.type.shape)
    kb = KernelBuilder(module, name, ["buffers", "status"])
    buffers_arg = kb.arg("buffers")
    x, w, out = (buffers.value(kb, buffers_arg, v) for v in (conv.values[0], conv.values[1], stage.result))
    result = buffers.workspace(kb, buffers_arg, conv.result) if in_blocks else buffers.value(kb, buffers_arg,
                                                                                             conv.result)
    image_rows = g.window.out_h * g.window.out_w
    block_elements = image_rows * g.out_channels
    tiles = conv_tiled.ForwardTiles(module, name, g) if g.convolution.tiled else None

    def image_range(task, values, outer):
        tb = task.b
        x, w, out, result, buffers_pointer = values
        block = _element_offset(tb, result, tb.mul(task.arg("index"), i64(block_elements)), g.dtype) if in_blocks \
            else None
        with task.loop(tb.sub(outer[1], outer[0]), "image") as i:
            image = tb.add(outer[0], i)
            first = tb.mul(image, i64(image_rows))
            result_rows = result  # the image's rows at their places in the whole result [N*OH*OW, O] ...
            if in_blocks:  # ... or the block seen from the whole result's rows: row `first` is its row 0
                result_rows = _element_offset(tb, block, tb.sub(i64(0), tb.mul(first, i64(g.out_channels))), g.dtype)
            if tiles is None:
                conv_direct.emit_forward_rows(task, g, x, w, result_rows, first, tb.add(first, i64(image_rows)))
            else:  # the tiles read the image in place, its padding included (kernels/conv_tiled.py)
                tiles.emit_image(task, _element_offset(tb, x, tb.mul(image, i64(g.height * g.width * g.channels)),
                                                      g.dtype), w,
                                 _element_offset(tb, result_rows, tb.mul(first, i64(g.out_channels)), g.dtype))
            if in_blocks:
                if body.instructions:
                    in_block = _BlockBuffers(buffers, {conv.result.id, pooled.id}, result_rows)
                    emit_block(task, buffers_pointer, in_block, body, [pooled], (g.rows, g.out_channels), first,
                               i64(0), i64(image_rows), i64(g.out_channels),
                               matrix_strides=channel_matrix_strides(g.out_channels))
                source, source_at = block, i64(0)
            else:
                if body.instructions:
                    emit_block(task, buffers_pointer, buffers, body, materialized(buffers, body.instructions),
                               (g.rows, g.out_channels), first, i64(0), i64(image_rows), i64(g.out_channels),
                               matrix_strides=channel_matrix_strides(g.out_channels))
                source, source_at = buffers.value(task, buffers_pointer, pooled), tb.mul(first, i64(g.out_channels))
            with task.loop(pool.window.out_h, "pooled_row") as oh:
                emit_output_row(task, pool, source, source_at, out, tb.add(tb.mul(image, i64(pool.window.out_h)), oh),
                                oh)

    parallel = g.rows * g.depth * g.out_channels >= PARALLEL_MIN_ELEMENTS
    # Blocks: at most MAX_CONV_TASKS of them. Written whole: an image a task, as the conv kernel's tiles.
    emit_parallel_for(kb, f"{name}_images", g.batch, [x, w, out, result, buffers_arg], image_range, parallel=parallel,
                      **({"max_tasks": MAX_CONV_TASKS} if in_blocks else {"each_index": True}))
    kb.b.ret(ir.Constant(I32, 0))
    return kb.function


class _BlockBuffers:
    """The step's buffers, but for the values a conv_max_pool kernel keeps in a block: those at
    `rows`, the block's address less its first row's offset in the whole result, so that the
    epilogue finds them at the rows of the whole [N*OH*OW, O] matrix it walks."""

    def __init__(self, buffers: Buffers, value_ids: set, rows):
        self.buffers, self.value_ids, self.rows = buffers, value_ids, rows

    def value(self, kb, buffers_pointer, value):
        return self.rows if value.id in self.value_ids else self.buffers.value(kb, buffers_pointer, value)

    def variable(self, kb, buffers_pointer, name: str):
        return self.buffers.variable(kb, buffers_pointer, name)


def _epilogue_context(builder, buffers_pointer, first_row):
    """An epilogue's context on the builder's stack: the step's buffers and the first row of its chunk."""
    context = builder.variable(_EPILOGUE_CONTEXT)
    for index, value in enumerate((buffers_pointer, first_row)):
        builder.b.store(value, builder.b.gep(context, [ir.Constant(I32, 0), ir.Constant(I32, index)],
                                             source_etype=_EPILOGUE_CONTEXT))
    return context


def _epilogue(module, name, body: ElementwiseBody, buffers: Buffers, matrix: tuple) -> ir.Function:
    """epilogue(context, row, col, rows, cols) on a block of the chunk of the NHWC result, seen as the
    `matrix` [pixels, channels], that starts at the context's first row; inputs are whole, per channel
    or scalars (fuse's veto)."""
    block = KernelBuilder(module, f"{name}_epilogue", ["context", "row", "col", "rows", "cols"],
                          [PTR, I64, I64, I64, I64], VOID)
    b, context = block.b, block.arg("context")
    buffers_pointer, first_row = (b.load(b.gep(context, [ir.Constant(I32, 0), ir.Constant(I32, index)],
                                               source_etype=_EPILOGUE_CONTEXT), typ=_EPILOGUE_CONTEXT.elements[index])
                                  for index in range(2))
    emit_block(block, buffers_pointer, buffers, body, materialized(buffers, body.instructions),
               matrix, b.add(block.arg("row"), first_row), block.arg("col"), block.arg("rows"),
               block.arg("cols"), matrix_strides=channel_matrix_strides(matrix[1]))
    return block.finish()


def lower_conv2d_backprop_filter(module, name, inst):
    """dw = im2col(x)^T @ dy, summed chunk by chunk: each of a fixed set of partitions of the
    chunks sums into its own partial filter (the first partition's is dw), then the partials
    are added to dw in partition order. A partition's chunks are summed in segments of about
    the square root of their number (each segment's sum then added to the partial), so a
    filter element adds about 2 sqrt(chunks / partitions) products one after another, not
    chunks / partitions."""
    kb, g = _kernel(module, name, inst, ["x", "dy"], Convolution.filter_gradient(inst))
    if g.rows == 0:  # no output pixels (an empty batch): an empty sum
        _emit_zeros(kb, g.dtype, kb.arg("out"), inst.result.type.num_elements)
        return kb.finish()
    if g.window.pointwise:
        kb.b.ret(_gemm(kb, g, True, False, g.depth, g.out_channels, g.rows, kb.arg("x"), kb.arg("dy"),
                       kb.arg("out"), kb.arg("status")))
        return kb.function
    filter_elements = g.depth * g.out_channels
    if g.convolution.direct:
        _direct_filter_gradient(kb, name, g, [kb.arg(a) for a in ("x", "dy", "out", "workspace")])
        return kb.finish()
    if g.convolution.tiled:
        _tiled_filter_gradient(kb, name, g, [kb.arg(a) for a in ("x", "dy", "out", "workspace")])
        return kb.finish()
    partitions, chunks = g.convolution.tasks, -(-g.rows // g.chunk_rows)
    segment = math.isqrt(-(-chunks // partitions) - 1) + 1  # ceil(sqrt(the most chunks a partition has))
    chunk_elements = g.chunk_rows * g.depth
    # Workspace: per task an im2col chunk, a product and a segment's sum, then partitions 1.. 's partial sums.
    task_elements = chunk_elements + 2 * filter_elements
    partials_at = partitions * task_elements

    def partition_range(task, values, outer):
        b = task.b
        x, dy, dw, workspace, status = values
        region = _element_offset(b, workspace, b.mul(task.arg("index"), i64(task_elements)), g.dtype)
        product = _element_offset(b, region, i64(chunk_elements), g.dtype)
        segment_sum = _element_offset(b, region, i64(chunk_elements + filter_elements), g.dtype)
        with task.loop(b.sub(outer[1], outer[0]), "partition") as i:
            partition = b.add(outer[0], i)
            partial = b.select(b.icmp_signed("==", partition, i64(0)), dw, _element_offset(
                b, workspace, b.add(i64(partials_at), b.mul(b.sub(partition, i64(1)), i64(filter_elements))), g.dtype))
            chunk_begin = b.udiv(b.mul(partition, i64(chunks)), i64(partitions))
            chunk_end = b.udiv(b.mul(b.add(partition, i64(1)), i64(chunks)), i64(partitions))
            count = b.sub(chunk_end, chunk_begin)
            with task.loop(count, "chunk") as j:
                first = b.mul(b.add(chunk_begin, j), i64(g.chunk_rows))
                last = b.add(first, i64(g.chunk_rows))
                last = b.select(b.icmp_signed("<", last, i64(g.rows)), last, i64(g.rows))
                _emit_im2col_rows(task, g, x, region, first, last)
                # Chunk j is number `place` of segment j / segment: the first segment sums into the
                # partial, each later one into segment_sum, which then joins the partial.
                place = b.urem(j, i64(segment))
                later = b.icmp_signed(">=", j, i64(segment))
                starting = b.icmp_signed("==", place, i64(0))
                target = b.select(starting, b.select(later, segment_sum, partial), product)
                _gemm(task, g, True, False, g.depth, g.out_channels, b.sub(last, first), region,
                      _element_offset(b, dy, b.mul(first, i64(g.out_channels)), g.dtype), target, status,
                      thread=task.arg("thread"))
                with b.if_then(b.not_(starting)):
                    _emit_add(task, g.dtype, b.select(later, segment_sum, partial), product, filter_elements)
                ending = b.or_(b.icmp_signed("==", place, i64(segment - 1)),
                               b.icmp_signed("==", j, b.sub(count, i64(1))))
                with b.if_then(b.and_(later, ending)):
                    _emit_add(task, g.dtype, partial, segment_sum, filter_elements)

    emit_parallel_for(kb, f"{name}_partitions", partitions,
                      [kb.arg(a) for a in ("x", "dy", "out", "workspace", "status")], partition_range,
                      parallel=g.rows * g.depth * g.out_channels >= PARALLEL_MIN_ELEMENTS)
    b = kb.b
    with b.if_then(b.icmp_signed("==", b.load(kb.arg("status"), typ=I32), ir.Constant(I32, 0))):
        with kb.loop(partitions - 1, "partial") as later:  # a loop, not an add emitted per partial
            _emit_add(kb, g.dtype, kb.arg("out"), _element_offset(
                b, kb.arg("workspace"), b.add(i64(partials_at), b.mul(later, i64(filter_elements))), g.dtype),
                filter_elements)
    return _finish_with_status(kb)


def _direct_filter_gradient(kb, name, g: _Geometry, values, column_sums=None) -> None:
    """dw computed directly (kernels/conv_direct.py): each of a fixed set of partitions of the rows
    sums into its partial filter (the first partition's is dw), added to dw in order at the end.
    values: x, dy, dw, the workspace. With `column_sums`, the sum of dy's rows (a bias gradient) too,
    in the same partitions: the first partition's partial is column_sums, the others' follow the
    partial filters in the workspace, added in order at the end as well."""
    partitions, filter_elements = g.convolution.tasks, g.depth * g.out_channels
    sums_at = (partitions - 1) * filter_elements

    def partition_range(task, task_values, outer):
        b = task.b
        x, dy, dw, workspace = task_values[:4]
        with task.loop(b.sub(outer[1], outer[0]), "partition") as i:
            partition = b.add(outer[0], i)
            first = b.icmp_signed("==", partition, i64(0))
            later = b.sub(partition, i64(1))
            partial = b.select(first, dw, _element_offset(b, workspace, b.mul(later, i64(filter_elements)), g.dtype))
            partial_sums = None if column_sums is None else b.select(first, task_values[4], _element_offset(
                b, workspace, b.add(i64(sums_at), b.mul(later, i64(g.out_channels))), g.dtype))
            begin = b.udiv(b.mul(partition, i64(g.rows)), i64(partitions))
            end = b.udiv(b.mul(b.add(partition, i64(1)), i64(g.rows)), i64(partitions))
            conv_direct.emit_filter_gradient_partition(task, g, x, dy, partial, begin, end, partial_sums)

    emit_parallel_for(kb, f"{name}_partitions", partitions, values + ([column_sums] if column_sums is not None else []),
                      partition_range, parallel=g.rows * g.depth * g.out_channels >= PARALLEL_MIN_ELEMENTS)
    dw, workspace, b = values[2], values[3], kb.b
    # A loop over the partials, not one add emitted per partial: conv1's kernel was 332 instructions
    # of LLVM IR for eight partitions' adds.
    with kb.loop(partitions - 1, "partial") as later:
        _emit_add(kb, g.dtype, dw, _element_offset(b, workspace, b.mul(later, i64(filter_elements)), g.dtype),
                  filter_elements)
        if column_sums is not None:
            _emit_add(kb, g.dtype, column_sums, _element_offset(
                b, workspace, b.add(i64(sums_at), b.mul(later, i64(g.out_channels))), g.dtype), g.out_channels)


@lowering.fused_kernel("conv_filter_gradient_sum")
def emit_filter_gradient_sum_kernel(module, name: str, members, buffers: Buffers) -> ir.Function:
    """A reduce kernel a direct or register-tiled filter gradient joined (passes/fuse.py,
    OpDef.column_sum): dw and the reduction, the sum of dy over all its axes but the last (a bias
    gradient), in one pass over dy from memory; then the reduce kernel's epilogue (an optimizer's
    update of the bias) over the sum."""
    gradient = next(m for m in members if registry.get(m.op).column_sum is not None)
    reduction = members[0]  # the kernel's start: fusion moved the gradient into its kernel
    epilogue = ElementwiseBody([m for m in members[1:] if m is not gradient])
    g = _Geometry(Convolution.filter_gradient(gradient), gradient)
    kb = KernelBuilder(module, name, ["buffers", "status"])
    buffers_arg = kb.arg("buffers")
    x, dy, dw, sums = (buffers.value(kb, buffers_arg, v)
                       for v in (gradient.values[0], gradient.values[1], gradient.result, reduction.result))
    filter_gradient = _direct_filter_gradient if g.convolution.direct else _tiled_filter_gradient
    filter_gradient(kb, name, g, [x, dy, dw, buffers.workspace(kb, buffers_arg, gradient.result)], sums)
    if epilogue.instructions or epilogue.writes:
        ElementwiseRegion(epilogue, reduction.result.type.shape, materialized(buffers, epilogue.instructions)).emit(
            kb, buffers_arg, buffers)
    return kb.finish()


def _tiled_filter_gradient(kb, name, g: _Geometry, values, column_sums=None) -> None:
    """dw with register tiles reading the images in place (kernels/conv_tiled.py): each of
    a fixed set of partitions of the images sums into its partial dw^T [O, K]; then dw [K, O] is
    the partials' sum, added in partition order (so the same whatever the thread count).
    values: x, dy, dw, the workspace. With `column_sums`, the sum of dy's rows (a bias gradient)
    too: each image's rows summed right after its tiles read them (50 KB of conv2's dy, then in L2)
    into its partition's partial sums (the first partition's is column_sums, the others' follow
    the partial filters in the workspace), added in partition order at the end. With
    Convolution.block_sparse, an image whose dy has one nonzero per 2x2 block and channel (and whose
    x is finite) takes kernels/conv_sparse.py's path instead of the tiles: a quarter of the products."""
    tiles = conv_tiled.FilterGradientTiles(kb.module, name, g)
    sparse = conv_sparse.BlockSparseFilterGradient(kb.module, name, g) if g.convolution.block_sparse else None
    partitions, filter_elements = g.convolution.tasks, g.depth * g.out_channels
    image_elements, gradient_elements = g.height * g.width * g.channels, g.rows // max(1, g.batch) * g.out_channels
    parallel = g.rows * g.depth * g.out_channels >= PARALLEL_MIN_ELEMENTS
    sums_at = partitions * filter_elements
    scratch_at = partitions * (filter_elements + g.out_channels)  # the block-sparse path's, a partition each

    def partition_range(task, task_values, outer):
        b = task.b
        x, dy, workspace = task_values[:3]
        with task.loop(b.sub(outer[1], outer[0]), "partition") as i:
            partition = b.add(outer[0], i)
            partial = _element_offset(b, workspace, b.mul(partition, i64(filter_elements)), g.dtype)
            scratch = None if sparse is None else _element_offset(b, workspace, b.add(i64(scratch_at), b.mul(
                partition, i64(g.convolution.block_sparse_elements))), g.dtype)
            if sparse is not None:
                sparse.emit_zero_border(task, scratch)
            partial_sums = None if column_sums is None else b.select(
                b.icmp_signed("==", partition, i64(0)), task_values[3], _element_offset(
                    b, workspace, b.add(i64(sums_at), b.mul(b.sub(partition, i64(1)), i64(g.out_channels))), g.dtype))
            begin = b.udiv(b.mul(partition, i64(g.batch)), i64(partitions))
            end = b.udiv(b.mul(b.add(partition, i64(1)), i64(g.batch)), i64(partitions))
            with task.loop(b.sub(end, begin), "image") as j:
                image = b.add(begin, j)
                first_image = b.icmp_unsigned("==", j, i64(0))
                image_dy = _element_offset(b, dy, b.mul(image, i64(gradient_elements)), g.dtype)
                image_x = _element_offset(b, x, b.mul(image, i64(image_elements)), g.dtype)
                if sparse is None:
                    tiles.emit_image(task, image_x, image_dy, partial, first_image)
                else:
                    with b.if_else(sparse.emit_prepare(task, image_x, image_dy, scratch)) as (blocks, dense):
                        with blocks:
                            # The next image's dy and x, for its compaction and copy.
                            sparse.emit_image(task, scratch, partial, first_image, upcoming=(
                                (_element_offset(b, image_dy, i64(gradient_elements), g.dtype),
                                 gradient_elements * g.dtype.size),
                                (_element_offset(b, image_x, i64(image_elements), g.dtype),
                                 image_elements * g.dtype.size)))
                        with dense:
                            tiles.emit_image(task, image_x, image_dy, partial, first_image)
                if partial_sums is not None:
                    _emit_image_column_sums(task, g, image_dy, gradient_elements // g.out_channels, partial_sums,
                                            first_image)

    x, dy, dw, workspace = values
    emit_parallel_for(kb, f"{name}_partitions", partitions,
                      [x, dy, workspace] + ([column_sums] if column_sums is not None else []),
                      partition_range, parallel=parallel, each_index=True)
    _emit_transposed_sum(kb, name, g, dw, workspace, partitions, parallel)
    if column_sums is not None:  # a loop over the partials, as in _direct_filter_gradient
        b = kb.b
        with kb.loop(partitions - 1, "partial") as later:
            _emit_add(kb, g.dtype, column_sums, _element_offset(
                b, workspace, b.add(i64(sums_at), b.mul(later, i64(g.out_channels))), g.dtype), g.out_channels)


def _emit_image_column_sums(task, g: _Geometry, dy, rows: int, sums, first) -> None:
    """sums [O] += the sum of an image's dy rows [rows, O], row after row, in vectors of O; with
    `first` (an i1 value) true the sums start at +0.0 instead."""
    groups, b = VectorGroups(g.dtype, g.out_channels), task.b
    zero = zeros(groups.vector)
    totals = [task.variable(groups.vector, b.select(first, zero, groups.load(task, sums, i64(start), mask)))
              for start, mask in groups.groups]
    with task.loop(rows, "row") as row:
        at = b.mul(row, i64(g.out_channels))
        for total, (start, mask) in zip(totals, groups.groups):
            task.set(total, b.fadd(task.get(total, groups.vector), groups.load(task, dy, b.add(at, i64(start)), mask)))
    for total, (start, mask) in zip(totals, groups.groups):
        groups.store(task, sums, i64(start), task.get(total, groups.vector), mask)


def _emit_transposed_sum(kb, name, g: _Geometry, dw, workspace, partitions: int, parallel: bool) -> None:
    """dw [K, O] = the sum of the partials dw^T [O, K] in the workspace, in partition order, on the
    pool: a task takes a vector's width of K (the last one masked) for every output channel and
    stores the sums into those rows of dw, whole. (Tasks of rows of dw^T had each stored part of
    every cache line of dw, lines the other thread was storing into too.)"""
    groups = VectorGroups(g.dtype, g.depth)
    filter_elements = g.depth * g.out_channels

    def block_range(task, task_values, outer):
        tb = task.b
        dw, workspace = task_values

        def block(first, mask, lanes):
            with task.loop(g.out_channels, "o") as o:
                row = tb.add(tb.mul(o, i64(g.depth)), first)
                total = groups.load(task, workspace, row, mask)
                for partition in range(1, partitions):
                    total = tb.fadd(total, groups.load(task, workspace, tb.add(row, i64(partition * filter_elements)),
                                                       mask))
                for lane in range(lanes):
                    task.store(dw, g.dtype, tb.add(tb.mul(tb.add(first, i64(lane)), i64(g.out_channels)), o),
                               tb.extract_element(total, i64(lane)))

        full = len(groups.groups) - (groups.groups[-1][1] is not None)
        with task.loop(tb.sub(outer[1], outer[0]), "block") as i:
            index = tb.add(outer[0], i)
            if full == len(groups.groups):
                block(tb.mul(index, i64(groups.width)), None, groups.width)
            else:
                last = tb.icmp_unsigned("==", index, i64(full))
                with tb.if_else(last) as (rest, whole):
                    with rest:
                        block(i64(full * groups.width), groups.groups[-1][1], g.depth - full * groups.width)
                    with whole:
                        block(tb.mul(index, i64(groups.width)), None, groups.width)

    emit_parallel_for(kb, f"{name}_sums", len(groups.groups), [dw, workspace], block_range, parallel=parallel)


def _emit_zeros(kb, dtype, target, count: int) -> None:
    channels.for_channels(kb, count, dtype, lambda c, lanes: channels.store(kb, dtype, target, c,
                                                                           kb.constant(dtype, 0, lanes), lanes))


def _emit_add(kb, dtype, target, addend, count: int) -> None:
    """target[0:count] += addend[0:count]."""
    b = kb.b
    channels.for_channels(kb, count, dtype, lambda c, lanes: channels.store(kb, dtype, target, c, b.fadd(
        channels.load(kb, dtype, target, c, lanes), channels.load(kb, dtype, addend, c, lanes)), lanes))


@lowering.fused_kernel("conv_input_gradient")
def emit_conv_input_gradient_kernel(module, name: str, members, buffers: Buffers) -> ir.Function:
    """A conv_input_gradient kernel of fusion (passes/fuse.py): dx = col2im(dy @ w^T), then the
    epilogue body (the ReLU gradient of the layer below, which would otherwise read dx back from
    memory) on each image's dx once it is final and still in L2, or on the GEMM's finished blocks
    for a pointwise window."""
    inst = members[0]
    g = _Geometry(Convolution.input_gradient(inst), inst)
    body = ElementwiseBody(members[1:])
    kb = KernelBuilder(module, name, ["buffers", "status"])
    buffers_arg = kb.arg("buffers")
    w, dy, dx = (buffers.value(kb, buffers_arg, v) for v in (inst.values[0], inst.values[1], inst.result))
    workspace = (buffers.workspace(kb, buffers_arg, inst.result) if g.convolution.workspace_bytes
                 else ir.Constant(PTR, None))
    pixels = g.height * g.width
    epilogue = (_epilogue(module, name, body, buffers, (g.batch * pixels, g.channels))
                if body.instructions or body.writes else None)

    def after_image(task, buffers_pointer, image):
        if epilogue is not None:
            first = task.b.mul(image, i64(pixels))
            task.b.call(epilogue, [_epilogue_context(task, buffers_pointer, first), i64(0), i64(0), i64(pixels),
                                   i64(g.channels)])

    if g.window.pointwise:
        context = _epilogue_context(kb, buffers_arg, i64(0)) if epilogue is not None else ir.Constant(PTR, None)
        kb.b.ret(_gemm(kb, g, False, True, g.rows, g.depth, g.out_channels, dy, w, dx, kb.arg("status"),
                       epilogue=epilogue, context=context))
        return kb.function
    if g.convolution.tiled:
        _tiled_input_gradient(kb, name, g, [w, dy, dx, workspace, buffers_arg], after_image)
        return kb.finish()
    image_rows = g.window.out_h * g.window.out_w
    per_chunk = g.chunk_rows // image_rows

    def chunk_range(task, values, outer):
        b = task.b
        w, dy, dx, workspace, status, buffers_pointer = values
        region = _element_offset(b, workspace, b.mul(task.arg("index"), i64(g.chunk_rows * g.depth)), g.dtype)
        with task.loop(b.sub(outer[1], outer[0]), "chunk") as i:
            first = b.mul(b.add(outer[0], i), i64(per_chunk))
            count = b.sub(i64(g.batch), first)
            count = b.select(b.icmp_signed("<", count, i64(per_chunk)), count, i64(per_chunk))
            gradient = _element_offset(b, dy, b.mul(first, i64(image_rows * g.out_channels)), g.dtype)
            _gemm(task, g, False, True, b.mul(count, i64(image_rows)), g.depth, g.out_channels, gradient, w, region,
                  status, thread=task.arg("thread"))
            with task.loop(count, "image") as j:
                columns = _element_offset(b, region, b.mul(j, i64(image_rows * g.depth)), g.dtype)
                _emit_col2im_image(task, g, columns, dx, b.add(first, j))
                after_image(task, buffers_pointer, b.add(first, j))

    emit_parallel_for(kb, f"{name}_chunks", -(-g.batch // per_chunk), [w, dy, dx, workspace, kb.arg("status"),
                                                                       buffers_arg], chunk_range,
                      parallel=g.rows * g.depth * g.out_channels >= PARALLEL_MIN_ELEMENTS, max_tasks=MAX_CONV_TASKS)
    return _finish_with_status(kb)


def _tiled_input_gradient(kb, name, g: _Geometry, values, after_image) -> None:
    """dx with register tiles (kernels/conv_tiled.py), an image per task iteration: each of its
    elements stored once, then after_image. w' [KH, KW, O, C] (w with its last two axes swapped) is
    packed once, first, into the workspace. values: w, dy, dx, the workspace, the step's buffers.
    With Convolution.block_sparse, w'' [O, KH, KW, C] is packed too, and an image whose dy has one
    nonzero per 2x2 block and channel takes kernels/conv_sparse.py's path if w is finite."""
    tiles = conv_tiled.InputGradientTiles(kb.module, name, g)
    sparse = conv_sparse.BlockSparseInputGradient(kb.module, name, g) if g.convolution.block_sparse else None
    w, dy, dx, workspace, buffers_arg = values
    b, filter_elements = kb.b, g.depth * g.out_channels
    rows = _element_offset(b, workspace, i64(filter_elements), g.dtype)  # w'' [O, KH, KW, C] (block-sparse)
    with kb.loop(g.depth // g.channels, "tap") as tap:
        with kb.loop(g.channels, "c") as c:
            with kb.loop(g.out_channels, "o") as o:
                packed = b.add(b.mul(b.add(b.mul(tap, i64(g.out_channels)), o), i64(g.channels)), c)
                source = b.add(b.mul(b.add(b.mul(tap, i64(g.channels)), c), i64(g.out_channels)), o)
                value = kb.load(w, g.dtype, source)
                kb.store(workspace, g.dtype, packed, value)
                if sparse is not None:
                    kb.store(rows, g.dtype, b.add(b.mul(o, i64(g.depth)), b.add(b.mul(tap, i64(g.channels)), c)), value)
    # The block-sparse path leaves out products w * 0: only while they are zeros.
    finite = b.zext(sparse.emit_finite(kb, w, filter_elements), I64) if sparse is not None else i64(0)
    image_elements, gradient_elements = g.height * g.width * g.channels, g.rows // max(1, g.batch) * g.out_channels
    scratch_bytes = g.convolution.block_sparse_elements * g.dtype.size

    def image_range(task, task_values, outer):
        tb = task.b
        dy, dx, workspace, buffers_pointer, w_finite = task_values
        if sparse is not None:  # no scratch (out of memory): the dense tiles
            scratch = tb.call(runtime_function(task.module, "graphc_scratch"), [task.arg("thread"), i64(scratch_bytes)])
            usable = tb.and_(tb.icmp_unsigned("!=", w_finite, i64(0)),
                             tb.icmp_unsigned("!=", tb.ptrtoint(scratch, I64), i64(0)))
        with task.loop(tb.sub(outer[1], outer[0]), "image") as i:
            image = tb.add(outer[0], i)
            image_dy = _element_offset(tb, dy, tb.mul(image, i64(gradient_elements)), g.dtype)
            image_dx = _element_offset(tb, dx, tb.mul(image, i64(image_elements)), g.dtype)
            if sparse is None:
                tiles.emit_image(task, image_dy, workspace, image_dx)
            else:
                blocks = task.variable(ir.IntType(1), ir.Constant(ir.IntType(1), 0))
                with tb.if_then(usable):
                    task.set(blocks, sparse.emit_prepare(task, image_dy, scratch))
                with tb.if_else(task.get(blocks, ir.IntType(1))) as (then, otherwise):
                    with then:
                        sparse.emit_image(task, scratch, _element_offset(tb, workspace, i64(filter_elements), g.dtype),
                                          image_dx, upcoming=((_element_offset(tb, image_dy, i64(gradient_elements),
                                                                               g.dtype), gradient_elements * g.dtype.size),))
                    with otherwise:
                        tiles.emit_image(task, image_dy, workspace, image_dx)
            after_image(task, buffers_pointer, image)

    emit_parallel_for(kb, f"{name}_images", g.batch, [dy, dx, workspace, buffers_arg, finite], image_range,
                      parallel=g.rows * g.depth * g.out_channels >= PARALLEL_MIN_ELEMENTS, each_index=True)


lowering.register_kernels({
    "conv2d_backprop_filter": lower_conv2d_backprop_filter,
})
