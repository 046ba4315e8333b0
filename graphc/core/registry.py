"""The op registry: everything about an op in one entry.

An `OpDef` holds, together, an op's shape-and-dtype rule, its gradient rule
(built from other ops, so gradients are graph too), its NumPy reference
implementation and its fusion class. The backend keeps a lowering table keyed by
the same name; `tests/unit/test_registry.py` fails for any op missing a piece.

Names: `name` is the IR spelling (`matmul`), `tf_type` the graph op type TF1
shows (`MatMul`). Ops with `tf_type=None` exist only in the IR (`feed`, `read`);
ops with `in_ir=False` exist only in graphs and are rewritten by lowering
(`Placeholder`, `VariableV2`, `Shape` ...).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from graphc.core.dtypes import DType
from graphc.core.tensor_shape import Dims, format_dims_as_list


class FusionClass(enum.Enum):
    """How an op composes with its neighbours in a fused loop nest."""

    ELEMENTWISE = "elementwise"  # out[i] = f(in[i]) with NumPy broadcasting
    BROADCAST = "broadcast"      # out[i] = in[g(i)], g drops broadcast dimensions
    REDUCE = "reduce"            # out[j] = combine over the reduced axes of in
    INJECTIVE = "injective"      # out[i] = in[g(i)], a one-to-one index map (transpose)
    OPAQUE = "opaque"            # its own kernel (GEMM, softmax, random, state)


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


@dataclass
class OpDef:
    """One registry entry. See the module docstring."""

    name: str
    tf_type: Optional[str]
    infer: Callable[[Sequence[TensorType], dict], "TensorType | list[TensorType]"]
    fusion: FusionClass = FusionClass.OPAQUE
    reference: Optional[Callable] = None
    gradient: object = None  # a function (op, *grads) -> [grad per input], or NOT_DIFFERENTIABLE
    # Trailing graph inputs whose values must be known when a step is compiled
    # (reshape's shape, a reduction's axes); lowering turns them into attrs.
    static_inputs: tuple = ()
    # Ops whose one input is used only for its shape (tf.shape): lowering never
    # computes the input; `shape_function(dims, **attrs)` gives the value, or None
    # while the shape is not known well enough.
    shape_only_inputs: bool = False
    shape_function: Optional[Callable] = None
    stateful: bool = False
    # Scratch memory its kernel uses while it runs (an im2col matrix): `workspace(instruction)`
    # gives the bytes; plan_memory places them in the arena like a value live for that kernel.
    workspace: Optional[Callable] = None
    in_ir: bool = True
    # Graph-only ops the session finishes on the host after the native call
    # (summaries): `host_function(op, input_values)` gives the op's one output
    # from the values of its inputs, which the compiled step computes.
    host_function: Optional[Callable] = None
    # Default op name for graphs (TF1 uses the op type unless the API says otherwise).
    default_name: Optional[str] = None

    @property
    def graph_name(self) -> str:
        return self.default_name or self.tf_type

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
