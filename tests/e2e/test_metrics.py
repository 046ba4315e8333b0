"""tf.metrics: streaming values over two batches against NumPy, against TensorFlow 2.21's tf.compat.v1 (pinned
here, and asked again when it is installed), and their local variables as TF names and collects them."""

import json

import numpy as np
import pytest

import graphc as tf
from tests.tf_oracle import run_tensorflow

# One script for graphc and TensorFlow: both get it as `tf` (TF as tensorflow.compat.v1).
ORACLE_CASES = '''
import json
import numpy as np

def data():
    rng = np.random.RandomState(0)
    return (rng.randint(0, 2, size=50).astype(np.int64), rng.rand(50).astype(np.float32),
            rng.rand(50).astype(np.float32))

def metrics(tf, labels, predictions, weights):
    hard = tf.cast(predictions > 0.5, tf.int64)
    return {
        "accuracy": tf.metrics.accuracy(labels, hard),
        "accuracy_weighted": tf.metrics.accuracy(labels, hard, weights=weights),
        "mean": tf.metrics.mean(predictions),
        "mean_weighted": tf.metrics.mean(predictions, weights),
        "precision": tf.metrics.precision(labels, predictions > 0.5),
        "recall_weighted": tf.metrics.recall(labels, predictions > 0.5, weights=weights),
        "auc": tf.metrics.auc(labels, predictions),
        "auc_pr": tf.metrics.auc(labels, predictions, curve="PR"),
        "auc_minoring_weighted": tf.metrics.auc(labels, predictions, weights=weights, num_thresholds=50,
                                                summation_method="minoring"),
        "auc_majoring": tf.metrics.auc(labels, predictions, summation_method="majoring"),
        "auc_pr_careful": tf.metrics.auc(labels, predictions, curve="PR", summation_method="careful_interpolation"),
        "auc_given_thresholds": tf.metrics.auc(labels, predictions, thresholds=[0.7, 0.2, 0.5]),
        "mean_squared_error": tf.metrics.mean_squared_error(tf.cast(labels, tf.float32), predictions),
        "true_positives": tf.metrics.true_positives(labels, predictions > 0.5),
        "false_positives_weighted": tf.metrics.false_positives(labels, predictions > 0.5, weights=weights),
    }

def answers(tf):
    """{metric: [update_op after batch 2, value after it]}: two batches of 25 fed through placeholders."""
    labels, predictions, weights = data()
    l = tf.placeholder(tf.int64, [None])
    p = tf.placeholder(tf.float32, [None])
    w = tf.placeholder(tf.float32, [None])
    cases = metrics(tf, l, p, w)
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for batch in (slice(0, 25), slice(25, 50)):
            updates = sess.run({k: v[1] for k, v in cases.items()},
                               {l: labels[batch], p: predictions[batch], w: weights[batch]})
        values = sess.run({k: v[0] for k, v in cases.items()})
    return {k: [float(updates[k]), float(values[k])] for k in cases}
'''

TF_SCRIPT = ORACLE_CASES + '''
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
print(json.dumps(answers(tf)))
'''

# TensorFlow 2.21's answers (tf.compat.v1), as TF_SCRIPT prints them.
TENSORFLOW_2_21 = {
    "accuracy": 0.5, "accuracy_weighted": 0.5674052238464355, "mean": 0.4692584276199341,
    "mean_weighted": 0.4733538329601288, "precision": 0.6086956262588501, "recall_weighted": 0.5356377363204956,
    "auc": 0.5508332252502441, "auc_pr": 0.7314368486404419, "auc_minoring_weighted": 0.6145216226577759,
    "auc_pr_careful": 0.7315021753311157, "mean_squared_error": 0.306714802980423, "true_positives": 14.0,
    "false_positives_weighted": 3.4328341484069824,
}


def _oracle():
    namespace = {}
    exec(ORACLE_CASES, namespace)  # the same builders TensorFlow runs
    return namespace


def _numpy_auc(labels, predictions, weights, thresholds, curve, method):
    """TF1's auc in NumPy: confusion counts at the thresholds, then a Riemann sum of the curve."""
    positive = predictions[None, :] > np.asarray(thresholds, np.float64)[:, None]
    label = labels.astype(bool)[None, :]
    tp = (weights * (positive & label)).sum(1)
    fn = (weights * (~positive & label)).sum(1)
    tn = (weights * (~positive & ~label)).sum(1)
    fp = (weights * (positive & ~label)).sum(1)
    recall = (tp + 1e-6) / (tp + fn + 1e-6)
    x, y = (fp / (fp + tn + 1e-6), recall) if curve == "ROC" else (recall, (tp + 1e-6) / (tp + fp + 1e-6))
    heights = {"trapezoidal": (y[:-1] + y[1:]) / 2, "minoring": np.minimum(y[:-1], y[1:]),
               "majoring": np.maximum(y[:-1], y[1:])}[method]
    return float(np.sum((x[:-1] - x[1:]) * heights))


def _tf1_thresholds(n):
    return [-1e-7] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + 1e-7]


def numpy_answers():
    labels, predictions, weights = _oracle()["data"]()
    ones = np.ones_like(weights)
    hard = (predictions > 0.5).astype(np.int64)
    correct = (hard == labels).astype(np.float64)
    tp = (hard == 1) & (labels == 1)
    fp = (hard == 1) & (labels == 0)
    fn = (hard == 0) & (labels == 1)
    return {
        "accuracy": correct.mean(), "accuracy_weighted": (correct * weights).sum() / weights.sum(),
        "mean": predictions.mean(), "mean_weighted": (predictions * weights).sum() / weights.sum(),
        "precision": tp.sum() / (tp.sum() + fp.sum()),
        "recall_weighted": (weights * tp).sum() / ((weights * tp).sum() + (weights * fn).sum()),
        "auc": _numpy_auc(labels, predictions, ones, _tf1_thresholds(200), "ROC", "trapezoidal"),
        "auc_pr": _numpy_auc(labels, predictions, ones, _tf1_thresholds(200), "PR", "trapezoidal"),
        "auc_minoring_weighted": _numpy_auc(labels, predictions, weights, _tf1_thresholds(50), "ROC", "minoring"),
        "auc_majoring": _numpy_auc(labels, predictions, ones, _tf1_thresholds(200), "ROC", "majoring"),
        "auc_given_thresholds": _numpy_auc(labels, predictions, ones, [-1e-7, 0.2, 0.5, 0.7, 1 + 1e-7], "ROC",
                                           "trapezoidal"),
        "mean_squared_error": ((labels - predictions.astype(np.float64)) ** 2).mean(),
        "true_positives": tp.sum(), "false_positives_weighted": (weights * fp).sum(),
    }


@pytest.fixture(scope="module")
def graphc_answers():
    with tf.Graph().as_default():
        return _oracle()["answers"](tf)


def test_update_op_and_value_agree(graphc_answers):
    for name, (update, value) in graphc_answers.items():
        assert update == value, name


def test_metrics_agree_with_numpy(graphc_answers):
    expected = numpy_answers()
    assert set(expected) <= set(graphc_answers)
    for name, value in expected.items():
        assert graphc_answers[name][1] == pytest.approx(value, rel=1e-5, abs=1e-6), name


def test_metrics_agree_with_tensorflow_2_21_pinned(graphc_answers):
    for name, value in TENSORFLOW_2_21.items():
        assert graphc_answers[name][1] == pytest.approx(value, rel=1e-6), name


def test_metrics_agree_with_tensorflow(graphc_answers):
    expected = json.loads(run_tensorflow(TF_SCRIPT).strip().splitlines()[-1])
    assert expected.keys() == graphc_answers.keys()
    for name, (update, value) in expected.items():
        assert graphc_answers[name] == pytest.approx([update, value], rel=1e-6), name
        if name in TENSORFLOW_2_21:
            assert value == TENSORFLOW_2_21[name], name


def test_metric_variables_are_local_and_named_as_tf1():
    labels = tf.placeholder(tf.int64, [None])
    predictions = tf.placeholder(tf.float32, [None])
    value, update = tf.metrics.accuracy(labels, predictions, metrics_collections=["m"], updates_collections=["u"])
    tf.metrics.precision(labels, predictions)
    tf.metrics.auc(labels, predictions, name="my_auc")
    names = [v.op.name for v in tf.local_variables()]
    assert names == ["accuracy/total", "accuracy/count", "precision/true_positives/count",
                     "precision/false_positives/count", "my_auc/true_positives", "my_auc/false_negatives",
                     "my_auc/true_negatives", "my_auc/false_positives"]
    assert tf.get_collection(tf.GraphKeys.METRIC_VARIABLES) == tf.local_variables()
    assert tf.global_variables() == [] and tf.trainable_variables() == []
    assert (value.name, update.name) == ("accuracy/value:0", "accuracy/update_op:0")
    assert tf.get_collection("m") == [value] and tf.get_collection("u") == [update]
    assert tf.local_variables()[4].shape.as_list() == [200]


def test_local_variables_initializer_resets_a_metric():
    values = tf.placeholder(tf.float32, [None])
    mean, update = tf.metrics.mean(values)
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run(mean) == 0.0  # TF1's div_no_nan: nothing seen yet
        sess.run(update, {values: [1.0, 2.0]})
        assert sess.run(update, {values: [6.0]}) == 3.0
        sess.run(tf.local_variables_initializer())
        assert sess.run(update, {values: [5.0, 7.0]}) == 6.0


def test_a_metric_read_before_the_initializer_fails_as_tf1():
    mean, _ = tf.metrics.mean(tf.constant([1.0]))
    with tf.Session() as sess, pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value mean/(total|count)"):
        sess.run(mean)


def test_accuracy_squeezes_a_trailing_unit_dimension_of_predictions():
    labels = tf.constant([1, 0, 1, 1])
    accuracy, update = tf.metrics.accuracy(labels, tf.constant([[1], [1], [1], [0]]))
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run(update) == 0.5


@pytest.mark.parametrize("arguments, message", [
    ({"curve": "XY"}, "curve must be either ROC or PR, XY unknown"),
    ({"summation_method": "simpson"}, "Invalid summation_method: simpson"),
])
def test_auc_refuses_what_tf1_refuses(arguments, message):
    with pytest.raises(ValueError, match=message):
        tf.metrics.auc(tf.constant([1]), tf.constant([0.5]), **arguments)


def test_div_no_nan_and_its_gradients_are_tfs():
    x = tf.constant([1.0, 2.0, -3.0])
    y = tf.constant([0.0, 4.0, -0.0])
    quotient = tf.div_no_nan(x, y)
    assert tf.math.divide_no_nan is tf.div_no_nan
    values = tf.Session().run([quotient] + tf.gradients(quotient, [x, y]))
    # TensorFlow 2.21's DivNoNan and its gradients for these inputs.
    for value, expected in zip(values, [[0.0, 0.5, 0.0], [0.0, 0.25, 0.0], [0.0, -0.125, 0.0]]):
        np.testing.assert_array_equal(value, np.float32(expected))
