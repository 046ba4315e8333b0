"""Kernels of the index ops (ops/gather_ops.py): gather, gather_nd and unsorted_segment_sum.

Each checks every index before it writes anything (TF's InvalidArgumentError naming the first
index out of range), then copies (or adds) whole rows: `inner` contiguous elements per index.
unsorted_segment_sum adds its rows in index order, one fixed order, so its float sums are the
same on every run and equal to the reference's `np.add.at`.
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.backend import lowering
from graphc.backend.kernel_builder import KernelBuilder, i64
from graphc.backend.scalar_ops import convert
from graphc.core import dtypes
from graphc.core.tensor_shape import num_elements
from graphc.core.messages import (gather_nd_of_empty_params, gather_nd_out_of_range, gather_out_of_range,
                                  segment_out_of_range)


def _static_int(value) -> int:
    return int(np.asarray(value).reshape(-1)[0])


def _index(kb: KernelBuilder, indices, index_dtype, position):
    """indices[position] as i64."""
    return convert(kb, kb.load(indices, index_dtype, position), index_dtype, dtypes.int64)


def _outside(kb: KernelBuilder, index, limit: int):
    return kb.b.or_(kb.b.icmp_signed("<", index, i64(0)), kb.b.icmp_signed(">=", index, i64(limit)))


def _copy_row(kb: KernelBuilder, dtype, out, out_start, source, source_start, inner: int) -> None:
    b = kb.b
    with kb.loop(inner, "k") as k:
        kb.store(out, dtype, b.add(out_start, k), kb.load(source, dtype, b.add(source_start, k)))


def lower_gather(module, name, inst):
    """out[o, n, k] = params[o, indices[n], k] for the `outer` rows before the axis and the `inner`
    elements after it."""
    params, indices = inst.values
    shape = params.type.shape
    axis = _static_int(inst.attrs["axis"]) % len(shape)
    outer, limit, inner = num_elements(shape[:axis]), shape[axis], num_elements(shape[axis + 1:])
    count = num_elements(indices.type.shape)
    dtype, index_dtype = params.type.dtype, indices.type.dtype
    kb = KernelBuilder(module, name, ["out", "in0", "in1", "status"])
    out, source, index_array, b = kb.arg("out"), kb.arg("in0"), kb.arg("in1"), kb.b
    # TF checks the indices only when there is something to copy: an empty result takes any index.
    with kb.loop(count if outer * inner else 0, "check") as n:
        index = _index(kb, index_array, index_dtype, n)
        with kb.if_(_outside(kb, index, limit)):
            message = f"{gather_out_of_range('%lld', '%lld', limit)} (op {inst.source or inst.op})"
            kb.fail(errors.INVALID_ARGUMENT, message, n, index)
    with kb.loop(outer, "o") as o:
        with kb.loop(count, "n") as n:
            index = _index(kb, index_array, index_dtype, n)
            out_start = b.mul(b.add(b.mul(o, i64(count)), n), i64(inner))
            source_start = b.mul(b.add(b.mul(o, i64(limit)), index), i64(inner))
            _copy_row(kb, dtype, out, out_start, source, source_start, inner)
    return kb.finish()


def lower_unsorted_segment_sum(module, name, inst):
    """Zeros, then data row n added into row segment_ids[n] (negative ids dropped), n in order."""
    data, ids = inst.values
    out_type = inst.result.type
    segments = out_type.shape[0]
    inner = num_elements(out_type.shape[1:])
    count = num_elements(ids.type.shape)
    dtype, index_dtype = out_type.dtype, ids.type.dtype
    kb = KernelBuilder(module, name, ["out", "in0", "in1", "status"])
    out, rows, id_array, b = kb.arg("out"), kb.arg("in0"), kb.arg("in1"), kb.b
    with kb.loop(count, "check") as n:
        segment = _index(kb, id_array, index_dtype, n)
        with kb.if_(b.icmp_signed(">=", segment, i64(segments))):
            kb.fail(errors.INVALID_ARGUMENT,
                    f"{segment_out_of_range('%lld', '%lld', segments)} (op {inst.source or inst.op})", n, segment)
    with kb.loop(out_type.num_elements, "zero") as i:
        kb.store(out, dtype, i, kb.constant(dtype, 0))
    add = b.fadd if dtype.is_floating else b.add
    with kb.loop(count, "n") as n:
        segment = _index(kb, id_array, index_dtype, n)
        with kb.if_(b.icmp_signed(">=", segment, i64(0))):
            out_start, row_start = b.mul(segment, i64(inner)), b.mul(n, i64(inner))
            with kb.loop(inner, "k") as k:
                at = b.add(out_start, k)
                kb.store(out, dtype, at, add(kb.load(out, dtype, at), kb.load(rows, dtype, b.add(row_start, k))))
    return kb.finish()


def lower_gather_nd(module, name, inst):
    """out[m, k] = params[flat(indices[m, :]), k]: each index tuple's row number in the indexed
    leading axes, checked component by component."""
    params, indices = inst.values
    shape = params.type.shape
    depth = indices.type.shape[-1]
    tuples = num_elements(indices.type.shape[:-1])
    inner = num_elements(shape[depth:])
    dtype, index_dtype = params.type.dtype, indices.type.dtype
    kb = KernelBuilder(module, name, ["out", "in0", "in1", "status"])
    out, source, index_array, b = kb.arg("out"), kb.arg("in0"), kb.arg("in1"), kb.b
    if tuples and not num_elements(shape):  # TF refuses any tuple into params with no element
        with kb.if_(b.icmp_signed("!=", i64(tuples), i64(0))):
            kb.fail(errors.INVALID_ARGUMENT, f"{gather_nd_of_empty_params(shape)} (op {inst.source or inst.op})")
    message = f"{gather_nd_out_of_range(shape[:depth])} (op {inst.source or inst.op})"
    with kb.loop(tuples, "check") as m:
        for component in range(depth):
            index = _index(kb, index_array, index_dtype, b.add(b.mul(m, i64(depth)), i64(component)))
            with kb.if_(_outside(kb, index, shape[component])):
                kb.fail(errors.INVALID_ARGUMENT, message, m, i64(component), index)
    with kb.loop(tuples, "m") as m:
        row = i64(0)
        for component in range(depth):
            index = _index(kb, index_array, index_dtype, b.add(b.mul(m, i64(depth)), i64(component)))
            row = b.add(b.mul(row, i64(shape[component])), index)
        _copy_row(kb, dtype, out, b.mul(m, i64(inner)), source, b.mul(row, i64(inner)), inner)
    return kb.finish()


lowering.register_kernels({
    "gather": lower_gather,
    "unsorted_segment_sum": lower_unsorted_segment_sum,
    "gather_nd": lower_gather_nd,
})
