"""TF1's standard hooks: logging tensors, stopping at a step, checkpoints, summaries, step rate, NaN checks.

Each asks for what it needs (the global step, the logged tensors, the
summary op) through `before_run`, so it is fetched by the training step's own
native call. As in TF1, a hook that acts on the global step (saving, stopping,
counting) reads it once more, in a run of its own, only when it is about to
act: the value fetched with the step is the one from before the step's
increment.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from graphc.core.protos import protos
from graphc.frontend.graph import get_default_graph
from graphc.summary.writer_cache import FileWriterCache
from graphc.train.session_run_hook import SessionRunArgs, SessionRunHook
from graphc.train.training_util import get_global_step

_log = logging.getLogger(__name__)


class SecondOrStepTimer:
    """Triggers every `every_secs` seconds or every `every_steps` steps (exactly one of them)."""

    def __init__(self, every_secs=None, every_steps=None):
        if (every_secs is None) == (every_steps is None):
            raise ValueError("Either every_secs or every_steps should be provided.")
        self._every_secs = every_secs
        self._every_steps = every_steps
        self._last_triggered_step = None
        self._last_triggered_time = None

    def should_trigger_for_step(self, step) -> bool:
        """Whether enough time or steps have passed since the last trigger (always, before the first)."""
        if self._last_triggered_step is None:
            return True
        if self._last_triggered_step == step:
            return False
        if self._every_secs is not None and time.time() >= self._last_triggered_time + self._every_secs:
            return True
        return self._every_steps is not None and step >= self._last_triggered_step + self._every_steps

    def update_last_triggered_step(self, step):
        """Records a trigger at `step`; (seconds, steps) since the previous one, (None, None) for the first."""
        now = time.time()
        if self._last_triggered_time is None:
            elapsed = (None, None)
        else:
            elapsed = (now - self._last_triggered_time, step - self._last_triggered_step)
        self._last_triggered_time = now
        self._last_triggered_step = step
        return elapsed

    def last_triggered_step(self):
        return self._last_triggered_step


def _require_global_step(hook_name):
    step = get_global_step()
    if step is None:
        raise RuntimeError(f"Global step should be created to use {hook_name}.")
    return step


def _step_to_act_at(timer, run_context, stale_step, global_step_tensor):
    """The global step after a run if `timer` triggers for it, else None. `stale_step`, fetched with the
    run, is the step before its increment: only when stale_step + 1 would trigger is the step read again."""
    if not timer.should_trigger_for_step(stale_step + 1):
        return None
    global_step = run_context.session.run(global_step_tensor)
    return global_step if timer.should_trigger_for_step(global_step) else None


def _graph_element(item):
    """The tensor of the default graph named by `item` ("name:0", or an op name meaning its one output), or
    `item` itself (as TF1's hooks accept names)."""
    if not isinstance(item, str):
        return item
    graph = get_default_graph()
    if ":" in item:
        return graph.get_tensor_by_name(item)
    outputs = graph.get_operation_by_name(item).outputs
    if len(outputs) != 1:
        raise ValueError(f"Name {item} is ambiguous, as this `Operation` has {len(outputs)} outputs.")
    return outputs[0]


class LoggingTensorHook(SessionRunHook):
    """Logs the values of `tensors` (a dict tag -> tensor, or a list of tensors or names) every
    `every_n_iter` runs or `every_n_secs` seconds, and/or at the end; `formatter(values)` makes the line."""

    def __init__(self, tensors, every_n_iter=None, every_n_secs=None, at_end=False, formatter=None):
        only_log_at_end = at_end and every_n_iter is None and every_n_secs is None
        if not only_log_at_end and (every_n_iter is None) == (every_n_secs is None):
            raise ValueError("either at_end and/or exactly one of every_n_iter and every_n_secs must be provided.")
        if every_n_iter is not None and every_n_iter <= 0:
            raise ValueError(f"invalid every_n_iter={every_n_iter}.")
        if isinstance(tensors, dict):
            self._tag_order = sorted(tensors)
        else:
            tensors = {item if isinstance(item, str) else item.name: item for item in tensors}
            self._tag_order = list(tensors)
        self._tensors = tensors
        self._every = None if only_log_at_end else (every_n_secs, every_n_iter)
        self._timer = None
        self._log_at_end = at_end
        self._formatter = formatter
        self._current_tensors = {}
        self._iter_count = 0
        self._should_trigger = False

    def begin(self):
        if self._every is not None:
            self._timer = SecondOrStepTimer(*self._every)
        self._iter_count = 0
        self._current_tensors = {tag: _graph_element(tensor) for tag, tensor in self._tensors.items()}

    def before_run(self, run_context):
        self._should_trigger = self._timer is not None and self._timer.should_trigger_for_step(self._iter_count)
        return SessionRunArgs(self._current_tensors) if self._should_trigger else None

    def _log_tensors(self, tensor_values):
        elapsed_secs, _ = self._timer.update_last_triggered_step(self._iter_count) if self._timer else (None, None)
        with np.printoptions(suppress=True):
            if self._formatter:
                _log.info(self._formatter(tensor_values))
                return
            stats = ", ".join(f"{tag} = {tensor_values[tag]}" for tag in self._tag_order)
            if elapsed_secs is not None:
                _log.info("%s (%.3f sec)", stats, elapsed_secs)
            else:
                _log.info("%s", stats)

    def after_run(self, run_context, run_values):
        if self._should_trigger:
            self._log_tensors(run_values.results)
        self._iter_count += 1

    def end(self, session):
        if self._log_at_end:
            self._log_tensors(session.run(self._current_tensors))


class StopAtStepHook(SessionRunHook):
    """Requests a stop once the global step reaches `last_step`, or `num_steps` steps after the session began."""

    def __init__(self, num_steps=None, last_step=None):
        if num_steps is None and last_step is None:
            raise ValueError("One of num_steps or last_step must be specified.")
        if num_steps is not None and last_step is not None:
            raise ValueError("Only one of num_steps or last_step can be specified.")
        self._num_steps = num_steps
        self._last_step = last_step
        self._global_step_tensor = None

    def begin(self):
        self._global_step_tensor = _require_global_step("StopAtStepHook")

    def after_create_session(self, session, coord):
        global_step = session.run(self._global_step_tensor)
        if self._last_step is None:
            self._last_step = global_step + self._num_steps

    def before_run(self, run_context):
        return SessionRunArgs(self._global_step_tensor)

    def after_run(self, run_context, run_values):
        if run_values.results + 1 >= self._last_step:
            # The fetched step is the one before this run's increment: read the step it left.
            if run_context.session.run(self._global_step_tensor) >= self._last_step:
                run_context.request_stop()


class CheckpointSaverHook(SessionRunHook):
    """Saves a checkpoint `checkpoint_dir/checkpoint_basename-STEP` every `save_steps` steps or `save_secs`
    seconds, once when the session is created and once at the end (TF1's schedule)."""

    def __init__(self, checkpoint_dir, save_secs=None, save_steps=None, saver=None, checkpoint_basename="model.ckpt",
                 scaffold=None, listeners=None):
        if saver is not None and scaffold is not None:
            raise ValueError("You cannot provide both saver and scaffold.")
        self._checkpoint_dir = checkpoint_dir
        self._saver = saver
        self._scaffold = scaffold
        self._save_path = os.path.join(checkpoint_dir, checkpoint_basename)
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)
        self._listeners = list(listeners or [])
        self._global_step_tensor = None
        self._summary_writer = None

    def begin(self):
        self._summary_writer = FileWriterCache.get(self._checkpoint_dir)
        self._global_step_tensor = _require_global_step("CheckpointSaverHook")
        for listener in self._listeners:
            listener.begin()

    def after_create_session(self, session, coord):
        global_step = session.run(self._global_step_tensor)
        self._summary_writer.add_graph(session.graph)
        self._save(session, global_step)
        self._timer.update_last_triggered_step(global_step)

    def before_run(self, run_context):
        return SessionRunArgs(self._global_step_tensor)

    def after_run(self, run_context, run_values):
        global_step = _step_to_act_at(self._timer, run_context, run_values.results, self._global_step_tensor)
        if global_step is not None:
            self._timer.update_last_triggered_step(global_step)
            if self._save(run_context.session, global_step):
                run_context.request_stop()

    def end(self, session):
        last_step = session.run(self._global_step_tensor)
        if last_step != self._timer.last_triggered_step():
            self._save(session, last_step)
        for listener in self._listeners:
            listener.end(session, last_step)

    def _save(self, session, step) -> bool:
        """Saves at `step`; True if a listener asks to stop training."""
        _log.info("Saving checkpoints for %d into %s.", step, self._save_path)
        for listener in self._listeners:
            listener.before_save(session, step)
        path = self._get_saver().save(session, self._save_path, global_step=step)
        session_log = protos().event_pb2.SessionLog
        self._summary_writer.add_session_log(session_log(status=session_log.CHECKPOINT, checkpoint_path=path), step)
        self._summary_writer.flush()
        return any([listener.after_save(session, step) for listener in self._listeners])

    def _get_saver(self):
        if self._saver is not None:
            return self._saver
        if self._scaffold is not None:
            return self._scaffold.saver
        savers = get_default_graph().get_collection("savers")
        if len(savers) != 1:
            raise RuntimeError(f"There should be exactly one saver in the SAVERS collection; found {len(savers)}: "
                               "pass saver= or scaffold= to CheckpointSaverHook")
        return savers[0]


class CheckpointSaverListener:
    """Called around each save of a CheckpointSaverHook; `after_save` returning True stops training."""

    def begin(self):
        pass

    def before_save(self, session, global_step_value):
        pass

    def after_save(self, session, global_step_value):
        pass

    def end(self, session, global_step_value):
        pass


class StepCounterHook(SessionRunHook):
    """Logs and records (summary `global_step/sec`) the training speed every `every_n_steps` steps or
    `every_n_secs` seconds."""

    def __init__(self, every_n_steps=100, every_n_secs=None, output_dir=None, summary_writer=None):
        if (every_n_steps is None) == (every_n_secs is None):
            raise ValueError("exactly one of every_n_steps and every_n_secs should be provided.")
        self._timer = SecondOrStepTimer(every_steps=every_n_steps, every_secs=every_n_secs)
        self._output_dir = output_dir
        self._summary_writer = summary_writer
        self._global_step_tensor = None
        self._summary_tag = None

    def begin(self):
        if self._summary_writer is None and self._output_dir:
            self._summary_writer = FileWriterCache.get(self._output_dir)
        self._global_step_tensor = _require_global_step("StepCounterHook")
        self._summary_tag = self._global_step_tensor.op.name + "/sec"

    def before_run(self, run_context):
        return SessionRunArgs(self._global_step_tensor)

    def after_run(self, run_context, run_values):
        global_step = _step_to_act_at(self._timer, run_context, run_values.results, self._global_step_tensor)
        if global_step is not None:
            elapsed_time, elapsed_steps = self._timer.update_last_triggered_step(global_step)
            if elapsed_time is not None:
                self._log_and_record(elapsed_steps, elapsed_time, global_step)

    def _log_and_record(self, elapsed_steps, elapsed_time, global_step):
        steps_per_sec = elapsed_steps / elapsed_time
        if self._summary_writer is not None:
            summary = protos().summary_pb2.Summary
            self._summary_writer.add_summary(
                summary(value=[summary.Value(tag=self._summary_tag, simple_value=steps_per_sec)]), global_step)
        _log.info("%s: %g", self._summary_tag, steps_per_sec)


class NanLossDuringTrainingError(RuntimeError):
    """Raised by NanTensorHook when the loss is NaN."""

    def __str__(self):
        return "NaN loss during training."


class NanTensorHook(SessionRunHook):
    """Fails (NanLossDuringTrainingError) or requests a stop when `loss_tensor` is NaN."""

    def __init__(self, loss_tensor, fail_on_nan_loss=True):
        self._loss_tensor = loss_tensor
        self._fail_on_nan_loss = fail_on_nan_loss

    def before_run(self, run_context):
        return SessionRunArgs(self._loss_tensor)

    def after_run(self, run_context, run_values):
        if np.isnan(run_values.results):
            message = "Model diverged with loss = NaN."
            if self._fail_on_nan_loss:
                _log.error(message)
                raise NanLossDuringTrainingError
            _log.warning(message)
            run_context.request_stop()


class SummarySaverHook(SessionRunHook):
    """Writes the summaries of `summary_op` (or the scaffold's) to `output_dir` every `save_steps` steps or
    `save_secs` seconds, with a SessionLog START first."""

    def __init__(self, save_steps=None, save_secs=None, output_dir=None, summary_writer=None, scaffold=None,
                 summary_op=None):
        if (scaffold is None) == (summary_op is None):
            raise ValueError("Exactly one of scaffold or summary_op must be provided.")
        self._summary_op = summary_op
        self._scaffold = scaffold
        self._summary_writer = summary_writer
        self._output_dir = output_dir
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)
        self._next_step = None
        self._request_summary = False
        self._global_step_tensor = None

    def begin(self):
        if self._summary_writer is None and self._output_dir:
            self._summary_writer = FileWriterCache.get(self._output_dir)
        self._next_step = None
        self._global_step_tensor = _require_global_step("SummarySaverHook")

    def _get_summary_op(self):
        return self._summary_op if self._summary_op is not None else self._scaffold.summary_op

    def before_run(self, run_context):
        self._request_summary = self._next_step is None or self._timer.should_trigger_for_step(self._next_step)
        requests = {"global_step": self._global_step_tensor}
        if self._request_summary and self._get_summary_op() is not None:
            requests["summary"] = self._get_summary_op()
        return SessionRunArgs(requests)

    def after_run(self, run_context, run_values):
        if self._summary_writer is None:
            return
        results = run_values.results
        global_step = results["global_step"] + 1
        if self._next_step is None or self._request_summary:
            global_step = run_context.session.run(self._global_step_tensor)
        if self._next_step is None:
            session_log = protos().event_pb2.SessionLog
            self._summary_writer.add_session_log(session_log(status=session_log.START), global_step)
        if self._request_summary:
            self._timer.update_last_triggered_step(global_step)
            if "summary" in results:
                self._summary_writer.add_summary(results["summary"], global_step)
        self._next_step = global_step + 1

    def end(self, session=None):
        if self._summary_writer is not None:
            self._summary_writer.flush()


class FeedFnHook(SessionRunHook):
    """Adds the feed dict `feed_fn()` returns to every run."""

    def __init__(self, feed_fn):
        self.feed_fn = feed_fn

    def before_run(self, run_context):
        return SessionRunArgs(fetches=None, feed_dict=self.feed_fn())
