"""`tf.Variable` as in TF1: a VariableV2 op, its `Assign` initializer and `read` snapshot.

`tf.Variable(init, name='weights')` inside `name_scope('hidden1')` creates the
ops `hidden1/weights` (the variable), `hidden1/weights/Assign` (its
initializer) and `hidden1/weights/read` (the value other ops consume), and adds
the Variable to the GLOBAL_VARIABLES (and TRAINABLE_VARIABLES) collections.
"""

from __future__ import annotations

import contextlib

from graphc.core import dtypes
from graphc.core.registry import Role
from graphc.core.tensor_shape import TensorShape, format_dims, is_fully_defined
from graphc.frontend import operators
from graphc.frontend.default_session import session_for
from graphc.frontend.function_graph import outermost_graph
from graphc.frontend.graph import (GraphKeys, Tensor, convert_to_tensor, get_default_graph, graph_of,
                                   name_scope, register_tensor_conversion_function)
from graphc.ops import array_ops, layout_ops, state_ops


class Variable:
    """A mutable tensor that lives across `Session.run` calls."""

    def __init__(self, initial_value=None, trainable=True, collections=None, validate_shape=True,
                 caching_device=None, name=None, variable_def=None, dtype=None, expected_shape=None,
                 import_scope=None, constraint=None, use_resource=None):
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        init_from_fn = callable(initial_value)
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
        # A variable made inside a while_loop or cond function (an RNN cell's first call) lives in the
        # outermost graph, created once, as TF1 lifts it out of the control-flow context.
        default = get_default_graph()
        graph = outermost_graph(default) if init_from_fn else graph_of([initial_value])
        # Lifted out of a function, it takes the function's name scope (variable_scope reset it there).
        lifted = graph is not default and init_from_fn
        scope_of_function = default.get_name_scope() + "/" if default.get_name_scope() else ""
        with graph.as_default(), graph.name_scope(scope_of_function) if lifted else contextlib.nullcontext(), \
                name_scope(name, "Variable", [] if init_from_fn else [initial_value]) as scope:
            if init_from_fn:
                with name_scope("Initializer"):
                    initial_value = initial_value()
            self._initial_value = convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
            dims = self._initial_value.shape.as_tuple()
            if validate_shape and not is_fully_defined(dims):
                raise ValueError(f"initial_value must have a shape specified: {self._initial_value}")
            self._variable = graph.create_op(
                state_ops.variable_p, [], {"shape": dims, "dtype": self._initial_value.dtype}, name=scope).outputs[0]
            self._initializer_op = state_ops.assign(self._variable, self._initial_value,
                                                    validate_shape=validate_shape, name="Assign").op
            self._snapshot = array_ops.identity(self._variable, name="read")
        self._trainable = trainable
        self._constraint = constraint
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        collections = list(collections)
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        graph.add_to_collections(collections, self)

    @classmethod
    def from_graph(cls, variable: Tensor, initializer, snapshot: Tensor, initial_value: Tensor,
                   trainable: bool) -> "Variable":
        """The Variable made of ops already in a graph (an imported MetaGraphDef's VariableDef): the variable
        op's output, its Assign initializer, its `read` snapshot and its initial value. It joins no
        collection; the importer restores those."""
        self = cls.__new__(cls)
        self._variable, self._initializer_op, self._snapshot = variable, initializer, snapshot
        self._initial_value, self._trainable, self._constraint = initial_value, trainable, None
        return self

    # -- identity ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._variable.name

    @property
    def op(self):
        return self._variable.op

    @property
    def graph(self):
        return self._variable.graph

    @property
    def dtype(self):
        return self._variable.dtype

    @property
    def shape(self) -> TensorShape:
        return self._variable.shape

    def get_shape(self) -> TensorShape:
        return self._variable.shape

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def initializer(self):
        """The Assign op that sets the variable to its initial value."""
        return self._initializer_op

    @property
    def initial_value(self) -> Tensor:
        return self._initial_value

    @property
    def constraint(self):
        return self._constraint

    @property
    def device(self) -> str:
        """The device its `tf.device` scope requested ("" for none)."""
        return self._variable.device

    # -- values ------------------------------------------------------------------------

    def value(self) -> Tensor:
        """The `name/read` snapshot other ops consume."""
        return self._snapshot

    def read_value(self) -> Tensor:
        """A new read of the variable, ordered by the control dependencies in scope."""
        return array_ops.identity(self._variable, name="read")

    def initialized_value(self) -> Tensor:
        """The value if initialised, else the initial value: for initialising other variables."""
        with self.graph.control_dependencies(None):
            return state_ops.initialized_value(self._variable, self._initial_value)

    def is_initialized(self, name=None) -> Tensor:
        """A bool scalar: whether the variable is initialised when the step runs."""
        return state_ops.is_variable_initialized(self._variable, name=name)

    def assign(self, value, use_locking=False, name=None, read_value=True):
        return state_ops.assign(self._variable, value, use_locking=use_locking, name=name)

    def assign_add(self, delta, use_locking=False, name=None, read_value=True):
        return state_ops.assign_add(self._variable, delta, use_locking=use_locking, name=name)

    def assign_sub(self, delta, use_locking=False, name=None, read_value=True):
        return state_ops.assign_sub(self._variable, delta, use_locking=use_locking, name=name)

    def eval(self, session=None):
        """The variable's current value in `session` (default: the default session)."""
        return self._variable.eval(session=session)

    def load(self, value, session=None):
        """Sets the value by running the initializer with its initial value fed."""
        session_for(session, self._variable).run(self._initializer_op, {self._initial_value: value})

    def _as_graph_element(self):
        return self._variable

    def _ref(self) -> Tensor:
        return self._variable

    def __repr__(self) -> str:
        return (f"<tf.Variable '{self.name}' shape={format_dims(self.shape.as_tuple())} "
                f"dtype={self.dtype.name}_ref>")

    def __bool__(self):
        raise TypeError("Using a `tf.Variable` as a Python `bool` is not allowed.")


def _operator_of_value(spelling: str):
    """Variables take part in arithmetic (and slicing) through their value, as in TF1."""
    def method(self, *args):
        return getattr(Tensor, spelling)(self.value(), *args)
    return method


operators.install(Variable, _operator_of_value)


def _variable_to_tensor(variable, dtype=None, name=None):
    if dtype is not None and dtypes.as_dtype(dtype) is not variable.dtype:
        raise ValueError(f"Incompatible type conversion requested to type '{dtypes.as_dtype(dtype).name}' for variable of "
                         f"type '{variable.dtype.name}'")
    return variable.value()


register_tensor_conversion_function(Variable, _variable_to_tensor)


# -- collections of variables ------------------------------------------------------------


def global_variables(scope=None) -> list:
    """`tf.global_variables`: variables in GLOBAL_VARIABLES, filtered by a scope regex."""
    return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


def trainable_variables(scope=None) -> list:
    return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope=None) -> list:
    return get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def variables_initializer(var_list, name="init"):
    """An op that runs the initializers of `var_list`."""
    if var_list:
        return state_ops.group(*[v.initializer for v in var_list], name=name)
    return state_ops.no_op(name=name)


def global_variables_initializer():
    """`tf.global_variables_initializer`: initialises every global variable."""
    return variables_initializer(global_variables())


def local_variables_initializer():
    return variables_initializer(local_variables(), name="init")


initialize_all_variables = global_variables_initializer
initialize_variables = variables_initializer  # TF1's deprecated name, used by the Variables guide


# -- initialisation checks ----------------------------------------------------------------


def _variables_in_graph() -> list:
    """The variable references of the default graph's variable ops: TF1's fallback for old-style variables."""
    return [op.outputs[0] for op in get_default_graph().get_operations() if op.op_def.role is Role.VARIABLE]


def report_uninitialized_variables(var_list=None, name="report_uninitialized_variables"):
    """`tf.report_uninitialized_variables`: when run, the names (bytes) of the uninitialised variables.

    `var_list` (Variables or their references) defaults to the global and
    local variables, else every variable op of the graph. Its value is what
    TF1 fetches: a 1-D object array of bytes, empty when all are initialised.
    """
    if var_list is None:
        var_list = global_variables() + local_variables() or _variables_in_graph()
    var_list = list(var_list)
    graph = graph_of(var_list)
    with graph.as_default(), name_scope(name) as scope:
        flags = [state_ops.is_variable_initialized(v) for v in var_list]
        with graph.device("/cpu:0"):  # as TF1 places it
            return state_ops.report_uninitialized(flags, [v.op.name for v in var_list], scope)


def assert_variables_initialized(var_list=None):
    """`tf.assert_variables_initialized`: an int32 tensor (each variable's rank, stacked when several) whose
    run fails with FailedPreconditionError naming the first uninitialised variable, as TF1's does.

    `var_list` defaults to the global and local variables; an empty one means
    every variable op of the graph; None when there are none.
    """
    if var_list is None:
        var_list = global_variables() + local_variables()
    var_list = list(var_list) or _variables_in_graph()
    if not var_list:
        return None
    ranks = []
    for v in var_list:
        # TF1 evaluates Rank(v) without folding it, so it reads the variable; a rank folds to a constant
        # in graphc, so the read comes from a reshape the rank depends on.
        with v.graph.control_dependencies([array_ops.reshape(v, [-1])]):
            ranks.append(array_ops.rank(v))
    return ranks[0] if len(ranks) == 1 else layout_ops.stack(ranks)
