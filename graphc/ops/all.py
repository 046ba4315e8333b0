"""Every op family, imported so that each registers its ops (the registry walk in the tests
and `graphc.compat.v1` rely on a complete registry)."""

from graphc.ops import (array_ops, check_ops, contraction_ops, conv_ops, init_ops, layout_ops,  # noqa: F401
                        math_ops, nn_impl, nn_ops, random_ops, scan_ops, selection_ops, state_ops, summary_ops,
                        variable_scope, variables)
