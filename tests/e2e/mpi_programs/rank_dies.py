"""Run under mpirun by tests/e2e/test_data_parallel.py: rank 1 is killed (SIGKILL) in the middle of
synchronous training, or with `stall` stops answering (sleeps); the others must stop with an error, not
hang in their next allreduce."""

import os
import signal
import sys
import time

import numpy as np

import graphc as tf
import graphc.horovod as hvd

hvd.init()
x = tf.placeholder(tf.float32, [4, 3])
w = tf.Variable(tf.ones([3, 2]))
loss = tf.reduce_sum(tf.square(tf.matmul(x, w)))
train_op = hvd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.01)).minimize(loss)
with tf.Session() as session:
    session.run(tf.global_variables_initializer())
    for step in range(1000):
        if step == 3 and hvd.rank() == 1:
            if sys.argv[1:] == ["stall"]:
                time.sleep(3600)
            os.kill(os.getpid(), signal.SIGKILL)
        session.run(train_op, {x: np.ones((4, 3), np.float32)})
print(f"rank {hvd.rank()} finished 1000 steps without its peer", flush=True)
