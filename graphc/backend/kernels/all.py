"""Every kernel module, imported so that each registers its code in backend/lowering.py's tables."""

from graphc.backend.kernels import (arg_extremum, assertion, batch_matmul, check_numerics, collective, conv,  # noqa: F401
                                    elementwise, gather, histogram, in_top_k, layout, matmul, pool, random, reduce,
                                    rows, scan, softmax, top_k)
