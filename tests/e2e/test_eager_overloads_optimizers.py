"""Eager `==`/`!=` (TF2: elementwise), the one operator table of the tensor-like types, the eager step
cache's bound, and Keras's momentum and centered RMSprop / momentum SGD against TF2's numbers.

TF 2.21's answers are pinned; with TensorFlow installed, the same code runs under TF to check the pins.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc.v2 as tf
from graphc.eager.context import context
from graphc.eager.tensor import EagerTensor
from graphc.eager.variables import EagerVariable
from graphc.frontend import operators
from graphc.frontend.graph import Tensor
from graphc.ops.variables import Variable
from tests import tf_oracle

OPTIMIZER_CASES = """
import numpy as np
CONFIGS = [("SGD", dict(momentum=0.9)), ("SGD", dict(momentum=0.9, nesterov=True)),
           ("RMSprop", dict(momentum=0.5)), ("RMSprop", dict(centered=True)),
           ("RMSprop", dict(momentum=0.5, centered=True)), ("RMSprop", {})]
for name, kwargs in CONFIGS:
    opt = getattr(tf.keras.optimizers, name)(learning_rate=0.01, **kwargs)
    v = tf.Variable([1.0, -2.0])
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(v * v * v)
        opt.apply_gradients(zip([tape.gradient(loss, v)], [v]))
    print(name, sorted(kwargs.items()), [round(float(x), 5) for x in v.numpy()])
"""

TF_OPTIMIZER_OUTPUT = """\
SGD [('momentum', 0.9)] [0.83996, -2.74887]
SGD [('momentum', 0.9), ('nesterov', True)] [0.78159, -3.20399]
RMSprop [('momentum', 0.5)] [0.89346, -2.11011]
RMSprop [('centered', True)] [0.92073, -2.08229]
RMSprop [('centered', True), ('momentum', 0.5)] [0.88392, -2.12046]
RMSprop [] [0.92788, -2.07456]
"""


def test_momentum_and_centered_optimizers_match_tf2(capsys):
    exec(OPTIMIZER_CASES, {"tf": tf})  # noqa: S102 - the same source TF runs below
    assert capsys.readouterr().out == TF_OPTIMIZER_OUTPUT


def test_tf2_prints_the_pinned_optimizer_numbers():
    assert tf_oracle.run_tensorflow("import tensorflow as tf\n" + OPTIMIZER_CASES) == TF_OPTIMIZER_OUTPUT


def test_equality_is_elementwise_as_in_tf2():
    a, b = tf.constant([1, 2, 3]), tf.constant([1, 5, 3])
    assert (a == b).numpy().tolist() == [True, False, True]
    assert (a != b).numpy().tolist() == [False, True, False]
    assert (a == 2).numpy().tolist() == [False, True, False]
    assert (a == None) is False and (a != None) is True  # noqa: E711 - TF2's answer to None
    unequal = a == tf.constant([1, 2])  # shapes that do not broadcast: a scalar False tensor, as TF2
    assert unequal.shape.as_list() == [] and not bool(unequal)
    v = tf.Variable([1.0, 2.0])
    assert (v == [1.0, 3.0]).numpy().tolist() == [True, False]
    assert (v != [1.0, 3.0]).numpy().tolist() == [False, True]
    assert a in [a] and len({a, b}) == 2  # still hashable by identity (TF2's tensors are not)


@pytest.mark.parametrize("cls", [Variable, EagerTensor, EagerVariable])
def test_tensor_like_types_take_every_operator_of_the_table(cls):
    for spelling in operators.SPELLINGS:
        assert hasattr(Tensor, spelling), spelling
        assert spelling in vars(cls), f"{cls.__name__} lacks {spelling}"


def test_eager_operators_compute_what_numpy_does():
    x, y = np.array([[1.5, -2.0], [3.0, 4.0]], np.float32), np.array([[2.0, 3.0], [-1.0, 0.5]], np.float32)
    a, v = tf.constant(x), tf.Variable(y)
    cases = {"add": (a + v, x + y), "rsub": (1.0 - a, 1.0 - x), "mul": (v * a, x * y), "truediv": (a / v, x / y),
             "floordiv": (a // v, x // y), "mod": (a % v, np.mod(x, y)), "pow": (v ** 2, y ** 2),
             "matmul": (a @ v, x @ y), "rmatmul": (y @ a, y @ x), "neg": (-v, -y), "abs": (abs(a), np.abs(x)),
             "lt": (a < v, x < y), "getitem": (v[1], y[1]), "and": ((a > 0) & (v > 0), (x > 0) & (y > 0)),
             "invert": (~(a > 0), ~(x > 0))}
    for name, (got, expected) in cases.items():
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6, err_msg=name)


def test_the_eager_step_cache_keeps_the_most_recently_run_steps_loaded():
    session = context().session
    saved, session._max_loaded_steps = session._max_loaded_steps, 2
    try:
        for n in (1, 2, 3, 4, 2):  # each length is a step of its own
            assert float(tf.reduce_sum(tf.constant(np.ones(n, np.float32)) * 2.0)) == 2.0 * n
        assert session.loaded_steps == 2
        before = session.compilations
        float(tf.reduce_sum(tf.constant(np.ones(2, np.float32)) * 2.0))  # kept: runs without compiling
        assert session.compilations == before
        float(tf.reduce_sum(tf.constant(np.ones(1, np.float32)) * 2.0))  # unloaded: compiled again
        assert session.compilations == before + 1 and session.loaded_steps == 2
    finally:
        session._max_loaded_steps = saved
