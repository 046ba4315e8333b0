"""Test helpers: run graphs through the reference interpreter (no LLVM) or compiled."""

import collections

import numpy as np

from graphc.compiler.lower import lower
from graphc.ir.interpreter import interpret
from graphc.ir.program import IRType


def feed_types(feeds: dict) -> collections.OrderedDict:
    return collections.OrderedDict((t, IRType(t.dtype, np.shape(v))) for t, v in sorted(
        feeds.items(), key=lambda item: item[0].name))


def interpret_graph(fetches, feeds=None, variables=None):
    """Values of `fetches` (a list of tensors) computed by the reference interpreter."""
    feeds = feeds or {}
    step = lower(fetches, feed_types(feeds))
    values, _ = interpret(step.program, {t.name: np.asarray(v, dtype=t.dtype.np_dtype) for t, v in feeds.items()},
                          {**step.initial_states, **(variables or {})})
    return [values[slot] if slot is not None else None for slot in step.fetch_slots]


def run_and_read_variables(tf, fetches, feeds=None, decimals=6):
    """With `tf` graphc or TensorFlow: initialises the variables, runs `fetches` once, then reads every global
    variable: [fetched values, variable values], rounded (for the TF-oracle tables)."""
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = sess.run(fetches, feeds)
        variables = sess.run(tf.global_variables())
    return [_rounded(v, decimals) for v in values], [_rounded(v, decimals) for v in variables]


def _rounded(value, decimals: int):
    """`value` as nested lists, floats rounded in float64 (so a table pins 0.1, not float32's 0.10000000149)."""
    value = np.asarray(value)
    return (value.astype(np.float64) if value.dtype.kind == "f" else value).round(decimals).tolist()


def numeric_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of the scalar function f at x (float64)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = f(x)
        flat[i] = saved - eps
        minus = f(x)
        flat[i] = saved
        grad.reshape(-1)[i] = (plus - minus) / (2 * eps)
    return grad
