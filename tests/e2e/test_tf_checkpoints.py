"""Checkpoints in TensorFlow's format, both ways: TF-written files restore into graphc, graphc's into TF.

The first part needs no TensorFlow: it reads the checkpoint TensorFlow 2.21
wrote into tests/data/tf_checkpoint (see make_checkpoint.py there; expected.npz
holds TF's values and logits), checks that graphc writes the same bytes, and
damages copies of it. The last part asks TensorFlow itself (skipped, naming the
`[tf-oracle]` extra, when it is not installed): TF trains the tutorial MLP and
saves, graphc restores it and trains on, TF restores graphc's checkpoint.
"""

import filecmp
import json
import os
import pathlib
import shutil

import numpy as np
import pytest

import graphc as tf
from graphc.datasets import mnist
from graphc.tools import cli
from tests.tf_oracle import run_tensorflow

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "tf_checkpoint"
PREFIX = "dnn.ckpt-30"
DATA_FILE = PREFIX + ".data-00000-of-00001"
N_INPUTS, HIDDEN, N_OUTPUTS = 40, (40, 10, 10), 3


def expected_values() -> dict:
    with np.load(DATA / "expected.npz") as npz:
        return {key[len("variable:"):]: npz[key] for key in npz.files if key.startswith("variable:")}


def build_dnn(hidden=HIDDEN):
    """Seed 003's DNN at make_checkpoint.py's sizes: (X, y, logits, training_op)."""
    X = tf.placeholder(tf.float32, shape=(None, N_INPUTS), name="X")
    y = tf.placeholder(tf.int32, shape=(None), name="y")
    with tf.name_scope("dnn"):
        layer = X
        for number, units in enumerate(hidden, 1):
            layer = tf.layers.dense(layer, units, activation=tf.nn.relu, name=f"hidden{number}")
        logits = tf.layers.dense(layer, N_OUTPUTS, name="outputs")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    training_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    return X, y, logits, training_op


@pytest.fixture
def copied(tmp_path):
    """A copy of the TF-written checkpoint directory, to damage: the prefix."""
    for name in ("checkpoint", PREFIX + ".index", DATA_FILE):
        shutil.copy(DATA / name, tmp_path / name)
    return str(tmp_path / PREFIX)


# -- TensorFlow's files, read and written without TensorFlow -----------------------------------


def test_state_file_list_variables_and_load_variable_of_a_tf_checkpoint():
    expected = expected_values()
    assert tf.train.latest_checkpoint(str(DATA)) == str(DATA / PREFIX)
    assert tf.train.get_checkpoint_state(str(DATA)).all_model_checkpoint_paths == [str(DATA / PREFIX)]
    listed = [(name, list(expected[name].shape)) for name in sorted(expected)]
    assert tf.train.list_variables(str(DATA)) == listed
    assert tf.train.list_variables(str(DATA / PREFIX)) == listed
    for name, value in expected.items():
        loaded = tf.train.load_variable(str(DATA), name)
        assert loaded.dtype == value.dtype and loaded.shape == value.shape, name
        np.testing.assert_array_equal(loaded, value, err_msg=name)
    np.testing.assert_array_equal(tf.train.load_variable(str(DATA), "hidden1/bias:0"), expected["hidden1/bias"])


def test_new_checkpoint_reader_of_a_tf_checkpoint():
    expected = expected_values()
    reader = tf.train.NewCheckpointReader(str(DATA / PREFIX))
    assert reader.get_variable_to_shape_map() == {name: list(value.shape) for name, value in expected.items()}
    assert reader.has_tensor("global_step") and not reader.has_tensor("nope")
    assert reader.get_tensor("global_step") == 30
    np.testing.assert_array_equal(tf.train.load_checkpoint(str(DATA)).get_tensor("extras/flags"), [True, False, True])


def test_inspect_checkpoint_reads_a_tf_checkpoint(capsys):
    assert cli.main(["inspect-checkpoint", str(DATA / (PREFIX + ".index")), "--values"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{DATA / PREFIX}.index: 12 tensors, checksums verified"
    rows = {line.split()[0]: line.split(None, 3)[1:] for line in lines[1:]}
    assert rows["extras/counts"] == ["int32", "[3]", "values [-1,  2,  7]"]
    assert rows["global_step"] == ["int64", "[]", "values [30]"]


# TF 2.21 gives these classes and texts (tensorflow.compat.v1.train.load_variable, list_variables).
def test_list_and_load_errors_as_tf(tmp_path):
    with pytest.raises(tf.errors.NotFoundError, match="Key nope not found in checkpoint"):
        tf.train.load_variable(str(DATA), "nope")
    with pytest.raises(ValueError, match=f"Couldn't find 'checkpoint' file or checkpoints in given directory {tmp_path}"):
        tf.train.list_variables(str(tmp_path))
    with pytest.raises(tf.errors.NotFoundError, match="Failed to find any matching files for .*absent"):
        tf.train.list_variables(str(tmp_path / "absent"))


def test_graphc_writes_byte_for_byte_what_tensorflow_wrote(tmp_path):
    expected = expected_values()
    variables = [tf.Variable(value, name=name) for name, value in expected.items()]
    assert [v.op.name for v in variables] == list(expected)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        prefix = tf.train.Saver().save(sess, str(tmp_path / "dnn.ckpt"), global_step=30)
    for suffix in (".index", ".data-00000-of-00001"):
        assert filecmp.cmp(prefix + suffix, DATA / (PREFIX + suffix), shallow=False), suffix


def test_restored_tf_model_computes_tfs_logits():
    expected = expected_values()
    with np.load(DATA / "expected.npz") as npz:
        x_test, logits_test = npz["x_test"], npz["logits_test"]
    X, _, logits, _ = build_dnn()
    with tf.Session() as sess:
        tf.train.Saver(tf.trainable_variables()).restore(sess, tf.train.latest_checkpoint(str(DATA)))
        for v in tf.trainable_variables():
            np.testing.assert_array_equal(sess.run(v), expected[v.op.name])
        np.testing.assert_allclose(sess.run(logits, {X: x_test}), logits_test, rtol=1e-5, atol=1e-6)


def test_seed_003_reuses_layers_of_a_tf_checkpoint_through_restore_saver(tmp_path, monkeypatch):
    """Seed 003's DNN-reuse program, its pretrained model being the one TensorFlow wrote."""
    expected = expected_values()
    for name in ("checkpoint", PREFIX + ".index", DATA_FILE):
        shutil.copy(DATA / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    rng = np.random.RandomState(0)
    X_train, y_train = rng.rand(50, N_INPUTS).astype(np.float32), rng.randint(0, N_OUTPUTS, 50)
    X, y, _, training_op = build_dnn(HIDDEN + (20,))  # hidden4 is new
    reuse_vars = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="hidden[123]")
    restore_saver = tf.train.Saver(reuse_vars)
    init = tf.global_variables_initializer()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        init.run()
        restore_saver.restore(sess, "./" + PREFIX)
        for v in reuse_vars:
            np.testing.assert_array_equal(sess.run(v), expected[v.op.name])
        sess.run(training_op, feed_dict={X: X_train, y: y_train})
        save_path = saver.save(sess, "./my_new_model_final.ckpt")
    assert save_path == "./my_new_model_final.ckpt"
    assert ("hidden4/kernel", [10, 20]) in tf.train.list_variables(save_path)


# -- sharded checkpoints: one data file per device ---------------------------------------------

# make_checkpoint.py's SHARDED: name -> (device, value).
SHARDED = {"a": ("/cpu:0", np.arange(6, dtype=np.float32).reshape(2, 3)), "c": ("/cpu:0", np.int64(7)),
           "b": ("/cpu:1", np.array([1.5, -2.0])), "layer/d": ("/cpu:1", np.array([True, False]))}
SHARDED_FILES = ("sharded.ckpt.index", "sharded.ckpt.data-00000-of-00002", "sharded.ckpt.data-00001-of-00002")


def sharded_variables(values=True):
    """SHARDED's variables on their devices, initialised to its values (or to zeros)."""
    variables = []
    for name, (device, value) in SHARDED.items():
        with tf.device(device):
            variables.append(tf.Variable(value if values else np.zeros_like(value), name=name))
    return variables


def two_cpus():
    return tf.Session(config=tf.ConfigProto(device_count={"CPU": 2}))


def test_a_sharded_tf_checkpoint_restores():
    variables = sharded_variables(values=False)
    assert tf.train.list_variables(str(DATA / "sharded.ckpt")) == [("a", [2, 3]), ("b", [2]), ("c", []),
                                                                    ("layer/d", [2])]
    with two_cpus() as sess:
        sess.run(tf.global_variables_initializer())
        tf.train.Saver().restore(sess, str(DATA / "sharded.ckpt"))
        for variable, (_, value) in zip(variables, SHARDED.values()):
            np.testing.assert_array_equal(sess.run(variable), value)


def test_sharded_saver_writes_byte_for_byte_what_tensorflow_wrote(tmp_path):
    sharded_variables()
    saver = tf.train.Saver(sharded=True, max_to_keep=1)
    with two_cpus() as sess:
        sess.run(tf.global_variables_initializer())
        prefix = saver.save(sess, str(tmp_path / "sharded.ckpt"), write_meta_graph=False)
        for name in SHARDED_FILES:
            assert filecmp.cmp(tmp_path / name, DATA / name, shallow=False), name
        saver.save(sess, prefix, global_step=1, write_meta_graph=False)
    # max_to_keep deletes every shard of the older checkpoint.
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "sharded.ckpt-1.data-00000-of-00002",
                                            "sharded.ckpt-1.data-00001-of-00002", "sharded.ckpt-1.index"]


def test_resaving_a_prefix_with_another_shard_count_removes_the_old_shards(tmp_path):
    variables = sharded_variables()
    with two_cpus() as sess:
        sess.run(tf.global_variables_initializer())
        prefix = tf.train.Saver(sharded=True).save(sess, str(tmp_path / "m"), write_meta_graph=False)
        tf.train.Saver().save(sess, prefix, write_meta_graph=False)
        assert sorted(os.listdir(tmp_path)) == ["checkpoint", "m.data-00000-of-00001", "m.index"]
        sess.run(variables[0].assign(np.zeros((2, 3), np.float32)))
        tf.train.Saver().restore(sess, prefix)
        np.testing.assert_array_equal(sess.run(variables[0]), SHARDED["a"][1])
    with pytest.raises(ValueError, match="Sharded checkpoints are written in TensorFlow's format only"):
        tf.train.Saver(sharded=True, checkpoint_format="safetensors")


def test_a_missing_shard_is_data_loss_naming_it(tmp_path):
    for name in SHARDED_FILES[:2]:
        shutil.copy(DATA / name, tmp_path / name)
    sharded_variables()
    with two_cpus() as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.raises(tf.errors.DataLossError, match="sharded.ckpt.data-00001-of-00002 is missing"):
            tf.train.Saver().restore(sess, str(tmp_path / "sharded.ckpt"))


# -- damaged checkpoints -----------------------------------------------------------------------


def flip_byte(path, offset):
    data = bytearray(open(path, "rb").read())
    data[offset] ^= 0x20
    with open(path, "wb") as file:
        file.write(data)


def truncate(path, length):
    with open(path, "r+b") as file:
        file.truncate(length)


DAMAGES = {
    "data byte flipped": (lambda prefix: flip_byte(prefix + ".data-00000-of-00001", 100),
                          "dnn.ckpt-30.data-00000-of-00001 is damaged: tensor 'hidden1/bias' fails its CRC-32C"),
    "data truncated": (lambda prefix: truncate(prefix + ".data-00000-of-00001", 8000),
                       "dnn.ckpt-30.data-00000-of-00001 is truncated: it has 8000 bytes, tensor 'outputs/kernel' "
                       "ends at byte 8803"),
    "data shard missing": (lambda prefix: os.remove(prefix + ".data-00000-of-00001"),
                           "its data file .*dnn.ckpt-30.data-00000-of-00001 is missing \\(it holds tensor "
                           "'outputs/kernel'\\)"),
    "index byte flipped": (lambda prefix: flip_byte(prefix + ".index", 50),
                           "dnn.ckpt-30.index is damaged: the data block at byte 0 fails its CRC-32C checksum"),
    "index truncated": (lambda prefix: truncate(prefix + ".index", 400),
                        "dnn.ckpt-30.index is damaged: its footer lacks the table magic number"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_tf_checkpoint_is_data_loss_naming_file_and_tensor_and_restores_nothing(copied, damage):
    make_damage, message = DAMAGES[damage]
    make_damage(copied)
    build_dnn()
    variables = tf.global_variables()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(variables)
        with pytest.raises(tf.errors.DataLossError, match=message):
            tf.train.Saver().restore(sess, copied)
        for variable, value in zip(variables, before):
            np.testing.assert_array_equal(sess.run(variable), value)


# -- round trips through TensorFlow itself -------------------------------------------------------

# The tutorial MLP (mnist.py's inference with fully_connected_feed's sizes), trained by TensorFlow or
# graphc alike: `tf` is either module.
TUTORIAL_MLP = """
def inference(tf, images):
    import math
    layer, width = images, 784
    for scope, units in (("hidden1", 128), ("hidden2", 32)):
        with tf.name_scope(scope):
            weights = tf.Variable(tf.truncated_normal([width, units], stddev=1.0 / math.sqrt(float(width))),
                                  name="weights")
            biases = tf.Variable(tf.zeros([units]), name="biases")
            layer, width = tf.nn.relu(tf.matmul(layer, weights) + biases), units
    with tf.name_scope("softmax_linear"):
        weights = tf.Variable(tf.truncated_normal([width, 10], stddev=1.0 / math.sqrt(float(width))), name="weights")
        biases = tf.Variable(tf.zeros([10]), name="biases")
        return tf.matmul(layer, weights) + biases


OPTIMIZERS = {"sgd": "GradientDescentOptimizer(0.01)", "adam": "AdamOptimizer(0.001)"}  # Adam: slots too


def model(tf, optimizer):
    images = tf.placeholder(tf.float32, (None, 784), name="images")
    labels = tf.placeholder(tf.int32, (None,), name="labels")
    logits = inference(tf, images)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    global_step = tf.Variable(0, name="global_step", trainable=False)
    train_op = eval("tf.train." + OPTIMIZERS[optimizer]).minimize(loss, global_step=global_step)
    correct = tf.reduce_sum(tf.cast(tf.nn.in_top_k(logits, labels, 1), tf.int32))
    return images, labels, logits, train_op, correct, global_step


def train(sess, graph, data, steps):
    images, labels, _, train_op, _, _ = graph
    for step in range(steps):
        start = step * 100 % len(data["train_images"])
        sess.run(train_op, {images: data["train_images"][start:start + 100],
                            labels: data["train_labels"][start:start + 100]})


def evaluate(sess, graph, data):
    images, labels, logits, _, correct, _ = graph
    feed = {images: data["test_images"], labels: data["test_labels"]}
    return sess.run(logits, feed), int(sess.run(correct, feed))
"""

# "train": TF trains each model 300 steps and saves it in tf-OPTIMIZER. "restore": TF restores graphc's
# checkpoint of each (graphc-OPTIMIZER), and also trains its own 100 steps on, as graphc did.
TENSORFLOW_SIDE = TUTORIAL_MLP + """
import json, sys
import numpy as np
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
work, mode = sys.argv[1], sys.argv[2]
data = dict(np.load(work + "/data.npz"))
answers = {}
for optimizer in OPTIMIZERS:
    tf.reset_default_graph()
    tf.set_random_seed(1)
    graph = model(tf, optimizer)
    saver = tf.train.Saver()
    with tf.Session() as sess:
        if mode == "train":
            sess.run(tf.global_variables_initializer())
            train(sess, graph, data, 300)
            saver.save(sess, work + "/tf-" + optimizer + "/model.ckpt", global_step=graph[-1])
        else:
            saver.restore(sess, tf.train.latest_checkpoint(work + "/graphc-" + optimizer))
        logits, answers[optimizer] = evaluate(sess, graph, data)
        np.save(work + "/tf_logits_" + mode + "_" + optimizer + ".npy", logits)
        if mode == "restore":
            saver.restore(sess, tf.train.latest_checkpoint(work + "/tf-" + optimizer))
            train(sess, graph, data, 100)
            np.save(work + "/tf_logits_trained_on_" + optimizer + ".npy", evaluate(sess, graph, data)[0])
print(json.dumps(answers))
"""


def tutorial_functions() -> dict:
    namespace = {}
    exec(TUTORIAL_MLP, namespace)  # the same model code TensorFlow's side runs
    return namespace


def test_tf_trains_graphc_restores_and_trains_on_tf_restores_graphcs_numbers(tmp_path):
    (train_images, train_labels), (test_images, test_labels) = mnist.load_data()
    data = {"train_images": train_images[:3000].reshape(-1, 784).astype(np.float32) / 255,
            "train_labels": train_labels[:3000].astype(np.int32),
            "test_images": test_images[:1000].reshape(-1, 784).astype(np.float32) / 255,
            "test_labels": test_labels[:1000].astype(np.int32)}
    np.savez(tmp_path / "data.npz", **data)
    tf_correct = json.loads(run_tensorflow(TENSORFLOW_SIDE, str(tmp_path), "train").splitlines()[-1])
    assert sorted(os.listdir(tmp_path / "tf-sgd")) == ["checkpoint", "model.ckpt-300.data-00000-of-00001",
                                                       "model.ckpt-300.index", "model.ckpt-300.meta"]
    # Of the 1,000 test images (chance: 100), after 300 of the tutorial's 2,000 steps.
    assert min(tf_correct.values()) > 500, tf_correct

    functions = tutorial_functions()
    graphc_correct = {}
    for optimizer in functions["OPTIMIZERS"]:
        tf.reset_default_graph()
        graph = functions["model"](tf, optimizer)
        saver = tf.train.Saver()
        assert len(tf.global_variables()) == (7 if optimizer == "sgd" else 7 + 12 + 2)  # Adam's slots, powers
        with tf.Session() as sess:
            saver.restore(sess, tf.train.latest_checkpoint(str(tmp_path / f"tf-{optimizer}")))
            assert sess.run(graph[-1]) == 300
            logits, correct = functions["evaluate"](sess, graph, data)
            assert correct == tf_correct[optimizer], optimizer
            np.testing.assert_allclose(logits, np.load(tmp_path / f"tf_logits_train_{optimizer}.npy"),
                                       rtol=1e-4, atol=1e-4, err_msg=optimizer)
            functions["train"](sess, graph, data, 100)
            graphc_logits, graphc_correct[optimizer] = functions["evaluate"](sess, graph, data)
            prefix = saver.save(sess, str(tmp_path / f"graphc-{optimizer}" / "model.ckpt"), global_step=graph[-1])
            assert prefix.endswith("-400")
            np.save(tmp_path / f"graphc_logits_{optimizer}.npy", graphc_logits)

    tf_restored_correct = json.loads(run_tensorflow(TENSORFLOW_SIDE, str(tmp_path), "restore").splitlines()[-1])
    assert tf_restored_correct == graphc_correct
    for optimizer in graphc_correct:
        graphc_logits = np.load(tmp_path / f"graphc_logits_{optimizer}.npy")
        np.testing.assert_allclose(np.load(tmp_path / f"tf_logits_restore_{optimizer}.npy"), graphc_logits,
                                   rtol=1e-4, atol=1e-4, err_msg=optimizer)
        # Training on from TF's checkpoint, graphc went where TF goes: the optimizer's state was restored.
        np.testing.assert_allclose(np.load(tmp_path / f"tf_logits_trained_on_{optimizer}.npy"), graphc_logits,
                                   rtol=1e-3, atol=1e-3, err_msg=optimizer)
