"""A random graph over the op table: a sequence of op specs, its fetches, and in gradient modes a loss."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import graphc as tf
from tests.fuzz.context import FLOAT, STATE, VALUES, BuildContext
from tests.fuzz.op_specs import SPECS
from tests.fuzz.tensorflow_differences import NOT_IN_TENSORFLOW_GRAPHS


@dataclass
class BuiltGraph:
    """What one build produced: the fetched tensors, and in gradient modes the loss and the leaves it is
    differentiated with respect to."""

    graph: tf.Graph
    context: BuildContext
    fetches: list
    loss: object = None
    wrt: tuple = ()
    initializer: object = None


def specs_for(mode: str, tensorflow: bool = False) -> list[str]:
    """The ops of a mode; state-mode graphs use the value ops too (and each assignment four times as often).
    tensorflow: only ops whose results TensorFlow defines as graphc does."""
    if mode == STATE:
        return specs_for(VALUES, tensorflow) + sorted(4 * [name for name, spec in SPECS.items()
                                                           if STATE in spec.modes])
    return sorted(name for name, spec in SPECS.items()
                  if mode in spec.modes and not (tensorflow and name in NOT_IN_TENSORFLOW_GRAPHS))


def build_graph(ctx: BuildContext, max_ops: int) -> BuiltGraph:
    """Applies random specs (as often as they accept), then chooses fetches or a scalar loss."""
    graph = tf.get_default_graph()
    names = specs_for(ctx.mode, ctx.tensorflow)
    for _ in range(ctx.choose_count(2, max_ops)):
        if SPECS[ctx.one_of(names)].build(ctx):
            ctx.op_count += 1
    computed = [e for e in ctx.pool if e.tensor.op.type != "Placeholder"]
    sinks = [e for e in computed if not e.tensor.consumers()]
    # Fetching an inner value too keeps it out of a fused loop: both shapes of fusion get tested.
    chosen = sinks + [e for e in computed if e.tensor.consumers() and ctx.flip(0.15)]
    if ctx.values_like:
        initializer = tf.global_variables_initializer() if ctx.mode == STATE else None
        return BuiltGraph(graph, ctx, [e.tensor for e in chosen], initializer=initializer)
    outputs = [e for e in chosen if e.kind == FLOAT]
    if not outputs:
        outputs = [ctx.float_entry()]
    weights = np.random.RandomState(len(ctx.record)).uniform(-1, 1, (len(outputs),))
    loss = tf.add_n([tf.reduce_sum(e.tensor * float(w)) for e, w in zip(outputs, weights)])
    wrt = tuple(leaf for leaf in ctx.leaves if leaf.tensor.dtype.is_floating)
    grads = tf.gradients(loss, [leaf.tensor for leaf in wrt])
    kept = [(leaf, g) for leaf, g in zip(wrt, grads) if g is not None]
    return BuiltGraph(graph, ctx, [loss] + [g for _, g in kept], loss, tuple(leaf for leaf, _ in kept))
