"""Gradient clipping (issue 13): clip_by_norm, global_norm and clip_by_global_norm give TF 2.21's answers
(pinned below, and asked of TF itself when it is installed), and the programs that use them train.

The two programs are TF1 code run unmodified but for `import graphc as tf`: the usual
`clip_by_global_norm(tf.gradients(loss, tvars), 5.0)` + `apply_gradients` step, and seed 004's linear
regression (/work/shared/seeds/004_*.txt: "梯度爆炸问题解决 ... 使用梯度截断", a learning rate too large
makes the loss and the parameters NaN; clipping the gradients is one of its remedies).
"""

import numpy as np
import pytest

import graphc
from tests.backend.test_edge_values import assert_answers, assert_tensorflow_gives, run

NAN, INF = float("nan"), float("inf")
ROWS = [[3.0, 4.0], [0.0, 0.0], [-6.0, 8.0]]


def clip_by_norm_over_all_and_rows(tf):
    x = tf.placeholder(tf.float32, [3, 2])
    fetches = [tf.clip_by_norm(x, 2.0), tf.clip_by_norm(x, 2.0, axes=[1]), tf.clip_by_norm(x, 100.0, axes=[1]),
               tf.clip_by_norm(x, -1.0), tf.clip_by_norm(x, tf.constant(5.0), axes=[0])]
    return fetches, {x: ROWS}


def global_norm_and_clipping(tf):
    a, b = tf.placeholder(tf.float32, [2]), tf.placeholder(tf.float32, [1, 2])
    clipped, norm = tf.clip_by_global_norm([a, None, b], 1.0)
    kept, _ = tf.clip_by_global_norm([a, b], 100.0)
    given, given_norm = tf.clip_by_global_norm([a], 2.0, use_norm=tf.constant(4.0))
    return [clipped[0], clipped[2], norm, tf.global_norm([a, None, b]), kept[0], kept[1], given[0], given_norm], \
        {a: [3.0, 4.0], b: [[0.0, 12.0]]}


def global_norm_of_non_finite_values(tf):
    a, b = tf.placeholder(tf.float32, [1]), tf.placeholder(tf.float32, [1, 1])
    clipped, norm = tf.clip_by_global_norm([a, b], 1.0)
    return clipped + [norm], {a: [INF], b: [[4.0]]}


CASES = {
    "clip_by_norm_over_all_and_rows": (clip_by_norm_over_all_and_rows, [
        [[0.5366563200950623, 0.7155417799949646], [0.0, 0.0], [-1.0733126401901245, 1.4310835599899292]],
        [[1.2, 1.6], [0.0, 0.0], [-1.2, 1.6]],
        ROWS,
        [[0.0, 0.0], [0.0, 0.0], [-0.0, 0.0]],  # a negative clip_norm counts as 0 (TF 2.21)
        [[2.2360680103302, 2.2360680103302], [0.0, 0.0], [-4.4721360206604, 4.4721360206604]]]),
    "global_norm_and_clipping": (global_norm_and_clipping, [
        [3 / 13, 4 / 13], [[0.0, 12 / 13]], 13.0, 13.0, [3.0, 4.0], [[0.0, 12.0]], [1.5, 2.0], 4.0]),
    # An infinite norm makes every clipped value NaN.
    "global_norm_of_non_finite_values": (global_norm_of_non_finite_values, [[NAN], [[NAN]], INF]),
}
TENSORFLOW_RUNS = {name: (lambda tf, case=case: run(tf, case)) for name, (case, _) in CASES.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_clipping_gives_tensorflows_answers(name):
    case, expected = CASES[name]
    assert_answers(run(graphc, case), expected, name)


def test_tensorflow_gives_the_pinned_answers():
    assert_tensorflow_gives(__file__, CASES)


def test_clipped_names_and_none_entries_are_tfs():
    tf = graphc
    with tf.Graph().as_default():
        a, b = tf.constant([3.0]), tf.constant([4.0])
        clipped, norm = tf.clip_by_global_norm([a, None, b], 1.0)
        assert clipped[1] is None
        assert [c.name for c in (clipped[0], clipped[2])] == ["clip_by_global_norm/clip_by_global_norm/_0:0",
                                                              "clip_by_global_norm/clip_by_global_norm/_2:0"]
        assert norm.name == "global_norm/global_norm:0"
        assert tf.clip_by_norm(a, 1.0).name == "clip_by_norm:0"


def test_clip_by_global_norm_then_apply_gradients_trains():
    """The TF1 idiom: grads, _ = clip_by_global_norm(tf.gradients(loss, tvars), 5.0); apply_gradients."""
    tf = graphc
    rng = np.random.RandomState(0)
    features = rng.normal(size=(64, 4)).astype(np.float32)
    labels = features @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32) + 0.25
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        y = tf.placeholder(tf.float32, [None, 1])
        w = tf.Variable(tf.zeros([4, 1]), name="w")
        b = tf.Variable(0.0, name="b")
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
        tvars = tf.trainable_variables()
        grads, norm = tf.clip_by_global_norm(tf.gradients(loss, tvars), 5.0)
        train = tf.train.GradientDescentOptimizer(0.1).apply_gradients(zip(grads, tvars))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            feeds = {x: features, y: labels}
            first_norm = sess.run(norm, feeds)
            w0 = sess.run(w)
            sess.run(train, feeds)
            step = np.sqrt(np.sum(np.square(sess.run(w) - w0)) + np.square(sess.run(b)))
            for _ in range(300):
                sess.run(train, feeds)
            final_loss = sess.run(loss, feeds)
    # The first gradient is large (norm > 5): the first step is the learning rate times exactly 5.
    assert first_norm > 5.0
    assert step == pytest.approx(0.1 * 5.0, rel=1e-5)
    assert final_loss < 1e-4


def _seed_004_linear_regression(tf, clip):
    """Seed 004's linear regression (x * w + b against y_true = 0.8 x + 0.7, mean squared error, gradient
    descent) with the too large learning rate it warns about, the gradients clipped or not."""
    with tf.variable_scope("prepare_data"):
        X = tf.random_normal(shape=[100, 1], name="feature", seed=1)
        y_true = tf.matmul(X, [[0.8]]) + 0.7
    with tf.variable_scope("create_model"):
        weights = tf.Variable(initial_value=tf.random_normal(shape=[1, 1], seed=2), name="Weights")
        bias = tf.Variable(initial_value=tf.random_normal(shape=[1, 1], seed=3), name="Bias")
        y_predict = tf.matmul(X, weights) + bias
    with tf.variable_scope("loss_function"):
        error = tf.reduce_mean(tf.square(y_predict - y_true))
    with tf.variable_scope("optimizer"):
        optimizer = tf.train.GradientDescentOptimizer(learning_rate=1.5)
        grads_and_vars = optimizer.compute_gradients(error)
        if clip:
            gradients, variables = zip(*grads_and_vars)
            gradients, _ = tf.clip_by_global_norm(gradients, 0.1)
            grads_and_vars = zip(gradients, variables)
        train_op = optimizer.apply_gradients(grads_and_vars)
    init = tf.global_variables_initializer()
    with tf.Session() as sess:
        sess.run(init)
        for _ in range(200):
            sess.run(train_op)
        return sess.run([error, weights, bias])


def test_seed_004_linear_regression_with_clipped_gradients():
    tf = graphc
    with tf.Graph().as_default():
        exploded, _, _ = _seed_004_linear_regression(tf, clip=False)
    with tf.Graph().as_default():
        error, weights, bias = _seed_004_linear_regression(tf, clip=True)
    assert not np.isfinite(exploded) or exploded > 1e6  # "损失、参数优化成nan"
    assert error < 0.02
    assert weights[0, 0] == pytest.approx(0.8, abs=0.1) and bias[0, 0] == pytest.approx(0.7, abs=0.1)
