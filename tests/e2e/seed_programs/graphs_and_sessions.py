"""The snippets of seed document 004 (graphs, op names, sessions, ConfigProto, tf.device, placeholders,
shapes, variables and scopes) as one TF1 program: unmodified but for the import line.

Usage: python graphs_and_sessions.py LOGDIR (where the FileWriter writes the graph).
"""

import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # the write-up's "turn off the warnings"
import graphc as tf  # noqa: E402 - the one line a TF1 program changes

# The graph: ops and tensors, named as TF names them.
a = tf.constant(5.0)
b = tf.constant(6.0)
sum_ = tf.add(a, b)
print(a)
print(b)
print(sum_)
print(a.graph is tf.get_default_graph(), b.graph is sum_.graph)

g = tf.Graph()
with g.as_default():
    c = tf.constant(30.0)
    assert c.graph is g
print(c, c.graph is g, c.graph is not a.graph)

answer = tf.constant(42.0, name="answer")
answer_1 = tf.constant(42.0, name="answer")
print(answer.name, answer_1.name)

# A session that logs where each op runs, and an op asked for on a GPU the machine does not have.
with tf.device("GPU:0"):
    sum_ma = tf.add(a, b, name="sum_ma")
print(sum_ma.device, sum_ma.op.device)
plt = tf.placeholder(tf.float32, [None, 3])
sess = tf.Session(config=tf.ConfigProto(allow_soft_placement=True, log_device_placement=True))
print(sess.graph is tf.get_default_graph())
print(sess.run([sum_, sum_ma, a, b, plt], feed_dict={plt: [[1, 2, 3], [4, 5, 6]]}))
sys.stdout.flush()
file_writer = tf.summary.FileWriter(sys.argv[1], graph=sess.graph)
file_writer.close()
sess.close()

# Without soft placement the GPU op cannot run.
with tf.Session(config=tf.ConfigProto(allow_soft_placement=False)) as strict:
    try:
        strict.run(sum_ma)
    except tf.errors.InvalidArgumentError as e:
        print("InvalidArgumentError:", [line for line in str(e).splitlines() if "Cannot assign" in line][0])

# Shapes: cast, reshape, set_shape.
x = tf.placeholder(tf.float32, [None, None])
x.set_shape([2, 3])
print(x.shape, tf.reshape(x, [3, 2]).shape, tf.cast(x, tf.int32).dtype.name)
try:
    x.set_shape([3, 2])
except ValueError as e:
    print("ValueError")

# Variables, assign, scopes and sharing.
v = tf.Variable(1.0, name="v")
update = tf.assign_add(v, 2.0)
with tf.variable_scope("my_scope1") as scope:
    var1 = tf.get_variable("var1", shape=[2], initializer=tf.zeros_initializer())
    scope.reuse_variables()
    var1_again = tf.get_variable("var1")
with tf.variable_scope("name", reuse=tf.AUTO_REUSE):
    var2 = tf.get_variable(initializer=tf.random_normal([2, 3], mean=0.0, stddev=1.0), name="var2")
with tf.variable_scope("name", reuse=tf.AUTO_REUSE):
    var2_again = tf.get_variable(initializer=tf.random_normal([2, 3], mean=0.0, stddev=1.0), name="var2")
print(var1.name, var1_again is var1, var2.name, var2_again is var2)
with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as sess:
    print(sess.run(tf.report_uninitialized_variables()))
    sess.run(tf.global_variables_initializer())
    print(sess.run(update), sess.run(tf.assign(v, 10.0)), sess.run(var2).shape)
