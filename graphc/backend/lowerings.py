"""The backend's lowering table: IR op -> function emitting its kernel.

Each entry is `lower(module, kernel_name, instruction) -> llvmlite Function`
with signature `i32 (ptr out, ptr operand..., ptr status)`. The state ops
(`feed`, `constant`, `read`, `write`) are not kernels: `codegen.py` places their
buffers and copies, and lists them in STATE_OPS.
"""

from __future__ import annotations

from graphc.backend.kernels.elementwise import ELEMENTWISE_OPS, LAYOUT_LOWERINGS, lower_elementwise
from graphc.backend.kernels.in_top_k import lower_in_top_k
from graphc.backend.kernels.matmul import lower_matmul
from graphc.backend.kernels.random import lower_random
from graphc.backend.kernels.reduce import lower_arg_extremum, lower_reduce
from graphc.backend.kernels.softmax import (lower_log_softmax, lower_softmax, lower_sparse_softmax_xent,
                                            lower_sparse_softmax_xent_grad)

LOWERINGS = {op: lower_elementwise for op in ELEMENTWISE_OPS}
LOWERINGS.update(LAYOUT_LOWERINGS)
LOWERINGS.update({
    "matmul": lower_matmul,
    "reduce_sum": lower_reduce,
    "reduce_mean": lower_reduce,
    "reduce_max": lower_reduce,
    "reduce_min": lower_reduce,
    "argmax": lower_arg_extremum,
    "argmin": lower_arg_extremum,
    "softmax": lower_softmax,
    "log_softmax": lower_log_softmax,
    "sparse_softmax_xent": lower_sparse_softmax_xent,
    "sparse_softmax_xent_grad": lower_sparse_softmax_xent_grad,
    "in_top_k": lower_in_top_k,
    "random_uniform": lower_random,
    "random_normal": lower_random,
    "truncated_normal": lower_random,
})

STATE_OPS = frozenset({"feed", "constant", "read", "write"})
