"""Loop variables that never change from a splat constant: their rows read as that constant.

A `while`'s loop variable whose first value is a splat constant c and whose next value is either itself or
itself with a row written with c everywhere (a row write of a splat constant of c's element) holds c in
every iteration. A row read of it at an index in range by construction (`in_range`: it cannot fail) is
then a splat constant of the row's shape. Dead-code elimination then drops the variable when nothing else
reads it. The sums the reads fed (dh + 0) stay: the splat is an inlined operand of their kernel, and the
sum joins the work that reads dh into one kernel (a sum dropped, two products of dh would start two).

The case that needs it: the gradient of a TensorArray nothing read (`dynamic_rnn`'s outputs, when the
program uses only the last h) is a [T, batch, units] loop variable of zeros in the gradient loop, whose
rows the gradient of each row write reads and then zeroes: a 1.4 MB copy of zeros a step, and a row read
and a row write an iteration, all to add zeros to dh.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from graphc.ir.printer import is_splat
from graphc.ir.program import Instruction, Program, constant_value
from graphc.passes.regions import rewrite_loops


def constant_loop_variables(program: Program) -> Program:
    """The program with in-range row reads of its loops' unchanging splat variables made constants."""
    instructions = rewrite_loops(program.instructions, _folded)
    return program if instructions is program.instructions else program.replace(instructions=instructions)


def _folded(loop, outside: dict):
    """The loop with its body's in-range reads of unchanging splat variables folded; the loop itself if none."""
    cond, body = loop.regions
    instructions = body.instructions
    for j in range(1, loop.attrs["carried"]):
        element = _splat(outside.get(loop.operands[j].id))
        if element is not None and _unchanging(body, j, element):
            instructions = _reads_folded(instructions, j, element)
    return loop if instructions is body.instructions else loop.replace(
        regions=(cond, body.replace(instructions=instructions)))


def _splat(inst) -> Optional[np.ndarray]:
    """The one element (a 0-d array, its dtype kept) of a splat constant instruction, or None."""
    array = constant_value(inst) if inst is not None else None
    if array is None or array.size == 0 or not is_splat(array):
        return None
    return np.asarray(array).reshape(-1)[:1].reshape(())


def _same(a: Optional[np.ndarray], b: np.ndarray) -> bool:
    """Whether two splat elements have one dtype and bit pattern (0.0 and -0.0 differ)."""
    return a is not None and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _unchanging(body, j: int, element: np.ndarray) -> bool:
    """Whether the body's next value of loop variable j is the variable, or it with a row written with
    `element` everywhere."""
    definition = {v.id: inst for inst in body.instructions for v in inst.defined}
    param = next((inst.result for inst in body.instructions
                  if inst.op == "param" and inst.attrs["index"] == j), None)
    if param is None:
        return False
    value = body.results[j]
    while value.id != param.id:
        inst = definition.get(value.id)
        if inst is None or inst.op != "row_write" or not _same(_splat(definition.get(inst.values[2].id)), element):
            return False
        value = inst.values[0]
    return True


def _reads_folded(instructions: tuple, j: int, element: np.ndarray) -> tuple:
    """`instructions` with each in-range row read of loop variable j (its param) a splat constant."""
    params = {inst.result.id for inst in instructions if inst.op == "param" and inst.attrs["index"] == j}
    result, changed = [], False
    for inst in instructions:
        if inst.op == "row_read" and inst.attrs.get("in_range") and inst.values[0].id in params:
            value = np.broadcast_to(element, inst.result.type.shape)
            inst, changed = Instruction("constant", inst.result, (), {"value": value}, inst.source), True
        result.append(inst)
    return tuple(result) if changed else instructions
