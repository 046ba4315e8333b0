"""The TF1 tutorial CNN on MNIST (examples/mnist_cnn.py), data parallel with Horovod's API on graphc.

    mpirun -np 2 python examples/mnist_horovod.py      (or: graphc run -np 2 examples/mnist_horovod.py)

The four Horovod lines: `hvd.init()`, the optimizer wrapped in
`hvd.DistributedOptimizer` with its learning rate scaled by the number of
ranks, `hvd.broadcast_global_variables(0)` after initialising, and each rank
training on its own shard of the data (so an epoch takes 1/size of the steps).
Rank 0 prints the accuracies. Adam (1e-3 x size), batches of 100 per rank.
`--steps N` stops each epoch after N steps (for a quick run).
"""
import argparse

import numpy as np

import graphc as tf
import graphc.horovod as hvd

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--steps", type=int, default=None, help="at most this many steps per epoch")
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()

hvd.init()
tf.set_random_seed(args.seed)
np.random.seed(args.seed + hvd.rank())  # each rank shuffles its shard its own way

with tf.name_scope("inputs"):
    X = tf.placeholder(tf.float32, shape=[None, 28 * 28], name="X")
    X_reshaped = tf.reshape(X, shape=[-1, 28, 28, 1])
    y = tf.placeholder(tf.int32, shape=[None], name="y")

conv1 = tf.layers.conv2d(X_reshaped, filters=32, kernel_size=3, strides=1, padding="SAME",
                         activation=tf.nn.relu, name="conv1")
conv2 = tf.layers.conv2d(conv1, filters=64, kernel_size=3, strides=2, padding="SAME",
                         activation=tf.nn.relu, name="conv2")
with tf.name_scope("pool3"):
    pool3 = tf.nn.max_pool(conv2, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    pool3_flat = tf.reshape(pool3, shape=[-1, 64 * 7 * 7])
with tf.name_scope("fc1"):
    fc1 = tf.layers.dense(pool3_flat, 64, activation=tf.nn.relu, name="fc1")
with tf.name_scope("output"):
    logits = tf.layers.dense(fc1, 10, name="output")

with tf.name_scope("train"):
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=y))
    optimizer = hvd.DistributedOptimizer(tf.train.AdamOptimizer(1e-3 * hvd.size()))
    training_op = optimizer.minimize(loss)

with tf.name_scope("eval"):
    accuracy = tf.reduce_mean(tf.cast(tf.nn.in_top_k(logits, y, 1), tf.float32))

init = tf.global_variables_initializer()
broadcast = hvd.broadcast_global_variables(0)

(X_train, y_train), (X_test, y_test) = tf.keras.datasets.mnist.load_data()
X_train = X_train.astype(np.float32).reshape(-1, 28 * 28)[5000:] / 255.0
y_train = y_train.astype(np.int32)[5000:]
X_test = X_test.astype(np.float32).reshape(-1, 28 * 28) / 255.0
y_test = y_test.astype(np.int32)
X_shard, y_shard = X_train[hvd.rank()::hvd.size()], y_train[hvd.rank()::hvd.size()]

batch_size = 100
with tf.Session() as sess:
    sess.run(init)
    sess.run(broadcast)  # every rank starts from rank 0's weights
    for epoch in range(args.epochs):
        order = np.random.permutation(len(X_shard))
        batches = np.array_split(order, len(X_shard) // batch_size)[:args.steps]
        for indices in batches:
            sess.run(training_op, feed_dict={X: X_shard[indices], y: y_shard[indices]})
        if hvd.rank() == 0:
            acc_batch = accuracy.eval(feed_dict={X: X_shard[indices], y: y_shard[indices]})
            acc_test = accuracy.eval(feed_dict={X: X_test, y: y_test})
            print(epoch, "Last batch accuracy:", acc_batch, "Test accuracy:", acc_test, flush=True)
    weights = sess.run(tf.trainable_variables())
    print(f"rank {hvd.rank()} of {hvd.size()}: weight checksum {sum(float(np.sum(w)) for w in weights):.9g}",
          flush=True)
