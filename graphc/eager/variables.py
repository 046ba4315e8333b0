"""Eager `tf.Variable`: initialised at creation, its value in the eager store the compiled steps update."""

from __future__ import annotations

import numpy as np

from graphc.core import dtypes
from graphc.core.tensor_shape import TensorShape
from graphc.eager.context import context, eager_function
from graphc.eager.tensor import EagerTensor
from graphc.frontend import operators
from graphc.frontend.graph import register_tensor_conversion_function
from graphc.ops import array_ops, state_ops


class EagerVariable:
    """`tf.Variable` in TF2: a named array in the eager store, read and written by eager steps."""

    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None, shape=None):
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        context().check_variable_creation()
        if callable(initial_value):
            initial_value = initial_value()
        value = np.asarray(initial_value.numpy() if isinstance(initial_value, EagerTensor) else initial_value)
        if dtype is not None:
            value = value.astype(dtypes.as_dtype(dtype).np_dtype)
        elif value.dtype == np.float64 and not isinstance(initial_value, (EagerTensor, np.ndarray)):
            value = value.astype(np.float32)  # Python floats are float32 tensors, as in TF2
        elif value.dtype == np.int64 and not isinstance(initial_value, (EagerTensor, np.ndarray)):
            value = value.astype(np.int32)
        self._dtype = dtypes.as_dtype(value.dtype)
        self._shape = TensorShape(value.shape)
        self._trainable = trainable
        self._context = context()
        self.store_name = self._context.unique_variable_name(name or "Variable")
        self._context.session.add_variable(self.store_name, np.array(value, order="C"))

    @property
    def name(self) -> str:
        return self.store_name + ":0"

    @property
    def dtype(self):
        return self._dtype

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    @property
    def trainable(self) -> bool:
        return self._trainable

    def numpy(self) -> np.ndarray:
        """A copy of the current value (after the assignments recorded so far have run)."""
        step = self._context.step()
        if step.pending_effects:
            step.run([])
        value = self._context.session.variable_array(self.store_name)
        return value[()] if value.ndim == 0 else value.copy()

    def __array__(self, dtype=None, copy=None):
        value = np.asarray(self.numpy())
        return value if dtype is None else value.astype(dtype)

    def read_value(self) -> EagerTensor:
        """The current value as an eager tensor."""
        return eager_function(array_ops.identity, "read_value")(self)

    value = read_value

    def assign(self, value, use_locking=False, name=None, read_value=True):
        return self._update(state_ops.assign, value)

    def assign_add(self, delta, use_locking=False, name=None, read_value=True):
        return self._update(state_ops.assign_add, delta)

    def assign_sub(self, delta, use_locking=False, name=None, read_value=True):
        return self._update(state_ops.assign_sub, delta)

    def _update(self, builder, value):
        step = self._context.step()
        step.call(builder, (self, value), lambda: self._build_update(step, builder, value))
        self._context.after_effect(step)
        return self

    def _build_update(self, step, builder, value):
        """Records the assignment into `step`'s graph, pending until the step runs."""
        ref = step.variable_refs.get(self)
        if ref is None:
            step.variable_tensor(self)
            ref = step.variable_refs[self]
        with step.graph.as_default():
            value = self._context.convert(value) if isinstance(value, (EagerTensor, np.ndarray, EagerVariable)) \
                else value
            output = builder(ref, value)
        step.current[self] = output
        step.pending_effects.append(output.op)

    def __repr__(self):
        return (f"<tf.Variable '{self.name}' shape={tuple(self._shape.as_list())} dtype={self._dtype.name}, "
                f"numpy={np.array_repr(np.asarray(self.numpy()))}>")

    __hash__ = object.__hash__


operators.install(EagerVariable, lambda spelling: getattr(EagerTensor, spelling))  # through its value
EagerVariable.__eq__, EagerVariable.__ne__ = EagerTensor.__eq__, EagerTensor.__ne__


register_tensor_conversion_function(
    EagerVariable, lambda value, dtype=None, name=None: context().convert(value))
