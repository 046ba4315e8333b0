"""passes/transpose_short_rows.py: blocks of [N, K] work that sum short rows are computed as [K, N]."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler.lower import lower
from graphc.ir.interpreter import interpret
from graphc.ir.parser import parse
from graphc.ir.printer import print_program
from graphc.passes.fold_constants import fold_constants
from graphc.passes.simplify import simplify
from graphc.passes.transpose_short_rows import transpose_short_rows
from tests.helpers import feed_types

# A hidden layer of 3 units over 16 points, its output unit (the short-row sum), the layer's column sum.
HIDDEN_LAYER = """\
program step:
  var @b: f32[1,3]
  %0:f32[16,1] = feed {tensor="x:0"}
  %1:f32[1,3] = feed {tensor="w:0"}
  %2:f32[16,3] = mul %0, %1
  %3:f32[1,3] = read @b
  %4:f32[16,3] = add %2, %3
  %5:f32[16,3] = tanh %4
  %6:f32[16,3] = mul %5, %1
  %7:f32[16,1] = reduce_sum %6 {axes=[1], keepdims=true}
  %8:f32[16,1] = tanh %7
  %9:f32[1,3] = reduce_sum %5 {axes=[0], keepdims=true}
  fetch %8, %9
"""


def test_transpose_short_rows_golden():
    # The feeds and the read are reshaped before the block's first member (the read moves up: nothing
    # writes @b in between); the column %8 is reshaped back under its id for the fetch; the column sum
    # %9 sums rows of 16 without kept dimensions, then takes its shape back.
    assert print_program(transpose_short_rows(parse(HIDDEN_LAYER))) == """\
program step:
  var @b: f32[1,3]
  %0:f32[16,1] = feed {tensor="x:0"}
  %1:f32[1,3] = feed {tensor="w:0"}
  %10:f32[1,16] = reshape %0 {shape=[1, 16]}
  %11:f32[3,1] = reshape %1 {shape=[3, 1]}
  %3:f32[1,3] = read @b
  %12:f32[3,1] = reshape %3 {shape=[3, 1]}
  %13:f32[3,16] = mul %10, %11
  %14:f32[3,16] = add %13, %12
  %15:f32[3,16] = tanh %14
  %16:f32[3,16] = mul %15, %11
  %17:f32[1,16] = reduce_sum %16 {axes=[0], keepdims=true}
  %18:f32[1,16] = tanh %17
  %8:f32[16,1] = reshape %18 {shape=[16, 1]}
  %19:f32[3] = reduce_sum %15 {axes=[1], keepdims=false}
  %9:f32[1,3] = reshape %19 {shape=[1, 3]}
  fetch %8, %9
"""


def _interpret(program, seed=0):
    rng = np.random.RandomState(seed)
    feeds = {"x:0": rng.uniform(-1, 1, (16, 1)).astype(np.float32),
             "w:0": rng.uniform(-2, 2, (1, 3)).astype(np.float32)}
    values, _ = interpret(program, feeds, {"b": rng.uniform(-1, 1, (1, 3)).astype(np.float32)})
    return values


def test_transposed_block_computes_the_same_values():
    program = parse(HIDDEN_LAYER)
    for before, after in zip(_interpret(program), _interpret(transpose_short_rows(program))):
        assert before.shape == after.shape
        np.testing.assert_allclose(before, after, rtol=1e-6)


@pytest.mark.parametrize("change, why", [
    (("%0:f32[16,1] = feed", "%0:f32[16,3] = feed"), "an outside [N, K] operand needs a real transpose"),
    (("fetch %8, %9", "fetch %8, %9, %5"), "an [N, K] member read outside needs a real transpose"),
    (("%7:f32[16,1] = reduce_sum %6 {axes=[1], keepdims=true}\n  %8:f32[16,1] = tanh %7",
      "%7:f32[1,3] = reduce_sum %6 {axes=[0], keepdims=true}\n  %8:f32[1,3] = tanh %7"),
     "no sum across the short rows: column sums alone walk [16, 3] in whole vectors already"),
    (("16,", "8,"), "fewer than 16 rows fill no vector along them"),
])
def test_blocks_left_alone(change, why):
    text = HIDDEN_LAYER.replace(*change)
    assert text != HIDDEN_LAYER
    program = parse(text)
    assert transpose_short_rows(program) is program, why


def test_tiny_network_training_step_transposed_keeps_its_meaning():
    # The 1-10-1 tanh regression's SGD step (benchmarks/workloads.py): the whole step but the updates
    # is one block; the variables after it are those of the step as built.
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 1], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    w1, b1 = tf.Variable(tf.random_normal([1, 10])), tf.Variable(tf.zeros([1, 10]))
    w2, b2 = tf.Variable(tf.random_normal([10, 1])), tf.Variable(tf.zeros([1, 1]))
    prediction = tf.tanh(tf.matmul(tf.tanh(tf.matmul(x, w1) + b1), w2) + b2)
    loss = tf.reduce_mean(tf.square(y - prediction))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    points = np.linspace(-0.5, 0.5, 40, dtype=np.float32)[:, None]
    feeds = {x: points, y: np.square(points)}
    step = lower([train, loss], feed_types(feeds), frozenset(v.op.name for v in tf.global_variables()))
    rng = np.random.RandomState(1)
    variables = {v.op.name: rng.normal(0, 1, v.shape.as_list()).astype(np.float32) for v in tf.global_variables()}
    simplified = simplify(fold_constants(step.program))
    transposed = transpose_short_rows(simplified)
    assert any(inst.op == "reduce_sum" and inst.operands[0].type.shape == (10, 40) for inst in transposed.instructions)
    fed = {t.name: v for t, v in feeds.items()}
    before_values, before_state = interpret(simplified, fed, variables)
    after_values, after_state = interpret(transposed, fed, variables)
    for a, b in zip(before_values, after_values):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    for name in before_state:
        np.testing.assert_allclose(before_state[name], after_state[name], rtol=1e-5, atol=1e-7)
