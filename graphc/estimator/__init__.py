"""`tf.estimator`: Estimator, EstimatorSpec, ModeKeys, RunConfig (and `inputs.numpy_input_fn`)."""

from graphc.estimator.estimator import Estimator
from graphc.estimator.model_fn import EstimatorSpec, ModeKeys
from graphc.estimator.run_config import RunConfig

# Integrator: `from graphc.estimator import inputs` goes here when graphc/estimator/inputs.py (numpy_input_fn)
# is merged.

__all__ = ["Estimator", "EstimatorSpec", "ModeKeys", "RunConfig"]
