"""Kernels of the layout ops that move elements by index maps: slices (and their
gradient), concat, pad, mirror pad (and its gradient), tile and one_hot. Each is
one kernel `i32 (ptr out, ptr in..., ptr status)`.

They are built from `emit_copy`, which copies a region between two
element-strided views (either side may be strided, and strides may be negative:
`x[::-1]`), and mirror padding's walk through lookup tables, both loop nests of
backend/loops.py. Index maps come from graphc/core/slicing.py, the same ones the
NumPy references use.
"""

from __future__ import annotations

from graphc.backend import lowering
from graphc.backend.kernel_builder import KernelBuilder, global_array, i64
from graphc.backend.loops import coalesce, contiguous_strides, emit_loops
from graphc.backend.scalar_ops import convert
from graphc.core import dtypes
from graphc.core.slicing import mirror_source, slice_map, strided_slice_map_of
from graphc.core.tensor_shape import num_elements


def emit_copy(kb: KernelBuilder, dtype, shape, destination, destination_strides, source, source_strides) -> None:
    """destination[offset(i)] = source[offset(i)] for each index i of `shape`, each side with its strides."""
    dims, strides = coalesce(list(shape), [list(destination_strides), list(source_strides)])
    emit_loops(kb, dims, strides, lambda offsets: kb.store(destination, dtype, offsets[0],
                                                           kb.load(source, dtype, offsets[1])))


def emit_fill(kb: KernelBuilder, dtype, out, count: int, value) -> None:
    """out[0:count] = value (a register-form scalar)."""
    with kb.loop(count, "fill") as i:
        kb.store(out, dtype, i, value)


def _at(kb: KernelBuilder, base, dtype, offset: int):
    """A pointer `offset` elements past `base`."""
    return base if offset == 0 else kb.address(base, dtype, i64(offset))


def lower_slice(module, name, inst):
    """tf.slice: the output read through its index map, in row-major order."""
    return _lower_index_map(module, name, inst, slice_map(inst.values[0].type.shape, inst.attrs["begin"],
                                                          inst.attrs["size"])[1])


def lower_strided_slice(module, name, inst):
    """tensor[...]: the output read through its index map, in row-major order."""
    return _lower_index_map(module, name, inst, strided_slice_map_of(inst.values[0].type.shape, inst.attrs)[1])


def _lower_index_map(module, name, inst, index_map):
    source = inst.values[0]
    out_type = inst.result.type
    offset, strides = index_map.element_strides(contiguous_strides(source.type.shape))
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    dtype = out_type.dtype
    emit_copy(kb, dtype, out_type.shape, kb.arg("out"), contiguous_strides(out_type.shape),
              _at(kb, kb.arg("in0"), dtype, offset), strides)
    return kb.finish()


def lower_tile(module, name, inst):
    """tf.tile: the output seen as [multiples[0], size[0], multiples[1], size[1] ...], each repetition a copy
    of the input (stride 0 along the repetition axes)."""
    source = inst.values[0]
    in_shape = source.type.shape
    multiples = [int(m) for m in inst.attrs["multiples"]]
    spread = [v for pair in zip(multiples, in_shape) for v in pair]
    in_strides = [v for stride in contiguous_strides(in_shape) for v in (0, stride)]
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    emit_copy(kb, inst.result.type.dtype, spread, kb.arg("out"), contiguous_strides(spread), kb.arg("in0"),
              in_strides)
    return kb.finish()


def lower_strided_slice_grad(module, name, inst):
    """Zeros of the sliced input's shape, with dy written back where the slice read."""
    dy = inst.values[0]
    out_type = inst.result.type
    shape = tuple(inst.attrs["shape"])
    index_map = strided_slice_map_of(shape, inst.attrs)[1]
    offset, strides = index_map.element_strides(contiguous_strides(shape))
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    dtype = out_type.dtype
    emit_fill(kb, dtype, kb.arg("out"), out_type.num_elements, kb.constant(dtype, 0))
    emit_copy(kb, dtype, dy.type.shape, _at(kb, kb.arg("out"), dtype, offset), strides, kb.arg("in0"),
              contiguous_strides(dy.type.shape))
    return kb.finish()


def lower_concat(module, name, inst):
    """Each input copied into its band of the output along the axis."""
    out_type = inst.result.type
    dtype = out_type.dtype
    axis = inst.attrs["axis"]
    axis = (axis if isinstance(axis, int) else axis[0]) % len(out_type.shape)
    out_strides = contiguous_strides(out_type.shape)
    kb = KernelBuilder(module, name, ["out"] + [f"in{i}" for i in range(len(inst.values))] + ["status"])
    at = 0
    for i, value in enumerate(inst.values):
        emit_copy(kb, dtype, value.type.shape, _at(kb, kb.arg("out"), dtype, at * out_strides[axis]), out_strides,
                  kb.arg(f"in{i}"), contiguous_strides(value.type.shape))
        at += value.type.shape[axis]
    return kb.finish()


def lower_pad(module, name, inst):
    """The output filled with the padding value, then the input copied into its interior."""
    source = inst.values[0]
    out_type = inst.result.type
    dtype = out_type.dtype
    paddings = inst.attrs["paddings"]
    before = list(paddings)[0::2]  # flattened [[before, after] per axis]
    out_strides = contiguous_strides(out_type.shape)
    kb = KernelBuilder(module, name, ["out", "in0", "in1", "status"])
    emit_fill(kb, dtype, kb.arg("out"), out_type.num_elements, kb.load(kb.arg("in1"), dtype, i64(0)))
    offset = sum(b * s for b, s in zip(before, out_strides))
    emit_copy(kb, dtype, source.type.shape, _at(kb, kb.arg("out"), dtype, offset), out_strides, kb.arg("in0"),
              contiguous_strides(source.type.shape))
    return kb.finish()


def _emit_mirror_loops(kb: KernelBuilder, name, inst, unpadded_shape, padded_shape, body) -> None:
    """body(padded index, unpadded index it mirrors) over the padded shape in row-major order.

    Each axis's mirrored source offsets (index times stride) are a constant table built
    at compile time from mirror_source, the map the NumPy reference uses: the source
    stream steps through the tables where the padded one steps by its strides."""
    paddings, mode = list(inst.attrs["paddings"]), inst.attrs["mode"]
    tables = [global_array(kb.module, f"{name}.mirror{axis}", dtypes.int64,
                           mirror_source(size, paddings[2 * axis], paddings[2 * axis + 1], mode) * stride)
              for axis, (size, stride) in enumerate(zip(unpadded_shape, contiguous_strides(unpadded_shape)))]
    mirrored = [lambda index, table=table: kb.load(table, dtypes.int64, index) for table in tables]
    emit_loops(kb, padded_shape, [contiguous_strides(padded_shape), mirrored], lambda offsets: body(*offsets))


def lower_mirror_pad(module, name, inst):
    """Each output element copied from the input element its position mirrors."""
    source, out_type = inst.values[0].type, inst.result.type
    kb = KernelBuilder(module, name, ["out", "in0", "status"])

    def copy(padded, unpadded):
        kb.store(kb.arg("out"), out_type.dtype, padded, kb.load(kb.arg("in0"), out_type.dtype, unpadded))

    _emit_mirror_loops(kb, name, inst, source.shape, out_type.shape, copy)
    return kb.finish()


def lower_mirror_pad_grad(module, name, inst):
    """Zeros, then each dy element added to the input element its position mirrors, in
    row-major order of dy (a fixed order: the float sums are the same on every run)."""
    dy, out_type = inst.values[0].type, inst.result.type
    dtype = out_type.dtype
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    out = kb.arg("out")
    # Sums start from -0.0, the identity of float addition: an element nothing is folded into keeps dy's -0.0, as TF's.
    emit_fill(kb, dtype, out, out_type.num_elements, kb.constant(dtype, -0.0 if dtype.is_floating else 0))
    add = kb.b.fadd if dtype.is_floating else kb.b.add

    def accumulate(padded, unpadded):
        kb.store(out, dtype, unpadded, add(kb.load(out, dtype, unpadded), kb.load(kb.arg("in0"), dtype, padded)))

    _emit_mirror_loops(kb, name, inst, out_type.shape, dy.shape, accumulate)
    return kb.finish()


def lower_one_hot(module, name, inst):
    """out[outer, d, inner] = on if indices[outer, inner] == d else off (an index out of range
    matches no d: a row of off values)."""
    indices, on, off = inst.values
    out_type = inst.result.type
    dtype, index_dtype = out_type.dtype, indices.type.dtype
    axis = inst.attrs["axis"]
    at = len(indices.type.shape) if axis == -1 else axis
    outer, inner = num_elements(indices.type.shape[:at]), num_elements(indices.type.shape[at:])
    depth = out_type.shape[at]
    kb = KernelBuilder(module, name, ["out", "in0", "in1", "in2", "status"])
    b = kb.b
    on_value, off_value = kb.load(kb.arg("in1"), dtype, i64(0)), kb.load(kb.arg("in2"), dtype, i64(0))
    with kb.loop(outer, "o") as o:
        with kb.loop(depth, "d") as d:
            with kb.loop(inner, "j") as j:
                index = kb.load(kb.arg("in0"), index_dtype, b.add(b.mul(o, i64(inner)), j))
                hot = b.icmp_signed("==", convert(kb, index, index_dtype, dtypes.int64), d)
                out_index = b.add(b.mul(b.add(b.mul(o, i64(depth)), d), i64(inner)), j)
                kb.store(kb.arg("out"), dtype, out_index, b.select(hot, on_value, off_value))
    return kb.finish()


lowering.register_kernels({
    "slice": lower_slice,
    "strided_slice": lower_strided_slice,
    "strided_slice_grad": lower_strided_slice_grad,
    "concat": lower_concat,
    "pad": lower_pad,
    "mirror_pad": lower_mirror_pad,
    "mirror_pad_grad": lower_mirror_pad_grad,
    "one_hot": lower_one_hot,
    "tile": lower_tile,
})
