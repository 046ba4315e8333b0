"""The verifier rejects programs that break the IR's invariants."""

import pytest

from graphc.ir.parser import parse
from graphc.ir.verifier import VerificationError, verify
from tests.mlp_graph import mlp_training_program


def program(body: str, declarations: str = ""):
    return parse("program step:\n" + declarations + body)


def test_lowered_training_step_verifies():
    verify(mlp_training_program()[0])


@pytest.mark.parametrize("body, message", [
    ('  %0:f32[2] = feed {tensor="x:0"}\n  %1:f32[3] = neg %0\n  fetch %1\n', "shape rule gives f32\\[2\\]"),
    ('  %0:f32[2] = feed {tensor="x:0"}\n  %1:f32[2] = add %0, %0\n  %1:f32[2] = neg %0\n  fetch %1\n', "defined twice"),
    ('  %0:f32[2] = feed {tensor="x:0"}\n  %1:f32[2] = frobnicate %0\n  fetch %1\n', "unknown op"),
    ('  %0:f32[2] = feed {tensor="x:0"}\n  %1:f32[2,2] = matmul %0, %0 {transpose_a=false, transpose_b=false}\n'
     '  fetch %1\n', "shape rule of matmul fails"),
    ('  %0:f32[2] = read @missing\n  fetch %0\n', "not declared"),
    ('  %0:i32[2] = read @w\n  fetch %0\n', "shape rule gives f32\\[2\\]"),
])
def test_broken_programs_are_rejected(body, message):
    with pytest.raises(VerificationError, match=message):
        verify(program(body, "  var @w: f32[2]\n"))


def test_graph_only_ops_are_rejected():
    with pytest.raises(VerificationError, match="graph-only"):
        verify(program('  %0:f32[2] = placeholder {dtype=f32, shape=[2]}\n  fetch %0\n'))
