"""Every kernel module, imported so that each registers its code in backend/lowering.py's tables."""

from graphc.backend.kernels import (arg_extremum, check_numerics, conv, elementwise, fused_kernels,  # noqa: F401
                                    in_top_k, layout, matmul, pool, random, softmax)
