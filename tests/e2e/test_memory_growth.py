"""Running one compiled signature many times allocates nothing that stays: memory does not grow."""

import os

import numpy as np
import pytest

import graphc as tf

RUNS = 10_000


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow  # ~5 s: 11,000 training steps
def test_ten_thousand_training_steps_do_not_grow_memory():
    x = tf.placeholder(tf.float32, [None, 20])
    labels = tf.placeholder(tf.int32, [None])
    hidden = tf.nn.relu(tf.matmul(x, tf.Variable(tf.truncated_normal([20, 16], stddev=0.1, seed=1))))
    logits = tf.matmul(hidden, tf.Variable(tf.zeros([16, 4])))
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    rng = np.random.RandomState(0)
    feeds = {x: rng.uniform(-1, 1, (32, 20)).astype(np.float32), labels: rng.randint(0, 4, 32).astype(np.int32)}
    for _ in range(1000):  # warm up: compile, first allocations, NumPy's caches
        sess.run([train, loss], feeds)
    before = resident_bytes()
    for _ in range(RUNS):
        sess.run([train, loss], feeds)
    grown = resident_bytes() - before
    assert grown < 4 << 20, f"resident memory grew by {grown} bytes over {RUNS} runs"
