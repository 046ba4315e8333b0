"""Undefined vectors (a broadcast's insertelement start and shufflevector operand) are printed as LLVM's
`undef`, not lane by lane as llvmlite spells them: a quarter less IR text to print and parse, the same
module once LLVM has read it."""

import llvmlite.binding as llvm
import llvmlite.ir as ir

from graphc.backend import target
from graphc.backend.kernel_builder import F32, KernelBuilder, undefined


def _broadcast_module() -> str:
    module = target.new_module("broadcast")
    kb = KernelBuilder(module, "spread", ["data"], return_type=ir.VoidType())
    vector = kb.broadcast(kb.b.load(kb.arg("data"), typ=F32), 8)
    kb.b.store(vector, kb.arg("data"))
    kb.b.ret_void()
    return str(module)


def test_a_broadcast_prints_its_undefined_vectors_whole():
    text = _broadcast_module()
    assert "insertelement <8 x float> undef, float" in text
    assert "shufflevector <8 x float> %" in text and "<8 x float> undef, <8 x i32> splat (i32 0)" in text
    assert "float undef," not in text


def test_llvm_reads_undef_as_the_vector_of_undefined_lanes():
    target.initialize()
    text = _broadcast_module()
    lane_by_lane = text.replace("<8 x float> undef", "<8 x float> <" + ", ".join(["float undef"] * 8) + ">")
    assert lane_by_lane != text
    parsed = [str(llvm.parse_assembly(t, context=llvm.create_context())) for t in (text, lane_by_lane)]
    assert parsed[0] == parsed[1]


def test_one_constant_per_type_and_scalars_as_llvmlite_prints_them():
    vector = ir.VectorType(F32, 8)
    assert undefined(vector) is undefined(ir.VectorType(F32, 8))
    assert str(undefined(vector)) == "<8 x float> undef"
    assert str(undefined(F32)) == "float undef"
