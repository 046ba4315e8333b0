"""The op registry and the op families; importing this package registers every op."""

from graphc.ops import (array_ops, check_ops, conv_ops, layout_ops, math_ops, nn_ops, random_ops,  # noqa: F401
                        state_ops)
