"""Differential fuzzing: random graphs over every registered op, compiled vs the reference interpreter.

A bounded, deterministic number of graphs runs in `make test`; `make fuzz`
(tools/fuzz.py) runs thousands under a time budget. Every mismatch found so far
is pinned in tests/fuzz/test_fuzz_regressions.py.
"""

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import graphc as tf
from graphc.core import registry
from tests.fuzz.context import FINITE_DIFFERENCES, GRADIENTS, STATE, VALUES
from tests.fuzz.op_specs import NOT_FUZZED, SPECS
from tests.fuzz.oracle import check_graph

# Graphs per case in `make test` (each: one compile, two runs). Deterministic: derandomized.
BOUNDED = [(VALUES, tf.float32, 30), (VALUES, tf.float64, 15), (GRADIENTS, tf.float32, 20),
           (GRADIENTS, tf.float64, 12), (FINITE_DIFFERENCES, tf.float64, 20), (STATE, tf.float32, 15)]


def bounded_settings(examples: int):
    # No shrinking: each step compiles; a Mismatch prints the whole graph and its feeds instead.
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    phases=[Phase.generate], suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("mode, dtype, examples", BOUNDED, ids=[f"{m}-{d.name}" for m, d, _ in BOUNDED])
def test_random_graphs_agree_with_the_reference(mode, dtype, examples):
    @bounded_settings(examples)
    @given(st.data())
    def check(data):
        check_graph(data.draw, mode, dtype)

    check()


def test_every_registered_op_is_fuzzed_or_excused():
    names = {op.name for op in registry.all_ops()}
    missing = sorted(names - set(SPECS) - set(NOT_FUZZED))
    assert not missing, (f"ops with no fuzz spec: {missing}; add a line to SPECS in tests/fuzz/op_specs.py "
                         "(or to NOT_FUZZED, with the reason)")
    assert not (set(SPECS) | set(NOT_FUZZED)) - names, "fuzz table names ops that are not registered"
