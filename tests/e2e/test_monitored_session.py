"""tf.train.MonitoredTrainingSession and the SessionRunHooks: TF1's schedule of checkpoints, summaries, logs and
stops, resuming from checkpoint_dir, and hooks' fetches joining the caller's in one Session.run.

The pinned numbers (checkpoint steps, logged steps and losses) are TensorFlow 2.21's (tf.compat.v1) for the same
program."""

import json
import logging
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import graphc as tf
from tests.tf_oracle import run_tensorflow

X = np.random.RandomState(0).rand(8, 2).astype(np.float32)
Y = X @ np.array([[1.0], [2.0]], np.float32)


def regression():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    w = tf.Variable(tf.zeros([2, 1]), name="w")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y), name="mse")
    global_step = tf.train.get_or_create_global_step()
    tf.summary.scalar("loss", loss)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=global_step)
    return x, y, loss, train, global_step


def train_until(checkpoint_dir, last_step, caplog):
    """Trains in a new graph until the global step is `last_step`; (runs, last loss, logged lines)."""
    tf.reset_default_graph()
    x, y, loss, train, global_step = regression()
    hooks = [tf.train.StopAtStepHook(last_step=last_step),
             tf.train.LoggingTensorHook({"loss": loss, "step": global_step}, every_n_iter=3)]
    caplog.clear()
    runs = 0
    with caplog.at_level(logging.INFO, logger="graphc"), tf.train.MonitoredTrainingSession(
            checkpoint_dir=checkpoint_dir, hooks=hooks, save_checkpoint_steps=5, save_summaries_steps=2) as session:
        while not session.should_stop():
            _, value = session.run([train, loss], {x: X, y: Y})
            runs += 1
    return runs, value, [r.getMessage() for r in caplog.records]


def test_training_saves_on_tf1_schedule_and_resumes_from_the_checkpoint_dir(tmp_path, caplog):
    runs, loss, lines = train_until(tmp_path, 7, caplog)
    assert runs == 7 and loss == pytest.approx(0.52454877, rel=1e-5)
    saves = [line for line in lines if line.startswith("Saving checkpoints")]
    assert saves == [f"Saving checkpoints for {step} into {tmp_path / 'model.ckpt'}." for step in (0, 5, 7)]
    logged = [line.split(" (")[0] for line in lines if line.startswith("loss")]
    assert [line.split("step = ")[1] for line in logged] == ["1", "4", "7"]
    assert float(logged[0].split(",")[0].split("= ")[1]) == pytest.approx(3.3733015, rel=1e-5)

    runs, loss, lines = train_until(tmp_path, 14, caplog)
    assert f"Restoring parameters from {tmp_path / 'model.ckpt-7'}" in lines
    assert runs == 7 and loss == pytest.approx(0.07126969, rel=1e-5)
    assert [line for line in lines if line.startswith("Saving")][-2:] == [
        f"Saving checkpoints for {step} into {tmp_path / 'model.ckpt'}." for step in (12, 14)]
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == [
        f"model.ckpt-{step}" for step in (0, 5, 7, 12, 14)]


def test_summaries_and_step_rate_are_written_to_the_checkpoint_dir(tmp_path, caplog):
    train_until(tmp_path, 7, caplog)
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    events.Reload()
    assert [e.step for e in events.Scalars("loss")] == [1, 3, 5, 7]
    assert events.Scalars("loss")[0].value == pytest.approx(3.3733015, rel=1e-6)  # the loss at w = 0
    assert "global_step/sec" not in events.Tags()["scalars"]  # every 100 steps by default


class CountingHook(tf.train.SessionRunHook):
    """Asks for a tensor each run and records what it is given and the calls it sees."""

    def __init__(self, tensor):
        self.tensor = tensor
        self.calls = []
        self.results = []

    def begin(self):
        self.calls.append("begin")

    def after_create_session(self, session, coord):
        self.calls.append("after_create_session")

    def before_run(self, run_context):
        self.calls.append("before_run")
        return tf.train.SessionRunArgs({"value": self.tensor})

    def after_run(self, run_context, run_values):
        self.calls.append("after_run")
        self.results.append(run_values.results)
        if len(self.results) == 3:
            run_context.request_stop()

    def end(self, session):
        self.calls.append("end")


def test_a_run_is_one_session_run_with_the_hooks_fetches(monkeypatch):
    x, y, loss, train, global_step = regression()
    doubled = loss * 2.0
    hook = CountingHook(doubled)
    with tf.train.MonitoredSession(hooks=[hook]) as session:
        raw_runs = []
        raw = session._tf_sess()
        original_run = raw.run
        monkeypatch.setattr(raw, "run", lambda *a, **k: raw_runs.append(a[0]) or original_run(*a, **k))
        losses = []
        while not session.should_stop():
            losses.append(session.run(loss, {x: X, y: Y}))
        with pytest.raises(RuntimeError, match="Run called even after should_stop requested."):
            session.run(loss, {x: X, y: Y})
    assert len(raw_runs) == 3  # the caller's and the hook's fetches together
    assert [r["value"] for r in hook.results] == [2 * value for value in losses]
    assert hook.calls == ["begin", "after_create_session"] + ["before_run", "after_run"] * 3 + ["end"]


def test_the_session_initialises_global_and_local_variables():
    values = tf.placeholder(tf.float32, [None])
    mean, update = tf.metrics.mean(values)
    tf.Variable(3.0, name="v")
    with tf.train.MonitoredSession() as session:
        assert session.run(update, {values: [1.0, 3.0]}) == 2.0
        assert session.run(tf.global_variables()[0]) == 3.0
    assert tf.get_default_graph().finalized


def test_end_of_input_leaves_the_with_block_quietly():
    with tf.train.MonitoredSession() as session:
        raise tf.errors.OutOfRangeError(None, None, "End of sequence")
    assert session.should_stop()


def test_logging_tensor_hook_formatter_and_at_end(caplog):
    x, y, loss, train, global_step = regression()
    hook = tf.train.LoggingTensorHook(["w:0"], at_end=True, formatter=lambda v: repr(v["w:0"].ravel().tolist()))
    with caplog.at_level(logging.INFO, logger="graphc"):
        with tf.train.MonitoredSession(hooks=[hook]) as session:
            session.run(train, {x: X, y: Y})
    expected = 0.1 * 2 / len(X) * (X.T @ Y)  # one step of gradient descent from w = 0
    logged = np.array(eval(caplog.records[-1].getMessage()))
    np.testing.assert_allclose(logged, expected.ravel(), rtol=1e-6)
    assert len(caplog.records) == 1
    with pytest.raises(ValueError, match="either at_end and/or exactly one of every_n_iter and every_n_secs"):
        tf.train.LoggingTensorHook(["loss:0"])
    with pytest.raises(ValueError, match="invalid every_n_iter=0."):
        tf.train.LoggingTensorHook(["loss:0"], every_n_iter=0)


def test_nan_tensor_hook_fails_or_stops():
    value = tf.placeholder(tf.float32, [])
    tf.train.get_or_create_global_step()
    with tf.train.MonitoredSession(hooks=[tf.train.NanTensorHook(value)]) as session:
        with pytest.raises(tf.train.NanLossDuringTrainingError, match="NaN loss during training."):
            session.run(value, {value: np.nan})
    tf.reset_default_graph()
    value = tf.placeholder(tf.float32, [])
    with tf.train.MonitoredSession(hooks=[tf.train.NanTensorHook(value, fail_on_nan_loss=False)]) as session:
        session.run(value, {value: 1.0})
        assert not session.should_stop()
        session.run(value, {value: np.nan})
        assert session.should_stop()


def test_feeds_of_hooks_and_caller_may_not_collide():
    value = tf.placeholder(tf.float32, [])
    tripled = value * 3.0
    with tf.train.MonitoredSession(hooks=[tf.train.FeedFnHook(lambda: {value: 2.0})]) as session:
        assert session.run(tripled) == 6.0
        with pytest.raises(RuntimeError, match="Same tensor is fed by a SessionRunHook and user"):
            session.run(value, {value: 1.0})


@pytest.mark.parametrize("hook, message", [
    (lambda: tf.train.StopAtStepHook(num_steps=2), "Global step should be created to use StopAtStepHook."),
    (lambda: tf.train.CheckpointSaverHook("/tmp/x", save_steps=1), "Global step should be created to use "
                                                                   "CheckpointSaverHook."),
])
def test_hooks_that_need_a_global_step_say_so(hook, message):
    tf.Variable(1.0)
    with pytest.raises(RuntimeError, match=message):
        tf.train.MonitoredSession(hooks=[hook()])


def test_stop_at_step_hook_arguments_are_checked_as_tf1():
    with pytest.raises(ValueError, match="One of num_steps or last_step must be specified."):
        tf.train.StopAtStepHook()
    with pytest.raises(ValueError, match="Only one of num_steps or last_step can be specified."):
        tf.train.StopAtStepHook(num_steps=1, last_step=2)


# One program for graphc and TensorFlow (tf.compat.v1): two training sessions on one checkpoint_dir.
ORACLE_PROGRAM = '''
import json, os, tempfile
import numpy as np

def answers(tf):
    X = np.random.RandomState(0).rand(8, 2).astype(np.float32)
    Y = X @ np.array([[1.0], [2.0]], np.float32)
    directory = tempfile.mkdtemp()
    logged, runs = [], []
    for last_step in (7, 14):
        tf.reset_default_graph()
        x = tf.placeholder(tf.float32, [None, 2])
        y = tf.placeholder(tf.float32, [None, 1])
        w = tf.Variable(tf.zeros([2, 1]), name="w")
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y), name="mse")
        global_step = tf.train.get_or_create_global_step()
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=global_step)
        hooks = [tf.train.StopAtStepHook(last_step=last_step),
                 tf.train.LoggingTensorHook({"loss": loss, "step": global_step}, every_n_iter=3,
                                            formatter=lambda v: logged.append([int(v["step"]), float(v["loss"])]))]
        count = 0
        with tf.train.MonitoredTrainingSession(checkpoint_dir=directory, hooks=hooks, save_checkpoint_steps=5,
                                               save_summaries_steps=None) as session:
            while not session.should_stop():
                session.run(train, {x: X, y: Y})
                count += 1
        runs.append(count)
    state = tf.train.get_checkpoint_state(directory)
    return {"runs": runs, "logged": logged,
            "checkpoints": [os.path.basename(p) for p in state.all_model_checkpoint_paths]}
'''

TENSORFLOW_2_21_ANSWERS = {
    "runs": [7, 7],
    "logged": [[1, 3.3733015060424805], [4, 1.322507381439209], [7, 0.5245487689971924],
               [8, 0.3872681260108948], [11, 0.16013801097869873], [14, 0.07126969099044800]],
    "checkpoints": ["model.ckpt-0", "model.ckpt-5", "model.ckpt-7", "model.ckpt-12", "model.ckpt-14"],
}


def _assert_same_answers(ours, theirs):
    assert ours["runs"] == theirs["runs"] and ours["checkpoints"] == theirs["checkpoints"]
    assert [step for step, _ in ours["logged"]] == [step for step, _ in theirs["logged"]]
    np.testing.assert_allclose([v for _, v in ours["logged"]], [v for _, v in theirs["logged"]], rtol=1e-5)


def graphc_oracle_answers():
    namespace = {}
    exec(ORACLE_PROGRAM, namespace)
    return namespace["answers"](tf)


def test_the_training_schedule_is_tensorflow_2_21s_pinned():
    _assert_same_answers(graphc_oracle_answers(), TENSORFLOW_2_21_ANSWERS)


def test_the_training_schedule_is_tensorflows():
    script = ORACLE_PROGRAM + '''
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
print(json.dumps(answers(tf)))
'''
    theirs = json.loads(run_tensorflow(script).strip().splitlines()[-1])
    _assert_same_answers(graphc_oracle_answers(), theirs)
    _assert_same_answers(TENSORFLOW_2_21_ANSWERS, theirs)
