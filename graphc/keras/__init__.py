"""`graphc.keras`: Keras-style models whose training and inference steps run compiled.

A model owns a graph and a session. `fit` builds one training graph (forward,
loss, metrics, backward, update) and runs each batch as one native call;
`evaluate` and `predict` do the same with inference graphs.
"""

from graphc.keras import activations, backend, datasets, layers, losses, metrics, optimizers
from graphc.keras.models import Model, Sequential

__all__ = ["activations", "backend", "datasets", "layers", "losses", "metrics", "optimizers", "Model", "Sequential"]
