"""A TF 1.x program switched to eager mode: ops, a variable, tf.train optimizers, GradientTape.

Runs unchanged under graphc (`import graphc as tf`) and TensorFlow (`import tensorflow.compat.v1 as tf`): the
test compares what both print (`tests/e2e/test_enable_eager.py`).
"""

import sys

import numpy as np

if len(sys.argv) > 1 and sys.argv[1] == "tensorflow":
    import tensorflow.compat.v1 as tf
else:
    import graphc as tf

tf.enable_eager_execution()
print("eager", tf.executing_eagerly())
x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
print("matmul", tf.matmul(x, x).numpy().tolist())
print("reduce_prod", float(tf.reduce_prod(x)), "cumsum", tf.cumsum(x, axis=1).numpy().tolist())
print("softmax", np.round(tf.nn.softmax(x).numpy().astype(float), 5).tolist())
for make in (lambda: tf.train.GradientDescentOptimizer(0.05), lambda: tf.train.MomentumOptimizer(0.05, 0.9),
             lambda: tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True), lambda: tf.train.AdamOptimizer(0.1),
             lambda: tf.train.AdagradOptimizer(0.1), lambda: tf.train.RMSPropOptimizer(0.01),
             lambda: tf.train.RMSPropOptimizer(0.01, momentum=0.5, centered=True)):
    w = tf.Variable(np.array([[1.0], [-0.5]], np.float32))
    step = tf.Variable(0, dtype=tf.int64)
    optimizer = make()
    for _ in range(3):
        optimizer.minimize(lambda: tf.reduce_sum(tf.square(tf.matmul(x, w) - 1.0)), global_step=step)
    print(type(optimizer).__name__, np.round(w.numpy().ravel().astype(float), 4).tolist(), int(step.numpy()))
w = tf.Variable(np.ones((2, 1), np.float32))
with tf.GradientTape() as tape:
    y = tf.reduce_sum(tf.nn.relu(tf.matmul(x, w)))
grads = tape.gradient(y, [w])
tf.train.GradientDescentOptimizer(0.5).apply_gradients(zip(grads, [w]))
print("tape", grads[0].numpy().ravel().tolist(), w.numpy().ravel().tolist())
tf.assign_add(w, tf.ones((2, 1)))
print("assign_add", w.numpy().ravel().tolist())
try:
    tf.placeholder(tf.float32, [None])
except RuntimeError as e:
    print("RuntimeError", e)
