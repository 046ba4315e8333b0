"""Eager steps: the graph eager ops are recorded into, and when it runs.

A `Step` owns a fresh Graph. Eager ops add to the current step; NumPy inputs
become its placeholders, fed when it runs; an eager tensor of an earlier step
enters as a feed of its value. Asking for a value runs the step (fetching what
is asked for and the assignments not yet run) and closes it: later ops start a
new step. A step stays open while a GradientTape holds it, so that the tape's
gradient ops, and the optimizer update using them, join the forward ops in it:
the seed's training loop is one step per iteration, run twice (the printed loss,
then the update). Every eager call goes through `Step.call`, which records it in
the step's trace or, when the step repeats a recorded one, replays it (trace.py).
"""

from __future__ import annotations

import contextlib
import weakref

import numpy as np

from graphc import errors
from graphc.core import dtypes
from graphc.eager import trace
from graphc.eager.runtime import EagerSession, op_key, structural_key
from graphc.frontend import operators
from graphc.frontend.constants import make_constant_array
from graphc.eager.tensor import EagerTensor
from graphc.frontend.graph import Graph, Operation, Tensor, register_tensor_conversion_function
from graphc.ops import all as _all_ops  # noqa: F401 - every op registered, Tensor operators installed
from graphc.ops import array_ops, math_ops, state_ops


class Step:
    """One graph of recorded eager ops, with its feeds and the values already computed.

    A step records its trace as it is built (`trace`); a step whose first call
    matches a closed step's trace replays it instead of building (see `trace.py`).
    """

    records = True  # whether its calls are recorded and replayed (a tf.function's graph is traced once)

    def __init__(self, context: "Context"):
        self.context = context
        self._graph = Graph()
        self.feeds: dict = {}             # graph tensor -> array, in creation order
        self.values: dict = {}            # graph tensor -> array computed by a run
        self.pending_effects: list = []   # assignments not run yet
        self.ran_effects = False
        self.variable_refs: dict = {}     # EagerVariable -> its variable op's output in this graph
        self.current: dict = {}           # EagerVariable -> the tensor holding its latest value here
        self.live: list = []              # weak references to this step's EagerTensors
        self.imported: dict = {}          # EagerTensor of another step -> its placeholder here
        self.op_keys: list = []           # the structural key's part of each op, as far as computed
        self.open = True
        self.holds = 0                    # tapes keeping the step open for their gradients
        self.trace = trace.Trace()        # the calls and runs so far (replayed, then recorded)
        self.replay = None                # the template being replayed, until the step diverges from it
        self.depth = 0                    # calls being recorded, nested (only the outermost is an entry)

    @property
    def graph(self) -> Graph:
        """The step's graph, to build into: a step replaying a trace diverges first (copies its prefix)."""
        if self.replay is not None:
            self.diverge()
        return self._graph

    @property
    def raw_graph(self) -> Graph:
        """The step's graph as it is (a replayed trace's graph, ops past the replayed prefix included)."""
        return self._graph

    # -- recording and replaying calls -------------------------------------------------------------

    def call(self, what, arguments, build):
        """The result (wrapped as eager values) of an eager call: `build()` builds it into this step's graph
        and returns its graph tensors, unless the call matches the replayed trace's entry at this position.

        `what` identifies the call (with `arguments`, nested, its signature); `build` is called at most once.
        """
        if self.depth or not self.records:
            return self.wrap(build())
        dynamic: list = []
        sig = (what, trace.signature(arguments, dynamic))
        if self.replay is None and not self.trace.events and self.trace.valid and not self._graph._ops \
                and not self.feeds:
            self._start_replay(sig, dynamic)
        if self.replay is not None:
            entry = self.replay.call(self, sig, dynamic)
            if entry is not None:
                return self.wrap(entry.result)
            self.diverge()
        before = trace.snapshot(self)
        self.depth += 1
        try:
            raw = build()
        except BaseException:
            self.trace.valid = False
            raise
        finally:
            self.depth -= 1
        if self.trace.valid:
            if not self.trace.events:
                self.trace.template_key = trace.template_key(sig, dynamic)
            trace.record(self, sig, dynamic, before, raw)
        return self.wrap(raw)

    def _start_replay(self, sig, dynamic: list) -> None:
        key = trace.template_key(sig, dynamic)
        templates = self.context.templates
        template = templates.pop(key, None) if key is not None and self.context.replay_steps else None
        if template is not None:
            templates[key] = template  # the most recently used last: the least recently used go first
            self.replay = trace.Replay(template)
            self._graph = template.graph

    def diverge(self) -> dict:
        """Stops replaying: the graph becomes a copy of the replayed prefix, the step's tensors move to it
        (returned: the map of the moved tensors and ops). The template is dropped (a step that keeps
        changing is recorded again, and published anew)."""
        replay, self.replay = self.replay, None
        self.context.templates.pop(replay.trace.template_key, None)
        self._graph, mapping = trace.copy_prefix(replay.trace.graph, replay.ops_end)
        self.feeds = {mapping[t]: a for t, a in self.feeds.items()}
        self.values = {mapping[t]: a for t, a in self.values.items()}
        self.pending_effects = [mapping[op] for op in self.pending_effects]
        self.variable_refs = {v: mapping[t] for v, t in self.variable_refs.items()}
        self.current = {v: mapping[t] for v, t in self.current.items()}
        self.imported = {x: mapping[t] for x, t in self.imported.items()}
        for ref in self.live:
            eager = ref()
            if eager is not None:
                eager._tensor = mapping[eager.graph_tensor]
        self.trace = trace.Trace()
        self.trace.valid = False  # its first calls were not recorded: it is no template
        return mapping

    def resolve(self, value: EagerTensor):
        """The tensor of this graph an eager tensor already stands for (itself, or its import), or None."""
        if value.step is self:
            return value.graph_tensor
        return self.imported.get(value)

    # -- building ----------------------------------------------------------------------------------

    def feed(self, value) -> Tensor:
        """A placeholder of this graph fed with `value` (a NumPy array) when the step runs."""
        array = np.asarray(value)
        with self.graph.as_default():
            placeholder = array_ops.placeholder(dtypes.as_dtype(array.dtype), array.shape, name="input")
        self.feeds[placeholder] = array
        return placeholder

    def tensor_of(self, value: EagerTensor) -> Tensor:
        """`value` as a tensor of this graph: itself if recorded here, else its value, fed."""
        if self.replay is not None:  # a tensor to build with: not the replayed graph's
            self.diverge()
        if value.step is self:
            return value.graph_tensor
        placeholder = self.imported.get(value)
        if placeholder is None:
            placeholder = self.imported[value] = self.feed(value.step.value_of(value.graph_tensor))
        return placeholder

    def eager_input(self, value) -> Tensor:
        """An eager tensor, a NumPy array (fed) or an eager variable as a tensor of this graph."""
        if self.replay is not None:  # a tensor to build with: not the replayed graph's
            self.diverge()
        if isinstance(value, EagerTensor):
            return self.tensor_of(value)
        if isinstance(value, np.ndarray):
            return self.feed(value)
        return self.variable_tensor(value)  # an EagerVariable (whose module builds on this one)

    def variable_tensor(self, variable) -> Tensor:
        """The tensor holding `variable`'s latest value in this graph (its variable op, or an assignment)."""
        if self.replay is not None:  # a tensor to build with: not the replayed graph's
            self.diverge()
        tensor = self.current.get(variable)
        if tensor is None:
            ref = self.graph.create_op(state_ops.variable_p, [], {"shape": variable.shape.as_tuple(),
                                                                  "dtype": variable.dtype},
                                       name=variable.store_name + "/").outputs[0]
            self.variable_refs[variable] = self.current[variable] = tensor = ref
        return tensor

    def wrap(self, result):
        """Graph tensors in `result` (nested) as EagerTensors of this step; operations as None."""
        if isinstance(result, Tensor):
            eager = EagerTensor(self, result)
            self.live.append(weakref.ref(eager))
            return eager
        if isinstance(result, Operation):
            return None
        if isinstance(result, (list, tuple)) and not hasattr(result, "_fields"):
            return type(result)(self.wrap(r) for r in result)
        if isinstance(result, dict):
            return {k: self.wrap(v) for k, v in result.items()}
        return result

    # -- running -----------------------------------------------------------------------------------

    def value_of(self, tensor: Tensor) -> np.ndarray:
        value = self.values.get(tensor)
        if value is None:
            value = self.feeds.get(tensor)
        if value is None:
            tensor, = self.run([tensor])  # moved if the step diverged from its trace there
            value = self.values[tensor]
        return value

    def run(self, tensors: list) -> list:
        """Computes `tensors` and runs the pending assignments: one compiled step. Returns `tensors`, moved
        to the step's new graph if it diverged from its replayed trace here.

        A step that no tape holds closes. Closing after assignments ran, it also
        computes its tensors still referenced (a later run would assign again).
        A step staying open keeps the assignments' results as feeds, for the same reason.
        A step replaying a trace runs the trace's compiled step if the trace ran the same here.
        """
        effects = self.pending_effects
        staying_open = self.holds > 0
        ran_effects = self.ran_effects or bool(effects)
        wanted = [t for t in tensors if t not in self.values and t not in self.feeds]
        if not staying_open and ran_effects:
            for ref in self.live:
                eager = ref()
                if eager is not None and eager.graph_tensor not in self.values \
                        and eager.graph_tensor not in self.feeds and eager.graph_tensor not in wanted:
                    wanted.append(eager.graph_tensor)
        effect_fetches = [op.outputs[0] for op in effects] if staying_open else list(effects)
        fetches, feeds = wanted + effect_fetches, list(self.feeds.items())
        if self.replay is not None:
            key = self.replay.run_key(fetches)
            if key is None:  # the trace ran something else here: build on from the prefix
                moved = self.diverge()
                return self.run([moved.get(t, t) for t in tensors])
        else:
            ops = self._graph._ops
            self.op_keys.extend(op_key(op) for op in ops[len(self.op_keys):])  # a second run keys only new ops
            key = structural_key(self._graph, fetches, feeds, tuple(self.op_keys))
            self.trace.runs += 1
            self.trace.events.append(trace.Run(tuple(fetches), key))
        self.pending_effects, self.ran_effects = [], ran_effects
        if not staying_open:
            self.open = False
            self._publish()
        values = self.context.session.run_step(self._graph, fetches, feeds, key)
        self.values.update(zip(wanted, values))
        if staying_open:
            self.feeds.update(zip(effect_fetches, values[len(wanted):]))
        return tensors

    def _publish(self) -> None:
        """A recorded step closing becomes the template of the steps starting with the same call."""
        recorded = self.trace
        if self.replay is not None or recorded.template_key is None or recorded.graph is not None:
            return
        recorded.graph = self._graph
        if trace.replayable(recorded):
            templates = self.context.templates
            templates.pop(recorded.template_key, None)
            templates[recorded.template_key] = recorded
            while len(templates) > trace.MAX_TEMPLATES:
                templates.pop(next(iter(templates)))


class TraceStep(Step):
    """The graph a tf.function traces: never run here, values asked for inside it are an error.

    Assignments stay pending: they are the function's effects, run with its outputs at each call.
    """

    records = False

    def __init__(self, context: "Context", creates_variables: bool):
        super().__init__(context)
        self.holds = 1
        self.creates_variables = creates_variables

    def value_of(self, tensor: Tensor) -> np.ndarray:
        raise AttributeError(f"'Tensor' object has no attribute 'numpy': tensor '{tensor.name}' is symbolic "
                             "inside a tf.function (its value exists only when the function runs)")

    def run(self, tensors: list) -> list:
        if tensors:
            self.value_of(tensors[0])
        return tensors


class Context:
    """The eager state of the process: the variable store (an EagerSession) and the current step."""

    def __init__(self):
        self._session = None
        self._step = None
        self._variable_names: dict = {}
        self.recording_tapes: list = []
        self.created_variables = 0        # eager variables created so far (a call creating one is not replayed)
        self.templates: dict = {}         # traces of closed steps to replay, by first call (trace.template_key)
        self.replay_steps = True          # False: every step builds its graph (the path a replay must equal)

    @property
    def session(self) -> EagerSession:
        if self._session is None:
            self._session = EagerSession()
        return self._session

    def step(self) -> Step:
        """The open step eager ops are recorded into (a new one if the last one closed)."""
        if self._step is None or not self._step.open:
            self._step = Step(self)
        return self._step

    def fresh_step(self) -> Step:
        """Closes the current step (running its pending assignments) and opens a new one.

        A tape starts here, so that what was computed before it is a constant to it, as in TF2.
        """
        step = self._step
        if isinstance(step, TraceStep):  # a tape inside tf.function records into the function's graph
            return step
        if step is not None and step.open and step.holds == 0:
            if step.pending_effects:
                step.run([])
            step.open = False
        return self.step()

    @contextlib.contextmanager
    def tracing(self, step: TraceStep):
        """Eager ops inside the block are recorded into `step`, a tf.function's graph."""
        saved, saved_tapes = self._step, self.recording_tapes
        self._step, self.recording_tapes = step, []
        try:
            yield step
        finally:
            self._step, self.recording_tapes = saved, saved_tapes

    def check_variable_creation(self) -> None:
        """TF2's rule: a tf.function creates variables on its first trace only."""
        if isinstance(self._step, TraceStep) and not self._step.creates_variables:
            raise ValueError("tf.function only supports singleton tf.Variables created on the first call. Make "
                             "sure the tf.Variable is only created once or created outside tf.function.")

    def unique_variable_name(self, name: str) -> str:
        self.created_variables += 1
        count = self._variable_names.get(name, 0)
        self._variable_names[name] = count + 1
        return name if count == 0 else f"{name}_{count}"

    @contextlib.contextmanager
    def updating(self):
        """Records assignments into the current step and runs them together when the block ends."""
        step = self.step()
        step.holds += 1
        try:
            yield step
        finally:
            step.holds -= 1
        step.run([])

    def after_effect(self, step: Step) -> None:
        """An assignment was recorded: it runs now unless a tape or an update block holds its step."""
        if step.holds == 0:
            step.run([])

    def convert(self, value) -> Tensor:
        """An eager value (tensor, variable, NumPy array) as a tensor of the current step's graph."""
        return self.step().eager_input(value)


_context = Context()


def context() -> Context:
    """The process's eager context."""
    return _context


def eager_function(fn, name=None, op_errors=True):
    """`fn` (a graph op builder) as an eager op: recorded in the current step, results EagerTensors.

    Eager tensors, variables and NumPy arrays among the arguments (nested in
    lists, tuples and dicts) enter the step's graph. With `op_errors`, the
    ValueErrors of building (shape mismatches) are what TF2 raises when an eager
    op runs: InvalidArgumentError, naming the op (Keras layers keep ValueError).
    """

    def eager_op(*args, **kwargs):
        step = _context.step()

        def build():
            with step.graph.as_default():
                captured_args, captured_kwargs = _capture(step, args), _capture(step, kwargs)
                try:
                    return fn(*captured_args, **captured_kwargs)
                except ValueError as e:
                    if not op_errors:
                        raise
                    raise errors.InvalidArgumentError(None, None, f"{name or fn.__name__}: {e}") from None
        return step.call(fn, (args, kwargs), build)

    eager_op.__name__ = getattr(fn, "__name__", name or "eager_op")
    eager_op.__doc__ = getattr(fn, "__doc__", None)
    eager_op.__wrapped__ = fn
    return eager_op


def constant(value, dtype=None, shape=None, name="Const"):
    """`tf.constant` in TF2: a tensor of known value, which enters its step as a feed (not code)."""
    if isinstance(value, EagerTensor):
        value = value.numpy()
    array = np.array(make_constant_array(value, dtype, shape), order="C")
    step = _context.step()
    return step.call(constant, array, lambda: step.feed(array))


def convert_to_tensor(value, dtype=None, name=None):
    """An eager tensor for `value`: itself (of `dtype` if given), or a constant."""
    if isinstance(value, EagerTensor):
        if dtype is not None and value.dtype is not dtypes.as_dtype(dtype):
            raise ValueError(f"Tensor conversion requested dtype {dtypes.as_dtype(dtype).name} for Tensor with "
                             f"dtype {value.dtype.name}")
        return value
    return constant(value, dtype)


def _capture(step: Step, value):
    if isinstance(value, (EagerTensor, np.ndarray)) or hasattr(value, "store_name"):
        return step.eager_input(value)
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_capture(step, v) for v in value)
    if isinstance(value, dict):
        return {k: _capture(step, v) for k, v in value.items()}
    return value


def _equality(equal, unequal_shapes: bool):
    """TF2's `==` / `!=` on eager tensors: elementwise; None compares as a Python bool, shapes that do not
    broadcast as a scalar tensor (`unequal_shapes`: what `!=` says)."""
    def operator(self, other):
        if other is None:
            return unequal_shapes
        try:
            return eager_function(equal, "equal" if not unequal_shapes else "not_equal")(self, other)
        except (errors.InvalidArgumentError, TypeError):
            return constant(unequal_shapes)
    return operator


operators.install(EagerTensor, lambda spelling: eager_function(getattr(Tensor, spelling), spelling))
EagerTensor.__eq__ = _equality(math_ops.equal, unequal_shapes=False)
EagerTensor.__ne__ = _equality(math_ops.not_equal, unequal_shapes=True)
register_tensor_conversion_function(EagerTensor, lambda value, dtype=None, name=None: _converted(value, dtype))


def _converted(value, dtype):
    tensor = _context.convert(value)
    if dtype is not None and tensor.dtype is not dtype:
        raise ValueError(f"Tensor conversion requested dtype {dtype.name} for Tensor with dtype "
                         f"{tensor.dtype.name}")
    return tensor
