"""Algebraic simplification: a table of local rewrite rules, applied to a fixed point.

Each rule looks at one instruction (and the definitions of its operands) and
returns a value equal to its result — an existing one, or one it builds with
the Rewriter (new instructions take the rewritten one's place) — or None.
Uses of the result then read that value instead. Rules never change a result's
type and never drop an operation whose result would differ for NaN or
infinite inputs (x * 0 is not 0 for x = inf, so there is no such rule). One
liberty, as XLA takes it: x + 0 -> x turns -0.0 + 0.0 (= +0.0) into -0.0.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from graphc.ir.printer import is_splat
from graphc.ir.program import Instruction, Program, Value, constant_value


def _splat_of(value: Value, definitions: dict):
    """The one element of a splat constant, or None."""
    inst = definitions.get(value.id)
    array = constant_value(inst) if inst is not None else None
    if array is None or array.size == 0 or not is_splat(array):
        return None
    return array.reshape(-1)[0]


def _same_type(a: Value, b: Value) -> bool:
    return a.type == b.type


def _identity_operand(identity_element, commutative: bool):
    """x op e -> x (and e op x -> x when commutative), when the result keeps x's type."""

    def rule(inst: Instruction, definitions: dict, rewriter=None) -> Optional[Value]:
        x, y = inst.operands
        if _splat_of(y, definitions) == identity_element and _same_type(x, inst.result):
            return x
        if commutative and _splat_of(x, definitions) == identity_element and _same_type(y, inst.result):
            return y
        return None

    return rule


def _involution(inst: Instruction, definitions: dict, rewriter=None) -> Optional[Value]:
    """neg(neg(x)) -> x; logical_not(logical_not(x)) -> x."""
    inner = definitions.get(inst.operands[0].id)
    if inner is not None and inner.op == inst.op:
        return inner.operands[0]
    return None


def _to_own_type(inst: Instruction, definitions: dict, rewriter=None) -> Optional[Value]:
    """reshape/broadcast_to/cast/identity-like ops to the operand's own type -> the operand."""
    x = inst.operands[0]
    return x if _same_type(x, inst.result) else None


def _reduce_nothing(inst: Instruction, definitions: dict, rewriter=None) -> Optional[Value]:
    """A reduction over no axes (or only size-1 axes kept) is the operand."""
    x = inst.operands[0]
    axes = inst.attrs["axes"]
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    if all(x.type.shape[a] == 1 for a in axes) and _same_type(x, inst.result):
        return x
    return None


def _transpose_identity(inst: Instruction, definitions: dict, rewriter=None) -> Optional[Value]:
    """transpose(x, identity permutation) -> x; transpose(transpose(x, p), q) with q∘p = id -> x."""
    rank = len(inst.attrs["perm"])
    perm = tuple(p % rank for p in inst.attrs["perm"])  # a negative axis counts from the end
    if perm == tuple(range(rank)):
        return inst.operands[0]
    inner = definitions.get(inst.operands[0].id)
    if inner is not None and inner.op == "transpose":
        composed = tuple(inner.attrs["perm"][p] % rank for p in perm)
        if composed == tuple(range(rank)):
            return inner.operands[0]
    return None


def _reshape_chain(inst: Instruction, definitions: dict, rewriter=None) -> Optional[Value]:
    """reshape(reshape(x)) to x's shape -> x (other chains keep the outer reshape)."""
    inner = definitions.get(inst.operands[0].id)
    if inner is not None and inner.op == "reshape" and _same_type(inner.operands[0], inst.result):
        return inner.operands[0]
    return None


def _matmul_of_vectors(inst: Instruction, definitions: dict, rewriter: "Rewriter") -> Optional[Value]:
    """A product with a dimension of 1 is elementwise work that fuses with its neighbours:
    K = 1: a[M,1] @ b[1,N] -> a * b (broadcast); N = 1: a @ b[K,1] -> sum(a * b^T, axis 1);
    M = 1: a[1,K] @ b -> sum(a^T * b, axis 0). With the other operand transposed the sum runs over the
    other axis and a reshape gives the result its shape (aᵀ[K,M] @ b[K,1]: a gradient's weight
    update, a GEMM call of a few hundred flops otherwise). Layouts that would need a transpose are
    left alone."""
    a, b = inst.operands
    transpose_a, transpose_b = inst.attrs["transpose_a"], inst.attrs["transpose_b"]
    m, n = inst.result.type.shape
    k = a.type.shape[0] if transpose_a else a.type.shape[1]
    dtype = inst.result.type.dtype
    if k == 1:
        column = rewriter.reshape(a, (m, 1)) if transpose_a else a
        row = rewriter.reshape(b, (1, n)) if transpose_b else b
        return rewriter.emit("mul", (column, row), {}, inst.result.type)
    if n == 1 and not transpose_a:
        row = b if transpose_b else rewriter.reshape(b, (1, k))
        products = rewriter.emit("mul", (a, row), {}, type(inst.result.type)(dtype, (m, k)))
        return rewriter.emit("reduce_sum", (products,), {"axes": (1,), "keepdims": True}, inst.result.type)
    if n == 1:  # aᵀ[K,M] @ b: sum(a * b[K,1], axis 0) as [M,1]
        column = rewriter.reshape(b, (k, 1)) if transpose_b else b
        products = rewriter.emit("mul", (a, column), {}, type(inst.result.type)(dtype, (k, m)))
        sums = rewriter.emit("reduce_sum", (products,), {"axes": (0,), "keepdims": True},
                             type(inst.result.type)(dtype, (1, m)))
        return rewriter.reshape(sums, (m, 1))
    if m == 1 and not transpose_b:
        column = a if transpose_a else rewriter.reshape(a, (k, 1))
        products = rewriter.emit("mul", (column, b), {}, type(inst.result.type)(dtype, (k, n)))
        return rewriter.emit("reduce_sum", (products,), {"axes": (0,), "keepdims": True}, inst.result.type)
    if m == 1:  # a @ bᵀ[N,K]: sum(a[1,K] * b, axis 1) as [1,N]
        row = rewriter.reshape(a, (1, k)) if transpose_a else a
        products = rewriter.emit("mul", (row, b), {}, type(inst.result.type)(dtype, (n, k)))
        sums = rewriter.emit("reduce_sum", (products,), {"axes": (1,), "keepdims": True},
                             type(inst.result.type)(dtype, (n, 1)))
        return rewriter.reshape(sums, (1, n))
    return None


def _padded_pieces(inst: Instruction, definitions: dict, rewriter: "Rewriter") -> Optional[Value]:
    """add_n(pad(a), pad(b), ...) with zeros, whose pieces tile the result along one axis -> concat(a, b, ...).

    The gradient of a split (of the slices of one tensor: an LSTM's four gates) is such a sum; as the
    concat TF's split gradient is, it writes each element once instead of reading and adding four
    result-sized buffers. Every element is one piece's value plus zeros: the same value, but for
    -0.0 + 0.0, which the concat keeps as -0.0 (TF's own split gradient does too)."""
    pieces = []
    for operand in inst.operands:
        pad = definitions.get(operand.id)
        if pad is None or pad.op != "pad" or _splat_of(pad.operands[1], definitions) != 0:
            return None
        widths = np.asarray(pad.attrs["paddings"]).reshape(-1, 2)
        padded = [axis for axis, (before, after) in enumerate(widths) if before or after]
        if len(padded) != 1:
            return None
        pieces.append((padded[0], int(widths[padded[0]][0]), pad.operands[0]))
    axes = {axis for axis, _, _ in pieces}
    if len(axes) != 1:
        return None
    (axis,) = axes
    start = 0
    for _, before, piece in sorted(pieces, key=lambda p: p[1]):
        if before != start:
            return None  # a gap or an overlap: not a tiling
        start += piece.type.shape[axis]
    if start != inst.result.type.shape[axis]:
        return None
    ordered = tuple(piece for _, _, piece in sorted(pieces, key=lambda p: p[1]))
    return rewriter.emit("concat", ordered, {"axis": axis}, inst.result.type)


def _slice_of_product(inst: Instruction, definitions: dict, rewriter: "Rewriter") -> Optional[Value]:
    """slice(a @ b) -> slice(a) @ slice(b) where the slice is the product's only use: the product of
    the rows of a and the columns of b the slice keeps (through a transpose flag, a slice of the other
    axis). The gradient of an LSTM's [x, h] concat keeps dh only, the last 128 of dx's 156 columns: the
    input gradient dgates @ Kᵀ then multiplies by K's last 128 rows, a contiguous run of K (a view, no
    copy), and the product is 18 % smaller. A slice of a whole operand axis leaves that operand alone."""
    product = definitions.get(inst.operands[0].id)
    if product is None or product.op != "matmul" or rewriter.uses.get(product.result.id, 0) != 1:
        return None
    a, b = product.operands
    (row, column), (rows, columns) = inst.attrs["begin"], inst.result.type.shape
    m, n = product.result.type.shape
    if (rows, columns) == (m, n) or not (0 <= row <= m - rows and 0 <= column <= n - columns):
        return None  # the whole product, or out of bounds: the slice's kernel fails the run, as TF's does

    def sliced(operand: Value, begin: int, size: int, axis: int) -> Value:
        if operand.type.shape[axis] == size:
            return operand
        shape = list(operand.type.shape)
        shape[axis] = size
        starts = [0, 0]
        starts[axis] = begin
        return rewriter.emit("slice", (operand,), {"begin": tuple(starts), "size": tuple(shape)},
                             type(operand.type)(operand.type.dtype, tuple(shape)))

    a = sliced(a, row, rows, 1 if product.attrs["transpose_a"] else 0)
    b = sliced(b, column, columns, 0 if product.attrs["transpose_b"] else 1)
    return rewriter.emit("matmul", (a, b), dict(product.attrs), inst.result.type)


RULES: dict[str, list[Callable]] = {
    "matmul": [_matmul_of_vectors],                       # products with a dimension of 1
    "slice": [_slice_of_product],                         # slice(a @ b) -> slice(a) @ slice(b), one use
    "add_n": [_padded_pieces],                            # pad(a) + pad(b) tiling an axis -> concat(a, b)
    "mul": [_identity_operand(1, commutative=True)],      # x*1 -> x, 1*x -> x
    "add": [_identity_operand(0, commutative=True)],      # x+0 -> x, 0+x -> x
    "sub": [_identity_operand(0, commutative=False)],     # x-0 -> x
    "div": [_identity_operand(1, commutative=False)],     # x/1 -> x
    "neg": [_involution],                                 # --x -> x
    "logical_not": [_involution],                         # !!x -> x
    "reshape": [_to_own_type, _reshape_chain],            # reshape to own shape; reshape chains
    "broadcast_to": [_to_own_type],                       # broadcast to own shape
    "cast": [_to_own_type],                               # cast to own dtype
    "transpose": [_transpose_identity],                   # identity and inverse transposes
    "reduce_sum": [_reduce_nothing],                      # sum over no axes
    "reduce_mean": [_reduce_nothing],
    "reduce_max": [_reduce_nothing],
    "reduce_min": [_reduce_nothing],
}


class Rewriter:
    """Lets a rule add instructions (placed where the instruction it rewrites was)."""

    def __init__(self, next_id: int):
        self.next_id = next_id
        self.added: list[Instruction] = []
        self.source = ""
        self.uses: dict[int, int] = {}  # value id -> how many operands and fetches read it

    def emit(self, op: str, operands: tuple, attrs: dict, type_) -> Value:
        value = Value(self.next_id, type_)
        self.next_id += 1
        self.added.append(Instruction(op, value, operands, attrs, self.source))
        return value

    def reshape(self, value: Value, shape: tuple) -> Value:
        return self.emit("reshape", (value,), {"shape": shape}, type(value.type)(value.type.dtype, shape))


def simplify(program: Program) -> Program:
    """Applies RULES until nothing changes; replaced instructions are dropped (their uses
    now read the replacement), so the rules never leave dead code behind."""
    while True:
        definitions = program.definitions()
        replacement: dict[int, Value] = {}
        rewriter = Rewriter(program.next_id)
        rewriter.uses = program.uses()
        instructions = []
        for inst in program.instructions:
            inst = inst.replace(operands=tuple(replacement.get(o.id, o) if isinstance(o, Value) else o
                                               for o in inst.operands))
            value = None
            for rule in (RULES.get(inst.op, []) if inst.result is not None else []):
                rewriter.source, mark = inst.source, len(rewriter.added)
                value = rule(inst, definitions, rewriter)
                if value is not None:
                    break
                del rewriter.added[mark:]
            if value is None:
                instructions.append(inst)
                continue
            # A rule reads its operands' definitions as they were: their operands may be replaced already.
            added = [i.replace(operands=tuple(_resolve(o, replacement) for o in i.operands)) for i in rewriter.added]
            instructions.extend(added)
            definitions.update((i.result.id, i) for i in added)
            rewriter.added = []
            replacement[inst.result.id] = replacement.get(value.id, value)
        if not replacement:
            return program
        fetches = tuple(_resolve(v, replacement) for v in program.fetches)
        program = program.replace(instructions=tuple(instructions), fetches=fetches, next_id=rewriter.next_id)


def _resolve(value, replacement: dict):
    while isinstance(value, Value) and value.id in replacement:
        value = replacement[value.id]
    return value

