"""The global step: the int64 variable `global_step` that `minimize(global_step=...)` increments."""

from __future__ import annotations

from graphc.core import dtypes
from graphc.frontend.graph import GraphKeys, get_default_graph
from graphc.ops import array_ops
from graphc.ops.variables import Variable


def get_global_step(graph=None):
    """The GLOBAL_STEP variable of `graph` (default graph), or None."""
    graph = graph or get_default_graph()
    steps = graph.get_collection(GraphKeys.GLOBAL_STEP)
    if len(steps) > 1:
        raise TypeError("There must be only one global step variable.")
    return steps[0] if steps else None


def create_global_step(graph=None):
    """Creates the int64 `global_step` variable; ValueError if one exists."""
    graph = graph or get_default_graph()
    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    with graph.as_default(), graph.name_scope(None):
        return Variable(array_ops.zeros([], dtypes.int64), trainable=False, name="global_step",
                        collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP])


def get_or_create_global_step(graph=None):
    """The global step of `graph`, created if it has none."""
    step = get_global_step(graph)
    return step if step is not None else create_global_step(graph)
