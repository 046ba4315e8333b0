"""The TF1 tutorial CNN on MNIST fed through tf.data, unmodified but for `import graphc as tf`.

The network and training of mnist_cnn.py (28x28x1 -> conv 3x3x32 s1 SAME relu ->
conv 3x3x64 s2 SAME relu -> max-pool 2/2 -> dense 64 relu -> dense 10; Adam
1e-3, shuffled batches of 100), its input a one-shot iterator over
`Dataset.from_tensor_slices((X, y)).shuffle(...).batch(100).repeat()`: each
training step takes the next batch inside `sess.run(training_op)`, no feed_dict.
The test set is evaluated by feeding the iterator's tensors, as TF1 allows for
any tensor. `--epochs` (default 1) says how many epochs; `--steps` stops
earlier (a short run).
"""
import argparse

import numpy as np

import graphc as tf

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--steps", type=int, default=None, help="stop after this many training steps")
args = parser.parse_args()


def reset_graph(seed=args.seed):
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    np.random.seed(seed)


height = 28
width = 28
channels = 1
n_inputs = height * width

conv1_fmaps = 32
conv1_ksize = 3
conv1_stride = 1
conv1_pad = "SAME"

conv2_fmaps = 64
conv2_ksize = 3
conv2_stride = 2
conv2_pad = "SAME"

pool3_fmaps = 64

n_fc1 = 64
n_outputs = 10

(X_train, y_train), (X_test, y_test) = tf.keras.datasets.mnist.load_data()
X_train = X_train.astype(np.float32).reshape(-1, 28 * 28) / 255.0
X_test = X_test.astype(np.float32).reshape(-1, 28 * 28) / 255.0
y_train = y_train.astype(np.int32)
y_test = y_test.astype(np.int32)
X_valid, X_train = X_train[:5000], X_train[5000:]
y_valid, y_train = y_train[:5000], y_train[5000:]

n_epochs = args.epochs
batch_size = 100

reset_graph()
with tf.name_scope("inputs"):
    dataset = tf.data.Dataset.from_tensor_slices((X_train, y_train))
    dataset = dataset.shuffle(buffer_size=len(X_train)).batch(batch_size).repeat()
    X, y = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
    X_reshaped = tf.reshape(X, shape=[-1, height, width, channels])

conv1 = tf.layers.conv2d(X_reshaped, filters=conv1_fmaps, kernel_size=conv1_ksize,
                         strides=conv1_stride, padding=conv1_pad,
                         activation=tf.nn.relu, name="conv1")
conv2 = tf.layers.conv2d(conv1, filters=conv2_fmaps, kernel_size=conv2_ksize,
                         strides=conv2_stride, padding=conv2_pad,
                         activation=tf.nn.relu, name="conv2")
with tf.name_scope("pool3"):
    pool3 = tf.nn.max_pool(conv2, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    pool3_flat = tf.reshape(pool3, shape=[-1, pool3_fmaps * 7 * 7])

with tf.name_scope("fc1"):
    fc1 = tf.layers.dense(pool3_flat, n_fc1, activation=tf.nn.relu, name="fc1")

with tf.name_scope("output"):
    logits = tf.layers.dense(fc1, n_outputs, name="output")
    Y_proba = tf.nn.softmax(logits, name="Y_proba")

with tf.name_scope("train"):
    xentropy = tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=y)
    loss = tf.reduce_mean(xentropy)
    optimizer = tf.train.AdamOptimizer()
    training_op = optimizer.minimize(loss)

with tf.name_scope("eval"):
    correct = tf.nn.in_top_k(logits, y, 1)
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))

with tf.name_scope("init_and_save"):
    init = tf.global_variables_initializer()
    saver = tf.train.Saver()

n_batches = len(X_train) // batch_size
steps = 0
with tf.Session() as sess:
    init.run()
    for epoch in range(n_epochs):
        for iteration in range(n_batches):
            _, acc_batch = sess.run([training_op, accuracy])
            steps += 1
            if steps == args.steps:
                break
        acc_test = accuracy.eval(feed_dict={X: X_test, y: y_test})
        print(epoch, "Last batch accuracy:", acc_batch, "Test accuracy:", acc_test)
        if steps == args.steps:
            break
