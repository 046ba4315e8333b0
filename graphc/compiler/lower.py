"""Lowering: one `Session.run` signature of a Graph -> a Program.

1. Prune: keep the ops the fetches need (data and control inputs), stopping at
   fed tensors. Inputs that are compile-time arguments (reshape's shape, a
   reduction's axes) and the inputs of shape-only ops (tf.shape) are evaluated
   statically instead (`frontend/static_value.py`).
2. Bind shapes: rerun every op's shape rule with the concrete feed shapes.
3. Order: a topological order of data and control edges, ties broken by
   creation order, plus two rules for state. As in TF1, whose reference
   variables share one buffer with the tensors that refer to them (the
   variable, `v.value()` and other Identities of it, an assignment's output),
   such a reference is read by the op that consumes it, when that op runs: an
   op reading a variable sees exactly the writes of it that the op depends on
   (through data or control edges: `with control_dependencies([assign]):
   tf.identity(v) * 1` sees the new value), and happens before every other
   write of it (so fetching `[train_op, loss]` gives the loss before the
   update). Where two ops each read what the other writes (`v := w` beside
   `w := v`), whichever runs second reads its variable before the first one's
   write, so the result does not depend on which is created first. And an op
   that may fail the run (a check_numerics, a label check:
   its registry effects say so) happens before every write it does not depend
   on, so a failed run leaves the variables as they were. Such an op that
   the step depends on only through shapes or other values known when
   compiling (a tf.Assert in control_dependencies of a loss the gradients
   read for its shape) still runs, as it would in TF1.
4. Emit IR by each op's registry role: a variable is read where a reference
   to it is used (one read serves the uses until the next write), a fetched
   reference at the end of the step, as TF1 copies it out after the run;
   assignments become `write`s of the value their `write_value` builds; fed
   tensors become `feed`s; compile-time values constants; random ops gain a
   state (`@rng:<op>`: run count and seeds, data rather than code); everything
   else maps one to one, but for float16 through an op whose code handles only
   the wider dtypes (MatMul, Conv2D, pooling, Softmax, random ops ...): its
   float16 operands are cast to float32, it runs in float32 and its result is
   cast back to half, as TF's CPU kernels for half compute (XLA's
   FloatNormalization). Here rather than in a pass: the reference interpreter
   runs the lowered program, so it computes exactly what the kernels do.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from graphc import errors
from graphc.core import dtypes, messages, registry
from graphc.core.registry import DTypeError, Role, ShapeError, TensorType
from graphc.core.rules import RejectedWhenRun
from graphc.core.tensor_shape import format_dims_as_list, is_fully_defined
from graphc.frontend.function_graph import FunctionGraph
from graphc.frontend.graph import Operation, Tensor, walk_ops
from graphc.frontend.reduced_fetch import ReducedFetch
from graphc.frontend.static_value import static_value
from graphc.ir.program import Instruction, IRType, Program, Region, Value, VarDecl, VarRef, walk



@dataclass(frozen=True)
class LoweredStep:
    """A Program and how it connects to the graph and the session."""

    program: Program
    feed_tensors: tuple          # graph tensors, in the order of the program's feed instructions
    fetch_slots: tuple           # per fetch: index into program.fetches, or None for an Operation
    variables: dict              # declared var name -> VariableV2 op (rng: the random op)
    requires_initialized: tuple  # variables read before the program writes them
    writes: tuple                # variables the program writes
    init_dependencies: tuple     # variables whose initialised state the step's program depends on
    # rng name -> the random op's first state, [0, seed, seed2] (registry.RNG_*), which the session creates
    initial_states: dict = field(default_factory=dict)


def rng_name(op: Operation) -> str:
    # The copies of a random op in an expanded loop share its first copy's state (ops/loop_expansion.py).
    return f"rng:{getattr(op, 'random_stream', None) or op.name}"


_NO_CHECKS: frozenset = frozenset()


def _may_fail(op: Operation) -> bool:
    """Whether running `op` can fail the run on bad values (see Effects.may_fail)."""
    op_def = op.op_def
    return bool(op_def.effects.may_fail) and bool(op.outputs) and op_def.may_fail(op.outputs[0].dtype)


def _refuse_string_ops(executed) -> None:
    """UnimplementedError naming the first op of a step that would compute with strings in native code.

    Strings live on the host (graphc/host_fetches.py); an op reading one here (`tf.strings.to_number`,
    a string variable's assign) has no native code. An op turning strings into numbers is named first.
    """
    readers = [op for op in executed if not op.op_def.shape_only_inputs
               and any(t.dtype is dtypes.string for t in op.inputs)]
    if readers:
        op = min(readers, key=lambda o: (any(t.dtype is dtypes.string for t in o.outputs), o._id))
        raise errors.UnimplementedError(
            None, op, messages.unsupported_string_op(op.type, op.name))


def _role(op: Operation) -> Role:
    return op.op_def.role


# Roles whose output is their (chosen) input itself: a reference to a variable stays one through them.
_PASSES_REFERENCE = (Role.FORWARD, Role.CHOOSE_INITIALIZED)


def lower(fetches, feed_types: dict, initialized=frozenset(), name: str = "step") -> LoweredStep:
    """Lowers `fetches` (Tensors, Operations and ReducedFetches of one graph) with `feed_types`.

    feed_types: Tensor -> IRType, in calling order. `initialized` names the
    variables the session has initialised (it decides `initialized_value()` and
    `is_variable_initialized`).
    """
    return _Lowering(fetches, feed_types, initialized).run(name)


class _Lowering:
    def __init__(self, fetches, feed_types, initialized):
        self.fetches = list(fetches)
        self.feed_types = dict(feed_types)
        self.fed = {id(t): t for t in feed_types}
        self.initialized = initialized
        self.init_dependencies: set[str] = set()
        self.types: dict[int, TensorType] = {}
        self.static_memo: dict = {}
        self.data_inputs: dict = {}  # op -> its run-time inputs (_data_inputs)
        self.upstream_checks: Optional[dict] = None  # op -> the checks it depends on (_checks_upstream)
        self.referenced: dict = {}   # id(tensor) -> the variable it refers to, or None (_referenced_variable)
        self.early_reads: dict = {}  # writer -> [(variable, reader)]: reads to emit before the writer (_schedule)
        self.early_values: dict = {}  # (reader, variable name) -> the value it reads, read before a write
        self.written_inside: dict = {}  # While/If -> the variables its functions assign (_written_inside)

    # -- 1 and 2: prune and bind shapes ---------------------------------------------------------

    def _dims_of(self, tensor):
        return self.types[id(tensor)].dims if id(tensor) in self.types else tensor._dims

    def _static(self, tensor, consumer: Operation, what: str):
        value = static_value(tensor, self._dims_of, self.static_memo)
        if value is None:
            raise errors.InvalidArgumentError(
                None, consumer, f"graphc needs the value of {tensor.name} ({what} of {consumer.name}) when "
                                "it compiles the step, but it depends on values known only at run time")
        return value

    def _roots(self):
        """The ops of the fetches (a fed tensor needs nothing)."""
        tensors_or_ops = [t.tensor if isinstance(t, ReducedFetch) else t for t in self.fetches]
        return [t.op if isinstance(t, Tensor) else t for t in tensors_or_ops
                if not (isinstance(t, Tensor) and id(t) in self.fed)]

    def _reachable(self):
        """All ops whose outputs or shapes the fetches need, in creation order."""
        seen = walk_ops(self._roots(), lambda op: [t.op for t in op.inputs if id(t) not in self.fed]
                        + self._control_inputs(op))
        return sorted(seen, key=lambda o: o._id)

    def _bind_shapes(self, ops):
        for t, ir_type in self.feed_types.items():
            self.types[id(t)] = TensorType(ir_type.dtype, ir_type.shape)
        for op in ops:
            op_def = op.op_def
            n_data = len(op.inputs) - len(op_def.static_inputs)
            attrs = dict(op.attrs)
            in_types = [self.types.get(id(t), TensorType(t.dtype, t._dims)) for t in op.inputs[:n_data]]
            for attr_name, t in zip(op_def.static_inputs, op.inputs[n_data:]):
                attrs[attr_name] = static_value(t, self._dims_of, self.static_memo)
            try:
                outs = (self._bind_control_flow(op, in_types) if op_def.role is Role.CONTROL_FLOW
                        else op_def.infer(in_types, attrs))
            except (ShapeError, DTypeError) as e:
                error_class = e.error_class if isinstance(e, RejectedWhenRun) else errors.InvalidArgumentError
                raise error_class(None, op, f"{e} for '{op.name}' (op: '{op.type}') with input shapes: "
                                            f"{registry.shapes_text(in_types)}.") from None
            outs = outs if isinstance(outs, list) else [outs]
            for t, out in zip(op.outputs, outs):
                if id(t) not in self.fed:
                    self.types[id(t)] = out

    def _bind_control_flow(self, op: Operation, in_types: list) -> list:
        """Binds the shapes in each function of a While or If to its op's input types; returns the op's
        output types. A loop variable must keep its shape (graphc's loop buffers have one), and both
        branches of a cond must give one shape."""
        yielded = {}
        for key in _functions(op):
            graph = op.attrs[key]
            arguments = {id(a) for a in graph.inputs}
            for argument, index in zip(graph.inputs, op.attrs[key + "_args"]):
                self.types[id(argument)] = in_types[index]
            ops = walk_ops([t.op for t in graph.outputs if id(t) not in arguments],
                           lambda o: [t.op for t in o.inputs if id(t) not in arguments] + o.control_inputs)
            self._bind_shapes(sorted(ops, key=lambda o: o._id))
            yielded[key] = [self.types.get(id(t), TensorType(t.dtype, t._dims)) for t in graph.outputs]
        if "body" in yielded:  # a While: its loop variables, the rows of those it saves and of its stashes
            carried = op.attrs["carried"]
            for t, before, after in zip(op.inputs[1:carried], in_types[1:carried], yielded["body"][1:]):
                if tuple(after.dims or ()) != tuple(before.dims or ()) or after.dims is None:
                    # tf.while_loop expands a loop whose shapes change when it can (ops/loop_expansion.py)
                    why = getattr(op, "expansion_refusal", None) or (
                        "graphc expands such a loop into copies of its body only where a loop variable's "
                        "shape_invariants leave open a size its first value has when the graph is built")
                    raise errors.UnimplementedError(
                        None, op, f"loop variable {t.name} of {op.name} enters the loop with shape "
                                  f"{format_dims_as_list(before.dims)} and has shape "
                                  f"{format_dims_as_list(after.dims)} after an iteration: a native loop keeps "
                                  f"each loop variable in one buffer of one shape, and {why}")
            outputs = list(in_types[:carried])
            rows = op.attrs["rows"]
            outputs += [TensorType(outputs[j].dtype, (rows,) + tuple(outputs[j].dims)) for j in op.attrs["saved"]]
            outputs += [TensorType(t.dtype, (rows,) + tuple(t.dims)) for t in yielded["body"][carried:len(_yielded(op))]]
            return outputs
        then_types, else_types = yielded["then"], yielded["else"]
        for t, a, b in zip(op.outputs, then_types, else_types):
            if a.dims != b.dims:
                raise errors.UnimplementedError(
                    None, op, f"the branches of {op.name} give {t.name} shapes {format_dims_as_list(a.dims)} and "
                              f"{format_dims_as_list(b.dims)}: graphc gives a cond's result one shape")
        return list(then_types)

    # -- 3: executed ops and their order ----------------------------------------------------------

    def _control_inputs(self, op: Operation) -> list:
        """The control inputs that must run: not an op whose outputs are all fed (a placeholder), whose
        value the feed already stands for (`tf.metrics.mean` of a placeholder depends on it so)."""
        return [c for c in op.control_inputs if not c.outputs or not all(id(t) in self.fed for t in c.outputs)]

    def _data_inputs(self, op: Operation):
        """Inputs whose values the op needs at run time (not static, not shape-only)."""
        inputs = self.data_inputs.get(op)
        if inputs is None:
            inputs = self.data_inputs[op] = self._find_data_inputs(op)
        return inputs

    def _find_data_inputs(self, op: Operation):
        op_def = op.op_def
        if op_def.role is Role.HOST:
            return []  # a host op (summary) reached by a control edge runs on the host, if fetched
        if op_def.shape_only_inputs or op_def.role is Role.STATIC:
            # Evaluated when compiling (tf.shape, BroadcastGradientArgs ...), not run. TF computes their inputs,
            # so the checks those depend on still run: a tf.Assert in control_dependencies of a loss that the
            # gradients read only for its shape fails the training step, as in TF.
            return self._checks_before(op.inputs)
        n_data = len(op.inputs) - len(op_def.static_inputs)
        inputs = list(op.inputs[:n_data])
        if op_def.static_inputs:  # known when compiling, as shapes are (above)
            data = {id(t) for t in inputs}
            return inputs + [t for t in self._checks_before(op.inputs[n_data:]) if id(t) not in data]
        if op_def.role is Role.CHOOSE_INITIALIZED:
            var_name = op.inputs[0].op.name
            self.init_dependencies.add(var_name)
            return inputs[:1] if var_name in self.initialized else inputs[1:]
        if op_def.role is Role.INITIALIZED:
            self.init_dependencies.add(op.inputs[0].op.name)
            return []  # it asks the session's state, not the variable's value
        return inputs

    def _checks_before(self, tensors) -> list:
        """The outputs of the ops that may fail that `tensors` depend on (themselves included), in creation
        order: what a step must run of them when it uses only their shapes or values known when compiling."""
        checks = set()
        for t in tensors:
            if id(t) not in self.fed:
                checks |= self._checks_upstream(t.op) | ({t.op} if _may_fail(t.op) else _NO_CHECKS)
        return [check.outputs[0] for check in sorted(checks, key=lambda o: o._id)]

    def _checks_upstream(self, op: Operation) -> frozenset:
        """The ops that may fail among those `op` depends on through data and control edges (not past fed
        tensors), found for every op at once, in creation order: an op's inputs exist before it."""
        if self.upstream_checks is None:
            self.upstream_checks = {}
            for other in self._reachable():
                found = set()
                for producer in [t.op for t in other.inputs if id(t) not in self.fed] + self._control_inputs(other):
                    found |= self.upstream_checks.get(producer, _NO_CHECKS)
                    if _may_fail(producer):
                        found.add(producer)
                self.upstream_checks[other] = frozenset(found) if found else _NO_CHECKS
        return self.upstream_checks.get(op, _NO_CHECKS)

    def _referenced_variable(self, tensor) -> Optional[Operation]:
        """The variable `tensor` refers to (TF1's reference: the variable's output, an Identity of a reference,
        an assignment's output, the chosen branch of `initialized_value()`), or None for any other value."""
        key = id(tensor)
        if key not in self.referenced:
            self.referenced[key] = self._find_referenced_variable(tensor)
        return self.referenced[key]

    def _find_referenced_variable(self, tensor) -> Optional[Operation]:
        while id(tensor) not in self.fed:
            role = _role(tensor.op)
            if role is Role.VARIABLE:
                return tensor.op
            if role is Role.ASSIGN:
                tensor = tensor.op.inputs[0]
            elif role in _PASSES_REFERENCE:
                tensor = self._data_inputs(tensor.op)[0]
            else:
                return None
        return self.referenced.get(id(tensor))  # a function's argument capturing a variable (_lower_function)

    def _written_inside(self, op: Operation) -> list:
        """The variables a While's or If's functions (at any depth) assign; [] for any other op."""
        if _role(op) is not Role.CONTROL_FLOW:
            return []
        if op not in self.written_inside:
            found = []
            for inner in _function_ops(op):
                for index in inner.op_def.written_inputs if _role(inner) is Role.ASSIGN else ():
                    var = self._outer_variable(inner.inputs[index], op.graph)
                    if var is not None and var not in found:
                        found.append(var)
            self.written_inside[op] = found
        return self.written_inside[op]

    def _outer_variable(self, tensor, home):
        """The variable a reference inside a function refers to, followed out through the captures to the
        graph `home` being lowered."""
        while tensor.graph is not home:
            if _role(tensor.op) in (Role.ASSIGN, Role.FORWARD):
                tensor = tensor.op.inputs[0]
            elif _role(tensor.op) is Role.VARIABLE:
                return tensor.op
            else:
                tensor = tensor.graph.captured_tensor(tensor)
                if tensor is None:
                    return None
        return self._referenced_variable(tensor)

    def _executed(self):
        """The ops that run: reached through run-time data inputs and control inputs."""
        return walk_ops(self._roots(), lambda op: [t.op for t in self._data_inputs(op) if id(t) not in self.fed]
                        + self._control_inputs(op))

    def _schedule(self, executed):
        deps = {op: set() for op in executed}
        for op in executed:
            for t in self._data_inputs(op):
                if id(t) not in self.fed and t.op in executed:
                    deps[op].add(t.op)
            deps[op].update(c for c in self._control_inputs(op) if c in executed)
        readers: dict[Operation, list] = {}
        writers: dict[Operation, list] = {}
        for op in executed:
            if _role(op) in _PASSES_REFERENCE:
                continue  # its consumers read the variable, when they run
            for i, t in enumerate(self._data_inputs(op)):
                var = self._referenced_variable(t)
                if var is not None:
                    written = _role(op) is Role.ASSIGN and i in op.op_def.written_inputs
                    (writers if written else readers).setdefault(var, []).append(op)
            for var in self._written_inside(op):  # a loop or cond assigning in its functions writes too
                writers.setdefault(var, []).append(op)
        checks = [op for op in executed if _may_fail(op)]
        # An op that neither writes nor depends on a write reaches no writer, now or after the edges
        # below are added (they only give writers more dependencies): it needs no search. Creation
        # order is a topological order: an op's inputs and control inputs exist before it.
        all_writers = {writer for var_writers in writers.values() for writer in var_writers}
        touches_write = set()
        for op in sorted(executed, key=lambda o: o._id):
            if op in all_writers or not deps[op].isdisjoint(touches_write):
                touches_write.add(op)
        depends = {op: set(d) for op, d in deps.items()}  # data and control edges only
        for var, var_writers in writers.items():
            var_readers = readers.get(var, [])
            for reader in var_readers + checks:
                for writer in var_writers:
                    if reader is writer or (reader in touches_write and _reaches(depends, reader, writer)):
                        continue  # the reader sees the write it depends on
                    if not _reaches(deps, reader, writer):
                        deps[writer].add(reader)
                    elif reader in var_readers:
                        # Ops that read what the other writes (v := w beside w := v): whichever runs first,
                        # the other reads its variable before that op's write, not after.
                        self.early_reads.setdefault(writer, []).append((var, reader))
        users: dict[Operation, list] = {op: [] for op in executed}
        pending = {op: len(d) for op, d in deps.items()}
        for op, d in deps.items():
            for producer in d:
                users[producer].append(op)
        ready = [(op._id, op) for op, n in pending.items() if n == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            _, op = heapq.heappop(ready)
            order.append(op)
            for user in users[op]:
                pending[user] -= 1
                if pending[user] == 0:
                    heapq.heappush(ready, (user._id, user))
        if len(order) != len(executed):
            stuck = sorted((op for op in executed if op not in order), key=lambda o: o._id)
            raise errors.InvalidArgumentError(
                None, stuck[0], "graphc cannot order the reads and writes of variables in this step "
                                f"(a cycle through {', '.join(o.name for o in stuck[:5])})")
        return order

    # -- 4: emit -------------------------------------------------------------------------------

    def run(self, name: str) -> LoweredStep:
        self._bind_shapes(self._reachable())
        executed = self._executed()
        _refuse_string_ops(executed)  # before the placeholders: strings fed never reach the compiled step
        for op in executed:
            if _role(op) is Role.PLACEHOLDER:
                t = op.outputs[0]
                raise errors.InvalidArgumentError(
                    None, op, messages.unfed_placeholder(op.name, t.dtype.name, format_dims_as_list(t._dims)))
            if _role(op) is Role.INPUT and any(id(t) not in self.fed for t in op.outputs):  # the session feeds them
                raise errors.InternalError(None, op, f"{op.name} ({op.type}) reached the compiled step unfed: "
                                                     "its values come from the session's input pipeline")
        order = self._schedule(executed)
        self.instructions: list[Instruction] = []
        self.declared: dict[str, VarDecl] = {}
        self.var_ops: dict[str, Operation] = {}
        self.env: dict[int, Value] = {}
        self.widened: dict[int, Value] = {}  # a float16 value's id -> its cast to float32
        self.next_id = 0
        feed_tensors = tuple(self.feed_types)
        for t in feed_tensors:
            self.env[id(t)] = self._emit("feed", [], {"tensor": t.name}, self._ir_type(t), t.op.name)
        self.current: dict[str, Value] = {}  # variable name -> its value since the last write, once read
        for op in order:
            self._lower_op(op)
        fetch_values, slots = [], []
        for t in self.fetches:
            if isinstance(t, Operation):
                slots.append(None)
                continue
            if isinstance(t, ReducedFetch):  # a statistic the step computes of the tensor, for the host
                value = self._emit_inferred(t.reduction, [self._value(t.tensor, t.tensor.op)], t.tensor.op, {})
            else:
                value = self._value(t, t.op)
            if value not in fetch_values:
                fetch_values.append(value)
            slots.append(fetch_values.index(value))
        program = Program(name, tuple(self.declared.values()), tuple(self.instructions), tuple(fetch_values),
                          self.next_id)
        first_read, writes = {}, []
        for inst in walk(program.instructions):
            if inst.op == "write":
                first_read.setdefault(inst.operands[0].name, False)
                if inst.operands[0].name not in writes:
                    writes.append(inst.operands[0].name)
            elif inst.op == "read":
                first_read.setdefault(inst.operands[0].name, True)
        requires = tuple(n for n, read_first in first_read.items() if read_first and self.declared[n].kind == "var")
        initial_states = {name: _initial_rng_state(self.var_ops[name]) for name, decl in self.declared.items()
                          if decl.kind == "rng"}
        return LoweredStep(program, feed_tensors, tuple(slots), dict(self.var_ops), requires, tuple(writes),
                           tuple(sorted(self.init_dependencies)), initial_states)

    def _ir_type(self, tensor) -> IRType:
        t = self.types[id(tensor)]
        if t.dtype is dtypes.string:
            raise errors.UnimplementedError(
                None, tensor.op, f"graphc compiles no string tensors ({tensor.name}): strings live on the host "
                                 "(graphc/host_fetches.py)")
        if not is_fully_defined(t.dims):
            raise errors.InvalidArgumentError(
                None, tensor.op, f"graphc could not infer the full shape of {tensor.name} "
                                 f"(got {format_dims_as_list(t.dims)}); feed shapes must determine it")
        return IRType(t.dtype, tuple(t.dims))

    def _emit(self, op_name, operands, attrs, result_type: Optional[IRType], source) -> Optional[Value]:
        result = None
        if result_type is not None:
            result = Value(self.next_id, result_type)
            self.next_id += 1
        self.instructions.append(Instruction(op_name, result, tuple(operands), attrs, source))
        return result

    def _declare(self, op: Operation, kind="var") -> VarRef:
        name = op.name if kind == "var" else rng_name(op)
        if name not in self.declared:
            if kind == "var":
                t = op.outputs[0]
                decl_type = IRType(t.dtype, tuple(t._dims))
            else:
                decl_type = IRType(dtypes.int64, (registry.RNG_STATE_SIZE,))  # the op's run count and seeds
            self.declared[name] = VarDecl(name, decl_type, kind)
            self.var_ops[name] = op
        return VarRef(name)

    def _value(self, tensor, consumer) -> Value:
        """The IR value of `tensor` as `consumer` uses it; a reference to a variable reads it here."""
        if id(tensor) in self.env:
            return self.env[id(tensor)]
        var = self._referenced_variable(tensor)
        if var is not None:
            early = self.early_values.get((consumer, var.name))
            return early if early is not None else self._read(var, tensor.op)
        if _role(tensor.op) is Role.HOST:
            raise errors.UnimplementedError(
                None, consumer, f"{tensor.name} is computed on the host after the compiled step (a summary, or "
                                f"a one-argument tf.where, whose shape depends on values): it can be fetched, but "
                                f"{consumer.name} cannot use it")
        raise AssertionError(f"{tensor.name} used by {consumer.name} before it was lowered")

    def _read(self, var: Operation, reference: Operation) -> Value:
        """The variable's current value: the read (or the value written) since its last write, else a new
        read, named after the op whose output refers to the variable (`w/read`)."""
        ref = self._declare(var)
        if ref.name not in self.current:
            self.current[ref.name] = self._emit("read", [ref], {}, self.declared[ref.name].type, reference.name)
        return self.current[ref.name]

    def _constant(self, op, tensor, value):
        value = np.asarray(value, dtype=tensor.dtype.np_dtype)
        value.flags.writeable = False
        self.env[id(tensor)] = self._emit("constant", [], {"value": value}, self._ir_type(tensor), op.name)

    def _lower_op(self, op: Operation):
        for var, reader in self.early_reads.get(op, []):
            self.early_values[(reader, var.name)] = self._read(var, reader)
        role = _role(op)
        if role in (Role.VARIABLE, Role.CONTROL, Role.HOST, Role.INPUT):
            return  # storage, ordering only, finished on the host, or run on the host before the step
        if role is Role.CONSTANT:
            self._constant(op, op.outputs[0], op.attrs["value"])
        elif role in _PASSES_REFERENCE:
            if self._referenced_variable(op.outputs[0]) is None:  # a reference is read by its consumers
                self.env[id(op.outputs[0])] = self._value(self._data_inputs(op)[0], op)
        elif role is Role.ASSIGN:
            self._lower_write(op)
        elif role is Role.STATIC:
            for i, t in enumerate(op.outputs):
                self._constant(op, t, self._static(t, op, f"output {i}"))
        elif role is Role.INITIALIZED:
            self._constant(op, op.outputs[0], op.inputs[0].op.name in self.initialized)
        elif role is Role.COMPUTE:
            self._lower_compute(op)
        elif role is Role.CONTROL_FLOW:
            self._lower_control_flow(op)
        else:
            raise errors.UnimplementedError(None, op, f"graphc cannot compile op {op.name} of type {op.type}")

    def _lower_compute(self, op: Operation):
        op_def = op.op_def
        in_float32 = op_def.computes_half_in_float32()
        for t in list(op.inputs) + list(op.outputs):
            if not op_def.compiles_for(t.dtype) and not (in_float32 and t.dtype is dtypes.float16):
                raise errors.UnimplementedError(
                    None, op, f"graphc has no code for {op.type} on {t.dtype.name} ('{op.name}'); TensorFlow has "
                              f"a kernel for it")
        n_data = len(op.inputs) - len(op_def.static_inputs)
        operands = [self._value(t, op) for t in op.inputs[:n_data]]
        attrs = dict(op.attrs)
        for attr_name, t in zip(op_def.static_inputs, op.inputs[n_data:]):
            attrs[attr_name] = _canonical(self._static(t, op, f"input '{attr_name}'"))
        result_type = self._ir_type(op.outputs[0])
        if in_float32:
            # The kernels never see half: the reference interpreter runs this same program, so the oracle
            # computes in float32 and rounds to half exactly as the compiled step does.
            operands = [self._widened(v, op) for v in operands]
            attrs = {k: dtypes.float32 if v is dtypes.float16 else v for k, v in attrs.items()}
        if op_def.effects.random:
            # Its seeds are in its state (`_initial_rng_state`), not in the code: otherwise every process
            # would compile a new library for ops without a seed, which draw new seeds in each.
            del attrs["seed"], attrs["seed2"]
            operands = [self._declare(op, "rng")] + operands
        if result_type.dtype is dtypes.float16 and in_float32:
            wide = self._emit(op_def.name, operands, attrs, IRType(dtypes.float32, result_type.shape), op.name)
            result = self._emit("cast", [wide], {"dtype": dtypes.float16}, result_type, op.name)
        else:
            result = self._emit(op_def.name, operands, attrs, result_type, op.name)
        self.env[id(op.outputs[0])] = result

    def _lower_control_flow(self, op: Operation):
        """A While or If: one structured instruction whose regions are its functions, lowered each as a
        step of its own whose feeds are the instruction's `param`s (ir/program.py)."""
        operands = [self._value(t, op) for t in op.inputs]
        regions = [self._lower_function(key, op, operands) for key in _functions(op)]
        outputs = []
        for t in op.outputs:
            outputs.append(Value(self.next_id, self._ir_type(t)))
            self.next_id += 1
            self.env[id(t)] = outputs[-1]
        attrs = {}
        if "carried" in op.attrs:
            attrs["carried"] = op.attrs["carried"]
            if op.attrs["saved"]:
                attrs["saved"], attrs["rows"] = op.attrs["saved"], op.attrs["rows"]
            stashed = len(_yielded(op)) - op.attrs["carried"]
            if stashed:
                attrs["stashed"], attrs["rows"] = stashed, op.attrs["rows"]
        self.instructions.append(Instruction(op.op_def.name, None, tuple(operands), attrs, op.name,
                                             regions=tuple(regions), outputs=tuple(outputs)))
        for var in self._written_inside(op):  # read again after the instruction, which writes it
            self.current.pop(var.name, None)

    def _lower_function(self, key: str, op: Operation, operands: list) -> Region:
        graph = op.attrs[key]
        yielded = _yielded(op) if key == "body" else graph.outputs
        child = _Lowering(yielded, {}, self.initialized)
        child.fed = {id(a): a for a in graph.inputs}
        child.types, child.static_memo, child.init_dependencies = self.types, self.static_memo, self.init_dependencies
        child.instructions, child.declared, child.var_ops = [], self.declared, self.var_ops
        child.env, child.widened, child.current = {}, {}, {}
        child.next_id = self.next_id
        written = self._written_inside(op)
        for argument, index in zip(graph.inputs, op.attrs[key + "_args"]):
            captures_written = written and graph.captured_tensor(argument) is not None
            var = self._referenced_variable(op.inputs[index]) if captures_written else None
            if var is not None and var in written:  # read (and written) inside, as each iteration runs
                child.referenced[id(argument)] = var
                continue
            child.env[id(argument)] = child._emit("param", [], {"index": index}, operands[index].type,
                                                  argument.op.name)
        executed = child._executed()
        _refuse_string_ops(executed)
        for inner in child._schedule(executed):
            child._lower_op(inner)
        results = [child._value(t, op) for t in yielded]
        self.next_id = child.next_id
        return Region(key, tuple(child.instructions), tuple(results))

    def _widened(self, value: Value, consumer: Operation) -> Value:
        """`value` cast to float32 if it is float16 (one cast per value, whatever its consumers)."""
        if value.type.dtype is not dtypes.float16:
            return value
        if value.id not in self.widened:
            self.widened[value.id] = self._emit("cast", [value], {"dtype": dtypes.float32},
                                                IRType(dtypes.float32, value.type.shape), consumer.name)
        return self.widened[value.id]

    def _lower_write(self, op: Operation):
        """Writes of the variables of op's written inputs (its first), with the values its `write_value`
        builds."""
        written = op.op_def.written_inputs
        refs = []
        for index in written:
            ref_tensor = op.inputs[index]
            # a variable, or inside a loop or cond the argument capturing one (_lower_function)
            var = ref_tensor.op if _role(ref_tensor.op) is Role.VARIABLE else (
                self.referenced.get(id(ref_tensor)) if id(ref_tensor) in self.fed else None)
            if var is None:
                raise errors.InvalidArgumentError(
                    None, op, f"{op.name}: input {index} of {op.type} must be a variable")
            refs.append(self._declare(var))
        n_data = len(op.inputs) - len(op.op_def.static_inputs)
        operands = [self._value(t, op) for i, t in enumerate(op.inputs[:n_data]) if i not in written]

        def emit(op_name, inputs, attrs=None):
            return self._emit_inferred(op_name, inputs, op, attrs or {})

        def read(k=0):
            return self._emit("read", [refs[k]], {}, self.declared[refs[k].name].type, op.name)

        new_values = op.op_def.write_value(emit, read, *operands)
        for ref, new_value in zip(refs, new_values if len(refs) > 1 else [new_values]):
            var_type = self.declared[ref.name].type
            if new_value.type != var_type:
                raise errors.InvalidArgumentError(
                    None, op, f"{op.type} requires shapes of both tensors to match. lhs shape= "
                              f"{list(var_type.shape)} rhs shape= {list(new_value.type.shape)}")
            self._emit("write", [ref, new_value], {}, None, op.name)
            self.current[ref.name] = new_value  # the references now hold it (the op's output: the first)

    def _emit_inferred(self, op_name: str, operands: list, op: Operation, attrs: dict) -> Value:
        """An instruction of `op` whose result type is what `op_name`'s shape rule gives."""
        in_types = [TensorType(v.type.dtype, v.type.shape) for v in operands]
        try:
            result = registry.get(op_name).infer(in_types, attrs)
        except (ShapeError, DTypeError) as e:
            raise errors.InvalidArgumentError(
                None, op, f"{e} for '{op.name}' (op: '{op.type}') with input shapes: "
                          f"{registry.shapes_text(in_types)}.") from None
        return self._emit(op_name, operands, attrs, IRType(result.dtype, tuple(result.dims)), op.name)


def _yielded(op: Operation) -> list:
    """What a While's body yields: its loop variables' next values, then the values the op stashes. A copy
    of the op (a cond's gradient replays its branch) shares the body, which a later gradient may have
    given more stashes (ops/control_flow_ops.py `_stash`): the op's outputs say how many are its own."""
    return op.attrs["body"].outputs[:len(op.outputs) - len(op.attrs["saved"])]


def _functions(op: Operation) -> list:
    """The attrs of a control-flow op holding its functions, in region order (cond, body; then, else)."""
    return [key for key, value in op.attrs.items() if isinstance(value, FunctionGraph)]


def _function_ops(op: Operation):
    """The ops of a While's or If's functions, and of the functions of those, at any depth."""
    for key in _functions(op):
        for inner in op.attrs[key].get_operations():
            yield inner
            if _role(inner) is Role.CONTROL_FLOW:
                yield from _function_ops(inner)


def _initial_rng_state(op: Operation) -> np.ndarray:
    """A random op's state before its first run: run count 0, and its seeds."""
    state = np.zeros(registry.RNG_STATE_SIZE, dtype=np.int64)
    state[registry.RNG_SEED], state[registry.RNG_SEED2] = op.attrs["seed"], op.attrs["seed2"]
    return state


def _reaches(deps, start, target) -> bool:
    """Whether `target` is among the (transitive) dependencies of `start`."""
    seen, stack = set(), [start]
    while stack:
        op = stack.pop()
        if op is target:
            return True
        if op in seen:
            continue
        seen.add(op)
        stack.extend(deps[op])
    return False


def _canonical(value):
    """A compile-time argument as a plain Python value for IR attributes."""
    array = np.asarray(value)
    if array.dtype.kind in "iu":
        return int(array) if array.ndim == 0 else tuple(int(v) for v in array.reshape(-1))
    if array.dtype.kind == "f":
        return float(array) if array.ndim == 0 else tuple(float(v) for v in array.reshape(-1))
    if array.dtype.kind == "b":
        return bool(array) if array.ndim == 0 else tuple(bool(v) for v in array.reshape(-1))
    raise TypeError(f"unsupported compile-time argument {value!r}")
