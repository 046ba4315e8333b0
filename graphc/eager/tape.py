"""`tf.GradientTape`: gradients of eager values by the graph autodiff, on the step the tape recorded."""

from __future__ import annotations

import contextlib

from graphc import autodiff
from graphc.eager.context import context
from graphc.eager.nest import flatten
from graphc.eager.tensor import EagerTensor
from graphc.eager.variables import EagerVariable


def _pack(structure, leaves):
    if isinstance(structure, dict):
        return {key: _pack(structure[key], leaves) for key in sorted(structure)}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_pack(item, leaves) for item in structure)
    return next(leaves)


class GradientTape:
    """Records the eager ops run inside its block; `gradient` differentiates them.

    The tape's ops are a step's graph (see `context`): `gradient` adds the
    gradient ops the registry's rules build (graphc.autodiff, as tf.gradients),
    so they run compiled with the rest of the step. Trainable variables read
    inside the block are watched; tensors must be `watch`ed.
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self._persistent = persistent
        self._watch_variables = watch_accessed_variables
        self._watched: dict = {}
        self._step = None
        self._used = False
        self._recording = False

    def __enter__(self):
        ctx = context()
        self._step = ctx.step() if ctx.recording_tapes else ctx.fresh_step()
        self._step.holds += 1
        self._recording = True
        ctx.recording_tapes.append(self)
        return self

    def __exit__(self, *exc):
        self._recording = False
        context().recording_tapes.remove(self)

    def __del__(self):
        self._release()

    def _release(self):
        if self._step is not None:
            self._step.holds -= 1
            self._step = None

    @contextlib.contextmanager
    def stop_recording(self):
        """Ops in this block are not differentiated: their results enter the tape's step as constants."""
        ctx = context()
        ctx.recording_tapes.remove(self)
        saved, ctx._step = ctx._step, None
        try:
            yield
        finally:
            ctx._step = saved
            ctx.recording_tapes.append(self)

    def watch(self, tensor) -> None:
        """Differentiate with respect to `tensor` (eager tensors or variables, nested)."""
        for leaf in flatten(tensor):
            self._watched[id(leaf)] = leaf

    def watched_variables(self) -> tuple:
        step = self._step
        return tuple(v for v in (step.variable_refs if step else {}) if self._is_watched(v))

    def _is_watched(self, value) -> bool:
        if id(value) in self._watched:
            return True
        return isinstance(value, EagerVariable) and self._watch_variables and value.trainable

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d(target) / d(sources), shaped as `sources` (lists, tuples, dicts); None where unconnected."""
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of gradients "
                               "(or jacobians)")
        step = self._step
        if step is None:
            raise RuntimeError("GradientTape.gradient can only be called once on non-persistent tapes.")
        targets = [t for t in flatten(target) if isinstance(t, EagerTensor) and t.step is step]
        leaves = flatten(sources)
        tensors = [self._source_tensor(leaf) for leaf in leaves]
        connected = [i for i, t in enumerate(tensors) if t is not None]
        values = [None] * len(leaves)
        if targets and connected:
            output_leaves = None if output_gradients is None else flatten(output_gradients)

            def build():  # the tensors again: a step diverging from its replayed trace has moved them
                grad_ys = None
                if output_leaves is not None:
                    grad_ys = [step.tensor_of(g) if isinstance(g, EagerTensor) else g for g in output_leaves]
                with step.graph.as_default():
                    return autodiff.gradients([t.graph_tensor for t in targets],
                                              [self._source_tensor(leaves[i]) for i in connected],
                                              grad_ys=grad_ys, unconnected_gradients=unconnected_gradients)
            results = step.call(autodiff.gradients, ([t.graph_tensor for t in targets], [tensors[i] for i in connected],
                                                     output_leaves, unconnected_gradients), build)
            for i, gradient in zip(connected, results):
                values[i] = gradient
        self._used = True
        if not self._persistent:
            self._release()
        return _pack(sources, iter(values))

    def _source_tensor(self, source):
        """The tensor of the tape's step to differentiate by, or None if the step did not use it."""
        if not self._is_watched(source):
            return None
        if isinstance(source, EagerVariable):
            return self._step.variable_refs.get(source)
        if isinstance(source, EagerTensor):
            return source.graph_tensor if source.step is self._step else self._step.imported.get(source)
        return None
