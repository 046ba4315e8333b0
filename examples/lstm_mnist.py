"""The classic LSTM over MNIST rows, unmodified TF1 but for `import graphc as tf`.

Each image is a sequence of 28 rows of 28 pixels: a BasicLSTMCell of 128 units runs over them with
tf.nn.dynamic_rnn, the last state's h goes through a dense layer to 10 logits; Adam (3e-3), shuffled
batches of 100; accuracy on the last batch and on the test set after each epoch. `--epochs` (default
2) and `--steps` (stop each epoch after that many batches; 0: the whole epoch) say how long.
"""
import argparse

import numpy as np

import graphc as tf

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--steps", type=int, default=0)
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--learning_rate", type=float, default=0.003)
parser.add_argument("--batch_size", type=int, default=100)
args = parser.parse_args()

tf.reset_default_graph()
tf.set_random_seed(args.seed)
np.random.seed(args.seed)

n_steps = 28
n_inputs = 28
n_neurons = 128
n_outputs = 10
learning_rate = args.learning_rate

X = tf.placeholder(tf.float32, [None, n_steps, n_inputs])
y = tf.placeholder(tf.int32, [None])

lstm_cell = tf.nn.rnn_cell.BasicLSTMCell(num_units=n_neurons)
outputs, states = tf.nn.dynamic_rnn(lstm_cell, X, dtype=tf.float32)
logits = tf.layers.dense(states.h, n_outputs)
xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
loss = tf.reduce_mean(xentropy)
optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate)
training_op = optimizer.minimize(loss)
correct = tf.nn.in_top_k(logits, y, 1)
accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))

init = tf.global_variables_initializer()

(X_train, y_train), (X_test, y_test) = tf.keras.datasets.mnist.load_data()
X_train = X_train.astype(np.float32).reshape(-1, n_steps, n_inputs) / 255.0
X_test = X_test.astype(np.float32).reshape(-1, n_steps, n_inputs) / 255.0
y_train = y_train.astype(np.int32)
y_test = y_test.astype(np.int32)
X_valid, X_train = X_train[:5000], X_train[5000:]
y_valid, y_train = y_train[:5000], y_train[5000:]


def shuffle_batch(X, y, batch_size):
    rnd_idx = np.random.permutation(len(X))
    n_batches = len(X) // batch_size
    for batch_idx in np.array_split(rnd_idx, n_batches):
        yield X[batch_idx], y[batch_idx]


batch_size = args.batch_size

with tf.Session() as sess:
    init.run()
    for epoch in range(args.epochs):
        for step, (X_batch, y_batch) in enumerate(shuffle_batch(X_train, y_train, batch_size)):
            if args.steps and step == args.steps:
                break
            sess.run(training_op, feed_dict={X: X_batch, y: y_batch})
        acc_batch = accuracy.eval(feed_dict={X: X_batch, y: y_batch})
        acc_test = accuracy.eval(feed_dict={X: X_test, y: y_test})
        print(epoch, "Last batch accuracy:", acc_batch, "Test accuracy:", acc_test)
