"""A bidirectional LSTM over MNIST rows with tf.contrib.rnn, unmodified TF1 but for `import graphc as tf`.

As the classic TF1 example (aymericdamien's TensorFlow-Examples): each image is 28 steps of 28 pixels,
unstacked into a list for static_bidirectional_rnn, a forward and a backward BasicLSTMCell of 64 units,
the last step's two outputs concatenated through a linear layer to 10 logits; Adam (1e-3), batches of
128. Prints the minibatch loss and accuracy every `--display_step` steps, then the test accuracy.
"""
import argparse

import numpy as np

import graphc as tf
from graphc.contrib import rnn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--training_steps", type=int, default=1000)
parser.add_argument("--display_step", type=int, default=200)
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()

tf.set_random_seed(args.seed)
np.random.seed(args.seed)

learning_rate = 0.001
batch_size = 128
num_input = 28
timesteps = 28
num_hidden = 64
num_classes = 10

X = tf.placeholder("float", [None, timesteps, num_input])
Y = tf.placeholder("float", [None, num_classes])

weights = {"out": tf.Variable(tf.random_normal([2 * num_hidden, num_classes]))}
biases = {"out": tf.Variable(tf.random_normal([num_classes]))}


def BiRNN(x, weights, biases):
    x = tf.unstack(x, timesteps, 1)
    lstm_fw_cell = rnn.BasicLSTMCell(num_hidden, forget_bias=1.0)
    lstm_bw_cell = rnn.BasicLSTMCell(num_hidden, forget_bias=1.0)
    outputs, _, _ = rnn.static_bidirectional_rnn(lstm_fw_cell, lstm_bw_cell, x, dtype=tf.float32)
    return tf.matmul(outputs[-1], weights["out"]) + biases["out"]


logits = BiRNN(X, weights, biases)
prediction = tf.nn.softmax(logits)
loss_op = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=Y))
optimizer = tf.train.AdamOptimizer(learning_rate=learning_rate)
train_op = optimizer.minimize(loss_op)
correct_pred = tf.equal(tf.argmax(prediction, 1), tf.argmax(Y, 1))
accuracy = tf.reduce_mean(tf.cast(correct_pred, tf.float32))
init = tf.global_variables_initializer()

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train = x_train.astype(np.float32).reshape(-1, timesteps, num_input) / 255.0
x_test = x_test.astype(np.float32).reshape(-1, timesteps, num_input) / 255.0
y_train_hot = np.eye(num_classes, dtype=np.float32)[y_train]
y_test_hot = np.eye(num_classes, dtype=np.float32)[y_test]

with tf.Session() as sess:
    sess.run(init)
    for step in range(1, args.training_steps + 1):
        batch = np.random.randint(0, len(x_train), batch_size)
        batch_x, batch_y = x_train[batch], y_train_hot[batch]
        sess.run(train_op, feed_dict={X: batch_x, Y: batch_y})
        if step % args.display_step == 0 or step == 1:
            loss, acc = sess.run([loss_op, accuracy], feed_dict={X: batch_x, Y: batch_y})
            print(f"Step {step}, Minibatch Loss= {loss:.4f}, Training Accuracy= {acc:.3f}")
    print("Optimization Finished!")
    print("Testing Accuracy:", sess.run(accuracy, feed_dict={X: x_test[:2000], Y: y_test_hot[:2000]}))
