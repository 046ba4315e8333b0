"""Compiled gradient graphs agree with the reference interpreter (which agrees with finite differences)."""

import numpy as np
import pytest

import graphc as tf
from tests.gradient_cases import CASES, build
from tests.helpers import interpret_graph


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_compiled_gradient_matches_reference(case):
    placeholders, loss = build(case)
    grads = tf.gradients(loss, placeholders)
    feeds = dict(zip(placeholders, case[2]))
    compiled = tf.Session().run(grads, feeds)
    for c, r in zip(compiled, interpret_graph(grads, feeds)):
        np.testing.assert_allclose(c, r, rtol=1e-9, atol=1e-12, err_msg=case[0])
