"""GEMM generated as LLVM IR, BLIS-style: C[M,N] = op(A)[M,K] @ op(B)[K,N], float32/float64.

    for jc in [n0, n1) step NC:              a KC x NC block of B (sized for L3)
      for pc in [0, K) step KC:
        pack B into panels of NR columns, k-major (a task of few rows reads B's
          full panels in place instead: `GemmEmitter._direct_b`)
        for ic in [m0, m1) step MC:          an MC x KC block of A (sized for L2)
          pack A into panels of MR rows, k-major (a task of few rows reads A in
            place where its block of B is a few panels wide: `GemmEmitter._direct_a`)
          for jr in block step NR:
            for ir in block step MR:
              micro-kernel: an MR x NR tile of C held in 2*MR vector registers;
              per k, one broadcast of A and two vector loads of B feed 2*MR FMAs
              (MR x NR = 6 x 16 with AVX2; 10 x 32 with AVX-512); the rows of a
              last, partial panel of A in tiles of 8, 4 and 2 rows (`row_pieces`);
              meanwhile the tiles prefetch the part of B packed next when it comes
              from memory (`_ahead_of_panel`: fc1's 12.8 MB of weights)
          after the last pc: the caller's epilogue on the MC x NC block of C

One function per element type and transpose pair, `graphc_gemm_<f32|f64>_<n|t><n|t>`,
with M, N, K given at run time: specializing on shapes bought nothing
measurable and made every step compile eight GEMMs (1.9 s of LLVM for the MLP
training step). `backend/libraries.py` builds these once per machine into a cached shared
library; steps call them and pass their fused epilogue as a callback on each
finished block of C, while the block is in L2. (Per MR x NR tile, in L1, was
slower: an optimizer update in the epilogue then walked its weights in NR-wide
column strips the hardware prefetchers do not follow.)

Each element of C sums its KC blocks one after another; a k loop of more than
LONG_K_BLOCKS blocks is cut into segments of about sqrt(blocks) blocks, the first
summed in C, each later one in a buffer T then added to C, so the error of a
product with K = 1e6 stays near float32's 1e-7 rather than growing with K.

Transposes are absorbed by the packing routines, so one micro-kernel serves
forward and backward products. Threads split C into ranges of row pairs, or, where C has
more NR-column panels than MR-row blocks, of panels weighted by their width, a range possibly
starting or ending inside a panel's rows (`GemmEmitter._column_share`); a product of few rows whose
B [K, N] exceeds half of L2 (fc1's forward) sums the two halves of K in tasks of their own, then adds them
(`_depth_halves`, `_join_halves`). Every element is summed over k in the same
order whatever the thread count or tile, so results are bit-identical with 1 or 2 threads.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import llvmlite.ir as ir

from graphc import errors
from graphc.backend import target
from graphc.backend.kernel_builder import (F64, I1, I8, I32, I64, PTR, VOID, IndirectCallee, KernelBuilder, declare,
                                           global_string, i64, llvm_type, memory_type, runtime_function)
from graphc.core import dtypes, machine
from graphc.runtime import abi

# Below this many multiply-adds a product runs on one thread: handing out the tasks costs more. Above it, a
# product split by rows as the one before it was reads the rows its own thread wrote: the MLP's layer-3 products
# (10^5 multiply-adds after a 50 + 50-row layer 2) took 3.6-5.7 µs on the caller alone, 2.3-3.5 split.
PARALLEL_MIN_FLOPS = 1 << 16
_UNROLL = 4
CACHE_LINE = 64
# Blocks of C at most this many NR-wide panels wide read A in place instead of packing it.
DIRECT_A_PANELS = 1
# A task of at most this many rows of A reads B's full panels in place (GemmEmitter._direct_b).
DIRECT_B_ROWS = 100
# Such a task reads A in place too where its block of B is at most this many panels wide (_direct_a).
DIRECT_A_FEW_ROWS_PANELS = 8
# With an epilogue, a block of C fills at most this share of L2 (GemmEmitter._epilogue_rows).
EPILOGUE_BLOCK_L2 = 0.25
# A k loop of more KC blocks than this is summed in segments (GemmEmitter._segment_blocks).
LONG_K_BLOCKS = 16
# A product of at most this many rows whose B exceeds half of L2 sums K in two halves (GemmEmitter._depth_halves).
DEPTH_HALVES_ROWS = 100
# epilogue(context, row, col, rows, cols): runs on the block C[row:row+rows, col:col+cols] once final.
EPILOGUE_TYPE = ir.FunctionType(VOID, [PTR, I64, I64, I64, I64])
GEMM_ARGUMENTS = ["m", "n", "k", "a", "b", "c", "epilogue", "context", "status"]
GEMM_TYPES = [llvm_type(c_type) for c_type in abi.gemm_function(dtypes.float32, False, False).arguments]


@dataclass(frozen=True)
class Blocking:
    """Register and cache blocking for one element type on this host."""

    width: int  # vector lanes
    mr: int
    nr: int
    mc: int
    kc: int
    nc: int


def blocking(dtype) -> Blocking:
    width = target.lanes(dtype)
    registers = 32 if target.vector_bytes() == 64 else 16
    nr = 2 * width
    # 2*MR accumulators + 2 vectors of B + 1 broadcast of A: MR = 6 fills 16 registers. 32 would
    # hold MR = 14, but MR = 10 measured faster on every product timed (one thread, interleaved:
    # 1024^3 -6%, 3136x1024x50 -11%, the MLP's 0-5%), and it divides the batches 50 and 100.
    mr = 10 if registers == 32 else (registers - 3) // 2
    caches = machine.data_cache_bytes()
    kc = max(64, caches[1] // 2 // (nr * dtype.size))  # a B micro-panel fills half of L1
    mc = max(mr, caches[2] // 2 // (kc * dtype.size) // mr * mr)  # the A block fills half of L2
    nc = max(nr, caches[3] // 4 // (kc * dtype.size) // nr * nr)  # the B block a quarter of L3
    return Blocking(width, mr, nr, mc, kc, nc)


class GemmEmitter:
    """Emits one GEMM function (with its packing routines, micro-kernel and task) into `module`."""

    def __init__(self, module: ir.Module, dtype, transpose_a: bool, transpose_b: bool):
        self.module, self.dtype = module, dtype
        self.transpose_a, self.transpose_b = transpose_a, transpose_b
        self.name = abi.gemm_function(dtype, transpose_a, transpose_b).name
        self.block = blocking(dtype)
        self.element = memory_type(dtype)
        self.vector = ir.VectorType(self.element, self.block.width)
        # What the entry hands its tasks: the GEMM's arguments, block sizes, the share count, whether
        # shares are by columns, the halves of K (1 or 2, _depth_halves) and how many first-half
        # tasks have finished (_join_halves).
        self.context_type = ir.LiteralStructType(GEMM_TYPES + [I64, I64, I64, I64, I1, I64, I64])

    # -- helpers ---------------------------------------------------------------------------------

    def _size(self) -> int:
        return self.dtype.size

    def _prefetch(self, b, pointer, write: bool) -> None:
        prefetch = declare(self.module, "llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
        b.call(prefetch, [pointer, ir.Constant(I32, int(write)), ir.Constant(I32, 3), ir.Constant(I32, 1)])

    @staticmethod
    def _min(b, x, y):
        return b.select(b.icmp_signed("<", x, y), x, y)

    @staticmethod
    def _max(b, x, y):
        return b.select(b.icmp_signed(">", x, y), x, y)

    @staticmethod
    def _ceil_div(b, x, y):
        return b.udiv(b.add(x, b.sub(y, i64(1))), y)

    def _gep(self, b, pointer, index):
        return b.gep(pointer, [index], inbounds=True, source_etype=self.element)

    def _balanced(self, b, extent, block, multiple: int):
        """Equal blocks of at most ~`block` (784 = 4 x 196, not 3 x 256 + 16), rounded up to `multiple`."""
        block = i64(block) if isinstance(block, int) else block
        count = b.select(b.icmp_signed("<", extent, i64(1)), i64(1), self._ceil_div(b, extent, block))
        size = self._ceil_div(b, extent, count)
        size = b.mul(self._ceil_div(b, size, i64(multiple)), i64(multiple))
        return b.select(b.icmp_signed("<", size, i64(multiple)), i64(multiple), size)

    def _depth_block(self, b, m, k):
        """KC: about bm.kc (a B micro-panel fills half of L1), or, for a transposed B and a short,
        deep A (fc1's input gradient, 50x3136x1024), all of K: its packing then reads each row of B
        [N, K] from end to end (KC = 128 read 512 bytes of each of NR rows 4 KB apart, streams the
        prefetchers did not follow; perf put the packing at 36-45% of that product's time), and
        C is written once, not once per KC block. Only while op(A) and a B panel of all of K each
        fit in a quarter of L2."""
        default = self._balanced(b, k, self.block.kc, _UNROLL)
        if not self.transpose_b:
            return default
        quarter = machine.data_cache_bytes()[2] // 4 // self._size()
        whole = b.and_(b.icmp_signed("<=", b.mul(m, k), i64(quarter)),
                       b.icmp_signed("<=", k, i64(quarter // self.block.nr)))
        return b.select(whole, k, default)

    def _depth_halves(self, b, m, n, k, mc_block):
        """2 when the product sums K in two halves, each a task of its own, then C = first + second;
        else 1. For a B [K, N] larger than half of L2 and few rows of A (fc1's forward, 50x1024x3136): the
        tasks of the halves then read B's first and last rows, the rows that the weight gradient's
        tasks (by rows of dW) update and the input gradient's (dy Wᵀ, by rows of W) read, so on two
        threads each core writes in Adam's update the lines of W it read itself. Split by columns,
        each core read half of every row of W, and each of the update's stores waited for the
        other core's copy to be invalidated (docs/performance-notes.md, `fc1w`). Half of L2, not all of it:
        the MLP's W1 (784x300, 940 KB against a 1 MB L2) split by columns crossed between the cores twice a
        step, which cost nothing measurable with the two vCPUs in one core complex and a fifth of the step
        (0.98 -> 0.78 ms) when the host ran them apart. Decided by the shape alone: the sums are the same
        bits whatever the thread count."""
        if self.transpose_b:  # B [N, K]: shares by columns of C already read B's rows
            return i64(1)
        large = b.icmp_signed(">", b.mul(k, n), i64(machine.data_cache_bytes()[2] // 2 // self._size()))
        few_rows = b.icmp_signed("<=", m, self._min(b, mc_block, i64(DEPTH_HALVES_ROWS)))
        deep = b.icmp_signed(">=", k, i64(4 * self.block.kc))
        return b.select(b.and_(large, b.and_(few_rows, deep)), i64(2), i64(1))

    def _lane_masks(self, kb, count):
        """For each of the two vectors of an NR-wide row, which lanes lie below `count`."""
        bm = self.block
        index_type = ir.VectorType(I64, bm.width)
        counts = kb.broadcast(count, bm.width)
        return [kb.b.icmp_signed("<", ir.Constant(index_type, list(range(h * bm.width, (h + 1) * bm.width))), counts)
                for h in range(2)]

    def _masked_load(self):
        suffix = f"v{self.block.width}{'f32' if self._size() == 4 else 'f64'}.p0"
        mask_type = ir.VectorType(I1, self.block.width)
        return declare(self.module, f"llvm.masked.load.{suffix}", self.vector, [PTR, I32, mask_type, self.vector])

    def _masked_store(self):
        suffix = f"v{self.block.width}{'f32' if self._size() == 4 else 'f64'}.p0"
        mask_type = ir.VectorType(I1, self.block.width)
        return declare(self.module, f"llvm.masked.store.{suffix}", VOID, [self.vector, PTR, I32, mask_type])

    # -- packing -----------------------------------------------------------------------------------

    def _pack_b(self) -> ir.Function:
        """Bp[(p*kc + k)*NR + j] = op(B)[pc + k, jc + p*NR + j], zero past column N."""
        bm = self.block
        kb = KernelBuilder(self.module, f"{self.name}_pack_b", ["bp", "b", "n", "k", "pc", "jc", "kc", "nc"],
                           [PTR, PTR, I64, I64, I64, I64, I64, I64], VOID)
        b = kb.b
        bp, source, n, depth, pc, jc, kc, nc = (kb.arg(x) for x in ("bp", "b", "n", "k", "pc", "jc", "kc", "nc"))
        panels = self._ceil_div(b, nc, i64(bm.nr))
        full_panels = self._min(b, panels, b.sdiv(b.sub(n, jc), i64(bm.nr)))

        def element(k, col):  # the index of op(B)[pc + k, col] in B
            if self.transpose_b:
                return b.add(b.mul(col, depth), b.add(pc, k))
            return b.add(b.mul(b.add(pc, k), n), col)

        if self.transpose_b:  # B is [N, K]: each column of the panel is contiguous along k
            with kb.loop(full_panels, "p") as p:
                col0 = b.add(jc, b.mul(p, i64(bm.nr)))
                panel = self._gep(b, bp, b.mul(b.mul(p, kc), i64(bm.nr)))
                self._pack_rows(kb, source, lambda col, k: element(k, col), col0, panel, kc, bm.nr)
        else:  # B is [K, N]: each k gives NR contiguous elements to each panel
            # Row by row, each row of the block read from left to right: walking the block
            # panel by panel instead read B in NR-wide column strips, one 4 KB row apart
            # when N = 1024, which the prefetchers do not follow (a third of 50x1024x3136).
            with kb.loop(kc, "k") as k:
                row = self._gep(b, source, element(k, jc))
                with kb.loop(full_panels, "p") as p:
                    src = self._gep(b, row, b.mul(p, i64(bm.nr)))
                    dst = self._gep(b, bp, b.add(b.mul(b.mul(p, kc), i64(bm.nr)), b.mul(k, i64(bm.nr))))
                    for h in range(2):
                        value = b.load(self._gep(b, src, i64(h * bm.width)), typ=self.vector, align=self._size())
                        b.store(value, self._gep(b, dst, i64(h * bm.width)), align=32)
        with b.if_then(b.icmp_signed("<", full_panels, panels)):  # the edge panel, zero-padded
            col0 = b.add(jc, b.mul(full_panels, i64(bm.nr)))
            panel = self._gep(b, bp, b.mul(b.mul(full_panels, kc), i64(bm.nr)))
            valid = b.sub(n, col0)  # columns of the panel inside B: 1 .. NR-1
            if self.transpose_b:  # each valid column is contiguous along k; the rest are zeros
                with kb.loop(bm.nr, "je") as j:
                    inside = b.icmp_signed("<", j, valid)
                    row = b.select(inside, element(i64(0), b.add(col0, j)), i64(0))
                    with kb.loop(kc, "ke") as k:
                        value = b.select(inside, b.load(self._gep(b, source, b.add(row, k)), typ=self.element),
                                         ir.Constant(self.element, 0.0))
                        b.store(value, self._gep(b, panel, b.add(b.mul(k, i64(bm.nr)), j)))
            else:  # each k gives `valid` contiguous elements: masked loads, zeros in the other lanes
                masks = self._lane_masks(kb, valid)
                masked_load = self._masked_load()
                zero = ir.Constant(self.vector, None)
                with kb.loop(kc, "ke") as k:
                    src = self._gep(b, source, element(k, col0))
                    dst = self._gep(b, panel, b.mul(k, i64(bm.nr)))
                    for h in range(2):
                        # Not `inbounds`: with few valid columns, the second vector starts past B's end.
                        address = b.gep(src, [i64(h * bm.width)], source_etype=self.element)
                        value = b.call(masked_load, [address, ir.Constant(I32, self._size()), masks[h], zero])
                        b.store(value, self._gep(b, dst, i64(h * bm.width)), align=32)
        return kb.finish()

    def _pack_a(self) -> ir.Function:
        """Ap[(p*kc + k)*MR + i] = op(A)[ic + p*MR + i, pc + k], zero past row M.

        A row-major A is read as MR sequential row streams; a transposed A ([K, M])
        as one stream of MR contiguous elements per k. Packing the transposed A too,
        though it is already k-major, keeps the micro-kernel on one contiguous stream
        instead of a new cache line per k (measured: 784x300x100 went from 74 to 87
        GFLOP/s on one thread).
        """
        bm = self.block
        kb = KernelBuilder(self.module, f"{self.name}_pack_a", ["ap", "a", "m", "k", "ic", "pc", "mc", "kc"],
                           [PTR, PTR, I64, I64, I64, I64, I64, I64], VOID)
        b = kb.b
        ap, source, m, depth, ic, pc, mc, kc = (kb.arg(x) for x in ("ap", "a", "m", "k", "ic", "pc", "mc", "kc"))

        def element(row, k):  # the index of op(A)[row, pc + k] in A
            if self.transpose_a:
                return b.add(b.mul(b.add(pc, k), m), row)
            return b.add(b.mul(row, depth), b.add(pc, k))

        panels = self._ceil_div(b, mc, i64(bm.mr))
        full_panels = self._min(b, panels, b.sdiv(b.sub(m, ic), i64(bm.mr)))
        panel_type = ir.VectorType(self.element, bm.mr)
        with kb.loop(full_panels, "p") as p:
            row0 = b.add(ic, b.mul(p, i64(bm.mr)))
            panel = self._gep(b, ap, b.mul(b.mul(p, kc), i64(bm.mr)))
            if self.transpose_a:  # MR contiguous elements per k: one short vector copy each
                with kb.loop(kc, "k") as k:
                    value = b.load(self._gep(b, source, element(row0, k)), typ=panel_type, align=self._size())
                    b.store(value, self._gep(b, panel, b.mul(k, i64(bm.mr))), align=self._size())
            else:
                self._pack_rows(kb, source, element, row0, panel, kc, bm.mr)
        with b.if_then(b.icmp_signed("<", full_panels, panels)):  # the edge panel, zero-padded
            row0 = b.add(ic, b.mul(full_panels, i64(bm.mr)))
            panel = self._gep(b, ap, b.mul(b.mul(full_panels, kc), i64(bm.mr)))
            zero = ir.Constant(self.element, 0.0)
            with kb.loop(kc, "ke") as k:
                with kb.loop(bm.mr, "ie") as i:
                    row = b.add(row0, i)
                    valid = b.icmp_signed("<", row, m)
                    safe = b.select(valid, element(row, k), i64(0))
                    value = b.select(valid, b.load(self._gep(b, source, safe), typ=self.element), zero)
                    b.store(value, self._gep(b, panel, b.add(b.mul(k, i64(bm.mr)), i)))
        return kb.finish()

    def _pack_rows(self, kb, source, element, row0, panel, kc, count: int) -> None:
        """A full panel of `count` (MR, or NR of a transposed B) rows, each contiguous along k:
        each row read `width` elements of k at a time, transposed in registers by groups of
        `width` rows into width k-major groups of `count` (the last kc % width k under lane masks).
        `element(row, k)` indexes the source. (A transposed B packed element by element took
        13% of a 196x288x64 product; transposed as one shuffle of count x width lanes, which
        LLVM lowers to a spilling mess, half of fc1's 50x3136x1024 with B transposed.)"""
        b, width = kb.b, self.block.width
        with kb.loop(b.udiv(kc, i64(width)), "kv") as chunk:
            self._pack_chunk(kb, source, element, row0, panel, b.mul(chunk, i64(width)), count)
        # The last rest < width k the same way under lane masks (the MLP's K = 10, 100 and 300),
        # rather than element by element.
        rest = b.urem(kc, i64(width))
        with b.if_then(b.icmp_unsigned("!=", rest, i64(0))):
            self._pack_chunk(kb, source, element, row0, panel, b.sub(kc, rest), count, rest)

    def _pack_chunk(self, kb, source, element, row0, panel, k0, count: int, rest=None) -> None:
        """k0 ... k0 + width - 1 of a panel's `count` rows (only the first `rest`, when given)."""
        b, width = kb.b, self.block.width
        chunk_type = ir.VectorType(self.element, width)
        undefined = ir.Constant(chunk_type, ir.Undefined)
        alignment = ir.Constant(I32, self._size())
        masks = None if rest is None else self._lane_masks(kb, rest)[0]
        rows = []
        for i in range(count):
            pointer = self._gep(b, source, element(b.add(row0, i64(i)), k0))
            rows.append(b.load(pointer, typ=chunk_type, align=self._size()) if rest is None else
                        b.call(self._masked_load(), [pointer, alignment, masks, ir.Constant(chunk_type, None)]))
        for group in range(0, count, width):
            valid = min(width, count - group)
            columns = _transpose_square(b, rows[group:group + valid] + [undefined] * (width - valid))
            for k, column in enumerate(columns):  # op's rows group ... group + valid at k0 + k
                pointer = self._gep(b, panel, b.add(b.mul(b.add(k0, i64(k)), i64(count)), i64(group)))
                if rest is None or k == 0:  # rest >= 1
                    self._store_column(b, column, pointer, valid)
                else:
                    with b.if_then(b.icmp_signed("<", i64(k), rest)):
                        self._store_column(b, column, pointer, valid)

    def _store_column(self, b, column, pointer, valid: int) -> None:
        """The first `valid` lanes of `column` at `pointer` (the next k's group starts there)."""
        if valid == self.block.width:
            b.store(column, pointer, align=self._size())
        else:
            mask = ir.Constant(ir.VectorType(I1, self.block.width), [lane < valid for lane in range(self.block.width)])
            b.call(self._masked_store(), [column, pointer, ir.Constant(I32, self._size()), mask])

    # -- the micro-kernel ------------------------------------------------------------------------------

    def _micro_kernel(self, direct: bool, halves: int = 2, height: int = 0) -> ir.Function:
        """C tile (+)= A panel @ Bp panel over kc; `first` overwrites instead of adding.

        Bp is packed k-major (NR elements per k) and zero-padded. A is packed the same
        way (MR per k), or, `direct`, read where it lies: row i of the tile at
        a + i * lda (A row-major) or a + i (A transposed), consecutive k 1 (or lda)
        apart; rows past the edge re-read the last valid row. Edge tiles compute a
        full MR x (halves * width) and store only rows x cols. `halves` = 1 is the
        narrow kernel for an edge panel at most one vector wide (N = 100 is six
        panels of 16 and one of 4): half the multiply-adds of a full tile.
        `height` (default MR) is how many rows the tile holds: the shorter ones
        (`row_pieces`) cover the rows of the last, partial panel of A.
        Every _UNROLL k it prefetches the two cache lines at ahead + u * ahead_step bytes
        (u counting those steps): the task points them at a share of the B it packs next
        (GemmEmitter._tile_prefetch); a step of 0 prefetches nothing.
        """
        bm = self.block
        height = height or bm.mr
        kb = KernelBuilder(self.module, f"{self.name}_micro{'_direct' if direct else ''}"
                                        f"{'_narrow' if halves == 1 else ''}{'' if height == bm.mr else height}",
                           ["a", "lda", "bp", "ldb", "c", "ldc", "kc", "first", "rows", "cols", "ahead", "ahead_step"],
                           [PTR, I64, PTR, I64, PTR, I64, I64, I1, I64, I64, PTR, I64], VOID)
        b = kb.b
        a, lda, bp, ldb, c, ldc, kc, first, rows, cols, ahead, ahead_step = (
            kb.arg(x) for x in ("a", "lda", "bp", "ldb", "c", "ldc", "kc", "first", "rows", "cols", "ahead",
                                "ahead_step"))
        if direct:
            last_row = b.sub(rows, i64(1))
            row_starts = [self._gep(b, a, b.mul(self._min(b, i64(i), last_row),
                                                i64(1) if self.transpose_a else lda)) for i in range(height)]
            k_stride = lda if self.transpose_a else i64(1)
        fma = declare(self.module, f"llvm.fma.v{bm.width}{'f32' if self._size() == 4 else 'f64'}", self.vector,
                      [self.vector] * 3)
        zero_vector = ir.Constant(self.vector, None)
        accumulators = [[kb.variable(self.vector, zero_vector) for _ in range(halves)] for _ in range(height)]
        # The C tile is touched only after the k loop; fetch its lines meanwhile.
        for i in range(height):
            line = self._gep(b, c, b.mul(b.select(b.icmp_signed("<", i64(i), rows), i64(i), i64(0)), ldc))
            for offset in (0, halves * bm.width - 1):
                self._prefetch(b, self._gep(b, line, i64(offset)), write=True)

        def step(k):
            b_index = b.mul(k, ldb)
            b_vectors = [b.load(self._gep(b, bp, b.add(b_index, i64(h * bm.width))), typ=self.vector,
                                align=self._size())
                         for h in range(halves)]
            a_index = b.mul(k, k_stride) if direct else b.mul(k, i64(bm.mr))
            for i in range(height):
                address = self._gep(b, row_starts[i], a_index) if direct else self._gep(b, a, b.add(a_index, i64(i)))
                scalar = b.load(address, typ=self.element)
                broadcast = kb.broadcast(scalar, bm.width)
                for h in range(halves):
                    slot = accumulators[i][h]
                    kb.set(slot, b.call(fma, [broadcast, b_vectors[h], kb.get(slot, self.vector)]))

        # The k loop unrolled by hand: LLVM's unroller is off for compile speed. Emitted twice, with
        # the prefetches and without, so that a product prefetching nothing (the MLP's) runs as before.
        def unrolled(prefetching: bool) -> None:
            with kb.loop(b.udiv(kc, i64(_UNROLL)), "k4") as k4:
                if prefetching:
                    line = b.gep(ahead, [b.mul(k4, ahead_step)], source_etype=I8)  # may lie past B: never read
                    for offset in (0, CACHE_LINE):
                        self._prefetch(b, b.gep(line, [i64(offset)], source_etype=I8), write=False)
                for u in range(_UNROLL):
                    step(b.add(b.mul(k4, i64(_UNROLL)), i64(u)))

        with b.if_else(b.icmp_signed("==", ahead_step, i64(0))) as (plain, prefetching):
            with plain:
                unrolled(False)
            with prefetching:
                unrolled(True)
        with kb.loop(b.urem(kc, i64(_UNROLL)), "kr") as kr:
            step(b.add(b.mul(b.udiv(kc, i64(_UNROLL)), i64(_UNROLL)), kr))

        full = b.and_(b.icmp_signed("==", rows, i64(height)), b.icmp_signed("==", cols, i64(halves * bm.width)))
        with b.if_else(full) as (then, otherwise):
            with then:
                for accumulate in (False, True):
                    with b.if_then(b.icmp_unsigned("==", first, ir.Constant(I1, int(not accumulate)))):
                        for i in range(height):
                            for h in range(halves):
                                pointer = self._gep(b, c, b.add(b.mul(i64(i), ldc), i64(h * bm.width)))
                                value = kb.get(accumulators[i][h], self.vector)
                                if accumulate:
                                    value = b.fadd(b.load(pointer, typ=self.vector, align=self._size()), value)
                                b.store(value, pointer, align=self._size())
            with otherwise:  # an edge tile: rows < MR or cols < NR, stored under lane masks
                self._store_edge(kb, c, ldc, first, rows, cols, accumulators)
        return kb.finish()

    def _store_edge(self, kb, c, ldc, first, rows, cols, accumulators) -> None:
        """Rows i < rows of the tile, lanes j < cols of each row: whole vectors where all their lanes
        are inside, masked ones (slow to store on some CPUs) only for the vector the edge cuts."""
        bm, b = self.block, kb.b
        masks = self._lane_masks(kb, cols)
        masked_load, masked_store = self._masked_load(), self._masked_store()
        alignment = ir.Constant(I32, self._size())
        zero = ir.Constant(self.vector, None)
        for h in range(len(accumulators[0])):
            whole = b.icmp_signed(">=", cols, i64((h + 1) * bm.width))
            cut = b.and_(b.icmp_signed(">", cols, i64(h * bm.width)), b.not_(whole))
            mask = masks[h]
            for masked, condition in ((False, whole), (True, cut)):
                with b.if_then(condition):
                    for i in range(len(accumulators)):
                        with b.if_then(b.icmp_signed("<", i64(i), rows)):
                            pointer = self._gep(b, c, b.add(b.mul(i64(i), ldc), i64(h * bm.width)))
                            value = kb.get(accumulators[i][h], self.vector)
                            with b.if_else(first) as (overwrite, accumulate):
                                with overwrite:
                                    self._store_vector(b, masked_store, value, pointer, mask, masked)
                                with accumulate:
                                    previous = (b.call(masked_load, [pointer, alignment, mask, zero]) if masked else
                                                b.load(pointer, typ=self.vector, align=self._size()))
                                    self._store_vector(b, masked_store, b.fadd(previous, value), pointer, mask, masked)

    def _store_vector(self, b, masked_store, value, pointer, mask, masked: bool) -> None:
        if masked:
            b.call(masked_store, [value, pointer, ir.Constant(I32, self._size()), mask])
        else:
            b.store(value, pointer, align=self._size())

    # -- tasks and the entry ---------------------------------------------------------------------------

    def _field(self, b, context, index):
        return b.load(b.gep(context, [ir.Constant(I32, 0), ir.Constant(I32, index)], source_etype=self.context_type),
                      typ=self.context_type.elements[index])

    def _task(self, pack_a, pack_b, micro_kernels) -> ir.Function:
        """`micro_kernels[(direct, narrow, height)]`: the micro-kernel reading A in place or packed,
        for a full-width panel of B or one at most a vector wide, and a tile of `height` rows."""
        bm = self.block
        kb = KernelBuilder(self.module, f"{self.name}_task", ["context", "index", "thread"], [PTR, I64, I64], VOID)
        b = kb.b
        context = kb.arg("context")
        m, n, k, count, split_columns, halves = (self._field(b, context, f) for f in (0, 1, 2, 12, 13, 14))
        n_panels = self._ceil_div(b, n, i64(bm.nr))
        # Tasks 0 .. count - 1 sum the first half of K (all of it when halves = 1), the rest the second.
        half, index = b.udiv(kb.arg("index"), count), b.urem(kb.arg("index"), count)
        k_cut = b.mul(b.udiv(self._ceil_div(b, k, i64(2)), i64(2)), i64(2))  # as _row_share cuts 2 tasks' rows
        split = b.icmp_signed("==", halves, i64(2))
        depth = (b.select(b.icmp_signed("==", half, i64(1)), k_cut, i64(0)),
                 b.select(b.and_(split, b.icmp_signed("==", half, i64(0))), k_cut, k))
        # The loop nest emitted twice: for a share with a cut panel, and for one of whole panels or
        # rows, whose loops stay those of an uncut block (see _tiles).
        head, middle, tail = self._column_share(b, index, count, m, n)
        cut = b.and_(split_columns, b.or_(*(b.icmp_signed("<", p[0], p[1]) for p in (head, tail))))
        empty = (i64(0),) * 4
        rows = self._row_share(b, index, count, m, n)
        whole = tuple(b.select(split_columns, x, y) for x, y in zip(middle, rows))
        with b.if_else(cut) as (cut_share, whole_share):
            with cut_share:
                self._task_body(kb, pack_a, pack_b, micro_kernels, context, (head, middle, tail), n_panels, True,
                                depth, half)
            with whole_share:
                self._task_body(kb, pack_a, pack_b, micro_kernels, context, (empty, whole, empty), n_panels, False,
                                depth, half)
        return kb.finish()

    def _row_share(self, b, index, count, m, n):
        """(m0, m1, n0, n1): task `index` of `count`'s share of C split by rows: rows in pairs, the
        height of the smallest row piece, not in MR-row panels (M = 50 on two threads is 25 + 25
        rows, not 20 + 30)."""
        row_unit = i64(row_pieces(self.block.mr)[-1])
        m_units = self._ceil_div(b, m, row_unit)
        start = b.mul(b.udiv(b.mul(m_units, index), count), row_unit)
        stop = self._min(b, b.mul(b.udiv(b.mul(m_units, b.add(index, i64(1))), count), row_unit), m)
        return start, stop, i64(0), n

    def _column_share(self, b, index, count, m, n):
        """Task `index` of `count`'s share of C split by columns: three rectangles (m0, m1, n0, n1),
        each possibly empty (m0 = m1 or n0 >= n1): a head (a panel's last rows), whole panels, a tail
        (a panel's first rows).

        Each panel weighs the vectors of its width (an edge panel at most one vector wide runs the
        half-width micro-kernel in about half a full panel's time) times its row pairs, and the
        tasks take equal runs of that weight in panel-major order, so a share may start or end
        inside a panel. The MLP's layer-1 forward when it split by columns, 300 columns (9 full panels and one of 12
        columns): two threads had 5 panels against 4 and the edge (160 columns took 233 µs alone,
        140 took 216, docs/performance-notes.md); now 4 panels and 76 of the fifth's 100 rows, against its other 24
        rows and the rest. Every element is still summed over k in one order: whatever the thread
        count, the results are the same bits."""
        bm = self.block
        row_unit = i64(row_pieces(bm.mr)[-1])
        m_units = self._ceil_div(b, m, row_unit)
        # By columns: a full panel weighs 2 units per row pair, the edge panel 1 or 2.
        full = b.udiv(n, i64(bm.nr))
        edge = b.sub(n, b.mul(full, i64(bm.nr)))
        edge_weight = b.select(b.icmp_signed("==", edge, i64(0)), i64(0),
                               b.select(b.icmp_signed("<=", edge, i64(bm.width)), i64(1), i64(2)))
        per_panel = b.mul(m_units, i64(2))
        units = b.add(b.mul(full, per_panel), b.mul(edge_weight, m_units))

        def position(task):
            """(panel, row) where task `task`'s run of units starts: a row past the panel's last is
            the next panel's row 0."""
            unit = b.udiv(b.mul(units, task), count)
            in_full = b.icmp_signed("<", unit, b.mul(full, per_panel))
            panel = b.select(in_full, b.udiv(unit, per_panel), full)
            pairs = b.select(in_full, b.udiv(b.urem(unit, per_panel), i64(2)),
                             b.udiv(b.sub(unit, b.mul(full, per_panel)), self._max(b, edge_weight, i64(1))))
            row = b.mul(pairs, row_unit)
            past = b.icmp_signed(">=", row, m)
            return b.select(past, b.add(panel, i64(1)), panel), b.select(past, i64(0), row)

        first_panel, first_row = position(index)
        end_panel, end_row = position(b.add(index, i64(1)))
        one_panel = b.icmp_signed("==", first_panel, end_panel)
        has_head = b.or_(b.icmp_signed(">", first_row, i64(0)), one_panel)

        def columns(panel, panels):  # the columns of `panels` panels from `panel` on
            return b.mul(panel, i64(bm.nr)), self._min(b, b.mul(b.add(panel, panels), i64(bm.nr)), n)

        head = (first_row, b.select(one_panel, end_row, m), *columns(first_panel, i64(1)))
        head = [b.select(has_head, value, i64(0)) for value in head]
        middle_panel = b.add(first_panel, b.zext(has_head, I64))
        middle = (i64(0), m, *columns(middle_panel, b.sub(end_panel, middle_panel)))
        tail = (i64(0), b.select(one_panel, i64(0), end_row), *columns(end_panel, i64(1)))
        return [head, middle, tail]

    def _task_body(self, kb, pack_a, pack_b, micro_kernels, context, parts, n_panels, cut: bool, depth,
                   half) -> None:
        """A task's share of C, `parts` (see _column_share), summed over k in [depth[0], depth[1]) (a
        half of K, or all of it): one loop nest over the rectangle that holds them, C[m0:m1, n0:n1],
        whose first and last panels run only the tiles of their part's rows, so that the block of A
        packed for the whole panels serves them too; the sums of a long k and the epilogue run on
        each part's piece of a finished block (with halves, once they are joined: _join_halves)."""
        b = kb.b
        fields = [self._field(b, context, f) for f in range(12)]
        halves = self._field(b, context, 14)
        partial = kb.variable(PTR)  # where a second half's task sums: a buffer in its scratch
        present = [b.and_(b.icmp_signed("<", p[0], p[1]), b.icmp_signed("<", p[2], p[3])) for p in parts]
        m0, n0 = (functools.reduce(lambda x, y: self._min(b, x, y),
                                   [b.select(there, p[f], i64(2**62)) for p, there in zip(parts, present)])
                  for f in (0, 2))
        m1, n1 = (functools.reduce(lambda x, y: self._max(b, x, y),
                                   [b.select(there, p[f], i64(0)) for p, there in zip(parts, present)])
                  for f in (1, 3))
        nonempty = b.and_(b.icmp_signed("<", m0, m1), b.icmp_signed("<", n0, n1))
        with b.if_then(nonempty):
            self._task_loops(kb, pack_a, pack_b, micro_kernels, fields, parts, present, n_panels, m0, m1, n0, n1,
                             cut, depth, half, halves, partial)
        with b.if_then(b.icmp_signed("==", halves, i64(2))):
            self._join_halves(kb, context, fields, parts, present, (m0, m1, n0, n1), half, nonempty, partial)

    def _join_halves(self, kb, context, fields, parts, present, rectangle, half, nonempty, partial) -> None:
        """With K summed in halves: a first half's task counts itself done; a second half's waits
        until every first half's is (their indices come first, so each has started, on another
        thread or earlier on this one: no task waits for one not yet taken), then adds its sums to
        C's (first + second, whatever the thread count) and runs the epilogue on its share."""
        b = kb.b
        n, c, epilogue, epilogue_context = fields[1], fields[5], fields[6], fields[7]
        m0, m1, n0, n1 = rectangle
        done = b.gep(context, [ir.Constant(I32, 0), ir.Constant(I32, 15)], source_etype=self.context_type)
        with b.if_else(b.icmp_signed("==", half, i64(0))) as (first, second):
            with first:
                b.atomic_rmw("add", done, i64(1), "release")
            with second:
                shares = self._field(b, context, 12)
                waiting = b.append_basic_block("wait_halves")
                joined = b.append_basic_block("halves_joined")
                b.branch(waiting)
                b.position_at_end(waiting)
                if target.host()[0].startswith(("x86_64", "i686")):  # as the pool's own waits (threads.c)
                    b.call(declare(self.module, "llvm.x86.sse2.pause", VOID, []), [])
                finished = b.load_atomic(done, "acquire", 8, typ=I64)
                b.cbranch(b.icmp_signed("<", finished, shares), waiting, joined)
                b.position_at_end(joined)
                has_epilogue = b.icmp_unsigned("!=", b.ptrtoint(epilogue, I64), i64(0))
                sums = kb.get(partial, PTR)

                def join(row, rows, col, cols):
                    self._add_sums(kb, c, n, self._gep(b, sums, col), n, i64(0), row, col, rows, cols)
                    with b.if_then(has_epilogue):
                        b.call(IndirectCallee(epilogue, EPILOGUE_TYPE), [epilogue_context, row, col, rows, cols])

                with b.if_then(nonempty):
                    self._on_parts(b, parts, present, m0, b.sub(m1, m0), n0, b.sub(n1, n0), join)

    def _task_loops(self, kb, pack_a, pack_b, micro_kernels, fields, parts, present, n_panels, m0, m1, n0, n1,
                    cut: bool, depth, half, halves, partial):
        """The loop nest of _task_body over C[m0:m1, n0:n1] and k in [depth[0], depth[1]); a second
        half's task sums into a buffer of C's shape in its scratch (its pointer left in `partial`)."""
        bm, b = self.block, kb.b
        m, n, k, a, bmat, c, epilogue, epilogue_context, status, mc_block, kc_block, nc_block = fields
        k0, k1 = depth
        nc_max = self._min(b, nc_block, b.mul(n_panels, i64(bm.nr)))
        a_elements = b.mul(mc_block, kc_block)
        b_elements = b.mul(kc_block, nc_max)
        depth_blocks = self._ceil_div(b, b.sub(k1, k0), kc_block)
        segment = self._segment_blocks(b, depth_blocks)
        # The segments after the first sum into T, [m0, m1) x nc_max of C's shape, then into C.
        t_elements = b.select(b.icmp_signed("<", segment, depth_blocks), b.mul(b.sub(m1, m0), nc_max), i64(0))
        second_half = b.icmp_signed("==", half, i64(1))
        partial_elements = b.select(second_half, b.mul(m, n), i64(0))
        scratch_bytes = b.mul(b.add(b.add(b.add(a_elements, b_elements), t_elements), partial_elements),
                              i64(self._size()))
        scratch = b.call(runtime_function(self.module, "graphc_scratch"),
                         [kb.arg("thread"), scratch_bytes])
        with b.if_then(b.icmp_unsigned("==", b.ptrtoint(scratch, I64), i64(0)), likely=False):
            fail = runtime_function(self.module, "graphc_fail")
            text = global_string(self.module, f"Out of memory for %lld bytes of GEMM buffers ({self.name})")
            b.call(fail, [status, ir.Constant(I32, errors.RESOURCE_EXHAUSTED), text, scratch_bytes, i64(0), i64(0)])
            b.ret_void()
        packed_a = scratch
        packed_b = self._gep(b, scratch, a_elements)
        sums = self._gep(b, packed_b, b_elements)  # T
        kb.set(partial, self._gep(b, sums, t_elements))
        c = b.select(second_half, kb.get(partial, PTR), c)  # where this task's sums go
        # With halves, the epilogue runs once they are joined (_join_halves).
        has_epilogue = b.and_(b.icmp_unsigned("!=", b.ptrtoint(epilogue, I64), i64(0)),
                              b.icmp_signed("==", halves, i64(1)))
        one_block_of_rows = b.icmp_signed("<=", b.sub(m1, m0), mc_block)
        direct_b = self._direct_b(b, m0, m1, n)
        direct_a = self._direct_a(b, m0, m1, k)

        with kb.loop(self._ceil_div(b, b.sub(n1, n0), nc_block), "jc") as jb:
            jc = b.add(n0, b.mul(jb, nc_block))
            nc = self._min(b, nc_block, b.sub(n1, jc))
            with kb.loop(depth_blocks, "pc") as pb:
                pc = b.add(k0, b.mul(pb, kc_block))
                kc = self._min(b, kc_block, b.sub(k1, pc))
                place = b.urem(pb, segment)
                first = b.icmp_signed("==", place, i64(0))
                last = b.icmp_signed("==", pb, b.sub(depth_blocks, i64(1)))
                into_sums = b.icmp_signed(">=", pb, segment)
                segment_done = b.and_(into_sums, b.or_(last, b.icmp_signed("==", place, b.sub(segment, i64(1)))))
                ldc = b.select(into_sums, nc_max, n)
                # A transposed B's block larger than half of L2 (fc1's 50x3136x1024 with KC = K: 12.8 MB)
                # is packed panel by panel, each just before its tiles, which then read it from L1/L2.
                by_panel = (b.icmp_signed(">", b.mul(kc, nc), i64(machine.data_cache_bytes()[2] // 2 // self._size()))
                            if self.transpose_b else ir.Constant(I1, 0))
                # Read in place, B's full panels are not packed: only a last, partial one (zero-padded).
                in_place_panels = b.select(direct_b, b.sdiv(nc, i64(bm.nr)), i64(0))
                packed_from = b.mul(in_place_panels, i64(bm.nr))
                with b.if_then(b.and_(b.not_(by_panel), b.icmp_signed("<", packed_from, nc))):
                    b.call(pack_b, [packed_b, bmat, n, k, pc, b.add(jc, packed_from), kc, b.sub(nc, packed_from)])
                # With at most DIRECT_A_PANELS panels of B in the block, each element of A
                # serves that many tiles: copying it into panels first costs more than it saves.
                direct = b.or_(b.icmp_signed("<=", nc, i64(DIRECT_A_PANELS * bm.nr)),
                               b.and_(direct_a, b.icmp_signed("<=", nc, i64(DIRECT_A_FEW_ROWS_PANELS * bm.nr))))
                lda = m if self.transpose_a else k
                with kb.loop(self._ceil_div(b, b.sub(m1, m0), mc_block), "ic") as ib:
                    ic = b.add(m0, b.mul(ib, mc_block))
                    mc = self._min(b, mc_block, b.sub(m1, ic))
                    with b.if_then(b.not_(direct)):
                        b.call(pack_a, [packed_a, a, m, k, ic, pc, mc, kc])
                    with kb.loop(self._ceil_div(b, nc, i64(bm.nr)), "jr") as jr_index:
                        jr = b.mul(jr_index, i64(bm.nr))
                        cols = self._min(b, i64(bm.nr), b.sub(nc, jr))
                        in_place_b = b.icmp_signed("<", jr, packed_from)
                        b_panel = b.select(in_place_b, self._gep(b, bmat, b.add(b.mul(pc, n), b.add(jc, jr))),
                                           self._gep(b, packed_b, b.mul(b.sub(jr, packed_from), kc)))
                        ldb = b.select(in_place_b, n, i64(bm.nr))
                        narrow = b.icmp_signed("<=", cols, i64(bm.width))
                        # With one block of rows, every panel takes the first panel's place
                        # (the scratch written stays that of a panel).
                        b_panel = b.select(b.and_(by_panel, one_block_of_rows), packed_b, b_panel)
                        packing = b.and_(by_panel, b.icmp_signed("==", ib, i64(0)))
                        with b.if_then(packing):
                            b.call(pack_b, [b_panel, bmat, n, k, pc, b.add(jc, jr), kc, cols])
                        ahead = self._ahead_of_panel(b, packing, one_block_of_rows, bmat, n, k, k1, pc, jc, jr,
                                                     kc, nc, mc, jr_index)

                        def tile(panel_row, offset, rows, height, number):
                            """The micro-kernel of `height` rows on rows panel_row + offset ... of the block,
                            the `number`th tile of the panel."""
                            tile_ahead, tile_step = self._tile_prefetch(b, ahead, number, b_panel, bmat, k1)
                            row, col = b.add(ic, b.add(panel_row, offset)), b.add(jc, jr)
                            c_tile = b.select(into_sums, self._gep(b, sums, b.add(b.mul(b.sub(row, m0), nc_max), jr)),
                                              self._gep(b, c, b.add(b.mul(row, n), col)))
                            with b.if_else(direct) as (in_place, packed):
                                with in_place:
                                    a_start = b.add(b.mul(pc, m), row) if self.transpose_a else \
                                        b.add(b.mul(row, k), pc)
                                    self._call_micro(b, micro_kernels, True, narrow, height, [
                                        self._gep(b, a, a_start), lda, b_panel, ldb, c_tile, ldc, kc, first, rows,
                                        cols, tile_ahead, tile_step])
                                with packed:
                                    a_tile = self._gep(b, packed_a, b.add(b.mul(panel_row, kc), offset))
                                    self._call_micro(b, micro_kernels, False, narrow, height, [
                                        a_tile, i64(bm.mr), b_panel, ldb, c_tile, ldc, kc, first, rows, cols,
                                        tile_ahead, tile_step])

                        if cut:
                            self._panel_tiles(kb, tile, parts, present, ic, mc, b.add(jc, jr))
                        else:  # every panel runs all the block's rows
                            self._tiles(kb, tile, i64(0), mc)
                    with b.if_then(segment_done):
                        self._on_parts(b, parts, present, ic, mc, jc, nc, lambda row, rows, col, cols: self._add_sums(
                            kb, c, n, self._gep(b, sums, b.sub(col, jc)), nc_max, m0, row, col, rows, cols))
                    # The block of C is final and still in L2: the epilogue sweeps it row by
                    # row, so that what it reads and writes elsewhere (an optimizer's weights)
                    # streams in order instead of in NR-wide column strips.
                    with b.if_then(b.and_(last, has_epilogue)):
                        self._on_parts(b, parts, present, ic, mc, jc, nc, lambda row, rows, col, cols: b.call(
                            IndirectCallee(epilogue, EPILOGUE_TYPE), [epilogue_context, row, col, rows, cols]))

    def _on_parts(self, b, parts, present, ic, mc, jc, nc, action) -> None:
        """action(row, rows, col, cols) on each part's piece of the block C[ic:ic+mc, jc:jc+nc]."""
        for (r0, r1, c0, c1), there in zip(parts, present):
            low, high = self._max(b, ic, r0), self._min(b, b.add(ic, mc), r1)
            left, right = self._max(b, jc, c0), self._min(b, b.add(jc, nc), c1)
            inside = b.and_(there, b.and_(b.icmp_signed("<", low, high), b.icmp_signed("<", left, right)))
            with b.if_then(inside):
                action(low, b.sub(high, low), left, b.sub(right, left))

    def _panel_tiles(self, kb, tile, parts, present, ic, mc, col) -> None:
        """The tiles of the panel at column `col` in the block of rows [ic, ic + mc) of a share cut
        by columns: those of the rows of the part the panel belongs to."""
        b = kb.b
        low, high = i64(0), i64(0)
        for (r0, r1, c0, c1), there in zip(parts, present):
            inside = b.and_(there, b.and_(b.icmp_signed(">=", col, c0), b.icmp_signed("<", col, c1)))
            low, high = b.select(inside, r0, low), b.select(inside, r1, high)
        # The part's rows within the block.
        low = self._min(b, self._max(b, b.sub(low, ic), i64(0)), mc)
        high = self._min(b, self._max(b, b.sub(high, ic), i64(0)), mc)
        with b.if_then(b.icmp_signed("<", low, high)):
            self._tiles(kb, tile, low, high)

    def _tiles(self, kb, tile, low, high) -> None:
        """The tiles of rows [low, high) of a block (low even, or 0 as a constant): whole MR-row
        panels of A, and the rows of a panel cut by `low`, by `high` or by M in pieces of 8, 4 and
        2 rows (MR = 10 or 14), not one MR-row tile mostly of padding (with MR = 14, M = 100 is
        7 x 14 + 2: that tile multiplied 11% zeros). With low = 0 the loops are those every block had
        before shares were cut: with the tests of a cut panel in every share's loops, dW1
        (784x300x100, Aᵀ, by rows) took 250-290 µs on two threads instead of 218, and fc1's forward
        (50x1024x3136, 16 whole panels a thread) 2.27 ms instead of 2.02 (interleaved processes)."""
        bm, b = self.block, kb.b
        mr = i64(bm.mr)

        def pieces(panel, offset, count):
            """Rows offset ... offset + count - 1 of MR-row panel `panel`, the count rounded up to even."""
            even = b.and_(b.add(count, i64(1)), i64(-2))
            for height in row_pieces(bm.mr):
                taken = b.and_(even, i64(-2 * height))  # the rows the larger pieces took
                with b.if_then(b.icmp_unsigned("!=", b.and_(even, i64(height)), i64(0))):
                    tile(b.mul(panel, mr), b.add(offset, taken), self._min(b, i64(height), b.sub(count, taken)),
                         height, panel)

        end_whole = b.udiv(high, mr)
        if isinstance(low, ir.Constant) and low.constant == 0:
            first_whole = low
        else:
            first_whole = self._ceil_div(b, low, mr)
            with b.if_then(b.icmp_unsigned("!=", b.urem(low, mr), i64(0))):  # a panel cut at its top
                panel = b.udiv(low, mr)
                pieces(panel, b.urem(low, mr), b.sub(self._min(b, high, b.mul(b.add(panel, i64(1)), mr)), low))
            # Its bottom too: nothing left for the pieces below.
            end_whole = self._max(b, end_whole, first_whole)
            high = b.select(b.icmp_signed("<", b.udiv(high, mr), first_whole), b.mul(end_whole, mr), high)
        with kb.loop(b.sub(end_whole, first_whole), "ir") as ir_index:
            panel = b.add(first_whole, ir_index)
            tile(b.mul(panel, mr), i64(0), mr, bm.mr, panel)
        pieces(end_whole, i64(0), b.urem(high, mr))  # a panel cut at its bottom (by the part or by M)

    def _direct_b(self, b, m0, m1, n):
        """Whether the task's micro-kernels read B's full panels where they lie (NR contiguous elements
        per k, n apart) instead of packed: B not transposed, few rows of A to serve (a packed panel
        would serve no more than DIRECT_B_ROWS / MR tiles), and rows not a multiple of 512 bytes apart
        (which would fold a panel's rows onto a few sets of L1). The MLP's layer-1 forward (100 x 300
        x 784, split by columns: each thread packed its half of W1, half of that out of the other
        core's cache) took 0.291-0.295 ms on two threads, 0.274-0.275 reading W1 in place
        (docs/performance-notes.md)."""
        if self.transpose_b:
            return ir.Constant(I1, 0)
        return b.and_(self._few_rows(b, m0, m1), self._spread(b, n))

    def _direct_a(self, b, m0, m1, k):
        """Whether the task reads A where it lies (the micro-kernel's `direct`) in its blocks of B at most
        DIRECT_A_FEW_ROWS_PANELS wide: few rows of A (DIRECT_B_ROWS), and a row-major A's rows not a
        multiple of 512 bytes apart (a transposed A's tile rows are adjacent). Packed, each of the few
        rows was copied for a few panels only, by every thread sharing the product by columns (the
        MLP's layer-1 forward and dh1 packed all of x and d2 on both threads). The GEMM library
        alone, interleaved processes, p10 (docs/performance-notes.md): the CNN's dense 100x64x3136 393 -> 360
        µs on one thread, 198 -> 182 on two; the MLP's layer 2 (100x100x300) 66.5 -> 61.0 and 37.6 ->
        35.6; its layer-1 forward on two threads 222 -> 218. Not for wider blocks: fc1's forward
        (50x1024x3136, 16 panels a task) read A in place took 2.7 ms instead of 2.0."""
        if self.transpose_a:
            return self._few_rows(b, m0, m1)
        return b.and_(self._few_rows(b, m0, m1), self._spread(b, k))

    @staticmethod
    def _few_rows(b, m0, m1):
        """Whether a task's rows m0 ... m1 - 1 are at most DIRECT_B_ROWS: few tiles to share a packed panel."""
        return b.icmp_signed("<=", b.sub(m1, m0), i64(DIRECT_B_ROWS))

    def _spread(self, b, elements):
        """Whether rows `elements` apart are not a multiple of 512 bytes apart: a tile's rows read in place
        would otherwise fall on a few sets of L1."""
        return b.icmp_unsigned("!=", b.urem(b.mul(elements, i64(self._size())), i64(512)), i64(0))

    def _ahead_of_panel(self, b, packing, one_block_of_rows, bmat, n, k, k1, pc, jc, jr, kc, nc, mc, jr_index):
        """What the tiles of a panel prefetch while they compute, so that the B packed next comes
        from L2 rather than memory (packing only waits for memory; the tiles' FMAs hide the
        fetch): (whether, the element of B where the panel's first tile starts, elements between
        tiles, step in bytes, the first tile's row of B or None). Measured on one thread, the
        library alone (interleaved processes, under load): fc1's forward 50x1024x3136 3.8-3.9 ->
        3.55-3.62 ms, its input gradient 50x3136x1024 (B transposed) 4.0-4.1 -> 3.2 ms.

        A transposed B packed panel by panel (`packing`) with KC = K: the next panel, NR rows of
        B of all of K, one contiguous stretch, a quarter of it by each of the panel's first four
        tiles. Otherwise one block of rows whose K x NC columns of B do not fit in L2, so that each
        KC block comes from memory (fc1's forward: 12.8 MB of weights, 6.4 MB a thread on two,
        packed a 512 or 256 KB block at a time): each tile of the block one row of the next KC
        block (the block has at least KC tiles when M >= 40: 160 for fc1's 128 rows). None for
        the rest: their B stays in cache or is read more than once (several blocks of rows)."""
        bm, size = self.block, self._size()
        steps = b.udiv(kc, i64(_UNROLL))
        if self.transpose_b:
            next_panel = b.add(jr, i64(bm.nr))
            wanted = b.and_(packing, b.and_(b.icmp_signed("<", next_panel, nc), b.icmp_signed("==", kc, k)))
            quarter = b.udiv(b.mul(steps, i64(2 * CACHE_LINE)), i64(size))
            return wanted, b.add(b.mul(b.add(jc, next_panel), k), pc), quarter, i64(2 * CACHE_LINE), None
        large = b.icmp_signed(">", b.mul(k, nc), i64(machine.data_cache_bytes()[2] // size))
        wanted = b.and_(b.and_(one_block_of_rows, large), b.icmp_signed("<", b.add(pc, kc), k1))
        first_row = b.add(b.add(pc, kc), b.mul(jr_index, self._ceil_div(b, mc, i64(bm.mr))))
        # A row's lines spread over the tile's k steps, two a step at most, one at least.
        spread = b.mul(b.udiv(b.udiv(b.mul(nc, i64(size)), self._max(b, steps, i64(1))), i64(CACHE_LINE)),
                       i64(CACHE_LINE))
        step = self._min(b, self._max(b, spread, i64(CACHE_LINE)), i64(2 * CACHE_LINE))
        return wanted, b.add(b.mul(first_row, n), jc), n, step, first_row

    def _tile_prefetch(self, b, ahead, number, b_panel, bmat, k_end):
        """(pointer, step in bytes) for the micro-kernel of the `number`th tile of a panel (see
        _ahead_of_panel: rows of B before `k_end`); this panel with step 0 when it prefetches nothing."""
        wanted, start, stride, step, first_row = ahead
        if first_row is None:  # a quarter of the next panel for each of the first four tiles
            start = b.add(start, b.mul(self._min(b, number, i64(3)), stride))
        else:  # a row of the next KC block for each tile, while there are rows
            start = b.add(start, b.mul(number, stride))
            wanted = b.and_(wanted, b.icmp_signed("<", b.add(first_row, number), k_end))
        source = b.gep(bmat, [start], source_etype=self.element)  # not inbounds: may lie past B, never read
        return b.select(wanted, source, b_panel), b.select(wanted, step, i64(0))

    def _segment_blocks(self, b, depth_blocks):
        """How many KC blocks of the k loop sum into one segment: all of them when there are at
        most LONG_K_BLOCKS, else about their square root, so that no element's sum adds more than
        about 2 sqrt(K / KC) block sums one after another (K = 1e6: 125, not 3906)."""
        sqrt = declare(self.module, "llvm.sqrt.f64", F64, [F64])
        ceil = declare(self.module, "llvm.ceil.f64", F64, [F64])
        root = b.fptosi(b.call(ceil, [b.call(sqrt, [b.sitofp(depth_blocks, F64)])]), I64)
        return b.select(b.icmp_signed(">", depth_blocks, i64(LONG_K_BLOCKS)), root, depth_blocks)

    def _add_sums(self, kb, c, n, sums, ldt, m0, ic, jc, mc, nc) -> None:
        """C[ic : ic + mc, jc : jc + nc] += T's rows for them: a segment's sum joins C's."""
        b = kb.b
        with kb.loop(mc, "sum_row") as i:
            row = b.add(ic, i)
            c_row = self._gep(b, c, b.add(b.mul(row, n), jc))
            t_row = self._gep(b, sums, b.mul(b.sub(row, m0), ldt))
            with kb.loop(nc, "sum_col") as j:
                total = b.fadd(b.load(self._gep(b, c_row, j), typ=self.element),
                               b.load(self._gep(b, t_row, j), typ=self.element))
                b.store(total, self._gep(b, c_row, j))

    @staticmethod
    def _call_micro(b, micro_kernels, direct: bool, narrow, height: int, arguments) -> None:
        with b.if_else(narrow) as (then, otherwise):
            with then:
                b.call(micro_kernels[direct, True, height], arguments)
            with otherwise:
                b.call(micro_kernels[direct, False, height], arguments)

    def emit(self) -> ir.Function:
        """The exported `i32 name(m, n, k, a, b, c, epilogue, context, status)`: C = op(A) @ op(B),
        then epilogue(context, tile...) on every tile of C; runs on the thread pool.

        Also exports `name_on_thread(..., status, thread)`: the same product computed by the
        calling thread alone, with pool thread `thread`'s scratch buffers, for kernels that
        already split their work across the pool (convolutions: one im2col chunk per task).
        """
        micro_kernels = {(direct, narrow, height): self._micro_kernel(direct, halves=1 if narrow else 2, height=height)
                         for direct in (False, True) for narrow in (False, True)
                         for height in (self.block.mr, *row_pieces(self.block.mr))}
        task = self._task(self._pack_a(), self._pack_b(), micro_kernels)
        self._entry(task, on_thread=True)
        return self._entry(task, on_thread=False)

    def _epilogue_rows(self, b, n, epilogue):
        """The height of a block of A (MC), lowered with an epilogue so that the block of C it
        runs on (height x N) fills at most EPILOGUE_BLOCK_L2 of L2: the MLP's weight update
        after dW1 (784 x 300, K = 100: one block of k) otherwise read a 940 KB dW1 and W1 mostly
        from L3, memory-bound. Only rows are cut, so each element's sum is the same."""
        bm = self.block
        c_bytes = machine.data_cache_bytes()[2] * EPILOGUE_BLOCK_L2
        cap = b.udiv(i64(int(c_bytes) // self._size()), self._min(b, n, i64(bm.nc)))
        cap = self._min(b, i64(bm.mc), b.select(b.icmp_signed("<", cap, i64(bm.mr)), i64(bm.mr), cap))
        return b.select(b.icmp_unsigned("!=", b.ptrtoint(epilogue, I64), i64(0)), cap, i64(bm.mc))

    def _entry(self, task, on_thread: bool) -> ir.Function:
        function = abi.gemm_function(self.dtype, self.transpose_a, self.transpose_b, on_thread)
        kb = KernelBuilder(self.module, function.name, GEMM_ARGUMENTS + (["thread"] if on_thread else []),
                           [llvm_type(c_type) for c_type in function.arguments])
        kb.function.linkage = "external"
        # The epilogue reads C through the step's own pointers, and may write its value into C's buffer
        # (OpDef.epilogue_in_place): C is not accessed through `c` alone while this function runs.
        kb.arg("c").attributes.discard("noalias")
        b = kb.b
        m, n, k = kb.arg("m"), kb.arg("n"), kb.arg("k")
        bm = self.block
        with b.if_then(b.or_(b.icmp_signed("==", m, i64(0)), b.icmp_signed("==", n, i64(0)))):
            b.ret(ir.Constant(I32, 0))
        epilogue = kb.arg("epilogue")
        with b.if_then(b.icmp_signed("==", k, i64(0))):  # an empty sum: C = 0, then the epilogue
            memset = declare(self.module, "llvm.memset.p0.i64", VOID, [PTR, I8, I64, I1])
            b.call(memset, [kb.arg("c"), ir.Constant(I8, 0), b.mul(b.mul(m, n), i64(self._size())),
                            ir.Constant(I1, 0)])
            with b.if_then(b.icmp_unsigned("!=", b.ptrtoint(epilogue, I64), i64(0))):
                b.call(IndirectCallee(epilogue, EPILOGUE_TYPE), [kb.arg("context"), i64(0), i64(0), m, n])
            b.ret(ir.Constant(I32, 0))
        n_panels, m_panels = self._ceil_div(b, n, i64(bm.nr)), self._ceil_div(b, m, i64(bm.mr))
        # By columns only where C has more panels than MR-row blocks: a share of rows writes whole rows, the
        # threads meeting in at most one cache line of C, while a cut between columns falls inside a line in
        # every row whose length is not a multiple of a line, which both threads then write (the MLP's input
        # gradient of layer 2, 100x300 in 10 panels and 10 blocks of rows: 66 -> 48 µs a step with the two
        # vCPUs far apart, docs/performance-notes.md).
        split_columns = b.icmp_signed(">", n_panels, m_panels)
        panels = b.select(split_columns, n_panels, m_panels)
        mc_block = self._balanced(b, m, self._epilogue_rows(b, n, epilogue), bm.mr)
        halves = self._depth_halves(b, m, n, k, mc_block)
        if on_thread:
            shares = i64(1)
        else:
            threads = b.sext(b.call(runtime_function(self.module, "graphc_num_threads"), []), I64)
            small = b.icmp_signed("<", b.mul(b.mul(m, n), k), i64(PARALLEL_MIN_FLOPS))
            shares = b.select(small, i64(1), self._min(b, threads, panels))
            # Split K, the halves take the threads: each half's share of C is split among the rest.
            shares = self._max(b, b.udiv(shares, halves), i64(1))
        blocks = [mc_block, self._depth_block(b, m, self._ceil_div(b, k, halves)), self._balanced(b, n, bm.nc, bm.nr)]
        context = kb.variable(self.context_type)
        values = [kb.arg(x) for x in GEMM_ARGUMENTS] + blocks + [shares, split_columns, halves, i64(0)]
        for f, value in enumerate(values):
            b.store(value, b.gep(context, [ir.Constant(I32, 0), ir.Constant(I32, f)], source_etype=self.context_type))
        count = b.mul(shares, halves)
        if on_thread:  # in index order: a second half's task waits for the first half's (_join_halves)
            with kb.loop(count, "task") as index:
                b.call(task, [context, index, kb.arg("thread")])
        else:
            parallel_for = runtime_function(self.module, "graphc_parallel_for")
            b.call(parallel_for, [task, context, count])
        b.ret(b.load(kb.arg("status"), typ=I32))
        return kb.function


def emit_gemm_functions(module: ir.Module, dtype) -> None:
    """The four GEMMs (transposes of A and B) of one element type into `module`."""
    for transpose_a in (False, True):
        for transpose_b in (False, True):
            GemmEmitter(module, dtype, transpose_a, transpose_b).emit()


def row_pieces(mr: int) -> tuple:
    """The heights of the shorter micro-kernels, largest first: the powers of two below MR
    from 2 up, whose sums make every even row count below MR (10 or 14: 8, 4, 2; 6: 4, 2)."""
    pieces = tuple(1 << bit for bit in range(mr.bit_length() - 1, 0, -1) if 1 << bit < mr)
    assert sum(pieces) >= mr - 1, (mr, pieces)
    return pieces


def _transpose_square(b, rows):
    """The columns of a square matrix given as its rows (n vectors of n lanes, n a power of two):
    log2(n) rounds of two-input shuffles, round s swapping bit s of the row index with bit s
    of the lane index (for 16 x 16, 64 shuffles)."""
    n = len(rows)
    assert n & (n - 1) == 0 and all(row.type.count == n for row in rows), n
    index_type = ir.VectorType(I32, n)
    bit = 1
    while bit < n:
        low_lanes = ir.Constant(index_type, [j if not j & bit else n + j - bit for j in range(n)])
        high_lanes = ir.Constant(index_type, [j + bit if not j & bit else n + j for j in range(n)])
        swapped = list(rows)
        for i in range(n):
            if not i & bit:
                swapped[i] = b.shuffle_vector(rows[i], rows[i | bit], low_lanes)
                swapped[i | bit] = b.shuffle_vector(rows[i], rows[i | bit], high_lanes)
        rows, bit = swapped, bit * 2
    return rows
