"""TF1's streaming metrics: each returns `(value, update_op)` over LOCAL metric variables.

A metric accumulates statistics in float32 variables of the collections
LOCAL_VARIABLES and METRIC_VARIABLES (so `tf.local_variables_initializer()`
resets them); `update_op` adds a batch's statistics and returns the metric
after it, `value` reads the metric from the variables without changing them.
Both are ordinary graph ops: an update runs inside whatever compiled step
fetches it (an Estimator's evaluation step fetches every update_op at once).
Names follow TF 1.15 (`accuracy/total`, `auc/true_positives` ...), so
checkpoints and `tf.local_variables()` look as they do in TensorFlow.
"""

from __future__ import annotations

from graphc.core import dtypes
from graphc.frontend.graph import GraphKeys, control_dependencies, convert_to_tensor, get_default_graph
from graphc.ops import array_ops, check_ops, layout_ops, math_ops, state_ops
from graphc.ops.variable_scope import variable_scope
from graphc.ops.variables import Variable

_AUC_CURVES = ("ROC", "PR")
_SUMMATION_METHODS = ("trapezoidal", "careful_interpolation", "minoring", "majoring")


def metric_variable(shape, dtype, validate_shape=True, name=None) -> Variable:
    """A zero-initialised, untrainable variable in LOCAL_VARIABLES and METRIC_VARIABLES (TF1's)."""
    return Variable(lambda: array_ops.zeros(shape, dtype), trainable=False,
                    collections=[GraphKeys.LOCAL_VARIABLES, GraphKeys.METRIC_VARIABLES],
                    validate_shape=validate_shape, name=name)


def _add_to_collections(collections, value) -> None:
    if collections:
        get_default_graph().add_to_collections(collections, value)


def _remove_squeezable_dimensions(predictions, labels, weights):
    """Drops a trailing dimension of size 1 that predictions (or weights) have and labels lack, as TF1."""
    predictions = convert_to_tensor(predictions)
    if labels is not None:
        labels = convert_to_tensor(labels)
        predictions, labels = _squeeze_one_more(predictions, labels)
    if weights is None:
        return predictions, labels, None
    weights = convert_to_tensor(weights)
    if weights.shape.ndims == 0:
        return predictions, labels, weights
    weights, _ = _squeeze_one_more(weights, predictions)
    return predictions, labels, weights


def _squeeze_one_more(x, reference):
    """(x without its last dim, reference) if x has one more dim than `reference` and it is 1; and the
    other way round."""
    x_rank, reference_rank = x.shape.ndims, reference.shape.ndims
    if x_rank is None or reference_rank is None:
        return x, reference
    if x_rank == reference_rank + 1 and x.shape.as_tuple()[-1] == 1:
        return layout_ops.squeeze(x, [-1]), reference
    if reference_rank == x_rank + 1 and reference.shape.as_tuple()[-1] == 1:
        return x, layout_ops.squeeze(reference, [-1])
    return x, reference


def _broadcast_weights(weights, values):
    """`weights` (cast to the dtype of `values`) broadcast to the shape of `values`."""
    return math_ops.multiply(array_ops.cast(weights, values.dtype), array_ops.ones_like(values))


def mean(values, weights=None, metrics_collections=None, updates_collections=None, name=None):
    """`tf.metrics.mean`: the (weighted) mean of every value seen, in local variables `total` and `count`."""
    with variable_scope(name, "mean", (values, weights)):
        values = array_ops.cast(convert_to_tensor(values), dtypes.float32)
        total = metric_variable([], dtypes.float32, name="total")
        count = metric_variable([], dtypes.float32, name="count")
        if weights is None:
            num_values = array_ops.cast(array_ops.size(values), dtypes.float32)
        else:
            values, _, weights = _remove_squeezable_dimensions(values, None, weights)
            weights = _broadcast_weights(weights, values)
            values = math_ops.multiply(values, weights)
            num_values = math_ops.reduce_sum(weights)
        update_total = state_ops.assign_add(total, math_ops.reduce_sum(values))
        with get_default_graph().control_dependencies([values]):
            update_count = state_ops.assign_add(count, num_values)
        mean_value = math_ops.div_no_nan(total.value(), count.value(), name="value")
        update_op = math_ops.div_no_nan(update_total, update_count, name="update_op")
        _add_to_collections(metrics_collections, mean_value)
        _add_to_collections(updates_collections, update_op)
        return mean_value, update_op


def accuracy(labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None):
    """`tf.metrics.accuracy`: how often `predictions` equals `labels`, a `mean` of the matches."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    predictions.shape.assert_is_compatible_with(labels.shape)
    if labels.dtype != predictions.dtype:
        predictions = array_ops.cast(predictions, labels.dtype)
    is_correct = array_ops.cast(math_ops.equal(predictions, labels), dtypes.float32)
    return mean(is_correct, weights, metrics_collections, updates_collections, name or "accuracy")


def mean_squared_error(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
                       name=None):
    """`tf.metrics.mean_squared_error`: the `mean` of (labels - predictions)²."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    predictions.shape.assert_is_compatible_with(labels.shape)
    squared_error = math_ops.square(math_ops.subtract(labels, predictions))
    return mean(squared_error, weights, metrics_collections, updates_collections, name or "mean_squared_error")


def _count_condition(values, weights=None, metrics_collections=None, updates_collections=None):
    """(count, update): the (weighted) number of true `values` seen, in the local variable `count`."""
    values = array_ops.cast(values, dtypes.float32)
    count = metric_variable([], dtypes.float32, name="count")
    if weights is not None:
        values = math_ops.multiply(values, _broadcast_weights(weights, values))
    value = array_ops.identity(count.value())
    update_op = state_ops.assign_add(count, math_ops.reduce_sum(values))
    _add_to_collections(metrics_collections, value)
    _add_to_collections(updates_collections, update_op)
    return value, update_op


def _counted(condition, default_name):
    """The metric counting where `condition(labels, predictions)` holds, both cast to bool."""
    def metric(labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None):
        with variable_scope(name, default_name, (predictions, labels, weights)):
            predictions, labels, weights = _remove_squeezable_dimensions(
                array_ops.cast(predictions, dtypes.bool_), array_ops.cast(labels, dtypes.bool_), weights)
            return _count_condition(condition(labels, predictions), weights, metrics_collections,
                                    updates_collections)

    metric.__name__ = default_name
    metric.__doc__ = f"`tf.metrics.{default_name}`: the (weighted) count of {default_name.replace('_', ' ')}."
    return metric


true_positives = _counted(lambda labels, predictions: math_ops.logical_and(labels, predictions),
                          "true_positives")
false_positives = _counted(lambda labels, predictions: math_ops.logical_and(math_ops.logical_not(labels),
                                                                            predictions), "false_positives")
false_negatives = _counted(lambda labels, predictions: math_ops.logical_and(labels,
                                                                            math_ops.logical_not(predictions)),
                           "false_negatives")
true_negatives = _counted(lambda labels, predictions: math_ops.logical_and(math_ops.logical_not(labels),
                                                                           math_ops.logical_not(predictions)),
                          "true_negatives")


def _ratio_metric(numerator_count, other_count, default_name):
    """numerator / (numerator + other), 0 when both are 0: precision (other = false positives) and recall
    (other = false negatives)."""
    def metric(labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None):
        with variable_scope(name, default_name, (predictions, labels, weights)):
            hits, hits_update = numerator_count(labels, predictions, weights)
            misses, misses_update = other_count(labels, predictions, weights)

            def ratio(hit, miss, ratio_name):
                total = math_ops.add(hit, miss)
                return math_ops.where(math_ops.greater(total, 0.0), math_ops.truediv(hit, total), 0.0,
                                      name=ratio_name)

            value = ratio(hits, misses, "value")
            update_op = ratio(hits_update, misses_update, "update_op")
            _add_to_collections(metrics_collections, value)
            _add_to_collections(updates_collections, update_op)
            return value, update_op

    metric.__name__ = default_name
    return metric


precision = _ratio_metric(true_positives, false_positives, "precision")
precision.__doc__ = "`tf.metrics.precision`: true positives / (true + false positives), labels and predictions as bool."
recall = _ratio_metric(true_positives, false_negatives, "recall")
recall.__doc__ = "`tf.metrics.recall`: true positives / (true positives + false negatives), as bool."


def _confusion_at_thresholds(labels, predictions, thresholds, weights):
    """{tp, fn, tn, fp}: (variable value, update) pairs of [len(thresholds)] float32 counts, where a
    prediction is positive at a threshold when it is greater than it (TF1's layout and names). A prediction
    outside [0, 1] fails the run, as TF1's assertions make it."""
    predictions = convert_to_tensor(predictions)
    in_range = [check_ops.assert_greater_equal(predictions, array_ops.cast(0.0, predictions.dtype),
                                               message="predictions must be in [0, 1]"),
                check_ops.assert_less_equal(predictions, array_ops.cast(1.0, predictions.dtype),
                                            message="predictions must be in [0, 1]")]
    with control_dependencies(in_range):
        predictions, labels, weights = _remove_squeezable_dimensions(
            array_ops.cast(predictions, dtypes.float32), array_ops.cast(labels, dtypes.bool_), weights)
    # [thresholds, predictions] by broadcasting a column of thresholds against a row of predictions.
    thresholds_column = array_ops.reshape(array_ops.constant(thresholds, dtypes.float32), [-1, 1])
    predicted_positive = math_ops.greater(array_ops.reshape(predictions, [1, -1]), thresholds_column)
    label_positive = array_ops.reshape(labels, [1, -1])
    row_weights = None
    if weights is not None:
        row_weights = array_ops.reshape(_broadcast_weights(weights, predictions), [1, -1])
    conditions = {
        "tp": ("true_positives", lambda: math_ops.logical_and(label_positive, predicted_positive)),
        "fn": ("false_negatives", lambda: math_ops.logical_and(label_positive,
                                                               math_ops.logical_not(predicted_positive))),
        "tn": ("true_negatives", lambda: math_ops.logical_and(math_ops.logical_not(label_positive),
                                                              math_ops.logical_not(predicted_positive))),
        "fp": ("false_positives", lambda: math_ops.logical_and(math_ops.logical_not(label_positive),
                                                               predicted_positive)),
    }
    counts = {}
    for key, (variable_name, condition) in conditions.items():
        variable = metric_variable([len(thresholds)], dtypes.float32, name=variable_name)
        hits = array_ops.cast(condition(), dtypes.float32)
        if row_weights is not None:
            hits = math_ops.multiply(hits, row_weights)
        counts[key] = (variable.value(), state_ops.assign_add(variable, math_ops.reduce_sum(hits, 1)))
    return counts


def _auc_thresholds(num_thresholds, thresholds) -> list:
    """TF1's thresholds: num_thresholds - 2 evenly spaced inside (0, 1) (or the given ones, sorted),
    with -1e-7 and 1 + 1e-7 at the ends so that every prediction in [0, 1] lies between them."""
    epsilon = 1e-7
    if thresholds is not None:
        inner = sorted(float(t) for t in thresholds)
    else:
        inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return [0.0 - epsilon] + inner + [1.0 + epsilon]


def _interpolated_pr_auc(tp, fp, fn, n):
    """The PR curve's area by Davis & Goadrich's interpolation (TF1's 'careful_interpolation')."""
    dtp = tp[:n - 1] - tp[1:]
    p = tp + fp
    precision_slope = math_ops.div_no_nan(dtp, math_ops.maximum(p[:n - 1] - p[1:], 0.0), name="prec_slope")
    intercept = tp[1:] - math_ops.multiply(precision_slope, p[1:])
    safe_p_ratio = math_ops.where(
        math_ops.logical_and(math_ops.greater(p[:n - 1], 0.0), math_ops.greater(p[1:], 0.0)),
        math_ops.div_no_nan(p[:n - 1], math_ops.maximum(p[1:], 0.0), name="recall_relative_ratio"),
        array_ops.ones_like(p[1:]))
    increments = math_ops.div_no_nan(precision_slope * (dtp + intercept * math_ops.log(safe_p_ratio)),
                                     math_ops.maximum(tp[1:] + fn[1:], 0.0), name="pr_auc_increment")
    return math_ops.reduce_sum(increments, name="interpolate_pr_auc")


def _area(counts, n, curve, summation_method, name):
    """The area under `curve` from [n] confusion counts, by TF1's Riemann sums over the thresholds."""
    tp, fn, tn, fp = counts
    if curve == "PR" and summation_method == "careful_interpolation":
        return _interpolated_pr_auc(tp, fp, fn, n)
    epsilon = 1.0e-6
    true_positive_rate = math_ops.truediv(tp + epsilon, tp + fn + epsilon)
    if curve == "ROC":
        x, y = math_ops.truediv(fp, fp + tn + epsilon), true_positive_rate
    else:
        x, y = true_positive_rate, math_ops.truediv(tp + epsilon, tp + fp + epsilon)
    if summation_method in ("trapezoidal", "careful_interpolation"):
        heights = (y[:n - 1] + y[1:]) / 2.0
    elif summation_method == "minoring":
        heights = math_ops.minimum(y[:n - 1], y[1:])
    else:
        heights = math_ops.maximum(y[:n - 1], y[1:])
    return math_ops.reduce_sum(math_ops.multiply(x[:n - 1] - x[1:], heights), name=name)


def auc(labels, predictions, weights=None, num_thresholds=200, metrics_collections=None, updates_collections=None,
        curve="ROC", name=None, summation_method="trapezoidal", thresholds=None):
    """`tf.metrics.auc`: the area under the ROC or PR curve, from confusion counts at `num_thresholds`
    thresholds in [0, 1] (TF1's approximation: predictions are probabilities, labels are cast to bool)."""
    with variable_scope(name, "auc", (labels, predictions, weights)):
        if curve not in _AUC_CURVES:
            raise ValueError(f"curve must be either ROC or PR, {curve} unknown")
        if summation_method not in _SUMMATION_METHODS:
            raise ValueError(f"Invalid summation_method: {summation_method}")
        threshold_list = _auc_thresholds(num_thresholds, thresholds)
        n = len(threshold_list)
        counts = _confusion_at_thresholds(labels, predictions, threshold_list, weights)
        keys = ("tp", "fn", "tn", "fp")
        value = _area([counts[k][0] for k in keys], n, curve, summation_method, "value")
        update_op = _area([counts[k][1] for k in keys], n, curve, summation_method, "update_op")
        _add_to_collections(metrics_collections, value)
        _add_to_collections(updates_collections, update_op)
        return value, update_op
