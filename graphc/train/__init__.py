"""`tf.train`: optimizers and the global step."""

from graphc.train.optimizer import (GradientDescentOptimizer, Optimizer, create_global_step, get_global_step,
                                    get_or_create_global_step)

__all__ = ["GradientDescentOptimizer", "Optimizer", "create_global_step", "get_global_step",
           "get_or_create_global_step"]
