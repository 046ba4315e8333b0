"""`tf.estimator`: Estimator, EstimatorSpec, ModeKeys, RunConfig (and `inputs.numpy_input_fn`)."""

from graphc.estimator import inputs
from graphc.estimator.estimator import Estimator
from graphc.estimator.model_fn import EstimatorSpec, ModeKeys
from graphc.estimator.run_config import RunConfig

__all__ = ["Estimator", "EstimatorSpec", "ModeKeys", "RunConfig", "inputs"]
