"""Neural-network ops (`tf.nn`): relu, softmax, cross-entropies, in_top_k."""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.frontend import dtypes
from graphc.frontend.graph import apply_op, convert_to_tensor, name_scope
from graphc.ops import array_ops, math_ops, registry, rules
from graphc.ops.registry import NOT_DIFFERENTIABLE, DTypeError, FusionClass, OpDef, ShapeError, TensorType
from graphc.ops.rules import FLOAT_TYPES, INDEX_TYPES

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


def _softmax_reference(x):
    e = np.exp(x - _row_max(x))
    return e / np.sum(e, axis=-1, keepdims=True, dtype=x.dtype)


def _log_softmax_reference(x):
    shifted = x - _row_max(x)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True, dtype=x.dtype))


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
        raise errors.InvalidArgumentError(
            None, None, f"Received a label value of {value} which is outside the valid range of "
                        f"[0, {classes}).")


def _xent_reference(logits, labels):
    check_labels(logits, labels)
    shifted = logits - _row_max(logits)
    log_sum = np.log(np.sum(np.exp(shifted), axis=-1, dtype=logits.dtype))
    return log_sum - shifted[np.arange(len(labels)), labels]


def _xent_grad_reference(logits, labels):
    check_labels(logits, labels)
    grad = _softmax_reference(logits)
    grad[np.arange(len(labels)), labels] -= 1
    return grad


sparse_xent_p = registry.register(OpDef(
    name="sparse_softmax_xent", tf_type="SparseSoftmaxCrossEntropyWithLogits",
    infer=lambda types, attrs: TensorType(_xent_types(types)[0], (_xent_types(types)[1],)),
    fusion=FusionClass.OPAQUE, reference=_xent_reference))

# d loss / d logits = softmax(logits) - one_hot(labels). TF1 returns it as the loss op's
# second output; graphc makes it its own op so the IR stays single-result.
sparse_xent_grad_p = registry.register(OpDef(
    name="sparse_softmax_xent_grad", tf_type="SparseSoftmaxCrossEntropyWithLogitsGrad",
    infer=lambda types, attrs: TensorType(_xent_types(types)[0], (_xent_types(types)[1], _xent_types(types)[2])),
    fusion=FusionClass.OPAQUE, reference=_xent_grad_reference))


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
