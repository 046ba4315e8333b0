"""top_k and top_k_indices (ops/selection_ops.py): the k first entries of each row in TF's order.

Rank j of a row is the best entry ranked after rank j - 1, by one pass over the row: no
scratch memory, O(k * n) comparisons per row, the order fixed (descending values, ties
to the lower index, NaN after every number), so both ops give the same selection.
"""

from __future__ import annotations

from graphc.backend import lowering
from graphc.backend.kernel_builder import I32, I64, KernelBuilder, i64
from graphc.core.tensor_shape import num_elements


def _ranks_before(kb: KernelBuilder, dtype, x, base, a, b):
    """Whether entry a of the row at `base` ranks before entry b (i1)."""
    bld = kb.b
    va, vb = kb.load(x, dtype, bld.add(base, a)), kb.load(x, dtype, bld.add(base, b))
    lower_index = bld.icmp_signed("<", a, b)
    if not dtype.is_floating:
        return bld.or_(bld.icmp_signed(">", va, vb), bld.and_(bld.icmp_signed("==", va, vb), lower_index))
    a_nan, b_nan = bld.fcmp_unordered("uno", va, va), bld.fcmp_unordered("uno", vb, vb)
    by_value = bld.or_(bld.fcmp_ordered(">", va, vb), bld.and_(bld.fcmp_ordered("==", va, vb), lower_index))
    numbers = bld.and_(bld.not_(a_nan), bld.not_(b_nan))
    return bld.or_(bld.or_(bld.and_(numbers, by_value), bld.and_(bld.not_(a_nan), b_nan)),
                   bld.and_(bld.and_(a_nan, b_nan), lower_index))


def lower_top_k(module, name, inst, indices: bool):
    """`i32 (ptr out, ptr x, ptr status)`: the values (or, with `indices`, their int32 indices)."""
    source = inst.values[0]
    shape, dtype = source.type.shape, source.type.dtype
    n, k = shape[-1], inst.result.type.shape[-1]
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    out, x, bld = kb.arg("out"), kb.arg("in0"), kb.b
    best, previous = kb.variable(I64), kb.variable(I64)
    with kb.loop(num_elements(shape[:-1]), "row") as row:
        base = bld.mul(row, i64(n))
        with kb.loop(k, "rank") as rank:
            kb.set(best, i64(-1))
            first = bld.icmp_signed("==", rank, i64(0))
            after = bld.select(first, i64(0), kb.get(previous, I64))  # rank 0 has no previous: read in bounds
            with kb.loop(n, "entry") as entry:
                current = kb.get(best, I64)
                none_yet = bld.icmp_signed("<", current, i64(0))
                # Until a best is found its slot reads entry 0 (in bounds), and `none_yet` decides.
                compared = bld.select(none_yet, i64(0), current)
                eligible = bld.or_(first, _ranks_before(kb, dtype, x, base, after, entry))
                improves = bld.or_(none_yet, _ranks_before(kb, dtype, x, base, entry, compared))
                kb.set(best, bld.select(bld.and_(eligible, improves), entry, current))
            chosen = kb.get(best, I64)
            kb.set(previous, chosen)
            at = bld.add(bld.mul(row, i64(k)), rank)
            if indices:
                kb.store(out, inst.result.type.dtype, at, bld.trunc(chosen, I32))
            else:
                kb.store(out, dtype, at, kb.load(x, dtype, bld.add(base, chosen)))
    return kb.finish()


lowering.register_kernels({
    "top_k": lambda module, name, inst: lower_top_k(module, name, inst, indices=False),
    "top_k_indices": lambda module, name, inst: lower_top_k(module, name, inst, indices=True),
})
