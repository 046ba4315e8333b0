"""The backend has code for every op the IR can hold, where the op's registry facts say to look."""

import pytest

from graphc.backend.kernels import all as _all_kernels  # noqa: F401 - fills the tables
from graphc.backend.lowering import FUSED_KERNELS, KERNELS, SCALAR_OPS, STATE_OPS
from graphc.core import registry
from graphc.core.registry import FusionClass

IR_OPS = [op for op in registry.all_ops() if op.in_ir and op.name not in STATE_OPS]


@pytest.mark.parametrize("op", IR_OPS, ids=[op.name for op in IR_OPS])
def test_op_has_its_code(op):
    if op.fusion in (FusionClass.ELEMENTWISE, FusionClass.BROADCAST):
        assert op.name in SCALAR_OPS, f"elementwise op {op.name} has no scalar lowering"
    elif op.fusion is FusionClass.ANCHOR:
        assert op.anchor in FUSED_KERNELS, f"{op.name} anchors {op.anchor} kernels, which have no emitter"
    elif op.fusion is FusionClass.REDUCE:
        assert "reduce" in FUSED_KERNELS
    else:  # OPAQUE and INJECTIVE ops are kernels of their own
        assert op.name in KERNELS, f"{op.name} has no kernel"
    if op.final_stage is not None:  # the kernels it ends have an emitter, with the result in blocks or whole
        for kind in op.final_stage[1:]:
            assert kind in FUSED_KERNELS, f"{op.name} ends {kind} kernels, which have no emitter"
    if op.column_sum is not None:  # the reduce kernels it joins have an emitter
        assert op.column_sum[0] in FUSED_KERNELS, f"{op.name} makes {op.column_sum[0]} kernels, which have no emitter"
    if op.fuses_for is not None:  # for the other dtypes it is a kernel of its own
        assert op.name in KERNELS, f"{op.name} fuses for {op.fuses_for} only, and has no kernel for the rest"


def test_tables_hold_only_what_the_facts_send_there():
    for name in SCALAR_OPS:
        assert registry.get(name).fusion in (FusionClass.ELEMENTWISE, FusionClass.BROADCAST), name
    for name in KERNELS:
        op = registry.get(name)
        assert op.fuses_for is not None or op.fusion in (FusionClass.OPAQUE, FusionClass.INJECTIVE), name
    assert {"loop", "reduce"} <= set(FUSED_KERNELS)  # the kinds fusion forms from elementwise ops and reductions
