"""Candidate sampling: the log-uniform sampler compiled against its reference and TF's distribution and
expected-count formulas, and tf.nn.nce_loss / sampled_softmax_loss against TensorFlow's given the same
sampled candidates (TF's own draws come from another generator)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import graphc as tf
from tests.helpers import interpret_graph
from tests.tf_oracle import run_tensorflow

CLASSES, DIM, BATCH = 12, 4, 3


def test_sampler_compiled_matches_reference_and_tf_formulas():
    tf.set_random_seed(5)
    labels = tf.constant([[0], [7], [11]], tf.int64)
    unique = tf.nn.log_uniform_candidate_sampler(labels, 1, 10, True, CLASSES)
    repeated = tf.nn.log_uniform_candidate_sampler(labels, 1, 6, False, CLASSES)
    fetches = list(unique) + list(repeated)
    with tf.Session() as sess:
        compiled = sess.run(fetches)
        later = sess.run(unique[0])
    for c, r in zip(compiled, interpret_graph(fetches)):
        np.testing.assert_allclose(c, r, rtol=1e-6)
    sampled, true_expected, sampled_expected = compiled[:3]
    assert sorted(set(sampled.tolist())) == sorted(sampled.tolist()) and len(sampled) == 10
    assert not np.array_equal(later, sampled)  # a new draw every run
    probability = np.log((np.arange(CLASSES) + 2) / (np.arange(CLASSES) + 1)) / np.log(CLASSES + 1)
    np.testing.assert_allclose(compiled[4], probability[[0, 7, 11]][:, None] * 6, rtol=1e-6)  # P * num_sampled
    assert np.all((0 < true_expected) & (true_expected <= 1)) and np.all(sampled_expected <= 1)
    with pytest.raises(ValueError, match="Sampler's range is too small"):
        tf.nn.log_uniform_candidate_sampler(labels, 1, 13, True, CLASSES)


def test_sampler_draws_the_log_uniform_distribution():
    tf.set_random_seed(1)
    draws = tf.nn.log_uniform_candidate_sampler(tf.zeros([1, 1], tf.int64), 1, 1000, False, CLASSES)[0]
    with tf.Session() as sess:
        counts = np.bincount(np.concatenate([sess.run(draws) for _ in range(20)]), minlength=CLASSES)
    probability = np.log((np.arange(CLASSES) + 2) / (np.arange(CLASSES) + 1)) / np.log(CLASSES + 1)
    np.testing.assert_allclose(counts / counts.sum(), probability, atol=0.01)


def _problem():
    rng = np.random.RandomState(0)
    return (rng.uniform(-1, 1, (CLASSES, DIM)).astype(np.float32), rng.uniform(-1, 1, CLASSES).astype(np.float32),
            np.array([[1, 4], [0, 9], [3, 3]], np.int64), rng.uniform(-1, 1, (BATCH, DIM)).astype(np.float32),
            (np.array([4, 2, 7, 0], np.int64), np.array([[0.5, 0.2], [0.9, 0.1], [0.3, 0.3]], np.float32),
             np.array([0.2, 0.4, 0.1, 0.7], np.float32)))


def _losses(tf):
    weights, biases, labels, inputs, sampled = _problem()
    weights, biases = tf.constant(weights), tf.constant(biases)
    inputs = tf.constant(inputs)
    sampled = tuple(tf.constant(v) for v in sampled)
    nce = tf.nn.nce_loss(weights, biases, labels, inputs, 4, CLASSES, num_true=2, sampled_values=sampled)
    softmax = tf.nn.sampled_softmax_loss(weights, biases, labels, inputs, 4, CLASSES, num_true=2,
                                         sampled_values=sampled)
    softmax_kept = tf.nn.sampled_softmax_loss(weights, biases, labels, inputs, 4, CLASSES, num_true=2,
                                              sampled_values=sampled, remove_accidental_hits=False)
    losses = [nce, softmax, softmax_kept]
    total = tf.reduce_sum(nce) + tf.reduce_sum(softmax)
    grads = [tf.convert_to_tensor(g) for g in tf.gradients(total, [weights, inputs])]  # TF's: IndexedSlices
    with tf.Session() as sess:
        return [np.asarray(v).tolist() for v in sess.run(losses + grads)]


_TF_SCRIPT = """
import json, sys
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
sys.path.insert(0, ".")
from tests.e2e.test_candidate_sampling import _losses
print(json.dumps(_losses(tf)))
"""

# TF 2.21's answers for _losses (nce, sampled softmax, the same keeping accidental hits; gradients of
# the two first with respect to the weights and the inputs), pinned.
TF_LOSSES = (
    [[7.51906, 7.7146, 8.13131], [1.82879, 2.57215, 3.45779], [2.3051, 2.6033, 3.45779],
     [[0.10908, -0.72664, 0.55979, -0.26708], [0.36442, 0.41634, -0.16705, 0.38663],
      [-0.08842, -1.95414, 2.08391, -1.30587], [-0.72739, 0.86935, -1.02553, 0.06747],
      [-1.121, -2.43791, 2.50343, -2.32367], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0],
      [-0.49882, -1.71389, 1.70864, -1.39307], [0.0, 0.0, 0.0, 0.0], [-0.06407, -0.02772, 0.06778, -0.08507],
      [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
     [[-0.47204, 0.63876, 0.97355, 1.25378], [-0.65758, 0.66064, 0.99693, 1.62631],
      [0.1369, -0.42057, 2.03108, 2.37681]]])


def test_nce_and_sampled_softmax_losses_give_tensorflows_answers():
    for got, want in zip(_losses(tf), TF_LOSSES):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)


def test_tensorflow_2_21_gives_the_pinned_losses():
    answers = json.loads(run_tensorflow(_TF_SCRIPT).strip().splitlines()[-1])
    for got, want in zip(answers, TF_LOSSES):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)


def test_word2vec_style_training_with_sampled_losses_lowers_the_loss():
    tf.set_random_seed(0)
    vocabulary, embedding_size = 50, 8
    contexts = tf.placeholder(tf.int32, [None])
    targets = tf.placeholder(tf.int64, [None, 1])
    embeddings = tf.Variable(tf.random_uniform([vocabulary, embedding_size], -1.0, 1.0))
    nce_weights = tf.Variable(tf.truncated_normal([vocabulary, embedding_size], stddev=0.3))
    nce_biases = tf.Variable(tf.zeros([vocabulary]))
    embedded = tf.nn.embedding_lookup(embeddings, contexts)
    loss = tf.reduce_mean(tf.nn.nce_loss(nce_weights, nce_biases, targets, embedded, 8, vocabulary))
    softmax_loss = tf.reduce_mean(tf.nn.sampled_softmax_loss(nce_weights, nce_biases, targets, embedded, 8,
                                                             vocabulary))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss + softmax_loss)
    words = np.arange(40) % vocabulary
    feeds = {contexts: words, targets: ((words * 7 + 3) % vocabulary)[:, None]}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = np.mean([sess.run(loss, feeds) for _ in range(5)])
        for _ in range(150):
            sess.run(train, feeds)
        last = np.mean([sess.run(loss, feeds) for _ in range(5)])
    assert last < first / 2, (first, last)
