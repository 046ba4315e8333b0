"""Reductions (sum, mean, max, min over axes) and argmax/argmin.

Sums and extrema accumulate into the output while visiting the input in
row-major order: out = identity; for each input element, out[j] op= in[i];
the input streams through memory once and the order of accumulation is fixed.
"""

from __future__ import annotations

from graphc.backend.kernel_builder import I32, I64, KernelBuilder, constant, i64, register_type
from graphc.backend.kernels.elementwise import coalesce, contiguous_strides
from graphc.frontend.tensor_shape import num_elements
from graphc.ops.rules import normalize_axes


def _identity(op, dtype):
    if op in ("reduce_sum", "reduce_mean"):
        return constant(dtype, 0)
    if dtype.is_floating:
        return constant(dtype, float("-inf") if op == "reduce_max" else float("inf"))
    info = dtype.min if op == "reduce_max" else dtype.max
    return constant(dtype, int(info))


def _combine(kb, op, dtype, acc, x):
    b = kb.b
    if op in ("reduce_sum", "reduce_mean"):
        return b.fadd(acc, x) if dtype.is_floating else b.add(acc, x)
    if dtype.is_floating:
        return kb.intrinsic("maximum" if op == "reduce_max" else "minimum", dtype, [acc, x])
    predicate = ">" if op == "reduce_max" else "<"
    return b.select(b.icmp_signed(predicate, x, acc), x, acc)


def lower_reduce(module, name, inst):
    source = inst.values[0]
    in_shape = source.type.shape
    dtype = source.type.dtype
    axes = set(normalize_axes(inst.attrs["axes"], len(in_shape)))
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    out, x = kb.arg("out"), kb.arg("in0")
    out_count = inst.result.type.num_elements
    count = num_elements(in_shape[a] for a in axes)
    if inst.op == "reduce_mean" and dtype.is_integer and count == 0 and out_count > 0:
        kb.fail(3, f"Integer division by zero in reduce_mean (op {inst.source or inst.op})")
        return kb.function
    with kb.loop(out_count, "init") as j:
        kb.store(out, dtype, j, _identity(inst.op, dtype))
    kept = [d for i, d in enumerate(in_shape) if i not in axes]
    kept_strides = iter(contiguous_strides(kept))
    out_strides = [0 if i in axes else next(kept_strides) for i in range(len(in_shape))]
    shape, (in_strides, out_strides) = coalesce(in_shape, [contiguous_strides(in_shape), out_strides])

    def level(depth, in_offset, out_offset):
        if depth == len(shape):
            acc = kb.load(out, dtype, out_offset)
            kb.store(out, dtype, out_offset, _combine(kb, inst.op, dtype, acc, kb.load(x, dtype, in_offset)))
            return
        with kb.loop(shape[depth], f"r{depth}") as i:
            level(depth + 1, kb.b.add(in_offset, kb.b.mul(i, i64(in_strides[depth]))),
                  kb.b.add(out_offset, kb.b.mul(i, i64(out_strides[depth]))))

    if num_elements(in_shape) > 0:
        level(0, i64(0), i64(0))
    if inst.op == "reduce_mean":
        with kb.loop(out_count, "mean") as j:
            total = kb.load(out, dtype, j)
            if dtype.is_floating:
                kb.store(out, dtype, j, kb.b.fdiv(total, constant(dtype, count)))
            else:
                kb.store(out, dtype, j, kb.b.sdiv(total, constant(dtype, count)))  # truncates, as TF
    return kb.finish()


def lower_arg_extremum(module, name, inst):
    """argmax/argmin along one axis; ties and NaN go to the first index, as in NumPy."""
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
    is_max = inst.op == "argmax"
    with kb.loop(outer, "o") as o:
        with kb.loop(inner, "j") as j:
            base = b.add(b.mul(o, i64(length * inner)), j)
            kb.set(best_value, kb.load(x, dtype, base))
            kb.set(best_index, i64(0))
            with kb.loop(length, "k") as k:
                value = kb.load(x, dtype, b.add(base, b.mul(k, i64(inner))))
                best = kb.get(best_value, value_type)
                if dtype.is_floating:
                    better = b.fcmp_ordered(">" if is_max else "<", value, best)
                    first_nan = b.and_(b.fcmp_unordered("uno", value, value), b.fcmp_ordered("ord", best, best))
                    better = b.or_(better, first_nan)
                else:
                    better = b.icmp_signed(">" if is_max else "<", value, best)
                with kb.if_(better):
                    kb.set(best_value, value)
                    kb.set(best_index, k)
            index = kb.get(best_index, I64)
            if index_dtype.size == 4:
                index = b.trunc(index, I32)
            kb.store(out, index_dtype, b.add(b.mul(o, i64(inner)), j), index)
    return kb.finish()
