"""Recurrent networks: TF1's cells (`tf.nn.rnn_cell`, cells.py) and the drivers that run them over time
(`tf.nn.static_rnn`, `dynamic_rnn` and their bidirectional forms, recurrent.py)."""
