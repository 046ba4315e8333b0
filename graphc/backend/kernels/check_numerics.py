"""check_numerics: a copy of its input that fails the step when the input holds NaN or Inf."""

from __future__ import annotations

import llvmlite.ir as ir

from graphc import errors
from graphc.backend import lowering
from graphc.backend.kernel_builder import KernelBuilder, register_type
from graphc.core import messages


def lower_check_numerics(module, name, inst):
    """A copy of the input that notes NaNs and infinities; a failed check returns
    InvalidArgument with TF1's message, naming the op."""
    source = inst.values[0]
    dtype = source.type.dtype
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    b = kb.b
    flag_type = ir.IntType(1)
    has_nan = kb.variable(flag_type, ir.Constant(flag_type, 0))
    has_inf = kb.variable(flag_type, ir.Constant(flag_type, 0))
    infinity = ir.Constant(register_type(dtype), float("inf"))
    with kb.loop(source.type.num_elements, "i") as i:
        value = kb.load(kb.arg("in0"), dtype, i)
        kb.store(kb.arg("out"), dtype, i, value)
        kb.set(has_nan, b.or_(kb.get(has_nan, flag_type), b.fcmp_unordered("uno", value, value)))
        kb.set(has_inf, b.or_(kb.get(has_inf, flag_type),
                              b.fcmp_ordered("==", kb.intrinsic("fabs", dtype, [value]), infinity)))
    nan, inf = kb.get(has_nan, flag_type), kb.get(has_inf, flag_type)
    # The message is a printf format for the runtime: a % of the user's must stay literal.
    message = inst.attrs["message"].replace("%", "%%")
    where = f" (op {inst.source or inst.op})".replace("%", "%%")
    for condition, found in ((b.and_(nan, inf), (True, True)), (nan, (True, False)), (inf, (False, True))):
        with kb.if_(condition):
            kb.fail(errors.INVALID_ARGUMENT, messages.check_numerics_failure(*found, message) + where)
    return kb.finish()


lowering.register_kernels({"check_numerics": lower_check_numerics})
