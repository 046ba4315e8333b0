"""The TF1 tutorial MLP on MNIST (784-128-32-10, fully_connected_feed.py's network), trained asynchronously:
every rank a worker, the parameters on rank 0 in an MPI window (graphc.distribute.AsyncOptimizer).

    mpirun -np 2 python examples/mnist_async.py      (or: graphc run -np 2 examples/mnist_async.py)

Each worker trains on its own shard of the data (an epoch is 1/size of the
steps per worker, the same number of updates in all), with no barrier between
steps: it reads the current parameters, runs its compiled step, and adds its
update to the shared ones. Momentum (0.05, 0.9), batches of 100. Rank 0 prints
the test accuracy of the final shared parameters; `-np 1` is the
single-process run. `--steps N` stops each epoch after N steps.
"""
import argparse

import numpy as np

import graphc as tf
import graphc.distribute
import graphc.horovod as hvd
from graphc.examples.tutorials.mnist import mnist

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--steps", type=int, default=None, help="at most this many steps per epoch")
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()

hvd.init()
tf.set_random_seed(args.seed)
np.random.seed(args.seed + hvd.rank())

images = tf.placeholder(tf.float32, [None, mnist.IMAGE_PIXELS])
labels = tf.placeholder(tf.int32, [None])
logits = mnist.inference(images, 128, 32)
loss = mnist.loss(logits, labels)
optimizer = graphc.distribute.AsyncOptimizer(tf.train.MomentumOptimizer(0.05, 0.9))
train_op = optimizer.minimize(loss)
accuracy = tf.reduce_mean(tf.cast(tf.nn.in_top_k(logits, labels, 1), tf.float32))

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train = x_train.astype(np.float32).reshape(-1, 784)[5000:] / 255.0
y_train = y_train.astype(np.int32)[5000:]
x_test = x_test.astype(np.float32).reshape(-1, 784) / 255.0
y_test = y_test.astype(np.int32)
x_shard, y_shard = x_train[hvd.rank()::hvd.size()], y_train[hvd.rank()::hvd.size()]

batch_size = 100
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    with optimizer.join(sess) as worker:
        for epoch in range(args.epochs):
            order = np.random.permutation(len(x_shard))
            for indices in np.array_split(order, len(x_shard) // batch_size)[:args.steps]:
                _, loss_value = worker.run([train_op, loss], {images: x_shard[indices], labels: y_shard[indices]})
            print(f"rank {hvd.rank()} epoch {epoch}: {worker.steps} steps, last loss {loss_value:.4f}", flush=True)
    # The final shared parameters, on every rank.
    test_accuracy = sess.run(accuracy, {images: x_test, labels: y_test})
    print(f"rank {hvd.rank()} of {hvd.size()}: Test accuracy: {test_accuracy:.4f}", flush=True)
