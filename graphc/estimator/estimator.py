"""`tf.estimator.Estimator`: train, evaluate and predict with a `model_fn`, checkpoints kept in `model_dir`.

Each call builds a new graph — the input_fn's tensors, the model_fn's ops for
the mode, a global step — and runs it in a MonitoredSession (see
train/monitored_session.py), so each training or evaluation step is one
native call: training fetches the train op and the loss with whatever the
hooks ask for; evaluation every metric's update op at once. `train` restores
the latest checkpoint of `model_dir` and goes on from its global step; it
saves as `config` says (every 600 s, or every `save_checkpoints_steps`) and
at the end. `evaluate` and `predict` restore the latest checkpoint.

Where graphc differs from TF 1.15: no `graph.pbtxt` or `.meta` files are
written to `model_dir` (graphc has no MetaGraphDef export yet); no
`export_saved_model`, warm starting or distribution strategies
(NotImplementedError naming them).
"""

from __future__ import annotations

import inspect
import logging
import os
import tempfile

import numpy as np

from graphc.core.protos import protos
from graphc.estimator.model_fn import LOSS_METRIC_KEY, EstimatorSpec, ModeKeys
from graphc.estimator.run_config import RunConfig
from graphc.frontend.graph import Graph, GraphKeys, Tensor, get_default_graph
from graphc.metrics import metrics_impl
from graphc.ops import random_ops, state_ops, summary_ops
from graphc.summary.writer_cache import FileWriterCache
from graphc.train import basic_session_run_hooks as hooks_lib
from graphc.train import monitored_session, training_util
from graphc.train.checkpoint_utils import list_variables, load_variable
from graphc.train.saver import Saver, latest_checkpoint
from graphc.train.session_run_hook import SessionRunHook

_log = logging.getLogger(__name__)


class Estimator:
    """Trains, evaluates and predicts with `model_fn(features, labels, mode, params, config)` (it may take
    any of the last four), which returns an EstimatorSpec; `params` is passed on, `config` is a RunConfig."""

    def __init__(self, model_fn, model_dir=None, config=None, params=None, warm_start_from=None):
        if warm_start_from is not None:
            raise NotImplementedError("graphc's Estimator does not warm-start (warm_start_from)")
        config = config or RunConfig()
        if not isinstance(config, RunConfig):
            raise ValueError(f"config must be an instance of `RunConfig`, but provided {config}.")
        if model_dir is not None and config.model_dir is not None and str(model_dir) != config.model_dir:
            raise ValueError(f"`model_dir` are set both in constructor and `RunConfig`, but with different "
                             f"values. In constructor: '{model_dir}', in `RunConfig`: '{config.model_dir}' ")
        model_dir = model_dir if model_dir is not None else config.model_dir
        if model_dir is None:
            model_dir = tempfile.mkdtemp()
            _log.warning("Using temporary folder as model directory: %s", model_dir)
        self._config = config.replace(model_dir=str(model_dir))
        self._model_dir = str(model_dir)
        self._model_fn = model_fn
        self._params = dict(params or {})
        _model_fn_arguments(model_fn)  # checked now, as TF1 does

    model_dir = property(lambda self: self._model_dir)
    config = property(lambda self: self._config)
    params = property(lambda self: dict(self._params))
    model_fn = property(lambda self: self._model_fn)

    def get_variable_names(self) -> list:
        """The names of the variables in the latest checkpoint."""
        return [name for name, _ in list_variables(self._latest_checkpoint_or_fail())]

    def get_variable_value(self, name):
        """The value of variable `name` in the latest checkpoint."""
        return load_variable(self._latest_checkpoint_or_fail(), name)

    def eval_dir(self, name=None) -> str:
        """Where `evaluate(name=name)` writes its summaries: `model_dir/eval` or `model_dir/eval_NAME`."""
        return os.path.join(self._model_dir, "eval" if not name else f"eval_{name}")

    def latest_checkpoint(self):
        """The prefix of the latest checkpoint in `model_dir`, or None."""
        return latest_checkpoint(self._model_dir)

    def _latest_checkpoint_or_fail(self):
        path = self.latest_checkpoint()
        if path is None:
            raise ValueError(f"Could not find trained model in model_dir: {self._model_dir}.")
        return path

    # -- train ------------------------------------------------------------------------------

    def train(self, input_fn, hooks=None, steps=None, max_steps=None, saving_listeners=None):
        """Trains for `steps` more steps, or until the global step is `max_steps`, or until the input ends;
        starts from the latest checkpoint of `model_dir`. Returns self."""
        if steps is not None and max_steps is not None:
            raise ValueError("Can not provide both steps and max_steps.")
        if steps is not None and steps <= 0:
            raise ValueError(f"Must specify steps > 0, given: {steps}")
        if max_steps is not None and max_steps <= 0:
            raise ValueError(f"Must specify max_steps > 0, given: {max_steps}")
        if max_steps is not None and max_steps <= self._saved_global_step():
            _log.info("Skipping training since max_steps has already saved.")
            return self
        hooks = _checked_hooks(hooks)
        if steps is not None or max_steps is not None:
            hooks.append(hooks_lib.StopAtStepHook(steps, max_steps))
        with Graph().as_default():
            global_step = self._new_graph()
            features, labels = _input(input_fn, ModeKeys.TRAIN, self._params, self._config)
            spec = self._call_model_fn(features, labels, ModeKeys.TRAIN)
            loss = self._train_with_spec(spec, hooks, global_step, saving_listeners)
        _log.info("Loss for final step: %s.", loss)
        return self

    def _train_with_spec(self, spec, hooks, global_step, saving_listeners):
        graph = get_default_graph()
        if not any(s.op.name == "loss" for s in graph.get_collection(GraphKeys.SUMMARIES)):
            summary_ops.scalar("loss", spec.loss)
        graph.add_to_collection(GraphKeys.LOSSES, spec.loss)
        config = self._config
        worker_hooks = list(hooks) + [hooks_lib.NanTensorHook(spec.loss)]
        if config.log_step_count_steps is not None:
            worker_hooks.append(hooks_lib.LoggingTensorHook({"loss": spec.loss, "step": global_step},
                                                            every_n_iter=config.log_step_count_steps))
        worker_hooks.extend(spec.training_hooks)
        if spec.scaffold.saver is None and not graph.get_collection(GraphKeys.SAVERS):
            graph.add_to_collection(GraphKeys.SAVERS, Saver(
                max_to_keep=config.keep_checkpoint_max,
                keep_checkpoint_every_n_hours=config.keep_checkpoint_every_n_hours))
        saver_hooks = [h for h in worker_hooks + list(spec.training_chief_hooks)
                       if isinstance(h, hooks_lib.CheckpointSaverHook)]
        chief_hooks = []
        if (config.save_checkpoints_secs or config.save_checkpoints_steps) and not saver_hooks:
            chief_hooks = [hooks_lib.CheckpointSaverHook(self._model_dir, save_secs=config.save_checkpoints_secs,
                                                         save_steps=config.save_checkpoints_steps,
                                                         scaffold=spec.scaffold, listeners=saving_listeners)]
        elif saving_listeners:
            if not saver_hooks:
                raise ValueError("There should be a CheckpointSaverHook to use saving_listeners. Please set one "
                                 "of the RunConfig.save_checkpoints_steps or RunConfig.save_checkpoints_secs.")
            saver_hooks[0]._listeners.extend(saving_listeners)
        loss = None
        with monitored_session.MonitoredTrainingSession(
                checkpoint_dir=self._model_dir, scaffold=spec.scaffold, hooks=worker_hooks,
                chief_only_hooks=chief_hooks + list(spec.training_chief_hooks),
                save_checkpoint_secs=0,  # the CheckpointSaverHook above saves
                save_summaries_steps=config.save_summary_steps, config=config.session_config,
                log_step_count_steps=config.log_step_count_steps) as session:
            while not session.should_stop():
                _, loss = session.run([spec.train_op, spec.loss])
        if loss is None:
            _log.warning("Training with estimator made no steps. Perhaps input is empty or misspecified.")
        return loss

    # -- evaluate ---------------------------------------------------------------------------

    def evaluate(self, input_fn, steps=None, hooks=None, checkpoint_path=None, name=None) -> dict:
        """Runs every metric's update op over the input (or `steps` batches) on the latest checkpoint (or
        `checkpoint_path`); returns {metric name: value, 'loss': mean loss, 'global_step': step} and writes
        them as summaries to `model_dir/eval` (`eval_NAME` with `name`)."""
        if steps is not None and steps <= 0:
            raise ValueError(f"Must specify steps > 0, given: {steps}")
        hooks = _checked_hooks(hooks)
        checkpoint_path = self._checkpoint_to_restore(checkpoint_path, "evaluate")
        with Graph().as_default():
            global_step = self._new_graph()
            features, labels = _input(input_fn, ModeKeys.EVAL, self._params, self._config)
            spec = self._call_model_fn(features, labels, ModeKeys.EVAL)
            metric_ops = dict(spec.eval_metric_ops)
            if LOSS_METRIC_KEY in metric_ops:
                raise ValueError("Metric with name \"loss\" is not allowed, because Estimator already defines a "
                                 "default metric with the same name.")
            metric_ops[LOSS_METRIC_KEY] = metrics_impl.mean(spec.loss)
            update_op = state_ops.group(*[update for _, update in metric_ops.values()])
            final_ops = {key: value for key, (value, _) in metric_ops.items()}
            final_ops["global_step"] = global_step
            final_hook = _FinalOpsHook(final_ops)
            all_hooks = hooks + list(spec.evaluation_hooks) + [final_hook]
            if steps is not None:
                all_hooks.insert(0, _StopAfterNEvalsHook(steps))
            creator = self._session_creator(spec, checkpoint_path)
            with monitored_session.MonitoredSession(session_creator=creator, hooks=all_hooks) as session:
                while not session.should_stop():
                    session.run(update_op)
        results = dict(final_hook.final_values)
        _log.info("Saving dict for global step %d: %s", results["global_step"],
                  ", ".join(f"{k} = {results[k]}" for k in sorted(results)))
        self._write_eval_summary(results, name)
        return results

    def _write_eval_summary(self, results, name):
        writer = FileWriterCache.get(self.eval_dir(name))
        summary = protos().summary_pb2.Summary
        values = [summary.Value(tag=key, simple_value=float(value)) for key, value in results.items()
                  if key != "global_step" and np.ndim(value) == 0]
        writer.add_summary(summary(value=values), results["global_step"])
        writer.flush()

    # -- predict ----------------------------------------------------------------------------

    def predict(self, input_fn, predict_keys=None, hooks=None, checkpoint_path=None, yield_single_examples=True):
        """Yields the model's predictions on the input, one example at a time (a dict when the model_fn's
        predictions are a dict, restricted to `predict_keys`), or one batch at a time."""
        hooks = _checked_hooks(hooks)
        checkpoint_path = self._checkpoint_to_restore(checkpoint_path, "predict")
        with Graph().as_default():
            self._new_graph()
            features, _ = _input(input_fn, ModeKeys.PREDICT, self._params, self._config)
            spec = self._call_model_fn(features, None, ModeKeys.PREDICT)
            predictions = _selected(spec.predictions, predict_keys)
            creator = self._session_creator(spec, checkpoint_path)
            with monitored_session.MonitoredSession(session_creator=creator,
                                                    hooks=hooks + list(spec.prediction_hooks)) as session:
                while not session.should_stop():
                    batch = session.run(predictions)
                    if not yield_single_examples:
                        yield batch
                    elif not isinstance(batch, dict):
                        yield from batch
                    else:
                        for i in range(_batch_length(batch)):
                            yield {key: value[i] for key, value in batch.items()}

    # -- shared -----------------------------------------------------------------------------

    def _new_graph(self):
        """Seeds the new default graph as `config` says; its global step."""
        if self._config.tf_random_seed is not None:
            random_ops.set_random_seed(self._config.tf_random_seed)
        return training_util.create_global_step()

    def _checkpoint_to_restore(self, checkpoint_path, verb):
        """`checkpoint_path`, else the latest checkpoint of model_dir, else None (and the variables start
        from their initializers, as TF1 says)."""
        checkpoint_path = checkpoint_path or self.latest_checkpoint()
        if checkpoint_path is None:
            _log.info("Could not find trained model in model_dir: %s, running initialization to %s.",
                      self._model_dir, verb)
        return checkpoint_path

    def _session_creator(self, spec, checkpoint_path):
        return monitored_session.ChiefSessionCreator(scaffold=spec.scaffold,
                                                     checkpoint_filename_with_path=checkpoint_path,
                                                     config=self._config.session_config)

    def _saved_global_step(self) -> int:
        path = self.latest_checkpoint()
        return 0 if path is None else int(load_variable(path, "global_step"))

    def _call_model_fn(self, features, labels, mode):
        arguments = _model_fn_arguments(self._model_fn)
        kwargs = {}
        if "labels" in arguments:
            kwargs["labels"] = labels
        elif labels is not None:
            raise ValueError("model_fn does not take labels, but input_fn returns labels.")
        if "mode" in arguments:
            kwargs["mode"] = mode
        if "params" in arguments:
            kwargs["params"] = self._params
        if "config" in arguments:
            kwargs["config"] = self._config
        spec = self._model_fn(features=features, **kwargs)
        if not isinstance(spec, EstimatorSpec):
            raise ValueError("model_fn should return an EstimatorSpec.")
        return spec


def _model_fn_arguments(model_fn) -> set:
    arguments = set(inspect.signature(model_fn).parameters)
    if "features" not in arguments:
        raise ValueError(f"model_fn ({model_fn}) must include features argument.")
    return arguments


def _checked_hooks(hooks) -> list:
    hooks = list(hooks or [])
    for hook in hooks:
        if not isinstance(hook, SessionRunHook):
            raise TypeError(f"All hooks must be SessionRunHook instances, given: {hook}")
    return hooks


def _input(input_fn, mode, params, config):
    """(features, labels) from `input_fn` (called with whichever of mode, params, config it takes): it may
    return (features, labels), features alone, or a tf.data Dataset of either (read by a one-shot iterator)."""
    arguments = set(inspect.signature(input_fn).parameters)
    kwargs = {key: value for key, value in (("mode", mode), ("params", params), ("config", config))
              if key in arguments}
    result = input_fn(**kwargs)
    if hasattr(result, "make_one_shot_iterator"):  # a tf.data Dataset (graphc.data)
        result = result.make_one_shot_iterator().get_next()
    if isinstance(result, (tuple, list)):
        if len(result) != 2:
            raise ValueError(f"input_fn should return (features, labels) as a len 2 tuple, got {len(result)}.")
        return result[0], result[1]
    if isinstance(result, (Tensor, dict)):
        return result, None
    raise TypeError(f"input_fn must return features (a Tensor or a dict of them), a (features, labels) tuple, or "
                    f"a tf.data Dataset of them; it returned {type(result).__name__}")


def _selected(predictions, keys):
    if keys is None:
        return predictions
    if not isinstance(predictions, dict):
        raise ValueError("predict_keys argument is not valid in case of non-dict predictions.")
    keys = [keys] if isinstance(keys, str) else list(keys)
    missing = [k for k in keys if k not in predictions]
    if missing:
        raise ValueError(f"Expected to run at least one output from {sorted(predictions)}, provided {keys}.")
    return {key: predictions[key] for key in keys}


def _batch_length(batch: dict) -> int:
    lengths = {key: len(value) if np.ndim(value) else None for key, value in batch.items()}
    if None in lengths.values() or len(set(lengths.values())) != 1:
        raise ValueError(f"Batch length of predictions should be same and at least rank 1: {lengths}. To predict "
                         "whole batches, use yield_single_examples=False.")
    return next(iter(lengths.values()))


class _FinalOpsHook(SessionRunHook):
    """Reads `final_ops` (the metrics' values) when the evaluation's session ends, the input spent or not."""

    def __init__(self, final_ops):
        self._final_ops = final_ops
        self.final_values = None

    def end(self, session):
        self.final_values = session.run(self._final_ops)


class _StopAfterNEvalsHook(SessionRunHook):
    """Stops an evaluation after `num_evals` runs, logging its progress as TF1 does."""

    def __init__(self, num_evals):
        self._num_evals = num_evals
        self._evals_completed = 0

    def after_run(self, run_context, run_values):
        self._evals_completed += 1
        _log.info("Evaluation [%d/%d]", self._evals_completed, self._num_evals)
        if self._evals_completed >= self._num_evals:
            run_context.request_stop()
