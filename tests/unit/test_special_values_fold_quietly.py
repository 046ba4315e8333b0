"""IEEE special values are ordinary results of the reference interpreter: folding rsqrt(-0.0) or
casting NaN to an integer gives TF's answer (-inf; the lowest int32) without a NumPy warning."""

import warnings

import numpy as np

from graphc.ir.interpreter import interpret
from graphc.ir.parser import parse
from graphc.passes.fold_constants import fold_constants

PROGRAM = """\
program step:
  %0:f32[2] = constant {value=[-0.0, nan]}
  %1:f32[2] = rsqrt %0
  %2:i32[2] = cast %0 {dtype=i32}
  fetch %1, %2
"""


def test_folding_special_values_warns_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        folded = fold_constants(parse(PROGRAM))
    (roots, casts), _ = interpret(folded, {}, {})
    assert np.isneginf(roots[0]) and np.isnan(roots[1])
    assert casts.tolist() == [0, -2 ** 31]
