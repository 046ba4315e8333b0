"""The backend's lowering tables: how each IR op becomes code.

Most ops run inside fused kernels (kernels/fused_kernels.py): elementwise ops
through their scalar code in SCALAR_OPS, reductions, float matmuls, conv2d and the
softmax cross-entropy pair as the anchors of their kernels. The others are
`opaque`: one instruction, one kernel, `lower(module, name, instruction)`
returning `i32 (ptr out, ptr operand..., [ptr workspace,] ptr status)` (a
workspace when the op's registry entry asks for one: see plan_memory). The
state ops (`feed`, `constant`, `read`, `write`) are buffers and copies, placed
by codegen.
"""

from __future__ import annotations

from graphc.backend.kernels.check_numerics import lower_check_numerics
from graphc.backend.kernels.conv import CONV_LOWERINGS
from graphc.backend.kernels.elementwise import LAYOUT_LOWERINGS, lower_elementwise, lower_reshape
from graphc.backend.kernels.in_top_k import lower_in_top_k
from graphc.backend.kernels.layout import LAYOUT_KERNELS
from graphc.backend.kernels.matmul import lower_matmul
from graphc.backend.kernels.pool import POOL_LOWERINGS
from graphc.backend.kernels.random import lower_random
from graphc.backend.kernels.reduce import lower_arg_extremum
from graphc.backend.kernels.softmax import lower_log_softmax, lower_softmax
from graphc.backend.scalar_ops import SCALAR_OPS
from graphc.passes.fuse import REDUCTIONS, SOFTMAX_OPS

LOWERINGS = dict(LAYOUT_LOWERINGS)
LOWERINGS.update(LAYOUT_KERNELS)
LOWERINGS.update({
    "expand_dims": lower_reshape,  # a size-1 axis more or less keeps the row-major order
    "squeeze": lower_reshape,
    "check_numerics": lower_check_numerics,
    "matmul": lower_matmul,  # integers; float products are gemm kernels
    "floordiv": lower_elementwise,  # integers; float floordiv is fused like any elementwise op
    "argmax": lower_arg_extremum,
    "argmin": lower_arg_extremum,
    "softmax": lower_softmax,
    "log_softmax": lower_log_softmax,
    "in_top_k": lower_in_top_k,
    "random_uniform": lower_random,
    "random_normal": lower_random,
    "truncated_normal": lower_random,
})
LOWERINGS.update(CONV_LOWERINGS)
LOWERINGS.update(POOL_LOWERINGS)

STATE_OPS = frozenset({"feed", "constant", "read", "write"})
KERNEL_ANCHORS = REDUCTIONS | SOFTMAX_OPS | {"matmul", "conv2d"}


def has_lowering(op: str) -> bool:
    """Whether the backend can compile `op` (the registry test asks this of every op)."""
    return op in LOWERINGS or op in SCALAR_OPS or op in KERNEL_ANCHORS or op in STATE_OPS
