"""Every registered op has all its pieces: shape rule, gradient, reference, lowering."""

import pytest

from graphc.backend.lowering import LOWERINGS, STATE_OPS, has_lowering
from graphc.compiler.lower import STRUCTURAL_OPS
from graphc.core import registry
from graphc.core.registry import NOT_DIFFERENTIABLE

OPS = registry.all_ops()


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_op_is_complete(op):
    assert callable(op.infer), f"{op.name} has no shape rule"
    if op.tf_type is not None:
        assert op.gradient is NOT_DIFFERENTIABLE or callable(op.gradient), f"{op.name} has no gradient rule"
    if op.in_ir:
        if op.name in STATE_OPS:
            return
        assert op.reference is not None, f"{op.name} has no NumPy reference"
        assert has_lowering(op.name), f"{op.name} has no backend lowering"
    else:
        handled = (op.tf_type in STRUCTURAL_OPS or op.shape_only_inputs or op.reference is not None
                   or op.host_function is not None)
        assert handled, f"graph-only op {op.name} is neither structural, shape-only, statically evaluable nor a host op"


def test_lowering_table_has_no_unregistered_ops():
    names = {op.name for op in OPS}
    assert set(LOWERINGS) <= names
    assert STATE_OPS <= names
