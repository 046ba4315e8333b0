"""Run under mpirun by tests/e2e/test_data_parallel.py: asynchronous workers (graphc.distribute) on a loss
whose gradient is a constant, so whatever the interleaving the final shared parameters are known exactly
if no push is lost: w0 - lr * g * (total steps) for SGD, each worker's own velocity sums for momentum.
`python async_updates.py OUT [kill]` saves rank<r>.npz; with `kill`, rank 1 is killed mid-training."""

import os
import signal
import sys
from pathlib import Path

import numpy as np

import graphc as tf
import graphc.distribute
import graphc.horovod as hvd

STEPS = 40  # per worker; rank r runs STEPS + 10 r, so the workers finish at different times
GRADIENT = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]], np.float32)


def train(make_optimizer, kill: bool):
    with tf.Graph().as_default():
        w = tf.Variable(tf.ones([2, 3]), name="w")
        b = tf.Variable(tf.zeros([3]), name="b")
        loss = tf.reduce_sum(w * GRADIENT) + tf.reduce_sum(b)
        optimizer = graphc.distribute.AsyncOptimizer(make_optimizer())
        train_op = optimizer.minimize(loss)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            with optimizer.join(session) as worker:
                for step in range(STEPS + 10 * hvd.rank()):
                    if kill and hvd.rank() == 1 and step == 5:
                        os.kill(os.getpid(), signal.SIGKILL)
                    worker.run(train_op)
            return session.run([w, b])


def main(out: Path, kill: bool):
    hvd.init()
    sgd = train(lambda: tf.train.GradientDescentOptimizer(0.01), kill)
    momentum = train(lambda: tf.train.MomentumOptimizer(0.01, 0.9), kill)
    np.savez(out / f"rank{hvd.rank()}.npz", sgd_w=sgd[0], sgd_b=sgd[1], momentum_w=momentum[0],
             momentum_b=momentum[1], size=hvd.size())


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:] == ["kill"])
