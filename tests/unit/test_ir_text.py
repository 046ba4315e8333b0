"""The IR's text form: golden printing, parse(print(p)) round trips, readable errors."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler.lower import lower
from graphc.ir.parser import ParseError, parse
from graphc.ir.printer import print_program
from tests.helpers import feed_types
from tests.mlp_graph import mlp_training_program

GOLDEN = """\
program step:
  var @w: f32[3,2]
  %0:f32[4,3] = feed {tensor="x:0"}  # x
  %1:f32[3,2] = read @w  # w/read
  %2:f32[4,2] = matmul %0, %1 {transpose_a=false, transpose_b=false}  # MatMul
  %3:f32[4,2] = relu %2  # Relu
  %4:f32[] = reduce_sum %3 {axes=[0, 1], keepdims=false}  # Sum
  fetch %4
"""


def test_lowered_program_prints_as_golden_text():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(tf.zeros([3, 2]), name="w")
    y = tf.reduce_sum(tf.nn.relu(tf.matmul(x, w)))
    step = lower([y], feed_types({x: np.zeros((4, 3))}), frozenset({"w"}))
    assert print_program(step.program) == GOLDEN


def test_golden_text_round_trips():
    assert print_program(parse(GOLDEN)) == GOLDEN


def test_training_step_round_trips_with_full_constants():
    program, _, _ = mlp_training_program()
    text = print_program(program, full=True)
    assert print_program(parse(text), full=True) == text


def test_summarised_text_round_trips():
    program, _, _ = mlp_training_program()
    text = print_program(program)
    assert print_program(parse(text)) == text


def test_constants_print_as_splats_lists_or_digests():
    text = """\
program step:
  %0:f32[1000] = constant {value=0.5}
  %1:i32[3] = constant {value=[1, 2, 3]}
  %2:f64[] = constant {value=-inf}
  %3:bool[2] = constant {value=[true, false]}
  fetch %0, %1, %2, %3
"""
    program = parse(text)
    values = [inst.attrs["value"] for inst in program.instructions]
    assert values[0].shape == (1000,) and values[0][7] == np.float32(0.5)
    assert values[1].tolist() == [1, 2, 3]
    assert values[2] == -np.inf
    assert values[3].dtype == np.bool_
    assert print_program(program) == text


def test_parse_errors_name_the_line():
    with pytest.raises(ParseError, match="line 3"):
        parse("program step:\n  %0:f32[2] = feed {tensor=\"x:0\"}\n  %1:f32[2] = neg %7\n  fetch %1\n")
    with pytest.raises(ParseError, match="fetch"):
        parse("program step:\n  %0:f32[2] = feed {tensor=\"x:0\"}\n")


def test_float_attributes_round_trip():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.gradients(tf.reduce_sum(tf.nn.leaky_relu(x, alpha=0.01) * tf.nn.leaky_relu(x, alpha=1 / 3)), x)[0]
    step = lower([y], feed_types({x: np.zeros((4, 3))}), frozenset())
    text = print_program(step.program)
    assert "alpha=9.999999776482582e-03" in text  # TF's alpha attr is a float32
    assert print_program(parse(text)) == text
    alphas = [[i.attrs["alpha"] for i in p.instructions if "alpha" in i.attrs] for p in (step.program, parse(text))]
    assert alphas[0] == alphas[1] and len(alphas[0]) == 4 and float(np.float32(1 / 3)) in alphas[0]
