"""+0.0 and -0.0 are different constants (1 / x tells them apart): no stage may take [0, -0, 0] for a
splat of its first element (TF 2.21: 1 / [0, -0, 0] is [inf, -inf, inf])."""

import numpy as np

import graphc as tf
from graphc.core.dtypes import all_elements_identical
from graphc.frontend.constants import make_constant_array
from graphc.ir.interpreter import interpret
from graphc.ir.parser import parse
from graphc.ir.printer import is_splat, print_program
from graphc.passes.fold_constants import fold_constants
from graphc.passes.simplify import simplify

MIXED = np.array([0.0, -0.0, 0.0], np.float32)


def test_elements_are_identical_only_bit_for_bit():
    assert not all_elements_identical(MIXED)
    assert all_elements_identical(np.array([-0.0, -0.0]))
    assert all_elements_identical(np.array([np.nan, np.nan]))
    assert all_elements_identical(np.array([3, 3], np.int64)) and all_elements_identical(np.zeros(0))
    assert not is_splat(MIXED) and is_splat(np.array([-0.0, -0.0])) and is_splat(np.broadcast_to(1.0, (4, 4)))


def test_a_constant_of_signed_zeros_keeps_every_element():
    array = make_constant_array([0.0, -0.0, 0.0])
    assert array.strides != (0,) and np.signbit(array).tolist() == [False, True, False]
    assert make_constant_array([-0.0, -0.0]).strides == (0,)  # a true splat stays one element


def test_printing_and_parsing_keep_the_signs():
    text = """\
program step:
  %0:f32[3] = constant {value=[0.0, -0.0, 0.0]}
  %1:f32[] = constant {value=1.0}
  %2:f32[3] = div %1, %0
  fetch %2
"""
    program = parse(text)
    assert print_program(program) == text
    assert interpret(program, {}, {})[0][0].tolist() == [np.inf, -np.inf, np.inf]


def test_folding_and_simplifying_keep_the_signs():
    # 5000 elements: more than fold_constants computes whole, so only a splat would fold.
    big = np.where(np.arange(5000) % 2, 0.0, -0.0).astype(np.float32)
    program = tf_program_of(1.0 / tf.constant(big))
    folded = simplify(fold_constants(program))
    values = interpret(folded, {}, {})[0][0]
    assert np.isneginf(values[0]) and np.isposinf(values[1])
    small = simplify(fold_constants(tf_program_of(1.0 / tf.constant(MIXED))))
    assert interpret(small, {}, {})[0][0].tolist() == [np.inf, -np.inf, np.inf]


def tf_program_of(tensor):
    from graphc.compiler.lower import lower

    return lower([tensor], {}).program
