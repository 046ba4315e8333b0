"""How kernels combine partial results so that the rounding error of a sum does not grow
with its length, in an order fixed at compile time.

A float32 sum accumulated one element at a time stops growing at 2**24 (the sum of 20 M
ones) and loses about one ulp of the total per element added. Every long sum here is
instead built from

- leaves: a fixed number of elements accumulated lane by lane (lane k of a vector group
  takes elements k, k + lanes, ...: a short chain per lane);
- a `Cascade` that adds leaves pairwise: leaves 2j and 2j+1, then pairs of those, ...,
  so a leaf's sum passes through at most log2(leaves) more additions;
- `total`: the lanes of the final vector group added by a fixed tree of halves, the
  way Eigen (so TensorFlow) folds its packet accumulators: float64
  sum([1e16, 1, -1e16, 1]) is (1e16 + -1e16) + (1 + 1) = 2, as TF 2.21 answers.

The order depends on the shapes alone, never on the thread count or the data.
"""

from __future__ import annotations

from typing import Callable

import llvmlite.ir as ir

from graphc.backend import target
from graphc.backend.kernel_builder import I1, I64, KernelBuilder, declare, i64, memory_type, register_type
from graphc.backend.loops import horizontal


def total(kb: KernelBuilder, combine: Callable, vectors: list):
    """combine() over every lane of `vectors` (a power of two of them, each a power of two of
    lanes) as one fixed tree: the group's halves lane by lane, then `loops.horizontal`."""
    while len(vectors) > 1:
        half = len(vectors) // 2
        with kb.vector_lanes(vectors[0].type.count):
            vectors = [combine(vectors[i], vectors[i + half]) for i in range(half)]
    return horizontal(kb, combine, vectors[0])


# Rows of at most this many vectors are walked with constant offsets, not a loop, so that
# LLVM keeps a row indexed only by them (a leaf) in registers.
UNROLLED_VECTORS = 8


def each_vector(kb: KernelBuilder, vectors: int, lanes: int, body) -> None:
    """body(c) for c = 0, lanes, ..., (vectors - 1) * lanes: constants up to UNROLLED_VECTORS, else a loop."""
    if vectors <= UNROLLED_VECTORS:
        for v in range(vectors):
            body(i64(v * lanes))
    else:
        with kb.loop(vectors, "vector") as v:
            body(kb.b.mul(v, i64(lanes)))


class Cascade:
    """Pairwise sums of `leaves` rows of `width` elements of `dtype`, in the kernel's stack frame.

    The caller computes leaf t (t = 0, 1, ... in order) into `self.leaf` and calls push(t).
    Slot k then holds the sum of a run of 2**k leaves when bit k of the leaves pushed so far
    is set: push(t) adds leaf t to the slots of the trailing one bits of t (the earlier sum
    on the left) and stores the result in the next slot, as a binary counter carries.
    finish() adds the remaining slots. `combine(a, b)` works on vectors. Rows are padded to
    whole vectors (`self.padded` elements), so every pass over them is vector code; the
    padding's values are never used.

    At most FEW_LEAVES leaves are simply added in order (a chain that short rounds no worse
    than the tree, and its code compiles in a fraction of the time).
    """

    FEW_LEAVES = 8

    def __init__(self, kb: KernelBuilder, dtype, width: int, leaves: int, combine: Callable):
        self.kb, self.dtype, self.width, self.leaves, self.combine = kb, dtype, width, leaves, combine
        self.lanes = target.lanes(dtype)
        self.leaf_type = ir.VectorType(register_type(dtype), self.lanes)  # a bool leaf is i1 in registers
        self.padded = -(-width // self.lanes) * self.lanes
        self.slot_count = 1 if leaves <= self.FEW_LEAVES else leaves.bit_length()
        element = memory_type(dtype)
        self.slots = kb.local_array(element, self.slot_count * self.padded)
        self.leaf = kb.local_array(element, self.padded)

    def _slot(self, k):
        b = self.kb.b
        offset = b.mul(k, i64(self.padded)) if isinstance(k, ir.Value) else i64(k * self.padded)
        return b.gep(self.slots, [offset], inbounds=True, source_etype=memory_type(self.dtype))

    def _chunks(self, width: int, body) -> None:
        """body(c, count) for the vectors covering the first `width` elements of a row (count < lanes
        only for a last, partial one)."""
        whole, rest = divmod(width, self.lanes)
        each_vector(self.kb, whole, self.lanes, lambda c: body(c, self.lanes))
        if rest:
            body(i64(whole * self.lanes), rest)

    def _into_leaf(self, c, count, value) -> None:
        self.kb.store_vector(self.leaf, self.dtype, c, value)

    def _vector(self, row, c):
        return self.kb.load_vector(row, self.dtype, c, self.lanes)

    def _add(self, earlier, later):
        with self.kb.vector_lanes(self.lanes):
            return self.combine(earlier, later)

    def push(self, index) -> None:
        """Adds `self.leaf`, leaf number `index` (i64), to the cascade."""
        kb, b = self.kb, self.kb.b
        if self.leaves <= self.FEW_LEAVES:  # slot 0 = leaf 0, then slot 0 + each leaf
            first = b.icmp_signed("==", index, i64(0))

            def add(c, count):
                leaf, total = self._vector(self.leaf, c), self._vector(self.slots, c)
                kb.store_vector(self.slots, self.dtype, c, b.select(first, leaf, self._add(total, leaf)))

            self._chunks(self.padded, add)
            return
        cttz = declare(kb.module, "llvm.cttz.i64", I64, [I64, I1])
        carries = b.call(cttz, [b.not_(index), ir.Constant(I1, 0)])  # the trailing one bits of index
        target = self._slot(carries)

        def carry(c, count):
            value = kb.variable(self.leaf_type, self._vector(self.leaf, c))
            with kb.loop(carries, "carry") as level:
                kb.set(value, self._add(self._vector(self._slot(level), c), kb.get(value, self.leaf_type)))
            kb.store_vector(target, self.dtype, c, kb.get(value, self.leaf_type))

        self._chunks(self.padded, carry)

    def finish(self, store=None) -> None:
        """store(c, count, vector) with the sum of every leaf pushed (all `leaves` of them), for the
        vectors covering the row's `width` elements (the first `count` lanes of each are in it);
        without `store`, into `self.leaf`."""
        store = store or self._into_leaf
        # Later leaves in lower slots; with few leaves, all in slot 0.
        filled = [0] if self.leaves <= self.FEW_LEAVES else [k for k in range(self.slot_count) if self.leaves >> k & 1]

        def total(c, count):
            value = self._vector(self._slot(filled[0]), c)
            for k in filled[1:]:
                value = self._add(self._vector(self._slot(k), c), value)
            store(c, count, value)

        self._chunks(self.width, total)
