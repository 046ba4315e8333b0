"""TensorFlow's own training graphs through `tf.train.import_meta_graph`: an MLP and the tutorial CNN, each with
GradientDescent and Adam `minimize` (the MLP with Momentum, RMSProp and Adagrad too), written by TF 2.21
(tensorflow.compat.v1), imported into graphc, trained three steps from TF's checkpoint; graphc's logits and
variables must be TF's after the same steps.

The graphs hold the op types of TF's gradients and optimizers that graphc's own graphs do not: Tile and
ZerosLike (the gradients of a mean and of the cross-entropy), ShapeN (Conv2D's), ApplyAdam, ApplyMomentum,
ApplyRMSProp and ApplyAdagrad. Without TensorFlow the test
skips, naming the [tf-oracle] extra; tests/e2e/test_meta_graphs.py trains TF's stored GD graph without it.
"""

import json

import numpy as np
import pytest

import graphc as tf
from tests.tf_oracle import run_tensorflow

TENSORFLOW_SIDE = """
import json, sys
import numpy as np
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
work, model, optimizer = sys.argv[1:]
tf.set_random_seed(5)
data = np.load(work + "/data.npz")
x = tf.placeholder(tf.float32, [None, 144], name="X")
y = tf.placeholder(tf.int64, [None], name="y")

def dense(inputs, units, name):
    with tf.variable_scope(name):
        w = tf.get_variable("kernel", [int(inputs.shape[1]), units],
                            initializer=tf.truncated_normal_initializer(stddev=0.1))
        b = tf.get_variable("bias", [units], initializer=tf.constant_initializer(0.1))
        return tf.matmul(inputs, w) + b

if model == "mlp":
    logits = dense(tf.nn.relu(dense(x, 32, "hidden")), 10, "out")
else:
    image = tf.reshape(x, [-1, 12, 12, 1])
    with tf.variable_scope("conv"):
        f = tf.get_variable("filter", [3, 3, 1, 8], initializer=tf.truncated_normal_initializer(stddev=0.1))
        c = tf.nn.relu(tf.nn.conv2d(image, f, [1, 1, 1, 1], "SAME") + tf.get_variable(
            "bias", [8], initializer=tf.constant_initializer(0.1)))
    p = tf.nn.max_pool(c, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    logits = dense(tf.nn.relu(dense(tf.reshape(p, [-1, 6 * 6 * 8]), 16, "fc")), 10, "out")
loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
step = tf.train.get_or_create_global_step()
chosen = {"gd": tf.train.GradientDescentOptimizer(0.5), "adam": tf.train.AdamOptimizer(0.01),
          "momentum": tf.train.MomentumOptimizer(0.1, 0.9), "rmsprop": tf.train.RMSPropOptimizer(0.01, momentum=0.5),
          "adagrad": tf.train.AdagradOptimizer(0.3)}[optimizer]
train_op = chosen.minimize(loss, global_step=step)
tf.add_to_collection("logits", logits)
tf.add_to_collection(tf.GraphKeys.TRAIN_OP, train_op)
feed = {x: data["x"], y: data["y"]}
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    tf.train.Saver().save(sess, work + "/model.ckpt")
    for _ in range(3):
        sess.run(train_op, feed)
    variables = {v.op.name: sess.run(v) for v in tf.global_variables()}
    np.savez(work + "/tf.npz", logits=sess.run(logits, feed), **{"v:" + k: v for k, v in variables.items()})
types = sorted({node.op for node in tf.get_default_graph().as_graph_def().node if not node.name.startswith("save/")})
print(json.dumps(types))
"""


UPDATE_TYPES = {"gd": "ApplyGradientDescent", "adam": "ApplyAdam", "momentum": "ApplyMomentum",
                "rmsprop": "ApplyRMSProp", "adagrad": "ApplyAdagrad"}


@pytest.mark.parametrize("model, optimizer", [("mlp", "gd"), ("mlp", "adam"), ("cnn", "gd"), ("cnn", "adam"),
                                              ("mlp", "momentum"), ("mlp", "rmsprop"), ("mlp", "adagrad")])
def test_graphc_trains_tensorflows_training_graph_as_tensorflow_does(tmp_path, model, optimizer):
    rng = np.random.RandomState(11)
    data = {"x": rng.rand(16, 144).astype(np.float32), "y": rng.randint(0, 10, 16).astype(np.int64)}
    np.savez(tmp_path / "data.npz", **data)
    types = json.loads(run_tensorflow(TENSORFLOW_SIDE, str(tmp_path), model, optimizer).splitlines()[-1])
    assert {"Tile", "ZerosLike"} <= set(types)
    assert ("ShapeN" in types) == (model == "cnn")
    assert UPDATE_TYPES[optimizer] in types
    saver = tf.train.import_meta_graph(str(tmp_path / "model.ckpt.meta"))
    expected = np.load(tmp_path / "tf.npz")
    with tf.Session() as sess:
        saver.restore(sess, str(tmp_path / "model.ckpt"))
        feed = {"X:0": data["x"], "y:0": data["y"]}
        for _ in range(3):
            sess.run(tf.get_collection(tf.GraphKeys.TRAIN_OP)[0], feed)
        np.testing.assert_allclose(sess.run(tf.get_collection("logits")[0], feed), expected["logits"],
                                   rtol=1e-4, atol=1e-5)
        variables = {v.op.name: v for v in tf.global_variables()}
        assert sorted("v:" + name for name in variables) == sorted(expected.files[1:])
        for name, variable in variables.items():
            np.testing.assert_allclose(sess.run(variable), expected["v:" + name], rtol=1e-4, atol=1e-5,
                                       err_msg=name)
