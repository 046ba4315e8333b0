"""Row-wise softmax math over the last axis: softmax and log_softmax kernels, and
the row helpers the fused cross-entropy kernel uses (labels are checked and a
bad one is reported through the status, never read out of bounds)."""

from __future__ import annotations

from graphc.backend.kernel_builder import KernelBuilder, constant, i64, register_type
from graphc.backend import scalar_ops
from graphc.backend.scalar_ops import convert
from graphc.frontend import dtypes
from graphc.frontend.tensor_shape import num_elements

_LABEL_MESSAGE = "Received a label value of %lld which is outside the valid range of [0, %lld). (op {op})"


class Rows:
    """Helpers for a kernel over rows of `classes` elements of `dtype`."""

    def __init__(self, kb: KernelBuilder, dtype, classes: int):
        self.kb, self.dtype, self.classes = kb, dtype, classes
        self.value_type = register_type(dtype)

    def max(self, x, base):
        kb = self.kb
        best = kb.variable(self.value_type, constant(self.dtype, float("-inf")))
        with kb.loop(self.classes, "cmax") as c:
            value = kb.load(x, self.dtype, kb.b.add(base, c))
            kb.set(best, kb.intrinsic("maximum", self.dtype, [kb.get(best, self.value_type), value]))
        return kb.get(best, self.value_type)

    def sum_exp(self, x, base, shift, store_to=None):
        """sum(exp(x - shift)) over the row; optionally stores each exp to `store_to`."""
        kb = self.kb
        total = kb.variable(self.value_type, constant(self.dtype, 0))
        with kb.loop(self.classes, "cexp") as c:
            index = kb.b.add(base, c)
            e = scalar_ops.exp(kb, self.dtype, kb.b.fsub(kb.load(x, self.dtype, index), shift))
            if store_to is not None:
                kb.store(store_to, self.dtype, index, e)
            kb.set(total, kb.b.fadd(kb.get(total, self.value_type), e))
        return kb.get(total, self.value_type)

    def softmax(self, x, out, base):
        """out = softmax of the row of x at `base`."""
        kb = self.kb
        total = self.sum_exp(x, base, self.max(x, base), store_to=out)
        with kb.loop(self.classes, "cnorm") as c:
            index = kb.b.add(base, c)
            kb.store(out, self.dtype, index, kb.b.fdiv(kb.load(out, self.dtype, index), total))

    def label(self, labels, label_dtype, row, inst):
        """The row's label as i64, after checking 0 <= label < classes."""
        kb = self.kb
        label = convert(kb, kb.load(labels, label_dtype, row), label_dtype, dtypes.int64)
        bad = kb.b.or_(kb.b.icmp_signed("<", label, i64(0)), kb.b.icmp_signed(">=", label, i64(self.classes)))
        with kb.if_(bad):
            kb.fail(3, _LABEL_MESSAGE.format(op=inst.source or inst.op), label, i64(self.classes))
        return label


def _setup(module, name, inst, arg_names):
    logits = inst.values[0]
    kb = KernelBuilder(module, name, arg_names)
    shape = logits.type.shape
    rows = Rows(kb, logits.type.dtype, shape[-1])
    return kb, rows, num_elements(shape[:-1])


def lower_softmax(module, name, inst):
    kb, rows, count = _setup(module, name, inst, ["out", "in0", "status"])
    out, x, b = kb.arg("out"), kb.arg("in0"), kb.b
    with kb.loop(count, "row") as r:
        rows.softmax(x, out, b.mul(r, i64(rows.classes)))
    return kb.finish()


def lower_log_softmax(module, name, inst):
    kb, rows, count = _setup(module, name, inst, ["out", "in0", "status"])
    out, x, b = kb.arg("out"), kb.arg("in0"), kb.b
    with kb.loop(count, "row") as r:
        base = b.mul(r, i64(rows.classes))
        shift = rows.max(x, base)
        log_total = scalar_ops.log(kb, rows.dtype, rows.sum_exp(x, base, shift))
        with kb.loop(rows.classes, "cout") as c:
            index = b.add(base, c)
            kb.store(out, rows.dtype, index, b.fsub(b.fsub(kb.load(x, rows.dtype, index), shift), log_total))
    return kb.finish()
