"""Every op family, imported so that each registers its ops (the registry walk in the tests
and `graphc.compat.v1` rely on a complete registry)."""

from graphc.ops import (activation_ops, array_ops, check_ops, conv_ops, elementary_ops,  # noqa: F401
                        init_ops, layout_ops, math_ops, nn_impl, nn_ops, random_ops, state_ops, summary_ops,
                        variable_scope, variables)
