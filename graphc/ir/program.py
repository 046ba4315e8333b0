"""The IR: a flat SSA list of instructions with static shapes.

A Program is what one `Session.run` signature compiles to::

    program step:
      var @hidden1/weights: f32[784,128]
      %0:f32[100,784] = feed {tensor="Placeholder:0"}
      %1:f32[784,128] = read @hidden1/weights  # hidden1/weights/read
      %2:f32[100,128] = matmul %0, %1 {transpose_a=false, transpose_b=false}  # hidden1/MatMul
      write @hidden1/weights, %9  # GradientDescent/update_hidden1/weights/ApplyGradientDescent
      fetch %2

Invariants (checked by `verifier.verify`): every value is defined once, before
use; every `@name` is declared; each instruction's result type is what its
op's shape rule gives for its operand types; instruction order is execution
order (reads and writes of a variable happen in list order); after fusion,
the instructions of one kernel are contiguous and printed as an indented block
under a `kernel N kind:` line.

Control flow is structured: a `while` or `cond` instruction holds *regions*,
each a list of instructions of its own that yields values (`Region`). Regions
are closed: an instruction in a region uses only values defined in that region;
the values it needs from outside enter as the region's `param` instructions,
each naming an operand of the structured instruction (a loop variable, a
captured value). A structured instruction defines several values (`outputs`;
its `result` is None)::

      %7:i32[], %8:f32[4] = while %1, %2, %5 {carried=2}  # while
        cond:
          %9:i32[] = param {index=0}
          %10:i32[] = constant 10
          %11:bool[] = less %9, %10
          yield %11
        body:
          %12:i32[] = param {index=0}
          ...
          yield %15, %16

`while`: operands are the loop variables' first values, then the captured
values; the cond region yields one bool scalar, the body the loop variables'
next values; the outputs are their last values. For a gradient, a `while` with
`rows=n` also outputs rows of values per iteration: `saved=(j, ...)`, loop
variable j at each iteration's start, then `stashed=k`, the body's k values it
yields after the loop variables, at each iteration's end. `cond`: operands are the
predicate, then the captured values; regions `then` and `else` yield the
outputs. See DESIGN.md, "Control flow".

Programs are immutable: passes build new ones with `Program.replace`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np

from graphc.core.dtypes import DType
from graphc.core.tensor_shape import num_elements
from graphc.ir.memory_plan import MemoryPlan


@dataclass(frozen=True)
class IRType:
    """A concrete tensor type: dtype and fully known shape."""

    dtype: DType
    shape: tuple

    @property
    def num_elements(self) -> int:
        return num_elements(self.shape)

    @property
    def nbytes(self) -> int:
        return self.num_elements * self.dtype.size

    def __str__(self) -> str:
        return f"{self.dtype.ir_name}[{','.join(str(d) for d in self.shape)}]"


@dataclass(frozen=True, eq=False)
class Value:
    """An SSA value; identity is its id within the program."""

    id: int
    type: IRType

    def __str__(self) -> str:
        return f"%{self.id}"

    def __eq__(self, other):
        return isinstance(other, Value) and other.id == self.id

    def __hash__(self):
        return hash(self.id)


@dataclass(frozen=True)
class VarRef:
    """An operand naming a program variable: `@hidden1/weights`."""

    name: str

    def __str__(self) -> str:
        return f"@{self.name}"


Operand = Union[Value, VarRef]

# Instructions with regions (structured control flow): what they define are `outputs`, however many.
STRUCTURED_OPS = frozenset({"while", "cond"})


@dataclass(frozen=True)
class VarDecl:
    """A variable the program reads or writes: a model variable, or a random op's run counter."""

    name: str
    type: IRType
    kind: str = "var"  # "var" or "rng"


@dataclass(frozen=True)
class OpaqueConstant:
    """A large constant read back from summarised text: its digest, not its data."""

    digest: str


@dataclass(frozen=True)
class Region:
    """A block of a structured instruction: its instructions (the `param`s first) and the values it yields."""

    name: str            # "cond", "body" (while); "then", "else" (cond)
    instructions: tuple  # of Instruction
    results: tuple       # of Value, defined in `instructions`

    def replace(self, **changes) -> "Region":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, eq=False)
class Instruction:
    """`result = op operands {attrs}  # source`; result is None for `write`.

    `kernel` numbers the fused kernel the instruction runs in (set by the
    fusion pass; None before it, and for feeds, constants and reads).
    """

    op: str
    result: Optional[Value]
    operands: tuple
    attrs: dict = field(default_factory=dict)
    source: str = ""
    kernel: Optional[int] = None
    # Structured control flow (`while`, `cond`): its regions, and the values it defines (result is None).
    regions: tuple = ()
    outputs: tuple = ()

    def replace(self, **changes) -> "Instruction":
        return dataclasses.replace(self, **changes)

    @property
    def defined(self) -> tuple:
        """The values the instruction defines: its result, or a structured instruction's outputs."""
        return (self.result,) if self.result is not None else self.outputs

    @property
    def values(self) -> tuple:
        """Operands that are SSA values (not variable references)."""
        return tuple(o for o in self.operands if isinstance(o, Value))


@dataclass(frozen=True)
class Program:
    """Variables, instructions in execution order, and fetched values."""

    name: str
    variables: tuple          # of VarDecl
    instructions: tuple       # of Instruction
    fetches: tuple            # of Value
    next_id: int = 0
    # Kernel number -> kind ("loop", "gemm", "softmax", "opaque"), set by fusion.
    kernels: dict = field(default_factory=dict, compare=False)
    # Where each value lives; set by the last pass (passes/plan_memory.py).
    memory_plan: Optional[MemoryPlan] = field(default=None, compare=False)

    def replace(self, **changes) -> "Program":
        return dataclasses.replace(self, **changes)

    def variable(self, name: str) -> VarDecl:
        """The declaration of the variable `name` (KeyError if there is none)."""
        return self._variables_by_name[name]

    @functools.cached_property
    def _variables_by_name(self) -> dict:
        # Searching the tuple at every call made fusion quadratic in a training step's variables.
        return {v.name: v for v in self.variables}

    def new_value(self, type_: IRType) -> tuple["Program", Value]:
        """A fresh value id, and the program with its counter advanced."""
        value = Value(self.next_id, type_)
        return self.replace(next_id=self.next_id + 1), value

    def uses(self) -> dict:
        """Value id -> number of uses (operands and fetches)."""
        counts: dict[int, int] = {}
        for inst in self.instructions:
            for v in inst.values:
                counts[v.id] = counts.get(v.id, 0) + 1
        for v in self.fetches:
            counts[v.id] = counts.get(v.id, 0) + 1
        return counts

    def definitions(self) -> dict:
        """Value id -> the instruction defining it."""
        return {v.id: inst for inst in self.instructions for v in inst.defined}


def walk(instructions):
    """Every instruction of `instructions`, and of their regions at any depth, each before its regions'."""
    for inst in instructions:
        yield inst
        for region in inst.regions:
            yield from walk(region.instructions)


def constant_value(inst: Instruction) -> Optional[np.ndarray]:
    """The array of a `constant` instruction (None for other ops or opaque constants)."""
    if inst.op != "constant":
        return None
    value = inst.attrs["value"]
    return None if isinstance(value, OpaqueConstant) else value
