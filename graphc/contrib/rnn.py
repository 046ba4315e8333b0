"""`tf.contrib.rnn`: TF1's cells and static drivers under their contrib names (aliases of tf.nn's)."""

from graphc.rnn.cells import (BasicLSTMCell, BasicRNNCell, DropoutWrapper, GRUCell, LSTMCell, LSTMStateTuple,
                              MultiRNNCell, RNNCell)
from graphc.rnn.recurrent import static_bidirectional_rnn, static_rnn

__all__ = ["BasicLSTMCell", "BasicRNNCell", "DropoutWrapper", "GRUCell", "LSTMCell", "LSTMStateTuple", "MultiRNNCell",
           "RNNCell", "static_bidirectional_rnn", "static_rnn"]
