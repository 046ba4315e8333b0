"""Writes the TensorFlow checkpoint beside this script, the test data of tests/e2e/test_tf_checkpoints.py.

Run with TensorFlow installed (the `[tf-oracle]` extra; these files were made by
TensorFlow 2.21's tensorflow.compat.v1):

    python tests/data/tf_checkpoint/make_checkpoint.py

TensorFlow trains a small version of seed 003's DNN (dense layers hidden1-3 and
outputs, their variables named as `tf.layers.dense` names them) for 30 SGD steps on fixed random data
and saves it, with three extra variables of other dtypes, as `dnn.ckpt-30`
(`.index`, `.data-00000-of-00001`, the `.meta` MetaGraphDef of the training
graph and the `checkpoint` state file, paths relative). `dnn_eval.meta` is the
MetaGraphDef of the same model without its optimizer (what one exports for
serving), with a Saver of the same variables and a user collection `logits`.
`expected.npz` holds every saved value, a test batch, the logits TensorFlow
computes for it, and the logits after one more training step from the
checkpoint, so that the readers are tested without TensorFlow.

`sharded.ckpt` is a checkpoint of TF's sharded Saver over two CPU devices
(`SHARDED`, its variables and their devices): `.index`,
`.data-00000-of-00002` (the variables of CPU:0) and `.data-00001-of-00002`.
"""

import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # TF's own kernels, as tests/tf_oracle.py runs them
import tensorflow.compat.v1 as tf  # noqa: E402

N_INPUTS, HIDDEN, N_OUTPUTS, STEPS = 40, (40, 10, 10), 3, 30
HERE = os.path.dirname(os.path.abspath(__file__))


def dense(inputs, units, name, activation=None):
    """`tf.layers.dense` (which TensorFlow 2.21 no longer has under Keras 3): the same variables and names."""
    with tf.variable_scope(name):
        kernel = tf.get_variable("kernel", [inputs.shape[1], units], initializer=tf.glorot_uniform_initializer())
        bias = tf.get_variable("bias", [units], initializer=tf.zeros_initializer())
    outputs = tf.matmul(inputs, kernel) + bias
    return activation(outputs) if activation else outputs


def build_model():
    """Seed 003's DNN and three extra variables: (X, y, logits, loss)."""
    X = tf.placeholder(tf.float32, shape=(None, N_INPUTS), name="X")
    y = tf.placeholder(tf.int32, shape=(None), name="y")
    with tf.name_scope("dnn"):
        hidden = X
        for number, units in enumerate(HIDDEN, 1):
            hidden = dense(hidden, units, f"hidden{number}", tf.nn.relu)
        logits = dense(hidden, N_OUTPUTS, "outputs")
    with tf.variable_scope("extras"):
        tf.Variable(np.array([-1, 2, 7], np.int32), name="counts")
        tf.Variable(np.float64(0.25), name="scale")
        tf.Variable([True, False, True], name="flags")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    tf.add_to_collection("logits", logits)
    return X, y, logits, loss


def export_eval_graph():
    """dnn_eval.meta: the model without its optimizer, as exported for serving."""
    with tf.Graph().as_default():
        build_model()
        tf.train.get_or_create_global_step()
        tf.train.Saver().export_meta_graph(os.path.join(HERE, "dnn_eval.meta"))


# The sharded checkpoint's variables: name -> (device, value).
SHARDED = {"a": ("/cpu:0", np.arange(6, dtype=np.float32).reshape(2, 3)), "c": ("/cpu:0", np.int64(7)),
           "b": ("/cpu:1", np.array([1.5, -2.0])), "layer/d": ("/cpu:1", np.array([True, False]))}


def write_sharded():
    """sharded.ckpt: TF's sharded Saver, one data file per device."""
    with tf.Graph().as_default():
        for name, (device, value) in SHARDED.items():
            with tf.device(device):
                tf.Variable(value, name=name)
        with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver(sharded=True).save(sess, os.path.join(HERE, "sharded.ckpt"), write_meta_graph=False,
                                              write_state=False)


def main():
    tf.disable_v2_behavior()
    tf.set_random_seed(3)
    rng = np.random.RandomState(3)
    x_train = rng.rand(200, N_INPUTS).astype(np.float32)
    y_train = (x_train[:, :3].argmax(axis=1)).astype(np.int32)
    x_test = rng.rand(16, N_INPUTS).astype(np.float32)

    X, y, logits, loss = build_model()
    global_step = tf.train.get_or_create_global_step()
    training_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=global_step)
    saver = tf.train.Saver(save_relative_paths=True)

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(STEPS):
            sess.run(training_op, {X: x_train, y: y_train})
        saver.save(sess, os.path.join(HERE, "dnn.ckpt"), global_step=global_step)
        values = {v.op.name: sess.run(v) for v in tf.global_variables()}
        logits_test = sess.run(logits, {X: x_test})
        sess.run(training_op, {X: x_train, y: y_train})
        np.savez(os.path.join(HERE, "expected.npz"), x_test=x_test, logits_test=logits_test, x_train=x_train,
                 y_train=y_train, logits_test_after_step=sess.run(logits, {X: x_test}),
                 **{"variable:" + name: value for name, value in values.items()})
    export_eval_graph()
    write_sharded()


if __name__ == "__main__":
    main()
