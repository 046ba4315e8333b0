"""argmax/argmin along one axis (sums and extrema are fused reduce kernels)."""

from __future__ import annotations

import numpy as np

from graphc.backend import lowering
from graphc.backend.kernel_builder import I32, I64, KernelBuilder, constant, i64, register_type
from graphc.backend.scalar_ops import compare_integers
from graphc.core.tensor_shape import num_elements


def lower_arg_extremum(module, name, inst, is_max: bool):
    """argmax (`is_max`) or argmin along one axis, as TF's CPU kernel (Eigen's reducer) chooses: from
    index 0 with the dtype's lowest (highest) value, each element strictly beyond the best so
    far is taken. Ties go to the first index and NaN never wins (argmax([1, nan, 3]) is 2)."""
    source = inst.values[0]
    shape, dtype = source.type.shape, source.type.dtype
    axis = inst.attrs["axis"]
    axis = (axis if isinstance(axis, int) else axis[0]) % len(shape)
    outer, length, inner = num_elements(shape[:axis]), shape[axis], num_elements(shape[axis + 1:])
    index_dtype = inst.result.type.dtype
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    out, x, b = kb.arg("out"), kb.arg("in0"), kb.b
    value_type = register_type(dtype)
    best_value = kb.variable(value_type)
    best_index = kb.variable(I64)
    limits = (np.finfo if dtype.is_floating else np.iinfo)(dtype.np_dtype)
    bound = constant(dtype, limits.min if is_max else limits.max)
    with kb.loop(outer, "o") as o:
        with kb.loop(inner, "j") as j:
            base = b.add(b.mul(o, i64(length * inner)), j)
            kb.set(best_value, bound)
            kb.set(best_index, i64(0))
            with kb.loop(length, "k") as k:
                value = kb.load(x, dtype, b.add(base, b.mul(k, i64(inner))))
                best = kb.get(best_value, value_type)
                if dtype.is_floating:
                    better = b.fcmp_ordered(">" if is_max else "<", value, best)  # false for NaN
                else:
                    better = compare_integers(kb, dtype, ">" if is_max else "<", value, best)
                with kb.if_(better):
                    kb.set(best_value, value)
                    kb.set(best_index, k)
            index = kb.get(best_index, I64)
            if index_dtype.size == 4:
                index = b.trunc(index, I32)
            kb.store(out, index_dtype, b.add(b.mul(o, i64(inner)), j), index)
    return kb.finish()


lowering.register_kernels({
    "argmax": lambda module, name, inst: lower_arg_extremum(module, name, inst, is_max=True),
    "argmin": lambda module, name, inst: lower_arg_extremum(module, name, inst, is_max=False),
})
