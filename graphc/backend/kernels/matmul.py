"""Matrix multiplication C[M,N] = op(A) @ op(B), and the fused "gemm" kernel (passes/fuse.py).

The plain kernel is a loop nest chosen per layout so the innermost loop walks
contiguous memory; it serves integer products and float products too small for
the blocked GEMM (gemm.py) to pay off. The fused "gemm" kernel calls the GEMM
library with its epilogue body (a bias add, relu, an optimizer's update) as a
callback on each finished block of C (`emit_block`, which convolutions use too),
or for a small product runs the plain loop nest, then the epilogue. Either way the
epilogue reads an element of C once C's block is final, before it stores that
element of its values, and never again: so one of its values may be C's own
buffer (OpDef.epilogue_in_place, passes/shared_storage.py).
"""

from __future__ import annotations

import llvmlite.ir as ir

from graphc.backend import lowering
from graphc.backend.buffers import Buffers
from graphc.backend.kernel_builder import (I64, PTR, REASSOCIATE, VOID, KernelBuilder, constant, declare_c, i64,
                                           memory_type, register_type)
from graphc.backend.kernels.elementwise import ElementwiseBody, ElementwiseRegion, materialized
from graphc.backend.loops import broadcast_strides, contiguous_strides
from graphc.runtime import abi

# Below this many multiply-adds a product is a plain loop nest (see emit_gemm_kernel).
SMALL_GEMM_MACS = 1 << 14
# The plain loop nest sums a float product's k range in blocks of this many terms.
K_BLOCK = 64


def lower_matmul(module, name, inst):
    """C = op(A) @ op(B) as a plain loop nest: `i32 (ptr out, ptr a, ptr b, ptr status)`."""
    a = inst.values[0]
    transpose_a, transpose_b = inst.attrs["transpose_a"], inst.attrs["transpose_b"]
    m, n = inst.result.type.shape
    k = a.type.shape[0] if transpose_a else a.type.shape[1]
    return emit_plain_product(module, name, inst.result.type.dtype, m, n, k, transpose_a, transpose_b)


def emit_plain_product(module, name, dtype, m: int, n: int, k: int, transpose_a: bool, transpose_b: bool):
    """C[m,n] = op(A) @ op(B) of `dtype` as a plain loop nest: `i32 (ptr out, ptr a, ptr b, ptr status)`."""
    floating = dtype.is_floating
    kb = KernelBuilder(module, name, ["out", "in0", "in1", "status"])
    out, pa, pb = kb.arg("out"), kb.arg("in0"), kb.arg("in1")
    bld = kb.b

    def add(x, y):
        return bld.fadd(x, y, flags=REASSOCIATE) if floating else bld.add(x, y)

    def mul(x, y):
        return bld.fmul(x, y, flags=REASSOCIATE) if floating else bld.mul(x, y)

    def combine(total, block_sum):  # without REASSOCIATE: LLVM must keep the blocks
        return bld.fadd(total, block_sum) if floating else bld.add(total, block_sum)

    def a_index(row, depth):  # A'[row, depth]
        return bld.add(bld.mul(depth, i64(m)), row) if transpose_a else bld.add(bld.mul(row, i64(k)), depth)

    def b_index(depth, col):  # B'[depth, col]
        return bld.add(bld.mul(col, i64(k)), depth) if transpose_b else bld.add(bld.mul(depth, i64(n)), col)

    # Float sums over k run in blocks of K_BLOCK, each summed apart and then added to the total,
    # so no element adds more than about K_BLOCK + k / K_BLOCK terms one after another
    # (integer sums are exact in any order: one block).
    block = K_BLOCK if floating else max(k, 1)
    blocks = -(-k // block)
    # Float sums start from -0.0, the identity of IEEE addition: a sum of -0.0 products stays -0.0
    # (2 * -0.0 is -0.0, as TF's and the 2-D GEMM give); an empty sum (k = 0) is +0.0.
    sum_start = constant(dtype, -0.0 if floating and k else 0)

    def each_block(body):
        """body(first k, count) for each block of the k range."""
        with kb.loop(blocks, "kb") as index:
            first = bld.mul(index, i64(block))
            last = k - (blocks - 1) * block
            body(first, bld.select(bld.icmp_signed("==", index, i64(blocks - 1)), i64(last), i64(block)))

    if not transpose_b:
        # Blocks sum into a row of their own, then into C's; a single block (every integer
        # product, of any size) sums straight into C's row. Several blocks only come with a
        # float product below SMALL_GEMM_MACS, so n < SMALL_GEMM_MACS / K_BLOCK: a small row.
        partial = kb.local_array(memory_type(dtype), n) if blocks > 1 else out
        with kb.loop(m, "m") as row:
            row_base = bld.mul(row, i64(n))
            partial_base = row_base if blocks == 1 else i64(0)
            with kb.loop(n, "zero") as col:
                kb.store(out, dtype, bld.add(row_base, col), sum_start)

            def row_block(first, count):
                if blocks > 1:
                    with kb.loop(n, "start") as col:
                        kb.store(partial, dtype, col, sum_start)
                with kb.loop(count, "k") as step:
                    depth = bld.add(first, step)
                    a_element = kb.load(pa, dtype, a_index(row, depth))
                    with kb.loop(n, "n") as col:
                        index = bld.add(partial_base, col)
                        product = mul(a_element, kb.load(pb, dtype, b_index(depth, col)))
                        kb.store(partial, dtype, index, add(kb.load(partial, dtype, index), product))
                if blocks > 1:
                    with kb.loop(n, "add") as col:
                        index = bld.add(row_base, col)
                        kb.store(out, dtype, index, combine(kb.load(out, dtype, index), kb.load(partial, dtype, col)))

            each_block(row_block)
    else:
        value_type = register_type(dtype)
        accumulator, partial = kb.variable(value_type), kb.variable(value_type)
        with kb.loop(m, "m") as row:
            with kb.loop(n, "n") as col:
                kb.set(accumulator, sum_start)

                def dot_block(first, count):
                    kb.set(partial, sum_start)
                    with kb.loop(count, "k") as step:
                        depth = bld.add(first, step)
                        product = mul(kb.load(pa, dtype, a_index(row, depth)), kb.load(pb, dtype, b_index(depth, col)))
                        kb.set(partial, add(kb.get(partial, value_type), product))
                    kb.set(accumulator, combine(kb.get(accumulator, value_type), kb.get(partial, value_type)))

                each_block(dot_block)
                kb.store(out, dtype, bld.add(bld.mul(row, i64(n)), col), kb.get(accumulator, value_type))
    return kb.finish()


@lowering.fused_kernel("gemm")
def emit_gemm_kernel(module, name: str, members, buffers: Buffers) -> ir.Function:
    """A call to the GEMM library; the epilogue body runs on each finished block of C, in L2.

    Products below SMALL_GEMM_MACS (the tiny step's 200x10 @ 10x1) skip packing and
    padded tiles: a plain loop nest computes C, then one vectorized pass the epilogue.
    """
    matmul = members[0]
    a, b_value = matmul.operands
    m, n = matmul.result.type.shape
    transpose_a, transpose_b = matmul.attrs["transpose_a"], matmul.attrs["transpose_b"]
    k = a.type.shape[0] if transpose_a else a.type.shape[1]
    epilogue = ElementwiseBody(members[1:])
    if m * n * k < SMALL_GEMM_MACS:
        return _emit_small_gemm(module, name, matmul, epilogue, buffers)
    gemm = declare_c(module, abi.gemm_function(matmul.result.type.dtype, transpose_a, transpose_b))
    callback = ir.Constant(PTR, None)
    if epilogue.instructions or epilogue.writes:
        outputs = materialized(buffers, epilogue.instructions)
        block = KernelBuilder(module, f"{name}_epilogue", ["context", "row", "col", "rows", "cols"],
                             [PTR, I64, I64, I64, I64], VOID)
        emit_block(block, block.arg("context"), buffers, epilogue, outputs, (m, n),
                    *(block.arg(x) for x in ("row", "col", "rows", "cols")))
        callback = block.finish()
    kb = KernelBuilder(module, name, ["buffers", "status"])
    buffers_arg = kb.arg("buffers")
    c, a_pointer, b_pointer = (buffers.value(kb, buffers_arg, v) for v in (matmul.result, a, b_value))
    kb.b.ret(kb.b.call(gemm, [i64(m), i64(n), i64(k), a_pointer, b_pointer, c, callback, buffers_arg,
                              kb.arg("status")]))
    return kb.function


def _emit_small_gemm(module, name, matmul, epilogue: ElementwiseBody, buffers: Buffers) -> ir.Function:
    product = lower_matmul(module, f"{name}_matmul", matmul)
    kb = KernelBuilder(module, name, ["buffers", "status"])
    buffers_arg = kb.arg("buffers")
    pointers = [buffers.value(kb, buffers_arg, v) for v in (matmul.result,) + tuple(matmul.operands)]
    kb.b.call(product, pointers + [kb.arg("status")])
    if epilogue.instructions or epilogue.writes:
        ElementwiseRegion(epilogue, matmul.result.type.shape, materialized(buffers, epilogue.instructions)).emit(
            kb, buffers_arg, buffers)
    return kb.finish()


def emit_block(kb, buffers_arg, buffers: Buffers, body: ElementwiseBody, outputs, shape, row, col, rows, cols,
               matrix_strides=None):
    """The epilogue body on the block C[row:row+rows, col:col+cols] of a C of `shape`, row by row
    (or, a block of whole rows whose streams all follow C's layout, as one run).

    `matrix_strides(value)` gives an input's (row, column) strides in C when its
    shape is not one that broadcasts to C's (a convolution's per-channel bias)."""
    b = kb.b
    strides_of = matrix_strides or (lambda v: broadcast_strides(v.type.shape, shape))
    streams = [(buffers.value(kb, buffers_arg, v), v.type.dtype, strides_of(v)) for v in body.inputs]
    stores = [(buffers.value(kb, buffers_arg, v), v.type.dtype, contiguous_strides(shape), v.id) for v in outputs]
    stores += [(buffers.variable(kb, buffers_arg, w.operands[0].name), w.operands[1].type.dtype,
                contiguous_strides(shape), w.operands[1].id) for w in body.writes]
    # LLVM vectorizes the column loop and leaves its last cols % 64 elements to a scalar loop (no
    # vectorized remainders: backend/llvm_worker.py): 44 of each 300-wide row of the MLP's weight
    # updates. When every stream walks C's own layout (an optimizer's update, a ReLU gradient) and
    # the block spans whole rows, the block is one contiguous run: one loop, one remainder.
    runs, length = rows, cols
    if all(list(strides) in (contiguous_strides(shape), [0, 0]) for _, _, strides, *_ in streams + stores):
        whole_rows = b.icmp_signed("==", cols, i64(shape[1]))
        runs, length = b.select(whole_rows, i64(1), rows), b.select(whole_rows, b.mul(rows, cols), cols)
    with kb.loop(runs, "ei") as i:
        r = b.add(row, i)
        with kb.loop(length, "ej") as j:
            c = b.add(col, j)

            def offset(strides):  # in a run of whole rows c passes row r's end: fine with strides (n, 1)
                return b.add(b.mul(r, i64(strides[0])), b.mul(c, i64(strides[1])))

            inputs = iter(streams)
            values = body.evaluate(kb, lambda v: (lambda p, dtype, s: kb.load(p, dtype, offset(s)))(*next(inputs)))
            for pointer, dtype, strides, value_id in stores:
                kb.store(pointer, dtype, offset(strides), values[value_id])


def channel_matrix_strides(depth: int):
    """matrix_strides for emit_block on an NHWC tensor seen as the [N*H*W, depth] matrix (a
    convolution's output, a pooling gradient's dx): an epilogue input is whole, per channel
    ([depth], leading 1s allowed) or a scalar (fuse's matrix-view veto admits no other)."""

    def strides(value):
        dims = tuple(value.type.shape)
        while dims and dims[0] == 1:
            dims = dims[1:]
        return {0: (0, 0), 1: (0, 1)}.get(len(dims), (depth, 1))

    return strides


lowering.register_kernels({"matmul": lower_matmul})  # integers; float products are gemm kernels
