"""Graph, Operation and Tensor with TF1's names and behaviour.

A Graph is a list of Operations, each with input Tensors, attributes and output
Tensors. Names follow TF1 exactly: `name:index` for tensors, names uniqued
case-insensitively (`answer`, `answer_1`), name scopes as `/`-separated
prefixes. Static shapes and dtypes are inferred as ops are created, from the
op registry's rules, so shape errors surface as `ValueError` while building.
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Iterable, Optional

import numpy as np

from graphc import errors
from graphc.core import dtypes as dtypes_mod, registry
from graphc.core.registry import DTypeError, OpDef, ShapeError, TensorType
from graphc.core.rules import RejectedWhenRun
from graphc.core.tensor_shape import Dims, TensorShape, as_dims, format_dims, merge_dims
from graphc.frontend.constants import const_p, make_constant_array
from graphc.frontend.default_session import session_for
from graphc.frontend.default_stack import DefaultStack
from graphc.frontend.device_spec import DeviceSpec, merge_device
from graphc.frontend.graph_def import graph_def
from graphc.frontend.static_value import static_shape_value

_VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
_VALID_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")


class GraphKeys:
    """Standard collection names, as in TF1."""

    GLOBAL_VARIABLES = "variables"
    VARIABLES = GLOBAL_VARIABLES
    LOCAL_VARIABLES = "local_variables"
    METRIC_VARIABLES = "metric_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    GLOBAL_STEP = "global_step"
    TRAIN_OP = "train_op"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    REGULARIZATION_LOSSES = "regularization_losses"
    INIT_OP = "init_op"
    SAVERS = "savers"
    QUEUE_RUNNERS = "queue_runners"


class Tensor:
    """One output of an Operation: a symbolic value with a static dtype and shape."""

    # NumPy defers to Tensor's operators (`np.float32(2) * t` builds graph).
    __array_priority__ = 100

    def __init__(self, op: "Operation", value_index: int, dtype, dims: Dims):
        self._op = op
        self._value_index = value_index
        self._dtype = dtype
        self._dims = dims

    @property
    def op(self) -> "Operation":
        return self._op

    @property
    def value_index(self) -> int:
        return self._value_index

    @property
    def graph(self) -> "Graph":
        return self._op.graph

    @property
    def name(self) -> str:
        return f"{self._op.name}:{self._value_index}"

    @property
    def dtype(self):
        return self._dtype

    @property
    def device(self) -> str:
        """The device of the op that produces this tensor."""
        return self._op.device

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self._dims)

    def get_shape(self) -> TensorShape:
        return TensorShape(self._dims)

    def set_shape(self, shape) -> None:
        """Refines the static shape; raises ValueError if `shape` is incompatible."""
        merged = merge_dims(self._dims, as_dims(shape))
        if merged is not None and not isinstance(merged, tuple):
            raise ValueError(f"Tensor's shape {format_dims(self._dims)} is not compatible with "
                             f"supplied shape {TensorShape(shape)}")
        self._dims = merged

    def consumers(self) -> list:
        return [op for op in self.graph.get_operations() if any(t is self for t in op.inputs)]

    def eval(self, feed_dict=None, session=None):
        """Runs the default (or given) session to compute this tensor."""
        return session_for(session, self).run(self, feed_dict)

    def _as_graph_element(self):
        return self

    def __repr__(self) -> str:
        return f"<tf.Tensor '{self.name}' shape={format_dims(self._dims)} dtype={self._dtype.name}>"

    def __str__(self) -> str:
        return f'Tensor("{self.name}", shape={format_dims(self._dims)}, dtype={self._dtype.name})'

    # == and hash are Python's identity ones, as in TF1 (tf.equal compares elements):
    # tensors are feed_dict keys, and identity hashing is the fastest there is.

    def __bool__(self):
        raise TypeError("Using a `tf.Tensor` as a Python `bool` is not allowed. Use `if t is not None:` "
                        "instead of `if t:` to test if a tensor is defined.")

    def __iter__(self):
        raise TypeError("Tensor objects are only iterable when eager execution is enabled.")

    def __len__(self):
        raise TypeError(f"len is not well defined for symbolic Tensors ({self.name}). "
                        "Use t.shape[0] instead.")


class Operation:
    """A node of the graph: an op type from the registry, inputs, attributes, outputs."""

    def __init__(self, graph: "Graph", name: str, op_def: OpDef, inputs, attrs: dict,
                 output_types: list, control_inputs: list):
        self._graph = graph
        self._name = name
        self._op_def = op_def
        self._inputs = tuple(inputs)
        self._attrs = attrs
        self._control_inputs = list(control_inputs)
        self._device = ""
        self._id = len(graph._ops)
        self._outputs = tuple(Tensor(self, i, t.dtype, t.dims) for i, t in enumerate(output_types))
        # While tf.gradients runs this op's gradient rule: the inputs whose gradient nobody asked for (TF 2's
        # Operation.skip_input_indices), which a rule may leave as None.
        self.skip_input_indices = frozenset()

    @property
    def graph(self) -> "Graph":
        return self._graph

    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> str:
        return self._op_def.tf_type

    @property
    def op_def(self) -> OpDef:
        return self._op_def

    @property
    def inputs(self) -> tuple:
        return self._inputs

    @property
    def outputs(self) -> tuple:
        return self._outputs

    @property
    def control_inputs(self) -> list:
        return list(self._control_inputs)

    @property
    def device(self) -> str:
        """The device `tf.device` scopes asked for ("" for none), as TF1 records it in the NodeDef."""
        return self._device

    def _set_device(self, device) -> None:
        """Sets the requested device (a name, a DeviceSpec, or None for none): TF1's private API."""
        self._device = device.to_string() if isinstance(device, DeviceSpec) else (device or "")

    @property
    def attrs(self) -> dict:
        return self._attrs

    @property
    def node_def(self) -> dict:
        return {"name": self._name, "op": self.type,
                "input": [t.name for t in self._inputs] + ["^" + c.name for c in self._control_inputs],
                "device": self._device, "attr": dict(self._attrs)}

    def get_attr(self, name: str):
        try:
            return self._attrs[name]
        except KeyError:
            raise ValueError(f"Operation '{self._name}' has no attr named '{name}'.") from None

    def values(self) -> tuple:
        return self._outputs

    def run(self, feed_dict=None, session=None) -> None:
        """Runs this operation in the default (or given) session."""
        session_for(session, self).run(self, feed_dict)

    def _as_graph_element(self):
        return self

    def __repr__(self) -> str:
        return f"<tf.Operation '{self._name}' type={self.type}>"


class Graph:
    """A TF1 dataflow graph: operations, name scopes, collections, control dependencies."""

    def __init__(self):
        self._ops: list[Operation] = []
        self._ops_by_name: dict[str, Operation] = {}
        self._names_in_use: dict[str, int] = {}
        self._name_stack = ""
        self._collections: dict[str, list] = {}
        self._control_dependencies_stack: list = []
        self._device_stack: list = []  # tf.device scopes, outermost first: DeviceSpec, function or None
        self._finalized = False
        self._lock = threading.RLock()
        self.seed: Optional[int] = None
        # variable_scope state: the current scope, named variables, default-name counts.
        self._variable_scope = None
        self._variable_store: dict = {}
        self._variable_scope_counts: dict = {}

    # -- default graph ------------------------------------------------------------------

    def can_capture(self, element) -> bool:
        """Whether ops of this graph may take `element` (a tensor or op) as an input: it is this graph's
        (a function graph also takes those of the graphs enclosing it: frontend/function_graph.py)."""
        return element.graph is self

    def as_default(self):
        """Makes this the default graph inside the `with` block."""
        return _default_graphs.get_controller(self)

    # -- names ----------------------------------------------------------------------------

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """`name` inside the current scope, made unique as TF1 does (`add`, `add_1`)."""
        if self._name_stack:
            name = self._name_stack + "/" + name
        name_key = name.lower()
        i = self._names_in_use.get(name_key, 0)
        if mark_as_used:
            self._names_in_use[name_key] = i + 1
        if i > 0:
            base_key = name_key
            while name_key in self._names_in_use:
                name_key = f"{base_key}_{i}"
                i += 1
            if mark_as_used:
                self._names_in_use[name_key] = 1
            name = f"{name}_{i - 1}"
        return name

    def get_name_scope(self) -> str:
        return self._name_stack

    @contextlib.contextmanager
    def name_scope(self, name):
        """Opens a name scope; yields its prefix (`hidden1/`). A trailing `/` reuses a scope."""
        if name:
            pattern = _VALID_SCOPE_NAME if self._name_stack else _VALID_OP_NAME
            if not pattern.match(name):
                raise ValueError(f"'{name}' is not a valid scope name")
        old_stack = self._name_stack
        if not name:
            new_stack = ""
        elif name.endswith("/"):
            new_stack = name[:-1]
        else:
            new_stack = self.unique_name(name)
        self._name_stack = new_stack
        try:
            yield new_stack + "/" if new_stack else ""
        finally:
            self._name_stack = old_stack

    # -- operations ---------------------------------------------------------------------------

    def create_op(self, op_def: OpDef, inputs, attrs: Optional[dict] = None, name: Optional[str] = None) -> Operation:
        """Adds an op, inferring its output dtypes and shapes from the registry.

        `inputs` must already be Tensors of this graph. A `name` ending in `/`
        is used as is (TF1's convention for names taken from a name scope).
        """
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")
        attrs = dict(attrs or {})
        for t in inputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"Input to {op_def.tf_type} must be a Tensor, got {t!r}")
            if t.graph is not self:
                raise ValueError(f"Tensor {t} must be from the same graph as the op being created "
                                 f"({op_def.tf_type}).")
        with self._lock:
            if name and name.endswith("/"):
                name = name[:-1]
                if name in self._ops_by_name:
                    raise ValueError(f"Duplicate node name in graph: '{name}'")
            else:
                name = self.unique_name(name or op_def.graph_name)
            if not _VALID_OP_NAME.match(name):
                raise ValueError(f"'{name}' is not a valid node name")
            output_types = infer_output_types(op_def, inputs, attrs, name)
            op = Operation(self, name, op_def, inputs, attrs, output_types, self._current_control_inputs())
            self._apply_device_scopes(op)
            self._ops.append(op)
            self._ops_by_name[name] = op
        return op

    def mark_name_used(self, name: str) -> None:
        """Records `name` (an op named from outside, e.g. imported) and its scopes as used, so that ops named
        later are made unique against it."""
        parts = name.split("/")
        for end in range(1, len(parts) + 1):
            key = "/".join(parts[:end]).lower()
            self._names_in_use[key] = max(self._names_in_use.get(key, 0), 1)

    @contextlib.contextmanager
    def undone_on_error(self):
        """Ops, names and collections added inside are removed again if the block raises (an import that
        fails leaves the graph as it was)."""
        with self._lock:
            n_ops, names = len(self._ops), dict(self._names_in_use)
            collections = {key: list(items) for key, items in self._collections.items()}
            try:
                yield
            except BaseException:
                for op in self._ops[n_ops:]:
                    del self._ops_by_name[op.name]
                del self._ops[n_ops:]
                self._names_in_use, self._collections = names, collections
                raise

    def _current_control_inputs(self) -> list:
        result = []
        for controllers in self._control_dependencies_stack:
            if controllers is None:
                result = []
                continue
            for op in controllers:
                if op not in result:
                    result.append(op)
        return result

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs):
        """Ops created inside run after `control_inputs`; `None` clears outer ones."""
        entry = None
        if control_inputs is not None:
            entry = []
            for c in control_inputs:
                element = self.as_graph_element(c)
                entry.append(element.op if isinstance(element, Tensor) else element)
        self._control_dependencies_stack.append(entry)
        try:
            yield
        finally:
            self._control_dependencies_stack.pop()

    def get_operations(self) -> list:
        return list(self._ops)

    def get_operation_by_name(self, name: str) -> Operation:
        if not isinstance(name, str):
            raise TypeError(f"Operation names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=False, allow_operation=True)

    def get_tensor_by_name(self, name: str) -> Tensor:
        if not isinstance(name, str):
            raise TypeError(f"Tensor names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=True, allow_operation=False)

    def as_graph_element(self, obj, allow_tensor: bool = True, allow_operation: bool = True):
        """Resolves a Tensor, Operation, Variable or name to an element of this graph."""
        wanted = ("Tensor or Operation" if allow_tensor and allow_operation
                  else "Tensor" if allow_tensor else "Operation")
        if isinstance(obj, str):
            return self._element_by_name(obj, allow_tensor, allow_operation, wanted)
        if hasattr(obj, "_as_graph_element"):
            element = obj._as_graph_element()
            if (isinstance(element, Tensor) and allow_tensor) or (isinstance(element, Operation) and allow_operation):
                if element.graph is not self:
                    raise ValueError(f"{type(element).__name__} {element} is not an element of this graph.")
                return element
        raise TypeError(f"Can not convert a {type(obj).__name__} into a {wanted}.")

    def _element_by_name(self, name, allow_tensor, allow_operation, wanted):
        if ":" in name:
            if not allow_tensor:
                raise ValueError(f"Name {name!r} appears to refer to a Tensor, not a {wanted}.")
            op_name, _, index = name.rpartition(":")
            try:
                index = int(index)
            except ValueError:
                raise ValueError(f"The name {name!r} looks a like a Tensor name, but is not a valid one. "
                                 "Tensor names must be of the form \"<op_name>:<output_index>\".") from None
            if op_name not in self._ops_by_name:
                raise KeyError(f"The name {name!r} refers to a Tensor which does not exist. The operation, "
                               f"{op_name!r}, does not exist in the graph.")
            op = self._ops_by_name[op_name]
            if index >= len(op.outputs):
                raise KeyError(f"The name {name!r} refers to a Tensor which does not exist. The operation, "
                               f"{op_name!r}, exists but only has {len(op.outputs)} outputs.")
            return op.outputs[index]
        if name not in self._ops_by_name:
            raise KeyError(f"The name {name!r} refers to an Operation not in the graph.")
        if not allow_operation:
            raise ValueError(f"The name {name!r} refers to an Operation, not a {wanted}. Tensor names must be "
                             "of the form \"<op_name>:<output_index>\".")
        return self._ops_by_name[name]

    # -- collections ------------------------------------------------------------------------

    def add_to_collection(self, name: str, value) -> None:
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names, value) -> None:
        names = (names,) if isinstance(names, str) else list(dict.fromkeys(names))
        for name in names:
            self.add_to_collection(name, value)

    def get_collection_ref(self, name: str) -> list:
        return self._collections.setdefault(name, [])

    def get_collection(self, name: str, scope: Optional[str] = None) -> list:
        """A copy of the collection; with `scope`, items whose name matches it as a regex prefix."""
        items = self._collections.get(name, [])
        if scope is None:
            return list(items)
        pattern = re.compile(scope)
        return [item for item in items if hasattr(item, "name") and pattern.match(item.name)]

    def get_all_collection_keys(self) -> list:
        return [key for key, items in self._collections.items() if items]

    def clear_collection(self, name: str) -> None:
        self._collections.pop(name, None)

    # -- misc ---------------------------------------------------------------------------------

    def finalize(self) -> None:
        """Makes the graph read-only (TF1's `Graph.finalize`)."""
        self._finalized = True

    @property
    def finalized(self) -> bool:
        return self._finalized

    @property
    def version(self) -> int:
        return len(self._ops)

    def as_graph_def(self, from_version=None, add_shapes=False):
        """This graph as a TF1 GraphDef protobuf TensorFlow imports (needs the `tensorboard` extra; see
        graphc/frontend/graph_def.py).

        Output shapes are always included as `_output_shapes`; the arguments are accepted for TF1 compatibility.
        """
        return graph_def(self)

    @contextlib.contextmanager
    def device(self, device_name_or_function):
        """Ops created inside request a device, recorded as `op.device` (TF1's `Graph.device`).

        A name or DeviceSpec merges with the enclosing scopes' (its fields win);
        a function of the op gives the op's device itself; None clears the
        enclosing scopes. The session places every op on the host CPU, or
        refuses a device the host does not have (`graphc/placement.py`).
        """
        entry = device_name_or_function
        if isinstance(entry, str):
            entry = DeviceSpec.from_string(entry)
        elif not (entry is None or isinstance(entry, DeviceSpec) or callable(entry)):
            raise TypeError(f"tf.device takes a device name, a DeviceSpec, a function or None, not "
                            f"{type(entry).__name__}")
        self._device_stack.append(entry)
        try:
            yield
        finally:
            self._device_stack.pop()

    def _apply_device_scopes(self, op: Operation) -> None:
        """Applies the `tf.device` scopes to a new op, innermost first, as TF1 does: a function's result
        is completed by the name scopes around it; a None scope stops the outer ones."""
        for entry in reversed(self._device_stack):
            if entry is None:
                break
            if isinstance(entry, DeviceSpec):
                op._set_device(merge_device(entry, op.device))
            else:
                op._set_device(entry(op))

    def __repr__(self) -> str:
        return f"<graphc.Graph at {id(self):#x} with {len(self._ops)} ops>"


def infer_output_types(op_def: OpDef, inputs, attrs: dict, name: str) -> list:
    """Runs op_def's shape and dtype rule; turns rule errors into TF1's messages."""
    n_data = len(inputs) - len(op_def.static_inputs)
    rule_attrs = dict(attrs)
    memo: dict = {}
    for attr_name, t in zip(op_def.static_inputs, inputs[n_data:]):
        try:
            rule_attrs[attr_name] = static_shape_value(t, lambda x: x._dims, memo)
        except errors.OpError:  # a computation that fails (a division by zero) fails when the step runs
            rule_attrs[attr_name] = None
    in_types = [TensorType(t.dtype, t._dims) for t in inputs[:n_data]]
    try:
        result = op_def.infer(in_types, rule_attrs)
    except RejectedWhenRun as e:
        result = e.result  # TF1 fails only when the op runs; lowering the step raises it
    except ShapeError as e:
        raise ValueError(f"{e} for '{name}' (op: '{op_def.tf_type}') with input shapes: "
                         f"{registry.shapes_text(in_types)}.") from None
    except DTypeError as e:
        raise TypeError(f"{e} (op '{name}' of type {op_def.tf_type})") from None
    return list(result) if isinstance(result, (list, tuple)) else [result]


# -- the default graph ------------------------------------------------------------------------

_default_graphs = DefaultStack()
_global_default_graph: Optional[Graph] = None


def get_default_graph() -> Graph:
    """The innermost `as_default()` graph, else the global default graph."""
    global _global_default_graph
    graph = _default_graphs.get()
    if graph is not None:
        return graph
    if _global_default_graph is None:
        _global_default_graph = Graph()
    return _global_default_graph


def reset_default_graph() -> None:
    """Replaces the global default graph with a new, empty one."""
    global _global_default_graph
    if _default_graphs.stack:
        raise AssertionError("Do not use tf.reset_default_graph() to clear nested graphs. If you need a "
                             "cleared graph, exit the nesting and create a new graph.")
    _global_default_graph = Graph()


@contextlib.contextmanager
def name_scope(name, default_name=None, values=None):
    """TF1's `tf.name_scope(name, default_name=None, values=None)`.

    Opens the scope on the graph of `values` (made the default inside), else on
    the default graph; `default_name`, uniqued, is used when `name` is None.
    """
    graph = graph_of(values) if values else get_default_graph()
    with graph.as_default(), graph.name_scope(default_name if name is None else name) as scope:
        yield scope


def control_dependencies(control_inputs):
    """`tf.control_dependencies` on the default graph."""
    return get_default_graph().control_dependencies(control_inputs)


def graph_of(values: Iterable) -> Graph:
    """The graph of the tensors among `values` (all must agree), else the default graph."""
    graph, default = None, get_default_graph()
    for v in values:
        element = v._as_graph_element() if hasattr(v, "_as_graph_element") else None
        if isinstance(element, (Tensor, Operation)):
            if default.can_capture(element):
                # Inside a control-flow function (frontend/function_graph.py) tensors of the graphs
                # enclosing it are captured by the function: its ops go in the function.
                element_graph = default
            else:
                element_graph = element.graph
            if graph is None:
                graph = element_graph
            elif element_graph is not graph:
                raise ValueError(f"{v!r} must be from the same graph as the other inputs.")
    return graph if graph is not None else default


def walk_ops(roots, neighbors) -> set:
    """Every op reachable from `roots` by repeatedly following `neighbors(op)`."""
    seen, stack = set(), list(roots)
    while stack:
        op = stack.pop()
        if op not in seen:
            seen.add(op)
            stack.extend(neighbors(op))
    return seen


# -- constants and conversion to tensors ------------------------------------------------------------


def constant(value, dtype=None, shape=None, name="Const", verify_shape=False, graph=None):
    """`tf.constant`: a tensor with a fixed value."""
    array = make_constant_array(value, dtype, shape)
    if verify_shape and shape is not None and np.asarray(value).shape != tuple(as_dims(shape)):
        raise TypeError(f"Expected Tensor's shape: {tuple(as_dims(shape))}, got {np.asarray(value).shape}.")
    graph = graph or get_default_graph()
    op = graph.create_op(const_p, [], {"value": array}, name=name)
    return op.outputs[0]


_conversion_functions: list = []


def register_tensor_conversion_function(base_type, conversion_func) -> None:
    """Lets objects of `base_type` (Variable, say) be used wherever a Tensor is."""
    _conversion_functions.append((base_type, conversion_func))


def _converter(value):
    for base_type, func in _conversion_functions:
        if isinstance(value, base_type):
            return func
    return None


def is_tensor_like(value) -> bool:
    """Whether `value` is a Tensor or converts to one as a tensor (a Variable, say) rather than as a constant."""
    return isinstance(value, Tensor) or _converter(value) is not None


def convert_to_tensor(value, dtype=None, name=None, preferred_dtype=None, graph: Optional[Graph] = None):
    """A Tensor for `value`: itself, a Variable's value, or a new constant."""
    if dtype is not None:
        dtype = dtypes_mod.as_dtype(dtype)
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype is not dtype:
            raise ValueError(f"Tensor conversion requested dtype {dtype.name} for Tensor with dtype "
                             f"{value.dtype.name}: {value!r}")
        return value
    converter = _converter(value)
    if converter is not None:
        return converter(value, dtype=dtype, name=name)
    if isinstance(value, Operation):
        raise TypeError(f"Can't convert Operation '{value.name}' to Tensor (target dtype="
                        f"{dtype.name if dtype else None}, name={name!r})")
    if dtype is None and preferred_dtype is not None:
        try:
            return constant(value, dtype=preferred_dtype, name=name or "Const", graph=graph)
        except (TypeError, ValueError):
            pass
    return constant(value, dtype=dtype, name=name or "Const", graph=graph)


def apply_op(op_name: str, inputs, attrs: Optional[dict] = None, name: Optional[str] = None, dtype_hint=None):
    """Creates registry op `op_name` on the inputs' graph; returns its output(s).

    Python values among `inputs` become constants that take the dtype of the
    tensors beside them (or `dtype_hint`), as TF1 does for `x + 1`.
    """
    op_def = registry.get(op_name)
    graph = graph_of(inputs)
    if dtype_hint is None:
        for v in inputs:
            if is_tensor_like(v):
                dtype_hint = v.dtype
                break
    tensors = []
    for v in inputs:
        if is_tensor_like(v):
            tensors.append(convert_to_tensor(v))
        else:
            keeps_dtype = isinstance(v, np.ndarray) and dtype_hint is not None and v.dtype != dtype_hint.np_dtype
            tensors.append(convert_to_tensor(v, dtype=None if keeps_dtype else dtype_hint, graph=graph))
    op = graph.create_op(op_def, tensors, attrs, name=name)
    return op.outputs[0] if len(op.outputs) == 1 else op.outputs
