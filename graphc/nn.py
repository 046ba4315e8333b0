"""`tf.nn`: neural-network functions."""

from graphc.ops.activation_ops import elu, leaky_relu, selu, softplus
from graphc.ops.candidate_sampling_ops import log_uniform_candidate_sampler, nce_loss, sampled_softmax_loss
from graphc.ops.conv_ops import (avg_pool, conv2d, conv2d_backprop_filter, conv2d_backprop_input, conv2d_transpose,
                                 max_pool)
from graphc.ops.embedding_ops import embedding_lookup
from graphc.ops.math_ops import sigmoid, tanh
from graphc.ops.nn_impl import batch_normalization, l2_loss, local_response_normalization, lrn, moments
from graphc.ops.nn_ops import (bias_add, dropout, in_top_k, log_softmax, relu, softmax,
                               softmax_cross_entropy_with_logits, softmax_cross_entropy_with_logits_v2,
                               sparse_softmax_cross_entropy_with_logits)
from graphc.ops.selection_ops import top_k
from graphc.rnn import cells as rnn_cell
from graphc.rnn.recurrent import bidirectional_dynamic_rnn, dynamic_rnn, static_bidirectional_rnn, static_rnn

__all__ = ["avg_pool", "batch_normalization", "bias_add", "bidirectional_dynamic_rnn", "conv2d",
           "conv2d_backprop_filter", "conv2d_backprop_input", "conv2d_transpose", "dropout", "dynamic_rnn", "elu",
           "embedding_lookup", "in_top_k", "l2_loss", "leaky_relu", "local_response_normalization", "log_softmax",
           "log_uniform_candidate_sampler", "lrn", "max_pool", "moments", "nce_loss", "relu", "rnn_cell",
           "sampled_softmax_loss", "selu", "sigmoid", "softmax", "softmax_cross_entropy_with_logits",
           "softmax_cross_entropy_with_logits_v2", "softplus", "sparse_softmax_cross_entropy_with_logits",
           "static_bidirectional_rnn", "static_rnn", "tanh", "top_k"]
