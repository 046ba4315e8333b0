"""The TF1 graph-building frontend: Graph, Operation, Tensor, Variable, scopes, dtypes."""
