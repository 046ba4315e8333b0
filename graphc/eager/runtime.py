"""The eager runtime: the variable store and the compiled steps, found again by their structure.

Every eager step builds a fresh graph, so its tensors are new objects each
time; the Session's cache (keyed by tensors) would compile each step anew. The
eager session keys a step by its *structure* instead: each op's type, name,
attributes and inputs in creation order, the fetched and fed tensors' names and
the feeds' shapes and dtypes. A loop repeating one step compiles it once.
A program whose steps keep changing (a new shape every call) would keep every
library loaded: the session keeps the GRAPHC_MAX_LOADED_STEPS most recently run
and unloads the others (one coming back compiles again, from the disk cache).
"""

from __future__ import annotations

import collections

import numpy as np

from graphc.frontend.graph import Graph
from graphc.ir.program import IRType
from graphc.session import BaseSession


def _attr_key(value):
    """An attribute value as a hashable, comparable key (arrays by dtype, shape and bytes; an object array,
    whose bytes are its elements' addresses, by its elements)."""
    if isinstance(value, np.ndarray):
        content = tuple(value.reshape(-1).tolist()) if value.dtype.hasobject else value.tobytes()
        return ("array", value.dtype.str, value.shape, content)
    if isinstance(value, (list, tuple)):
        return tuple(_attr_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _attr_key(v)) for k, v in value.items()))
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def op_key(op) -> tuple:
    """An op's part of a structural key: type, name, attributes, inputs and control inputs."""
    attrs = tuple(sorted(op.attrs.items()))
    try:  # most ops' attributes are hashable as they are: the same key as _attr_key's, without its walk
        hash(attrs)
    except TypeError:
        attrs = _attr_key(op.attrs)
    return (op.type, op.name, attrs, tuple(t.name for t in op.inputs), tuple(c.name for c in op.control_inputs))


class StructuralKey:
    """A structural key with its hash computed once: a step run again by the same key object (a replayed
    trace's, a tf.function's) finds its library without hashing or comparing the ops' keys again."""

    __slots__ = ("parts", "_hash")

    def __init__(self, parts: tuple):
        self.parts, self._hash = parts, hash(parts)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return self is other or (isinstance(other, StructuralKey) and self._hash == other._hash
                                 and self.parts == other.parts)


def structural_key(graph: Graph, fetches: list, feeds: list, op_keys: tuple = None) -> StructuralKey:
    """What makes two steps compile to the same library: the graph's structure, fetches, feed types.

    `op_keys`, the `op_key` of every op of the graph when the caller keeps them, saves computing them.
    """
    if op_keys is None:
        op_keys = tuple(op_key(op) for op in graph.get_operations())
    return StructuralKey((op_keys, tuple(f.name for f in fetches),
                          tuple((t.name, a.shape, a.dtype.str) for t, a in feeds)))


class EagerSession(BaseSession):
    """A Session whose variables are the eager variables' store and whose steps are keyed by structure.

    `compilations` counts the steps compiled (a repeated step adds none); `loaded_steps` those loaded.
    """

    def __init__(self):
        super().__init__(graph=Graph())
        self._by_structure: collections.OrderedDict = collections.OrderedDict()  # least recently run first
        self.compilations = 0

    @property
    def loaded_steps(self) -> int:
        return len(self._by_structure)

    def add_variable(self, name: str, value: np.ndarray) -> None:
        """A new variable in the store, initialised (its array is the one the compiled steps point at)."""
        self._load_variables({name: value})

    def variable_array(self, name: str) -> np.ndarray:
        return self._variables[name]

    def run_step(self, graph: Graph, fetches: list, feeds: list, key: tuple = None) -> list:
        """Runs `fetches` (Tensors and Operations of `graph`) with `feeds` [(tensor, array)]: one native call.

        Values come back as arrays (None for operations), in the order of `fetches`.
        `key`, when the caller knows it (a traced tf.function), saves computing the structural key.
        """
        key = structural_key(graph, fetches, feeds) if key is None else key
        with self._lock:
            step = self._by_structure.get(key)
            if step is None:
                from graphc.compiler.driver import compile_step  # LLVM loads with the first step compiled

                feed_types = collections.OrderedDict((t, IRType(t.dtype, a.shape)) for t, a in feeds)
                step = compile_step(fetches, feed_types, frozenset(self._initialized))
                self._bind_variables(step)
                self._by_structure[key] = step
                self.compilations += 1
                while len(self._by_structure) > self._max_loaded_steps:  # GRAPHC_MAX_LOADED_STEPS
                    self._by_structure.popitem(last=False)[1].executable.unload()
            else:
                self._by_structure.move_to_end(key)
            outputs = [np.empty(v.type.shape, dtype=v.type.dtype.np_dtype) for v in step.program.fetches]
            self._run_step(step, [np.asarray(a, order="C") for _, a in feeds], outputs)
        return [None if slot is None else outputs[slot] for slot in step.lowered.fetch_slots]
