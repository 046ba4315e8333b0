"""`tf.variable_scope` and `tf.get_variable`: named, shareable variables.

Variable scopes prefix the names `get_variable` gives (`foo/v`), independent of
name scopes, and control sharing: a second `get_variable('v')` in one scope
raises ValueError unless the scope reuses (`reuse=True` returns the existing
variable, `AUTO_REUSE` creates it or returns it).
"""

from __future__ import annotations

import contextlib
import enum

from graphc.core import dtypes
from graphc.core.tensor_shape import TensorShape, as_dims, is_fully_defined
from graphc.frontend.graph import Tensor, get_default_graph, name_scope
from graphc.ops import init_ops
from graphc.ops.variables import Variable


class _ReuseMode(enum.Enum):
    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE


class VariableScope:
    """A variable scope: its name, reuse mode and defaults for `get_variable`."""

    def __init__(self, reuse, name="", initializer=None, dtype=dtypes.float32, name_scope=""):
        self._name = name
        self._reuse = reuse
        self._initializer = initializer
        self._dtype = dtypes.as_dtype(dtype)
        self._name_scope = name_scope

    @property
    def name(self) -> str:
        return self._name

    @property
    def original_name_scope(self) -> str:
        return self._name_scope

    @property
    def reuse(self):
        return self._reuse

    @property
    def initializer(self):
        return self._initializer

    @property
    def dtype(self):
        return self._dtype

    def reuse_variables(self) -> None:
        """Makes later `get_variable` calls in this scope return existing variables."""
        self._reuse = True

    def set_initializer(self, initializer) -> None:
        self._initializer = initializer

    def get_variable(self, name, shape=None, dtype=None, initializer=None, trainable=True,
                     collections=None, validate_shape=True):
        # As in TF1, the name "" gives "scope/": a variable named exactly after its
        # (already opened) name scope, as the slot creator wants (`w/Momentum`).
        full_name = f"{self._name}/{name}" if self._name else name
        return _get_or_create(full_name, self, shape, dtype, initializer, trainable, collections,
                              validate_shape)

    def __repr__(self):
        return f"<VariableScope {self._name!r} reuse={self._reuse}>"


def get_variable_scope() -> VariableScope:
    """The current variable scope of the default graph."""
    graph = get_default_graph()
    if graph._variable_scope is None:
        graph._variable_scope = VariableScope(False)
    return graph._variable_scope


@contextlib.contextmanager
def variable_scope(name_or_scope, default_name=None, values=None, initializer=None, regularizer=None,
                   caching_device=None, partitioner=None, custom_getter=None, reuse=None, dtype=None,
                   use_resource=None, constraint=None, auxiliary_name_scope=True):
    """Opens a variable scope (and a name scope of the same name); yields the VariableScope."""
    graph = get_default_graph()
    parent = get_variable_scope()
    if reuse is False:
        reuse = None  # TF1: False means "inherit", like None.
    if isinstance(name_or_scope, VariableScope):
        scope_name = name_or_scope.name
        inherited = name_or_scope.reuse
        names = name_or_scope.original_name_scope
        name_scope_arg = names if names else None
    else:
        if name_or_scope is None:
            if default_name is None:
                raise TypeError("If default_name is None then name_or_scope is required")
            relative = _unique_scope_name(graph, parent, default_name)
        else:
            relative = name_or_scope
        scope_name = f"{parent.name}/{relative}" if parent.name else relative
        inherited = parent.reuse
        name_scope_arg = relative
    if reuse is None:
        reuse = inherited if inherited is not None else parent.reuse
    if parent.reuse is True and reuse is not AUTO_REUSE:
        reuse = True
    new_scope_initializer = initializer if initializer is not None else (
        name_or_scope.initializer if isinstance(name_or_scope, VariableScope) else parent.initializer)
    new_dtype = dtype if dtype is not None else (
        name_or_scope.dtype if isinstance(name_or_scope, VariableScope) else parent.dtype)
    with contextlib.ExitStack() as stack:
        current_names = stack.enter_context(name_scope(name_scope_arg)) if auxiliary_name_scope else \
            graph.get_name_scope() + "/"
        if isinstance(name_or_scope, VariableScope):
            scope = name_or_scope
            if reuse is True:
                scope._reuse = True
            scope._initializer = new_scope_initializer
        else:
            scope = VariableScope(reuse, scope_name, new_scope_initializer, new_dtype, current_names)
        previous = graph._variable_scope
        counts = graph._variable_scope_counts
        counts[scope_name] = counts.get(scope_name, 0) + 1
        saved_counts = dict(counts)
        graph._variable_scope = scope
        try:
            yield scope
        finally:
            graph._variable_scope = previous
            # As TF1: re-entering a scope object restores the counts it saw; leaving a
            # named scope forgets its sub-scopes, so `with variable_scope("model", reuse=True)`
            # opens "model/dense" again rather than "model/dense_1".
            if isinstance(name_or_scope, VariableScope):
                graph._variable_scope_counts = saved_counts
            else:
                counts = graph._variable_scope_counts
                for key in counts:
                    if key.startswith(scope_name + "/"):
                        counts[key] = 0


def _unique_scope_name(graph, parent: VariableScope, default_name: str) -> str:
    """`default_name`, or `default_name_N` with the first N whose scope has not been opened."""
    counts = graph._variable_scope_counts
    base = f"{parent.name}/{default_name}" if parent.name else default_name
    if not counts.get(base):
        return default_name
    index = 1
    while counts.get(f"{base}_{index}"):
        index += 1
    return f"{default_name}_{index}"


def get_variable(name, shape=None, dtype=None, initializer=None, regularizer=None, trainable=True,
                 collections=None, caching_device=None, partitioner=None, validate_shape=True,
                 use_resource=None, custom_getter=None, constraint=None):
    """`tf.get_variable`: the variable `scope/name`, created or (with reuse) shared."""
    return get_variable_scope().get_variable(name, shape, dtype, initializer, trainable, collections,
                                             validate_shape)


def _get_or_create(full_name, scope, shape, dtype, initializer, trainable, collections, validate_shape):
    graph = get_default_graph()
    store = graph._variable_store
    dims = as_dims(shape) if shape is not None else None
    if full_name in store:
        if scope.reuse is None or scope.reuse is False:
            raise ValueError(f"Variable {full_name} already exists, disallowed. Did you mean to set "
                             "reuse=True or reuse=tf.AUTO_REUSE in VarScope?")
        existing = store[full_name]
        if dims is not None and not existing.shape.is_compatible_with(dims):
            raise ValueError(f"Trying to share variable {full_name}, but specified shape {TensorShape(dims)} "
                             f"and found shape {existing.shape}.")
        if dtype is not None and dtypes.as_dtype(dtype) is not existing.dtype:
            raise ValueError(f"Trying to share variable {full_name}, but specified dtype "
                             f"{dtypes.as_dtype(dtype).name} and found dtype {existing.dtype.name}.")
        return existing
    if scope.reuse is True:
        raise ValueError(f"Variable {full_name} does not exist, or was not created with tf.get_variable(). "
                         "Did you mean to set reuse=tf.AUTO_REUSE in VarScope?")
    dtype = dtypes.as_dtype(dtype) if dtype is not None else scope.dtype
    if initializer is None:
        initializer = scope.initializer
    if isinstance(initializer, type):  # TF1 accepts the class: `initializer=tf.zeros_initializer`
        initializer = initializer()
    if isinstance(initializer, Tensor) or (initializer is not None and not callable(initializer)):
        if dims is not None:
            raise ValueError("If initializer is a constant, do not specify shape.")
        initial_value = initializer
    else:
        if dims is None or not is_fully_defined(dims):
            raise ValueError(f"Shape of a new variable ({full_name}) must be fully defined, but instead was "
                             f"{TensorShape(dims)}.")
        if initializer is None:
            initializer = _default_initializer(dtype)
        initial_value = lambda: initializer(list(dims), dtype=dtype)  # noqa: E731 - deferred into scope
    with graph.name_scope(None):
        variable = Variable(initial_value, trainable=trainable, collections=collections,
                            validate_shape=validate_shape, name=full_name, dtype=dtype)
    store[full_name] = variable
    return variable


def _default_initializer(dtype):
    if dtype.is_floating:
        return init_ops.glorot_uniform_initializer()
    return init_ops.zeros_initializer()
