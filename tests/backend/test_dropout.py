"""tf.nn.dropout: TF 1.15's rule (keep with probability 1 - rate, scale by 1 / (1 - rate)),
masks from Philox: a fresh mask each run, the same sequence for the same seeds."""

import numpy as np
import pytest

import graphc as tf
from tests.helpers import interpret_graph


def test_statistics_scale_and_fresh_masks():
    x = tf.placeholder(tf.float32, [None, 1000])
    keep_prob = tf.placeholder(tf.float32, [])
    dropped = tf.nn.dropout(x, keep_prob=keep_prob, seed=7)
    sess = tf.Session()
    ones = np.ones((100, 1000), np.float32)
    masks = []
    for keep in (0.5, 0.5, 0.9):
        out = sess.run(dropped, {x: ones, keep_prob: keep})
        kept = out != 0
        np.testing.assert_allclose(out[kept], 1 / np.float32(1 - (1 - np.float32(keep))), rtol=1e-6)
        # 100,000 Bernoulli draws: the kept fraction is within 5 standard deviations of keep.
        assert abs(kept.mean() - keep) < 5 * np.sqrt(keep * (1 - keep) / kept.size)
        masks.append(kept)
    assert not np.array_equal(masks[0], masks[1])  # a fresh mask every run
    assert abs(np.mean(masks[0] == masks[1]) - 0.5) < 0.01  # and independent of the last one


def _masks(seed, graph_seed, runs=3):
    with tf.Graph().as_default():
        tf.set_random_seed(graph_seed)
        x = tf.placeholder(tf.float64, [3, 50])
        dropped = tf.nn.dropout(x, rate=0.3, seed=seed)
        sess = tf.Session()
        return [sess.run(dropped, {x: np.ones((3, 50))}) for _ in range(runs)]


def test_same_seeds_give_the_same_sequence_of_masks():
    first, second, other = _masks(5, 1), _masks(5, 1), _masks(6, 1)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_compiled_mask_matches_the_reference_and_noise_shape_broadcasts():
    x = tf.placeholder(tf.float32, [None, 4, 6])
    ops = [tf.nn.dropout(x, rate=0.25, seed=3), tf.nn.dropout(x, keep_prob=0.6, noise_shape=[None, 1, 6], seed=4)]
    values = np.random.RandomState(0).uniform(-1, 1, (5, 4, 6)).astype(np.float32)
    compiled = tf.Session().run(ops, {x: values})
    for c, r in zip(compiled, interpret_graph(ops, {x: values})):
        np.testing.assert_allclose(c, r, rtol=1e-6)
    shared = compiled[1] != 0
    assert np.all(shared == shared[:, :1, :])  # one mask row shared along the broadcast axis


def test_gradient_flows_through_the_kept_elements_only():
    x = tf.Variable(tf.ones([4, 100]))
    dropped = tf.nn.dropout(x, rate=0.5, seed=1)
    (g,) = tf.gradients(tf.reduce_sum(dropped), x)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    out, grad = sess.run([dropped, g])
    np.testing.assert_array_equal(grad, out)  # d(sum)/dx = mask * 2 = the output for x = 1


def test_arguments_follow_tf1():
    x = tf.zeros([2, 2])
    assert tf.nn.dropout(x, rate=0.0) is x
    assert tf.nn.dropout(x, keep_prob=1.0) is x
    assert tf.nn.dropout(tf.placeholder(tf.float32, [None, 3]), rate=0.5).shape.as_list() == [None, 3]
    for kwargs, message in (({"keep_prob": 0.5, "rate": 0.5}, "Cannot specify both 'keep_prob' and 'rate'"),
                            ({}, "You must provide a rate to dropout"),
                            ({"rate": 1.0}, r"rate must be a scalar tensor or a float in the range \[0, 1\), got 1"),
                            ({"keep_prob": "a"}, "keep_prob must be a floating point number or Tensor")):
        with pytest.raises(ValueError, match=message):
            tf.nn.dropout(x, **kwargs)
    with pytest.raises(ValueError, match="x has to be a floating point tensor"):
        tf.nn.dropout(tf.constant([1, 2]), rate=0.5)
