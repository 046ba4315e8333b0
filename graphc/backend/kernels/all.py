"""Every kernel module, imported so that each registers its code in backend/lowering.py's tables."""

from graphc.backend.kernels import (arg_extremum, check_numerics, conv, elementwise, in_top_k,  # noqa: F401
                                    layout, matmul, pool, random, reduce, scan, softmax)
