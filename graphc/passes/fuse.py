"""Fusion: groups instructions into kernels, each one loop nest in the generated code.

Kernel kinds, by what anchors them (an op's fusion class and, for ANCHOR ops,
its `anchor` kind, from the op registry):

- gemm: a float matmul, plus an epilogue of elementwise ops over its result's
  shape (bias add, relu, an optimizer update) and writes of epilogue values;
- conv: a float conv2d (a GEMM over [N*OH*OW, O]), plus an epilogue over its
  result's shape whose other operands are per channel, per pixel or scalars
  (a bias add and relu), so that the epilogue can run on blocks of that matrix;
- conv_input_gradient: a float conv2d_backprop_input, plus an epilogue over dx's
  shape as a conv kernel's (the ReLU gradient of the layer below), run on each
  image's dx once final;
- pool_grad: a max-pool gradient, plus an epilogue over dx's shape whose other
  operands are per channel, per pixel or scalars (the ReLU gradient after a pool
  of ReLU outputs), run on each image's dx as on blocks of the [N*H*W, C] matrix;
- conv_max_pool: a conv kernel ended by a max-pool (the max-pool's OpDef.final_stage) that
  reads one of its values of the convolution's shape (the ReLU after the bias), when nothing
  else outside the kernel reads any of its values and it writes no variable (evaluation):
  each image of the convolution's result is computed into a block of the workspace, gets its
  epilogue there and is pooled, so the convolution's whole result is never written
  (OpDef.block_workspace, plan_memory);
- conv_then_max_pool: the same, when other kernels read the kernel's values too (training: the
  ReLU and max-pool gradients read the ReLU's output): the result is written whole as by a conv
  kernel, and each image of the pooled value is pooled right after its epilogue, from L2;
- conv_filter_gradient_sum (an op's OpDef.column_sum kind): a reduce kernel whose sum, over all
  axes but the last, of a value an op reads as its column-sum operand is computed by that op's
  kernel on the way (the bias gradient, by the direct filter gradient reading the same dy), then the
  reduce kernel's epilogue (which grows as a reduce kernel's does); the op moves earlier, to the
  reduce kernel's start;
- softmax: sparse softmax cross-entropy and/or its gradient (one row pass for
  both), plus an epilogue over the gradient's shape;
- reduce: a reduction with the elementwise ops that produce its input, and an
  epilogue over its result's shape; sibling reductions (one input shape, the same
  axes, results that differ at most by leading 1s: a layer's bias and weight
  gradients as column sums) merge into one kernel whose main pass feeds them all,
  when the later one's operands are ready at the earlier one's start (multi-output
  fusion, after the grouping below; not into or from a conv_filter_gradient_sum kernel);
- loop: elementwise ops over one shape (broadcast operands welcome), and strided reads of that shape
  (OpDef.strided_read: a slice of a matrix's columns, read in place through its strides, no copy); a
  strided read joins the latest kernel when that is a loop kernel of its shape (so an LSTM's four gate
  slices of one product and all their users make one kernel), else starts one; and strided pieces
  (OpDef.strided_pieces: a concat of columns) whose operands that loop kernel computes, of its shape,
  each stored in place in the result (the LSTM gradient's four gate gradients into dgates); a
  reduction does not join a loop kernel with either (its main pass reads and writes contiguously);
- opaque: any other op, alone; copy: a write that could not join its producer;
- while, cond: a structured instruction, alone; the pipeline fuses its regions'
  instructions into kernels of their own (passes/regions.py).

Fusion never changes what a program computes: it only assigns instructions to
kernels and moves an instruction *earlier*, into the kernel of one of its
producers (or of the other half of a cross-entropy pair; or, for an elementwise
op on only free values such as `accum * momentum`, into the kernel its first
user extends, else the latest loop kernel), when that is legal:

1. every operand is free (feed, constant, read), produced in that kernel, or
   produced by a kernel that starts earlier;
2. a read operand of variable v keeps its meaning: the writes of v before the
   read stay before the kernel, the writes after it stay after;
3. a write of v joins the kernel producing its value only if the kernel does
   not read v as a GEMM operand or reduction input, earlier writes of v stay
   earlier, and every earlier read of v is used before the kernel (or by a
   same-index op in it, or snapshotted before it), and no instruction that
   may fail (a check_numerics, a label check: Effects.may_fail) between the
   kernel's start and the write would then run after it: a failed run must
   leave the variables as they were.

Kernels then run in the order of their first instruction. Reads are placed just
before their first use; plan_memory snapshots a read when a write of its
variable comes while it is still needed.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from graphc.core import registry
from graphc.core.registry import FusionClass, Reduction
from graphc.core.rules import normalize_axes
from graphc.ir.facts import fusion_of, is_elementwise, may_fail, strided_pieces, strided_read, written_variables
from graphc.ir.program import Program, Value

# Values no kernel computes: the step's feeds, constants, variable reads, and a region's params.
FREE_OPS = frozenset({"feed", "constant", "read", "param"})
# Anchored kinds whose epilogue runs on blocks of their NHWC result seen as a [pixels, channels] matrix.
MATRIX_VIEW_KINDS = ("conv", "conv_input_gradient", "pool_grad")
# Kinds an anchor op starts, each kernel growing an epilogue of elementwise ops over its result's shape.
EPILOGUE_KINDS = ("gemm",) + MATRIX_VIEW_KINDS
FUSIBLE_KINDS = ("loop", "reduce", "softmax") + EPILOGUE_KINDS
# The reduction a column-sum operand's kernel computes on the way (OpDef.column_sum): a plain sum.
COLUMN_SUM = Reduction("add", "zero")
# The most instructions one kernel takes in. LLVM's time on a kernel grows faster than its
# size (a fused chain of 1,000 elementwise ops took 9 s, of 250 ops 1.3 s); past this, a
# kernel's values go through memory into the next kernel.
MAX_KERNEL_INSTRUCTIONS = 64


def kernel_kind(inst) -> str:
    """The kind of kernel an instruction starts: its op's anchor kind, reduce, loop, copy or opaque."""
    if inst.regions:
        return inst.op  # a structured instruction: a kernel "while" or "cond" of its own (codegen runs it)
    fusion = fusion_of(inst)
    if fusion is FusionClass.ANCHOR:
        return registry.get(inst.op).anchor
    if fusion is FusionClass.REDUCE:
        return "reduce"
    if is_elementwise(inst):
        return "loop"
    return "copy" if inst.op == "write" else "opaque"


def _without_leading_ones(shape) -> tuple:
    """A shape without its leading 1s: how the matrix view sees an operand (a batch of one image is whole)."""
    dims = tuple(shape)
    while dims and dims[0] == 1:
        dims = dims[1:]
    return dims


@dataclass
class _Kernel:
    kind: str
    start: int                      # original index of its first instruction
    shape: tuple                    # the shape elementwise members (the epilogue) must produce
    members: list = field(default_factory=list)
    anchor_vars: set = field(default_factory=set)  # variables read by the GEMM/reduction/softmax part
    # A reduce kernel an op computing its sum on the way joined: that op's OpDef.column_sum kind, the
    # kernel's kind once fused (while fusing it grows an epilogue as a reduce kernel does).
    column_sum_kind: str = ""
    main_pass: set = field(default_factory=set)    # a reduce kernel's members before its reductions
    reduced: tuple = None                         # a reduce kernel's (input shape, axes)
    strided: bool = False                         # a loop kernel with strided reads or strided pieces


def _reduced(inst) -> tuple:
    """What a reduction walks: its input's shape and its axes (normalized)."""
    shape = tuple(inst.values[0].type.shape)
    return shape, frozenset(normalize_axes(inst.attrs["axes"], len(shape)))


class _Fusion:
    def __init__(self, program: Program):
        self.program = program
        self.instructions = program.instructions
        self.definition = {v.id: i for i, inst in enumerate(self.instructions) for v in inst.defined}
        self.position = list(range(len(self.instructions)))
        self.kernel_of: list = [None] * len(self.instructions)
        self.kernels: list[_Kernel] = []
        self.users: dict[int, list] = {}
        self.reads_of: dict[str, list] = {}
        self.writes_of: dict[str, list] = {}
        for i, inst in enumerate(self.instructions):
            for v in inst.values:
                self.users.setdefault(v.id, []).append(i)
            if inst.op == "read":
                self.reads_of.setdefault(inst.operands[0].name, []).append(i)
            for name in written_variables(inst):  # a write, or a loop or cond writing in its regions
                self.writes_of.setdefault(name, []).append(i)
        self.checks = [i for i, inst in enumerate(self.instructions) if may_fail(inst)]  # in order
        self.softmax_of: dict = {}  # (logits, labels) value ids -> the first softmax kernel on them

    # -- legality -----------------------------------------------------------------------------

    def _producer(self, value: Value):
        index = self.definition[value.id]
        return None if self.instructions[index].op in FREE_OPS else index

    def _reads_keep_meaning(self, j: int, kernel: _Kernel) -> bool:
        """Rule 2: moving instruction j to the kernel's start sees the same variable states."""
        for operand in self.instructions[j].values:
            read = self.definition[operand.id]
            if self.instructions[read].op != "read":
                continue
            name = self.instructions[read].operands[0].name
            for write in self.writes_of.get(name, []):
                if write < j and (write < read) != (self.position[write] < kernel.start):
                    return False
        return True

    def _write_can_join(self, j: int, kernel: _Kernel) -> bool:
        """Rule 3, for the write at index j joining `kernel`."""
        ref, value = self.instructions[j].operands
        name = ref.name
        producer = self.definition[value.id]
        if self.kernel_of[producer] is not kernel or not is_elementwise(self.instructions[producer]):
            return False
        if kernel.kind not in FUSIBLE_KINDS or name in kernel.anchor_vars:
            return False
        if self.program.variable(name).type.shape != kernel.shape:
            return False
        if any(self.position[w] >= kernel.start for w in self.writes_of.get(name, []) if w < j):
            return False
        if bisect.bisect_left(self.checks, j) > bisect.bisect_right(self.checks, kernel.start):  # a check between
            return False
        for read in self.reads_of.get(name, []):
            if read > j:
                continue
            for user in self.users.get(self.instructions[read].result.id, []):
                if user < j and self.kernel_of[user] is kernel and not is_elementwise(self.instructions[user]):
                    return False
            if self._placement(read) > kernel.start:  # it would be read after the write
                return False
        return True

    def _fits_matrix_view(self, j: int, kernel: _Kernel) -> bool:
        """Veto for conv and pool_grad kernels: the epilogue runs on blocks of the [N*OH*OW, O] matrix,
        so each operand from outside the kernel must be whole, per channel ([O]) or a scalar."""
        if kernel.kind not in MATRIX_VIEW_KINDS:
            return True
        shape = kernel.shape
        for operand in self.instructions[j].values:
            producer = self._producer(operand)
            if producer is not None and self.kernel_of[producer] is kernel:
                continue
            if _without_leading_ones(operand.type.shape) not in ((), (shape[-1],), _without_leading_ones(shape)):
                return False
        return True

    def _kernel_ended_by(self, j: int):
        """(the kernel instruction j may end as its final stage (OpDef.final_stage), the kernel's kind
        then), or None: the kernel computing j's first operand, of the stage's anchor kind, with an
        anchor that can compute its result in blocks (OpDef.block_workspace), the operand of the
        anchor's result shape and dtype, and no variable written. If no value of the kernel is fetched
        or read outside it but by j, nothing needs its result whole (the stage's kind with the result in
        blocks); else the result is written whole too, and j reads each block of it once final (the
        stage's kind with the result written: a max-pool in training, whose gradient reads the ReLU)."""
        inst = self.instructions[j]
        stage = registry.get(inst.op).final_stage
        producer = self._producer(inst.values[0]) if stage is not None and inst.values else None
        kernel = self.kernel_of[producer] if producer is not None else None
        if kernel is None or kernel.kind != stage[0] or kernel.shape != inst.values[0].type.shape:
            return None
        anchor = self.instructions[kernel.members[0]]
        blocks = registry.get(anchor.op).block_workspace
        if blocks is None or blocks(anchor) is None or not self._has_room(kernel):
            return None
        if inst.values[0].type.dtype != anchor.result.type.dtype:  # the stage reads it in the result's blocks
            return None
        if any(self._producer(v) in kernel.members for v in inst.values[1:]):
            return None
        if not self._reads_keep_meaning(j, kernel):
            return None
        fetched = {v.id for v in self.program.fetches}

        def needed_whole(value) -> bool:
            return value.id in fetched or any(user != j and self.kernel_of[user] is not kernel
                                              for user in self.users.get(value.id, []))

        members = [self.instructions[member].result for member in kernel.members]
        if any(result is None for result in members):  # a write
            return None
        if not any(needed_whole(result) for result in members):
            return kernel, stage[1]
        # Written whole, the stage reads its operand from memory: it needs a buffer, which a value
        # read in its kernel alone would not have.
        return (kernel, stage[2]) if needed_whole(inst.values[0]) else None

    def _reduce_kernel_summed_by(self, j: int):
        """The reduce kernel instruction j may join by computing its sum on the way (OpDef.column_sum),
        or None: a kernel started earlier by a sum, over all axes but the last and in the operand's
        dtype, of the value j reads as its column-sum operand, with no main pass before that sum; j's
        other operands free or computed by kernels starting before it, its reads keeping their meaning,
        and no variable j reads written by the kernel."""
        inst = self.instructions[j]
        column_sum = registry.get(inst.op).column_sum
        index = column_sum[1](inst) if column_sum is not None else None
        if index is None:
            return None
        operand = inst.values[index]
        for user in self.users.get(operand.id, []):
            kernel, reduction = self.kernel_of[user], self.instructions[user]
            if (user >= j or kernel is None or kernel.kind != "reduce" or kernel.members[0] != user
                    or kernel.column_sum_kind or not self._sums_columns(reduction, operand)
                    or not self._has_room(kernel)):
                continue
            producers = [p for p in (self._producer(v) for v in inst.values) if p is not None]
            if any(self.kernel_of[p].start >= kernel.start for p in producers):
                continue
            written = set().union(*(written_variables(self.instructions[m]) for m in kernel.members))
            if self._read_vars(j) & written or not self._reads_keep_meaning(j, kernel):
                continue
            return kernel
        return None

    @staticmethod
    def _sums_columns(reduction, operand: Value) -> bool:
        """Whether `reduction` is a plain sum of `operand` over all its axes but the last, in its dtype."""
        rank = len(operand.type.shape)
        return (reduction.values[0].id == operand.id and registry.get(reduction.op).reduction == COLUMN_SUM
                and rank >= 1 and reduction.result.type.dtype == operand.type.dtype
                and sorted(normalize_axes(reduction.attrs["axes"], rank)) == list(range(rank - 1)))

    def _reads_no_main_pass_value(self, j: int, kernel: _Kernel) -> bool:
        """Veto for reduce kernels: their epilogue is a second pass, over the result, so it cannot read a
        value of the main pass (the members before the reduction), which lives in registers. Shapes allow
        such a read only where the reduction keeps its input's shape (its axes have size 1)."""
        if kernel.kind != "reduce":
            return True
        return not any(self._producer(v) in kernel.main_pass for v in self.instructions[j].values)

    @staticmethod
    def _has_room(kernel: _Kernel) -> bool:
        return len(kernel.members) < MAX_KERNEL_INSTRUCTIONS

    # -- grouping -------------------------------------------------------------------------------

    def _new_kernel(self, j: int, kind: str, shape: tuple) -> _Kernel:
        kernel = _Kernel(kind, j, shape)
        self.kernels.append(kernel)
        self._add(j, kernel)
        return kernel

    def _add(self, j: int, kernel: _Kernel) -> None:
        kernel.members.append(j)
        self.kernel_of[j] = kernel
        self.position[j] = kernel.start

    def _latest_producer_kernel(self, j: int):
        """The latest-starting kernel among those of j's operands grouped so far."""
        kernels = [self.kernel_of[p] for p in (self._producer(v) for v in self.instructions[j].values)
                   if p is not None and self.kernel_of[p] is not None]
        return max(kernels, key=lambda k: k.start, default=None)

    def _kernel_for_free_op(self, j: int):
        """Where an op on only free values may go: the kernel its first user will extend.

        So `accum * momentum` joins the kernel computing the gradient it is
        added to, and stays in registers; with no such kernel, the latest
        kernel if it is a loop (scalar arithmetic such as 1 - beta1_power).
        """
        users = self.users.get(self.instructions[j].result.id, [])
        kernel = self._latest_producer_kernel(min(users)) if users else None
        if kernel is None and self.kernels and self.kernels[-1].kind == "loop":
            kernel = self.kernels[-1]
        return kernel

    def _add_strided_read(self, j: int) -> None:
        """A strided read joins the latest kernel if that is a loop kernel of its shape that does not compute
        its operand (strided pieces stored there: an element's stores come after its loads), else starts one.
        Rule 1 holds: its operand is free or computed in a kernel started no later than the latest one."""
        inst = self.instructions[j]
        kernel = self.kernels[-1] if self.kernels else None
        producer = self._producer(inst.values[0])
        if (kernel is not None and kernel.kind == "loop" and kernel.shape == inst.result.type.shape
                and (producer is None or self.kernel_of[producer] is not kernel)
                and self._has_room(kernel) and self._reads_keep_meaning(j, kernel)):
            self._add(j, kernel)
        else:
            kernel = self._new_kernel(j, "loop", inst.result.type.shape)
        kernel.strided = True

    def _kernel_storing_pieces(self, j: int):
        """The loop kernel that may store instruction j's strided pieces, or None: the kernel computing all
        of j's operands, each of its shape, with room, j's reads keeping their meaning."""
        inst = self.instructions[j]
        if strided_pieces(inst) is None:
            return None
        producers = [self._producer(v) for v in inst.values]
        kernel = self.kernel_of[producers[0]] if producers[0] is not None else None
        if (kernel is None or kernel.kind != "loop" or not self._has_room(kernel)
                or any(p is None or self.kernel_of[p] is not kernel for p in producers)
                or any(v.type.shape != kernel.shape for v in inst.values) or not self._reads_keep_meaning(j, kernel)):
            return None
        return kernel

    def _read_vars(self, j: int) -> set:
        names = set()
        for operand in self.instructions[j].values:
            defining = self.instructions[self.definition[operand.id]]
            if defining.op == "read":
                names.add(defining.operands[0].name)
        return names

    def run(self) -> Program:
        for j, inst in enumerate(self.instructions):
            if inst.op in FREE_OPS:
                continue
            kind = kernel_kind(inst)
            if kind == "opaque" and strided_read(inst) is not None:
                self._add_strided_read(j)
            elif kind == "loop":
                kernel = self._latest_producer_kernel(j) or self._kernel_for_free_op(j)
                if (kernel is not None and kernel.kind in FUSIBLE_KINDS and kernel.shape == inst.result.type.shape
                        and self._has_room(kernel) and self._reads_keep_meaning(j, kernel)
                        and self._fits_matrix_view(j, kernel) and self._reads_no_main_pass_value(j, kernel)):
                    self._add(j, kernel)
                else:
                    self._new_kernel(j, "loop", inst.result.type.shape)
            elif kind == "reduce":
                kernel = self._latest_producer_kernel(j)
                if (kernel is not None and kernel.kind == "loop" and kernel.shape == inst.values[0].type.shape
                        and not kernel.strided and self._has_room(kernel) and self._reads_keep_meaning(j, kernel)):
                    kernel.main_pass = set(kernel.members)
                    self._add(j, kernel)
                    kernel.kind = "reduce"
                    kernel.anchor_vars |= set().union(*(self._read_vars(m) for m in kernel.members))
                    kernel.shape = inst.result.type.shape
                else:
                    kernel = self._new_kernel(j, "reduce", inst.result.type.shape)
                    kernel.anchor_vars |= self._read_vars(j)
                kernel.reduced = _reduced(inst)
            elif kind == "softmax":
                operands = tuple(v.id for v in inst.values)
                partner = self.softmax_of.get(operands)
                if partner is not None and self._reads_keep_meaning(j, partner):
                    self._add(j, partner)
                else:
                    kernel = self._new_kernel(j, "softmax", inst.values[0].type.shape)
                    self.softmax_of.setdefault(operands, kernel)
                    kernel.anchor_vars |= self._read_vars(j)
            elif kind in EPILOGUE_KINDS:
                self._new_kernel(j, kind, inst.result.type.shape).anchor_vars |= self._read_vars(j)
            elif kind == "copy":
                kernel = self._latest_producer_kernel(j)
                if kernel is not None and self._write_can_join(j, kernel):
                    self._add(j, kernel)
                else:
                    self._new_kernel(j, "copy", ())
            elif kind == "opaque" and (storing := self._kernel_storing_pieces(j)) is not None:
                self._add(j, storing)
                storing.strided = True
            elif (summed := self._reduce_kernel_summed_by(j)) is not None:
                self._add(j, summed)
                summed.column_sum_kind = registry.get(inst.op).column_sum[0]
                summed.anchor_vars |= self._read_vars(j)
            elif (ended := self._kernel_ended_by(j)) is not None:
                self._add(j, ended[0])
                ended[0].kind = ended[1]  # its last member: nothing joins it after
            else:
                self._new_kernel(j, kind, ())
        self._merge_sibling_reductions()
        return self._emit()

    # -- multi-output fusion --------------------------------------------------------------------

    def _merge_sibling_reductions(self) -> None:
        """Each reduce kernel joins the latest earlier one it is a sibling of (`_merge`), so one pass over
        their common input shape computes both main passes and both reductions. Siblings are found by
        their key, and only those starting after the latest kernel later reads from are tried (an
        earlier one would run before that operand exists): linear work on a chain of layers alike."""
        def plain_reduce(kernel):  # a reduce kernel an op joined by its column sum keeps its one sum
            return kernel.kind == "reduce" and not kernel.column_sum_kind

        siblings_by_key: dict = {}  # (reduced, shape without leading 1s) -> unmerged kernels by start
        for later in sorted(self.kernels, key=lambda k: k.start):
            if not plain_reduce(later):
                continue
            siblings = siblings_by_key.setdefault((later.reduced, _without_leading_ones(later.shape)), [])
            floor = self._latest_operand_kernel_start(later)
            first = len(siblings) if floor is None else bisect.bisect_left(siblings, floor, key=lambda k: k.start)
            if not any(self._merge(later, earlier) for earlier in reversed(siblings[first:])):
                siblings.append(later)

    def _latest_operand_kernel_start(self, later: _Kernel):
        """The latest start of the other kernels whose values later's members read, or None if one reads a
        value computed outside every kernel (no merge can order it)."""
        floor = -1
        for m in later.members:
            for operand in self.instructions[m].values:
                producer = self._producer(operand)
                if producer is None or self.kernel_of[producer] is later:
                    continue
                if self.kernel_of[producer] is None:
                    return None
                floor = max(floor, self.kernel_of[producer].start)
        return floor

    def _operands_ready(self, later: _Kernel, earlier: _Kernel) -> bool:
        """Whether each of later's members finds its operands at earlier's start: free values, values
        of later itself, of kernels starting before earlier, or of earlier's main pass (for later's
        main pass and reductions) or its reductions and epilogue (for later's epilogue)."""
        for m in later.members:
            in_epilogue = m not in later.main_pass and fusion_of(self.instructions[m]) is not FusionClass.REDUCE
            for operand in self.instructions[m].values:
                producer = self._producer(operand)
                if producer is None or self.kernel_of[producer] is later:
                    continue
                if self.kernel_of[producer] is earlier:
                    if (producer in earlier.main_pass) == in_epilogue:
                        return False
                elif self.kernel_of[producer] is None or self.kernel_of[producer].start >= earlier.start:
                    return False
        return True

    def _merge(self, later: _Kernel, earlier: _Kernel) -> bool:
        """Moves later's members into earlier if the fusion rules allow it there; else changes nothing."""
        if len(earlier.members) + len(later.members) > MAX_KERNEL_INSTRUCTIONS:
            return False
        if not self._operands_ready(later, earlier):
            return False
        writes = [m for m in later.members if self.instructions[m].op == "write"]
        if not all(self._reads_keep_meaning(m, earlier) for m in later.members if m not in writes):
            return False
        saved = (list(earlier.members), set(earlier.anchor_vars), earlier.shape)
        for m in later.members:
            self._add(m, earlier)
        earlier.anchor_vars |= later.anchor_vars
        earlier.main_pass |= later.main_pass
        earlier.shape = max(earlier.shape, later.shape, key=len)
        if all(self._write_can_join(m, earlier) for m in writes):
            self.kernels.remove(later)
            return True
        earlier.members, earlier.anchor_vars, earlier.shape = saved
        earlier.main_pass -= later.main_pass
        for m in later.members:
            self.kernel_of[m], self.position[m] = later, later.start
        return False

    # -- the fused program ---------------------------------------------------------------------

    def _emit(self) -> Program:
        instructions = self.instructions
        order = [i for i, inst in enumerate(instructions) if inst.op in ("feed", "constant", "param")]
        reads = sorted((i for i, inst in enumerate(instructions) if inst.op == "read"),
                       key=lambda r: (self._placement(r), r))
        kernels = sorted(self.kernels, key=lambda k: k.start)
        numbered, kinds = [], {}
        pending = 0
        for number, kernel in enumerate(kernels):
            while pending < len(reads) and self._placement(reads[pending]) <= kernel.start:
                order.append(reads[pending])
                pending += 1
            kinds[number] = kernel.column_sum_kind or kernel.kind
            for member in self._in_kernel_order(kernel):
                order.append(member)
                numbered.append((member, number))
        order.extend(reads[pending:])
        kernel_number = dict(numbered)
        fused = tuple(instructions[i].replace(kernel=kernel_number.get(i)) for i in order)
        return self.program.replace(instructions=fused, kernels=kinds)

    def _in_kernel_order(self, kernel: _Kernel) -> list:
        """A kernel's members in program order; a reduce kernel's as main pass, reductions, epilogue
        (the order the reduce kernel's code reads them in; merged siblings interleave them)."""
        def phase(m):
            if kernel.kind != "reduce" or m in kernel.main_pass:
                return 0
            return 1 if fusion_of(self.instructions[m]) is FusionClass.REDUCE else 2

        return sorted(kernel.members, key=lambda m: (phase(m), m))

    def _placement(self, read: int) -> int:
        """Reads happen just before their first use, and never after their original place."""
        uses = [self.position[u] for u in self.users.get(self.instructions[read].result.id, [])]
        return min(uses + [read])


def fuse(program: Program) -> Program:
    """Assigns every computing instruction to a kernel (see the module docstring)."""
    return _Fusion(program).run()

