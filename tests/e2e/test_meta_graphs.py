"""`.meta` MetaGraphDefs both ways: TensorFlow's files imported into graphc, graphc's imported by TensorFlow.

The first part needs no TensorFlow: it imports the MetaGraphDefs TensorFlow
2.21 wrote into tests/data/tf_checkpoint (make_checkpoint.py there), restores
TF's checkpoint through the returned Saver and compares with the logits TF
computed (expected.npz); it round-trips graphc's own files and damages copies.
The last part asks TensorFlow itself (skipped, naming the `[tf-oracle]` extra,
when it is not installed).
"""

import json
import logging
import os
import pathlib
import shutil

import numpy as np
import pytest

import graphc as tf
from graphc.core.protos import protos
from tests.tf_oracle import run_tensorflow

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "tf_checkpoint"
PREFIX = str(DATA / "dnn.ckpt-30")


def expected():
    return dict(np.load(DATA / "expected.npz"))


def graph_size() -> int:
    return len(tf.get_default_graph().get_operations())


# -- TensorFlow's files, without TensorFlow ------------------------------------------------------


def test_tf_written_eval_graph_imports_restores_and_computes_tfs_logits():
    values = expected()
    saver = tf.train.import_meta_graph(str(DATA / "dnn_eval.meta"))
    layers = [f"{layer}/{kind}" for layer in ("hidden1", "hidden2", "hidden3", "outputs") for kind in ("kernel", "bias")]
    extras = ["extras/counts", "extras/scale", "extras/flags"]
    assert [v.op.name for v in tf.trainable_variables()] == layers + extras
    assert len(tf.global_variables()) == 12 and tf.train.get_global_step().op.name == "global_step"
    logits = tf.get_collection("logits")
    assert [t.name for t in logits] == ["dnn/add_3:0"]
    with tf.Session() as sess:
        saver.restore(sess, PREFIX)
        for variable in tf.global_variables():
            np.testing.assert_array_equal(sess.run(variable), values["variable:" + variable.op.name])
        np.testing.assert_allclose(sess.run(logits[0], {"X:0": values["x_test"]}), values["logits_test"],
                                   rtol=1e-5, atol=1e-6)
        # The imported initializers run too: the Variables are whole.
        sess.run(tf.global_variables_initializer())
        assert sess.run("extras/scale:0") == 0.25 and sess.run("global_step:0") == 0


def test_tf_written_training_graph_trains_on_as_tf_does():
    # TF's gradients of Mean and of the cross-entropy use Tile and ZerosLike (graphc has them).
    values = expected()
    saver = tf.train.import_meta_graph(PREFIX + ".meta")
    with tf.Session() as sess:
        saver.restore(sess, PREFIX)
        sess.run(tf.get_collection(tf.GraphKeys.TRAIN_OP)[0], {"X:0": values["x_train"], "y:0": values["y_train"]})
        np.testing.assert_allclose(sess.run(tf.get_collection("logits")[0], {"X:0": values["x_test"]}),
                                   values["logits_test_after_step"], rtol=1e-4, atol=1e-5)


def test_unknown_op_types_are_listed_in_one_error_and_nothing_is_imported():
    meta = protos().meta_graph_pb2.MetaGraphDef()
    meta.graph_def.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
    meta.graph_def.node.add(name="s", op="Svd", input=["x"])
    meta.graph_def.node.add(name="q", op="Qr", input=["x"])
    tf.constant(1.0, name="before")
    with pytest.raises(tf.errors.UnimplementedError, match="graphc has no op for these op types: Qr, Svd$"):
        tf.train.import_meta_graph(meta)
    assert [op.name for op in tf.get_default_graph().get_operations()] == ["before"]


@pytest.mark.parametrize("damage", ["truncated", "byte flipped", "not a proto", "dangling input"])
def test_damaged_meta_is_data_loss_naming_the_file_and_leaves_the_graph_as_it_was(tmp_path, damage):
    path = tmp_path / "damaged.meta"
    data = bytearray((DATA / "dnn_eval.meta").read_bytes())
    if damage == "truncated":
        data = data[:5000]
    elif damage == "byte flipped":
        data[10] ^= 0xFF  # inside the first node's length: the rest no longer parses
    elif damage == "not a proto":
        data = b"\xff\xfe garbage { node"
    else:
        meta = protos().meta_graph_pb2.MetaGraphDef()
        meta.ParseFromString(bytes(data))
        next(node for node in meta.graph_def.node if node.name == "dnn/add_3").input.append("nowhere")
        data = meta.SerializeToString()
    path.write_bytes(bytes(data))
    tf.constant(1.0, name="before")
    with pytest.raises(tf.errors.DataLossError, match=f"{path}.* damaged"):
        tf.train.import_meta_graph(str(path))
    assert [op.name for op in tf.get_default_graph().get_operations()] == ["before"]
    assert tf.global_variables() == []


def test_a_missing_meta_file_is_an_os_error_as_in_tf(tmp_path):
    with pytest.raises(OSError, match="File .*absent.meta does not exist."):
        tf.train.import_meta_graph(str(tmp_path / "absent.meta"))


# -- graphc's own files ----------------------------------------------------------------------------


def build_model():
    """A small classifier with every kind of collection: (x, y, logits, train_op, global_step)."""
    x = tf.placeholder(tf.float32, (None, 4), name="x")
    y = tf.placeholder(tf.int32, (None,), name="y")
    hidden = tf.layers.dense(x, 8, activation=tf.nn.relu, name="hidden")
    logits = tf.layers.dense(hidden, 3, name="logits")
    loss = tf.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
    tf.summary.scalar("loss", loss)
    global_step = tf.train.get_or_create_global_step()
    train_op = tf.train.AdamOptimizer(0.01).minimize(loss, global_step=global_step)
    tf.add_to_collection(tf.GraphKeys.TRAIN_OP, train_op)
    tf.add_to_collection("logits", logits)
    for value in (3, 4):
        tf.add_to_collection("numbers", value)
    tf.add_to_collection("words", "hello")
    return x, y, logits, train_op, global_step


def batch():
    rng = np.random.RandomState(5)
    return rng.rand(6, 4).astype(np.float32), rng.randint(0, 3, 6).astype(np.int32)


def test_graphc_meta_round_trip_restores_graph_collections_and_training(tmp_path):
    x_value, y_value = batch()
    x, y, logits, train_op, global_step = build_model()
    saver = tf.train.Saver(max_to_keep=3)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train_op, {x: x_value, y: y_value})
        prefix = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=global_step)
        sess.run(train_op, {x: x_value, y: y_value})
        expected_logits = sess.run(logits, {x: x_value})
    names = {key: [getattr(item, "name", item) for item in tf.get_collection(key)]
             for key in tf.get_default_graph().get_all_collection_keys()}
    assert os.path.isfile(prefix + ".meta")

    tf.reset_default_graph()
    restored_saver = tf.train.import_meta_graph(prefix + ".meta")
    assert {key: [getattr(item, "name", item) for item in tf.get_collection(key)]
            for key in tf.get_default_graph().get_all_collection_keys()} == dict(names, words=[b"hello"])
    assert len(tf.trainable_variables()) == 4 and all(isinstance(v, tf.Variable) for v in tf.global_variables())
    with tf.Session() as sess:
        restored_saver.restore(sess, prefix)
        assert sess.run(tf.train.get_global_step()) == 1
        sess.run(tf.get_collection(tf.GraphKeys.TRAIN_OP)[0], {"x:0": x_value, "y:0": y_value})
        np.testing.assert_allclose(sess.run(tf.get_collection("logits")[0], {"x:0": x_value}), expected_logits,
                                   rtol=1e-6, atol=1e-6)
        assert sess.run(tf.get_collection(tf.GraphKeys.SUMMARIES)[0], {"x:0": x_value, "y:0": y_value})
        # New ops are named around the imported ones, as after TF's import.
        assert tf.constant(0.0, name="hidden").op.name == "hidden_1"


def test_import_scope_prefixes_every_name():
    build_model()
    meta = tf.train.export_meta_graph()
    tf.reset_default_graph()
    tf.train.import_meta_graph(meta, import_scope="copy")
    assert all(op.name.startswith("copy/") for op in tf.get_default_graph().get_operations())
    assert tf.get_collection("logits")[0].name == "copy/logits/BiasAdd:0"


def test_export_meta_graph_as_text_and_write_graph(tmp_path):
    build_model()
    meta = tf.train.export_meta_graph(str(tmp_path / "graph.meta.txt"), as_text=True)
    assert meta.collection_def["numbers"].int64_list.value == [3, 4]
    assert (tmp_path / "graph.meta.txt").read_text().startswith("meta_info_def {")
    tf.reset_default_graph()
    tf.train.import_meta_graph(str(tmp_path / "graph.meta.txt"))
    assert len(tf.trainable_variables()) == 4
    path = tf.train.write_graph(tf.get_default_graph(), str(tmp_path / "new"), "graph.pbtxt")
    assert path == str(tmp_path / "new" / "graph.pbtxt") and 'op: "MatMul"' in open(path).read()
    binary = tf.io.write_graph(tf.get_default_graph().as_graph_def(), str(tmp_path), "graph.pb", as_text=False)
    graph_def = protos().graph_pb2.GraphDef()
    graph_def.ParseFromString(open(binary, "rb").read())
    assert graph_def == tf.get_default_graph().as_graph_def()


def test_saver_writes_no_meta_for_a_graph_tf_cannot_import_and_says_so(tmp_path, caplog):
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(a.initialized_value() * 2, name="b")  # graphc's InitializedValue: no TF op
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with caplog.at_level(logging.WARNING):
            prefix = tf.train.Saver().save(sess, str(tmp_path / "m"))
    assert "No meta graph written to" in caplog.text and "InitializedValue" in caplog.text
    assert not os.path.exists(prefix + ".meta") and tf.train.list_variables(prefix) == [("a", []), ("b", [])]
    with pytest.raises(ValueError, match="TensorFlow has no op for these graphc op types.*: InitializedValue"):
        tf.train.export_meta_graph()
    del b


def test_max_to_keep_deletes_meta_files_too(tmp_path):
    v = tf.Variable(0, name="v")
    saver = tf.train.Saver(max_to_keep=1)
    with tf.Session() as sess:
        sess.run(v.initializer)
        for step in (1, 2):
            saver.save(sess, str(tmp_path / "m"), global_step=step)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "m-2.data-00000-of-00001", "m-2.index", "m-2.meta"]
    assert not any(name.startswith("m-1") for name in os.listdir(tmp_path))


# -- both ways through TensorFlow itself -------------------------------------------------------------

# TF's side. "import": imports graphc's .meta, restores graphc's checkpoint, computes the logits and trains 10
# steps through the imported train_op. "export": writes the tutorial MLP's eval graph (no optimizer) and the
# checkpoint of a model it trained.
TENSORFLOW_SIDE = """
import json, math, sys
import numpy as np
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
work, mode = sys.argv[1], sys.argv[2]
data = dict(np.load(work + "/data.npz"))
if mode == "import":
    saver = tf.train.import_meta_graph(work + "/graphc/model.ckpt-50.meta")
    with tf.Session() as sess:
        saver.restore(sess, work + "/graphc/model.ckpt-50")
        logits = tf.get_collection("logits")[0]
        np.save(work + "/tf_logits.npy", sess.run(logits, {"images:0": data["images"]}))
        for _ in range(10):
            sess.run(tf.get_collection("train_op")[0], {"images:0": data["images"], "labels:0": data["labels"]})
        np.save(work + "/tf_logits_trained.npy", sess.run(logits, {"images:0": data["images"]}))
        summary = tf.Summary.FromString(sess.run(tf.get_collection("merged")[0], {"images:0": data["images"]}))
        print(json.dumps([int(sess.run("global_step:0")), [value.tag for value in summary.value]]))
else:
    exec(open(work + "/model.py").read())
    tf.set_random_seed(2)
    images, labels, logits, train_op, global_step = model(tf)
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(20):
            sess.run(train_op, {images: data["images"], labels: data["labels"]})
        saver.save(sess, work + "/tf/model.ckpt", global_step=global_step, write_meta_graph=False)
        np.save(work + "/tf_logits.npy", sess.run(logits, {images: data["images"]}))
    tf.reset_default_graph()
    images, labels, logits, _, _ = model(tf, train=False)
    tf.add_to_collection("logits", logits)
    tf.train.Saver().export_meta_graph(work + "/tf/eval.meta")
    print(json.dumps(0))
"""

MODEL = """
def model(tf, train=True):
    images = tf.placeholder(tf.float32, (None, 784), name="images")
    labels = tf.placeholder(tf.int32, (None,), name="labels")
    layer, width = images, 784
    for scope, units in (("hidden1", 32), ("hidden2", 16), ("softmax_linear", 10)):
        with tf.name_scope(scope):
            weights = tf.Variable(tf.truncated_normal([width, units], stddev=1.0 / math.sqrt(width)), name="weights")
            biases = tf.Variable(tf.zeros([units]), name="biases")
            layer, width = tf.matmul(layer, weights) + biases, units
            if scope != "softmax_linear":
                layer = tf.nn.relu(layer)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=layer))
    global_step = tf.Variable(0, name="global_step", trainable=False)
    train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=global_step) if train else None
    return images, labels, layer, train_op, global_step
"""


def tutorial_data(tmp_path):
    rng = np.random.RandomState(7)
    data = {"images": rng.rand(64, 784).astype(np.float32), "labels": rng.randint(0, 10, 64).astype(np.int32)}
    np.savez(tmp_path / "data.npz", **data)
    (tmp_path / "model.py").write_text("import math\n" + MODEL)
    return data


def test_tensorflow_imports_graphcs_meta_and_gets_graphcs_numbers(tmp_path):
    data = tutorial_data(tmp_path)
    namespace = {}
    exec("import math\n" + MODEL, namespace)
    images, labels, logits, train_op, global_step = namespace["model"](tf)
    tf.add_to_collection("logits", logits)
    tf.add_to_collection(tf.GraphKeys.TRAIN_OP, train_op)
    tf.summary.histogram("logits", logits)
    tf.summary.text("note", tf.constant("graphc"))
    tf.add_to_collection("merged", tf.summary.merge_all())
    feed = {images: data["images"], labels: data["labels"]}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(50):
            sess.run(train_op, feed)
        tf.train.Saver().save(sess, str(tmp_path / "graphc" / "model.ckpt"), global_step=global_step)
        graphc_logits = sess.run(logits, feed)
        for _ in range(10):
            sess.run(train_op, feed)
        graphc_trained = sess.run(logits, feed)
    step, tags = json.loads(run_tensorflow(TENSORFLOW_SIDE, str(tmp_path), "import").splitlines()[-1])
    assert step == 60 and tags == ["logits", "note"]  # TF runs graphc's summary ops too
    np.testing.assert_allclose(np.load(tmp_path / "tf_logits.npy"), graphc_logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "tf_logits_trained.npy"), graphc_trained, rtol=1e-4, atol=1e-4)


def test_graphc_imports_tensorflows_meta_and_gets_tensorflows_numbers(tmp_path):
    data = tutorial_data(tmp_path)
    run_tensorflow(TENSORFLOW_SIDE, str(tmp_path), "export")
    saver = tf.train.import_meta_graph(str(tmp_path / "tf" / "eval.meta"))
    with tf.Session() as sess:
        saver.restore(sess, tf.train.latest_checkpoint(str(tmp_path / "tf")))
        assert sess.run("global_step:0") == 20
        np.testing.assert_allclose(sess.run(tf.get_collection("logits")[0], {"images:0": data["images"]}),
                                   np.load(tmp_path / "tf_logits.npy"), rtol=1e-5, atol=1e-5)


def test_seed_003s_chapter_reuses_a_tf_model_through_import_meta_graph(tmp_path, monkeypatch):
    """The import_meta_graph variant of seed 003's DNN reuse (the same chapter of its book): the pretrained
    model's graph and variables come from TensorFlow's files, new layers go on top of its hidden3."""
    for name in ("dnn_eval.meta", "dnn.ckpt-30.index", "dnn.ckpt-30.data-00000-of-00001"):
        shutil.copy(DATA / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    values = expected()
    saver = tf.train.import_meta_graph("./dnn_eval.meta")
    X = tf.get_default_graph().get_tensor_by_name("X:0")
    y = tf.get_default_graph().get_tensor_by_name("y:0")
    hidden3 = tf.get_default_graph().get_tensor_by_name("dnn/Relu_2:0")
    new_hidden4 = tf.layers.dense(hidden3, 20, activation=tf.nn.relu, name="new_hidden4")
    new_logits = tf.layers.dense(new_hidden4, 3, name="new_outputs")
    with tf.name_scope("new_loss"):
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=new_logits))
    with tf.name_scope("new_train"):
        training_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    init = tf.global_variables_initializer()
    new_saver = tf.train.Saver()
    feed = {X: values["x_train"], y: values["y_train"]}
    with tf.Session() as sess:
        init.run()
        saver.restore(sess, "./dnn.ckpt-30")
        np.testing.assert_array_equal(sess.run("hidden1/kernel:0"), values["variable:hidden1/kernel"])
        np.testing.assert_allclose(sess.run("dnn/add_3:0", {X: values["x_test"]}), values["logits_test"],
                                   rtol=1e-5, atol=1e-6)
        losses = []
        for _ in range(20):
            losses.append(sess.run(loss, feed))
            sess.run(training_op, feed)
        assert losses[-1] < losses[0]
        save_path = new_saver.save(sess, "./my_new_model_final.ckpt")
    assert ("new_hidden4/kernel", [10, 20]) in tf.train.list_variables(save_path)
    assert os.path.isfile(save_path + ".meta")


# Seed 003's CNN at a small size (convolutions, max pool, dense layers, Adam): the ops of its gradients
# (Conv2DBackpropInput/Filter, MaxPoolGrad ...) take their inputs in another order in TF than in graphc.
CNN = """
def cnn(tf):
    X = tf.placeholder(tf.float32, (None, 12, 12, 1), name="X")
    y = tf.placeholder(tf.int32, (None,), name="y")
    conv1 = tf.layers.conv2d(X, 4, 3, strides=1, padding="SAME", activation=tf.nn.relu, name="conv1")
    conv2 = tf.layers.conv2d(conv1, 8, 3, strides=2, padding="SAME", activation=tf.nn.relu, name="conv2")
    pool3 = tf.nn.max_pool(conv2, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    fc1 = tf.layers.dense(tf.reshape(pool3, [-1, 8 * 3 * 3]), 16, activation=tf.nn.tanh, name="fc1")
    logits = tf.layers.dense(fc1, 10, name="output")
    probabilities = tf.nn.softmax(logits, name="Y_proba")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=y))
    train_op = tf.train.AdamOptimizer(0.01).minimize(loss)
    tf.add_to_collection("train_op", train_op)
    tf.add_to_collection("probabilities", probabilities)
    return X, y, probabilities, train_op
"""

CNN_TENSORFLOW_SIDE = """
import sys
import numpy as np
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
work = sys.argv[1]
data = np.load(work + "/cnn.npz")
saver = tf.train.import_meta_graph(work + "/cnn/model.ckpt.meta")
with tf.Session() as sess:
    saver.restore(sess, work + "/cnn/model.ckpt")
    probabilities = tf.get_collection("probabilities")[0]
    before = sess.run(probabilities, {"X:0": data["x"]})
    for _ in range(3):
        sess.run(tf.get_collection("train_op")[0], {"X:0": data["x"], "y:0": data["y"]})
    np.savez(work + "/tf_cnn.npz", before=before, after=sess.run(probabilities, {"X:0": data["x"]}))
"""


def train_and_save_cnn(tmp_path):
    """graphc trains the CNN a step, saves (with its .meta), trains 3 more: the data and the probabilities."""
    namespace = {}
    exec(CNN, namespace)
    X, y, probabilities, train_op = namespace["cnn"](tf)
    rng = np.random.RandomState(3)
    data = {"x": rng.rand(8, 12, 12, 1).astype(np.float32), "y": rng.randint(0, 10, 8).astype(np.int32)}
    np.savez(tmp_path / "cnn.npz", **data)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train_op, {X: data["x"], y: data["y"]})
        tf.train.Saver().save(sess, str(tmp_path / "cnn" / "model.ckpt"))
        before = sess.run(probabilities, {X: data["x"]})
        for _ in range(3):
            sess.run(train_op, {X: data["x"], y: data["y"]})
        return data, before, sess.run(probabilities, {X: data["x"]})


def test_graphc_cnn_meta_round_trip_trains_on_identically(tmp_path):
    data, before, after = train_and_save_cnn(tmp_path)
    tf.reset_default_graph()
    saver = tf.train.import_meta_graph(str(tmp_path / "cnn" / "model.ckpt.meta"))
    probabilities = tf.get_collection("probabilities")[0]
    with tf.Session() as sess:
        saver.restore(sess, str(tmp_path / "cnn" / "model.ckpt"))
        np.testing.assert_array_equal(sess.run(probabilities, {"X:0": data["x"]}), before)
        for _ in range(3):
            sess.run(tf.get_collection("train_op")[0], {"X:0": data["x"], "y:0": data["y"]})
        np.testing.assert_array_equal(sess.run(probabilities, {"X:0": data["x"]}), after)


def test_tensorflow_imports_graphcs_cnn_and_trains_it_as_graphc_does(tmp_path):
    data, before, after = train_and_save_cnn(tmp_path)
    run_tensorflow(CNN_TENSORFLOW_SIDE, str(tmp_path))
    answers = np.load(tmp_path / "tf_cnn.npz")
    np.testing.assert_allclose(answers["before"], before, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(answers["after"], after, rtol=1e-4, atol=1e-5)
