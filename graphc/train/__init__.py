"""`tf.train`: optimizers, learning-rate schedules, the global step, and saving and restoring variables."""

from graphc.train.adagrad import AdagradOptimizer
from graphc.train.adam import AdamOptimizer
from graphc.train.checkpoint_io import CheckpointState
from graphc.train.gradient_descent import GradientDescentOptimizer
from graphc.train.learning_rate_decay import exponential_decay
from graphc.train.momentum import MomentumOptimizer
from graphc.train.optimizer import Optimizer
from graphc.train.rmsprop import RMSPropOptimizer
from graphc.train.saver import (Saver, checkpoint_exists, get_checkpoint_state, latest_checkpoint, list_variables,
                                load_variable)
from graphc.train.training_util import create_global_step, get_global_step, get_or_create_global_step

__all__ = ["AdagradOptimizer", "AdamOptimizer", "CheckpointState", "GradientDescentOptimizer", "MomentumOptimizer",
           "Optimizer", "RMSPropOptimizer", "Saver", "checkpoint_exists", "create_global_step",
           "exponential_decay", "get_checkpoint_state", "get_global_step", "get_or_create_global_step",
           "latest_checkpoint", "list_variables", "load_variable"]
