"""The main pass of a reduce kernel whose innermost (coalesced) dimension is reduced: each
output's elements come as runs along that dimension (each row of a row sum, the whole
input of a full sum), read a vector at a time.

A run is cut into leaves of LEAF_STEPS x VECTORS x lanes elements. Within a leaf, element i
goes to lane i mod lanes of accumulator vector (i / lanes) mod VECTORS (a leftover tail of
fewer than `lanes` elements is read one element at a time into the same lanes); the leaves
of an output, over all its runs, are added pairwise (summation.Cascade), and the lanes of
the result by a fixed tree (summation.total). A float32 sum of 1e8 elements thus passes
through at most 16 + 18 + 5 roundings per element instead of up to 1e8.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir

from graphc.backend import target
from graphc.backend.kernel_builder import I32, KernelBuilder, i64
from graphc.backend.kernels.reduction import Accumulator, Streams, advance, flat_coordinates, step
from graphc.backend.kernels.summation import Cascade, total
from graphc.backend.loops import emit_loops
from graphc.core import dtypes

VECTORS = 4  # accumulator vectors: independent chains for the CPU to overlap
LEAF_STEPS = 16  # additions per lane within a leaf


class RunReduction:
    """Reduces [..., run] (coalesced shape and stream strides, the last dimension reduced) into
    its outputs, each computed whole and stored once, its `Accumulator.result`. Sibling reductions
    (one accumulator per reduced value of `streams`, each into its own output) share the pass: each
    adds its elements in the order it would alone."""

    def __init__(self, kb: KernelBuilder, accumulators: list, streams: Streams, shape, strides):
        assert len(accumulators) == len(streams.source_ids)
        self.kb, self.accumulators, self.streams = kb, accumulators, streams
        self.shape, self.strides = list(shape), strides
        last = len(shape) - 1
        self.run = shape[last]
        self.inner = [s[last] for s in strides]
        self.kept, self.across = streams.split_outer(strides)  # across: reduced dimensions outside runs
        self.runs = math.prod(shape[d] for d in self.across)
        # Lanes of a float32 vector register for every dtype, as the periodic paths: the body may mix dtypes.
        self.lanes = target.lanes(dtypes.float32)
        self.group = VECTORS * self.lanes
        self.leaf_size = LEAF_STEPS * self.group
        self.leaves_per_run = -(-self.run // self.leaf_size)
        self.leaves = self.runs * self.leaves_per_run

    def emit(self, outs: list, outer=None) -> None:
        """Every output (those of outermost kept rows [begin, end) with `outer`) into `outs`, one
        output buffer per accumulator."""
        kept_shape = [self.shape[d] for d in self.kept]
        kept_strides = [[s[d] for d in self.kept] for s in self.strides]
        emit_loops(self.kb, kept_shape, kept_strides, lambda offsets: self._output(outs, offsets), outer)

    def _combine(self, accumulator):
        return lambda x, y: accumulator.combine(self.kb, x, y)

    def _output(self, outs, offsets) -> None:
        kb, b = self.kb, self.kb.b
        cascades = [Cascade(kb, a.dtype_of_sums, self.group, self.leaves, self._combine(a))
                    for a in self.accumulators] if self.leaves > 1 else None
        if self.runs == 1:
            vectors = self._run(offsets, cascades, i64(0))
        else:
            with kb.loop(self.runs, "run") as run:
                coordinates = flat_coordinates(b, run, [self.shape[d] for d in self.across])
                start = offsets
                for d, coordinate in zip(self.across, coordinates):
                    start = advance(b, start, [s[d] for s in self.strides], coordinate)
                self._run(start, cascades, b.mul(run, i64(self.leaves_per_run)))
        if cascades is not None:
            vectors = []
            for cascade, accumulator in zip(cascades, self.accumulators):
                cascade.finish()
                vectors.append([kb.load_vector(cascade.leaf, accumulator.dtype_of_sums, i64(v * self.lanes),
                                               self.lanes) for v in range(VECTORS)])
        for accumulator, out, vectors_k in zip(self.accumulators, outs, vectors):
            value = total(kb, self._combine(accumulator), vectors_k)
            kb.store(out, accumulator.dtype, offsets[self.streams.out], accumulator.result(kb, value))

    def _run(self, offsets, cascades, first_leaf):
        """One run's leaves, pushed to the cascades (numbered from `first_leaf`); without cascades
        (a single leaf in all) returns each accumulator's vectors."""
        kb, b = self.kb, self.kb.b
        full, rest = divmod(self.run, self.leaf_size)
        vectors = None

        def leaf(start, size, index):
            vectors = self._leaf(start, size)
            if cascades is not None:
                for cascade, accumulator, vectors_k in zip(cascades, self.accumulators, vectors):
                    for v, vector in enumerate(vectors_k):
                        kb.store_vector(cascade.leaf, accumulator.dtype_of_sums, i64(v * self.lanes), vector)
                    cascade.push(index)
            return vectors

        if full == 1:
            vectors = leaf(offsets, self.leaf_size, first_leaf)
        elif full > 1:
            with kb.loop(full, "leaf") as j:
                leaf(advance(b, offsets, self.inner, b.mul(j, i64(self.leaf_size))), self.leaf_size,
                     b.add(first_leaf, j))
        if rest:
            vectors = leaf(step(b, offsets, self.inner, full * self.leaf_size), rest, b.add(first_leaf, i64(full)))
        return vectors

    def _leaf(self, offsets, size: int) -> list:
        """Each accumulator's vectors of the `size` elements of a run from `offsets` on."""
        kb, b, lanes = self.kb, self.kb.b, self.lanes
        with kb.vector_lanes(lanes):
            identities = [accumulator.identity(kb) for accumulator in self.accumulators]
        slots = [[kb.variable(identity.type, identity) for _ in range(VECTORS)] for identity in identities]

        def add(v, xs):
            with kb.vector_lanes(lanes):
                for accumulator, slots_k, identity, x in zip(self.accumulators, slots, identities, xs):
                    kb.set(slots_k[v], accumulator.combine(kb, kb.get(slots_k[v], identity.type), x))

        def vectors_at(start):
            reduced = self.streams.vector(start, self.inner, lanes)
            with kb.vector_lanes(lanes):
                return [accumulator.widen(kb, x) for accumulator, x in zip(self.accumulators, reduced)]

        steps, left = divmod(size, self.group)
        if steps:
            with kb.loop(steps, "step") as s:
                start = advance(b, offsets, self.inner, b.mul(s, i64(self.group)))
                for v in range(VECTORS):
                    add(v, vectors_at(step(b, start, self.inner, v * lanes)))
        vectors, tail = divmod(left, lanes)
        first = steps * self.group
        for v in range(vectors):
            add(v, vectors_at(step(b, offsets, self.inner, first + v * lanes)))
        if tail:
            first += vectors * lanes
            gathered = list(identities)
            for lane in range(tail):
                reduced = self.streams.scalar(step(b, offsets, self.inner, first + lane))
                gathered = [b.insert_element(g, accumulator.widen(kb, x), ir.Constant(I32, lane))
                            for g, accumulator, x in zip(gathered, self.accumulators, reduced)]
            add(vectors, gathered)
        return [[kb.get(slot, identity.type) for slot in slots_k] for slots_k, identity in zip(slots, identities)]
