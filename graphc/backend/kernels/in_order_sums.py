"""The float64 sum and sum of squares of a tensor's values added one after another, as TF1's
Histogram::Add does (`sum_ += v; sum_squares_ += v * v`), bit for bit, but without a dependency chain
of one addition a value: each block of BLOCK values is added at once, in vector lanes, when its result
provably equals the in-order one, and one by one otherwise.

Rounding in the chain is predictable. Let s be the running sum at a block's start:

- Exact (`_exact`): T = |s| + sum |x| in binade e_T, q = e_T - 52. If s and every x are multiples of
  2^q, no partial sum, in any order, rounds (they are multiples of 2^q below 2^(q+53)): the result is
  s + sum x, in any order. This covers s near zero and float32 values (their float64 bits end in 29
  zeros): their sum nearly always takes it.
- Grid (`_grid`): s in the binade [M, 2M) in magnitude (M = 2^e), whose ulp is g = 2^-52 M. While an
  exact s_k + x stays strictly inside that binade, RN(s_k + x) = s_k + RN_g(x) for s_k a multiple of g,
  RN_g rounding to a multiple of g, unless x is a tie (x - RN_g(x) = ±g/2: ties-to-even then depends
  on s_k). r = RN_g(x) is (x + 1.5M) - 1.5M for |x| < M/2. If lo = s + (the negative r) and hi = s +
  (the positive r), widened by g a value when there are ties, lie strictly inside the binade on s's
  side, every in-order partial sum lies in [lo, hi], so every addition rounds as predicted: the block
  adds sum r (exact in any order: multiples of g, totals below M), a vector with a tie in order.
- Otherwise (s small and not exact, a binade crossed, a value not finite or too large): the block's
  values one by one, in order.

The squares usually take the grid (a quarter of the MLP's 64-value blocks hold a tie). Every check is
ordered, false for NaN: a NaN or an infinity anywhere sends the block to the in-order path, where a
value that is not finite adds +0.0 (the summary fails on it anyway).

Measured (docs/performance-notes.md, hist, 2026-12-04): 0.64 ns a value for both sums alone, against
0.92 for the chains, but throughput-bound, so no longer hidden behind the counting as the chains were.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir

from graphc.backend.kernel_builder import F64, I1, I32, I64, KernelBuilder, declare, i64
from graphc.backend.loops import horizontal
from graphc.backend.scalar_ops import convert
from graphc.core import dtypes

LANES = 8  # float64 lanes of a vector (AVX-512)
VECTORS = 8  # vectors of a block
BLOCK = LANES * VECTORS  # values added at once when the block's checks pass
_EXPONENT = 0x7FF << 52


class InOrderSums:
    """The two sums of a kernel's values, in F64 locals: blocks of BLOCK values added by `add_block`,
    in order, then the values past the last block by `add_in_order`."""

    def __init__(self, kb: KernelBuilder, source, dtype):
        self.kb, self.source, self.dtype = kb, source, dtype
        self.slots = [kb.variable(F64, ir.Constant(F64, 0.0)) for _ in range(2)]  # of the values, their squares

    def add_block(self, vectors: list, first) -> None:
        """Adds the block of values from index `first`, loaded as VECTORS vectors of LANES."""
        kb, b = self.kb, self.kb.b
        with kb.vector_lanes(LANES):  # not finite: NaN or infinite, which every path's checks refuse
            values = [convert(kb, v, self.dtype, dtypes.float64) for v in vectors]
            squares = [b.fmul(x, x) for x in values]
        with kb.vector_lanes(1):  # scalars, but for the paths' own vector parts
            for slot, addends, square, paths in ((self.slots[0], values, False, (_exact, _grid)),
                                                 (self.slots[1], squares, True, (_grid, _exact))):
                _add_block(kb, slot, addends, square, paths, lambda s=slot, q=square: _add_in_order(
                    kb, s, self.source, self.dtype, first, BLOCK, q))

    def add_in_order(self, first, count: int) -> None:
        """Adds the `count` values from index `first` one by one."""
        with self.kb.vector_lanes(1):
            for slot, square in zip(self.slots, (False, True)):
                _add_in_order(self.kb, slot, self.source, self.dtype, first, count, square)

    def results(self) -> list:
        """[sum, sum of squares] so far."""
        return [self.kb.get(slot, F64) for slot in self.slots]


def _add_block(kb: KernelBuilder, slot, addends: list, nonnegative: bool, paths, in_order) -> None:
    """Adds the block's `addends` (vectors) to the sum in `slot` by the first of `paths` whose checks
    pass, else by `in_order()`."""
    b = kb.b
    done = kb.function.append_basic_block("sums.added")
    s = kb.get(slot, F64)
    for path in paths:
        passed, add = path(kb, s, addends, nonnegative)
        taken, following = (kb.function.append_basic_block(f"sums.{path.__name__[1:]}.{part}")
                            for part in ("taken", "next"))
        b.cbranch(passed, taken, following)
        b.position_at_end(taken)
        kb.set(slot, add())
        b.branch(done)
        b.position_at_end(following)
    in_order()
    b.branch(done)
    b.position_at_end(done)


def _add_in_order(kb: KernelBuilder, slot, source, dtype, first, count: int, square: bool) -> None:
    """Adds the `count` values from `first` (or their squares) to the sum in `slot`, one by one; a value
    that is not finite adds +0.0 (the summary fails on it; +0.0 changes no partial sum)."""
    b = kb.b
    with kb.loop(count, "sums.in_order") as i:
        value = convert(kb, kb.load(source, dtype, b.add(first, i)), dtype, dtypes.float64)
        finite = b.fcmp_ordered("<", kb.intrinsic("fabs", dtypes.float64, [value]), ir.Constant(F64, math.inf))
        value = b.select(finite, value, ir.Constant(F64, 0.0))
        kb.set(slot, b.fadd(kb.get(slot, F64), b.fmul(value, value) if square else value))


def _exact(kb: KernelBuilder, s, addends: list, nonnegative: bool):
    """(passed, add): passed when no partial sum of s and the addends rounds, in any order; add() emits
    s + their total.

    T = |s| + sum |x| (computed) sets q = e_T - 52, 2^q the ulp of T's binade: if s and every x are
    multiples of 2^q, the partial sums of |x| are exact until they pass 2^(q+53) = 2^(e_T+1), and past it
    they would stay past it (rounding is monotone): T is exact and below it, and so is every partial sum
    in any order. For T >= 2^52 (2^q >= 1) the scaled x * 2^-q could underflow: refused."""
    b = kb.b

    def fabs(x):
        return x if nonnegative else kb.intrinsic("fabs", dtypes.float64, [x])

    with kb.vector_lanes(LANES):
        magnitude = horizontal(kb, b.fadd, _tree(addends, b.fadd, fabs))
    bound = b.fadd(kb.intrinsic("fabs", dtypes.float64, [s]), magnitude)
    # 2^-q = 2^(52 - e_T): biased exponent 2098 - T's (at most the largest finite one: a larger q only
    # asks more of the values, and its bound 2^(q+53) is above T all the same).
    exponent = b.sub(ir.Constant(I64, 2098), b.lshr(b.bitcast(bound, I64), ir.Constant(I64, 52)))
    exponent = b.select(b.icmp_signed("<", exponent, ir.Constant(I64, 2046)), exponent, ir.Constant(I64, 2046))
    scale = b.bitcast(b.shl(exponent, ir.Constant(I64, 52)), F64)

    def off_grid(x, factor):
        scaled = b.fmul(x, factor)
        return b.fcmp_unordered("!=", kb.intrinsic("trunc", dtypes.float64, [scaled]), scaled)

    with kb.vector_lanes(LANES):
        factor = kb.broadcast(scale)
        off = _tree(addends, b.or_, lambda x: off_grid(x, factor))
        any_off = b.call(declare(kb.module, f"llvm.vector.reduce.or.v{LANES}i1", I1, [off.type]), [off])
    passed = b.and_(b.fcmp_ordered("<", bound, ir.Constant(F64, 2.0 ** 52)),
                    b.not_(b.or_(any_off, off_grid(s, scale))))

    def add():
        with kb.vector_lanes(LANES):
            return b.fadd(s, horizontal(kb, b.fadd, _tree(addends, b.fadd)))

    return passed, add


def _grid(kb: KernelBuilder, s, addends: list, nonnegative: bool):
    """(passed, add): passed when every in-order partial sum stays strictly inside s's binade, whatever
    its ties do (each within g of its r: a slack of the block's length times g); add() emits s + the
    addends rounded to s's ulp, one vector at a time (in order within one) when some are ties."""
    b = kb.b
    binade = b.bitcast(b.and_(b.bitcast(s, I64), ir.Constant(I64, _EXPONENT)), F64)  # M = 2^e, 0 for s = 0
    reduce_or = declare(kb.module, f"llvm.vector.reduce.or.v{LANES}i1", I1, [ir.VectorType(I1, LANES)])
    with kb.vector_lanes(LANES):
        shift, half_ulp, reach = (kb.broadcast(b.fmul(binade, ir.Constant(F64, factor)))
                                  for factor in (1.5, 2.0 ** -53, 0.5))
        zero = kb.constant(dtypes.float64, 0.0)
        rounded, ties, far = [], [], []
        for x in addends:
            r = b.fsub(b.fadd(x, shift), shift)  # RN_g(x) while |x| < M / 2
            rounded.append(r)
            ties.append(b.fcmp_ordered("==", kb.intrinsic("fabs", dtypes.float64, [b.fsub(x, r)]), half_ulp))
            far.append(b.fcmp_unordered(">=", kb.intrinsic("fabs", dtypes.float64, [x]) if not nonnegative else x,
                                        reach))  # and NaN
        if nonnegative:
            positive, negative = horizontal(kb, b.fadd, _tree(rounded, b.fadd)), ir.Constant(F64, 0.0)
        else:
            positive, negative = (horizontal(kb, b.fadd, _tree(rounded, b.fadd, lambda r, o=order: b.select(
                b.fcmp_ordered(o, r, zero), r, zero))) for order in (">", "<"))
        any_far, any_tie = (b.call(reduce_or, [_tree(masks, b.or_)]) for masks in (far, ties))
    slack = b.select(any_tie, b.fmul(binade, ir.Constant(F64, BLOCK * 2.0 ** -52)), ir.Constant(F64, 0.0))
    top = b.fmul(binade, ir.Constant(F64, 2.0))
    high = b.fadd(s, positive)  # exact when inside the binade, as the sums of the rounded values are
    ends = (b.fsub(b.fadd(s, negative), slack), b.fadd(high, slack))
    inside = [b.and_(b.fcmp_ordered(">", magnitude, binade), b.fcmp_ordered("<", magnitude, top))
              for magnitude in (kb.intrinsic("fabs", dtypes.float64, [end]) for end in ends)]
    same_side = b.icmp_unsigned("==", *(b.fcmp_ordered(">", end, ir.Constant(F64, 0.0)) for end in ends))
    passed = b.and_(b.and_(b.not_(any_far), same_side), b.and_(*inside))

    def add():
        result = kb.variable(F64)
        with b.if_else(any_tie, likely=False) as (some_ties, none):
            with some_ties:
                kb.set(result, s)
                for x, r, tie in zip(addends, rounded, ties):
                    _add_vector(kb, result, x, r, b.call(reduce_or, [tie]))
            with none:
                kb.set(result, b.fadd(high, negative))
        return kb.get(result, F64)

    return passed, add


def _add_vector(kb: KernelBuilder, slot, x, r, tie) -> None:
    """Adds a vector of addends x, r their rounded values, to the sum in `slot`: the total of r when no
    lane is a tie, else the lanes one by one."""
    b = kb.b
    with b.if_else(tie, likely=False) as (in_order, rounded):
        with in_order:
            for lane in range(LANES):
                kb.set(slot, b.fadd(kb.get(slot, F64), b.extract_element(x, ir.Constant(I32, lane))))
        with rounded:
            with kb.vector_lanes(LANES):
                kb.set(slot, b.fadd(kb.get(slot, F64), horizontal(kb, b.fadd, r)))


def _tree(vectors: list, combine, each=lambda x: x):
    """combine() over each(vector) of `vectors`, as a balanced tree (independent operations)."""
    level = [each(v) for v in vectors]
    while len(level) > 1:
        level = [combine(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    return level[0]
