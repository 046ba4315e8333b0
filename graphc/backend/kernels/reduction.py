"""What every path of the fused reduce kernel (reduce.py) shares: the reduction's arithmetic
(`Accumulator`) and the streams its main pass reads and writes (`Streams`)."""

from __future__ import annotations

import llvmlite.ir as ir

from graphc.backend.kernel_builder import I1, I32, KernelBuilder, i64
from graphc.backend.scalar_ops import compare_integers, convert
from graphc.core import dtypes
from graphc.core.registry import Reduction


class Accumulator:
    """A reduction (a sum, product, mean, maximum or minimum; any or all of bools: registry facts)
    of `count` elements of `dtype` each: its starting value, how it combines, and the result it stores.

    A mean of int32 or a narrower integer accumulates in int64, as TF's does: the mean of
    [2**31 - 1] * 2 + [2] is 1431655765, not the wrapped sum's 0. float16 accumulates in
    float32, as TF's does (the sum of 5000 float16 ones is 5000, not 2048). Every other
    reduction accumulates in its own dtype (integer sums wrap, as TF's do). Values take the
    builder's lane count (kb.lanes).
    """

    def __init__(self, reduction: Reduction, dtype, count: int):
        self.reduction, self.dtype, self.count = reduction, dtype, count
        self.dtype_of_sums = _dtype_of_sums(reduction, dtype)

    def identity(self, kb: KernelBuilder):
        """The starting value (registry facts: zero, one, the dtype's lowest or highest)."""
        dtype = self.dtype_of_sums
        if self.reduction.identity in ("zero", "one"):  # for bools: false, true
            return kb.constant(dtype, 0 if self.reduction.identity == "zero" else 1)
        lowest = self.reduction.identity == "lowest"
        if dtype.is_floating:
            return kb.constant(dtype, float("-inf") if lowest else float("inf"))
        return kb.constant(dtype, int(dtype.min if lowest else dtype.max))

    def combine(self, kb: KernelBuilder, accumulated, x):
        """accumulated (+) x: add, multiply, maximum, minimum, or, and."""
        b, dtype, combine = kb.b, self.dtype_of_sums, self.reduction.combine
        if combine == "add":
            return b.fadd(accumulated, x) if dtype.is_floating else b.add(accumulated, x)
        if combine == "multiply":
            return b.fmul(accumulated, x) if dtype.is_floating else b.mul(accumulated, x)
        if combine in ("or", "and"):  # bools, i1 in registers
            return b.or_(accumulated, x) if combine == "or" else b.and_(accumulated, x)
        if dtype.is_floating:  # NaN propagates, as np.max and TF's reduce_max do
            return kb.intrinsic(self.reduction.combine, dtype, [accumulated, x])
        predicate = ">" if self.reduction.combine == "maximum" else "<"
        return b.select(compare_integers(kb, dtype, predicate, x, accumulated), x, accumulated)

    def widen(self, kb: KernelBuilder, x):
        """An element of the input as an accumulator value."""
        return convert(kb, x, self.dtype, self.dtype_of_sums)

    def result(self, kb: KernelBuilder, accumulated):
        """The value stored for an output: a mean's sum divided by the count (truncating for
        integers, as TF), in the result's dtype."""
        b = kb.b
        if self.reduction.mean and (self.count or self.dtype.is_floating):  # TF's mean of nothing: NaN, integer 0
            count = kb.constant(self.dtype_of_sums, self.count)
            accumulated = b.fdiv(accumulated, count) if self.dtype.is_floating else b.sdiv(accumulated, count)
        return convert(kb, accumulated, self.dtype_of_sums, self.dtype)


def _dtype_of_sums(reduction: Reduction, dtype):
    if dtype is dtypes.float16:
        return dtypes.float32
    if reduction.combine == "multiply" and dtype is dtypes.float32:
        # A float32 product in float64, rounded once, as its reference: [0, 5e37, -100, ...] is -0.0, where
        # float32 partial products overflow to inf first and 0 * inf is NaN (or not, by their order).
        return dtypes.float64
    if reduction.mean and dtype.is_integer and dtype.size <= dtypes.int32.size:
        return dtypes.int64
    return dtype


class Streams:
    """The streams of a reduce kernel's main pass and its elementwise body on them.

    Offsets and strides come in one list per element: the loads (`main`'s inputs, then
    the reduced values `main` does not produce), the output, then the stores
    (materialized values and variable writes of `main`). `scalar` and `vector` evaluate
    the body at one element or at `lanes` consecutive ones of the innermost dimension,
    store what it materializes, and return the reduced values: one per id of
    `source_ids` (several for sibling reductions sharing the pass), each a value of
    `main` or one of the loads after its inputs, whose ids are `loaded_ids`.
    """

    def __init__(self, kb: KernelBuilder, main, loads: list, stores: list, source_ids: list, loaded_ids: list):
        self.kb, self.main, self.loads, self.stores, self.source_ids = kb, main, loads, stores, source_ids
        self.loaded_ids = loaded_ids
        self.out = len(loads)  # the output's position in offset and stride lists

    def split_outer(self, strides) -> tuple:
        """The dimensions before the innermost: (kept ones, reduced ones), by the output's stride (0 if reduced)."""
        outer = range(len(strides[self.out]) - 1)
        return ([d for d in outer if strides[self.out][d] != 0], [d for d in outer if strides[self.out][d] == 0])

    def evaluate(self, inputs: list, lanes: int = 1) -> tuple:
        """(the body's values by id, the reduced values) given each load's element or vector."""
        with self.kb.vector_lanes(lanes):
            values = self.main.evaluate(self.kb, lambda value, it=iter(inputs): next(it))
        values.update(zip(self.loaded_ids, inputs[len(self.main.inputs):]))
        return values, [values[source] for source in self.source_ids]

    def scalar(self, offsets):
        kb = self.kb
        values, reduced = self.evaluate([kb.load(pointer, dtype, offset)
                                         for (pointer, dtype), offset in zip(self.loads, offsets)])
        for (pointer, dtype, value_id), offset in zip(self.stores, offsets[self.out + 1:]):
            kb.store(pointer, dtype, offset, values[value_id])
        return reduced

    def vector(self, offsets, inner_strides, lanes: int, count: int = None):
        """The body at elements offset + i * inner stride, i < lanes, of every stream; with `count`, a
        last, partial vector: only its first `count` elements are read and stored (the other lanes
        compute on ones, so that no lane divides by a zero it never read, and are the caller's to drop)."""
        inputs = [self._read(pointer, dtype, offset, stride, lanes, count)
                  for (pointer, dtype), offset, stride in zip(self.loads, offsets, inner_strides)]
        values, reduced = self.evaluate(inputs, lanes)
        for (pointer, dtype, value_id), offset, stride in zip(self.stores, offsets[self.out + 1:],
                                                              inner_strides[self.out + 1:]):
            self._write(pointer, dtype, offset, stride, values[value_id], count)
        return reduced

    def maskable(self) -> bool:
        """Whether every stream's dtype is in registers as in memory, so `vector` can take a `count`."""
        return all(dtype in MASKED_DTYPES for _, dtype in self.loads) and all(
            dtype in MASKED_DTYPES for _, dtype, _ in self.stores)

    def _read(self, pointer, dtype, offset, stride: int, lanes: int, count):
        kb, b = self.kb, self.kb.b
        if stride == 0:
            return kb.broadcast(kb.load(pointer, dtype, offset), lanes)
        if stride == 1 and count is None:
            return kb.load_vector(pointer, dtype, offset, lanes)
        if stride == 1:
            ones = kb.constant(dtype, 1, lanes)
            return kb.load_vector_masked(pointer, dtype, offset, first_lanes(count, lanes), ones)
        vector = kb.constant(dtype, 1, lanes)
        for lane in range(lanes if count is None else count):
            element = kb.load(pointer, dtype, b.add(offset, i64(lane * stride)))
            vector = b.insert_element(vector, element, ir.Constant(I32, lane))
        return vector

    def _write(self, pointer, dtype, offset, stride: int, vector, count) -> None:
        kb, b = self.kb, self.kb.b
        if stride == 1 and count is None:
            kb.store_vector(pointer, dtype, offset, vector)
        elif stride == 1:
            kb.store_vector_masked(pointer, dtype, offset, vector, first_lanes(count, vector.type.count))
        else:
            for lane in range(vector.type.count if count is None else count):
                element = b.extract_element(vector, ir.Constant(I32, lane))
                kb.store(pointer, dtype, b.add(offset, i64(lane * stride)), element)


# The dtypes a partial vector is read and stored in under a mask (bool and float16 change form on loading).
MASKED_DTYPES = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)


def first_lanes(count: int, lanes: int) -> ir.Constant:
    """The mask of a vector's first `count` lanes."""
    return ir.Constant(ir.VectorType(I1, lanes), [int(lane < count) for lane in range(lanes)])


def advance(b, offsets, strides, index):
    """Each stream's offset moved `index` (i64) steps along a dimension with these strides."""
    return [offset if stride == 0 else b.add(offset, b.mul(index, i64(stride)))
            for offset, stride in zip(offsets, strides)]


def step(b, offsets, strides, count: int):
    """Each stream's offset moved a constant `count` steps."""
    return [offset if stride * count == 0 else b.add(offset, i64(stride * count)) for offset, stride in
            zip(offsets, strides)]


def flat_coordinates(b, index, extents):
    """The row-major coordinates of flat `index` (i64, inside the box) in a box of `extents`."""
    coordinates = []
    for extent in reversed(extents[1:]):  # the outermost coordinate is what is left: no division
        coordinates.append(b.urem(index, i64(extent)))
        index = b.udiv(index, i64(extent))
    return ([index] if extents else []) + coordinates[::-1]

