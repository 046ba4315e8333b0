"""The Variables guide (seed 002), its snippets in order as written, but for `import graphc as tf`
and a temporary directory in place of /tmp."""

import numpy as np

import graphc as tf


def test_creation_initialisation_and_initialising_from_another_variable():
    # Create two variables.
    weights = tf.Variable(tf.random_normal([784, 200], stddev=0.35), name="weights")
    biases = tf.Variable(tf.zeros([200]), name="biases")
    # Create another variable with the same value as 'weights'.
    w2 = tf.Variable(weights.initialized_value(), name="w2")
    # Create another variable with twice the value of 'weights'
    w_twice = tf.Variable(weights.initialized_value() * 2, name="w_twice")
    # Add an op to initialize the variables.
    init_op = tf.global_variables_initializer()
    with tf.Session() as sess:
        # Run the init operation.
        sess.run(init_op)
        weights_value, biases_value, w2_value, w_twice_value = sess.run([weights, biases, w2, w_twice])
    assert weights_value.shape == (784, 200) and abs(weights_value.std() - 0.35) < 0.01
    assert not biases_value.any()
    np.testing.assert_array_equal(w2_value, weights_value)
    np.testing.assert_array_equal(w_twice_value, 2 * weights_value)


def test_save_restore_and_choosing_which_variables(tmp_path, capsys):
    model = str(tmp_path / "model.ckpt")
    # Create some variables.
    v1 = tf.Variable(tf.random_normal([3, 4], stddev=0.35), name="v1")
    v2 = tf.Variable(tf.zeros([5]), name="v2")
    # Add an op to initialize the variables.
    init_op = tf.global_variables_initializer()
    # Add ops to save and restore all the variables.
    saver = tf.train.Saver()
    # Later, launch the model, initialize the variables, do some work, save the variables to disk.
    with tf.Session() as sess:
        sess.run(init_op)
        # Do some work with the model.
        sess.run(v2.assign(v2 + 1.5))
        trained_v1, trained_v2 = sess.run([v1, v2])
        # Save the variables to disk.
        save_path = saver.save(sess, model)
        print("Model saved in file: ", save_path)
    assert capsys.readouterr().out == f"Model saved in file:  {model}\n"

    # Restoring: the same variables in a new graph, no initialisation needed.
    tf.reset_default_graph()
    v1 = tf.Variable(tf.random_normal([3, 4], stddev=0.35), name="v1")
    v2 = tf.Variable(tf.zeros([5]), name="v2")
    saver = tf.train.Saver()
    with tf.Session() as sess:
        # Restore variables from disk.
        saver.restore(sess, model)
        np.testing.assert_array_equal(sess.run(v1), trained_v1)
        np.testing.assert_array_equal(sess.run(v2), trained_v2)

    # Add ops to save and restore only 'v2' using the name "my_v2".
    tf.reset_default_graph()
    v1 = tf.Variable(tf.random_normal([3, 4], stddev=0.35), name="v1")
    v2 = tf.Variable(tf.zeros([5]), name="v2")
    saver = tf.train.Saver({"my_v2": v2})
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(v2.assign([1.0, 2.0, 3.0, 4.0, 5.0]))
        my_v2_path = saver.save(sess, str(tmp_path / "my_v2.ckpt"))

    # A new model reuses 'v2' under another name and initialises the rest itself.
    tf.reset_default_graph()
    param = tf.Variable(tf.zeros([5]), name="param")
    extra = tf.Variable(tf.ones([2]), name="extra")
    with tf.Session() as sess:
        tf.train.Saver({"my_v2": param}).restore(sess, my_v2_path)
        sess.run(tf.initialize_variables([extra]))
        assert sess.run(param).tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
        assert sess.run(extra).tolist() == [1.0, 1.0]
