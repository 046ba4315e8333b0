"""tf.estimator.Estimator on a small softmax classifier: train (steps, max_steps, resume from model_dir), evaluate
(TF1's dict, metrics checked against NumPy on the saved weights), predict (dicts, single examples or batches),
checkpoints and summaries in model_dir, and the errors TF1 raises.

The input is fed by `tf.train.FeedFnHook` (TF1's API) from NumPy batches, ending an epoch with OutOfRangeError as
TF1's input pipelines do; graphc.data's Dataset and numpy_input_fn are another engineer's and not used here."""

import itertools
import logging
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import graphc as tf

RNG = np.random.RandomState(0)
X = RNG.rand(64, 3).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5], np.float32) > -0.2).astype(np.int64)


class Feeder:
    """An input_fn of placeholders and the FeedFnHook that feeds them batches of X, Y (`epochs` None: forever)."""

    def __init__(self, batch=16, epochs=None):
        self.batch, self.epochs = batch, epochs

    def input_fn(self):
        self.x = tf.placeholder(tf.float32, [None, 3])
        self.y = tf.placeholder(tf.int64, [None])
        starts = range(0, len(X), self.batch)
        self.order = itertools.cycle(starts) if self.epochs is None else iter(list(starts) * self.epochs)
        return {"x": self.x}, self.y

    def feed(self):
        start = next(self.order, None)
        if start is None:
            raise tf.errors.OutOfRangeError(None, None, "End of sequence")
        return {self.x: X[start:start + self.batch], self.y: Y[start:start + self.batch]}

    def hooks(self):
        return [tf.train.FeedFnHook(self.feed)]


def model_fn(features, labels, mode, params):
    logits = tf.layers.dense(features["x"], 2, name="dense")
    classes = tf.argmax(logits, 1)
    if mode == tf.estimator.ModeKeys.PREDICT:
        return tf.estimator.EstimatorSpec(mode, predictions={"classes": classes,
                                                             "probabilities": tf.nn.softmax(logits)})
    loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    if mode == tf.estimator.ModeKeys.TRAIN:
        optimizer = tf.train.GradientDescentOptimizer(params["learning_rate"])
        return tf.estimator.EstimatorSpec(mode, loss=loss,
                                          train_op=optimizer.minimize(loss, global_step=tf.train.get_global_step()))
    return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops={"accuracy": tf.metrics.accuracy(labels,
                                                                                                      classes)})


def estimator(model_dir, **config):
    config = tf.estimator.RunConfig(**{"save_checkpoints_steps": 10, "log_step_count_steps": 5,
                                       "tf_random_seed": 1, **config})
    return tf.estimator.Estimator(model_fn, model_dir=str(model_dir), config=config, params={"learning_rate": 0.5})


def numpy_logits(classifier):
    return X @ classifier.get_variable_value("dense/kernel") + classifier.get_variable_value("dense/bias")


def train(classifier, **kwargs):
    feeder = Feeder()
    return classifier.train(feeder.input_fn, hooks=feeder.hooks(), **kwargs)


def test_train_saves_on_schedule_and_resumes_from_model_dir(tmp_path, caplog):
    classifier = estimator(tmp_path)
    with caplog.at_level(logging.INFO, logger="graphc"):
        assert train(classifier, steps=12) is classifier
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" into")[0] for line in lines if line.startswith("Saving checkpoints")] == [
        "Saving checkpoints for 0", "Saving checkpoints for 10", "Saving checkpoints for 12"]
    assert [line.split(" (")[0].split(", ")[1] for line in lines if line.startswith("loss = ")] == [
        "step = 1", "step = 6", "step = 11"]
    assert any(line.startswith("Loss for final step: ") for line in lines)
    assert classifier.get_variable_value("global_step") == 12
    assert classifier.get_variable_names() == ["dense/bias", "dense/kernel", "global_step"]
    kernel = classifier.get_variable_value("dense/kernel")

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="graphc"):
        train(estimator(tmp_path), steps=5)  # a new Estimator on the same model_dir goes on from step 12
    assert f"Restoring parameters from {tmp_path / 'model.ckpt-12'}" in [r.getMessage() for r in caplog.records]
    assert classifier.get_variable_value("global_step") == 17
    assert not np.array_equal(classifier.get_variable_value("dense/kernel"), kernel)

    train(classifier, max_steps=20)
    assert classifier.get_variable_value("global_step") == 20
    with caplog.at_level(logging.INFO, logger="graphc"):
        train(classifier, max_steps=20)
    assert caplog.records[-1].getMessage() == "Skipping training since max_steps has already saved."
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    events.Reload()
    assert {"loss", "global_step/sec"} <= set(events.Tags()["scalars"])


def test_training_stops_at_the_end_of_the_input(tmp_path):
    classifier = estimator(tmp_path)
    feeder = Feeder(epochs=2)
    classifier.train(feeder.input_fn, hooks=feeder.hooks())
    assert classifier.get_variable_value("global_step") == 2 * len(X) // feeder.batch


def test_evaluate_returns_tf1s_dict_computed_over_the_whole_input(tmp_path):
    classifier = estimator(tmp_path)
    train(classifier, steps=12)
    feeder = Feeder(epochs=1)
    results = classifier.evaluate(feeder.input_fn, hooks=feeder.hooks())
    assert sorted(results) == ["accuracy", "global_step", "loss"]
    logits = numpy_logits(classifier)
    assert results["global_step"] == 12
    assert results["accuracy"] == pytest.approx(np.mean(logits.argmax(1) == Y), rel=1e-6)
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    batch_losses = [-log_softmax[i:i + 16][np.arange(16), Y[i:i + 16]].mean() for i in range(0, 64, 16)]
    assert results["loss"] == pytest.approx(np.mean(batch_losses), rel=1e-5)  # the mean of the batches' losses
    events = EventAccumulator(str(tmp_path / "eval"), size_guidance={"scalars": 0})
    events.Reload()
    assert events.Scalars("accuracy")[0].step == 12
    assert events.Scalars("accuracy")[0].value == pytest.approx(results["accuracy"])

    feeder = Feeder()  # an endless input: `steps` batches
    assert classifier.evaluate(feeder.input_fn, steps=2, hooks=feeder.hooks(), name="two")["accuracy"] == \
        pytest.approx(np.mean(logits[:32].argmax(1) == Y[:32]), rel=1e-6)
    assert os.path.isdir(tmp_path / "eval_two") and classifier.eval_dir("two") == str(tmp_path / "eval_two")


def test_predict_yields_examples_or_batches_from_the_latest_checkpoint(tmp_path):
    classifier = estimator(tmp_path)
    train(classifier, steps=3)
    logits = numpy_logits(classifier)
    feeder = Feeder(epochs=1)
    predictions = list(classifier.predict(feeder.input_fn, hooks=feeder.hooks()))
    assert len(predictions) == len(X) and sorted(predictions[0]) == ["classes", "probabilities"]
    np.testing.assert_array_equal([p["classes"] for p in predictions], logits.argmax(1))
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose([p["probabilities"] for p in predictions], probabilities, rtol=1e-5)
    feeder = Feeder(epochs=1)
    batches = list(classifier.predict(feeder.input_fn, predict_keys="classes", hooks=feeder.hooks(),
                                      yield_single_examples=False))
    assert len(batches) == 4 and list(batches[0]) == ["classes"] and batches[0]["classes"].shape == (16,)


def test_estimator_refuses_what_tf1_refuses(tmp_path):
    classifier = estimator(tmp_path)
    feeder = Feeder()
    with pytest.raises(ValueError, match="Can not provide both steps and max_steps."):
        classifier.train(feeder.input_fn, steps=1, max_steps=2)
    with pytest.raises(ValueError, match="Must specify steps > 0, given: 0"):
        classifier.train(feeder.input_fn, steps=0)
    with pytest.raises(ValueError, match="Can not specify both save_checkpoints_steps and save_checkpoints_secs."):
        tf.estimator.RunConfig(save_checkpoints_steps=1, save_checkpoints_secs=1)
    with pytest.raises(ValueError, match="must include features argument"):
        tf.estimator.Estimator(lambda inputs, labels: None)
    with pytest.raises(ValueError, match="Missing train_op."):
        tf.estimator.EstimatorSpec(tf.estimator.ModeKeys.TRAIN, loss=tf.constant(1.0))
    with pytest.raises(ValueError, match="Missing predictions."):
        tf.estimator.EstimatorSpec(tf.estimator.ModeKeys.PREDICT)
    with pytest.raises(TypeError, match="input_fn must return features"):
        classifier.train(lambda: 3, steps=1)


def test_input_fn_may_return_a_dataset_read_by_a_one_shot_iterator(tmp_path):
    class Iterator:
        def get_next(self):
            return {"x": tf.constant(X[:16])}, tf.constant(Y[:16])

    class Dataset:  # what the Estimator asks of a tf.data Dataset
        def make_one_shot_iterator(self):
            return Iterator()

    classifier = estimator(tmp_path)
    classifier.train(Dataset, steps=2)
    assert classifier.get_variable_value("global_step") == 2


def test_a_training_step_is_one_session_run(tmp_path, monkeypatch):
    runs = []
    original_run = tf.Session.run
    monkeypatch.setattr(tf.Session, "run", lambda self, *a, **k: runs.append(1) or original_run(self, *a, **k))
    train(estimator(tmp_path, save_checkpoints_steps=None, log_step_count_steps=100), steps=60)
    # 60 steps, and a few runs of their own where the session starts and ends (initialise, check, read the
    # global step, save) and where a hook acts at a step (the first summary and step count, the last step).
    assert 60 <= len(runs) <= 60 + 12, len(runs)
