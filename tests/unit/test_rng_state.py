"""A random op's seeds are run-time data (its state), not code: the program, and so the library, is the same
for any seeds."""

import graphc as tf
from graphc.compiler.lower import lower
from graphc.ir.printer import print_program


def _lowered_with_seed(seed):
    with tf.Graph().as_default():
        return lower([tf.random_uniform([3], seed=seed)], {})


def test_programs_differing_only_in_seeds_print_the_same():
    first, second = _lowered_with_seed(1), _lowered_with_seed(2)
    assert print_program(first.program) == print_program(second.program)
    assert "seed" not in print_program(first.program)
    assert "rng @rng:random_uniform/RandomUniform: i64[3]" in print_program(first.program)
    # [run count, seed, seed2]: TF 2.21 seeds an op with seed s and no graph seed (87654321, s).
    assert {name: state.tolist() for name, state in first.initial_states.items()} == {
        "rng:random_uniform/RandomUniform": [0, 87654321, 1]}
    assert second.initial_states["rng:random_uniform/RandomUniform"].tolist() == [0, 87654321, 2]

