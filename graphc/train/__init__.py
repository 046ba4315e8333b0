"""`tf.train`: optimizers, the global step, and saving and restoring variables."""

from graphc.train.checkpoint_io import CheckpointState
from graphc.train.optimizer import (GradientDescentOptimizer, Optimizer, create_global_step, get_global_step,
                                    get_or_create_global_step)
from graphc.train.saver import Saver, checkpoint_exists, get_checkpoint_state, latest_checkpoint

__all__ = ["CheckpointState", "GradientDescentOptimizer", "Optimizer", "Saver", "checkpoint_exists",
           "create_global_step", "get_checkpoint_state", "get_global_step", "get_or_create_global_step",
           "latest_checkpoint"]
