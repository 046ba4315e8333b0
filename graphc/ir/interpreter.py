"""The NumPy reference interpreter: runs any Program with the ops' reference implementations.

It is the oracle the compiled code is tested against, and the evaluator the
constant-folding pass uses. It never changes its arguments: it returns the
fetched values and the new state of every variable.
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.core import registry
from graphc.core.registry import RNG_RUN
from graphc.ir.program import OpaqueConstant, Program, Value, VarRef


def interpret(program: Program, feeds: dict, variables: dict, evaluator=None) -> tuple[list, dict]:
    """Runs `program`.

    feeds: feed tensor name ("x:0") -> array; variables: declared name -> array,
    random ops' states included (their first: `LoweredStep.initial_states`).
    evaluator: computes each compute instruction (`evaluate` unless given; a test can
    wrap it, e.g. to model another machine's arithmetic).
    Returns (fetched arrays, new variable arrays).
    """
    evaluator = evaluator or evaluate
    state = {}
    for decl in program.variables:
        if decl.name in variables:
            state[decl.name] = np.array(variables[decl.name], dtype=decl.type.dtype.np_dtype)
    env: dict[int, np.ndarray] = {}
    _run_block(program.instructions, env, state, feeds, program, (), evaluator)
    return [env[v.id].copy() for v in program.fetches], state


def _run_block(instructions, env, state, feeds, program, params: tuple, evaluator) -> None:
    """Runs `instructions` into `env`; a region's `param`s take their values from `params`."""
    for inst in instructions:
        if inst.op == "param":
            env[inst.result.id] = params[inst.attrs["index"]]
        elif inst.regions:
            for value, array in zip(inst.outputs, _run_structured(inst, env, state, feeds, program, evaluator)):
                env[value.id] = array
        else:
            result = _execute(inst, env, state, feeds, program, evaluator)
            if inst.result is not None:
                env[inst.result.id] = result


def _run_region(region, state, feeds, program, params: tuple, evaluator) -> list:
    """A region's yielded values, given the values of its instruction's operands."""
    env: dict[int, np.ndarray] = {}
    _run_block(region.instructions, env, state, feeds, program, params, evaluator)
    return [env[v.id] for v in region.results]


def _run_structured(inst, env, state, feeds, program, evaluator) -> list:
    """The outputs of a `while` (its loop variables once its cond yields false, then the rows it saves:
    each saved loop variable at the start of every iteration, then each stashed body value at the end
    of every iteration, zeros past the last) or a `cond` (the values of the region its predicate picks)."""
    operands = [env[v.id] for v in inst.operands]
    if inst.op == "cond":
        region = inst.regions[0] if bool(operands[0]) else inst.regions[1]
        return [np.array(a) for a in _run_region(region, state, feeds, program, tuple(operands), evaluator)]
    cond, body = inst.regions
    carried, saved = inst.attrs["carried"], inst.attrs.get("saved", ())
    rows = [np.zeros((inst.attrs["rows"],) + operands[index].shape, operands[index].dtype) for index in saved]
    stashes = [np.zeros(v.type.shape, v.type.dtype.np_dtype) for v in inst.outputs[carried + len(saved):]]
    iteration = 0
    while True:
        if not bool(_run_region(cond, state, feeds, program, tuple(operands), evaluator)[0]):
            return [np.array(a) for a in operands[:carried]] + rows + stashes
        for history, index in zip(rows, saved):
            history[iteration] = operands[index]
        results = _run_region(body, state, feeds, program, tuple(operands), evaluator)
        for history, value in zip(stashes, results[carried:]):
            history[iteration] = value
        iteration += 1
        operands[:carried] = results[:carried]


def _execute(inst, env, state, feeds, program, evaluator):
    if inst.op == "feed":
        name = inst.attrs["tensor"]
        value = np.asarray(feeds[name], dtype=inst.result.type.dtype.np_dtype)
        if value.shape != inst.result.type.shape:
            raise ValueError(f"feed {name} has shape {value.shape}, expected {inst.result.type.shape}")
        return value
    if inst.op == "write":
        ref, value = inst.operands
        state[ref.name] = env[value.id].copy()
        return None
    for operand in inst.operands:
        if isinstance(operand, VarRef) and operand.name not in state:
            raise errors.FailedPreconditionError(
                None, None, f"Attempting to use uninitialized value {operand.name}")
    if inst.op == "read":
        return state[inst.operands[0].name].copy()
    if inst.op == "constant":
        value = inst.attrs["value"]
        if isinstance(value, OpaqueConstant):
            raise ValueError(f"cannot run a summarised constant ({value.digest}); print with full=True")
        return np.array(value)
    args = [env[o.id] if isinstance(o, Value) else state[o.name] for o in inst.operands]
    result = evaluator(inst, args)
    for operand in inst.operands:
        if isinstance(operand, VarRef) and program.variable(operand.name).kind == "rng":
            state[operand.name][RNG_RUN] += 1  # the interpreter's own copy: never the caller's array
    return result


def evaluate(inst, args: list) -> np.ndarray:
    """One compute instruction's result from its operand arrays, by the op's reference.

    IEEE special values are results like any other (rsqrt(-0.0) is -inf, as in TF): NumPy's
    warnings about them are silenced, for constant folding as for whole programs."""
    with np.errstate(all="ignore"):
        try:
            result = np.asarray(registry.get(inst.op).reference(*args, **inst.attrs))
        except errors.OpError as e:
            raise type(e)(None, None, f"{e.message} (op {inst.source or inst.op})") from None
        expected = inst.result.type
        if result.shape != expected.shape:
            raise AssertionError(f"reference of {inst.op} gave shape {result.shape}, expected {expected}")
        return result.astype(expected.dtype.np_dtype, copy=False)
