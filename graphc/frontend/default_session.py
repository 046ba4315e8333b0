"""The default session: the innermost `with sess.as_default()` of this thread.

It lives in the frontend, beside the default graph, so that `Tensor.eval()` and
`Operation.run()` can find a session without the graph knowing what a session
is: the session pushes itself here, and anything with a `run(fetches,
feed_dict)` and a `graph` will do. Likewise the session registers its class
here, so that the training libraries below it can open sessions (`new_session`).
"""

from __future__ import annotations

from typing import Optional

from graphc.frontend.default_stack import DefaultStack

_default_sessions = DefaultStack()


def get_default_session():
    """The innermost `with sess.as_default()` session of this thread, or None."""
    return _default_sessions.get()


def default_session(session):
    """Makes `session` the default session of this thread inside the `with` block."""
    return _default_sessions.get_controller(session)


def session_for(session: Optional[object], element):
    """`session`, else the default session, checked to run `element`'s graph (TF1's errors)."""
    if session is None:
        session = get_default_session()
        if session is None:
            raise ValueError("Cannot evaluate tensor using `eval()`: No default session is registered. "
                             "Use `with sess.as_default()` or pass an explicit session to "
                             "`eval(session=sess)`")
    if session.graph is not element.graph:
        raise ValueError("Cannot use the given session to evaluate tensor: the tensor's graph is "
                         "different from the session's graph.")
    return session


# -- making sessions from the graph stack ---------------------------------------------------------

_session_class = None


def register_session_class(session_class) -> None:
    """Called by graphc.session when it loads: the class `new_session` makes."""
    global _session_class
    _session_class = session_class


def new_session(graph=None, config=None, target=""):
    """A new `tf.Session` on `graph`: how the training libraries (MonitoredSession's session creators) open
    one without importing the session, which sits above them; `import graphc` has registered its class."""
    if _session_class is None:
        raise RuntimeError("No Session class is registered: import graphc (or graphc.session) before "
                           "creating a training session")
    return _session_class(target, graph=graph, config=config)
