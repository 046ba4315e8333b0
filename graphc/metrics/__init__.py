"""`tf.metrics`: TF1's streaming metrics, each a `(value, update_op)` pair over local variables."""

from graphc.metrics.metrics_impl import (accuracy, auc, false_negatives, false_positives, mean, mean_squared_error,
                                         precision, recall, true_negatives, true_positives)

__all__ = ["accuracy", "auc", "false_negatives", "false_positives", "mean", "mean_squared_error", "precision",
           "recall", "true_negatives", "true_positives"]
