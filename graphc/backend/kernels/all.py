"""Every kernel module, imported so that each registers its code in backend/lowering.py's tables."""

from graphc.backend.kernels import (arg_extremum, batch_matmul, check_numerics, conv, elementwise,  # noqa: F401
                                    in_top_k, layout, matmul, pool, random, reduce, scan, softmax, top_k)
