"""Prints a Program as text (the grammar is in `parser.py`).

Constants of at most SUMMARY_LIMIT elements print in full; a splat (all
elements of one bit pattern) prints as its one value; larger ones print as a digest unless
`full=True`, which round-trips through `parse` exactly.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from graphc.core.dtypes import DType, all_elements_identical
from graphc.ir.program import Instruction, OpaqueConstant, Program

SUMMARY_LIMIT = 16


def print_program(program: Program, full: bool = False) -> str:
    """The program's text; `full` prints every constant element."""
    lines = [f"program {program.name}:"]
    for decl in program.variables:
        lines.append(f"  {decl.kind} @{decl.name}: {decl.type}")
    _print_block(lines, program.instructions, program.kernels, "  ", full)
    fetches = ", ".join(str(v) for v in program.fetches)
    lines.append(f"  fetch {fetches}".rstrip())
    if program.memory_plan is not None:
        lines.append(program.memory_plan.describe())
    return "\n".join(lines) + "\n"


def _print_block(lines: list, instructions, kernels: dict, indent: str, full: bool) -> None:
    """Instructions at `indent`; a kernel's under its header, two spaces in; a region's name two spaces
    in from its instruction, its instructions and `yield` two more."""
    current = None
    for inst in instructions:
        if inst.kernel != current and inst.kernel is not None:
            lines.append(f"{indent}kernel {inst.kernel} {kernels.get(inst.kernel, '?')}:")
        current = inst.kernel
        inner = indent + "  " if inst.kernel is not None else indent
        lines.append(inner + format_instruction(inst, full))
        for region in inst.regions:
            lines.append(f"{inner}  {region.name}:")
            _print_block(lines, region.instructions, kernels, inner + "    ", full)
            lines.append(f"{inner}    yield {', '.join(str(v) for v in region.results)}".rstrip())


def format_instruction(inst: Instruction, full: bool = False) -> str:
    """One instruction's line (a structured one's regions follow it on lines of their own)."""
    text = ""
    if inst.defined:
        text = ", ".join(f"{v}:{v.type}" for v in inst.defined) + " = "
    text += inst.op
    if inst.operands:
        text += " " + ", ".join(str(o) for o in inst.operands)
    if inst.attrs:
        text += " {" + ", ".join(f"{k}={format_attr(k, v, inst, full)}" for k, v in sorted(inst.attrs.items())) + "}"
    if inst.source:
        text += f"  # {inst.source}"
    return text


def format_attr(key, value, inst: Instruction, full: bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return format_scalar(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, DType):
        return value.ir_name
    if isinstance(value, OpaqueConstant):
        return f"<{value.digest}>"
    if isinstance(value, np.ndarray):
        return format_array(value, full)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(format_attr(key, v, inst, full) for v in value) + "]"
    raise TypeError(f"cannot print attribute {key}={value!r} of {inst.op}")


def format_scalar(x) -> str:
    """Shortest text that reads back to the same value in its own precision."""
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = np.format_float_positional(x, unique=True, trim="0")
    if len(text) > 16:
        text = np.format_float_scientific(x, unique=True, trim="0")
    return text


def is_splat(array: np.ndarray) -> bool:
    """Whether every element has one bit pattern (so [0.0, -0.0] is no splat: 1 / x tells them apart)."""
    if array.size <= 1 or all(s == 0 for s in array.strides):
        return True
    return all_elements_identical(array)


def array_digest(array: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(array.dtype).encode())
    h.update(str(array.shape).encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return "sha256:" + h.hexdigest()[:16]


def format_array(array: np.ndarray, full: bool) -> str:
    if is_splat(array):
        return format_scalar(array.reshape(-1)[0] if array.size else array.dtype.type(0))
    if array.size > SUMMARY_LIMIT and not full:
        return f"<{array_digest(array)}>"
    return _nested(array)


def _nested(array: np.ndarray) -> str:
    if array.ndim == 0:
        return format_scalar(array[()])
    return "[" + ", ".join(_nested(a) for a in array) + "]"
