"""assert (tf.Assert): fails the step, with TF's summary of its data, when its condition is false."""

from __future__ import annotations

import llvmlite.ir as ir

from graphc import errors
from graphc.backend import lowering
from graphc.backend.kernel_builder import I32, PTR, KernelBuilder, global_string, i64, runtime_function
from graphc.core import dtypes, messages

# The element kinds runtime_c's graphc_fail_summarized reads (status.c).
_KINDS = {dtypes.float32: "f", dtypes.float64: "d", dtypes.int32: "i", dtypes.int64: "l", dtypes.bool_: "b"}


def lower_assert(module, name, inst):
    """True in `out` when the condition holds; otherwise InvalidArgument with the op's message, each `%v`
    of its format the summary of the next data operand, which runtime_c writes."""
    condition, *data = inst.values
    kb = KernelBuilder(module, name, ["out"] + [f"in{i}" for i in range(len(inst.values))] + ["status"])
    b = kb.b
    kb.store(kb.arg("out"), dtypes.bool_, i64(0), ir.Constant(ir.IntType(1), 1))
    with kb.if_(b.not_(kb.load(kb.arg("in0"), dtypes.bool_, i64(0)))):
        pointers = kb.local_array(PTR, max(len(data), 1))
        for k in range(len(data)):
            b.store(kb.arg(f"in{k + 1}"), b.gep(pointers, [i64(k)], source_etype=PTR))
        layouts = " ".join(f"{_KINDS[v.type.dtype]} {len(v.type.shape)} " + " ".join(map(str, v.type.shape))
                           for v in data)
        # The op's format keeps a % of the message as %%, which graphc_fail_summarized writes as one.
        where = f" (op {inst.source or inst.op})".replace("%", "%%")
        format_text = messages.assertion_format(inst.attrs.get("format"), len(data))
        code = ir.Constant(I32, errors.INVALID_ARGUMENT)
        b.call(runtime_function(module, "graphc_fail_summarized"),
               [kb.arg("status"), code, global_string(module, format_text + where),
                global_string(module, layouts), pointers, i64(inst.attrs["summarize"])])
        b.ret(code)
    return kb.finish()


lowering.register_kernels({"assert": lower_assert})
