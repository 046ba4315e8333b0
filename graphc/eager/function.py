"""`tf.function`: a Python function traced once per input signature into a graph, run compiled.

A trace records the function's eager ops into a `TraceStep` whose placeholders
are its tensor arguments; each later call with that signature feeds the new
arguments to the same compiled step (no Python op by op), running its outputs
and its assignments as one native call.
"""

from __future__ import annotations

import functools

import numpy as np

from graphc.eager.context import Step, TraceStep, context
from graphc.eager.runtime import structural_key
from graphc.eager.tensor import EagerTensor


def _is_tensor_argument(value) -> bool:
    return isinstance(value, (EagerTensor, np.ndarray))


def _flatten(structure) -> list:
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in _flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    return [structure]


def _signature(args, kwargs) -> tuple:
    """Tensors by shape and dtype, Python values by value (and variables, by identity)."""
    key = []
    for leaf in _flatten([list(args), kwargs]) + sorted(kwargs):
        if isinstance(leaf, EagerTensor):
            key.append(("tensor", tuple(leaf.shape.as_list()), leaf.dtype.name))
        elif isinstance(leaf, np.ndarray):
            key.append(("tensor", leaf.shape, leaf.dtype.str))
        elif hasattr(leaf, "store_name"):
            key.append(("variable", id(leaf)))
        else:
            try:
                hash(leaf)
                key.append(("python", type(leaf).__name__, leaf))
            except TypeError:
                key.append(("python", id(leaf)))
    return tuple(key)


class ConcreteFunction:
    """One trace: its graph, the placeholders of the tensor arguments, its outputs and effects."""

    def __init__(self, fn, args, kwargs, creates_variables: bool):
        ctx = context()
        self.step = TraceStep(ctx, creates_variables)
        with ctx.tracing(self.step):
            leaves = _flatten([list(args), kwargs])
            self.arguments = [self.step.feed(np.asarray(leaf)) if _is_tensor_argument(leaf) else None
                              for leaf in leaves]
            traced = iter([EagerTensor(self.step, p) for p in self.arguments if p is not None])
            args, kwargs = _replace(([*args], kwargs), traced)
            self.structure = fn(*args, **kwargs)
        self.outputs = [leaf.graph_tensor for leaf in _flatten(self.structure) if isinstance(leaf, EagerTensor)]
        self.fetches = self.outputs + list(self.step.pending_effects)
        self.key = None

    def __call__(self, args, kwargs):
        fed = dict(self.step.feeds)
        values = iter(np.asarray(leaf) for leaf in _flatten([list(args), kwargs]) if _is_tensor_argument(leaf))
        for placeholder in self.arguments:
            if placeholder is not None:
                fed[placeholder] = next(values)
        feeds = list(fed.items())
        session = context().session
        if self.key is None:
            self.key = (id(self),) + structural_key(self.step.graph, self.fetches, feeds)
        results = session.run_step(self.step.graph, self.fetches, feeds, key=self.key)
        return _replace(self.structure, iter(_known_values(results[:len(self.outputs)])))


def _known_values(arrays) -> list:
    """Eager tensors of known values, in a closed step of their own (not added to the current one,
    which a loop of calls would grow without end)."""
    step = Step(context())
    step.open = False
    return [step.wrap(step.feed(array)) for array in arrays]


def _replace(structure, tensors):
    """`structure` with its tensor leaves (eager tensors, arrays) replaced, in order, by `tensors`."""
    if isinstance(structure, dict):
        return {k: _replace(structure[k], tensors) for k in structure}
    if isinstance(structure, (list, tuple)) and not hasattr(structure, "_fields"):
        return type(structure)(_replace(item, tensors) for item in structure)
    return next(tensors) if _is_tensor_argument(structure) else structure


class Function:
    """`tf.function(fn)`: traces `fn` per input signature and calls the compiled trace."""

    def __init__(self, fn, input_signature=None):
        if input_signature is not None:
            raise NotImplementedError("graphc's tf.function does not take input_signature= yet: it traces per "
                                      "signature of the arguments given")
        self._fn = fn
        self._traces: dict = {}
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        key = _signature(args, kwargs)
        trace = self._traces.get(key)
        if trace is None:
            trace = self._traces[key] = ConcreteFunction(self._fn, args, kwargs, creates_variables=not self._traces)
        return trace(args, kwargs)

    def __get__(self, instance, owner):
        return self if instance is None else functools.partial(self.__call__, instance)

    @property
    def trace_count(self) -> int:
        return len(self._traces)


def function(func=None, input_signature=None, **options):
    """`tf.function` as a decorator, with or without arguments."""
    if func is None:
        return lambda f: Function(f, input_signature)
    return Function(func, input_signature)
