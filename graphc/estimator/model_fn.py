"""What a `model_fn` returns: `EstimatorSpec`, for one of the three `ModeKeys`."""

from __future__ import annotations

import collections

from graphc.frontend.graph import Tensor
from graphc.train.monitored_session import Scaffold


class ModeKeys:
    """The mode an Estimator calls `model_fn` in (`tf.estimator.ModeKeys`)."""

    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"


LOSS_METRIC_KEY = "loss"

_FIELDS = ["mode", "predictions", "loss", "train_op", "eval_metric_ops", "export_outputs", "training_chief_hooks",
           "training_hooks", "scaffold", "evaluation_hooks", "prediction_hooks"]


class EstimatorSpec(collections.namedtuple("EstimatorSpec", _FIELDS)):
    """The ops of a model in one mode: TRAIN needs `loss` and `train_op`, EVAL `loss` (and may have
    `eval_metric_ops`, name -> (value, update_op)), PREDICT `predictions` (a tensor or a dict of them)."""

    def __new__(cls, mode, predictions=None, loss=None, train_op=None, eval_metric_ops=None, export_outputs=None,
                training_chief_hooks=None, training_hooks=None, scaffold=None, evaluation_hooks=None,
                prediction_hooks=None):
        if mode not in (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT):
            raise ValueError(f"mode={mode} unrecognized.")
        if loss is not None:
            if not isinstance(loss, Tensor):
                raise TypeError(f"loss must be Tensor, given: {loss}")
            if loss.shape.ndims not in (None, 0) and loss.shape.num_elements() != 1:
                raise ValueError(f"Loss must be scalar, given: {loss}")
        if mode == ModeKeys.TRAIN and train_op is None:
            raise ValueError("Missing train_op.")
        if mode in (ModeKeys.TRAIN, ModeKeys.EVAL) and loss is None:
            raise ValueError("Missing loss.")
        if mode == ModeKeys.PREDICT and predictions is None:
            raise ValueError("Missing predictions.")
        if predictions is not None and not isinstance(predictions, (Tensor, dict)):
            raise TypeError(f"predictions must be Tensor or dict of string to Tensor, given: {predictions}")
        eval_metric_ops = dict(eval_metric_ops or {})
        for key, metric in eval_metric_ops.items():
            if not (isinstance(metric, tuple) and len(metric) == 2):
                raise TypeError(f"Values of eval_metric_ops must be (metric_value, update_op) tuples, given: "
                                f"{metric} for key: {key}")
        return super().__new__(cls, mode, predictions, loss, train_op, eval_metric_ops, export_outputs,
                               tuple(training_chief_hooks or ()), tuple(training_hooks or ()), scaffold or Scaffold(),
                               tuple(evaluation_hooks or ()), tuple(prediction_hooks or ()))
