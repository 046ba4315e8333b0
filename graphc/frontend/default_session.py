"""The default session: the innermost `with sess.as_default()` of this thread.

It lives in the frontend, beside the default graph, so that `Tensor.eval()` and
`Operation.run()` can find a session without the graph knowing what a session
is: the session pushes itself here, and anything with a `run(fetches,
feed_dict)` and a `graph` will do.
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
