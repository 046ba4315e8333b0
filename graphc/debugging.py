"""`tf.debugging`: TF 1.15's run-time checks under their second name (`tf.debugging.assert_equal` is
`tf.assert_equal`)."""

# ruff: noqa: F401 - re-exports under TF's names

from graphc.ops.check_ops import (Assert, assert_equal, assert_greater, assert_greater_equal, assert_integer,
                                  assert_less, assert_less_equal, assert_negative, assert_non_negative,
                                  assert_non_positive, assert_none_equal, assert_positive, assert_rank, assert_type,
                                  check_numerics)
from graphc.ops.check_ops import verify_tensor_all_finite as assert_all_finite
