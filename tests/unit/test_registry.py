"""Every registered op has all its pieces, and its facts agree with each other (no LLVM here;
tests/backend/test_lowering_table.py checks the backend's code for each op)."""

import pytest

from graphc.core import registry
from graphc.core.registry import NO_GRADIENT_DEFINED, NOT_DIFFERENTIABLE, FusionClass, Role
from graphc.ir.program import STRUCTURED_OPS

OPS = registry.all_ops()
# The IR's own instructions: buffers and copies, a region's params, structured control flow.
IR_BUILTINS = {"feed", "constant", "read", "write", "param"} | STRUCTURED_OPS


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_op_is_complete(op):
    assert callable(op.infer), f"{op.name} has no shape rule"
    if op.tf_type is not None:
        assert op.gradient in (NOT_DIFFERENTIABLE, NO_GRADIENT_DEFINED) or callable(op.gradient), \
            f"{op.name} has no gradient rule"
    if op.in_ir and op.name not in IR_BUILTINS:
        assert op.reference is not None, f"{op.name} has no NumPy reference"
    if op.role is Role.STATIC:
        assert op.shape_function is not None or op.reference is not None, f"{op.name} cannot be evaluated"
    if op.role is Role.HOST:
        assert op.host_function is not None, f"host op {op.name} has no host function"
    if op.role is Role.INPUT:
        assert op.input_function is not None, f"input op {op.name} has no input function"


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_op_facts_agree(op):
    assert (op.fusion is FusionClass.ANCHOR) == (op.anchor is not None), f"{op.name}: anchor and fusion class"
    assert not op.epilogue_in_place or op.anchor is not None, f"{op.name}: an epilogue in place needs a kernel's anchor"
    assert (op.fusion is FusionClass.REDUCE) == (op.reduction is not None), f"{op.name}: reduction and fusion class"
    if op.reduction is not None:
        assert op.reduction.combine in ("add", "multiply", "maximum", "minimum", "or", "and")
        assert op.reduction.identity in ("zero", "one", "lowest", "highest")
    assert (op.role is Role.ASSIGN) == (op.write_value is not None), f"{op.name}: write_value and role"
    if op.role is Role.ASSIGN:
        assert op.effects.writes, f"{op.name} assigns but does not declare that it writes"
    if not op.in_ir:
        assert op.fusion is FusionClass.OPAQUE and not op.effects.may_fail, f"{op.name}: graph-only op with IR facts"
    if op.workspace is not None:
        assert op.fusion in (FusionClass.OPAQUE, FusionClass.ANCHOR), f"{op.name}: a workspace needs its own kernel"
    assert op.block_workspace is None or op.anchor is not None, f"{op.name}: blocks of a result need a kernel's anchor"
    if op.final_stage is not None:  # it ends kernels whose anchor can compute its result in blocks
        anchor_kind, _, _ = op.final_stage
        assert op.fusion is FusionClass.OPAQUE, f"{op.name}: a final stage is a kernel of its own otherwise"
        assert any(o.anchor == anchor_kind and o.block_workspace is not None for o in registry.all_ops()), op.name
    if op.column_sum is not None:  # it joins a reduce kernel, which then has a kind of its own
        assert op.fusion is FusionClass.OPAQUE, f"{op.name}: a column sum on the way needs a kernel of its own"
        assert op.column_sum[0] not in ("reduce", "loop", "opaque"), f"{op.name}: its kernel's kind"
