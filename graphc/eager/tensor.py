"""`EagerTensor`: a value of an eager step, computed when Python first needs it."""

from __future__ import annotations

import numpy as np

from graphc.core.tensor_shape import TensorShape


class EagerTensor:
    """A tensor of the TF2 API: the output of an op recorded in a step, realised on demand.

    `numpy()`, `__array__`, `float()`/`int()`/`bool()`, `repr` and `print` run
    the step (compiled, one native call) if the value is not known yet.
    """

    __array_priority__ = 100  # NumPy defers to its operators (`np.float32(2) * t` stays a tensor)

    def __init__(self, step, tensor):
        self._step = step
        self._tensor = tensor

    @property
    def graph_tensor(self):
        """The tensor of the step's graph this value stands for."""
        return self._tensor

    @property
    def step(self):
        return self._step

    @property
    def shape(self) -> TensorShape:
        return self._tensor.shape

    def get_shape(self) -> TensorShape:
        return self._tensor.shape

    @property
    def dtype(self):
        return self._tensor.dtype

    @property
    def ndim(self) -> int:
        return self._tensor.shape.ndims

    def numpy(self):
        """The value as a NumPy array (a NumPy scalar for a 0-d tensor), computed if needed."""
        value = self._step.value_of(self._tensor)
        return value[()] if value.ndim == 0 else value

    def __array__(self, dtype=None, copy=None):
        value = self._step.value_of(self._tensor)
        return value if dtype is None else value.astype(dtype)

    def __float__(self):
        return float(self.numpy())

    def __int__(self):
        return int(self.numpy())

    def __index__(self):
        return int(self.numpy())

    def __bool__(self):
        return bool(self.numpy())

    def __len__(self):
        if not self.shape.ndims:
            raise TypeError("len() of unsized object (a scalar tensor)")
        return self.shape.as_list()[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __format__(self, spec):
        return format(self.numpy(), spec)

    def __str__(self):
        return f"tf.Tensor({str(self.numpy())}, shape={_shape_text(self.shape)}, dtype={self.dtype.name})"

    def __repr__(self):
        value = np.array_repr(np.asarray(self.numpy())) if self.shape.ndims else str(self.numpy())
        return f"<tf.Tensor: shape={_shape_text(self.shape)}, dtype={self.dtype.name}, numpy={value}>"

    __hash__ = object.__hash__  # identity, so tensors can key dicts and sets (`tape.watch`)


def _shape_text(shape: TensorShape) -> str:
    dims = shape.as_list()
    return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"
