"""`tf.contrib`: the parts of TF1's contrib that 2017-2019 programs import for sequence models,
as aliases of graphc's own (`tf.contrib.rnn.BasicLSTMCell`, `tf.contrib.layers.flatten`)."""

from graphc.contrib import layers, rnn

__all__ = ["layers", "rnn"]
