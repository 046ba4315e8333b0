"""`tf.function`: a Python function traced once per input signature into a graph, run compiled.

A trace records the function's eager ops into a `TraceStep` whose placeholders
are its tensor arguments; each later call with that signature feeds the new
arguments to the same compiled step (no Python op by op), running its outputs
and its assignments as one native call; its `tf.print`s then print on the host.
"""

from __future__ import annotations

import functools

import numpy as np

from graphc.core import dtypes
from graphc.core.tensor_shape import TensorShape
from graphc.eager.context import Step, TraceStep, context
from graphc.eager.runtime import op_key, structural_key
from graphc.eager.nest import flatten
from graphc.eager.tensor import EagerTensor
from graphc.host_fetches import is_host_op, plan_fetches
from graphc.ops import array_ops, check_ops


class TensorSpec:
    """`tf.TensorSpec`: the shape (None for any size) and dtype a tf.function's argument must have."""

    def __init__(self, shape, dtype=dtypes.float32, name=None):
        self.shape, self.dtype, self.name = TensorShape(shape), dtypes.as_dtype(dtype), name

    def is_compatible_with(self, value) -> bool:
        """Whether `value` fits: its shape, and its dtype unless a Python number (converted, as in TF2)."""
        array = np.asarray(value)
        typed = isinstance(value, (np.ndarray, np.generic, EagerTensor))
        return self.shape.is_compatible_with(array.shape) and (not typed or dtypes.as_dtype(array.dtype) is self.dtype)

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype=tf.{self.dtype.name}, name={self.name!r})"


def _is_tensor_argument(value) -> bool:
    return isinstance(value, (EagerTensor, np.ndarray))


def _signature(args, kwargs) -> tuple:
    """Tensors by shape and dtype, Python values by value (and variables, by identity)."""
    key = []
    for leaf in flatten([list(args), kwargs]) + sorted(kwargs):
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

    def __init__(self, fn, args, kwargs, creates_variables: bool, input_signature=None):
        ctx = context()
        self.step = TraceStep(ctx, creates_variables)
        with ctx.tracing(self.step):
            leaves = flatten([list(args), kwargs])
            if input_signature is not None:  # placeholders of the signature's shapes, fed at each call
                with self.step.graph.as_default():
                    self.arguments = [array_ops.placeholder(spec.dtype, spec.shape, name="input")
                                      for spec in input_signature]
            else:
                self.arguments = [self.step.feed(np.asarray(leaf)) if _is_tensor_argument(leaf) else None
                                  for leaf in leaves]
            traced = [EagerTensor(self.step, p) for p in self.arguments if p is not None]
            if input_signature is not None:
                args, kwargs = traced, {}
            else:
                args, kwargs = _replace(([*args], kwargs), iter(traced))
            self.structure = fn(*args, **kwargs)
        self.outputs = [leaf.graph_tensor for leaf in flatten(self.structure) if isinstance(leaf, EagerTensor)]
        host_ops = [op for op in self.step.graph.get_operations() if is_host_op(op)]  # tf.print, in trace order
        # Its assertions run at each call, as TF2's automatic control dependencies run its stateful ops.
        checks = [op for op in self.step.graph.get_operations() if op.op_def is check_ops.assert_p]
        self.fetches, self._finish = plan_fetches(self.outputs + host_ops + checks + list(self.step.pending_effects))
        self.op_keys = tuple(op_key(op) for op in self.step.graph.get_operations())
        self.positional = input_signature is not None

    def __call__(self, args, kwargs):
        fed = dict(self.step.feeds)
        leaves = args if self.positional else [leaf for leaf in flatten([list(args), kwargs])
                                                if _is_tensor_argument(leaf)]
        values = iter(leaves)
        for placeholder in self.arguments:
            if placeholder is not None:
                fed[placeholder] = np.asarray(next(values), dtype=placeholder.dtype.np_dtype)
        feeds = list(fed.items())
        key = structural_key(self.step.graph, self.fetches, feeds, self.op_keys)  # feed shapes may vary
        results = context().session.run_step(self.step.graph, self.fetches, feeds, key=key)
        if self._finish is not None:  # the host ops (prints) run now, after the native step
            results = self._finish(results, {})
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
        self._fn = fn
        self._input_signature = None if input_signature is None else list(input_signature)
        self._traces: dict = {}
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        if self._input_signature is not None:
            self._check_signature(args, kwargs)
            key = "input_signature"
        else:
            key = _signature(args, kwargs)
        trace = self._traces.get(key)
        if trace is None:
            trace = self._traces[key] = ConcreteFunction(self._fn, args, kwargs, creates_variables=not self._traces,
                                                         input_signature=self._input_signature)
        return trace(args, kwargs)

    def _check_signature(self, args, kwargs) -> None:
        """With input_signature=, the arguments are exactly tensors matching it (TF2's ValueError otherwise)."""
        specs = self._input_signature
        if kwargs or len(args) != len(specs) or not all(spec.is_compatible_with(a) for spec, a in zip(specs, args)):
            given = [(np.shape(a), getattr(a, "dtype", type(a).__name__)) for a in args]
            raise ValueError(f"Python inputs incompatible with input_signature:\n  inputs: {given}\n  "
                             f"input_signature: {specs}")

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
