"""`tf.contrib.layers`: `flatten`, as TF1's contrib programs call it."""

from graphc.frontend.graph import convert_to_tensor, name_scope
from graphc.layers import core


def flatten(inputs, outputs_collections=None, scope=None):
    """`tf.contrib.layers.flatten`: [batch, ...] -> [batch, everything else], in name scope `Flatten`."""
    with name_scope(scope, "Flatten", [inputs]):
        inputs = convert_to_tensor(inputs)
        if inputs.shape.ndims is not None and inputs.shape.ndims < 2:
            raise ValueError(f"Inputs must have a least 2 dimensions. Got shape {inputs.shape}")
        return core.flatten(inputs)


__all__ = ["flatten"]
