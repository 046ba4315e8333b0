"""The Python operators a tensor supports, in one table: graph Tensors define them (graphc.ops), and the
types that stand for a tensor — graph Variables, eager tensors and eager variables — take this table to
forward each of them to the Tensor's."""

from __future__ import annotations

# `x op y` and `y op x` (the reflected `__rop__`) for each.
BINARY = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or")
COMPARISONS = ("lt", "le", "gt", "ge")
UNARY = ("neg", "abs", "invert")

SPELLINGS = tuple([f"__{name}__" for name in BINARY] + [f"__r{name}__" for name in BINARY]
                  + [f"__{name}__" for name in COMPARISONS + UNARY] + ["__getitem__"])


def install(cls, make_method) -> None:
    """Sets each of `SPELLINGS` on `cls` to `make_method(spelling)`."""
    for spelling in SPELLINGS:
        setattr(cls, spelling, make_method(spelling))
