"""Undefined vectors (a broadcast's insertelement start and shufflevector operand) are printed as LLVM's
`undef`, vectors of zeros as `zeroinitializer`, not lane by lane as llvmlite spells them: less IR text to
print and parse, the same module once LLVM has read it."""

import llvmlite.binding as llvm
import llvmlite.ir as ir

from graphc.backend import target
from graphc.backend.kernel_builder import F32, KernelBuilder, undefined, zeros


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


def test_zeros_print_whole_and_read_as_the_lane_by_lane_zeros():
    vector = ir.VectorType(F32, 8)
    assert zeros(vector) is zeros(ir.VectorType(F32, 8))
    assert str(zeros(vector)) == "<8 x float> zeroinitializer"
    assert str(zeros(F32)) == "float 0.0"
    module = target.new_module("zeros")
    kb = KernelBuilder(module, "clear", ["data"], return_type=ir.VoidType())
    kb.b.store(zeros(vector), kb.arg("data"))
    kb.b.ret_void()
    text = str(module)
    lane_by_lane = text.replace("zeroinitializer", "<" + ", ".join(["float 0.0"] * 8) + ">")
    target.initialize()
    parsed = [str(llvm.parse_assembly(t, context=llvm.create_context())) for t in (text, lane_by_lane)]
    assert lane_by_lane != text and parsed[0] == parsed[1]
