"""Strided maps: elementwise ops with broadcasting, and the layout ops built on them.

`emit_strided_map` writes a contiguous output by visiting it in row-major order
and reading each input through its own element strides: 0 along broadcast
dimensions, permuted for a transpose. Dimensions along which every operand is
contiguous are merged first, so a plain `a + b` is one flat loop that LLVM
vectorizes.
"""

from __future__ import annotations

from graphc import errors
from graphc.backend import lowering
from graphc.backend.kernel_builder import KernelBuilder, i64
from graphc.backend.scalar_ops import SCALAR_OPS
from graphc.core import messages


def contiguous_strides(shape) -> list:
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= d
    return list(reversed(strides))


def broadcast_strides(in_shape, out_shape) -> list:
    """Element strides reading `in_shape` as if broadcast to `out_shape`."""
    padded = [1] * (len(out_shape) - len(in_shape)) + list(in_shape)
    strides = contiguous_strides(padded)
    return [0 if d == 1 and o != 1 else s for d, o, s in zip(padded, out_shape, strides)]


def coalesce(shape, stride_lists):
    """Merges adjacent dimensions along which every operand steps contiguously."""
    dims = [d for d in shape]
    strides = [list(s) for s in stride_lists]
    axis = len(dims) - 1
    while axis > 0:
        outer, inner = axis - 1, axis
        if all(s[outer] == s[inner] * dims[inner] for s in strides):
            for s in strides:
                s[outer] = s[inner]
                del s[inner]
            dims[outer] *= dims[inner]
            del dims[inner]
        axis -= 1
    dims_and_strides = [(d, [s[i] for s in strides]) for i, d in enumerate(dims) if d != 1]
    return [d for d, _ in dims_and_strides], [[st[k] for _, st in dims_and_strides] for k in range(len(strides))]


def emit_strided_map(kb: KernelBuilder, out_ptr, out_dtype, out_shape, inputs, element):
    """out[i] = element([in_k[offset_k(i)] for k]) over the output in row-major order.

    inputs: (pointer, dtype, element strides over out_shape) per operand.
    element(values) returns the output element (register form).
    """
    shape, strides = coalesce(out_shape, [contiguous_strides(out_shape)] + [s for _, _, s in inputs])
    out_strides, in_strides = strides[0], strides[1:]

    def level(depth, out_offset, in_offsets):
        if depth == len(shape):
            values = [kb.load(ptr, dtype, off) for (ptr, dtype, _), off in zip(inputs, in_offsets)]
            kb.store(out_ptr, out_dtype, out_offset, element(values))
            return
        with kb.loop(shape[depth], name=f"d{depth}") as i:
            next_out = kb.b.add(out_offset, kb.b.mul(i, i64(out_strides[depth])))
            next_in = [kb.b.add(off, kb.b.mul(i, i64(s[depth]))) for off, s in zip(in_offsets, in_strides)]
            level(depth + 1, next_out, next_in)

    if any(d == 0 for d in out_shape):
        return
    level(0, i64(0), [i64(0)] * len(inputs))


def lower_integer_division(module, name, inst):
    """Integer floordiv as a kernel of its own: the divisor is checked for zeros (which fail the run,
    as TF's InvalidArgumentError) before any quotient is computed."""
    operands = inst.values
    kb = KernelBuilder(module, name, ["out"] + [f"in{i}" for i in range(len(operands))] + ["status"])
    out_type = inst.result.type
    in_dtypes = [v.type.dtype for v in operands]
    inputs = [(kb.arg(f"in{i}"), v.type.dtype, broadcast_strides(v.type.shape, out_type.shape))
              for i, v in enumerate(operands)]
    scalar = SCALAR_OPS[inst.op]
    _check_no_zero_divisor(kb, operands[1], inst)
    emit_strided_map(kb, kb.arg("out"), out_type.dtype, out_type.shape, inputs,
                     lambda values: scalar(kb, values, in_dtypes, out_type.dtype, inst.attrs))
    return kb.finish()


def _check_no_zero_divisor(kb, divisor, inst):
    with kb.loop(divisor.type.num_elements, "z") as i:
        y = kb.load(kb.arg("in1"), divisor.type.dtype, i)
        with kb.if_(kb.b.icmp_signed("==", y, y.type(0))):
            kb.fail(errors.INVALID_ARGUMENT, f"{messages.INTEGER_DIVISION_BY_ZERO} (op {inst.source or inst.op})")


def _copy_through(module, name, inst, strides_of):
    """out = the operand read through `strides_of(operand_shape, out_shape)`."""
    source = inst.values[0]
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    out_type = inst.result.type
    strides = strides_of(source.type.shape, out_type.shape, inst.attrs)
    emit_strided_map(kb, kb.arg("out"), out_type.dtype, out_type.shape,
                     [(kb.arg("in0"), source.type.dtype, strides)], lambda values: values[0])
    return kb.finish()


def lower_transpose(module, name, inst):
    def strides(in_shape, out_shape, attrs):
        source = contiguous_strides(in_shape)
        return [source[p] for p in attrs["perm"]]

    return _copy_through(module, name, inst, strides)


def lower_reshape(module, name, inst):
    """A reshape keeps the row-major order: an element-for-element copy."""
    return _copy_through(module, name, inst, lambda in_shape, out_shape, attrs: contiguous_strides(out_shape))


lowering.register_kernels({
    "floordiv": lower_integer_division,  # integers; float floordiv is fused like any elementwise op
    "transpose": lower_transpose,
    "reshape": lower_reshape,
    "expand_dims": lower_reshape,  # a size-1 axis more or less keeps the row-major order
    "squeeze": lower_reshape,
})
