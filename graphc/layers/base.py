"""`tf.layers.Layer`: TF1's legacy layer base, naming and sharing variables through variable scopes.

A layer owns one variable scope, fixed the first time it is called: the
`name` given (`_scope`, as the functional forms pass it), else a fresh scope
opened by default name, so unnamed layers get `dense`, `dense_1`, ... and
inside `with tf.variable_scope("model", reuse=True)` the same names again
(variable_scope forgets a scope's sub-scope counts when it is left). Its ops
are named in that scope's name scope (`dense/MatMul`). Variables come from
`get_variable` in the scope, so `reuse=True` (or an enclosing reusing scope)
shares them; a layer called again always reuses its own.
"""

from __future__ import annotations

import re

from graphc.core import dtypes
from graphc.frontend.graph import GraphKeys, convert_to_tensor, get_default_graph, name_scope
from graphc.ops.variable_scope import variable_scope


def snake_case(class_name: str) -> str:
    """`Dense` -> `dense`, `MaxPooling2D` -> `max_pooling2d`, as Keras names layers (`_X` -> `private_x`)."""
    words = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", class_name)
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()
    return "private" + name if name.startswith("_") else name


class Layer:
    """Base class: subclasses define `build(input_shape)` (creating weights with `add_weight`) and `call(inputs)`."""

    def __init__(self, trainable=True, name=None, dtype=None, _scope=None, _reuse=None):
        self.trainable = trainable
        self.built = False
        self._dtype = None if dtype is None else dtypes.as_dtype(dtype)
        self._name = name
        self._base_name = name or snake_case(type(self).__name__)
        self._reuse = _reuse
        self._trainable_weights: list = []
        self._non_trainable_weights: list = []
        self._scope = None
        self._current_scope = None
        if _scope:
            with variable_scope(_scope) as scope:
                self._scope = scope

    # -- properties ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The name given, else the layer's scope name once called, else its class name in snake case."""
        if self._name:
            return self._name
        return self._scope.name if self._scope is not None else self._base_name

    @property
    def dtype(self):
        """The weights' dtype: the one given, else that of the first inputs."""
        return self._dtype

    @property
    def scope_name(self) -> str:
        """The name of the layer's variable scope, fixed by its first call."""
        if self._scope is None:
            raise ValueError(f'No name available for layer scope because the layer "{self.name}" has not been '
                             "used yet. The scope name is determined the first time the layer instance is called.")
        return self._scope.name

    @property
    def trainable_weights(self) -> list:
        """The weights an optimizer updates (none when the layer is not trainable)."""
        return list(self._trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        """The other weights (all of them when the layer is not trainable)."""
        if self.trainable:
            return list(self._non_trainable_weights)
        return self._trainable_weights + self._non_trainable_weights

    @property
    def weights(self) -> list:
        """Trainable weights, then the others."""
        return self.trainable_weights + self.non_trainable_weights

    # TF's other spellings; looked up through self, so subclasses (Keras models) override only the above.
    trainable_variables = property(lambda self: self.trainable_weights)
    non_trainable_variables = property(lambda self: self.non_trainable_weights)
    variables = property(lambda self: self.weights)

    # -- building and calling ------------------------------------------------------------------

    def build(self, input_shape) -> None:
        """Creates the layer's weights for inputs of `input_shape` (a TensorShape)."""

    def call(self, inputs, **kwargs):
        """The layer's computation on `inputs` (a Tensor), inside its scopes."""
        raise TypeError(f"{type(self).__name__} must define call")

    def _set_scope(self, scope=None) -> None:
        if self._scope is not None:
            return
        if self._reuse:
            with variable_scope(scope if scope is not None else self._base_name) as captured:
                self._scope = captured
        else:
            with variable_scope(scope, default_name=self._base_name) as captured:
                self._scope = captured

    def add_weight(self, name, shape, dtype=None, initializer=None, regularizer=None, trainable=None,
                   constraint=None, **kwargs):
        """The variable `<scope>/<name>`, created (or, when reusing, shared) with `get_variable`.

        A `regularizer`'s loss goes to the REGULARIZATION_LOSSES collection.
        """
        if constraint is not None:
            raise ValueError(f"graphc does not support weight constraints (layer {self.name}, weight {name})")
        trainable = True if trainable is None else trainable
        self._set_scope(None)
        with variable_scope(self._scope, reuse=self.built or self._reuse, auxiliary_name_scope=False) as scope:
            self._current_scope = scope
            with name_scope(scope.original_name_scope):
                existing = set(get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES))
                variable = scope.get_variable(name, shape=shape, dtype=dtype or self._dtype or dtypes.float32,
                                              initializer=initializer, trainable=trainable and self.trainable)
                if regularizer is not None and variable not in existing:
                    with name_scope(f"{name}/Regularizer"):
                        loss = regularizer(variable)
                    if loss is not None:
                        get_default_graph().add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
        (self._trainable_weights if trainable else self._non_trainable_weights).append(variable)
        return variable

    def __call__(self, inputs, *args, **kwargs):
        """Builds the layer on its first call, then applies `call` in the layer's scopes."""
        self._set_scope(kwargs.pop("scope", None))
        with variable_scope(self._scope, reuse=True if self.built else self._reuse,
                            auxiliary_name_scope=False) as scope:
            self._current_scope = scope
            with name_scope(scope.original_name_scope):
                inputs = convert_to_tensor(inputs)
                if not self.built:
                    if self._dtype is None:
                        self._dtype = inputs.dtype
                    self.build(inputs.shape)
                    self.built = True
                return self.call(inputs, *args, **kwargs)

    def apply(self, inputs, *args, **kwargs):
        """The same as calling the layer."""
        return self.__call__(inputs, *args, **kwargs)
