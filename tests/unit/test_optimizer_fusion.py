"""Each variable's optimizer update fuses into one kernel: the one computing its gradient."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler.lower import lower
from graphc.passes.pipeline import run_pipeline
from tests.helpers import feed_types

OPTIMIZERS = {
    "momentum": lambda lr: tf.train.MomentumOptimizer(lr, 0.9, use_nesterov=True),
    "adam": lambda lr: tf.train.AdamOptimizer(lr),
    "rmsprop": lambda lr: tf.train.RMSPropOptimizer(lr, momentum=0.9, centered=True),
    "adagrad": lambda lr: tf.train.AdagradOptimizer(lr),
    "sgd": lambda lr: tf.train.GradientDescentOptimizer(lr),
}


def fused_training_step(make_optimizer, decayed_learning_rate):
    x = tf.placeholder(tf.float32, [8, 4], name="x")
    y = tf.placeholder(tf.float32, [8, 3], name="y")
    w = tf.Variable(np.zeros((4, 3), np.float32), name="w")
    b = tf.Variable(np.zeros(3, np.float32), name="b")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    global_step = tf.train.get_or_create_global_step()
    learning_rate = 0.1
    if decayed_learning_rate:
        learning_rate = tf.train.exponential_decay(0.1, global_step, 10, 0.5, staircase=True)
    train_op = make_optimizer(learning_rate).minimize(loss, global_step=global_step)
    feeds = {x: np.zeros((8, 4)), y: np.zeros((8, 3))}
    step = lower([train_op, loss], feed_types(feeds), frozenset(v.op.name for v in tf.global_variables()))
    return run_pipeline(step.program)


@pytest.mark.parametrize("decayed_learning_rate", [False, True])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_update_of_each_variable_is_one_kernel(name, decayed_learning_rate):
    program = fused_training_step(OPTIMIZERS[name], decayed_learning_rate)
    kernel_of_write = {inst.operands[0].name: inst.kernel for inst in program.instructions if inst.op == "write"}
    for var, anchor in (("w", "matmul"), ("b", "reduce_sum")):
        kernels = {k for v, k in kernel_of_write.items() if v == var or v.startswith(var + "/")}
        assert len(kernels) == 1, f"{name}: the writes of {var} and its slots are in kernels {kernels}"
        (kernel,) = kernels
        assert anchor in [inst.op for inst in program.instructions if inst.kernel == kernel]
        assert program.kernels[kernel] == ("gemm" if anchor == "matmul" else "reduce")
