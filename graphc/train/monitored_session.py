"""TF1's MonitoredSession: a session that initialises or restores itself, calls hooks around each run, and
knows when to stop; `MonitoredTrainingSession` adds the standard checkpoint, summary and step-rate hooks.

A run of a MonitoredSession is one `Session.run`, so one native call: the
caller's fetches and those every hook asks for in `before_run` are fetched
together, and each hook gets its share back. The session is made by a
session creator: `ChiefSessionCreator` finalises the Scaffold (init ops, saver,
summary op), restores the latest checkpoint of `checkpoint_dir` if there is
one — else runs the initializers — then runs the local initializer, and
checks that every variable is initialised.

Where graphc differs from TF1: there is one process (no workers, no
`WorkerSessionCreator` waiting for a chief), so `master`, `is_chief=False`
and `stop_grace_period_secs` change nothing, and no session is recreated
after an AbortedError (TF1's recoverable session): errors go to the caller.
Hooks' `after_create_session` gets `coord=None` (graphc has no queue runners
to coordinate).
"""

from __future__ import annotations

import logging

from graphc import errors
from graphc.frontend.default_session import new_session
from graphc.frontend.graph import GraphKeys, get_default_graph
from graphc.ops import state_ops, summary_ops
from graphc.ops.variables import (global_variables, global_variables_initializer, local_variables_initializer,
                                  report_uninitialized_variables)
from graphc.train import basic_session_run_hooks as hooks_module
from graphc.train.saver import Saver, get_checkpoint_state, latest_checkpoint
from graphc.train.session_run_hook import SessionRunArgs, SessionRunContext, SessionRunValues

_log = logging.getLogger(__name__)

_USE_DEFAULT = object()


class Scaffold:
    """The ops a training session needs besides the model: how to initialise, check, summarise and save it.

    Every one left None is made by `finalize()` (called by the session
    creator) from the graph's collections, or TF1's default: the global and
    the local variables' initializers, `report_uninitialized_variables`,
    `merge_all` of the summaries, a Saver of the global variables.
    """

    def __init__(self, init_op=None, init_feed_dict=None, init_fn=None, ready_op=None, ready_for_local_init_op=None,
                 local_init_op=None, summary_op=None, saver=None, copy_from_scaffold=None):
        if copy_from_scaffold is not None:
            init_op = init_op or copy_from_scaffold.init_op
            init_feed_dict = init_feed_dict or copy_from_scaffold.init_feed_dict
            init_fn = init_fn or copy_from_scaffold.init_fn
            ready_op = ready_op or copy_from_scaffold.ready_op
            local_init_op = local_init_op or copy_from_scaffold.local_init_op
            summary_op = summary_op or copy_from_scaffold.summary_op
            saver = saver or copy_from_scaffold.saver
        self._init_op = init_op
        self._init_feed_dict = init_feed_dict
        self._init_fn = init_fn
        self._ready_op = ready_op
        self._ready_for_local_init_op = ready_for_local_init_op
        self._local_init_op = local_init_op
        self._summary_op = summary_op
        self._saver = saver

    def finalize(self):
        """Makes the missing ops, then finalises the graph (no op may be added after)."""
        graph = get_default_graph()
        if self._init_op is None:
            self._init_op = _from_collection(GraphKeys.INIT_OP) or global_variables_initializer()
        if self._ready_op is None:
            self._ready_op = report_uninitialized_variables()
        if self._local_init_op is None:
            self._local_init_op = (_from_collection("local_init_op")
                                   or state_ops.group(local_variables_initializer(), name="group_deps"))
        if self._summary_op is None:
            self._summary_op = _from_collection("summary_op") or summary_ops.merge_all()
        if self._saver is None:
            self._saver = _from_collection(GraphKeys.SAVERS)
            if self._saver is None and global_variables():
                self._saver = Saver()
                graph.add_to_collection(GraphKeys.SAVERS, self._saver)
        graph.finalize()
        return self

    @property
    def init_op(self):
        return self._init_op

    @property
    def init_feed_dict(self):
        return self._init_feed_dict

    @property
    def init_fn(self):
        return self._init_fn

    @property
    def ready_op(self):
        return self._ready_op

    @property
    def ready_for_local_init_op(self):
        return self._ready_for_local_init_op

    @property
    def local_init_op(self):
        return self._local_init_op

    @property
    def summary_op(self):
        return self._summary_op

    @property
    def saver(self):
        return self._saver


def _from_collection(key):
    """The one item of collection `key`, None if it is empty; RuntimeError if it holds several."""
    items = get_default_graph().get_collection(key)
    if len(items) > 1:
        raise RuntimeError(f"More than one item in collection {key}. Please indicate which one to use by "
                           "passing it to the constructor.")
    return items[0] if items else None


class ChiefSessionCreator:
    """Makes the session: restores the latest checkpoint of `checkpoint_dir` (or the checkpoint
    `checkpoint_filename_with_path`), else runs the Scaffold's init op and init_fn; then its local init op."""

    def __init__(self, scaffold=None, master="", config=None, checkpoint_dir=None,
                 checkpoint_filename_with_path=None):
        self._scaffold = scaffold or Scaffold()
        self._master = master
        self._config = config
        self._checkpoint_dir = checkpoint_dir
        self._checkpoint_filename_with_path = checkpoint_filename_with_path

    def create_session(self):
        scaffold = self._scaffold.finalize()
        session = new_session(get_default_graph(), self._config, self._master)
        path = self._checkpoint_filename_with_path
        if path is None and self._checkpoint_dir:
            path = latest_checkpoint(self._checkpoint_dir)
        if path is not None and scaffold.saver is not None:
            scaffold.saver.restore(session, path)
            _log.info("Restoring parameters from %s", path)
            state = get_checkpoint_state(self._checkpoint_dir) if self._checkpoint_dir else None
            if state is not None:  # so that the saver goes on deleting the oldest beyond max_to_keep
                scaffold.saver.recover_last_checkpoints(state.all_model_checkpoint_paths)
        else:
            session.run(scaffold.init_op, feed_dict=scaffold.init_feed_dict)
            if scaffold.init_fn is not None:
                scaffold.init_fn(scaffold, session)
        session.run(scaffold.local_init_op)
        not_ready = session.run(scaffold.ready_op)
        if len(not_ready):
            names = ", ".join(name.decode() for name in not_ready)
            raise RuntimeError(f"Init operations did not make model ready. Init op: {scaffold.init_op.name}, "
                               f"init fn: {scaffold.init_fn}, error: Variables not initialized: {names}")
        return session


class MonitoredSession:
    """A session whose `run` calls the hooks and which stops when one asks (`should_stop()`).

    Use it as a context manager: leaving the `with` block calls every hook's
    `end` (unless an error is leaving it) and closes the session; an
    OutOfRangeError or StopIteration leaving it (the end of the input) is
    swallowed, as in TF1.
    """

    def __init__(self, session_creator=None, hooks=None, stop_grace_period_secs=120):
        self._hooks = list(hooks or [])
        for hook in self._hooks:
            hook.begin()
        self._session = (session_creator or ChiefSessionCreator()).create_session()
        for hook in self._hooks:
            hook.after_create_session(self._session, None)
        self._should_stop = False
        self._closed = False

    @property
    def graph(self):
        return self._session.graph

    def _tf_sess(self):
        return self._session

    def should_stop(self) -> bool:
        """Whether a hook requested a stop (or the session is closed)."""
        return self._closed or self._should_stop

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Runs `fetches` and every hook's requests in one Session.run; returns the values of `fetches`."""
        if self.should_stop():
            raise RuntimeError("Run called even after should_stop requested.")
        context = SessionRunContext(SessionRunArgs(fetches, feed_dict), self._session)
        all_fetches = {"caller": fetches}
        all_feeds = dict(feed_dict or {})
        hook_feeds: dict = {}
        for hook in self._hooks:
            request = hook.before_run(context)
            if request is None:
                continue
            if request.fetches is not None:
                all_fetches[hook] = request.fetches
            for key, value in (request.feed_dict or {}).items():
                if key in hook_feeds:
                    raise RuntimeError(f"Same tensor is fed by two hooks: {key}")
                if feed_dict and key in feed_dict:
                    raise RuntimeError(f"Same tensor is fed by a SessionRunHook and user: {key}")
                hook_feeds[key] = value
        all_feeds.update(hook_feeds)
        outputs = self._session.run(all_fetches, feed_dict=all_feeds or None, options=options,
                                    run_metadata=run_metadata)
        for hook in self._hooks:
            hook.after_run(context, SessionRunValues(outputs.get(hook), options, run_metadata))
        self._should_stop = self._should_stop or context.stop_requested
        return outputs["caller"]

    def run_step_fn(self, step_fn):
        """Calls `step_fn(step_context)`: it may run with the hooks (`step_context.run_with_hooks`), run on
        the raw session (`step_context.session`) or `step_context.request_stop()`."""
        return step_fn(_StepContext(self))

    def close(self) -> None:
        self._close(error=False)

    def _close(self, error: bool) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if not error:
                for hook in self._hooks:
                    hook.end(self._session)
        finally:
            self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, exception_type, exception_value, traceback):
        if exception_type in (errors.OutOfRangeError, StopIteration):
            exception_type = None
        self._close(error=exception_type is not None)
        return exception_type is None


class SingularMonitoredSession(MonitoredSession):
    """A MonitoredSession made by a ChiefSessionCreator from its arguments; `raw_session()` is the Session."""

    def __init__(self, hooks=None, scaffold=None, master="", config=None, checkpoint_dir=None,
                 stop_grace_period_secs=120, checkpoint_filename_with_path=None):
        creator = ChiefSessionCreator(scaffold=scaffold, master=master, config=config, checkpoint_dir=checkpoint_dir,
                                      checkpoint_filename_with_path=checkpoint_filename_with_path)
        super().__init__(creator, hooks, stop_grace_period_secs)

    def raw_session(self):
        return self._session


class _StepContext:
    """What `run_step_fn`'s function gets: the raw session, a run with hooks, a stop request."""

    def __init__(self, monitored_session):
        self._monitored_session = monitored_session

    @property
    def session(self):
        return self._monitored_session._session

    def run_with_hooks(self, *args, **kwargs):
        return self._monitored_session.run(*args, **kwargs)

    def request_stop(self):
        self._monitored_session._should_stop = True


def MonitoredTrainingSession(master="", is_chief=True, checkpoint_dir=None, scaffold=None, hooks=None,  # noqa: N802
                             chief_only_hooks=None, save_checkpoint_secs=_USE_DEFAULT,
                             save_summaries_steps=_USE_DEFAULT, save_summaries_secs=_USE_DEFAULT, config=None,
                             stop_grace_period_secs=120, log_step_count_steps=100, max_wait_secs=7200,
                             save_checkpoint_steps=_USE_DEFAULT, summary_dir=None):
    """`tf.train.MonitoredTrainingSession`: a MonitoredSession that restores from and saves checkpoints to
    `checkpoint_dir` (every 600 s by default, or `save_checkpoint_steps`), writes summaries every
    `save_summaries_steps` (100) steps and the step rate every `log_step_count_steps` (100) to
    `summary_dir` (default `checkpoint_dir`), then calls `hooks`."""
    if save_summaries_steps is _USE_DEFAULT and save_summaries_secs is _USE_DEFAULT:
        save_summaries_steps, save_summaries_secs = 100, None
    elif save_summaries_secs is _USE_DEFAULT:
        save_summaries_secs = None
    elif save_summaries_steps is _USE_DEFAULT:
        save_summaries_steps = None
    if save_checkpoint_steps is _USE_DEFAULT and save_checkpoint_secs is _USE_DEFAULT:
        save_checkpoint_steps, save_checkpoint_secs = None, 600
    elif save_checkpoint_secs is _USE_DEFAULT:
        save_checkpoint_secs = None
    elif save_checkpoint_steps is _USE_DEFAULT:
        save_checkpoint_steps = None
    scaffold = scaffold or Scaffold()
    all_hooks = list(chief_only_hooks or []) if is_chief else []
    summary_dir = summary_dir or checkpoint_dir
    if summary_dir:
        if log_step_count_steps and log_step_count_steps > 0:
            all_hooks.append(hooks_module.StepCounterHook(output_dir=summary_dir, every_n_steps=log_step_count_steps))
        if (save_summaries_steps and save_summaries_steps > 0) or (save_summaries_secs and save_summaries_secs > 0):
            all_hooks.append(hooks_module.SummarySaverHook(scaffold=scaffold, save_steps=save_summaries_steps,
                                                           save_secs=save_summaries_secs, output_dir=summary_dir))
    if checkpoint_dir and ((save_checkpoint_secs and save_checkpoint_secs > 0)
                           or (save_checkpoint_steps and save_checkpoint_steps > 0)):
        all_hooks.append(hooks_module.CheckpointSaverHook(checkpoint_dir, save_steps=save_checkpoint_steps,
                                                          save_secs=save_checkpoint_secs, scaffold=scaffold))
    all_hooks.extend(hooks or [])
    creator = ChiefSessionCreator(scaffold=scaffold, master=master, config=config, checkpoint_dir=checkpoint_dir)
    return MonitoredSession(session_creator=creator, hooks=all_hooks, stop_grace_period_secs=stop_grace_period_secs)
