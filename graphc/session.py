"""The thin Session: look up the compiled step, check feeds, one native call.

A signature is (fetches, fed tensors, their shapes and dtypes); each one is
compiled once (`compiler.compile_step`) and cached on disk by content hash.
A session keeps at most GRAPHC_MAX_LOADED_STEPS compiled steps loaded; the
least recently used is unloaded beyond that, and loaded again from the disk
cache if it runs again. Variables live in arrays the session owns; the native
step updates them in place.
"""

from __future__ import annotations

import collections
import threading
from typing import Optional

import numpy as np

from graphc import environment, errors, run_trace
from graphc.core import dtypes
from graphc.core.registry import Role
from graphc.core.tensor_shape import format_dims
from graphc.frontend.default_session import get_default_session  # noqa: F401 - tf.get_default_session
from graphc.frontend.default_session import default_session, register_session_class
from graphc.frontend.graph import Graph, Operation, Tensor, get_default_graph, walk_ops
from graphc.host_fetches import fetched, plan_fetches
from graphc.ir.program import IRType
from graphc.session_config import session_options, wants_trace


class _FetchStructure:
    """Flattens nested fetches (lists, tuples, namedtuples, dicts) and rebuilds results.

    `device_elements` are what the compiled step computes; `finish`, when some
    fetches are host ops (summaries, strings), turns their values into one per element.
    """

    def __init__(self, fetches, graph: Graph):
        self.graph = graph
        self.elements: list = []
        self.template = self._flatten(fetches)
        self.device_elements, self.finish = plan_fetches(self.elements)

    def _flatten(self, fetch):
        if isinstance(fetch, dict):
            return (type(fetch), [(k, self._flatten(v)) for k, v in fetch.items()])
        if isinstance(fetch, (list, tuple)):
            return (type(fetch), [self._flatten(v) for v in fetch])
        self.elements.append(self._element(fetch))
        return len(self.elements) - 1

    def _element(self, fetch):
        if fetch is None or not (isinstance(fetch, str) or hasattr(fetch, "_as_graph_element")):
            raise TypeError(f"Fetch argument {fetch!r} has invalid type {type(fetch)}, must be a string or "
                            "Tensor. (Can not convert a " f"{type(fetch).__name__} into a Tensor or Operation.)")
        try:
            return self.graph.as_graph_element(fetch, allow_tensor=True, allow_operation=True)
        except (KeyError, ValueError) as e:
            raise ValueError(f"Fetch argument {fetch!r} cannot be interpreted as a Tensor. ({e})") from None

    def rebuild(self, values: list):
        return self._rebuild(self.template, values)

    def _rebuild(self, template, values):
        if isinstance(template, int):
            return values[template]
        kind, items = template
        if kind is dict or issubclass(kind, dict):
            return kind((k, self._rebuild(v, values)) for k, v in items)
        rebuilt = [self._rebuild(v, values) for v in items]
        if kind is list:
            return rebuilt
        if hasattr(kind, "_fields"):  # namedtuple
            return kind(*rebuilt)
        return kind(rebuilt)


def _feed_array(tensor: Tensor, value) -> np.ndarray:
    """`value` as a contiguous array of the tensor's dtype and a shape it accepts, or the error TF1 users
    expect (ValueError, or OverflowError for a Python int beyond 64 bits)."""
    array = _converted_feed(tensor, value)
    _check_feed_shape(tensor, array)
    return array


def _converted_feed(tensor: Tensor, value) -> np.ndarray:
    """`value` as a contiguous array of the tensor's dtype (its shape unchecked), or TF1's error."""
    dtype = tensor.dtype
    if isinstance(value, (Tensor, Operation)):
        raise TypeError("The value of a feed cannot be a tf.Tensor object. Acceptable feed values include "
                        "Python scalars, strings, lists, numpy ndarrays, or TensorHandles.")
    if value is None:
        raise ValueError(f"Cannot feed None for Tensor '{tensor.name}'")
    if dtype is dtypes.string:
        return dtypes.as_string_array(value)
    try:
        source = np.asarray(value)
    except ValueError as e:
        raise ValueError(f"Cannot feed a ragged value for Tensor '{tensor.name}': {e}") from None
    target = dtype.np_dtype
    if source.dtype == object and source.size and all(type(v) is int for v in source.flat):
        if dtype.is_integer:  # Python ints beyond 64 bits: TF1's OverflowError
            raise OverflowError(f"Python int too large to convert to C long (a value fed to Tensor '{tensor.name}' "
                                f"of dtype {dtype.name})")
        source = source.astype(np.float64)
    if source.dtype == object or source.dtype.kind in "USVM":
        raise ValueError(f"Cannot feed a non-numeric value ({source.dtype}) for Tensor '{tensor.name}' of "
                         f"dtype {dtype.name}")
    if source.dtype.kind == "c":  # NumPy would drop the imaginary parts with only a warning
        raise ValueError(f"Cannot feed complex values for Tensor '{tensor.name}' of dtype {dtype.name}")
    if dtype.is_integer and source.size:
        if source.dtype.kind == "f":
            if not np.all(np.isfinite(source)) or np.any(source != np.trunc(source)):
                raise ValueError(f"Cannot feed non-integer values for Tensor '{tensor.name}' of dtype "
                                 f"{dtype.name}")
        if source.dtype.kind in "iuf":
            info = np.iinfo(target)
            # A float bound is the exact power of two: float(2**63 - 1) is 2**63, which does not fit.
            too_big = source.max() >= 2.0 ** (info.bits - 1) if source.dtype.kind == "f" else source.max() > info.max
            if source.min() < info.min or too_big:
                raise ValueError(f"Cannot feed values outside [{info.min}, {info.max}] for Tensor "
                                 f"'{tensor.name}' of dtype {dtype.name}")
    return np.asarray(source, dtype=target, order="C")  # copies only when it must


def _check_feed_shape(tensor: Tensor, array: np.ndarray) -> None:
    if not tensor.shape.is_compatible_with(array.shape):
        raise ValueError(f"Cannot feed value of shape {format_dims(array.shape)} for Tensor '{tensor.name}', "
                         f"which has shape '{tensor.shape}'")


def _input_ops(elements: list, fed: list) -> tuple[list, list]:
    """The INPUT ops (tf.data's iterator ops) a run of `elements` reaches, iterator initialisers first, and
    the tensors of theirs the run feeds from them: the outputs of the ones reached that are not fed already."""
    fed_ids = {id(t) for t in fed}
    roots = [e if isinstance(e, Operation) else e.op for e in elements if id(e) not in fed_ids]
    reached = walk_ops(roots, lambda op: [t.op for t in op.inputs if id(t) not in fed_ids] + op.control_inputs)
    ops = sorted((op for op in reached if op.op_def.role is Role.INPUT), key=lambda op: (bool(op.outputs), op._id))
    inputs = [(op, [i for i, t in enumerate(op.outputs) if id(t) not in fed_ids]) for op in ops]
    return inputs, [op.outputs[i] for op, indices in inputs for i in indices]


def _call_key(fetches, feed_dict):
    """What identifies a call for the fast path, or None for fetches it does not cover."""
    keys = tuple(feed_dict) if feed_dict else ()
    kind = type(fetches)
    if kind is Tensor or kind is Operation:
        return fetches, keys
    if (kind is list or kind is tuple) and all(type(f) is Tensor or type(f) is Operation for f in fetches):
        return kind, tuple(fetches), keys
    return None


def _step_count(steps) -> int:
    """`steps=` of Session.run: a positive int (TypeError or ValueError otherwise, as Keras's
    steps_per_execution)."""
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"steps must be an int, got {steps!r} of type {type(steps).__name__}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    return int(steps)


class _Runner:
    """A call seen before: its fetch structure, its feeds, and a `_CompiledCall` per feed shapes.

    `run` is the hot path of every training loop, so it avoids what costs
    microseconds in CPython: comprehensions (a function object each), building
    the step's feed list when the feed dict is already in the step's order, and
    rebuilding the fetch structure for a single fetch.
    """

    def __init__(self, session: "BaseSession", structure: _FetchStructure, fed: list, traced: bool = False):
        self.session = session
        self.traced = traced  # its steps time their kernels (a traced run's runner)
        self.structure = structure
        # Iterators' next elements are fed too, after the feed dict's values (`feed_values`).
        self.fed = fed
        self.input_ops, input_tensors = _input_ops(structure.device_elements, fed) if session._graph_has_inputs \
            else ([], [])
        fed = fed + input_tensors
        # Strings fed stay on the host, for the fetches finished there (host_fetches.py); the compiled
        # step takes the other feeds, its `feed_tensors`.
        self.host_feeds = [(i, t) for i, t in enumerate(fed) if t.dtype is dtypes.string]
        self.device_positions = [i for i, t in enumerate(fed) if t.dtype is not dtypes.string]
        feed_tensors = self.feed_tensors = [fed[i] for i in self.device_positions]
        self.feed_dtypes = [t.dtype.np_dtype for t in feed_tensors]
        order = sorted(range(len(feed_tensors)), key=lambda i: feed_tensors[i].name)
        self.step_order = order  # the step takes its feeds sorted by tensor name
        self.in_step_order = order == list(range(len(order)))
        self.by_shapes: dict = {}

    def feed_values(self, feed_dict) -> list:
        """The values fed to the run, in the order of its fed tensors: the feed dict's, then the values its
        input pipelines give (which advances the iterators: a run that reaches `get_next` takes an element)."""
        arrays = list(feed_dict.values()) if feed_dict else []
        if self.input_ops:
            fed = {id(t): value for t, value in zip(self.fed, arrays)}
            arrays += self.session._run_input_ops(self.input_ops, fed)
        return arrays

    def run(self, feed_dict):
        shapes, host_feeds = [], None
        arrays = self.feed_values(feed_dict)
        if arrays:
            if self.host_feeds:
                host_feeds = {id(t): _feed_array(t, arrays[i]) for i, t in self.host_feeds}
                arrays = [arrays[i] for i in self.device_positions]
            for i, dtype in enumerate(self.feed_dtypes):
                value = arrays[i]
                if not (type(value) is np.ndarray and value.dtype is dtype and value.flags.c_contiguous):
                    value = arrays[i] = _feed_array(self.feed_tensors[i], value)
                shapes.append(value.shape)
        shapes = tuple(shapes)
        call = self.by_shapes.get(shapes)
        if call is None:
            call = self._prepare(arrays, shapes)
        return call(arrays, host_feeds)

    def run_steps(self, feed_dict, count: int):
        """`count` runs of the step in one native call (`Session.run(..., steps=count)`): a feed with one
        more dimension than its tensor, that dimension first and of length `count`, gives run k its k-th
        batch; any other feed is the batch of every run. The fetches are those of the last run."""
        if self.input_ops:
            names = ", ".join(op.name for op, _ in self.input_ops)
            raise errors.UnimplementedError(None, None, f"graphc does not take several elements of a tf.data iterator "
                                                        f"in one call ({names} with Session.run(steps=)): feed "
                                                        f"the batches stacked instead, or run one step a call")
        arrays, firsts, strides, host_feeds = [], [], [], None
        if feed_dict:
            values = list(feed_dict.values())
            if self.host_feeds:
                host_feeds = {id(t): _feed_array(t, _last_batch(t, values[i], count)) for i, t in self.host_feeds}
            for position, tensor in zip(self.device_positions, self.feed_tensors):
                array = values[position]
                if not (type(array) is np.ndarray and array.dtype is tensor.dtype.np_dtype
                        and array.flags.c_contiguous):
                    array = _converted_feed(tensor, array)
                if _per_step(tensor, array):
                    _check_steps_axis(tensor, array, count)
                    first, stride = array[0], array.strides[0]
                else:
                    first, stride = array, 0
                _check_feed_shape(tensor, first)
                arrays.append(array)
                firsts.append(first)
                strides.append(stride)
        shapes = tuple(first.shape for first in firsts)
        call = self.by_shapes.get(shapes)
        if call is None:
            call = self._prepare(firsts, shapes)
        return call(arrays, host_feeds, (count, strides))

    def _sorted(self, arrays):
        return [(self.feed_tensors[i], arrays[i]) for i in self.step_order]

    def _prepare(self, arrays, shapes):
        for tensor, array in zip(self.feed_tensors, arrays):
            _check_feed_shape(tensor, array)
        step = self.session._step(self.structure.device_elements, self._sorted(arrays), self.traced)
        if step.lowered.init_dependencies:  # its program depends on which variables are initialised
            call = self._run_uncached
        else:
            call = _CompiledCall(self, step)
        self.by_shapes[shapes] = call
        return call

    def _run_uncached(self, arrays, host_feeds, repeat=None):
        firsts = arrays if repeat is None else _first_batches(arrays, repeat)
        step = self.session._step(self.structure.device_elements, self._sorted(firsts), self.traced)
        return _CompiledCall(self, step)(arrays, host_feeds, repeat)

    def run_reloaded(self, arrays, host_feeds, repeat=None):
        """Runs a call whose step the session unloaded meanwhile: its step is found (or compiled) again."""
        firsts = arrays if repeat is None else _first_batches(arrays, repeat)
        return self._prepare(firsts, tuple(array.shape for array in firsts))(arrays, host_feeds, repeat)


def _per_step(tensor: Tensor, value) -> bool:
    """Whether a feed of a several-steps run holds one batch per run: one dimension more than its tensor."""
    rank = tensor.shape.ndims
    return rank is not None and np.ndim(value) == rank + 1


def _check_steps_axis(tensor: Tensor, array: np.ndarray, count: int) -> None:
    if array.shape[0] != count:
        raise ValueError(f"Cannot feed value of shape {format_dims(array.shape)} for Tensor '{tensor.name}', "
                         f"which has shape '{tensor.shape}': a run of {count} steps takes one batch of that "
                         f"shape, or {count} of them stacked on a first axis of length {count}")


def _last_batch(tensor: Tensor, value, count: int):
    """What the last of `count` runs reads of a feed kept on the host (a string)."""
    array = _converted_feed(tensor, value)
    if _per_step(tensor, array):
        _check_steps_axis(tensor, array, count)
        return array[-1]
    return array


def _first_batches(arrays: list, repeat) -> list:
    """The batch the first run reads of each feed of a several-steps run."""
    return [array[0] if stride else array for array, stride in zip(arrays, repeat[1])]


class _CompiledCall:
    """One compiled step run for one runner: outputs allocated, feeds ordered, results rebuilt."""

    def __init__(self, runner: _Runner, step):
        self.session = runner.session
        self.runner = runner
        self.step = step
        self.lock = runner.session._lock
        self.executable = step.executable
        self.run_native = step.executable.run
        self.ready = False  # once the step's variables are initialised, runs skip that bookkeeping
        self.output_specs = [(v.type.shape, v.type.dtype.np_dtype) for v in step.program.fetches]
        self.step_order = None if runner.in_step_order else runner.step_order
        self.fetch_slots = step.lowered.fetch_slots
        structure = runner.structure
        self.single_slot = -1  # a lone fetch needs no rebuilding: its value is the result
        if structure.finish is None and isinstance(structure.template, int):
            self.single_slot = self.fetch_slots[0]
        self.structure = structure

    def __call__(self, arrays, host_feeds=None, repeat=None):
        """Runs the step on `arrays` (the feeds, in the runner's order), or with `repeat` = (count,
        strides) runs it `count` times in one native call (see `Executable.run`)."""
        outputs = []
        for shape, dtype in self.output_specs:
            outputs.append(np.empty(shape, dtype=dtype))
        given, given_repeat = arrays, repeat
        if self.step_order is not None:
            arrays = [arrays[i] for i in self.step_order]
            if repeat is not None:
                repeat = (repeat[0], [repeat[1][i] for i in self.step_order])
        try:
            if self.ready:
                with self.lock:
                    self.run_native(arrays, outputs, repeat)
                    self.executable.used = True  # for the session's least-recently-used order
            else:
                self.session._run_step(self.step, arrays, outputs, repeat)
                self.ready = self.step in self.session._ready_steps
        except errors.FailedPreconditionError:
            # Another thread unloaded the step (the session's least recently used) after this call was
            # looked up: nothing ran. Checked here, not before every run, where it would cost each run.
            if self.executable.loaded:
                raise
            return self.runner.run_reloaded(given, host_feeds, given_repeat)
        slot = self.single_slot
        if slot != -1:
            return None if slot is None else fetched(outputs[slot])
        values = [None if slot is None else fetched(outputs[slot]) for slot in self.fetch_slots]
        if self.structure.finish is not None:
            values = self.structure.finish(values, host_feeds or {})
        return self.structure.rebuild(values)


class BaseSession:
    """`tf.Session`: runs fetches of one graph; compiled steps are cached per signature."""

    def __init__(self, target: str = "", graph: Optional[Graph] = None, config=None):
        self._graph = graph if graph is not None else get_default_graph()
        self._options = session_options(config)
        self._placed_ops = 0  # how many of the graph's ops were placed (TF places a grown graph again)
        self._graph_has_inputs = False  # whether it has tf.data iterator ops: only then runs look for them
        self._sized_thread_pool = False
        self._closed = False
        self._steps: collections.OrderedDict = collections.OrderedDict()  # signature -> step, least recent first
        self._max_loaded_steps = environment.get().max_loaded_steps
        self._init_dependencies: dict = {}
        self._variables: dict[str, np.ndarray] = {}
        self._initialized: set[str] = set()
        self._lock = threading.RLock()
        self._default_context = None
        self._runners: dict = {}
        self._ready_steps: set = set()
        self._input_states: dict = {}  # tf.data iterators' positions in this session (ops/dataset_ops.py)
        self._input_lock = threading.Lock()

    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def graph_def(self):
        """The session's graph as a GraphDef protobuf (`Graph.as_graph_def`)."""
        return self._graph.as_graph_def()

    def list_devices(self) -> list:
        """The devices the session runs on (the host's CPU devices): objects with `name`, `device_type`,
        `memory_limit_bytes` and `incarnation`, as TF's."""
        return self._options.placer.devices()

    def as_default(self):
        """A context manager making this the default session (and its graph the default graph)."""
        return _DefaultSession(self)

    def __enter__(self):
        self._default_context = self.as_default()
        self._default_context.__enter__()
        return self

    def __exit__(self, *exc):
        self._default_context.__exit__(*exc)
        self._default_context = None
        self.close()

    def close(self) -> None:
        """Frees the session's variables and compiled steps (their libraries are unloaded)."""
        with self._lock:
            self._closed = True
            for step in self._steps.values():
                step.executable.unload()
            self._steps.clear()
            self._ready_steps.clear()
            self._runners.clear()
            self._variables.clear()
        with self._input_lock:
            for state in self._input_states.values():
                state.close()  # stops its prefetching thread
            self._input_states.clear()

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None, steps=None):
        """Computes `fetches` (nested lists/tuples/dicts of tensors, ops, variables, names).

        Operations give None, tensors NumPy arrays (NumPy scalars for 0-d).
        A call like one seen before (the same fetches, the same feed keys) takes
        a fast path: feeds of the right dtype are used as they are, and the work
        left is one dictionary lookup and one native call.

        `steps=N` (a graphc extension) runs the fetches N times in one native
        call, as N calls would one after the other: a feed with one dimension
        more than its tensor, of length N first, gives the k-th run its k-th
        batch (`x_batches[k]`); any other feed is every run's batch. The result
        is the fetches of the last run (its summaries, its loss). A run that
        fails raises its error; the runs before it have happened.
        """
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        if self._graph.version != self._placed_ops:
            self._place_graph()
        if steps is not None:
            steps = _step_count(steps)
        if options is not None and wants_trace(options):
            return self._run_traced(fetches, feed_dict, run_metadata, steps)
        runner = self._runners.get(_call_key(fetches, feed_dict))
        if runner is None:
            runner = self._new_runner(fetches, feed_dict)
        if steps is not None:
            return runner.run_steps(feed_dict, steps)
        return runner.run(feed_dict)

    def _run_traced(self, fetches, feed_dict, run_metadata, steps=None):
        """A run of a step compiled with kernel timing, which fills `run_metadata.step_stats` (run_trace.py).

        With `steps` (graphc's extension) the several runs of one native call are traced, one NodeExecStats
        per kernel call: the kernels timed as a loop of steps runs them, with no host work between them."""
        runner = self._new_runner(fetches, feed_dict, traced=True)
        if steps is None:
            arrays = [_feed_array(t, v) for t, v in zip(runner.feed_tensors, runner.feed_values(feed_dict))]
            step = self._step(runner.structure.device_elements, runner._sorted(arrays), True)
            with run_trace.tracing() as events:
                result = _CompiledCall(runner, step)(arrays)
        else:
            with run_trace.tracing() as events:
                result = runner.run_steps(feed_dict, steps)
            # The step it ran (compiled, now looked up), for its kernels' labels: that of the first batches.
            values = list(feed_dict.values()) if feed_dict else []
            firsts = [_converted_feed(t, values[i]) for i, t in zip(runner.device_positions, runner.feed_tensors)]
            firsts = [array[0] if _per_step(t, array) else array for t, array in zip(runner.feed_tensors, firsts)]
            step = self._step(runner.structure.device_elements, runner._sorted(firsts), True)
        if run_metadata is not None:
            run_trace.fill_step_stats(run_metadata, events, step.kernel_labels())
        return result

    def _new_runner(self, fetches, feed_dict, traced: bool = False) -> "_Runner":
        structure = _FetchStructure(fetches, self._graph)
        tensors = [self._feed_tensor(key) for key in feed_dict] if feed_dict else []
        if len({id(t) for t in tensors}) != len(tensors):
            raise ValueError("feed_dict feeds one tensor twice (by object and by name?)")
        runner = _Runner(self, structure, tensors, traced)
        key = _call_key(fetches, feed_dict)
        if key is not None and not traced:
            self._runners[key] = runner
        return runner

    def _run_input_ops(self, inputs: list, fed: dict) -> list:
        """Runs INPUT ops [(op, indices of the outputs fed)] on the host, in order; the values of those
        outputs; `fed` are the run's feeds, by tensor id. One thread at a time: two runs taking from one iterator
        each get their own element."""
        values = []
        with self._input_lock:
            for op, indices in inputs:
                outputs = op.op_def.input_function(op, self._input_states, fed)
                values += [outputs[i] for i in indices]
        return values

    def _run_step(self, step, feeds: list, outputs: list, repeat=None) -> None:
        """One native call, with the initialisation bookkeeping a first run of a step needs."""
        with self._lock:
            if step not in self._ready_steps:
                self._check_initialized(step)
            step.executable.run(feeds, outputs, repeat)
            if step not in self._ready_steps:
                self._initialized.update(step.lowered.writes)
                if all(name in self._initialized for name in step.lowered.requires_initialized):
                    self._ready_steps.add(step)  # variables never become uninitialised again

    def _place_graph(self) -> None:
        """Places the graph's ops on the host's devices (placement.py), as TF's session does when it first
        runs and when the graph has grown: InvalidArgumentError for a device the host lacks."""
        ops = self._graph.get_operations()
        self._options.placer.place(ops, self._placed_ops)
        self._graph_has_inputs = self._graph_has_inputs or any(
            op.op_def.role is Role.INPUT for op in ops[self._placed_ops:])
        self._placed_ops = len(ops)

    def _feed_tensor(self, key) -> Tensor:
        try:
            return self._graph.as_graph_element(key, allow_tensor=True, allow_operation=False)
        except (TypeError, ValueError, KeyError) as e:
            raise TypeError(f"Cannot interpret feed_dict key as Tensor: {e}") from None

    def _load_variables(self, values: dict) -> None:
        """Sets variables (op name -> array of the variable's shape and dtype) and marks them initialised.

        For Saver.restore: values are copied into the session's own buffers,
        which compiled steps keep pointing at.
        """
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        with self._lock:
            for name, value in values.items():
                storage = self._variables.get(name)
                if storage is None:
                    self._variables[name] = np.array(value, order="C")
                else:
                    storage[...] = value
                self._initialized.add(name)

    def _variable_array(self, name: str) -> np.ndarray:
        """The array variable `name` (op name) lives in, which compiled steps update in place: for code
        that exchanges variables with other processes (graphc.distribute)."""
        with self._lock:
            if name not in self._initialized or name not in self._variables:
                raise errors.FailedPreconditionError(None, None, f"Attempting to use uninitialized value {name}")
            return self._variables[name]

    def _step(self, elements, feeds, traced: bool = False):
        """The compiled step of `elements` given `feeds` [(tensor, array)]; a `traced` one times its kernels."""
        # Under the lock: two threads meeting a new signature compile it once, and bind one
        # array per variable (two compiles would each allocate one and diverge).
        with self._lock:
            return self._step_locked(elements, feeds, traced)

    def _step_locked(self, elements, feeds, traced):
        if self._closed:  # a call looked up before `close` finds its step unloaded and comes here
            raise RuntimeError("Attempted to use a closed Session.")
        base_key = (tuple(elements), tuple((t, a.shape, a.dtype) for t, a in feeds), traced)
        dependencies = self._init_dependencies.get(base_key, ())
        key = base_key + (tuple(name in self._initialized for name in dependencies),)
        self._order_by_last_use()
        step = self._steps.get(key)
        if step is not None:
            self._steps.move_to_end(key)
        else:
            # The compiler, and LLVM with it, load with the first step a program compiles.
            from graphc.compiler.driver import compile_step

            feed_types = collections.OrderedDict((t, IRType(t.dtype, a.shape)) for t, a in feeds)
            step = compile_step(elements, feed_types, frozenset(self._initialized), traced or None)
            self._size_thread_pool()
            dependencies = step.lowered.init_dependencies
            self._init_dependencies[base_key] = dependencies
            key = base_key + (tuple(name in self._initialized for name in dependencies),)
            self._bind_variables(step)
            self._steps[key] = step
            self._unload_least_recently_used()
        return step

    def _size_thread_pool(self) -> None:
        """Sizes the thread pool as the ConfigProto's intra_op_parallelism_threads asks, once the runtime is
        loaded (with the session's first step). The pool is the process's, as TF's default pools are: the
        session that last started running with the field set decides its size."""
        threads = self._options.intra_op_threads
        if threads and not self._sized_thread_pool:
            from graphc.runtime import loader

            loader.set_num_threads(threads)
            self._sized_thread_pool = True

    def _order_by_last_use(self) -> None:
        """Moves the steps run through a call's fast path since the last look-up to the end of `_steps`.

        The fast path only marks the step `used` (reordering on every run would
        cost every run): the steps it ran come after the others, in their order.
        """
        for key in [key for key, step in self._steps.items() if step.executable.used]:
            self._steps[key].executable.used = False
            self._steps.move_to_end(key)

    def _unload_least_recently_used(self) -> None:
        """Unloads steps, least recently used first, until at most GRAPHC_MAX_LOADED_STEPS are loaded."""
        while len(self._steps) > self._max_loaded_steps:
            _, step = self._steps.popitem(last=False)
            self._ready_steps.discard(step)
            for runner in self._runners.values():
                for shapes, call in list(runner.by_shapes.items()):
                    if isinstance(call, _CompiledCall) and call.step is step:
                        del runner.by_shapes[shapes]
            step.executable.unload()

    def _bind_variables(self, step) -> None:
        arrays = []
        for decl in step.program.variables:
            array = self._variables.get(decl.name)
            if array is None:
                if decl.kind == "rng":  # a random op's state starts as lowering says: with its seeds
                    array = np.array(step.lowered.initial_states[decl.name], order="C")
                    self._initialized.add(decl.name)
                else:
                    array = np.zeros(decl.type.shape, dtype=decl.type.dtype.np_dtype)
                self._variables[decl.name] = array
            arrays.append(array)
        step.executable.bind_variables(arrays)

    def _check_initialized(self, step) -> None:
        for name in step.lowered.requires_initialized:
            if name not in self._initialized:
                op = step.lowered.variables.get(name)
                raise errors.FailedPreconditionError(
                    None, op, f"Attempting to use uninitialized value {name}")


class Session(BaseSession):
    """`tf.Session`."""


register_session_class(Session)  # MonitoredSession's session creators, in the graph stack, make Sessions


class InteractiveSession(BaseSession):
    """A session that makes itself the default as soon as it is created."""

    def __init__(self, target: str = "", graph: Optional[Graph] = None, config=None):
        super().__init__(target, graph, config)
        self._interactive_context = self.as_default()
        self._interactive_context.__enter__()

    def close(self) -> None:
        if self._interactive_context is not None:
            self._interactive_context.__exit__(None, None, None)
            self._interactive_context = None
        super().close()


class _DefaultSession:
    """`sess.as_default()`: the session is the default session, and its graph the default graph."""

    def __init__(self, session: BaseSession):
        self._session_context = default_session(session)
        self._graph_context = session.graph.as_default()

    def __enter__(self):
        session = self._session_context.__enter__()
        self._graph_context.__enter__()
        return session

    def __exit__(self, *exc):
        self._graph_context.__exit__(*exc)
        self._session_context.__exit__(*exc)
