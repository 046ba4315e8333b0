"""The op registry: every fact about an op in one entry.

An `OpDef` holds, together, an op's shape-and-dtype rule, its gradient rule
(built from other ops, so gradients are graph too), its NumPy reference
implementation, how it fuses with its neighbours, what it does besides
computing (its effects), and what lowering makes of it in a graph. Passes,
lowering and the backend read these facts; none of them tests an op's name.
The backend keeps the code of each op in its own table (backend/lowering.py);
tests/unit/test_registry.py and tests/backend/test_lowering_table.py fail for
any op missing a piece.

Names: `name` is the IR spelling (`matmul`), `tf_type` the graph op type TF1
shows (`MatMul`). Ops with `tf_type=None` exist only in the IR (`feed`,
`read`); ops whose `role` is not COMPUTE or CONSTANT exist only in graphs and
are rewritten by lowering (`Placeholder`, `VariableV2`, `Shape` ...).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from graphc.core import dtypes
from graphc.core.dtypes import DType
from graphc.core.tensor_shape import Dims, format_dims_as_list


class FusionClass(enum.Enum):
    """How an op composes with its neighbours in a fused kernel (passes/fuse.py)."""

    ELEMENTWISE = "elementwise"  # out[i] = f(in[i]) with NumPy broadcasting
    BROADCAST = "broadcast"      # out[i] = in[g(i)], g drops broadcast dimensions
    REDUCE = "reduce"            # out[j] = combine over the reduced axes of in (OpDef.reduction)
    INJECTIVE = "injective"      # out[i] = in[g(i)], a one-to-one index map (transpose): a copy of its own
    ANCHOR = "anchor"            # the core of a kernel of kind OpDef.anchor (a GEMM), grown with an epilogue
    OPAQUE = "opaque"            # a kernel of its own, alone


@dataclass(frozen=True)
class Reduction:
    """How a REDUCE op combines its elements: `combine` ("add", "multiply", "maximum", "minimum",
    and for bools "or", "and") starting from `identity` ("zero", "one", "lowest", "highest"); a
    `mean` divides by the count at the end."""

    combine: str
    identity: str
    mean: bool = False


@dataclass(frozen=True)
class Effects:
    """What running an op does besides computing its result from its operands.

    `may_fail`: bad values can fail the run (a label out of range, a NaN under
    check_numerics): True, or the result dtypes for which it can (integer
    division by zero). Such ops run before the writes they do not depend on,
    are never removed as dead, and make codegen save the variables written
    before them, so a failed run leaves the variables as they were.
    """

    reads: bool = False      # reads the variable its first operand names
    writes: bool = False     # writes the variable its first operand names
    random: bool = False     # draws random numbers, advancing a run counter of its own
    may_fail: object = False
    # Exchanges data with the other processes of the world (an MPI collective, core/collectives.py):
    # every process must run it, so it is never folded into a constant on one of them.
    communicates: bool = False

    @property
    def stateful(self) -> bool:
        """Whether the op touches state: it cannot be folded, merged with its twin or evaluated early."""
        return self.reads or self.writes or self.random or self.communicates


PURE = Effects()

# A random op's state (Effects.random): an int64 variable [run count, seed, seed2] the session keeps
# for it. Runs advance the count; the seeds are data, not code, so one compiled library serves any seeds.
RNG_RUN, RNG_SEED, RNG_SEED2 = 0, 1, 2
RNG_STATE_SIZE = 3


class Role(enum.Enum):
    """What lowering (compiler/lower.py) makes of a graph op."""

    COMPUTE = "compute"            # the IR instruction of the same name
    CONSTANT = "constant"          # Const: a `constant` instruction holding its value
    STATIC = "static"              # a value known when compiling (tf.shape, BroadcastGradientArgs): a constant
    PLACEHOLDER = "placeholder"    # a value the run must feed
    VARIABLE = "variable"          # a variable's storage: its consumers read it
    ASSIGN = "assign"              # a write of the variable its first input refers to (OpDef.write_value)
    FORWARD = "forward"            # its input's value (Identity, StopGradient)
    CONTROL = "control"            # orders ops, computes nothing (NoOp)
    CHOOSE_INITIALIZED = "choose"  # its first input if that variable is initialised, else its second
    INITIALIZED = "initialized"    # whether the variable of its input is initialised: a bool constant
    HOST = "host"                  # finished on the host after the step (summaries, Where: OpDef.host_function)
    INPUT = "input"                # values an input pipeline gives the session before the step (OpDef.input_function)
    # Structured control flow (While, If): its function graphs (attrs) become the regions of one IR
    # instruction of the same name (ir/program.py, "Control flow" in DESIGN.md).
    CONTROL_FLOW = "control_flow"


@dataclass(frozen=True)
class TensorType:
    """A dtype and a (possibly partial) shape."""

    dtype: DType
    dims: Dims

    def __str__(self) -> str:
        if self.dims is None:
            return f"{self.dtype.ir_name}[*]"
        return f"{self.dtype.ir_name}[{','.join('?' if d is None else str(d) for d in self.dims)}]"


class ShapeError(ValueError):
    """Raised by shape rules; the graph turns it into TF1's ValueError text."""


class DTypeError(TypeError):
    """Raised by dtype rules; the graph turns it into TF1's TypeError text."""


NOT_DIFFERENTIABLE = "not differentiable"
# TF registers no gradient for the op (TruncateMod): tf.gradients through it raises LookupError, as TF's does.
NO_GRADIENT_DEFINED = "no gradient defined"

# The dtypes every kernel of graphc handles. Ops fused from scalar code and index maps (ELEMENTWISE,
# BROADCAST, INJECTIVE, REDUCE) handle every dtype; an op with a kernel of its own (OPAQUE, ANCHOR)
# handles these, unless its OpDef's `compiled_dtypes` says more.
CORE_DTYPES = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64, dtypes.bool_)
_GENERIC_CODE = (FusionClass.ELEMENTWISE, FusionClass.BROADCAST, FusionClass.INJECTIVE, FusionClass.REDUCE)


def whole_operand(instruction) -> int:
    """`OpDef.view` of an op whose result is all of its operand's bytes, reinterpreted (a reshape)."""
    return 0


@dataclass
class OpDef:
    """One registry entry. See the module docstring."""

    name: str
    tf_type: Optional[str]
    infer: Callable[[Sequence[TensorType], dict], "TensorType | list[TensorType]"]
    fusion: FusionClass = FusionClass.OPAQUE
    # The result dtypes the fusion class holds for (None: all); for the others the op is a kernel
    # of its own (integer matmul is a plain loop nest, not a GEMM).
    fuses_for: Optional[tuple] = None
    anchor: Optional[str] = None              # ANCHOR ops: the kind of kernel they anchor ("gemm", "conv" ...)
    # ANCHOR ops whose kernel runs its epilogue on finished blocks of their result, each element of an
    # epilogue value computed from that element of the result only after it is final (a GEMM's, a
    # convolution's, a max-pool gradient's): plan_memory may compute an epilogue value of the result's
    # size in the result's own buffer when nothing after the kernel reads the result (conv1's bias +
    # ReLU: one buffer, not two).
    epilogue_in_place: bool = False
    # ANCHOR ops whose kernel can compute their result a block at a time (a convolution's, an image at a
    # time) for a final stage (`final_stage`) that reads the epilogue's value block by block:
    # `block_workspace(instruction)` gives the bytes of the blocks (one per task), or None where the kernel
    # cannot. plan_memory then gives the result no buffer and adds the blocks to the op's workspace.
    block_workspace: Optional[Callable] = None
    # OPAQUE ops that may end a kernel as its last stage: (the anchor kind of the kernels they may end, the
    # kernel's kind then with its result in blocks, its kind with its result written whole). Fusion adds
    # the op to a kernel of that kind whose anchor has a block_workspace when the op's first operand is a
    # value of the kernel of the result's shape; when nothing else outside the kernel reads any of its
    # values, the result is in blocks (a max-pool after a convolution's bias and ReLU, in evaluation: the
    # convolution's whole output is then never written), else written whole and each block read by the
    # op once final (in training, where the gradients read the ReLU's output).
    final_stage: Optional[tuple] = None
    # OPAQUE ops whose kernel can sum one of its operands over all its axes but the last while it
    # streams that operand (a direct filter gradient reading dy: the bias gradient, on the way):
    # (the kernel's kind then, `operand(instruction)` giving that operand's index, or None where this
    # instruction's kernel cannot). Fusion adds the op to the reduce kernel of such a sum that starts
    # earlier, so the operand is read once, not twice (passes/fuse.py).
    column_sum: Optional[tuple] = None
    reduction: Optional[Reduction] = None     # REDUCE ops: how they combine
    effects: Effects = PURE
    role: Role = Role.COMPUTE
    reference: Optional[Callable] = None
    # A function (op, *grads) -> [grad per input], NOT_DIFFERENTIABLE or NO_GRADIENT_DEFINED.
    gradient: object = None
    # Trailing graph inputs whose values must be known when a step is compiled
    # (reshape's shape, a reduction's axes); lowering turns them into attrs.
    static_inputs: tuple = ()
    # Ops whose inputs are used only for their shapes (tf.shape; ShapeN, whose output i is of
    # input i): lowering never computes the inputs; `shape_function(dims, **attrs)` gives an
    # output's value from its input's dims, or None while the shape is not known well enough.
    shape_only_inputs: bool = False
    shape_function: Optional[Callable] = None
    # Scratch memory its kernel uses while it runs (an im2col matrix): `workspace(instruction)`
    # gives the bytes; plan_memory places them in the arena like a value live for that kernel.
    workspace: Optional[Callable] = None
    # An OPAQUE op whose kernel may compute its result in the buffer of this operand (a row write into
    # a TensorArray's rows): plan_memory gives the result that buffer when nothing reads it afterwards.
    in_place: Optional[int] = None
    # An op whose result is a contiguous run of its first operand's bytes, in order (a reshape; a slice of
    # whole trailing rows): `view(instruction)` gives the run's byte offset, or None when it is not one.
    # When the op is a kernel of its own, plan_memory gives the result that storage and the step runs no
    # kernel for it.
    view: Optional[Callable] = None
    # An OPAQUE op whose result is elements of its first operand at fixed element strides, but not one
    # contiguous run (a slice of a matrix's columns): `strided_read(instruction)` gives (the offset of
    # result element 0, per result axis its stride) in the operand's elements, or None. A fused loop
    # kernel then reads the result in place, through those strides, so no kernel copies it (fuse.py).
    strided_read: Optional[Callable] = None
    # An OPAQUE op whose result is all its operands' elements, each at fixed element strides but not one
    # contiguous run (a concat along a matrix's columns): `strided_pieces(instruction)` gives per operand
    # (the offset of its element 0, per operand axis its stride) in the result's elements, or None. A
    # fused loop kernel computing every operand then stores each in place, so no kernel copies them.
    strided_pieces: Optional[Callable] = None
    # An op whose result is its operands' bytes one after another (a concat along its first axis of more
    # than one element): `pieces(instruction)` gives each operand's byte offset in the result, or None.
    # When the op is a kernel of its own, plan_memory may have each operand computed straight into its
    # place in the result (Horovod's fused gradient buffer, with no copy) and the step runs no kernel for it.
    pieces: Optional[Callable] = None
    # An OPAQUE op whose result is row `operands[1]` (a run-time index) of its first operand, whose kernel
    # checks the index and copies the row only when its result is not already there (a row read): in a
    # loop body reading rows of a value captured from outside, plan_memory may make the result that row
    # itself, at an address the step computes from the index, so no row is copied.
    row_view: bool = False
    # ASSIGN ops: `write_value(emit, read, *operands)` builds the variable's new value in IR, where
    # `emit(op, operands, attrs=None)` adds an instruction and `read()` reads the variable's current value; the
    # operands are the op's inputs but the written references.
    write_value: Optional[Callable] = None
    # ASSIGN ops: the inputs whose variables they write (TF's ApplyAdam writes var, m and v). With
    # more than one, `read(k)` reads the k-th of them and write_value returns a new value for each.
    written_inputs: tuple = (0,)
    # HOST ops: `host_function(op, input_values)` gives the op's one output from the values of
    # its inputs, which the compiled step computes.
    host_function: Optional[Callable] = None
    # INPUT ops (tf.data's iterators): `input_function(op, states, fed)` gives the op's output values (a list
    # of arrays) before the step runs, as feeds; `states` is the session's dict of pipeline states (each with
    # a `close()`), `fed` the run's feeds ({id(tensor): value}).
    input_function: Optional[Callable] = None
    # HOST ops that need only a statistic of their input: the IR op the compiled step applies to it
    # (registered by name), whose result `host_function` receives instead of the input's values.
    device_reduction: Optional[str] = None
    # Default op name for graphs (TF1 uses the op type unless the API says otherwise).
    default_name: Optional[str] = None
    # The operand and result dtypes graphc's code for the op handles (None: see CORE_DTYPES); a step
    # computing it on another dtype its shape rule allows is refused, naming the op (TF has a kernel).
    compiled_dtypes: Optional[tuple] = None
    # How the op is written in TensorFlow's GraphDefs (frontend/graph_def.py) and read back
    # (train/meta_graph_import.py), where TF's form differs from graphc's:
    # graphc attr name -> TF's (Mean's `keepdims` is TF's `keep_dims`);
    tf_attr_names: dict = dataclasses.field(default_factory=dict)
    # the graphc ops giving TF's outputs 1, 2 ... of the op, from the same inputs (TF's
    # SparseSoftmaxCrossEntropyWithLogits:1 is graphc's sparse_softmax_xent_grad);
    tf_extra_outputs: tuple = ()
    # TF's inputs as positions among graphc's, where the order differs (graphc's static inputs come
    # last: Conv2DBackpropInput is TF's (input_sizes, filter, out_backprop), graphc's (2, 0, 1));
    tf_input_order: Optional[tuple] = None
    # graphc attrs TF takes as the op's first inputs, constants (a summary's `tag`);
    tf_attr_inputs: tuple = ()
    # for an op TF does not have (or has in another form): `tf_expansion(emit, attrs, *inputs)` writes it as TF ops through
    # `emit.node(tf_type, inputs, **attrs)` and `emit.constant(array)` and returns its output.
    tf_expansion: Optional[Callable] = None

    @property
    def graph_name(self) -> str:
        return self.default_name or self.tf_type

    @property
    def in_ir(self) -> bool:
        """Whether the op is an IR instruction (the others exist in graphs only)."""
        return self.role in (Role.COMPUTE, Role.CONSTANT, Role.CONTROL_FLOW)

    def fusion_for(self, dtype: DType) -> FusionClass:
        """The op's fusion class for a result of `dtype` (OPAQUE where `fuses_for` leaves it out)."""
        if self.fuses_for is not None and dtype not in self.fuses_for:
            return FusionClass.OPAQUE
        return self.fusion

    def compiles_for(self, dtype: DType) -> bool:
        """Whether graphc's code for the op handles operands or results of `dtype`."""
        if self.compiled_dtypes is not None:
            return dtype in self.compiled_dtypes
        return self.fusion in _GENERIC_CODE or dtype in CORE_DTYPES

    def computes_half_in_float32(self) -> bool:
        """Whether the op has no float16 code but float32 code: lowering casts its float16 operands to
        float32, computes it in float32 and rounds its float16 results to half, as TensorFlow's CPU kernels
        for half do (XLA's FloatNormalization does the same)."""
        return not self.compiles_for(dtypes.float16) and self.compiles_for(dtypes.float32)

    def may_fail(self, dtype: DType) -> bool:
        """Whether the op, with a result of `dtype`, can fail a run on bad values."""
        may_fail = self.effects.may_fail
        return bool(may_fail) if isinstance(may_fail, bool) else dtype in may_fail

    def __repr__(self) -> str:
        return f"OpDef({self.name})"


_REGISTRY: dict[str, OpDef] = {}
_BY_TF_TYPE: dict[str, OpDef] = {}


def register(op_def: OpDef) -> OpDef:
    """Adds an op to the registry; names must be unique."""
    if op_def.name in _REGISTRY:
        raise ValueError(f"op {op_def.name} registered twice")
    _REGISTRY[op_def.name] = op_def
    if op_def.tf_type is not None:
        if op_def.tf_type in _BY_TF_TYPE:
            raise ValueError(f"graph op type {op_def.tf_type} registered twice")
        _BY_TF_TYPE[op_def.tf_type] = op_def
    return op_def


def get(name: str) -> OpDef:
    """The op named `name` in the IR (`matmul`)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no op named {name!r} is registered") from None


def by_tf_type(tf_type: str) -> Optional[OpDef]:
    """The op whose graph op type is `tf_type` (`MatMul`), or None if graphc has none."""
    return _BY_TF_TYPE.get(tf_type)


def all_ops() -> list[OpDef]:
    """Every registered op, in registration order."""
    return list(_REGISTRY.values())


def set_gradient(op_def: OpDef):
    """Decorator: registers `fn(op, *output_grads) -> [input grads]` as op_def's gradient."""

    def decorate(fn):
        if op_def.gradient is not None:
            raise ValueError(f"gradient of {op_def.name} registered twice")
        op_def.gradient = fn
        return fn

    return decorate


def shapes_text(types: Sequence[TensorType]) -> str:
    return ", ".join(format_dims_as_list(t.dims) for t in types)
