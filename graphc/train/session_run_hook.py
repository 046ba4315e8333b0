"""TF1's SessionRunHook protocol: what a training loop calls around each `run` of a MonitoredSession.

A hook's `before_run` may ask for extra fetches and feeds (a `SessionRunArgs`);
the MonitoredSession adds them to the caller's, so the caller's fetches and
every hook's are computed by one `Session.run` — one native call — and each
hook gets its own results back in `after_run` (a `SessionRunValues`).
"""

from __future__ import annotations

import collections


class SessionRunHook:
    """The hook interface; every method does nothing by default (`tf.train.SessionRunHook`)."""

    def begin(self):
        """Called once before the session is created: the graph may still be changed here."""

    def after_create_session(self, session, coord):
        """Called once the session is created and its variables initialised or restored."""

    def before_run(self, run_context):
        """Called before each run: may return a SessionRunArgs of fetches and feeds to add to it."""
        return None

    def after_run(self, run_context, run_values):
        """Called after each run with this hook's results; may `run_context.request_stop()`."""

    def end(self, session):
        """Called once when the session closes without an error."""


class SessionRunArgs(collections.namedtuple("SessionRunArgs", ["fetches", "feed_dict", "options"])):
    """What a hook adds to a run: fetches (any structure Session.run takes), a feed dict, run options."""

    def __new__(cls, fetches, feed_dict=None, options=None):
        return super().__new__(cls, fetches, feed_dict, options)


class SessionRunValues(collections.namedtuple("SessionRunValues", ["results", "options", "run_metadata"])):
    """What a hook gets back: the values of its fetches, in their structure."""


class SessionRunContext:
    """The run in progress, as hooks see it: the caller's arguments, the session, and a way to stop."""

    def __init__(self, original_args, session):
        self._original_args = original_args
        self._session = session
        self._stop_requested = False

    @property
    def original_args(self):
        """The caller's SessionRunArgs (its fetches and feed_dict)."""
        return self._original_args

    @property
    def session(self):
        """The raw session (runs on it call no hooks)."""
        return self._session

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    def request_stop(self) -> None:
        """Makes `should_stop()` of the MonitoredSession true after this run."""
        self._stop_requested = True
