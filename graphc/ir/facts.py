"""The op registry's facts about an instruction: its fusion class, its effects, whether it may fail.

Passes and the backend ask these questions of instructions, never of op names;
the answers come from the instruction's OpDef (core/registry.py), some of them
depending on the result's dtype (integer floordiv is not fused and may fail).
"""

from __future__ import annotations

from graphc.core import registry
from graphc.core.registry import Effects, FusionClass
from graphc.ir.program import walk


def fusion_of(inst) -> FusionClass:
    """How the instruction fuses: its op's fusion class for its result's dtype."""
    if inst.result is None:
        return FusionClass.OPAQUE
    return registry.get(inst.op).fusion_for(inst.result.type.dtype)


def is_elementwise(inst) -> bool:
    """Whether a fused loop can compute the instruction element by element (broadcast operands welcome)."""
    return fusion_of(inst) in (FusionClass.ELEMENTWISE, FusionClass.BROADCAST)


def strided_read(inst):
    """(offset, strides over the result) at which a fused loop reads the instruction's result in place from
    its first operand (OpDef.strided_read: a slice of columns), or None when it is not such a read."""
    read = registry.get(inst.op).strided_read
    return None if read is None or inst.result is None else read(inst)


def strided_pieces(inst):
    """Per operand (offset, strides) at which a fused loop stores it in place in the instruction's result
    (OpDef.strided_pieces: a concat of columns), or None when it is not such a result."""
    pieces = registry.get(inst.op).strided_pieces
    return None if pieces is None or inst.result is None else pieces(inst)


def effects_of(inst) -> Effects:
    return registry.get(inst.op).effects


def written_variables(inst) -> set:
    """The names of the variables the instruction writes: a write's, and a loop's or cond's, which writes
    those its regions write (assignments in a tf.while_loop body or tf.cond branch)."""
    if inst.op == "write":
        return {inst.operands[0].name}
    return {inner.operands[0].name for inner in walk([inst]) if inner.op == "write"} if inst.regions else set()


def may_fail(inst) -> bool:
    """Whether the instruction can fail the run on bad values (see Effects.may_fail). A row read or write
    whose index is in range by construction (`in_range`: a gradient loop reading its forward loop's rows, a
    loop's counter its cond bounds: passes/bound_counter_rows.py) cannot: so dead-code elimination drops the
    reads nothing uses, and the rows the forward loop stashes for them, and a TensorArray nothing reads."""
    if inst.attrs.get("in_range"):
        return False
    return inst.result is not None and registry.get(inst.op).may_fail(inst.result.type.dtype)
