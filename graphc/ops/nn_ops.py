"""Neural-network ops (`tf.nn`): relu, softmax, cross-entropies, in_top_k, bias_add, dropout."""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.core import dtypes, messages, registry, rules
from graphc.core.registry import NOT_DIFFERENTIABLE, DTypeError, Effects, FusionClass, OpDef, ShapeError, TensorType
from graphc.core.rules import FLOAT_TYPES, INDEX_TYPES
from graphc.frontend.graph import apply_op, convert_to_tensor, name_scope
from graphc.ops import array_ops, layout_ops, math_ops, random_ops

# -- Relu -------------------------------------------------------------------------------


def _relu_reference(x):
    # x <= 0 -> 0 keeps NaN as NaN (a NaN is not <= 0), as TF does.
    return np.where(x <= 0, np.zeros((), x.dtype), x)


relu_p = registry.register(OpDef(name="relu", tf_type="Relu", infer=rules.unary(rules.NUMERIC_TYPES),
                                 fusion=FusionClass.ELEMENTWISE, reference=_relu_reference))


@registry.set_gradient(relu_p)
def _relu_grad(op, g):
    return [apply_op("relu_grad", [g, op.outputs[0]])]


def relu(features, name=None):
    """`tf.nn.relu`."""
    return apply_op("relu", [features], name=name)


# -- Softmax and LogSoftmax over the last axis -----------------------------------------------


def _softmax_infer(types, attrs):
    dtype = rules.same_dtype(types, FLOAT_TYPES)
    dims = types[0].dims
    if dims is not None and len(dims) < 1:
        raise ShapeError("logits must have at least one dimension")
    return TensorType(dtype, dims)


def _row_max(x):
    return np.max(x, axis=-1, keepdims=True, initial=-np.inf).astype(x.dtype)


def _row_sum(x, keepdims=True):
    """Sums over the last axis accumulated wider (float32 in float64, float64 in long double) and
    rounded once: the oracle is at least as accurate as the kernels' blocked sums."""
    wider = np.float64 if x.dtype == np.float32 else np.longdouble
    return np.sum(x, axis=-1, keepdims=keepdims, dtype=wider).astype(x.dtype)


def _softmax_reference(x):
    e = np.exp(x - _row_max(x))
    return e / _row_sum(e)


def _log_softmax_reference(x):
    shifted = x - _row_max(x)
    return shifted - np.log(_row_sum(np.exp(shifted)))


softmax_p = registry.register(OpDef(name="softmax", tf_type="Softmax", infer=_softmax_infer,
                                    fusion=FusionClass.OPAQUE, reference=_softmax_reference))
log_softmax_p = registry.register(OpDef(name="log_softmax", tf_type="LogSoftmax", infer=_softmax_infer,
                                        fusion=FusionClass.OPAQUE, reference=_log_softmax_reference))


@registry.set_gradient(softmax_p)
def _softmax_grad(op, g):
    y = op.outputs[0]
    return [(g - math_ops.reduce_sum(g * y, -1, keepdims=True)) * y]


@registry.set_gradient(log_softmax_p)
def _log_softmax_grad(op, g):
    return [g - math_ops.reduce_sum(g, -1, keepdims=True) * math_ops.exp(op.outputs[0])]


def _along_last_axis(op_name, logits, axis, name):
    logits = convert_to_tensor(logits)
    rank = logits.shape.ndims
    if axis in (-1, None) or (rank is not None and axis == rank - 1):
        return apply_op(op_name, [logits], name=name)
    if rank is None:
        raise ValueError(f"graphc: {op_name} over axis {axis} needs a tensor of known rank")
    if not -rank <= axis < rank:  # TF1 raises this class while building, too
        raise errors.InvalidArgumentError(None, None, f"`dim` must be in the range [{-rank}, {rank}) where {rank} is "
                                                      f"the number of dimensions in the input. Received: dim={axis}")
    perm = list(range(rank))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    with name_scope(name, op_name, [logits]):
        return array_ops.transpose(apply_op(op_name, [array_ops.transpose(logits, perm)]), perm)


def softmax(logits, axis=None, name=None, dim=None):
    """`tf.nn.softmax` (over the last axis unless `axis` says otherwise)."""
    return _along_last_axis("softmax", logits, axis if axis is not None else dim, name)


def log_softmax(logits, axis=None, name=None, dim=None):
    """`tf.nn.log_softmax`."""
    return _along_last_axis("log_softmax", logits, axis if axis is not None else dim, name)


# -- Sparse softmax cross-entropy ------------------------------------------------------------


def _xent_types(types):
    logits, labels = types
    if logits.dtype not in FLOAT_TYPES:
        raise DTypeError(f"logits must be float32 or float64, got {logits.dtype.name}")
    if labels.dtype not in INDEX_TYPES:
        raise DTypeError(f"labels must be int32 or int64, got {labels.dtype.name}")
    rules.require_rank(logits, 2, "logits")
    rules.require_rank(labels, 1, "labels")
    batch = rules.merge_dim((logits.dims or (None, None))[0], (labels.dims or (None,))[0], "batch")
    classes = (logits.dims or (None, None))[1]
    if classes == 0:
        raise ShapeError("Must have at least one class, but got logits shape [" +
                         ",".join("?" if d is None else str(d) for d in logits.dims) + "]")
    return logits.dtype, batch, classes


def check_labels(logits, labels):
    """The native kernels' label check, as the reference implementations raise it."""
    classes = logits.shape[1]
    bad = (labels < 0) | (labels >= classes)
    if np.any(bad):
        value = int(labels[np.argmax(bad)])
        raise errors.InvalidArgumentError(None, None, messages.label_out_of_range(value, classes))


def _xent_reference(logits, labels):
    check_labels(logits, labels)
    shifted = logits - _row_max(logits)
    log_sum = np.log(_row_sum(np.exp(shifted), keepdims=False))
    return log_sum - shifted[np.arange(len(labels)), labels]


def _xent_grad_reference(logits, labels):
    check_labels(logits, labels)
    grad = _softmax_reference(logits)
    grad[np.arange(len(labels)), labels] -= 1
    return grad


# The cross-entropy and its gradient anchor one softmax kernel (a row pass for both, then an
# epilogue); a label out of range fails the run.
_LABELS_CHECKED = Effects(may_fail=True)
sparse_xent_p = registry.register(OpDef(
    name="sparse_softmax_xent", tf_type="SparseSoftmaxCrossEntropyWithLogits",
    infer=lambda types, attrs: TensorType(_xent_types(types)[0], (_xent_types(types)[1],)),
    fusion=FusionClass.ANCHOR, anchor="softmax", effects=_LABELS_CHECKED, reference=_xent_reference,
    tf_extra_outputs=("sparse_softmax_xent_grad",)))

# d loss / d logits = softmax(logits) - one_hot(labels). TF1 returns it as the loss op's
# second output; graphc makes it its own op so the IR stays single-result.
sparse_xent_grad_p = registry.register(OpDef(
    name="sparse_softmax_xent_grad", tf_type="SparseSoftmaxCrossEntropyWithLogitsGrad",
    infer=lambda types, attrs: TensorType(_xent_types(types)[0], (_xent_types(types)[1], _xent_types(types)[2])),
    fusion=FusionClass.ANCHOR, anchor="softmax", effects=_LABELS_CHECKED, reference=_xent_grad_reference))


@registry.set_gradient(sparse_xent_p)
def _sparse_xent_grad(op, g):
    logits, labels = op.inputs
    return [array_ops.reshape(g, [-1, 1]) * apply_op("sparse_softmax_xent_grad", [logits, labels]), None]


@registry.set_gradient(sparse_xent_grad_p)
def _sparse_xent_grad_grad(op, g):
    softmax_logits = softmax(op.inputs[0])
    return [(g - math_ops.reduce_sum(g * softmax_logits, -1, keepdims=True)) * softmax_logits, None]


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """`tf.nn.sparse_softmax_cross_entropy_with_logits`: per-example loss.

    A label outside [0, classes) makes the run fail with InvalidArgumentError.
    """
    if _sentinel is not None:
        raise ValueError("Only call `sparse_softmax_cross_entropy_with_logits` with named arguments "
                         "(labels=..., logits=..., ...)")
    if labels is None or logits is None:
        raise ValueError("Both labels and logits must be provided.")
    logits = convert_to_tensor(logits, name="logits")
    labels = convert_to_tensor(labels, name="labels")
    l_rank, y_rank = logits.shape.ndims, labels.shape.ndims
    if l_rank is not None and y_rank is not None and y_rank != l_rank - 1:
        raise ValueError(f"Rank mismatch: Rank of labels (received {y_rank}) should equal rank of logits "
                         f"minus 1 (received {l_rank}).")
    if l_rank == 2 or l_rank is None:
        return apply_op("sparse_softmax_xent", [logits, labels], name=name or "SparseSoftmaxCrossEntropyWithLogits")
    with name_scope(name, "SparseSoftmaxCrossEntropyWithLogits", [logits, labels]):
        classes = logits.shape.as_list()[-1]
        flat = apply_op("sparse_softmax_xent", [array_ops.reshape(logits, [-1, classes]),
                                                array_ops.reshape(labels, [-1])])
        return array_ops.reshape(flat, array_ops.shape(labels))


def softmax_cross_entropy_with_logits_v2(_sentinel=None, labels=None, logits=None, axis=-1, name=None, dim=None):
    """`tf.nn.softmax_cross_entropy_with_logits_v2`: -sum(labels * log_softmax(logits))."""
    if _sentinel is not None:
        raise ValueError("Only call `softmax_cross_entropy_with_logits` with named arguments")
    if dim is not None:
        axis = dim
    with name_scope(name, "softmax_cross_entropy_with_logits", [logits, labels]):
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, dtype=logits.dtype, name="labels")
        return math_ops.negative(math_ops.reduce_sum(labels * log_softmax(logits, axis=axis), axis))


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1, name=None, axis=None):
    """`tf.nn.softmax_cross_entropy_with_logits` (TF1): no gradient flows into `labels`."""
    labels = array_ops.stop_gradient(convert_to_tensor(labels, name="labels"))
    return softmax_cross_entropy_with_logits_v2(_sentinel, labels=labels, logits=logits,
                                                axis=axis if axis is not None else dim, name=name)


# -- InTopK -----------------------------------------------------------------------------------


def _in_top_k_infer(types, attrs):
    predictions, targets = types
    if predictions.dtype is not dtypes.float32:
        raise DTypeError(f"predictions must be float32, got {predictions.dtype.name}")
    if targets.dtype not in INDEX_TYPES:
        raise DTypeError(f"targets must be int32 or int64, got {targets.dtype.name}")
    rules.require_rank(predictions, 2, "predictions")
    rules.require_rank(targets, 1, "targets")
    batch = rules.merge_dim((predictions.dims or (None, None))[0], (targets.dims or (None,))[0], "batch")
    return TensorType(dtypes.bool_, (batch,))


def _in_top_k_reference(predictions, targets, k):
    """TF's rule: false for a target out of range or any non-finite prediction in the row."""
    k = int(np.asarray(k))
    batch, classes = predictions.shape
    out = np.zeros(batch, dtype=bool)
    for row in range(batch):
        target = int(targets[row])
        if not 0 <= target < classes or not np.all(np.isfinite(predictions[row])):
            continue
        out[row] = np.count_nonzero(predictions[row] > predictions[row, target]) < k
    return out


in_top_k_p = registry.register(OpDef(
    name="in_top_k", tf_type="InTopKV2", infer=_in_top_k_infer, fusion=FusionClass.OPAQUE,
    static_inputs=("k",), reference=_in_top_k_reference, gradient=NOT_DIFFERENTIABLE))


def in_top_k(predictions, targets, k, name=None):
    """`tf.nn.in_top_k`: whether each target is among the k largest predictions (ties count)."""
    predictions = convert_to_tensor(predictions)
    targets = convert_to_tensor(targets)
    k = convert_to_tensor(k, dtype=None if hasattr(k, "dtype") else targets.dtype, graph=predictions.graph)
    return apply_op("in_top_k", [predictions, targets, k], name=name)


# -- BiasAdd ----------------------------------------------------------------------------------


def _bias_add_infer(types, attrs):
    value, bias = types
    dtype = rules.same_dtype(types, rules.NUMERIC_TYPES)
    if value.dims is not None and len(value.dims) < 2:
        raise ShapeError(f"Shape must be at least rank 2 but is rank {len(value.dims)}")
    rules.require_rank(bias, 1, "bias")
    if value.dims is not None and bias.dims is not None:
        rules.merge_dim(value.dims[-1], bias.dims[0], "BiasAdd")
    return TensorType(dtype, value.dims)


# value + bias over the last axis: an add whose rule insists the bias is one row (NHWC).
bias_add_p = registry.register(OpDef(name="bias_add", tf_type="BiasAdd", infer=_bias_add_infer,
                                     fusion=FusionClass.ELEMENTWISE, reference=np.add))


@registry.set_gradient(bias_add_p)
def _bias_add_grad(op, g):
    rank = g.shape.ndims
    if rank is None:  # rows of the last axis: the bias's gradient sums them whatever the rank
        rows = array_ops.reshape(g, layout_ops.stack([-1, array_ops.shape(g)[-1]]))
        return [g, math_ops.reduce_sum(rows, [0])]
    return [g, math_ops.reduce_sum(g, list(range(rank - 1)))]


def bias_add(value, bias, data_format=None, name=None):
    """`tf.nn.bias_add`: `bias` (1-D) added along the last axis of `value`."""
    if data_format not in (None, "NHWC", "N...C"):
        raise ValueError(f"graphc: bias_add supports data_format='NHWC' only, not {data_format!r}")
    with name_scope(name, "BiasAdd", [value, bias]) as scope:
        value = convert_to_tensor(value, name="input")
        bias = convert_to_tensor(bias, dtype=value.dtype, name="bias")
        return apply_op("bias_add", [value, bias], name=scope)


# -- Dropout ---------------------------------------------------------------------------------------


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """`tf.nn.dropout` (TF 1.15): each element kept with probability 1 - rate and scaled by
    1 / (1 - rate), else 0. Give exactly one of `keep_prob` (deprecated) and `rate`.

    The mask comes from a `random_uniform` op (Philox keyed by the op's seeds and the run
    count): a fresh mask every run, the same sequence of masks for the same seeds.
    """
    if keep_prob is not None and rate is not None:
        raise ValueError("Cannot specify both 'keep_prob' and 'rate'")
    if keep_prob is not None:
        try:
            rate = 1 - keep_prob
        except TypeError:
            raise ValueError(f"keep_prob must be a floating point number or Tensor (got {keep_prob!r})") from None
    if rate is None:
        raise ValueError("You must provide a rate to dropout.")
    with name_scope(name, "dropout", [x]) as scope:
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_floating:
            raise ValueError("x has to be a floating point tensor since it's going to be scaled. Got a "
                             f"{x.dtype.name} tensor instead.")
        if isinstance(rate, (int, float, np.floating, np.integer)):
            if not 0 <= rate < 1:
                raise ValueError(f"rate must be a scalar tensor or a float in the range [0, 1), got {rate:g}")
            if rate == 0:
                return x
        rate = convert_to_tensor(rate, dtype=x.dtype, name="rate")
        if rate.shape.ndims not in (None, 0):
            raise ValueError(f"Shape {rate.shape} must have rank 0")
        random_tensor = random_ops.random_uniform(_noise_shape(x, noise_shape), seed=seed, dtype=x.dtype)
        keep_mask = math_ops.greater_equal(random_tensor, rate)
        scale = 1 / (1 - rate)
        return math_ops.multiply(x * scale, array_ops.cast(keep_mask, x.dtype), name=scope)


def _noise_shape(x, noise_shape):
    """TF1's rule: the shape of x, or `noise_shape` with its None entries taken from x
    (from `tf.shape(x)` where x's static shape does not know them either)."""
    if noise_shape is None:
        return array_ops.shape(x)
    if not isinstance(noise_shape, (list, tuple)) or x.shape.ndims != len(noise_shape):
        return noise_shape
    dims = [x.shape.as_list()[i] if d is None else d for i, d in enumerate(noise_shape)]
    if None not in dims:
        return dims
    x_shape = array_ops.shape(x)
    return layout_ops.stack([x_shape[i] if d is None else d for i, d in enumerate(dims)])
