"""Batched matrix products (TF's BatchMatMulV2): C[..., M, N] = op(A[..., M, K]) @ op(B[..., K, N]),
the batch dimensions broadcast as NumPy's.

One product per batch index, by the code that serves 2-D products: the GEMM library for
float products of at least SMALL_GEMM_MACS multiply-adds, the plain loop nest for smaller
ones and for integers. A broadcast batch dimension reads the same matrix again (stride 0),
so no operand is copied.

Threads: a batch of at least MIN_BATCH_TASKS products is split across the pool by batch
index, each product computed by one thread (the GEMM library's `_on_thread` entry, with
that thread's packing buffers); a smaller batch of large products lets the GEMM library
split each product across the pool instead. Measured on this 2-core host (a shared, loaded
one), 64 products of 128 x 128 x 128: 18.3 ms one after another, each split by the library;
1.7 ms split by batch (NumPy's matmul: 2.0 ms).
"""

from __future__ import annotations

import llvmlite.ir as ir

from graphc.backend import lowering
from graphc.backend.kernel_builder import PTR, KernelBuilder, declare_c, i64
from graphc.backend.kernels.matmul import SMALL_GEMM_MACS, emit_plain_product
from graphc.backend.kernels.parallel import emit_parallel_for
from graphc.backend.kernels.reduction import flat_coordinates
from graphc.backend.loops import broadcast_strides, contiguous_strides
from graphc.core import dtypes
from graphc.core.tensor_shape import num_elements
from graphc.runtime import abi

MIN_BATCH_TASKS = 8  # products in a batch from which the pool splits the batch rather than each product


def lower_batch_matmul(module, name, inst):
    """`i32 (ptr out, ptr a, ptr b, ptr status)`: a loop over the batch calling a product per matrix."""
    a, b_value = inst.values
    adj_x, adj_y = inst.attrs["adj_x"], inst.attrs["adj_y"]
    out_shape, dtype = inst.result.type.shape, inst.result.type.dtype
    batch_shape = out_shape[:-2]
    batches = num_elements(batch_shape)
    m, n = out_shape[-2:]
    k = a.type.shape[-2] if adj_x else a.type.shape[-1]

    def matrix_strides(shape, matrix_size):
        return [s * matrix_size for s in broadcast_strides(shape[:-2], batch_shape)]

    strides = [matrix_strides(a.type.shape, m * k), matrix_strides(b_value.type.shape, k * n),
               [s * m * n for s in contiguous_strides(batch_shape)]]
    large = dtype in (dtypes.float32, dtypes.float64) and m * n * k >= SMALL_GEMM_MACS
    split_batch = batches >= MIN_BATCH_TASKS
    null = ir.Constant(PTR, None)
    if large:
        gemm = declare_c(module, abi.gemm_function(dtype, adj_x, adj_y, on_thread=split_batch))
    else:
        plain = emit_plain_product(module, f"{name}_matrix", dtype, m, n, k, adj_x, adj_y)

    def products(task, values, bounds):
        """The products of batch indices [begin, end)."""
        out, x, y, status = values
        bld, (begin, end) = task.b, bounds
        with task.loop(bld.sub(end, begin), "batch") as local:
            coordinates = flat_coordinates(bld, bld.add(begin, local), list(batch_shape))
            pointers = []
            for base, stream in zip((x, y, out), strides):
                offset = i64(0)
                for coordinate, stride in zip(coordinates, stream):
                    if stride:
                        offset = bld.add(offset, bld.mul(coordinate, i64(stride)))
                pointers.append(task.address(base, dtype, offset))
            left, right, product = pointers
            if large:
                thread = [task.arg("thread")] if split_batch else []
                bld.call(gemm, [i64(m), i64(n), i64(k), left, right, product, null, null, status] + thread)
            else:
                bld.call(plain, [product, left, right, status])

    kb = KernelBuilder(module, name, ["out", "in0", "in1", "status"])
    emit_parallel_for(kb, f"{name}_batch", batches, [kb.arg(x) for x in ("out", "in0", "in1", "status")], products,
                      parallel=split_batch and batches * m * n * k >= SMALL_GEMM_MACS)
    return kb.finish()


lowering.register_kernels({"batch_matmul": lower_batch_matmul})
