"""cumsum and cumprod along one axis: a kernel of their own (ops/scan_ops.py).

The input is walked as [outer, length, inner]. For each outer index the running values
of TILE inner positions at a time sit in a stack row and step along the axis together,
so every load and store is contiguous (and the inner loop vectorizes).

Accuracy, as graphc's summation policy asks of long sums (summation.py): a running sum
cannot be a pairwise tree (every prefix is a result), so float sums are accumulated in
float64 (float32 data) and compensated (Neumaier: the rounding error of each addition is
carried in a second running value). A float32 cumsum of 1e8 elements is then correct to
its last bit or so, where a float32 running sum stops growing at 2**24. Products
accumulate in float64 (float32 data) or their own dtype; integers wrap, as TF's do.
"""

from __future__ import annotations

from graphc.backend import lowering
from graphc.backend.kernel_builder import KernelBuilder, i64, memory_type
from graphc.backend.scalar_ops import convert
from graphc.core import dtypes
from graphc.core.tensor_shape import num_elements

TILE = 512  # inner positions scanned together: two stack rows of float64 stay within L1


def _accumulation_dtype(dtype):
    return dtypes.float64 if dtype is dtypes.float32 else dtype


class _Scan:
    """The code of one scan kernel: `combine` is "add" or "multiply"."""

    def __init__(self, kb: KernelBuilder, inst, combine: str):
        self.kb, self.combine = kb, combine
        source = inst.values[0]
        shape, self.dtype = source.type.shape, source.type.dtype
        axis = int(inst.attrs["axis"]) % len(shape)
        self.outer, self.length, self.inner = num_elements(shape[:axis]), shape[axis], num_elements(shape[axis + 1:])
        self.exclusive, self.reverse = inst.attrs["exclusive"], inst.attrs["reverse"]
        self.sums = _accumulation_dtype(self.dtype)
        self.compensated = combine == "add" and self.dtype.is_floating
        width = min(TILE, self.inner)
        self.running = kb.local_array(memory_type(self.sums), width)
        self.errors = kb.local_array(memory_type(self.sums), width) if self.compensated else None

    def emit(self, out, x) -> None:
        kb, b = self.kb, self.kb.b
        tiles, rest = divmod(self.inner, TILE)
        with kb.loop(self.outer, "outer") as o:
            base = b.mul(o, i64(self.length * self.inner))
            if tiles:
                with kb.loop(tiles, "tile") as t:
                    self._tile(out, x, b.add(base, b.mul(t, i64(TILE))), TILE)
            if rest:
                self._tile(out, x, b.add(base, i64(tiles * TILE)), rest)

    def _tile(self, out, x, base, width: int) -> None:
        """The scan of the `width` inner positions from `base` on, along the whole axis."""
        kb, b = self.kb, self.kb.b
        identity = kb.constant(self.sums, 1 if self.combine == "multiply" else 0)
        with kb.loop(width, "start") as j:
            kb.store(self.running, self.sums, j, identity)
            if self.compensated:
                kb.store(self.errors, self.sums, j, identity)
        with kb.loop(self.length, "step") as k:
            position = b.sub(i64(self.length - 1), k) if self.reverse else k
            row = b.add(base, b.mul(position, i64(self.inner)))
            with kb.loop(width, "position") as j:
                at = b.add(row, j)
                if self.exclusive:
                    kb.store(out, self.dtype, at, self._result(j))
                self._step(j, convert(kb, kb.load(x, self.dtype, at), self.dtype, self.sums))
                if not self.exclusive:
                    kb.store(out, self.dtype, at, self._result(j))

    def _step(self, j, value) -> None:
        kb, b = self.kb, self.kb.b
        running = kb.load(self.running, self.sums, j)
        if self.combine == "multiply":
            kb.store(self.running, self.sums, j, b.fmul(running, value) if self.sums.is_floating
                     else b.mul(running, value))
        elif not self.compensated:
            kb.store(self.running, self.sums, j, b.add(running, value))
        else:  # Neumaier: the part of the smaller operand the addition rounded away
            total = b.fadd(running, value)
            larger_first = b.fcmp_ordered(">=", kb.intrinsic("fabs", self.sums, [running]),
                                          kb.intrinsic("fabs", self.sums, [value]))
            lost = b.select(larger_first, b.fadd(b.fsub(running, total), value),
                            b.fadd(b.fsub(value, total), running))
            kb.store(self.errors, self.sums, j, b.fadd(kb.load(self.errors, self.sums, j), lost))
            kb.store(self.running, self.sums, j, total)

    def _result(self, j):
        """The running value at inner position j, in the data's dtype."""
        kb, b = self.kb, self.kb.b
        running = kb.load(self.running, self.sums, j)
        if self.compensated:
            # Once an infinity is added the error turns NaN (inf - inf); the sum itself is then right.
            error = kb.load(self.errors, self.sums, j)
            running = b.select(b.fcmp_unordered("uno", error, error), running, b.fadd(running, error))
        return convert(kb, running, self.sums, self.dtype)


def lower_scan(module, name, inst, combine: str):
    """The kernel `i32 (ptr out, ptr x, ptr status)` of a cumsum ("add") or cumprod ("multiply")."""
    kb = KernelBuilder(module, name, ["out", "in0", "status"])
    _Scan(kb, inst, combine).emit(kb.arg("out"), kb.arg("in0"))
    return kb.finish()


lowering.register_kernels({
    "cumsum": lambda module, name, inst: lower_scan(module, name, inst, "add"),
    "cumprod": lambda module, name, inst: lower_scan(module, name, inst, "multiply"),
})
