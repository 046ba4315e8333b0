"""`tf.print` in eager code, inside a tf.function (each call prints, in order) and to stderr by default.

Runs unchanged under graphc (`import graphc.v2 as tf`) and TensorFlow 2 (argument `tensorflow`): the test
compares what both print (`tests/e2e/test_print.py`).
"""

import sys

import numpy as np

if len(sys.argv) > 1 and sys.argv[1] == "tensorflow":
    import tensorflow as tf
else:
    import graphc.v2 as tf

out = sys.stdout
tf.print(tf.constant([1, 2, 3]), output_stream=out)
tf.print(tf.constant([[1., 2.5], [3., 4.]]), output_stream=out)
tf.print("loss:", tf.constant(0.123456789), 7, output_stream=out)
tf.print(tf.constant(np.arange(10, dtype=np.int32)), output_stream=out)
tf.print(tf.reshape(tf.constant(np.arange(100, dtype=np.float32)), [10, 10]), output_stream=out)
tf.print(tf.constant(np.arange(10, dtype=np.int32)), summarize=-1, output_stream=out)
tf.print(tf.constant(1e-8), tf.constant(123456789.0), tf.constant(True), tf.constant([True, False]), output_stream=out)
tf.print({"a": tf.constant([1, 2])}, [tf.constant(1.5), "s"], (tf.Variable([0.5, -1.0]),), output_stream=out)
tf.print("a", "b", sep="-", end="!\n", output_stream=out)
tf.print(tf.constant(2.0, tf.float64) / 3, tf.constant(2.0) / 3, tf.constant(float("nan")), tf.constant(-np.inf),
         output_stream=out)


@tf.function
def f(x):
    tf.print("in f", x, output_stream=out)
    y = x * 2
    tf.print("y", y, output_stream=out)
    return y


print("r", f(tf.constant([1, 2])).numpy())
print("r", f(tf.constant([3, 4])).numpy())
with tf.GradientTape() as tape:
    w = tf.Variable(3.0)
    loss = w * w
    tf.print("loss", loss, output_stream=out)
tf.print("grad", tape.gradient(loss, w), output_stream=out)
tf.print("to stderr")
