"""tf.layers.dense and tf.layers.flatten: TF1's variable names, reuse, and compiled values."""

import numpy as np
import pytest

import graphc as tf


def variable_names():
    return [v.op.name for v in tf.global_variables()]


def test_unnamed_dense_layers_are_uniqued_as_in_tf1():
    x = tf.placeholder(tf.float32, [None, 5], name="x")
    hidden = tf.layers.dense(x, 4, activation=tf.nn.relu)
    logits = tf.layers.dense(hidden, 2)
    assert variable_names() == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    assert [v.op.name for v in tf.trainable_variables()] == variable_names()
    assert hidden.op.name == "dense/Relu" and logits.op.name == "dense_1/BiasAdd"
    assert logits.shape.as_list() == [None, 2]


def test_named_dense_layer_is_shared_with_reuse_and_refused_without():
    x = tf.placeholder(tf.float32, [None, 5], name="x")
    first = tf.layers.dense(x, 3, name="fc")
    second = tf.layers.dense(x, 3, name="fc", reuse=True)
    assert variable_names() == ["fc/kernel", "fc/bias"]
    assert first.op.name == "fc/BiasAdd" and second.op.name == "fc_1/BiasAdd"
    with pytest.raises(ValueError, match="Variable fc/kernel already exists"):
        tf.layers.dense(x, 3, name="fc")


def test_enclosing_reusing_scope_shares_unnamed_layers():
    x = tf.placeholder(tf.float32, [None, 5], name="x")
    for reuse in (None, True):
        with tf.variable_scope("model", reuse=reuse):
            tf.layers.dense(tf.layers.dense(x, 4), 2)
    assert variable_names() == ["model/dense/kernel", "model/dense/bias", "model/dense_1/kernel",
                                "model/dense_1/bias"]
    with tf.variable_scope("model", reuse=tf.AUTO_REUSE):
        tf.layers.dense(x, 4)
    assert len(variable_names()) == 4


def test_dense_layer_object_reuses_its_variables_when_called_again():
    layer = tf.layers.Dense(3, use_bias=False, name="proj")
    a = tf.placeholder(tf.float32, [None, 2])
    layer(a)
    layer(a * 2.0)
    assert variable_names() == ["proj/kernel"] and layer.kernel.op.name == "proj/kernel" and layer.bias is None
    assert layer.trainable_weights == [layer.kernel]


def test_dense_and_flatten_compute_what_numpy_does():
    images = tf.placeholder(tf.float32, [None, 2, 3], name="images")
    flat = tf.layers.flatten(images)
    kernel_init = tf.constant_initializer(np.arange(18, dtype=np.float32).reshape(6, 3) / 10)
    out = tf.layers.dense(flat, 3, activation=tf.tanh, kernel_initializer=kernel_init,
                          bias_initializer=tf.constant_initializer([0.5, -0.5, 0.0]))
    per_position = tf.layers.dense(images, 4, name="positionwise")
    assert flat.shape.as_list() == [None, 6] and per_position.shape.as_list() == [None, 2, 4]
    data = np.random.RandomState(0).rand(4, 2, 3).astype(np.float32)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    got, got_positionwise, kernel = sess.run([out, per_position, "positionwise/kernel:0"], {images: data})
    expected = np.tanh(data.reshape(4, 6) @ (np.arange(18).reshape(6, 3) / 10) + [0.5, -0.5, 0.0])
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(got_positionwise, data @ kernel, rtol=1e-5)


def test_default_kernel_initializer_is_glorot_uniform():
    x = tf.placeholder(tf.float32, [None, 30])
    tf.layers.dense(x, 20)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    kernel, bias = sess.run(tf.global_variables())
    limit = np.sqrt(6 / (30 + 20))
    assert np.all(np.abs(kernel) <= limit) and np.abs(kernel).max() > 0.8 * limit
    assert not bias.any()


def test_dense_needs_a_known_last_dimension():
    with pytest.raises(ValueError, match="last dimension of the inputs to `Dense` should be defined"):
        tf.layers.dense(tf.placeholder(tf.float32, [None, None]), 3)
    with pytest.raises(ValueError, match="expected min_ndim=2"):
        tf.layers.dense(tf.placeholder(tf.float32, [3]), 3)


def test_kernel_regularizer_loss_joins_the_collection():
    x = tf.placeholder(tf.float32, [None, 2])
    tf.layers.dense(x, 3, kernel_regularizer=lambda w: 0.1 * tf.nn.l2_loss(w))
    (loss,) = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert loss.op.name.startswith("dense/kernel/Regularizer/")


def test_seed_dnn_reuses_layers_from_a_checkpoint(tmp_path):
    # The seed's transfer-learning DNN: dense layers named hidden1..3 under name_scope("dnn"),
    # restored by a Saver over the collection filtered by the regex "hidden[123]".
    def build(sizes):
        x = tf.placeholder(tf.float32, shape=(None, 8), name="X")
        y = tf.placeholder(tf.int32, shape=(None), name="y")
        with tf.name_scope("dnn"):
            hidden = x
            for i, size in enumerate(sizes, 1):
                hidden = tf.layers.dense(hidden, size, activation=tf.nn.relu, name=f"hidden{i}")
            logits = tf.layers.dense(hidden, 3, name="outputs")
        with tf.name_scope("loss"):
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        return x, y, logits, loss

    rng = np.random.RandomState(0)
    data = {"X": rng.rand(16, 8).astype(np.float32), "y": rng.randint(0, 3, 16)}
    x, y, logits, loss = build([6, 5, 4])
    assert logits.op.name == "dnn/outputs/BiasAdd"
    with tf.name_scope("train"):
        training_op = tf.train.AdamOptimizer(0.01).minimize(loss)
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(training_op, {x: data["X"], y: data["y"]})
        trained = {v.op.name: sess.run(v) for v in tf.trainable_variables()}
        saver.save(sess, str(tmp_path / "model.ckpt"))

    tf.reset_default_graph()
    x, y, logits, loss = build([6, 5, 4, 7])
    with tf.name_scope("train"):
        training_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    reuse_vars = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="hidden[123]")
    assert [v.op.name for v in reuse_vars] == [f"hidden{i}/{w}" for i in (1, 2, 3) for w in ("kernel", "bias")]
    restore_saver = tf.train.Saver(reuse_vars)
    with tf.Session() as sess:
        tf.global_variables_initializer().run()
        restore_saver.restore(sess, str(tmp_path / "model.ckpt"))
        for v in reuse_vars:
            np.testing.assert_array_equal(sess.run(v), trained[v.op.name])
        sess.run(training_op, {x: data["X"], y: data["y"]})


def test_conv2d_and_pooling_layers_are_the_nn_ops_with_tf1_names():
    rng = np.random.RandomState(5)
    images = rng.randn(2, 9, 9, 3).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 9, 9, 3], name="x")
    conv = tf.layers.conv2d(x, filters=4, kernel_size=3, strides=2, padding="same", activation=tf.nn.relu,
                            name="conv1")
    pooled = tf.layers.max_pooling2d(conv, pool_size=2, strides=2)
    averaged = tf.layers.average_pooling2d(conv, pool_size=2, strides=1, padding="same")
    assert variable_names() == ["conv1/kernel", "conv1/bias"]
    assert conv.shape.as_list() == [None, 5, 5, 4] and pooled.shape.as_list() == [None, 2, 2, 4]
    kernel, bias = tf.global_variables()
    expected_conv = tf.nn.relu(tf.nn.conv2d(x, kernel, [1, 2, 2, 1], "SAME") + bias)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(bias.assign([0.1, -0.1, 0.2, 0.0]))
        got, want, got_pool, want_pool, got_avg, want_avg = sess.run(
            [conv, expected_conv, pooled, tf.nn.max_pool(expected_conv, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"),
             averaged, tf.nn.avg_pool(expected_conv, [1, 2, 2, 1], [1, 1, 1, 1], "SAME")], {x: images})
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_pool, want_pool)
    np.testing.assert_array_equal(got_avg, want_avg)


def test_conv_layer_arguments_are_checked():
    x = tf.placeholder(tf.float32, [None, 8, 8, 1])
    with pytest.raises(ValueError, match="padding"):
        tf.layers.conv2d(x, 2, 3, padding="full")
    with pytest.raises(ValueError, match="kernel_size"):
        tf.layers.conv2d(x, 2, (3, 3, 3))
    with pytest.raises(ValueError, match="channels_last"):
        tf.layers.max_pooling2d(x, 2, 2, data_format="channels_first")
    with pytest.raises(ValueError, match="ndim=4"):
        tf.layers.conv2d(tf.placeholder(tf.float32, [None, 8]), 2, 3)
