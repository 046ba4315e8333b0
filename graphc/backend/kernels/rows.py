"""row_read (x[i] at an index known only when the step runs), its gradient row_read_grad (zeros but
row i), and row_write (a TensorArray's write: the rows with row i replaced, in place when the memory plan
allows): copies of whole rows, after a bounds check that fails the step as TF's strided slice does."""

from __future__ import annotations

import llvmlite.ir as ir

from graphc import errors
from graphc.backend import lowering
from graphc.backend.kernel_builder import I1, I8, I64, PTR, VOID, KernelBuilder, declare, i64
from graphc.backend.scalar_ops import convert
from graphc.core import dtypes


def _checked_row(kb: KernelBuilder, inst, index_value, rows: int):
    """The i64 row index, after failing the step if it is outside [0, rows); unchecked where the index is
    in range by construction (a row_read's `in_range`: ir/facts.may_fail)."""
    index = convert(kb, kb.load(kb.arg("in1"), index_value.type.dtype, i64(0)), index_value.type.dtype, dtypes.int64)
    if inst.attrs.get("in_range"):
        return index
    b = kb.b
    outside = b.or_(b.icmp_signed("<", index, i64(0)), b.icmp_signed(">=", index, i64(rows)))
    with kb.if_(outside):
        where = (inst.source or inst.op).replace("%", "%%")
        kb.fail(errors.INVALID_ARGUMENT, f"index %lld is not in [0, {rows}) (op {where})", index)
    return index


def _memcpy(kb: KernelBuilder, destination, source, nbytes) -> None:
    memcpy = declare(kb.module, "llvm.memcpy.p0.p0.i64", VOID, [PTR, PTR, I64, I1])
    kb.b.call(memcpy, [destination, source, nbytes, ir.Constant(I1, 0)])


def lower_row_read(module, name, inst):
    """The row's copy; none when the plan made the result that row (a view: passes/shared_storage.py)."""
    x, index = inst.values
    kb = KernelBuilder(module, name, ["out", "in0", "in1", "status"])
    for argument in kb.function.args[:2]:
        argument.attributes.discard("noalias")  # out is inside in0 when the result is a view of the row
    row = _checked_row(kb, inst, index, x.type.shape[0])
    nbytes = inst.result.type.nbytes
    b = kb.b
    source = b.gep(kb.arg("in0"), [b.mul(row, i64(nbytes))], source_etype=I8)
    with kb.if_(b.icmp_unsigned("!=", b.ptrtoint(kb.arg("out"), I64), b.ptrtoint(source, I64))):
        _memcpy(kb, kb.arg("out"), source, i64(nbytes))
    return kb.finish()


def lower_row_read_grad(module, name, inst):
    g, index = inst.values
    kb = KernelBuilder(module, name, ["out", "in0", "in1", "status"])
    row = _checked_row(kb, inst, index, inst.attrs["rows"])
    memset = declare(module, "llvm.memset.p0.i64", VOID, [PTR, I8, I64, I1])
    kb.b.call(memset, [kb.arg("out"), ir.Constant(I8, 0), i64(inst.result.type.nbytes), ir.Constant(I1, 0)])
    nbytes = g.type.nbytes
    _memcpy(kb, kb.b.gep(kb.arg("out"), [kb.b.mul(row, i64(nbytes))], source_etype=I8), kb.arg("in0"), i64(nbytes))
    return kb.finish()


def lower_row_write(module, name, inst):
    """The rows with one replaced; in place when the plan gives the result its first operand's buffer."""
    buffer, index, value = inst.values
    kb = KernelBuilder(module, name, ["out", "in0", "in1", "in2", "status"])
    for argument in kb.function.args[:2]:
        argument.attributes.discard("noalias")  # out and in0 are one buffer when the write is in place
    row = _checked_row(kb, inst, index, buffer.type.shape[0])
    b = kb.b
    with kb.if_(b.icmp_unsigned("!=", b.ptrtoint(kb.arg("out"), I64), b.ptrtoint(kb.arg("in0"), I64))):
        _memcpy(kb, kb.arg("out"), kb.arg("in0"), i64(buffer.type.nbytes))
    nbytes = value.type.nbytes
    _memcpy(kb, b.gep(kb.arg("out"), [b.mul(row, i64(nbytes))], source_etype=I8), kb.arg("in2"), i64(nbytes))
    return kb.finish()


lowering.register_kernels({"row_read": lower_row_read, "row_read_grad": lower_row_read_grad,
                           "row_write": lower_row_write})
