"""in_top_k, with TF's rule: a target out of range, or any non-finite
prediction in its row, gives False; ties with the target's score count in its favour."""

from __future__ import annotations

import llvmlite.ir as ir

from graphc.backend import lowering
from graphc.backend.kernel_builder import I1, KernelBuilder, i64, register_type
from graphc.backend.scalar_ops import convert
from graphc.core import dtypes


def lower_in_top_k(module, name, inst):
    predictions, targets = inst.values
    batch, classes = predictions.type.shape
    dtype = predictions.type.dtype
    k = int(inst.attrs["k"])
    kb = KernelBuilder(module, name, ["out", "in0", "in1", "status"])
    out, x, t, b = kb.arg("out"), kb.arg("in0"), kb.arg("in1"), kb.b
    value_type = register_type(dtype)
    greater = kb.variable(ir.IntType(64))
    all_finite = kb.variable(I1)
    infinity = ir.Constant(value_type, float("inf"))
    with kb.loop(batch, "row") as r:
        target = convert(kb, kb.load(t, targets.type.dtype, r), targets.type.dtype, dtypes.int64)
        in_range = b.and_(b.icmp_signed(">=", target, i64(0)), b.icmp_signed("<", target, i64(classes)))
        base = b.mul(r, i64(classes))
        safe_target = b.select(in_range, target, i64(0))
        score = kb.load(x, dtype, b.add(base, safe_target))
        kb.set(greater, i64(0))
        kb.set(all_finite, ir.Constant(I1, 1))
        with kb.loop(classes, "c") as c:
            value = kb.load(x, dtype, b.add(base, c))
            finite = b.fcmp_ordered("<", kb.intrinsic("fabs", dtype, [value]), infinity)
            kb.set(all_finite, b.and_(kb.get(all_finite, I1), finite))
            kb.set(greater, b.add(kb.get(greater, ir.IntType(64)), b.zext(b.fcmp_ordered(">", value, score),
                                                                            ir.IntType(64))))
        few_greater = b.icmp_signed("<", kb.get(greater, ir.IntType(64)), i64(k))
        kb.store(out, dtypes.bool_, r, b.and_(b.and_(in_range, kb.get(all_finite, I1)), few_greater))
    return kb.finish()


lowering.register_kernels({"in_top_k": lower_in_top_k})
