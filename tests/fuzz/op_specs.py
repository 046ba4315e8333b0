"""How the fuzzer builds each registered op: one table entry per registry name.

An entry is a `Spec`: a function `build(ctx) -> bool` that picks inputs from the
pool (or makes new placeholders), draws attributes, adds the op through
`apply_op` under its registry name and puts the result into the pool; plus the
modes the op may appear in. `tests/fuzz/test_fuzz.py` fails for any registered
op that is neither here nor in `NOT_FUZZED` with a reason, so a new op joins
the fuzzer by adding one line (elementwise ops: one call of `unary`/`binary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import graphc as tf
from graphc.core.slicing import MIRROR_SKIP
from graphc.frontend.graph import apply_op
from graphc.ops import collective_ops, state_ops
from tests.fuzz.context import BOOL, FINITE_DIFFERENCES, FLOAT, GRADIENTS, INT, STATE, VALUES, BuildContext, Entry

ALL_MODES = frozenset({VALUES, GRADIENTS, FINITE_DIFFERENCES})
NOT_SMOOTH = frozenset({VALUES, GRADIENTS})  # kinks or jumps: finite differences are not an oracle
VALUES_ONLY = frozenset({VALUES})
STATE_ONLY = frozenset({STATE})


@dataclass(frozen=True)
class Spec:
    build: Callable[[BuildContext], bool]
    modes: frozenset = ALL_MODES


def _numeric_kind(ctx: BuildContext, kinds) -> str:
    return FLOAT if not ctx.values_like else ctx.one_of(kinds)


def unary(name, kinds=(FLOAT, INT), positive=False, exact=False, discontinuous=False, bounded=False,
          keeps_positive=False, modes=ALL_MODES) -> Spec:
    """An elementwise op of one input. positive: its input must be > 0 when differentiating."""

    def build(ctx):
        kind = _numeric_kind(ctx, kinds)
        entry = ctx.pick_or_leaf(kind, (lambda e: e.exact) if discontinuous else (lambda e: True))
        if kind == FLOAT and positive and (not ctx.values_like or ctx.flip(0.7)):
            entry = ctx.positive(entry)
        if bounded:
            entry = ctx.bounded(entry)
        ctx.add(apply_op(name, [entry.tensor]), exact=exact and entry.exact,
                positive=keeps_positive and entry.positive)
        return True

    return Spec(build, modes)


def binary(name, kinds=(FLOAT, INT), exact=False, discontinuous=False, positive_inputs=(), modes=ALL_MODES,
           result_kind=None) -> Spec:
    """An elementwise op of two inputs with broadcasting (the second often of a smaller shape)."""

    def build(ctx):
        kind = _numeric_kind(ctx, kinds)
        accept = (lambda e: e.exact) if discontinuous else (lambda e: True)
        first = ctx.pick_or_leaf(kind, accept)
        partner_shape = ctx.broadcast_partner(first.shape) if ctx.flip(0.6) else first.shape
        second = ctx.pick_or_leaf(kind, accept, shape=partner_shape)
        if ctx.flip(0.5):
            first, second = second, first
        inputs = [first, second]
        if kind == FLOAT and (not ctx.values_like or ctx.flip(0.7)):
            inputs = [ctx.positive(e) if i in positive_inputs else e for i, e in enumerate(inputs)]
        exact_result = exact and all(e.exact for e in inputs)
        ctx.add(apply_op(name, [e.tensor for e in inputs]), result_kind, exact=exact_result)
        return True

    return Spec(build, modes)


def _gradient_helper(name, positive_first=False, grouping_differs_in_tensorflow=False) -> Spec:
    """TanhGrad-style ops (y, dy) -> dx over two floats of one shape. grouping_differs_in_tensorflow: in a
    graph TF runs too, y is bounded (tensorflow_differences.PLACE_DEPENDENT_GROUPING)."""

    def build(ctx):
        y = ctx.float_entry()
        if positive_first:
            y = ctx.positive(y)
        elif grouping_differs_in_tensorflow and ctx.tensorflow:
            y = ctx.bounded(y)
        dy = ctx.pick_or_leaf(FLOAT, shape=y.shape)
        ctx.add(apply_op(name, [y.tensor, dy.tensor]))
        return True

    return Spec(build)


def _relu_grad(ctx):
    kind = _numeric_kind(ctx, (FLOAT, INT))
    g = ctx.pick_or_leaf(kind)
    x = ctx.pick_or_leaf(kind, lambda e: e.exact, shape=g.shape)
    ctx.add(apply_op("relu_grad", [g.tensor, x.tensor]), exact=g.exact)
    return True


def _float32_alpha(ctx) -> float:
    """A LeakyRelu alpha as TF's attr holds it, a float32 (as tf.nn.leaky_relu makes it)."""
    return float(np.float32(ctx.one_of((0.2, 0.01, 1.5))))


def _erf(ctx):
    entry = ctx.float_entry()
    tensor = entry.tensor
    if ctx.tensorflow and ctx.float_dtype == tf.float64:
        tensor = tf.clip_by_value(tensor, -40.0, 40.0)  # tensorflow_differences.ERF_OF_INFINITIES
    ctx.add(apply_op("erf", [tensor]))
    return True


def _activation_gradient_helper(name, alpha=False) -> Spec:
    """EluGrad-style ops (dy, y or x) -> dx over two floats of one shape; kinks where y crosses 0."""

    def build(ctx):
        dy = ctx.float_entry()
        y = ctx.pick_or_leaf(FLOAT, lambda e: e.exact, shape=dy.shape)
        attrs = {"alpha": _float32_alpha(ctx)} if alpha else {}
        ctx.add(apply_op(name, [dy.tensor, y.tensor], attrs))
        return True

    return Spec(build, NOT_SMOOTH)


def _leaky_relu(ctx):
    entry = ctx.pick_or_leaf(FLOAT, lambda e: e.exact)
    ctx.add(apply_op("leaky_relu", [entry.tensor], {"alpha": _float32_alpha(ctx)}), exact=entry.exact)
    return True


def _select(ctx):
    kind = _numeric_kind(ctx, (FLOAT, INT, BOOL))
    x = ctx.pick_or_leaf(kind)
    y = ctx.pick_or_leaf(kind, shape=ctx.broadcast_partner(x.shape) if ctx.flip(0.5) else x.shape)
    condition = ctx.pick_or_leaf(BOOL, lambda e: e.exact,
                                 shape=ctx.broadcast_partner(x.shape) if ctx.flip(0.5) else x.shape)
    ctx.add(apply_op("select", [condition.tensor, x.tensor, y.tensor]), exact=x.exact and y.exact)
    return True


def _add_n(ctx):
    kind = _numeric_kind(ctx, (FLOAT, INT))
    first = ctx.pick_or_leaf(kind)
    others = [ctx.pick_or_leaf(kind, shape=first.shape) for _ in range(ctx.choose_count(1, 3))]
    ctx.add(apply_op("add_n", [first.tensor] + [e.tensor for e in others]))
    return True


NARROW_DTYPES = (tf.float16, tf.int8, tf.int16, tf.uint8, tf.uint16)


def _cast(ctx):
    source_kind = FLOAT if not ctx.values_like else ctx.one_of((FLOAT, INT, BOOL))
    entry = ctx.pick_or_leaf(source_kind)
    if ctx.values_like and ctx.flip(0.3):
        # Through a 1- or 2-byte dtype and back: narrow elements in fused loops, TF's wrapping and rounding.
        narrow = ctx.one_of(NARROW_DTYPES)
        if source_kind == FLOAT and not narrow.is_floating and not entry.exact:
            return False
        source = entry.tensor
        if ctx.tensorflow and source_kind == FLOAT and not narrow.is_floating:
            # tensorflow_differences.FLOAT_TO_INTEGER_OUT_OF_RANGE: TF's answer is its code path's accident.
            low, high = (tf.constant(bound, source.dtype) for bound in (narrow.min, narrow.max))
            source = apply_op("maximum", [apply_op("minimum", [source, high]), low])
            source = apply_op("select", [apply_op("equal", [source, source]), source, tf.zeros_like(source)])
        through = apply_op("cast", [source], {"dtype": narrow})
        ctx.add(apply_op("cast", [apply_op("maximum", [through, through])], {"dtype": entry.tensor.dtype}),
                exact=entry.exact)
        return True
    targets = [ctx.float_dtype] if not ctx.values_like else [ctx.float_dtype, tf.int32, tf.int64, tf.bool]
    target = ctx.one_of(range(len(targets)))
    dtype = targets[target]
    if source_kind == FLOAT and not dtype.is_floating and not entry.exact:
        return False  # float -> int/bool jumps: only on exact inputs
    ctx.add(apply_op("cast", [entry.tensor], {"dtype": dtype}), exact=entry.exact)
    return True


def _matmul(ctx):
    kind = _numeric_kind(ctx, (FLOAT, FLOAT, INT))
    transpose_a, transpose_b = ctx.flip(), ctx.flip()
    a = ctx.pick_or_leaf(kind, lambda e: len(e.shape) == 2)
    if len(a.shape) != 2:
        return False
    k = a.shape[0] if transpose_a else a.shape[1]
    n = ctx.dim()
    b = ctx.pick_or_leaf(kind, shape=(n, k) if transpose_b else (k, n))
    attrs = {"transpose_a": transpose_a, "transpose_b": transpose_b}
    ctx.add(apply_op("matmul", [a.tensor, b.tensor], attrs), exact=kind == INT and a.exact and b.exact)
    return True


def _batch_matmul(ctx):
    """Products of the last two dimensions; the second operand's batch dimensions a suffix of the
    first's, some of them 1 (broadcast)."""
    kind = _numeric_kind(ctx, (FLOAT, FLOAT, INT))
    adj_x, adj_y = ctx.flip(), ctx.flip()
    a = ctx.pick_or_leaf(kind, lambda e: len(e.shape) >= 3)
    if len(a.shape) < 2:
        return False
    k = a.shape[-2] if adj_x else a.shape[-1]
    batch = a.shape[:-2][ctx.choose_count(0, len(a.shape) - 2):]
    batch = tuple(1 if ctx.flip(0.2) else d for d in batch)
    n = ctx.dim()
    b = ctx.pick_or_leaf(kind, shape=batch + ((n, k) if adj_y else (k, n)))
    ctx.add(apply_op("batch_matmul", [a.tensor, b.tensor], {"adj_x": adj_x, "adj_y": adj_y}),
            exact=kind == INT and a.exact and b.exact)
    return True


def _axes(ctx, rank):
    """Random reduction axes of a rank: None (all), one axis, or a subset; sometimes negative."""
    if rank == 0 or ctx.flip(0.2):
        return None
    axes = [a for a in range(rank) if ctx.flip(0.5)] or [ctx.choose_count(0, rank - 1)]
    return [a - rank if ctx.flip(0.3) else a for a in axes]


def reduction(name, exact=False, modes=ALL_MODES, kinds=(FLOAT, INT)) -> Spec:
    """A reduction over random axes; with wide inputs, sometimes over a long leaf of its own."""

    def build(ctx):
        if FLOAT in kinds and ctx.tensorflow and ctx.mode != FINITE_DIFFERENCES and ctx.flip(0.15):
            source, long_reduction = ctx.long_leaf(), True
        elif FLOAT not in kinds:  # bools: values only
            source, long_reduction = ctx.pick_or_leaf(ctx.one_of(kinds)), False
        else:
            source, long_reduction = ctx.pick_or_leaf(_numeric_kind(ctx, kinds)), False
        axes = _axes(ctx, len(source.shape))
        axes_tensor = tf.constant(list(range(len(source.shape))) if axes is None else axes, dtype=tf.int32)
        result = apply_op(name, [source.tensor, axes_tensor], {"keepdims": ctx.flip(0.3)})
        entry = ctx.add(result, exact=exact and (long_reduction or source.exact))
        entry.long_reduction = long_reduction
        return True

    return Spec(build, modes)


def _scan(name):
    """cumsum or cumprod along a random axis, exclusive and reversed at random."""

    def build(ctx):
        kind = _numeric_kind(ctx, (FLOAT, INT))
        entry = ctx.pick_or_leaf(kind, lambda e: len(e.shape) >= 1)
        if not entry.shape:
            return False
        if kind == FLOAT and name == "cumprod" and not ctx.values_like:
            # TF's gradient of cumprod (graphc's too) is 0 where x is 0, not the derivative: see _cumprod_grad
            entry = ctx.positive(entry)
        axis = ctx.choose_count(-len(entry.shape), len(entry.shape) - 1)
        attrs = {"exclusive": ctx.flip(), "reverse": ctx.flip()}
        ctx.add(apply_op(name, [entry.tensor, tf.constant(axis)], attrs), exact=kind == INT and entry.exact)
        return True

    return Spec(build)


def _top_k(name):
    """top_k (values) or top_k_indices of an exact input (so that ties and order match), k up to the row."""

    def build(ctx):
        entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT)), lambda e: e.exact and len(e.shape) >= 1)
        if not entry.shape or not entry.exact:
            return False
        values, smallest_k = entry.tensor, 0
        if ctx.tensorflow:
            if entry.tensor.dtype.is_floating:  # tensorflow_differences.TOP_K_OF_NAN: NaN becomes 0 (exactly)
                values = apply_op("select", [apply_op("equal", [values, values]), values, tf.zeros_like(values)])
            if not ctx.values_like:  # tensorflow_differences.TOP_K_GRADIENT_OF_EMPTY_ROWS
                smallest_k = 1
        if entry.shape[-1] < smallest_k:
            return False
        k = ctx.choose_count(smallest_k, entry.shape[-1])
        ctx.add(apply_op(name, [values, tf.constant(k)], {"sorted": True}), exact=True)
        return True

    return Spec(build, NOT_SMOOTH if name == "top_k" else VALUES_ONLY)


def _arg_reduction(name):
    def build(ctx):
        entry = ctx.pick_or_leaf(ctx.one_of((FLOAT, INT)), lambda e: e.exact and len(e.shape) >= 1)
        if not entry.shape or 0 in entry.shape:
            return False  # TF: argmax over an empty axis is an error, tested in tests/backend
        axis = ctx.choose_count(-len(entry.shape), len(entry.shape) - 1)
        output_type = ctx.one_of((tf.int32, tf.int64))
        ctx.add(apply_op(name, [entry.tensor, tf.constant(axis)], {"output_type": output_type}), exact=True)
        return True

    return Spec(build, VALUES_ONLY)


def _reshape(ctx):
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)))
    size = int(np.prod(entry.shape))
    if size == 0:
        target = [0, ctx.dim()] if ctx.flip() else [ctx.dim(), 0, 2]
    else:
        factors = [d for d in range(1, size + 1) if size % d == 0]
        first = ctx.one_of(factors)
        target = [first, size // first] if ctx.flip() else [size]
        if ctx.flip(0.3):
            target[ctx.choose_count(0, len(target) - 1)] = -1
        if ctx.flip(0.2):
            target.insert(0, 1)
    ctx.add(apply_op("reshape", [entry.tensor, tf.constant(target, dtype=tf.int32)]), exact=entry.exact,
            positive=entry.positive)
    return True


def _transpose(ctx):
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)), lambda e: len(e.shape) >= 2)
    perm = list(range(len(entry.shape)))
    for i in range(len(perm) - 1, 0, -1):
        j = ctx.choose_count(0, i)
        perm[i], perm[j] = perm[j], perm[i]
    ctx.add(apply_op("transpose", [entry.tensor, tf.constant(perm, dtype=tf.int32)]), exact=entry.exact,
            positive=entry.positive)
    return True


def _broadcast_to(ctx):
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)))
    target = [ctx.dim() if d == 1 and ctx.flip(0.7) else d for d in entry.shape]
    target = [ctx.dim() for _ in range(ctx.choose_count(0, 2))] + target
    ctx.add(apply_op("broadcast_to", [entry.tensor, tf.constant(target, dtype=tf.int32)]), exact=entry.exact,
            positive=entry.positive)
    return True


def _tile(ctx):
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)))
    multiples = [ctx.choose_count(0, 3) if ctx.flip(0.1) else ctx.choose_count(1, 3) for _ in entry.shape]
    ctx.add(apply_op("tile", [entry.tensor, tf.constant(multiples, dtype=tf.int32)]), exact=entry.exact,
            positive=entry.positive)
    return True


def _fill(ctx):
    value = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)), lambda e: e.shape == (), shape=())
    dims = list(ctx.new_shape())
    ctx.add(apply_op("fill", [value.tensor, tf.constant(dims, dtype=tf.int32)]), exact=value.exact,
            positive=value.positive)
    return True


def _softmax(name):
    def build(ctx):
        entry = ctx.float_entry(lambda e: len(e.shape) >= 1)
        if not entry.shape:
            return False
        ctx.add(apply_op(name, [entry.tensor]), positive=name == "softmax")
        return True

    return Spec(build)


def _labels(ctx, batch, classes):
    return ctx.leaf(INT, (batch,), values=("labels", classes))


def _sparse_xent(name):
    def build(ctx):
        logits = ctx.float_entry(lambda e: len(e.shape) == 2 and e.shape[1] > 0)
        if len(logits.shape) != 2 or logits.shape[1] == 0:
            return False
        labels = _labels(ctx, *logits.shape)
        ctx.add(apply_op(name, [logits.tensor, labels.tensor]))
        return True

    return Spec(build)


def _in_top_k(ctx):
    predictions = ctx.pick_or_leaf(FLOAT, lambda e: e.exact and len(e.shape) == 2, shape=(ctx.dim(), ctx.dim()))
    if len(predictions.shape) != 2:
        return False
    targets = _labels(ctx, predictions.shape[0], max(predictions.shape[1], 1) + 1)  # one beyond: false
    k = ctx.choose_count(0, 4)
    # InTopKV2 takes float32 predictions only (the float64 twin casts: exact for its own values).
    scores = predictions.tensor if ctx.float_dtype == tf.float32 else tf.cast(predictions.tensor, tf.float32)
    ctx.add(apply_op("in_top_k", [scores, targets.tensor, tf.constant(k, dtype=targets.tensor.dtype)]), exact=True)
    return True


def _random(name):
    def build(ctx):
        # The dtype is not the context's float type: the float64 twin must draw the same numbers.
        dtype = ctx.one_of((tf.float32, tf.float64))
        shape = list(ctx.new_shape())
        seeds = {"seed": ctx.choose_count(0, 1000), "seed2": ctx.choose_count(1, 1000)}
        value = apply_op(name, [tf.constant(shape, dtype=tf.int32)], {"dtype": dtype, **seeds})
        ctx.add(tf.cast(value, ctx.float_dtype))
        return True

    return Spec(build, VALUES_ONLY)


def _log_uniform_sampled(ctx):
    """Ids drawn from the op's Philox stream (and, last, the number of draws), unique or not."""
    num_sampled = ctx.choose_count(1, 6)
    attrs = {"num_sampled": num_sampled, "range_max": num_sampled + ctx.choose_count(0, 40), "unique": ctx.flip(),
             "seed": ctx.choose_count(0, 1000), "seed2": ctx.choose_count(1, 1000)}
    ctx.add(tf.cast(apply_op("log_uniform_sampled", [], attrs), ctx.int_dtype), exact=True)
    return True


def _identity(name, modes=ALL_MODES):
    def build(ctx):
        entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)))
        ctx.add(apply_op(name, [entry.tensor]), exact=entry.exact, positive=entry.positive)
        return True

    return Spec(build, modes)


def _bias_add(ctx):
    value = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT)), lambda e: len(e.shape) >= 2)
    if len(value.shape) < 2:
        return False  # TF's BiasAdd wants rank >= 2
    bias = ctx.pick_or_leaf(value.kind, shape=value.shape[-1:])
    ctx.add(tf.nn.bias_add(value.tensor, bias.tensor))
    return True


def _concat(ctx):
    first = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)), lambda e: len(e.shape) >= 1)
    if not first.shape:
        return False
    axis = ctx.choose_count(0, len(first.shape) - 1)
    parts = [first]
    for _ in range(ctx.choose_count(1, 2)):
        shape = first.shape[:axis] + (ctx.dim(),) + first.shape[axis + 1:]
        parts.append(ctx.pick_or_leaf(first.kind, shape=shape))
    negative = ctx.flip(0.3)
    ctx.add(tf.concat([e.tensor for e in parts], axis - len(first.shape) if negative else axis),
            exact=all(e.exact for e in parts))
    return True


def _expand_dims(ctx):
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)))
    axis = ctx.choose_count(-len(entry.shape) - 1, len(entry.shape))
    ctx.add(tf.expand_dims(entry.tensor, axis), exact=entry.exact, positive=entry.positive)
    return True


def _squeeze(ctx):
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)), lambda e: 1 in e.shape)
    ones = [a for a, d in enumerate(entry.shape) if d == 1]
    if not ones:
        return False
    axes = [a for a in ones if ctx.flip()]
    # Without axes, squeeze drops every size-1 dimension (of the shape fed, when it is unknown).
    if not axes and ctx.unknown_dims:
        axes = ones
    ctx.add(tf.squeeze(entry.tensor, axes or None), exact=entry.exact, positive=entry.positive)
    return True


def _slice(ctx):
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)), lambda e: len(e.shape) >= 1)
    begin = [ctx.choose_count(0, d) for d in entry.shape]
    size = [-1 if ctx.flip(0.2) else ctx.choose_count(0, d - b) for d, b in zip(entry.shape, begin)]
    ctx.add(tf.slice(entry.tensor, begin, size), exact=entry.exact, positive=entry.positive)
    return True


def _strided_slice(ctx):
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)), lambda e: len(e.shape) >= 1)
    begin, end, strides, masks = [], [], [], {"begin_mask": 0, "end_mask": 0, "shrink_axis_mask": 0}
    for axis, d in enumerate(entry.shape):
        if d > 0 and ctx.flip(0.15):  # one index: the axis goes away
            index = ctx.choose_count(-d, d - 1)
            begin, end, strides = begin + [index], end + [index + 1 if index != -1 else d], strides + [1]
            masks["shrink_axis_mask"] |= 1 << axis
            continue
        begin.append(ctx.choose_count(-d - 1, d + 1))
        end.append(ctx.choose_count(-d - 1, d + 1))
        strides.append(ctx.one_of((1, 1, 2, 3, -1, -2)))
        for mask in ("begin_mask", "end_mask"):
            if ctx.flip(0.25):
                masks[mask] |= 1 << axis
    ctx.add(tf.strided_slice(entry.tensor, begin, end, strides, **masks), exact=entry.exact,
            positive=entry.positive)
    return True


def _pad(ctx):
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)))
    paddings = _paddings(ctx, [[ctx.choose_count(0, 2), ctx.choose_count(0, 2)] for _ in entry.shape])
    value = {FLOAT: 0.5, INT: -3, BOOL: True}.get(entry.kind, 0) if ctx.flip() else 0
    ctx.add(tf.pad(entry.tensor, paddings, constant_values=value), exact=entry.exact)
    return True


def _paddings(ctx, pairs: list):
    """A scalar's paddings `[]` are a [0] tensor, which TF 2.21 rejects (rank 1, not 2) and graphc accepts;
    graphs for TensorFlow give them as a [0, 2] array."""
    return np.array(pairs, np.int32).reshape(len(pairs), 2) if ctx.tensorflow else pairs


# TF 2.21's MirrorPad and MirrorPadGrad kernels take inputs of rank 0 to 5 (UnimplementedError beyond, as
# graphc's): the generator builds none of higher rank.
MIRROR_PAD_MAX_RANK = 5


def _mirror_mode(ctx, shape) -> str:
    return "SYMMETRIC" if 0 in shape or ctx.flip() else "REFLECT"  # REFLECT cannot pad a 0-long axis


def _mirror_pad(ctx):
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)))
    if len(entry.shape) > MIRROR_PAD_MAX_RANK:
        return False
    if ctx.tensorflow and not ctx.values_like and 0 in entry.shape:
        return False  # tensorflow_differences.MIRROR_PAD_GRAD_OF_AN_EMPTY_AXIS
    mode = _mirror_mode(ctx, entry.shape)
    limits = [max(min(d - MIRROR_SKIP[mode], 2), 0) for d in entry.shape]
    paddings = _paddings(ctx, [[ctx.choose_count(0, limit), ctx.choose_count(0, limit)] for limit in limits])
    ctx.add(tf.pad(entry.tensor, paddings, mode=mode.lower() if ctx.flip() else mode), exact=entry.exact)
    return True


def _mirror_pad_grad(ctx):
    """Folds the entry: each axis of size d back to d - before - after, paddings legal for that size."""
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT)))
    if len(entry.shape) > MIRROR_PAD_MAX_RANK:
        return False
    if ctx.tensorflow and 0 in entry.shape:
        return False  # tensorflow_differences.MIRROR_PAD_GRAD_OF_AN_EMPTY_AXIS
    mode = _mirror_mode(ctx, entry.shape)
    paddings = []
    for d in entry.shape:
        pair = [ctx.choose_count(0, 2), ctx.choose_count(0, 2)]
        paddings.append(pair if max(pair) <= d - sum(pair) - MIRROR_SKIP[mode] else [0, 0])
    ctx.add(apply_op("mirror_pad_grad", [entry.tensor, tf.constant(paddings, tf.int32, [len(paddings), 2])],
                     {"mode": mode}), exact=entry.exact and entry.kind == INT)
    return True


def _one_hot(ctx):
    shape = ctx.new_shape(ctx.choose_count(0, 2))
    depth = ctx.choose_count(0, 5)
    indices = ctx.leaf(INT, shape, values=("labels", depth + 1))  # index `depth` is out of range: a row of off
    axis = ctx.choose_count(-1, len(shape))
    on, off = (1.5, -0.5) if ctx.flip() else (1.0, 0.0)
    ctx.add(tf.one_hot(indices.tensor, depth, on_value=on, off_value=off, axis=axis, dtype=ctx.float_dtype),
            exact=True)
    return True


def _gather(ctx):
    """Rows of any entry along an axis with a non-empty size, at indices (repeats among them) in range."""
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)), lambda e: any(d > 0 for d in e.shape))
    axes = [a for a, d in enumerate(entry.shape) if d > 0]
    if not axes or (ctx.tensorflow and not ctx.values_like and 0 in entry.shape):  # GATHER_GRADIENT_OF_EMPTY_PARAMS
        return False
    if ctx.tensorflow and not ctx.values_like and entry.tensor.op.type == "TanhGrad":
        return False  # tensorflow_differences.TANH_GRAD_GRADIENT_OF_INDEXED_SLICES
    axis = ctx.one_of(axes)
    indices = ctx.leaf(INT, ctx.new_shape(ctx.choose_count(0, 2)), values=("labels", entry.shape[axis]))
    ctx.add(tf.gather(entry.tensor, indices.tensor, axis=axis if ctx.flip() else axis - len(entry.shape)),
            exact=entry.exact, positive=entry.positive)
    return True


def _gather_nd(ctx):
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT, BOOL)), lambda e: len(e.shape) >= 1 and e.shape[0] > 0)
    if not entry.shape or entry.shape[0] == 0:
        return False
    depth = ctx.choose_count(1, len(entry.shape))
    if 0 in entry.shape[:depth]:
        depth = 1
    # tensorflow_differences.GATHER_ND_GRADIENT_OF_ONE_TUPLE: TF's gradient graphs take a batch of index tuples
    # (and params with elements: TF's gradient refuses tuples into empty params while building)
    one_tuple_allowed = not (ctx.tensorflow and not ctx.values_like)
    if not one_tuple_allowed and 0 in entry.shape:
        return False
    tuples = ctx.new_shape(ctx.choose_count(0, 1) if one_tuple_allowed else 1)
    columns = [ctx.leaf(INT, tuples, values=("labels", size)).tensor for size in entry.shape[:depth]]
    ctx.add(tf.gather_nd(entry.tensor, tf.stack(columns, axis=-1)), exact=entry.exact, positive=entry.positive)
    return True


def _unsorted_segment_sum(ctx):
    """Rows added by ids in [-1, count]: -1 is dropped; ids reach every row or none."""
    entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT)), lambda e: len(e.shape) >= 1)
    if not entry.shape:
        return False
    count = ctx.choose_count(0, 4)
    id_dims = ctx.choose_count(1, len(entry.shape))
    ids = ctx.leaf(INT, entry.shape[:id_dims], values=("labels", count + 1))
    ids = ids.tensor - 1 if ctx.flip() else ids.tensor  # -1 is dropped, as TF drops negative ids
    ctx.add(tf.unsorted_segment_sum(entry.tensor, tf.minimum(ids, count - 1) if count else ids - count - 1, count),
            exact=entry.exact and entry.kind == INT)
    return True


def _assert(ctx):
    """The entry again, after a tf.Assert on its values that always holds (some element is a number, or all
    are NaN: an empty tensor's reduce_all is true), with the entry as its data."""
    entry = ctx.float_entry()
    t = entry.tensor
    holds = tf.logical_or(tf.reduce_any(tf.equal(t, t)), tf.reduce_all(tf.not_equal(t, t)))
    with tf.control_dependencies([tf.Assert(holds, ["fuzz", t])]):
        ctx.add(tf.identity(t), exact=entry.exact, positive=entry.positive)
    return True


def _check_numerics(ctx):
    entry = ctx.float_entry()
    ctx.add(tf.check_numerics(entry.tensor, "fuzz"), exact=entry.exact, positive=entry.positive)
    return True


def _collective(build_op) -> Spec:
    """A collective in the fuzzer's world of one process, where it is the identity (on 2 MPI ranks:
    tests/e2e/test_data_parallel.py)."""

    def build(ctx):
        entry = ctx.pick_or_leaf(_numeric_kind(ctx, (FLOAT, INT)), lambda e: len(e.shape) >= 1)
        if not entry.shape:
            return False
        ctx.add(build_op(entry.tensor), exact=entry.exact, positive=entry.positive)
        return True

    return Spec(build)


def _image(ctx) -> Entry:
    """An NHWC float tensor: from the pool if one has non-empty H and W, else a new one (batch may be 0)."""
    shape = (ctx.one_of((1, 2, 0, 3)), ctx.choose_count(1, 7), ctx.choose_count(1, 7), ctx.choose_count(1, 3))
    entry = None if ctx.flip(0.4) else ctx.pick(
        lambda e: e.kind == FLOAT and len(e.shape) == 4 and e.shape[1] > 0 and e.shape[2] > 0)
    return entry or ctx.leaf(FLOAT, shape)


def _window(ctx, image: Entry):
    """(window, strides, padding) fitting `image`: VALID windows are no larger than the image."""
    padding = ctx.one_of(("SAME", "VALID"))
    limit = (3, 3) if padding == "SAME" else (min(3, image.shape[1]), min(3, image.shape[2]))
    window = (ctx.choose_count(1, limit[0]), ctx.choose_count(1, limit[1]))
    strides = (ctx.choose_count(1, 2), ctx.choose_count(1, 2))
    return window, strides, padding


def _conv2d(ctx):
    image = _image(ctx)
    if image.shape[3] == 0:
        return False  # "Depth of filter must not be 0": graphc raises TF's ValueError while building
    window, strides, padding = _window(ctx, image)
    filters = ctx.pick_or_leaf(FLOAT, shape=window + (image.shape[3], ctx.choose_count(1, 3)))
    ctx.add(tf.nn.conv2d(image.tensor, filters.tensor, strides=[1, *strides, 1], padding=padding))
    return True


def _pool(function, exact):
    def build(ctx):
        image = _image(ctx)
        window, strides, padding = _window(ctx, image)
        if padding == "VALID" and image.shape[3] == 0:
            return False  # a VALID window over 0 channels: TF's shape function and graphc refuse it while building
        ctx.add(function(image.tensor, ksize=[1, *window, 1], strides=[1, *strides, 1], padding=padding),
                exact=exact and image.exact, positive=image.positive)
        return True

    return build


def _update(name):
    """An assignment to a variable not yet updated in this graph (two would race, as in TF1), sometimes
    inside a loop or cond."""

    def build(ctx):
        free = [i for i in range(len(ctx.variables)) if i not in ctx.updated]
        if not free or ctx.flip(0.2):
            ctx.variable(ctx.new_shape())
            free.append(len(ctx.variables) - 1)
        index = ctx.one_of(free)
        target = ctx.variables[index]
        value = ctx.pick_or_leaf(FLOAT, lambda e: e is not target.entry, shape=target.entry.shape)
        if name == "apply_gradient_descent":
            alpha = ctx.one_of((0.5, 0.1))
            update = lambda x: state_ops.apply_gradient_descent(target.variable, alpha, x)  # noqa: E731
        else:
            update = lambda x: getattr(state_ops, name)(target.variable, x)  # noqa: E731
        # inside a loop body or a cond branch (not for TF's oracle: control flow does not travel to it)
        if not ctx.tensorflow and ctx.flip(0.3):
            result = _in_control_flow(ctx, update, target.variable, value)
        else:
            result = update(value.tensor)
        ctx.updated.add(index)
        ctx.add(result)
        return True

    return Spec(build, STATE_ONLY)


def _in_control_flow(ctx, update, variable, value):
    """The assignment `update(value)` inside a loop of 0 to 3 iterations, each adding to the value what the
    variable holds after its write (the next iteration's write sees it), or in the taken branch of a cond."""
    if ctx.flip():
        count = ctx.choose_count(0, 3)

        def body(i, acc):
            with tf.control_dependencies([update(tf.tanh(acc))]):
                return i + 1, acc * 0.5 + variable.read_value()

        invariants = [tf.TensorShape([]), tf.TensorShape([None] * len(value.shape))]  # as in _while_loop
        result = tf.while_loop(lambda i, acc: i < count, body, [0, value.tensor], shape_invariants=invariants,
                               parallel_iterations=1)[1]
        result.set_shape(value.shape)
        return result
    predicate = tf.reduce_sum(value.tensor) > 0.0
    return tf.cond(predicate, lambda: update(value.tensor) * 1.0, lambda: variable.read_value() + value.tensor)


# TF's training ops writing a variable and its slots: the slots, then the scalar hyperparameters' choices.
_TRAINING_UPDATES = {
    "apply_adam": (2, ((0.9, 0.5), (0.999, 0.8), (0.01, 0.5), (0.9, 0.5), (0.999, 0.8), (1e-8, 0.1))),
    "apply_momentum": (1, ((0.1, 0.5),)),
    "apply_adagrad": (1, ((0.1, 0.5),)),
    "apply_rms_prop": (2, ((0.01, 0.5), (0.9, 0.5), (0.0, 0.5), (1e-10, 0.1))),
}


def _training_update(name):
    """One of TF's training ops on new variables (it writes the variable and its slots). The slots start
    from the variables' random values: Adagrad's and RMSProp's square roots may see negative ones (NaN, in
    graphc's code as in its reference)."""

    def build(ctx):
        slots, choices = _TRAINING_UPDATES[name]
        shape = ctx.new_shape()
        indices = []
        for _ in range(1 + slots):
            ctx.variable(shape)
            indices.append(len(ctx.variables) - 1)
        refs = [ctx.variables[i].variable for i in indices]
        grad = ctx.pick_or_leaf(FLOAT, shape=shape).tensor
        hyper = [ctx.one_of(values) for values in choices]
        ctx.updated.update(indices)
        if name == "apply_momentum":  # TF's input order: (var, accum, lr, grad, momentum)
            result = state_ops.apply_momentum(*refs, hyper[0], grad, ctx.one_of((0.9, 0.5)))
        else:
            result = getattr(state_ops, name)(*refs, *hyper, grad)
        ctx.add(result)
        return True

    return Spec(build, STATE_ONLY)


def _cond(ctx):
    """tf.cond on a run-time predicate, each branch computing from captured entries."""
    kind = _numeric_kind(ctx, (FLOAT, INT))
    entry = ctx.pick_or_leaf(kind)
    other = ctx.pick_or_leaf(kind, shape=entry.shape)
    predicate = tf.reduce_sum(tf.cast(other.tensor, tf.float64)) > 0.0
    ctx.add(tf.cond(predicate, lambda: entry.tensor + entry.tensor, lambda: entry.tensor - other.tensor),
            exact=entry.exact and other.exact)
    return True


def _while_loop(ctx):
    """tf.while_loop running 0 to 3 times, its body using a captured entry (a loop's gradient needs
    maximum_iterations: the rows it saves)."""
    kind = _numeric_kind(ctx, (FLOAT, INT))
    entry = ctx.pick_or_leaf(kind)
    other = ctx.pick_or_leaf(kind, shape=entry.shape)
    count = ctx.choose_count(0, 3)
    if kind == FLOAT:
        body = lambda i, v: (i + 1, tf.tanh(v) + other.tensor * 0.5)  # noqa: E731 - bounded whatever the count
    else:
        body = lambda i, v: (i + 1, v + other.tensor)  # noqa: E731
    # Declared-unknown dims of a replay's placeholders can make the body's static shape less specific
    # than the entry's (TF1 then asks for shape_invariants too): the invariant leaves every dim open.
    invariants = [tf.TensorShape([]), tf.TensorShape([None] * len(entry.shape))]
    result = tf.while_loop(lambda i, v: i < count, body, [0, entry.tensor], maximum_iterations=count,
                           shape_invariants=invariants)[1]
    result.set_shape(entry.shape)  # what it is: the pool holds static shapes
    ctx.add(result, exact=entry.exact and other.exact and kind != FLOAT)
    return True


SPECS: dict[str, Spec] = {
    "identity": _identity("identity"),
    "cond": Spec(_cond, NOT_SMOOTH),  # the predicate's jump: finite differences are no oracle across it
    "while": Spec(_while_loop),
    "stop_gradient": _identity("stop_gradient", NOT_SMOOTH),
    "cast": Spec(_cast),
    "reshape": Spec(_reshape),
    "transpose": Spec(_transpose),
    "broadcast_to": Spec(_broadcast_to),
    "tile": Spec(_tile),
    "zeros_like": unary("zeros_like", (FLOAT, INT, BOOL), exact=True, modes=VALUES_ONLY),
    "fill": Spec(_fill),
    "neg": unary("neg", exact=True),
    "square": unary("square"),
    "sqrt": unary("sqrt", (FLOAT,), positive=True, keeps_positive=True),
    "rsqrt": unary("rsqrt", (FLOAT,), positive=True, keeps_positive=True),
    "exp": unary("exp", (FLOAT,), bounded=True),
    "log": unary("log", (FLOAT,), positive=True),
    "abs": unary("abs", exact=True, modes=NOT_SMOOTH),
    "sign": unary("sign", exact=True, discontinuous=True, modes=NOT_SMOOTH),
    "tanh": unary("tanh", (FLOAT,)),
    "sigmoid": unary("sigmoid", (FLOAT,), keeps_positive=True),
    "reciprocal": unary("reciprocal", (FLOAT,), positive=True, keeps_positive=True),
    "relu": unary("relu", exact=True, modes=NOT_SMOOTH),
    "logical_not": unary("logical_not", (BOOL,), exact=True, modes=VALUES_ONLY),
    "sin": unary("sin", (FLOAT,)),
    "cos": unary("cos", (FLOAT,)),
    "tan": unary("tan", (FLOAT,), positive=True),  # in [0.5, 1.5]: clear of the poles at +-pi/2
    "erf": Spec(_erf),
    "log1p": unary("log1p", (FLOAT,), positive=True),
    "expm1": unary("expm1", (FLOAT,), bounded=True),
    **{name: unary(name, (FLOAT,), exact=True, discontinuous=True, modes=NOT_SMOOTH)
       for name in ("floor", "ceil", "round")},
    "softplus": unary("softplus", (FLOAT,), keeps_positive=True),
    "elu": unary("elu", (FLOAT,), modes=NOT_SMOOTH),  # smooth once; its gradient has a kink at 0
    "selu": unary("selu", (FLOAT,), modes=NOT_SMOOTH),
    "leaky_relu": Spec(_leaky_relu, NOT_SMOOTH),
    "elu_grad": _activation_gradient_helper("elu_grad"),
    "selu_grad": _activation_gradient_helper("selu_grad"),
    "leaky_relu_grad": _activation_gradient_helper("leaky_relu_grad", alpha=True),
    "tanh_grad": _gradient_helper("tanh_grad"),
    "sigmoid_grad": _gradient_helper("sigmoid_grad", grouping_differs_in_tensorflow=True),
    "sqrt_grad": _gradient_helper("sqrt_grad", positive_first=True),
    "relu_grad": Spec(_relu_grad, NOT_SMOOTH),
    "add": binary("add"),
    "sub": binary("sub"),
    "mul": binary("mul"),
    "div": binary("div", (FLOAT,), positive_inputs=(1,)),
    **{name: binary(name, exact=True, discontinuous=True, modes=VALUES_ONLY)
       for name in ("floordiv", "floormod", "truncatediv", "truncatemod")},
    "atan2": binary("atan2", (FLOAT,), positive_inputs=(1,)),  # x > 0: clear of the origin and the cut at x < 0
    "maximum": binary("maximum", exact=True, modes=NOT_SMOOTH),
    "minimum": binary("minimum", exact=True, modes=NOT_SMOOTH),
    "pow": binary("pow", (FLOAT,), positive_inputs=(0,)),
    **{name: binary(name, (FLOAT, INT), exact=True, discontinuous=True, modes=VALUES_ONLY)
       for name in ("less", "less_equal", "greater", "greater_equal")},
    **{name: binary(name, (FLOAT, INT, BOOL), exact=True, discontinuous=True, modes=VALUES_ONLY)
       for name in ("equal", "not_equal")},
    "logical_and": binary("logical_and", (BOOL,), exact=True, modes=VALUES_ONLY),
    "logical_or": binary("logical_or", (BOOL,), exact=True, modes=VALUES_ONLY),
    "select": Spec(_select),
    "add_n": Spec(_add_n),
    "matmul": Spec(_matmul),
    "batch_matmul": Spec(_batch_matmul),
    "reduce_sum": reduction("reduce_sum"),
    "reduce_mean": reduction("reduce_mean"),
    "reduce_max": reduction("reduce_max", exact=True, modes=NOT_SMOOTH),
    "reduce_min": reduction("reduce_min", exact=True, modes=NOT_SMOOTH),
    "reduce_prod": reduction("reduce_prod"),
    "reduce_any": reduction("reduce_any", exact=True, modes=VALUES_ONLY, kinds=(BOOL,)),
    "reduce_all": reduction("reduce_all", exact=True, modes=VALUES_ONLY, kinds=(BOOL,)),
    "cumsum": _scan("cumsum"),
    "cumprod": _scan("cumprod"),
    "top_k": _top_k("top_k"),
    "top_k_indices": _top_k("top_k_indices"),
    "argmax": _arg_reduction("argmax"),
    "argmin": _arg_reduction("argmin"),
    "softmax": _softmax("softmax"),
    "log_softmax": _softmax("log_softmax"),
    "sparse_softmax_xent": _sparse_xent("sparse_softmax_xent"),
    "sparse_softmax_xent_grad": _sparse_xent("sparse_softmax_xent_grad"),
    "in_top_k": Spec(_in_top_k, VALUES_ONLY),
    "bias_add": Spec(_bias_add),
    "concat": Spec(_concat),
    "expand_dims": Spec(_expand_dims),
    "squeeze": Spec(_squeeze),
    "slice": Spec(_slice),
    "strided_slice": Spec(_strided_slice),
    "pad": Spec(_pad),
    "mirror_pad": Spec(_mirror_pad),
    "mirror_pad_grad": Spec(_mirror_pad_grad),
    "one_hot": Spec(_one_hot, NOT_SMOOTH),
    "gather": Spec(_gather),
    "gather_nd": Spec(_gather_nd),
    "unsorted_segment_sum": Spec(_unsorted_segment_sum),
    "check_numerics": Spec(_check_numerics),
    "assert": Spec(_assert),
    **{name: _update(name) for name in ("assign", "assign_add", "assign_sub", "apply_gradient_descent")},
    **{name: _training_update(name) for name in _TRAINING_UPDATES},
    "conv2d": Spec(_conv2d),
    "max_pool": Spec(_pool(tf.nn.max_pool, exact=True), NOT_SMOOTH),
    "avg_pool": Spec(_pool(tf.nn.avg_pool, exact=False)),
    "random_uniform": _random("random_uniform"),
    "random_normal": _random("random_normal"),
    "truncated_normal": _random("truncated_normal"),
    "log_uniform_sampled": Spec(_log_uniform_sampled, VALUES_ONLY),
    "mpi_allreduce": _collective(collective_ops.allreduce_sum),
    "mpi_allgather": _collective(collective_ops.allgather),
    "mpi_broadcast": _collective(lambda tensor: collective_ops.broadcast(tensor, 0)),
}

# Registered ops the fuzzer does not build, each with the reason.
NOT_FUZZED: dict[str, str] = {
    "constant": "every graph has constants (shapes, axes, Python scalars)",
    "placeholder": "the leaves of every graph",
    "feed": "IR only: what lowering makes of placeholders",
    "histogram_statistics": "IR only: what the step computes for a histogram summary (compiled against the "
                            "reference and TF in tests/e2e/test_histograms_in_step.py)",
    "read": "IR only: variable reads (tests/backend, tests/e2e)",
    "write": "IR only: variable writes (tests/backend, tests/e2e)",
    "shape": "graph only; folded to a constant when lowering",
    "size": "graph only; folded to a constant when lowering",
    "rank": "graph only; folded to a constant when lowering",
    "shape_n": "graph only; folded to a constant when lowering",
    "invert_permutation": "graph only; used by transpose's gradient, which the fuzzer differentiates",
    "broadcast_gradient_args": "graph only; used by broadcasting gradients, which the fuzzer differentiates",
    "reduced_shape": "graph only; used by reduction gradients, which the fuzzer differentiates",
    "range": "graph only; folded to a constant when lowering",
    "variable": "the leaves of state-mode graphs (BuildContext.leaf)",
    "no_op": "no value to compare",
    "concat_offset": "graph only; used by concat's gradient, which the fuzzer differentiates",
    "strided_slice_grad": "made by strided_slice's gradient, which the gradient modes build and compile",
    **{name: f"made by {name.split('_backprop')[0].replace('_grad', '')}'s gradient, which the gradient modes "
             "build and compile" for name in ("conv2d_backprop_input", "conv2d_backprop_filter", "max_pool_grad",
                                             "avg_pool_grad")},
    **{name: "summaries: strings finished on the host (tests/e2e/test_summaries*.py)"
       for name in ("scalar_summary", "histogram_summary", "image_summary", "tensor_summary", "merge_summary")},
    "initialized_value": "initialisers: tests/unit/test_variables.py",
    "is_variable_initialized": "the session's state, not a function of values: tests/e2e/test_initialization_checks.py",
    "report_uninitialized_variables": "strings finished on the host: tests/e2e/test_initialization_checks.py",
    "string_join": "strings, joined on the host (tests/e2e/test_strings.py)",
    "print_v2": "tf.print: writes on the host, no value to compare (tests/e2e/test_print.py)",
    "where": "finished on the host (its shape depends on values): tests/e2e/test_structural_math_tf.py",
    "iterator_get_next": "tf.data: values the session's input pipeline feeds (tests/e2e/test_data.py)",
    "make_iterator": "tf.data: starts an iterator on the host, computes nothing (tests/e2e/test_data.py)",
    "param": "IR only: a region's view of its loop's or cond's operands (tests/unit/test_control_flow_ir.py)",
    "function_argument": "graph only: the inputs of a while_loop's or cond's functions",
    "row_read": "x[i] at a loop counter: tests/backend/test_control_flow_compiled.py",
    "row_read_grad": "made by row_read's gradient: tests/backend/test_control_flow_compiled.py",
    "row_write": "TensorArray.write: tests/backend/test_control_flow_compiled.py",
}
