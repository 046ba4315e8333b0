"""Plain matrix multiplication C[M,N] = op(A) @ op(B): a loop nest chosen per layout
so the innermost loop walks contiguous memory. It serves integer products and
float products too small for the blocked GEMM (gemm.py) to pay off.
"""

from __future__ import annotations

from graphc.backend import lowering
from graphc.backend.kernel_builder import REASSOCIATE, KernelBuilder, constant, i64, register_type


def lower_matmul(module, name, inst):
    a, b_value = inst.values
    transpose_a, transpose_b = inst.attrs["transpose_a"], inst.attrs["transpose_b"]
    m, n = inst.result.type.shape
    k = a.type.shape[0] if transpose_a else a.type.shape[1]
    dtype = inst.result.type.dtype
    floating = dtype.is_floating
    kb = KernelBuilder(module, name, ["out", "in0", "in1", "status"])
    out, pa, pb = kb.arg("out"), kb.arg("in0"), kb.arg("in1")
    bld = kb.b

    def add(x, y):
        return bld.fadd(x, y, flags=REASSOCIATE) if floating else bld.add(x, y)

    def mul(x, y):
        return bld.fmul(x, y, flags=REASSOCIATE) if floating else bld.mul(x, y)

    def a_index(row, depth):  # A'[row, depth]
        return bld.add(bld.mul(depth, i64(m)), row) if transpose_a else bld.add(bld.mul(row, i64(k)), depth)

    def b_index(depth, col):  # B'[depth, col]
        return bld.add(bld.mul(col, i64(k)), depth) if transpose_b else bld.add(bld.mul(depth, i64(n)), col)

    if not transpose_b:
        with kb.loop(m, "m") as row:
            row_base = bld.mul(row, i64(n))
            with kb.loop(n, "zero") as col:
                kb.store(out, dtype, bld.add(row_base, col), constant(dtype, 0))
            with kb.loop(k, "k") as depth:
                a_element = kb.load(pa, dtype, a_index(row, depth))
                with kb.loop(n, "n") as col:
                    index = bld.add(row_base, col)
                    product = mul(a_element, kb.load(pb, dtype, b_index(depth, col)))
                    kb.store(out, dtype, index, add(kb.load(out, dtype, index), product))
    else:
        value_type = register_type(dtype)
        accumulator = kb.variable(value_type)
        with kb.loop(m, "m") as row:
            with kb.loop(n, "n") as col:
                kb.set(accumulator, constant(dtype, 0))
                with kb.loop(k, "k") as depth:
                    product = mul(kb.load(pa, dtype, a_index(row, depth)), kb.load(pb, dtype, b_index(depth, col)))
                    kb.set(accumulator, add(kb.get(accumulator, value_type), product))
                kb.store(out, dtype, bld.add(bld.mul(row, i64(n)), col), kb.get(accumulator, value_type))
    return kb.finish()


lowering.register_kernels({"matmul": lower_matmul})  # integers; float products are gemm kernels
