"""State: variables, assignments, grouping, and the IR's `feed`/`read`/`write`.

In graphs, state looks as in TF1: a `VariableV2` op whose output refers to the
variable, `Assign`/`AssignAdd`/`AssignSub`/`ApplyGradientDescent` ops that take
that reference, `NoOp` for `tf.group`. Lowering rewrites them into three IR
instructions with explicit order: `%v = read @var`, `write @var, %value`, and
`%x = feed "name:0"` for fed tensors.
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.core import dtypes, registry
from graphc.core.registry import NOT_DIFFERENTIABLE, Effects, OpDef, Role, ShapeError, TensorType
from graphc.core.tensor_shape import dims_compatible, format_dims
from graphc.frontend.graph import Tensor, apply_op, get_default_graph, graph_of, name_scope

# -- graph ops ------------------------------------------------------------------------

variable_p = registry.register(OpDef(
    name="variable", tf_type="VariableV2", role=Role.VARIABLE, gradient=NOT_DIFFERENTIABLE,
    infer=lambda types, attrs: TensorType(attrs["dtype"], attrs["shape"])))


def _assign_infer(types, attrs):
    ref, value = types
    if ref.dtype is not value.dtype:
        raise registry.DTypeError(f"Input 'value' has type {value.dtype.name} that does not match type "
                                  f"{ref.dtype.name} of argument 'ref'")
    if attrs.get("validate_shape", True) and not dims_compatible(ref.dims, value.dims):
        raise ShapeError(f"Shapes must be equal, but are {format_dims(ref.dims)} and {format_dims(value.dims)}")
    return ref


def _update_infer(types, attrs):
    return _assign_infer(types[:1] + types[-1:], attrs)


def _assigner(name, tf_type, infer, write_value):
    """A graph op writing the variable of its first input: `write_value(emit, read, *operands)` is the new
    value, in IR (see OpDef.write_value)."""
    return registry.register(OpDef(name=name, tf_type=tf_type, role=Role.ASSIGN, effects=Effects(writes=True),
                                   gradient=NOT_DIFFERENTIABLE, infer=infer, write_value=write_value))


assign_p = _assigner("assign", "Assign", _assign_infer, lambda emit, read, value: value)
assign_add_p = _assigner("assign_add", "AssignAdd", _assign_infer,
                         lambda emit, read, delta: emit("add", [read(), delta]))
assign_sub_p = _assigner("assign_sub", "AssignSub", _assign_infer,
                         lambda emit, read, delta: emit("sub", [read(), delta]))
# var -= alpha * delta, TF1's training op for plain SGD.
apply_gradient_descent_p = _assigner(
    "apply_gradient_descent", "ApplyGradientDescent", _update_infer,
    lambda emit, read, alpha, delta: emit("sub", [read(), emit("mul", [alpha, delta])]))


def _training_update_infer(tf_type, slots, operands, refused=()):
    """The shape rule of a TF training op writing a variable and its `slots` (each of the variable's type),
    whose other inputs are `operands`: `grad` of the variable's type, the rest scalars of its dtype. An attr
    of `refused` (attr, value, what graphc lacks) set so is an UnimplementedError."""

    def infer(types, attrs):
        for attr, value, missing in refused:
            if attrs.get(attr, not value) == value:
                raise errors.UnimplementedError(None, None, f"{tf_type} with {attr}={value}: graphc has no {missing}")
        var = types[0]
        for name, t in zip(slots + operands, types[1:]):
            if name in slots or name == "grad":
                _assign_infer([var, t], {})
            elif t.dtype is not var.dtype or t.dims not in ((), None):
                raise ShapeError(f"{name} is not a scalar of {var.dtype.name}: {t}")
        return var

    return infer


def _one(emit, like):
    """The constant 1 of `like`'s dtype, in IR."""
    one = np.ones((), dtype=like.type.dtype.np_dtype)
    one.flags.writeable = False
    return emit("constant", [], {"value": one})


def _adam_values(emit, read, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad):
    """TF1's ApplyAdam kernel: lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power); m += (grad - m) *
    (1 - beta1); v += (grad * grad - v) * (1 - beta2); var -= lr_t * m / (sqrt(v) + epsilon)."""
    one = _one(emit, lr)
    lr_t = emit("div", [emit("mul", [lr, emit("sqrt", [emit("sub", [one, beta2_power])])]),
                        emit("sub", [one, beta1_power])])
    m, v = read(1), read(2)
    new_m = emit("add", [m, emit("mul", [emit("sub", [grad, m]), emit("sub", [one, beta1])])])
    new_v = emit("add", [v, emit("mul", [emit("sub", [emit("mul", [grad, grad]), v]), emit("sub", [one, beta2])])])
    step = emit("div", [emit("mul", [new_m, lr_t]), emit("add", [emit("sqrt", [new_v]), epsilon])])
    return emit("sub", [read(0), step]), new_m, new_v


# Inputs (var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad), TF's; writes var, m, v.
apply_adam_p = registry.register(OpDef(
    name="apply_adam", tf_type="ApplyAdam", role=Role.ASSIGN, effects=Effects(writes=True),
    gradient=NOT_DIFFERENTIABLE, write_value=_adam_values, written_inputs=(0, 1, 2),
    infer=_training_update_infer("ApplyAdam", ("m", "v"), ("beta1_power", "beta2_power", "lr", "beta1", "beta2",
                                                            "epsilon", "grad"),
                                 [("use_nesterov", True, "Nesterov update of Adam")])))


def _momentum_values(emit, read, lr, grad, momentum):
    """TF1's ApplyMomentum kernel: accum = accum * momentum + grad; var -= lr * accum."""
    accum = emit("add", [emit("mul", [read(1), momentum]), grad])
    return emit("sub", [read(0), emit("mul", [lr, accum])]), accum


def _adagrad_values(emit, read, lr, grad):
    """TF1's ApplyAdagrad kernel: accum += grad * grad; var -= lr * grad / sqrt(accum)."""
    accum = emit("add", [read(1), emit("mul", [grad, grad])])
    return emit("sub", [read(0), emit("div", [emit("mul", [lr, grad]), emit("sqrt", [accum])])]), accum


def _rmsprop_values(emit, read, lr, rho, momentum, epsilon, grad):
    """TF1's ApplyRMSProp kernel, in its grouping: ms += (grad * grad - ms) * (1 - rho) (an infinite ms then
    becomes NaN, as in TF, where ms * rho + grad * grad * (1 - rho) would stay infinite); mom = mom * momentum
    + lr * grad / sqrt(ms + epsilon); var -= mom."""
    old_ms = read(1)
    ms = emit("add", [old_ms, emit("mul", [emit("sub", [emit("mul", [grad, grad]), old_ms]),
                                           emit("sub", [_one(emit, lr), rho])])])
    step = emit("div", [emit("mul", [lr, grad]), emit("sqrt", [emit("add", [ms, epsilon])])])
    mom = emit("add", [emit("mul", [read(2), momentum]), step])
    return emit("sub", [read(0), mom]), ms, mom


# Inputs as TF's: (var, accum, lr, grad, momentum); (var, accum, lr, grad); (var, ms, mom, lr, rho, momentum,
# epsilon, grad).
apply_momentum_p = registry.register(OpDef(
    name="apply_momentum", tf_type="ApplyMomentum", role=Role.ASSIGN, effects=Effects(writes=True),
    gradient=NOT_DIFFERENTIABLE, write_value=_momentum_values, written_inputs=(0, 1),
    infer=_training_update_infer("ApplyMomentum", ("accum",), ("lr", "grad", "momentum"),
                                 [("use_nesterov", True, "Nesterov momentum")])))
apply_adagrad_p = registry.register(OpDef(
    name="apply_adagrad", tf_type="ApplyAdagrad", role=Role.ASSIGN, effects=Effects(writes=True),
    gradient=NOT_DIFFERENTIABLE, write_value=_adagrad_values, written_inputs=(0, 1),
    infer=_training_update_infer("ApplyAdagrad", ("accum",), ("lr", "grad"),
                                 [("update_slots", False, "Adagrad update that keeps its accumulator")])))
apply_rms_prop_p = registry.register(OpDef(
    name="apply_rms_prop", tf_type="ApplyRMSProp", role=Role.ASSIGN, effects=Effects(writes=True),
    gradient=NOT_DIFFERENTIABLE, write_value=_rmsprop_values, written_inputs=(0, 1, 2),
    infer=_training_update_infer("ApplyRMSProp", ("ms", "mom"), ("lr", "rho", "momentum", "epsilon", "grad"))))
no_op_p = registry.register(OpDef(name="no_op", tf_type="NoOp", role=Role.CONTROL, gradient=NOT_DIFFERENTIABLE,
                                  infer=lambda types, attrs: []))
# TF1 builds `initialized_value()` as cond(is_initialized(v), v, initial_value);
# graphc decides the branch when it compiles a step, from the session's state.
initialized_value_p = registry.register(OpDef(
    name="initialized_value", tf_type="InitializedValue", role=Role.CHOOSE_INITIALIZED, gradient=NOT_DIFFERENTIABLE,
    infer=lambda types, attrs: TensorType(types[0].dtype, types[0].dims)))

# Whether the variable is initialised is the session's state, which the step is compiled for (as for
# initialized_value): lowering makes it a constant.
is_variable_initialized_p = registry.register(OpDef(
    name="is_variable_initialized", tf_type="IsVariableInitialized", role=Role.INITIALIZED,
    gradient=NOT_DIFFERENTIABLE, infer=lambda types, attrs: TensorType(dtypes.bool_, ())))


def _report_uninitialized(op, initialized_flags):
    return np.array([name.encode() for name, initialized in zip(op.attrs["names"], initialized_flags)
                     if not initialized], dtype=object)


# TF1 masks a string tensor of the names with the flags; graphc has no string tensors, so the session
# gathers the names on the host from the flags the step computes.
report_uninitialized_variables_p = registry.register(OpDef(
    name="report_uninitialized_variables", tf_type="ReportUninitializedVariables", role=Role.HOST,
    gradient=NOT_DIFFERENTIABLE, infer=lambda types, attrs: TensorType(dtypes.string, (0 if not types else None,)),
    host_function=_report_uninitialized))

# -- IR-only ops ----------------------------------------------------------------------------


def _read_infer(types, attrs):
    return types[0]


def _write_infer(types, attrs):
    var, value = types
    if var != value:
        raise ShapeError(f"write of {value} to a variable of type {var}")
    return []


feed_p = registry.register(OpDef(name="feed", tf_type=None, infer=lambda types, attrs: None))
read_p = registry.register(OpDef(name="read", tf_type=None, infer=_read_infer, effects=Effects(reads=True)))
write_p = registry.register(OpDef(name="write", tf_type=None, infer=_write_infer, effects=Effects(writes=True)))

# -- public functions -----------------------------------------------------------------------


def _ref(ref):
    """The VariableV2 output of a Variable (or a tensor that already is one)."""
    ref = getattr(ref, "_variable", ref)
    if not isinstance(ref, Tensor) or ref.op.type != "VariableV2":
        raise TypeError(f"Expected a Variable (or its reference), got {ref!r}")
    return ref


def assign(ref, value, validate_shape=None, use_locking=None, name=None):
    """`tf.assign`: stores `value` in the variable; its output is the new value."""
    ref = _ref(ref)
    attrs = {"validate_shape": True if validate_shape is None else bool(validate_shape)}
    return apply_op("assign", [ref, value], attrs, name=name or "Assign", dtype_hint=ref.dtype)


def assign_add(ref, value, use_locking=None, name=None):
    """`tf.assign_add`: ref += value."""
    ref = _ref(ref)
    return apply_op("assign_add", [ref, value], name=name or "AssignAdd", dtype_hint=ref.dtype)


def assign_sub(ref, value, use_locking=None, name=None):
    """`tf.assign_sub`: ref -= value."""
    ref = _ref(ref)
    return apply_op("assign_sub", [ref, value], name=name or "AssignSub", dtype_hint=ref.dtype)


def apply_gradient_descent(ref, alpha, delta, use_locking=False, name=None):
    """TF1's `ApplyGradientDescent`: ref -= alpha * delta."""
    ref = _ref(ref)
    return apply_op("apply_gradient_descent", [ref, alpha, delta], name=name or "ApplyGradientDescent",
                    dtype_hint=ref.dtype)


def apply_adam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, use_locking=False,
               use_nesterov=False, name=None):
    """TF1's `ApplyAdam` (training_ops.apply_adam): one op updating var and its slots m and v (see
    `_adam_values`); its output is var's new value."""
    refs = [_ref(var), _ref(m), _ref(v)]
    return apply_op("apply_adam", refs + [beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad],
                    {"use_nesterov": bool(use_nesterov)}, name=name or "ApplyAdam", dtype_hint=refs[0].dtype)


def apply_momentum(var, accum, lr, grad, momentum, use_locking=False, use_nesterov=False, name=None):
    """TF1's `ApplyMomentum`: accum = accum * momentum + grad; var -= lr * accum."""
    refs = [_ref(var), _ref(accum)]
    return apply_op("apply_momentum", refs + [lr, grad, momentum], {"use_nesterov": bool(use_nesterov)},
                    name=name or "ApplyMomentum", dtype_hint=refs[0].dtype)


def apply_adagrad(var, accum, lr, grad, use_locking=False, update_slots=True, name=None):
    """TF1's `ApplyAdagrad`: accum += grad * grad; var -= lr * grad / sqrt(accum)."""
    refs = [_ref(var), _ref(accum)]
    return apply_op("apply_adagrad", refs + [lr, grad], {"update_slots": bool(update_slots)},
                    name=name or "ApplyAdagrad", dtype_hint=refs[0].dtype)


def apply_rms_prop(var, ms, mom, lr, rho, momentum, epsilon, grad, use_locking=False, name=None):
    """TF1's `ApplyRMSProp` (see `_rmsprop_values`)."""
    refs = [_ref(var), _ref(ms), _ref(mom)]
    return apply_op("apply_rms_prop", refs + [lr, rho, momentum, epsilon, grad], name=name or "ApplyRMSProp",
                    dtype_hint=refs[0].dtype)


def no_op(name=None):
    """`tf.no_op`."""
    return get_default_graph().create_op(no_op_p, [], name=name)


def group(*inputs, name=None):
    """`tf.group`: an op that runs after all of `inputs`."""
    flat = []
    for x in inputs:
        flat.extend(x if isinstance(x, (list, tuple)) else [x])
    graph = graph_of(flat) if flat else get_default_graph()
    with graph.as_default(), name_scope(name, "group_deps", flat) as scope:
        with graph.control_dependencies(flat):
            return graph.create_op(no_op_p, [], name=scope)


def initialized_value(ref, initial_value):
    """The variable's value if initialised, else its initial value."""
    return apply_op("initialized_value", [_ref(ref), initial_value])


def is_variable_initialized(ref, name=None):
    """`tf.is_variable_initialized`: a bool scalar, whether the variable is initialised when the step runs."""
    return apply_op("is_variable_initialized", [_ref(ref)], name=name or "IsVariableInitialized")


def report_uninitialized(flags: list, names: list, name: str):
    """A string vector of the `names` whose `flags` (is_variable_initialized tensors) are false."""
    return graph_of(flags).create_op(report_uninitialized_variables_p, list(flags), {"names": tuple(names)},
                           name=name).outputs[0]

