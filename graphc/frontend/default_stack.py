"""A per-thread stack of defaults, as TF's `_DefaultStack`: `with graph.as_default()` and
`with sess.as_default()` push onto one each, and the innermost entry is the default."""

from __future__ import annotations

import contextlib
import threading


class DefaultStack(threading.local):
    """The defaults of one kind (graphs, sessions) made current by `with` blocks, per thread."""

    def __init__(self):
        self.stack: list = []

    def get(self):
        """The innermost default of this thread, or None."""
        return self.stack[-1] if self.stack else None

    @contextlib.contextmanager
    def get_controller(self, default):
        """Makes `default` the innermost default inside the `with` block."""
        self.stack.append(default)
        try:
            yield default
        finally:
            if self.stack and self.stack[-1] is default:
                self.stack.pop()
