"""Recognising a repeated eager step before building its graph: a step's trace, and its replay.

Building a step's graph (Operation objects, shape inference, the tape's autodiff,
the optimizer's update) costs far more Python than running the compiled step. So a
step records, as it is built, a *trace*: one `Entry` per top-level eager call (an
op, a Keras layer or model call, `tape.gradient`, `apply_gradients`, an
assignment, a constant) and one `Run` per native call. A later step whose first
call matches a closed step's trace *replays* it: each call is compared with the
entry at the same position — what was called and its Python arguments, which
earlier tensors, feeds and variables are its inputs, the fed arrays' shapes and
dtypes — and, when it matches, gets the entry's results (tensors of the trace's
graph, their shapes and dtypes known) without building anything; a value asked
for runs the compiled step of the trace's `Run` at that position by its recorded
key. The first call that does not match (or a value asked for at another point)
*diverges*: the graph of the prefix replayed so far is copied out of the trace's
graph and the step goes on building as it would have without a trace.

What a matched call does is assumed to depend only on what the entry compares: a
call whose Python reads other state (a global, a Python attribute of a layer that
changed between steps) is replayed as recorded. Calls whose recording could not be
described this way (a variable created, a value fed from elsewhere than the
arguments, a step run inside) make the trace no template, as do steps with
control flow (their functions' captures point into the graph).
"""

from __future__ import annotations

import numpy as np

from graphc.eager.tensor import EagerTensor
from graphc.frontend.graph import Graph, Tensor

MAX_TEMPLATES = 64  # traces kept to replay, by their first call; the least recently used go first (a loop
                   # of many small steps, one assignment each, must not push its training step out)

_LEAF = object()  # a tensor-like argument's place in a signature (the value itself is compared apart)
_PLAIN = frozenset([int, float, bool, str, type(None)])


def signature(value, dynamic: list):
    """`value` (an eager call's arguments, nested) as a comparable structure: Python values with their
    types (1 and 1.0 build different constants), tensor-like leaves — eager and graph tensors, NumPy
    arrays, eager variables — as markers, the leaves themselves appended to `dynamic`."""
    cls = value.__class__
    if cls in _PLAIN:  # the common Python arguments first: this runs for every argument of every call
        return (cls, value)
    if cls is tuple or cls is list:
        return (cls, tuple([signature(v, dynamic) for v in value]))
    if isinstance(value, (EagerTensor, np.ndarray, Tensor)) or hasattr(value, "store_name"):
        dynamic.append(value)
        return _LEAF
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return (value.__class__, tuple([signature(v, dynamic) for v in value]))
    if isinstance(value, dict):
        return (dict, tuple([(k, signature(v, dynamic)) for k, v in value.items()]))
    return (value.__class__, value)


def same(a, b) -> bool:
    """Whether two signatures are equal (a Python value whose comparison raises makes them differ)."""
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an argument's own __eq__ (arrays inside, ...): not comparable, no match
        return False


def _array_type(value) -> tuple:
    return (value.shape, value.dtype)


class Entry:
    """One recorded top-level eager call: its signature, how each tensor-like argument entered the step,
    and what the call added to the step (feeds, imports, variables' tensors, assignments, its result)."""

    __slots__ = ("signature", "inputs", "feeds", "current", "refs", "effects", "result", "ops_end")

    def __init__(self, sig, inputs, feeds, current, refs, effects, result, ops_end):
        self.signature = sig
        self.inputs = inputs      # per tensor-like argument: (kind, recorded tensor / variable, array type)
        self.feeds = feeds        # [(placeholder, argument index, is an import)] in the step's feed order
        self.current = current    # [(variable, tensor)]: the variables' latest values the call set
        self.refs = refs          # [(variable, its variable op's output)] the call added
        self.effects = effects    # assignments the call left pending
        self.result = result      # the call's result, graph tensors
        self.ops_end = ops_end    # the number of graph ops after the call


class Run:
    """One native call of a recorded step: what it fetched and the compiled step's key."""

    __slots__ = ("fetches", "key")

    def __init__(self, fetches: tuple, key):
        self.fetches, self.key = fetches, key


class Trace:
    """The events (entries and runs) of one step, in order, and whether it can be replayed."""

    def __init__(self):
        self.events: list = []
        self.runs = 0             # native calls of the step so far
        self.valid = True
        self.template_key = None  # the key it is kept under once published (its first call's)
        self.graph = None


def record(step, sig, dynamic: list, before: tuple, raw) -> None:
    """Appends the entry of a call that just built `raw` into `step` (`before`: `snapshot` from before it)."""
    trace = step.trace
    n_feeds, n_imported, n_refs, n_effects, current, n_variables, n_runs = before
    context = step.context
    if context.created_variables != n_variables or trace.runs != n_runs:
        trace.valid = False  # a variable was created or a step ran: a replay could not do the same
        return
    new_imports = {p: x for x, p in list(step.imported.items())[n_imported:]}
    used, feeds = set(), []
    for placeholder, array in list(step.feeds.items())[n_feeds:]:
        source = new_imports.get(placeholder)
        index = _position(dynamic, source if source is not None else array, used)
        if index is None:
            trace.valid = False  # fed from elsewhere than the arguments
            return
        used.add(index)
        feeds.append((placeholder, index, source is not None))
    fed = {index: placeholder for placeholder, index, _ in feeds}
    inputs = []
    for index, leaf in enumerate(dynamic):
        if isinstance(leaf, EagerTensor):
            if index in fed:
                inputs.append(("import", fed[index], None))
            elif leaf.step is step or leaf in step.imported:
                inputs.append(("tensor", step.resolve(leaf), None))
            else:
                inputs.append(("unused", None, None))
        elif isinstance(leaf, np.ndarray):
            if index not in fed:
                trace.valid = False  # an array the call did not feed (used by its Python): not comparable
                return
            inputs.append(("array", fed[index], _array_type(leaf)))
        else:  # an eager variable or a graph tensor: the same object
            inputs.append(("object", leaf, None))
    try:
        result = _unwrapped(raw, step)
    except ValueError:
        trace.valid = False  # an eager value of another step among the results
        return
    changed = [(v, t) for v, t in step.current.items() if current.get(v) is not t]
    trace.events.append(Entry(sig, inputs, feeds, changed, list(step.variable_refs.items())[n_refs:],
                              step.pending_effects[n_effects:], result, len(step.raw_graph._ops)))


def _unwrapped(result, step):
    """A call's result with its eager tensors (a compound call's inner calls return them) as graph tensors."""
    if isinstance(result, EagerTensor):
        if result.step is not step:
            raise ValueError("an eager tensor of another step")
        return result.graph_tensor
    if isinstance(result, (list, tuple)) and not hasattr(result, "_fields"):
        return type(result)(_unwrapped(r, step) for r in result)
    if isinstance(result, dict):
        return {k: _unwrapped(v, step) for k, v in result.items()}
    return result


def _position(dynamic: list, value, used: set):
    for index, leaf in enumerate(dynamic):
        if leaf is value and index not in used:
            return index
    return None


def snapshot(step) -> tuple:
    """What `record` compares with after the call."""
    return (len(step.feeds), len(step.imported), len(step.variable_refs), len(step.pending_effects),
            dict(step.current), step.context.created_variables, step.trace.runs)


def template_key(sig, dynamic: list):
    """The key a trace is kept under: its first call's signature and its arguments' types (a last, smaller
    batch is a trace of its own); None if not hashable."""
    types = tuple(_array_type(leaf) if isinstance(leaf, np.ndarray) else
                  (leaf.dtype, tuple(leaf.shape.as_list() or ())) if isinstance(leaf, EagerTensor) and
                  leaf.shape.ndims is not None else id(leaf) for leaf in dynamic)
    key = (sig, types)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def replayable(trace: Trace) -> bool:
    """Whether a closed step's trace can be a template: every call described, every op built by one,
    no graph collections (a divergence copies ops only), no control flow (whose function graphs
    capture tensors of the graph they belong to)."""
    entries = [e for e in trace.events if isinstance(e, Entry)]
    if not trace.valid or not entries or entries[-1].ops_end != len(trace.graph._ops) or trace.graph._collections:
        return False
    return not any(isinstance(v, Graph) for op in trace.graph._ops for v in op.attrs.values())


class Replay:
    """A step replaying a template trace: the position reached, matching each call and run against it."""

    __slots__ = ("trace", "position", "ops_end")

    def __init__(self, trace: Trace):
        self.trace, self.position, self.ops_end = trace, 0, 0

    def call(self, step, sig, dynamic: list):
        """The recorded result of the call at this position if it matches (its additions applied to `step`),
        else None (nothing changed)."""
        events = self.trace.events
        if self.position >= len(events):
            return None
        entry = events[self.position]
        if not isinstance(entry, Entry) or len(entry.inputs) != len(dynamic) or not same(entry.signature, sig):
            return None
        imports, imported = {}, {}  # the values of the new imports; their placeholders (a tensor used twice)
        for leaf, (kind, recorded, array_type) in zip(dynamic, entry.inputs):
            if kind == "tensor":
                if not isinstance(leaf, EagerTensor):
                    return None
                resolved = step.resolve(leaf)
                if (resolved if resolved is not None else imported.get(leaf)) is not recorded:
                    return None
            elif kind == "array":
                if not isinstance(leaf, np.ndarray) or _array_type(leaf) != array_type:
                    return None
            elif kind == "object":
                if leaf is not recorded:
                    return None
            elif not isinstance(leaf, EagerTensor) or leaf.step is step or leaf in step.imported or leaf in imported:
                return None  # "import" or "unused": a tensor of another step not imported yet
            elif kind == "import":
                value = leaf.step.value_of(leaf.graph_tensor)
                if value.shape != tuple(recorded.shape.as_list()) or value.dtype != recorded.dtype.np_dtype:
                    return None
                imports[id(leaf)], imported[leaf] = value, recorded
        for placeholder, index, is_import in entry.feeds:
            leaf = dynamic[index]
            if is_import:
                step.imported[leaf] = placeholder
                step.feeds[placeholder] = imports[id(leaf)]
            else:
                step.feeds[placeholder] = leaf
        for variable, tensor in entry.refs:
            step.variable_refs[variable] = tensor
        for variable, tensor in entry.current:
            step.current[variable] = tensor
        step.pending_effects.extend(entry.effects)
        self.position += 1
        self.ops_end = entry.ops_end
        return entry

    def run_key(self, fetches: list):
        """The recorded key of a run fetching `fetches` at this position, or None if it is another run."""
        events = self.trace.events
        if self.position >= len(events):
            return None
        run = events[self.position]
        if not isinstance(run, Run) or len(run.fetches) != len(fetches) or \
                any(a is not b for a, b in zip(run.fetches, fetches)):
            return None
        self.position += 1
        return run.key


def copy_prefix(graph: Graph, n_ops: int):
    """A new graph of `graph`'s first `n_ops` ops (same names, attributes, shapes, control inputs), and the
    map of their tensors and ops (old -> new)."""
    copy = Graph()
    copy.seed = graph.seed
    mapping = {}
    for op in graph._ops[:n_ops]:
        new = copy.create_op(op.op_def, [mapping[t] for t in op.inputs], op.attrs, name=op.name + "/")
        new._control_inputs = [mapping[c] for c in op._control_inputs]
        new._device = op._device
        copy.mark_name_used(op.name)
        mapping[op] = new
        for old, tensor in zip(op.outputs, new.outputs):
            tensor._dims = old._dims
            mapping[old] = tensor
    return copy, mapping
