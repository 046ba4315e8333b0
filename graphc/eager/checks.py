"""TF2's run-time checks (`tf.debugging.Assert`, `tf.debugging.assert_*`) in eager code and in a `tf.function`.

Eagerly, as TF2, a check raises InvalidArgumentError at once: its condition is
computed by eager ops (compiled, as any eager op), and its message is TF2's
eager text, written from the values on the host as TF2 writes it (`.numpy()`).
Inside a `tf.function` a check is the graph's (graphc.ops.check_ops): a
compiled Assert op the trace runs at each call (graphc.eager.function fetches
every Assert of a trace, as TF2's automatic control dependencies run every
stateful op).
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.eager.context import TraceStep, context, convert_to_tensor, eager_function
from graphc.ops import check_ops, math_ops


def _in_trace() -> bool:
    return isinstance(context().step(), TraceStep)


def _pretty(item, summarize: int) -> str:
    """TF2's `_pretty_print`: a tensor as the list of its first elements' texts, anything else as str."""
    if hasattr(item, "numpy"):
        array = item.numpy()
        if array.ndim == 0:
            return str(array)
        flat = array.reshape(-1)
        texts = [str(v) for v in flat[:summarize]] + (["..."] if flat.size > summarize else [])
        return str(texts)
    return str(item)


def _description(x) -> str:
    return f"shape={tuple(x.shape.as_list())} dtype={x.dtype.name}"


def _differences(symbol, x, y, held, summarize) -> list:
    """TF2's `_make_assert_msg_data`: the first elements where the condition failed (when x and y have one
    non-scalar shape), and the first elements of x and y."""
    data = [f"Condition x {symbol} y did not hold."]
    if summarize <= 0:
        return data
    x_values, y_values = x.numpy(), y.numpy()
    if x_values.shape == y_values.shape and x_values.ndim:
        failed = np.logical_not(held)
        indices = np.argwhere(failed)
        count = min(summarize, indices.shape[0])
        data += [f"Indices of first {count} different values:", indices[:count],
                 "Corresponding x values:", x_values[failed].reshape(-1)[:count],
                 "Corresponding y values:", y_values[failed].reshape(-1)[:count]]
    x_flat, y_flat = x_values.reshape(-1), y_values.reshape(-1)
    x_count, y_count = min(x_flat.size, summarize), min(y_flat.size, summarize)
    return data + [f"First {x_count} elements of x:", x_flat[:x_count], f"First {y_count} elements of y:",
                   y_flat[:y_count]]


def _binary(symbol, graph_check, compare):
    def check(x, y, message=None, summarize=None, name=None, data=None):
        if _in_trace():
            return eager_function(graph_check)(x, y, data=data, summarize=summarize, message=message, name=name)
        x, y = convert_to_tensor(x), convert_to_tensor(y, dtype=None if hasattr(y, "numpy") else x.dtype)
        held = eager_function(compare)(x, y).numpy()
        if np.all(held):
            return None
        summarize = 3 if summarize is None else (10 ** 9 if summarize < 0 else summarize)
        lines = _differences(symbol, x, y, held, summarize) if data is None else list(data)
        if message is not None:
            lines = [message] + lines
        raise errors.InvalidArgumentError(None, None, "\n".join(_pretty(item, summarize) for item in lines))

    check.__name__ = graph_check.__name__
    check.__doc__ = f"`tf.debugging.{graph_check.__name__}` (TF2): {graph_check.__doc__}"
    return check


assert_equal = _binary("==", check_ops.assert_equal, math_ops.equal)
assert_none_equal = _binary("!=", check_ops.assert_none_equal, math_ops.not_equal)
assert_less = _binary("<", check_ops.assert_less, math_ops.less)
assert_less_equal = _binary("<=", check_ops.assert_less_equal, math_ops.less_equal)
assert_greater = _binary(">", check_ops.assert_greater, math_ops.greater)
assert_greater_equal = _binary(">=", check_ops.assert_greater_equal, math_ops.greater_equal)


def _sign(symbol, graph_check, binary, zero_first):
    def check(x, message=None, summarize=None, name=None):
        if _in_trace():
            return eager_function(graph_check)(x, summarize=summarize, message=message, name=name)
        x = convert_to_tensor(x)
        data = check_ops.sign_assert_data(message, symbol, _description(x), x)
        zero = convert_to_tensor(np.zeros((), x.dtype.np_dtype))
        return binary(zero, x, data=data, summarize=summarize) if zero_first else \
            binary(x, zero, data=data, summarize=summarize)

    check.__name__ = graph_check.__name__
    check.__doc__ = f"`tf.debugging.{graph_check.__name__}` (TF2): {graph_check.__doc__}"
    return check


assert_positive = _sign(">", check_ops.assert_positive, assert_less, True)
assert_negative = _sign("<", check_ops.assert_negative, assert_less, False)
assert_non_negative = _sign(">=", check_ops.assert_non_negative, assert_less_equal, True)
assert_non_positive = _sign("<=", check_ops.assert_non_positive, assert_less_equal, False)


def _summary(tensor, summarize) -> str:
    """TF2's `_summarize_eager`: the first elements of a tensor, comma-separated."""
    array = np.asarray(tensor.numpy())  # a string scalar's value is bytes
    if array.ndim == 0:
        return str(array[()]) if summarize != 0 else ""
    flat = array.reshape(-1)
    limit = flat.size if summarize < 0 else summarize
    return ", ".join([str(v) for v in flat[:limit]] + (["..."] if flat.size > limit else []))


def Assert(condition, data, summarize=None, name=None):  # noqa: N802 - TF's name
    """`tf.debugging.Assert` (TF2): eagerly, InvalidArgumentError at once when `condition` is false
    ("Expected '<condition>' to be true. Summarized data: ..."); in a tf.function, the graph's Assert."""
    if _in_trace():
        return eager_function(check_ops.Assert)(condition, data, summarize=summarize, name=name)
    condition = convert_to_tensor(condition)
    if bool(condition.numpy()):  # a condition of more than one element is ambiguous: ValueError, as TF2's
        return None
    summarize = 3 if summarize is None else summarize
    texts = [str(item.encode() if isinstance(item, str) else item) if isinstance(item, (str, bytes))
             else _summary(convert_to_tensor(item), summarize) for item in data]
    raise errors.InvalidArgumentError(None, None, f"Expected '{condition!s}' to be true. Summarized data: "
                                                  + "\n".join(texts))
