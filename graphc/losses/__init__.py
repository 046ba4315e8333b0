"""`tf.losses`: loss functions that add their result to the LOSSES collection, and their totals."""

from graphc.losses.losses_impl import (Reduction, compute_weighted_loss, mean_squared_error,
                                       sparse_softmax_cross_entropy)
from graphc.losses.util import add_loss, get_losses, get_regularization_loss, get_regularization_losses, \
    get_total_loss

__all__ = ["Reduction", "add_loss", "compute_weighted_loss", "get_losses", "get_regularization_loss",
           "get_regularization_losses", "get_total_loss", "mean_squared_error", "sparse_softmax_cross_entropy"]
