"""Run-time checks: `tf.check_numerics` and `tf.Assert`, and TF1's `tf.assert_*` helpers built on Assert.

A failing check stops the step before it writes any variable: lowering runs
every check that does not itself depend on a variable's update before the
update (see compiler/lower.py), fusion never moves a write ahead of a check
(passes/fuse.py), and dead-code elimination keeps checks whose result is unused
(all from `Effects.may_fail`).

`tf.Assert(condition, data)` is one compiled op. Its message, TF's
"assertion failed: [<summary>] [<summary>] ...", is made of two kinds of data:
strings and other constants, which graphc summarizes when it builds the op
(strings never reach native code), and run-time tensors, which are the op's
operands. The op's `format` attribute holds the message with `%v` for each
operand; the kernel hands it, with the operands' addresses, to runtime_c's
`graphc_fail_summarized`, which writes TF's summary of each (its first
`summarize` elements) only when the condition is false, and the NumPy
reference fills the same format with `messages.summarize_value`. graphc's
Assert op has one output, a bool scalar (the condition it checked, true
whenever the step goes on), where TF's has none: every IR instruction but a
write has a result. `tf.Assert` returns the Operation, as TF does.
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.core import dtypes, messages, registry, rules
from graphc.core.registry import NOT_DIFFERENTIABLE, DTypeError, Effects, OpDef, Role, TensorType
from graphc.frontend.graph import Tensor, apply_op, control_dependencies, convert_to_tensor, name_scope
from graphc.ops import array_ops, math_ops, state_ops


def _check_numerics_reference(x, message):
    has_nan, has_inf = bool(np.any(np.isnan(x))), bool(np.any(np.isinf(x)))
    if has_nan or has_inf:
        raise errors.InvalidArgumentError(None, None, messages.check_numerics_failure(has_nan, has_inf, message))
    return x


check_numerics_p = registry.register(OpDef(
    name="check_numerics", tf_type="CheckNumerics", infer=rules.unary(rules.FLOAT_TYPES),
    effects=Effects(may_fail=True), reference=_check_numerics_reference, compiled_dtypes=rules.FLOAT_TYPES))


@registry.set_gradient(check_numerics_p)
def _check_numerics_grad(op, grad):
    """TF1's rule: the gradient is checked too. The forward check runs whenever the gradient
    does (TF1's gradient graph reads the checked tensor's shape; graphc's knows it statically)."""
    message = "Not a number (NaN) or infinity (Inf) values detected in gradient. " + op.attrs["message"]
    with control_dependencies([op]):
        return [check_numerics(grad, message)]


def check_numerics(tensor, message, name=None):
    """`tf.check_numerics`: fails the run with InvalidArgumentError("<message> : Tensor had NaN
    values", naming the op) when `tensor` has a NaN or an infinity."""
    return apply_op("check_numerics", [tensor], {"message": str(message)}, name=name)


# -- tf.Assert -------------------------------------------------------------------------------------------

def _assert_infer(types, attrs):
    condition = types[0]
    if condition.dtype is not dtypes.bool_:
        raise DTypeError(f"Input 'condition' of 'Assert' Op has type {condition.dtype.name} that does not "
                               "match expected type of bool.")
    if condition.dims is not None and len(condition.dims) > 0 and condition.dims != (1,):
        # TF's kernel takes a scalar or a one-element vector (IsLegacyScalar), and says so when it runs.
        raise rules.RejectedWhenRun(f"In[0] should be a scalar: {list(condition.dims)}",
                                    TensorType(dtypes.bool_, ()))
    return TensorType(dtypes.bool_, ())


def _assert_reference(condition, *data, format=None, summarize=3):
    if not np.asarray(condition).reshape(-1)[0]:
        format_text = messages.assertion_format(format, len(data))
        raise errors.InvalidArgumentError(None, None, messages.assertion_failure(format_text, data, summarize))
    return np.bool_(True)


assert_p = registry.register(OpDef(
    name="assert", tf_type="Assert", infer=_assert_infer, effects=Effects(may_fail=True),
    reference=_assert_reference, gradient=NOT_DIFFERENTIABLE))


def _constant_value(tensor):
    """TF's `tensor_util.constant_value` for what the assert helpers ask: a constant's value (through
    Identity), else None. Values computed from constants are left to the run, as TF leaves them."""
    op = tensor.op
    while op.op_def.role is Role.FORWARD and op.inputs:
        op = op.inputs[0].op
    return np.asarray(op.attrs["value"]) if op.op_def.role is Role.CONSTANT else None


def _data_format(data: list, summarize: int):
    """The Assert op's message format and run-time operands for `data`: constants summarized now (strings
    cannot run in native code), other tensors `%v`, their values summarized when the assertion fails."""
    pieces, operands = [], []
    for tensor in data:
        value = _constant_value(tensor)
        if value is not None:
            pieces.append(messages.summarize_value(value, summarize).replace("%", "%%"))
        elif tensor.dtype is dtypes.string:
            raise errors.UnimplementedError(
                None, tensor.op, f"graphc's tf.Assert summarizes string data when it builds the op, and "
                                 f"{tensor.name} is not a constant: string tensors live on the host")
        else:
            pieces.append("%v")
            operands.append(tensor)
    return "assertion failed: " + " ".join(f"[{p}]" for p in pieces), operands


def Assert(condition, data, summarize=None, name=None):  # noqa: N802 - TF's name
    """`tf.Assert`: an op that fails the run with InvalidArgumentError("assertion failed: [<data>] ...",
    naming the op) when `condition` (a bool scalar) is false, each of `data` summarized by its first
    `summarize` elements (default 3, negative: all). Returns the Operation, for control_dependencies."""
    summarize = 3 if summarize is None else int(summarize)
    with name_scope(name, "Assert", [condition] + list(data)):
        tensors = [convert_to_tensor(x) for x in data]
        condition = convert_to_tensor(condition, name="Condition")
        format_text, operands = _data_format(tensors, summarize)
        return apply_op("assert", [condition] + operands, {"format": format_text, "summarize": summarize},
                        name="Assert").op


# -- the assert_* helpers (TF's check_ops) -------------------------------------------------------------

def _static_failure(data: list) -> errors.InvalidArgumentError:
    """TF's `_assert_static`: a condition decided false when building, its data joined by lines."""
    texts = []
    for item in data:
        value = _constant_value(item) if isinstance(item, Tensor) else None
        texts.append(str(value) if value is not None else str(item))
    return errors.InvalidArgumentError(None, None, "\n".join(texts))


def _binary_assert(symbol, default_name, compare, static_compare, x, y, data, summarize, message, name):
    """TF's `_binary_assert`: Assert(reduce_all(compare(x, y))), with TF's data; decided when building if x
    and y are constants (InvalidArgumentError when false; the Assert is built either way, as TF does)."""
    with name_scope(name, default_name, [x, y] + list(data or [])):
        x = convert_to_tensor(x, name="x")
        y = convert_to_tensor(y, name="y")
        if data is None:
            data = [f"Condition x {symbol} y did not hold element-wise:", f"x ({x.name}) = ", x,
                    f"y ({y.name}) = ", y]
        if message is not None:
            data = [message] + list(data)
        condition = math_ops.reduce_all(compare(x, y))
        x_static, y_static = _constant_value(x), _constant_value(y)
        if x_static is not None and y_static is not None:
            if not np.all(static_compare(x_static, y_static)):
                raise _static_failure(data)
        return Assert(condition, data, summarize=summarize)


def assert_equal(x, y, data=None, summarize=None, message=None, name=None):
    """`tf.assert_equal`: fails the run unless x == y element-wise (broadcast)."""
    return _binary_assert("==", "assert_equal", math_ops.equal, np.equal, x, y, data, summarize, message, name)


def assert_none_equal(x, y, data=None, summarize=None, message=None, name=None):
    """`tf.assert_none_equal`: fails the run unless x != y element-wise."""
    return _binary_assert("!=", "assert_none_equal", math_ops.not_equal, np.not_equal, x, y, data, summarize, message,
                          name)


def assert_less(x, y, data=None, summarize=None, message=None, name=None):
    """`tf.assert_less`: fails the run unless x < y element-wise."""
    return _binary_assert("<", "assert_less", math_ops.less, np.less, x, y, data, summarize, message, name)


def assert_less_equal(x, y, data=None, summarize=None, message=None, name=None):
    """`tf.assert_less_equal`: fails the run unless x <= y element-wise."""
    return _binary_assert("<=", "assert_less_equal", math_ops.less_equal, np.less_equal, x, y, data, summarize,
                          message, name)


def assert_greater(x, y, data=None, summarize=None, message=None, name=None):
    """`tf.assert_greater`: fails the run unless x > y element-wise."""
    return _binary_assert(">", "assert_greater", math_ops.greater, np.greater, x, y, data, summarize, message, name)


def assert_greater_equal(x, y, data=None, summarize=None, message=None, name=None):
    """`tf.assert_greater_equal`: fails the run unless x >= y element-wise."""
    return _binary_assert(">=", "assert_greater_equal", math_ops.greater_equal, np.greater_equal, x, y, data,
                          summarize, message, name)


def _sign_assert(condition_text, default_name, zero_first, binary, x, data, summarize, message, name):
    """assert_positive and its kin: TF's data, then assert_less(_equal) of x against zero."""
    with name_scope(name, default_name, [x] + list(data or [])):
        x = convert_to_tensor(x, name="x")
        if data is None:
            data = sign_assert_data(message, condition_text, x.name, x)
        zero = convert_to_tensor(0, dtype=x.dtype)
        return binary(zero, x, data=data, summarize=summarize) if zero_first else \
            binary(x, zero, data=data, summarize=summarize)


def sign_assert_data(message, condition_text: str, x_name: str, x) -> list:
    """TF's data of assert_positive and its kin; assert_non_positive's joins its second and third texts, as
    TF 2.21's (two adjacent literals there lack a comma)."""
    texts = [f"Condition x {condition_text} 0 did not hold element-wise:", f"x ({x_name}) = "]
    if condition_text == "<=":
        texts = ["".join(texts)]
    return [message_prefix(message)] + texts + [x]


def assert_positive(x, data=None, summarize=None, message=None, name=None):
    """`tf.assert_positive`: fails the run unless x > 0 element-wise."""
    return _sign_assert(">", "assert_positive", True, assert_less, x, data, summarize, message, name)


def assert_negative(x, data=None, summarize=None, message=None, name=None):
    """`tf.assert_negative`: fails the run unless x < 0 element-wise."""
    return _sign_assert("<", "assert_negative", False, assert_less, x, data, summarize, message, name)


def assert_non_negative(x, data=None, summarize=None, message=None, name=None):
    """`tf.assert_non_negative`: fails the run unless x >= 0 element-wise."""
    return _sign_assert(">=", "assert_non_negative", True, assert_less_equal, x, data, summarize, message, name)


def assert_non_positive(x, data=None, summarize=None, message=None, name=None):
    """`tf.assert_non_positive`: fails the run unless x <= 0 element-wise."""
    return _sign_assert("<=", "assert_non_positive", False, assert_less_equal, x, data, summarize, message, name)


def message_prefix(message) -> str:
    """How TF's check_ops put a user's message before their own text."""
    return f"{message}.  " if message else ""


def assert_rank(x, rank, data=None, summarize=None, message=None, name=None):
    """`tf.assert_rank`: ValueError when building if x's rank is known and is not `rank` (else a no-op); an
    Assert of the rank, a constant of the compiled step, when x's rank is known only when it runs."""
    with name_scope(name, "assert_rank", [x, rank] + list(data or [])):
        x = convert_to_tensor(x, name="x")
        rank_tensor = convert_to_tensor(rank, name="rank")
        given = _constant_value(rank_tensor)
        if given is None or given.ndim != 0:
            raise ValueError(f"Rank must be a scalar constant in graphc's tf.assert_rank, got {rank_tensor.name}")
        prefix = message_prefix(message)
        if x.shape.ndims is not None:
            if x.shape.ndims != int(given):
                raise ValueError(f"{prefix}Tensor {x.name} must have rank {int(given)}.  Received rank "
                                 f"{x.shape.ndims}, shape {x.shape}")
            return state_ops.no_op(name="static_checks_determined_all_ok")
        if data is None:
            data = [prefix, f"Tensor {x.name} must have rank", rank_tensor, "Received shape: ", array_ops.shape(x)]
        return Assert(math_ops.equal(array_ops.rank(x), rank_tensor), data, summarize=summarize)


def assert_type(tensor, tf_type, message=None, name=None):
    """`tf.assert_type`: TypeError when building unless `tensor` has dtype `tf_type`; else a no-op."""
    tf_type = dtypes.as_dtype(tf_type)
    with name_scope(name, "assert_type", [tensor]):
        tensor = convert_to_tensor(tensor)
        if tensor.dtype is not tf_type:
            raise TypeError(f"{message_prefix(message)}{tensor.name} must be of type {tf_type!r}; got "
                            f"{tensor.dtype!r}")
        return state_ops.no_op(name="statically_determined_correct_type")


def assert_integer(x, message=None, name=None):
    """`tf.assert_integer`: TypeError when building unless x has an integer dtype; else a no-op."""
    with name_scope(name, "assert_integer", [x]):
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_integer:
            raise TypeError(f'{message_prefix(message)}Expected "x" to be integer type.  Found: {x.name} of '
                            f"dtype <dtype: '{x.dtype.name}'>")
        return state_ops.no_op(name="statically_determined_was_integer")


def verify_tensor_all_finite(t=None, msg=None, name=None, x=None, message=None):
    """`tf.verify_tensor_all_finite` (`tf.debugging.assert_all_finite` in TF1): `t` after a check_numerics
    of it with `msg`."""
    t = x if t is None else t
    msg = message if msg is None else msg
    with name_scope(name, "VerifyFinite", [t]):
        t = convert_to_tensor(t, name="t")
        check = check_numerics(t, message=msg)
        with control_dependencies([check]):
            return array_ops.identity(t)
