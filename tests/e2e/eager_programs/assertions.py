"""TF2's run-time checks eagerly and in a tf.function.

Runs unchanged under graphc (`import graphc.v2 as tf`) and TensorFlow 2 (argument `tensorflow`): the test
compares what both print (`tests/e2e/test_eager_assertions.py`).
"""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "tensorflow":
    import tensorflow as tf
else:
    import graphc.v2 as tf


def show(label, check):
    try:
        print(label, "OK", check())
    except tf.errors.InvalidArgumentError as e:
        lines = [line for line in e.message.split("\n") if "assertion failed" in line]
        print(label, type(e).__name__, repr("Condition x > 0 did not hold element-wise:" in lines[0]) if lines
              else repr(e.message))


x = tf.constant([1, 2, 3, 4])
show("equal", lambda: tf.debugging.assert_equal(x, tf.constant([1, 2, 3, 5])))
show("equal holds", lambda: tf.debugging.assert_equal(x, x))
show("equal scalar", lambda: tf.debugging.assert_equal(x, 1, summarize=2))
show("none_equal", lambda: tf.debugging.assert_none_equal(x, tf.constant([0, 2, 0, 0])))
show("less", lambda: tf.debugging.assert_less(tf.constant([1.0, 2.0]), 2.0, message="m"))
show("less_equal holds", lambda: tf.debugging.assert_less_equal(x, 4))
show("greater", lambda: tf.debugging.assert_greater(x, tf.constant([[0], [2]])))
show("greater_equal", lambda: tf.debugging.assert_greater_equal(x, 5, summarize=-1))
show("positive", lambda: tf.debugging.assert_positive(tf.constant([1.0, -2.0])))
show("negative", lambda: tf.debugging.assert_negative(x, message="neg"))
show("non_negative holds", lambda: tf.debugging.assert_non_negative(x))
show("non_positive", lambda: tf.debugging.assert_non_positive(tf.constant([[0.5, -1.0]])))
show("Assert", lambda: tf.debugging.Assert(tf.constant(False), ["hi", tf.constant([1, 2, 3, 4]), 2.5]))
show("Assert holds", lambda: tf.debugging.Assert(tf.constant(True), ["hi"]))
show("Assert summarize", lambda: tf.debugging.Assert(tf.reduce_min(x) > 3, [x], summarize=-1))


@tf.function
def doubled(v):
    tf.debugging.assert_positive(v)
    return v * 2


show("function", lambda: doubled(tf.constant([1.0, 2.0])).numpy())
show("function fails", lambda: doubled(tf.constant([1.0, -2.0])).numpy())
