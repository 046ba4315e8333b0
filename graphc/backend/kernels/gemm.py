"""GEMM generated as LLVM IR, BLIS-style: C[M,N] = op(A)[M,K] @ op(B)[K,N], float32/float64.

    for jc in [n0, n1) step NC:              a KC x NC block of B (sized for L3)
      for pc in [0, K) step KC:
        pack B into panels of NR columns, k-major
        for ic in [m0, m1) step MC:          an MC x KC block of A (sized for L2)
          pack A into panels of MR rows, k-major
          for jr in block step NR:
            for ir in block step MR:
              micro-kernel: an MR x NR tile of C held in 2*MR vector registers;
              per k, one broadcast of A and two vector loads of B feed 2*MR FMAs
              (MR x NR = 6 x 16 with AVX2; 14 x 32 with AVX-512)

Transposes are absorbed by the packing routines, so one micro-kernel serves
forward and backward products. A transposed A ([K, M]) is read in place: it is
already k-major, MR contiguous elements per k (packing it cost more than it
saved at the MLP's backward shapes). Threads split C into ranges of whole NR-column
(or MR-row) panels; every element is summed over k in the same order whatever
the thread count, so results are bit-identical with 1 or 2 threads.

An optional epilogue (fusion) runs on each finished tile while it is in L1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import llvmlite.ir as ir

from graphc.backend import target
from graphc.backend.kernel_builder import (I1, I8, I32, I64, PTR, VOID, KernelBuilder, declare, i64, memory_type,
                                           runtime_function)

# Below this many multiply-adds a product runs on one thread: waking the pool costs more.
PARALLEL_MIN_FLOPS = 1 << 17
_UNROLL = 4
# How many rows of B ahead the packing loop prefetches.
_PREFETCH_ROWS = 8


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
    width = target.vector_bytes() // dtype.size
    registers = 32 if target.vector_bytes() == 64 else 16
    nr = 2 * width
    mr = (registers - 3) // 2  # 2*MR accumulators + 2 vectors of B + 1 broadcast of A
    caches = target.data_cache_bytes()
    kc = max(64, caches[1] // 2 // (nr * dtype.size))  # a B micro-panel fills half of L1
    mc = max(mr, caches[2] // 2 // (kc * dtype.size) // mr * mr)  # the A block fills half of L2
    nc = max(nr, caches[3] // 4 // (kc * dtype.size) // nr * nr)  # the B block a quarter of L3
    return Blocking(width, mr, nr, mc, kc, nc)


@dataclass(frozen=True)
class GemmSpec:
    m: int
    n: int
    k: int
    transpose_a: bool
    transpose_b: bool
    dtype: object


# epilogue(kb, c_pointer, row, col, rows, cols, context_values): code run on a finished tile
Epilogue = Callable


class GemmEmitter:
    """Emits the functions of one GEMM into `module`; `emit()` returns the kernel entry."""

    def __init__(self, module: ir.Module, name: str, spec: GemmSpec, epilogue: Optional[Epilogue] = None,
                 extra_pointers: int = 0):
        self.module, self.name, self.spec = module, name, spec
        self.block = blocking(spec.dtype)
        self.element = memory_type(spec.dtype)
        self.vector = ir.VectorType(self.element, self.block.width)
        self.epilogue = epilogue
        self.extra_pointers = extra_pointers
        bm = self.block
        self.n_panels = -(-spec.n // bm.nr)
        self.m_panels = -(-spec.m // bm.mr)
        self.split_columns = self.n_panels >= self.m_panels
        # Equal cache blocks (784 = 4 x 196, not 3 x 256 + 16): no block is left nearly empty.
        self.kc = _balanced(spec.k, bm.kc, _UNROLL)
        self.mc = _balanced(spec.m, bm.mc, bm.mr)
        self.nc = _balanced(spec.n, bm.nc, bm.nr)
        # The context the kernel hands to its tasks: C, A, B, status, task count, extra pointers.
        self.context_type = ir.LiteralStructType([PTR, PTR, PTR, PTR, I64] + [PTR] * extra_pointers)

    # -- helpers --------------------------------------------------------------------------------

    def _size(self) -> int:
        return self.spec.dtype.size

    def _prefetch(self, b, pointer, write: bool) -> None:
        prefetch = declare(self.module, "llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
        b.call(prefetch, [pointer, ir.Constant(I32, int(write)), ir.Constant(I32, 3), ir.Constant(I32, 1)])

    def _min(self, b, x, y):
        return b.select(b.icmp_signed("<", x, y), x, y)

    def _gep(self, b, pointer, index):
        return b.gep(pointer, [index], inbounds=True, source_etype=self.element)

    # -- packing ------------------------------------------------------------------------------------

    def _pack_b(self) -> ir.Function:
        """Bp[(p*kc + k)*NR + j] = op(B)[pc + k, jc + p*NR + j], zero past column N."""
        spec, bm = self.spec, self.block
        kb = KernelBuilder(self.module, f"{self.name}_pack_b", ["bp", "b", "pc", "jc", "kc", "nc"],
                           [PTR, PTR, I64, I64, I64, I64], VOID)
        b = kb.b
        bp, source, pc, jc, kc, nc = (kb.arg(n) for n in ("bp", "b", "pc", "jc", "kc", "nc"))
        panels = b.udiv(b.add(nc, i64(bm.nr - 1)), i64(bm.nr))
        full_panels = self._min(b, panels, b.sdiv(b.sub(i64(spec.n), jc), i64(bm.nr)))

        def element(k, col):  # the index of op(B)[pc + k, col] in B
            if spec.transpose_b:
                return b.add(b.mul(col, i64(spec.k)), b.add(pc, k))
            return b.add(b.mul(b.add(pc, k), i64(spec.n)), col)

        with kb.loop(full_panels, "p") as p:
            col0 = b.add(jc, b.mul(p, i64(bm.nr)))
            panel = self._gep(b, bp, b.mul(b.mul(p, kc), i64(bm.nr)))
            if spec.transpose_b:  # B is [N, K]: each column of the panel is contiguous along k
                for j in range(bm.nr):
                    row = element(i64(0), b.add(col0, i64(j)))
                    self._prefetch(b, self._gep(b, source, row), write=False)
                    with kb.loop(kc, "k") as k:
                        value = b.load(self._gep(b, source, b.add(row, k)), typ=self.element)
                        b.store(value, self._gep(b, panel, b.add(b.mul(k, i64(bm.nr)), i64(j))))
            else:  # B is [K, N]: each k gives NR contiguous elements
                with kb.loop(kc, "k") as k:
                    src = self._gep(b, source, element(k, col0))
                    # B usually comes from L3 or memory: ask for rows well ahead of their copy.
                    self._prefetch(b, self._gep(b, source, self._min(
                        b, element(b.add(k, i64(_PREFETCH_ROWS)), col0), i64(spec.k * spec.n - 1))), write=False)
                    dst = self._gep(b, panel, b.mul(k, i64(bm.nr)))
                    for h in range(2):
                        value = b.load(self._gep(b, src, i64(h * bm.width)), typ=self.vector, align=self._size())
                        b.store(value, self._gep(b, dst, i64(h * bm.width)), align=32)
        with b.if_then(b.icmp_signed("<", full_panels, panels)):  # the edge panel, zero-padded
            col0 = b.add(jc, b.mul(full_panels, i64(bm.nr)))
            panel = self._gep(b, bp, b.mul(b.mul(full_panels, kc), i64(bm.nr)))
            zero = ir.Constant(self.element, 0.0)
            with kb.loop(kc, "ke") as k:
                with kb.loop(bm.nr, "je") as j:
                    col = b.add(col0, j)
                    valid = b.icmp_signed("<", col, i64(spec.n))
                    safe = b.select(valid, element(k, col), i64(0))
                    value = b.select(valid, b.load(self._gep(b, source, safe), typ=self.element), zero)
                    b.store(value, self._gep(b, panel, b.add(b.mul(k, i64(bm.nr)), j)))
        return kb.finish()

    def _pack_a(self) -> ir.Function:
        """Ap[(p*kc + k)*MR + i] = A[ic + p*MR + i, pc + k] for a row-major A (zero past row M)."""
        spec, bm = self.spec, self.block
        kb = KernelBuilder(self.module, f"{self.name}_pack_a", ["ap", "a", "ic", "pc", "mc", "kc"],
                           [PTR, PTR, I64, I64, I64, I64], VOID)
        b = kb.b
        ap, source, ic, pc, mc, kc = (kb.arg(n) for n in ("ap", "a", "ic", "pc", "mc", "kc"))
        panels = b.udiv(b.add(mc, i64(bm.mr - 1)), i64(bm.mr))
        full_panels = self._min(b, panels, b.sdiv(b.sub(i64(spec.m), ic), i64(bm.mr)))
        with kb.loop(full_panels, "p") as p:
            row0 = b.add(ic, b.mul(p, i64(bm.mr)))
            rows = [self._gep(b, source, b.add(b.mul(b.add(row0, i64(i)), i64(spec.k)), pc)) for i in range(bm.mr)]
            panel = self._gep(b, ap, b.mul(b.mul(p, kc), i64(bm.mr)))
            # k outer, the MR rows unrolled: MR sequential streams in, one contiguous stream out.
            with kb.loop(kc, "k") as k:
                destination = self._gep(b, panel, b.mul(k, i64(bm.mr)))
                for i, row in enumerate(rows):
                    b.store(b.load(self._gep(b, row, k), typ=self.element), self._gep(b, destination, i64(i)))
        with b.if_then(b.icmp_signed("<", full_panels, panels)):  # the edge panel, zero-padded
            row0 = b.add(ic, b.mul(full_panels, i64(bm.mr)))
            panel = self._gep(b, ap, b.mul(b.mul(full_panels, kc), i64(bm.mr)))
            zero = ir.Constant(self.element, 0.0)
            with kb.loop(kc, "ke") as k:
                with kb.loop(bm.mr, "ie") as i:
                    row = b.add(row0, i)
                    valid = b.icmp_signed("<", row, i64(spec.m))
                    safe = b.select(valid, b.add(b.mul(row, i64(spec.k)), b.add(pc, k)), i64(0))
                    value = b.select(valid, b.load(self._gep(b, source, safe), typ=self.element), zero)
                    b.store(value, self._gep(b, panel, b.add(b.mul(k, i64(bm.mr)), i)))
        return kb.finish()

    @property
    def packs_a(self) -> bool:
        """Row-major A is packed into k-major panels; a transposed A is already k-major."""
        return not self.spec.transpose_a

    # -- the micro-kernel -----------------------------------------------------------------------------

    def _micro_kernel(self) -> ir.Function:
        """C tile (+)= Ap panel @ Bp panel over kc; `first` overwrites instead of adding."""
        spec, bm = self.spec, self.block
        kb = KernelBuilder(self.module, f"{self.name}_micro", ["a", "bp", "c", "kc", "first", "rows", "cols"],
                           [PTR, PTR, PTR, I64, I1, I64, I64], VOID)
        b = kb.b
        a, bp, c, kc, first, rows, cols = (kb.arg(n) for n in ("a", "bp", "c", "kc", "first", "rows", "cols"))
        # Row i of the A tile starts at a + i*row_stride (rows past the edge of C re-read
        # the last valid row; their results are never stored).
        row_stride, k_stride = (1, bm.mr) if self.packs_a else (1, spec.m)
        a_rows = [self._gep(b, a, b.mul(b.select(b.icmp_signed("<", i64(i), rows), i64(i), b.sub(rows, i64(1))),
                                        i64(row_stride))) for i in range(bm.mr)]
        fma = declare(self.module, f"llvm.fma.v{bm.width}{'f32' if self._size() == 4 else 'f64'}", self.vector,
                      [self.vector] * 3)
        zero_vector = ir.Constant(self.vector, None)
        accumulators = [[kb.variable(self.vector, zero_vector) for _ in range(2)] for _ in range(bm.mr)]
        # The C tile is touched only after the k loop; fetch its lines meanwhile.
        for i in range(bm.mr):
            for offset in (0, bm.nr - 1):
                line = self._gep(b, c, b.mul(b.select(b.icmp_signed("<", i64(i), rows), i64(i), i64(0)),
                                             i64(spec.n)))
                self._prefetch(b, self._gep(b, line, i64(offset)), write=True)
        undef = ir.Constant(self.vector, ir.Undefined)
        splat_mask = ir.Constant(ir.VectorType(I32, bm.width), [0] * bm.width)

        def step(k):
            b_index = b.mul(k, i64(bm.nr))
            b_vectors = [b.load(self._gep(b, bp, b.add(b_index, i64(h * bm.width))), typ=self.vector, align=32)
                         for h in range(2)]
            a_offset = b.mul(k, i64(k_stride))
            for i in range(bm.mr):
                scalar = b.load(self._gep(b, a_rows[i], a_offset), typ=self.element)
                broadcast = b.shuffle_vector(b.insert_element(undef, scalar, ir.Constant(I32, 0)), undef, splat_mask)
                for h in range(2):
                    slot = accumulators[i][h]
                    kb.set(slot, b.call(fma, [broadcast, b_vectors[h], kb.get(slot, self.vector)]))

        # The k loop unrolled by hand: LLVM's unroller is off for compile speed.
        with kb.loop(b.udiv(kc, i64(_UNROLL)), "k4") as k4:
            for u in range(_UNROLL):
                step(b.add(b.mul(k4, i64(_UNROLL)), i64(u)))
        with kb.loop(b.urem(kc, i64(_UNROLL)), "kr") as kr:
            step(b.add(b.mul(b.udiv(kc, i64(_UNROLL)), i64(_UNROLL)), kr))

        full = b.and_(b.icmp_signed("==", rows, i64(bm.mr)), b.icmp_signed("==", cols, i64(bm.nr)))
        with b.if_else(full) as (then, otherwise):
            with then:
                for accumulate in (False, True):
                    with b.if_then(b.icmp_unsigned("==", first, ir.Constant(I1, int(not accumulate)))):
                        for i in range(bm.mr):
                            for h in range(2):
                                pointer = self._gep(b, c, i64(i * spec.n + h * bm.width))
                                value = kb.get(accumulators[i][h], self.vector)
                                if accumulate:
                                    value = b.fadd(b.load(pointer, typ=self.vector, align=self._size()), value)
                                b.store(value, pointer, align=self._size())
            with otherwise:
                tile = kb.local_array(self.element, bm.mr * bm.nr)
                for i in range(bm.mr):
                    for h in range(2):
                        pointer = self._gep(b, tile, i64(i * bm.nr + h * bm.width))
                        b.store(kb.get(accumulators[i][h], self.vector), pointer, align=self._size())
                with kb.loop(rows, "ti") as i:
                    with kb.loop(cols, "tj") as j:
                        value = b.load(self._gep(b, tile, b.add(b.mul(i, i64(bm.nr)), j)), typ=self.element)
                        pointer = self._gep(b, c, b.add(b.mul(i, i64(spec.n)), j))
                        previous = b.load(pointer, typ=self.element)
                        b.store(b.select(first, value, b.fadd(previous, value)), pointer)
        return kb.finish()

    # -- tasks and the entry -----------------------------------------------------------------------------

    def _task(self, pack_a, pack_b, micro) -> ir.Function:
        spec, bm = self.spec, self.block
        kb = KernelBuilder(self.module, f"{self.name}_task", ["context", "index", "thread"], [PTR, I64, I64], VOID)
        b = kb.b
        context = kb.arg("context")
        fields = [b.load(b.gep(context, [ir.Constant(I32, 0), ir.Constant(I32, f)], source_etype=self.context_type),
                      typ=self.context_type.elements[f]) for f in range(len(self.context_type.elements))]
        c, a, bmat, status, count = fields[:5]
        extras = fields[5:]
        index = kb.arg("index")
        panels, panel_size = (self.n_panels, bm.nr) if self.split_columns else (self.m_panels, bm.mr)
        start = b.mul(b.udiv(b.mul(i64(panels), index), count), i64(panel_size))
        stop = b.mul(b.udiv(b.mul(i64(panels), b.add(index, i64(1))), count), i64(panel_size))
        limit = i64(spec.n if self.split_columns else spec.m)
        stop = self._min(b, stop, limit)
        n0, n1 = (start, stop) if self.split_columns else (i64(0), i64(spec.n))
        m0, m1 = (i64(0), i64(spec.m)) if self.split_columns else (start, stop)

        nc_max = min(self.nc, self.n_panels * bm.nr)
        a_elements = self.mc * self.kc if self.packs_a else 0
        scratch_bytes = (a_elements + self.kc * nc_max) * self._size()
        scratch_fn = runtime_function(self.module, "graphc_scratch", PTR, [I64, I64])
        scratch = b.call(scratch_fn, [kb.arg("thread"), i64(scratch_bytes)])
        with b.if_then(b.icmp_unsigned("==", b.ptrtoint(scratch, I64), i64(0)), likely=False):
            fail = runtime_function(self.module, "graphc_fail", I32, [PTR, I32, PTR, I64, I64, I64])
            from graphc.backend.kernel_builder import global_string

            text = global_string(self.module, f"Out of memory for {scratch_bytes} bytes of GEMM buffers (op {self.name})")
            b.call(fail, [status, ir.Constant(I32, 8), text, i64(0), i64(0), i64(0)])
            b.ret_void()
        packed_a = scratch
        packed_b = self._gep(b, scratch, i64(a_elements))

        column_blocks = b.udiv(b.add(b.sub(n1, n0), i64(self.nc - 1)), i64(self.nc))
        with kb.loop(column_blocks, "jc") as jb:
            jc = b.add(n0, b.mul(jb, i64(self.nc)))
            nc = self._min(b, i64(self.nc), b.sub(n1, jc))
            depth_blocks = -(-spec.k // self.kc)
            with kb.loop(depth_blocks, "pc") as pb:
                pc = b.mul(pb, i64(self.kc))
                kc = self._min(b, i64(self.kc), b.sub(i64(spec.k), pc))
                first = b.icmp_signed("==", pb, i64(0))
                last = b.icmp_signed("==", pb, i64(depth_blocks - 1))
                b.call(pack_b, [packed_b, bmat, pc, jc, kc, nc])
                row_blocks = b.udiv(b.add(b.sub(m1, m0), i64(self.mc - 1)), i64(self.mc))
                with kb.loop(row_blocks, "ic") as ib:
                    ic = b.add(m0, b.mul(ib, i64(self.mc)))
                    mc = self._min(b, i64(self.mc), b.sub(m1, ic))
                    if self.packs_a:
                        b.call(pack_a, [packed_a, a, ic, pc, mc, kc])
                    with kb.loop(b.udiv(b.add(nc, i64(bm.nr - 1)), i64(bm.nr)), "jr") as jr_index:
                        jr = b.mul(jr_index, i64(bm.nr))
                        cols = self._min(b, i64(bm.nr), b.sub(nc, jr))
                        with kb.loop(b.udiv(b.add(mc, i64(bm.mr - 1)), i64(bm.mr)), "ir") as ir_index:
                            row_in_block = b.mul(ir_index, i64(bm.mr))
                            rows = self._min(b, i64(bm.mr), b.sub(mc, row_in_block))
                            row = b.add(ic, row_in_block)
                            col = b.add(jc, jr)
                            tile = self._gep(b, c, b.add(b.mul(row, i64(spec.n)), col))
                            if self.packs_a:
                                a_tile = self._gep(b, packed_a, b.mul(row_in_block, kc))
                            else:
                                a_tile = self._gep(b, a, b.add(b.mul(pc, i64(spec.m)), row))
                            b_panel = self._gep(b, packed_b, b.mul(jr, kc))
                            b.call(micro, [a_tile, b_panel, tile, kc, first, rows, cols])
                            if self.epilogue is not None:
                                with b.if_then(last):
                                    self.epilogue(kb, c, row, col, rows, cols, extras)
        return kb.finish()

    def emit(self) -> ir.Function:
        """The kernel `i32 (ptr c, ptr a, ptr b, [ptr extra...,] ptr status)` running the GEMM on the pool."""
        task = self._task(self._pack_a() if self.packs_a else None, self._pack_b(), self._micro_kernel())
        names = ["out", "in0", "in1"] + [f"extra{i}" for i in range(self.extra_pointers)] + ["status"]
        kb = KernelBuilder(self.module, self.name, names)
        b = kb.b
        context = kb.variable(self.context_type)
        threads = b.sext(b.call(runtime_function(self.module, "graphc_num_threads", I32, []), []), I64)
        panels = self.n_panels if self.split_columns else self.m_panels
        spec = self.spec
        if spec.m * spec.n * spec.k < PARALLEL_MIN_FLOPS:
            count = i64(1)
        else:
            count = self._min(b, threads, i64(panels))
        values = [kb.arg("out"), kb.arg("in0"), kb.arg("in1"), kb.arg("status"), count]
        values += [kb.arg(f"extra{i}") for i in range(self.extra_pointers)]
        for f, value in enumerate(values):
            b.store(value, b.gep(context, [ir.Constant(I32, 0), ir.Constant(I32, f)], source_etype=self.context_type))
        parallel_for = runtime_function(self.module, "graphc_parallel_for", VOID, [PTR, PTR, I64])
        if spec.m and spec.n:
            if spec.k == 0:
                zero_fill(kb, kb.arg("out"), spec)
            else:
                b.call(parallel_for, [task, context, count])
        status_code = b.load(kb.arg("status"), typ=I32)
        b.ret(status_code)
        return kb.function


def _balanced(extent: int, block: int, multiple: int) -> int:
    """The block size splitting `extent` into equal blocks of at most ~`block`, rounded up to `multiple`."""
    count = max(1, -(-extent // block))
    size = -(-extent // count)
    return max(multiple, -(-size // multiple) * multiple)


def zero_fill(kb: KernelBuilder, pointer, spec: GemmSpec) -> None:
    """C = 0 for an empty sum (K = 0)."""
    memset = declare(kb.module, "llvm.memset.p0.i64", VOID, [PTR, I8, I64, I1])
    kb.b.call(memset, [pointer, ir.Constant(I8, 0), i64(spec.m * spec.n * spec.dtype.size), ir.Constant(I1, 0)])
