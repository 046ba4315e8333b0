"""Batched matrix products (TF's BatchMatMulV2): C[..., M, N] = op(A[..., M, K]) @ op(B[..., K, N]),
the batch dimensions broadcast as NumPy's.

One product per batch index, by the code that serves 2-D products: the GEMM library for
float products of at least SMALL_GEMM_MACS multiply-adds (it splits each product across
the thread pool), the plain loop nest for smaller ones and for integers. A broadcast batch
dimension reads the same matrix again (stride 0), so no operand is copied.
"""

from __future__ import annotations

import llvmlite.ir as ir

from graphc.backend import lowering
from graphc.backend.kernel_builder import I32, PTR, KernelBuilder, declare_c, i64
from graphc.backend.kernels.matmul import SMALL_GEMM_MACS, emit_plain_product
from graphc.backend.loops import broadcast_strides, contiguous_strides, emit_loops
from graphc.core import dtypes
from graphc.runtime import abi


def lower_batch_matmul(module, name, inst):
    """`i32 (ptr out, ptr a, ptr b, ptr status)`: a loop over the batch calling a product per matrix."""
    a, b_value = inst.values
    adj_x, adj_y = inst.attrs["adj_x"], inst.attrs["adj_y"]
    out_shape, dtype = inst.result.type.shape, inst.result.type.dtype
    batch_shape = out_shape[:-2]
    m, n = out_shape[-2:]
    k = a.type.shape[-2] if adj_x else a.type.shape[-1]

    def matrix_strides(shape, matrix_size):
        return [s * matrix_size for s in broadcast_strides(shape[:-2], batch_shape)]

    strides = [matrix_strides(a.type.shape, m * k), matrix_strides(b_value.type.shape, k * n),
               [s * m * n for s in contiguous_strides(batch_shape)]]
    kb = KernelBuilder(module, name, ["out", "in0", "in1", "status"])
    bld, status = kb.b, kb.arg("status")
    if dtype in (dtypes.float32, dtypes.float64) and m * n * k >= SMALL_GEMM_MACS:
        gemm = declare_c(module, abi.gemm_function(dtype, adj_x, adj_y))

        def product(c, x, y):  # no epilogue
            return bld.call(gemm, [i64(m), i64(n), i64(k), x, y, c, ir.Constant(PTR, None), ir.Constant(PTR, None),
                                   status])
    else:
        plain = emit_plain_product(module, f"{name}_matrix", dtype, m, n, k, adj_x, adj_y)

        def product(c, x, y):
            return bld.call(plain, [c, x, y, status])

    def each_matrix(offsets):
        x, y, c = (kb.address(kb.arg(arg), dtype, offset) for arg, offset in zip(("in0", "in1", "out"), offsets))
        code = product(c, x, y)
        with bld.if_then(bld.icmp_signed("!=", code, ir.Constant(I32, 0))):
            bld.ret(code)

    emit_loops(kb, batch_shape, strides, each_matrix)
    return kb.finish()


lowering.register_kernels({"batch_matmul": lower_batch_matmul})
