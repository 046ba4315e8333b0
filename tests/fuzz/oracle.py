"""Runs one random graph compiled and through the reference interpreter, and judges the difference.

The tolerance of each element is dtype-appropriate and scaled by how well
conditioned that element is: the same graph built with the other float width
(the twin) runs through the interpreter too, and the difference between the
two reference results, rescaled to the compiled width's precision, is added
to the tolerance; and the float64 reference runs again with every float input,
and every sum's result (whose order of additions is free), moved by a unit or
so in the last place (_Conditioning), and how far each element moves is added
too (the twin alone misses a cancellation both widths
make alike: 1e30 - 1e30 in one sum). So cancellation, overflow and
discontinuities upstream widen the tolerance exactly where they occur, and
nowhere else.

Given a TensorFlow worker, the graph is built for TensorFlow too (wider
inputs, long reductions: tests/fuzz/context.py) and every run's values,
gradients, variables and exceptions are also compared with TF's
(tests/fuzz/tensorflow_oracle.py).
"""

from __future__ import annotations

import collections
import traceback
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from hypothesis import strategies as st

import graphc as tf
from graphc.compiler.lower import lower
from graphc.core import registry
from graphc.ir.interpreter import evaluate, interpret
from tests.fuzz import tensorflow_differences, tensorflow_oracle
from tests.fuzz.context import FINITE_DIFFERENCES, STATE, VALUES, BuildContext, Replay, leaf_values
from tests.fuzz.generate import BuiltGraph, build_graph
from tests.fuzz.graph_description import describe
from tests.helpers import feed_types, interpret_graph

# (rtol, atol) of the compiled result against the reference of the same dtype. float32: compiled
# sums run in vector lanes, NumPy's pairwise; over thousands of terms with cancellation the two
# differ by up to ~2e-5 relative (a loss summing 1875 terms: 1120.0135 vs 1119.9886).
TOLERANCE = {np.dtype(np.float32): (1e-4, 1e-6), np.dtype(np.float64): (1e-9, 1e-12)}
# How much of the reference-vs-twin difference is allowed: the twin's error scaled to this dtype.
TWIN_SCALE = {np.dtype(np.float32): 4.0, np.dtype(np.float64): 4.0 * 2.0 ** -29}
# Ops whose result depends on the order its terms are summed in (_Conditioning._evaluate_moving_sums).
SUMMING_OPS = frozenset(tensorflow_differences.SUMS + tensorflow_differences.CONTRACTIONS)
RUNS_PER_GRAPH = 2  # feed draws per compiled graph: one compile, several runs
STATE_RUNS = 3  # state-mode graphs: variables carry over, so errors can build up over runs


class Mismatch(AssertionError):
    """The compiled graph disagrees with its oracle (a compiler bug, or a wrong reference)."""


@dataclass
class Stats:
    graphs: int = 0
    ops: int = 0
    runs: int = 0
    skipped: int = 0
    tensorflow_runs: int = 0  # runs whose every value was also compared with TensorFlow's
    op_types: collections.Counter = field(default_factory=collections.Counter)


STATS = Stats()


def _build(draw, mode, dtype, unknown_dims=False, shapes=None, max_ops=12, tensorflow=False) -> BuiltGraph:
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(1)
        ctx = BuildContext(draw, mode, dtype, unknown_dims=unknown_dims, shapes=shapes, tensorflow=tensorflow)
        return build_graph(ctx, max_ops)


def _feeds(built: BuiltGraph, values: list) -> dict:
    with np.errstate(over="ignore"):  # float64 feeds beyond float32's range are inf in the float32 graph
        return {leaf.tensor: v.astype(leaf.tensor.dtype.np_dtype) for leaf, v in zip(built.context.leaves, values)}


class ReferenceSession:
    """The interpreter as a session: variables (initial values, then each run's writes) and random
    counters carry over from run to run, as in a compiled session."""

    def __init__(self, built: BuiltGraph, evaluator=evaluate):
        self.built = built
        self.evaluator = evaluator
        self.state = {v.variable.op.name: v.initial.astype(built.context.float_dtype.np_dtype)
                      for v in built.context.variables}

    def run(self, feeds: dict):
        """The fetches' values, or the OpError the run raised (the state then stays as it was)."""
        self.state_before = dict(self.state)
        outcome = self._interpret(feeds, self.state, self.evaluator)
        if isinstance(outcome, Exception):
            return outcome
        values, state = outcome
        self.state.update(state)
        return values

    def run_flushing_subnormals(self, feeds: dict):
        """The last run again, as on a CPU that flushes subnormals to zero (TF's): (fetches, variables), or the
        OpError it raised. The session's state is left as the last run left it."""
        outcome = self._interpret(feeds, self.state_before, _evaluate_flushing_subnormals)
        return outcome if isinstance(outcome, Exception) else (outcome[0], {**self.state_before, **outcome[1]})

    def run_with_exact_products(self, feeds: dict):
        """The last run again with the products of matmuls and convolutions exact, as the kernels' fused
        multiply-adds compute them (tensorflow_differences.FUSED_MULTIPLY_ADD): (fetches, variables), or the
        OpError it raised. The session's state is left as the last run left it."""
        outcome = self._interpret(feeds, self.state_before, _evaluate_with_exact_products)
        return outcome if isinstance(outcome, Exception) else (outcome[0], {**self.state_before, **outcome[1]})

    def _interpret(self, feeds: dict, state: dict, evaluator):
        with self.built.graph.as_default():
            step = lower(self.built.fetches, feed_types(feeds))
            try:
                values, new_state = interpret(step.program, {t.name: v for t, v in feeds.items()},
                                              {**step.initial_states, **state}, evaluator)
            except tf.errors.OpError as error:
                return error
        return [values[slot] for slot in step.fetch_slots], new_state


def _flush_subnormals(array):
    """`array` with its float32/float64 subnormals replaced by zeros of their sign (x86's FTZ and DAZ)."""
    if not isinstance(array, np.ndarray) or array.dtype not in (np.float32, np.float64):
        return array
    tiny = np.finfo(array.dtype).tiny
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(array) < tiny, np.copysign(array.dtype.type(0), array), array)


def _evaluate_flushing_subnormals(inst, args: list):
    """`evaluate` with TF's CPU modes (tensorflow_differences.SUBNORMALS): subnormal inputs and results are 0."""
    return _flush_subnormals(evaluate(inst, [_flush_subnormals(a) for a in args]))


def _evaluate_with_exact_products(inst, args: list):
    """`evaluate`, a contraction's float operands widened first (float32 to float64, float64 to the x87's
    long double) so that no product overflows: the references round only the sums."""
    if registry.get(inst.op).tf_type in tensorflow_differences.CONTRACTIONS:
        args = [a.astype(np.promote_types(a.dtype, WIDER[a.dtype])) if isinstance(a, np.ndarray) and a.dtype in WIDER
                else a for a in args]
    return evaluate(inst, args)


WIDER = {np.dtype(np.float32): np.dtype(np.float64), np.dtype(np.float64): np.dtype(np.longdouble)}


def explained_by_exact_products(reference, exact, compiled) -> np.ndarray:
    """Per element, whether graphc's infinity where the reference has NaN is what exact products give
    (tensorflow_differences.FUSED_MULTIPLY_ADD): an infinite sum met a product that overflows only when
    rounded on its own."""
    r, e, c = (np.asarray(v).astype(np.float64) for v in (reference, exact, compiled))
    return np.isnan(r) & np.isinf(c) & (e == c)


def _exactly(exact, index: int, fetch_count: int, name: str):
    """One checked value of a run_with_exact_products outcome: a fetch, or the variable `name` names."""
    return exact[0][index] if index < fetch_count else exact[1][name.split(" ", 1)[1]]


def _zero_sign_from(tensor) -> str:
    """The op type that decides the sign of `tensor`'s zeros: its own, or, through ops of one input
    (selu(relu(x)) keeps relu's -0.0 or 0.0) and through the first input of activation gradients
    (tensorflow_differences.ZERO_SIGN_FROM_FIRST_INPUT), the first op up the chain with other inputs or none."""
    op = tensor.op
    while op.type not in tensorflow_differences.SUMS + tensorflow_differences.PLACE_DEPENDENT_ZERO_SIGNS \
            and (len(op.inputs) == 1 or op.type in tensorflow_differences.ZERO_SIGN_FROM_FIRST_INPUT):
        op = op.inputs[0].op
    return op.type


def _describe(built: BuiltGraph, feeds: dict) -> str:
    lines = [f"mode {built.context.mode}, float {built.context.float_dtype.name}; ops:"]
    for op in built.graph.get_operations():
        inputs = ", ".join(t.name for t in op.inputs)
        shapes = ", ".join(str(t.shape) for t in op.outputs)
        lines.append(f"  {op.name} = {op.type}({inputs}) {op.attrs if op.type != 'Const' else ''} -> {shapes}")
    lines.append("feeds:")
    for tensor, value in feeds.items():
        lines.append(f"  {tensor.name} {value.dtype}{list(value.shape)} = {np.array2string(value, threshold=40)}")
    return "\n".join(lines)


def _as_float(value) -> np.ndarray:
    return np.asarray(value).astype(np.float64)


def twin_slack(dtype: np.dtype, reference, twin) -> np.ndarray:
    """Per element, the reference's difference from its twin scaled to `dtype`'s precision; inf where one
    of them is NaN and the other not."""
    r, t = _as_float(reference), _as_float(twin)
    scale = TWIN_SCALE.get(dtype, 1.0)  # integers and bools: a twin difference allows that much
    with np.errstate(invalid="ignore", over="ignore"):
        # Equal values (infinities and NaNs included) need no room; one NaN, or inf - inf, is unstable.
        slack = np.where((r == t) | (np.isnan(r) & np.isnan(t)), 0.0, np.abs(r - t) * scale)
        return np.where(np.isnan(slack), np.inf, slack)


def compare(name: str, compiled, reference, twin, movement=0.0, excused=None) -> str | None:
    """Why `compiled` is not `reference` within the conditioning-scaled tolerance, or None. movement: more
    allowed difference per element (the TF oracle's perturbed run, which wide inputs need). excused: a mask of
    elements whose difference is explained otherwise (`explained_by_exact_products`)."""
    compiled, reference = np.asarray(compiled), np.asarray(reference)
    if compiled.shape != reference.shape or compiled.dtype != reference.dtype:
        return f"{name}: compiled {compiled.dtype}{compiled.shape}, reference {reference.dtype}{reference.shape}"
    if compiled.size == 0:
        return None
    c, r, t = _as_float(compiled), _as_float(reference), _as_float(twin)
    rtol, atol = TOLERANCE.get(compiled.dtype, (0.0, 0.0))
    slack = twin_slack(compiled.dtype, reference, twin) + movement
    with np.errstate(invalid="ignore", over="ignore"):
        same = (c == r) | (np.isnan(c) & np.isnan(r))
        close = (np.abs(c - r) <= atol + rtol * np.abs(r) + slack) & np.isfinite(c - r)  # inf only equals inf
        ok = same | close | np.isinf(slack)
        if excused is not None:
            ok |= np.broadcast_to(excused, ok.shape)
    if ok.all():
        return None
    index = tuple(int(i) for i in np.argwhere(~ok)[0])
    return (f"{name}: {np.count_nonzero(~ok)} of {c.size} elements differ; first at {index}: compiled "
            f"{c[index]!r}, reference {r[index]!r}, twin {t[index]!r}")


def check_graph(draw, mode: str, dtype, max_ops: int = 12,
                tensorflow: Optional[tensorflow_oracle.TensorFlowWorker] = None) -> None:
    """Builds a random graph from `draw`, runs it compiled and interpreted (and by `tensorflow`, a worker,
    when given), raises Mismatch on disagreement."""
    for_tensorflow = tensorflow is not None
    first = _build(draw, mode, dtype, max_ops=max_ops, tensorflow=for_tensorflow)
    ctx = first.context
    other = tf.float64 if dtype == tf.float32 else tf.float32
    twin = _build(Replay(ctx.record), mode, other, shapes=ctx.shapes, max_ops=max_ops, tensorflow=for_tensorflow)
    unknown_dims = draw_flip(draw, 0.3)
    compiled_graph = _build(Replay(ctx.record), mode, dtype, unknown_dims=True, shapes=ctx.shapes,
                            max_ops=max_ops, tensorflow=for_tensorflow) if unknown_dims else first
    seed = draw_int(draw, 0, 2 ** 31 - 1)
    specials = mode in (VALUES, STATE) and draw_flip(draw, 0.5 if for_tensorflow else 0.3)
    rngs = [np.random.RandomState((seed + run) % 2 ** 31) for run in range(RUNS_PER_GRAPH if mode != STATE
                                                                         else STATE_RUNS)]
    feed_values = [[leaf_values(leaf, rng, specials, for_tensorflow) for leaf in ctx.leaves] for rng in rngs]
    conditioning = _Conditioning(first, twin, feed_values, seed)
    tensorflow_check = _TensorFlowCheck(tensorflow, first, compiled_graph, feed_values) if for_tensorflow else None
    session = tf.Session(graph=compiled_graph.graph)
    if compiled_graph.initializer is not None:
        session.run(compiled_graph.initializer)
    reference_session, twin_session = ReferenceSession(first), ReferenceSession(twin)
    STATS.graphs += 1
    STATS.ops += ctx.op_count
    STATS.op_types.update(op.type for op in first.graph.get_operations())
    for run, (values, rng) in enumerate(zip(feed_values, rngs)):
        reference = reference_session.run(_feeds(first, values))
        twin_values = twin_session.run(_feeds(twin, values))
        perturbed = conditioning.run_perturbed(run)
        feeds = _feeds(compiled_graph, values)
        variables_before = {name: session._variables[name].copy() for name in reference_session.state
                            if not name.startswith("rng:")}
        try:
            compiled = session.run(compiled_graph.fetches, feeds)
        except tf.errors.OpError as error:
            if type(error) is not type(reference):
                raise Mismatch(f"compiled run raised {error!r}; the reference "
                               f"{'raised ' + repr(reference) if isinstance(reference, Exception) else 'did not'}"
                               f"\n{_describe(compiled_graph, feeds)}") from error
            for name, before in variables_before.items():
                if not np.array_equal(session._variables[name], before, equal_nan=True):
                    raise Mismatch(f"the failed run changed variable {name}\n{_describe(compiled_graph, feeds)}")
            if tensorflow_check is not None:
                tensorflow_check.failed(run, error, feeds)
            continue
        except Exception as error:  # graphc's compiler or runtime failed without an OpError: its defect
            where = "".join(traceback.format_exception(error)[-4:])
            raise Mismatch(f"the compiled run crashed: {type(error).__name__}: {error}\n{where}"
                           f"{_describe(compiled_graph, feeds)}") from error
        STATS.runs += 1
        if isinstance(reference, Exception):
            raise Mismatch(f"the reference raised {reference!r}, the compiled run did not\n"
                           f"{_describe(compiled_graph, feeds)}")
        if isinstance(twin_values, Exception):
            twin_values = [np.full(np.shape(r), np.nan) for r in reference]
        fetched = list(zip([t.name for t in compiled_graph.fetches], compiled, reference, twin_values))
        variables = [(name, session._variables[name], reference_session.state[name], twin_session.state[name])
                     for name in variables_before]
        checks = fetched + [(f"variable {name}", c, r, t) for name, c, r, t in variables]
        movements = conditioning.movements(fetched, variables, perturbed)
        for index, ((name, c, r, t), movement) in enumerate(zip(checks, movements)):
            problem = compare(name, c, r, t, movement)
            if problem:
                exact = reference_session.run_with_exact_products(_feeds(first, values))
                if not isinstance(exact, Exception):
                    excused = explained_by_exact_products(r, _exactly(exact, index, len(fetched), name), c)
                    problem = compare(name, c, r, t, movement, excused)
            if problem:
                raise Mismatch(f"{problem} (run {run})\n{_describe(compiled_graph, feeds)}")
        if tensorflow_check is not None:
            tensorflow_check.succeeded(run, checks, movements, len(fetched), feeds,
                                       lambda: reference_session.run_flushing_subnormals(_feeds(first, values)),
                                       lambda: reference_session.run_with_exact_products(_feeds(first, values)))
        if mode == FINITE_DIFFERENCES:
            _check_finite_differences(first, values, compiled, rng)


class _Conditioning:
    """How well conditioned each checked value is: the float64 reference run again with its float inputs
    perturbed; how far a value moves is the difference from the reference allowed on top of the twin's."""

    def __init__(self, first: BuiltGraph, twin: BuiltGraph, feed_values: list, seed: int):
        self.dtype = np.dtype(first.context.float_dtype.np_dtype)
        self.feed_values = feed_values
        self.float64_graph = twin if self.dtype == np.float32 else first
        self.perturbed = ReferenceSession(self.float64_graph, self._evaluate_moving_sums)
        self.rng = np.random.RandomState(seed)

    def run_perturbed(self, run: int):
        """The float64 reference with every float feed, and every variable carried over from an earlier
        run, moved by a few units in the last place of the compiled dtype, in random directions and sizes: (its
        fetches or None when it raised, its variables). The variables are moved too because after a run
        they hold values rounded to the compiled dtype, and a later run can cancel them (a variable of
        6e8 minus a sum of 6e8 is known to one float32 ulp, 64, whatever its float64 twin says)."""
        values = [self._moved(v) if leaf.tensor.dtype.is_floating else v
                  for leaf, v in zip(self.float64_graph.context.leaves, self.feed_values[run])]
        if run > 0:
            self.perturbed.state = {name: self._moved(v) if v.dtype.kind == "f" else v
                                    for name, v in self.perturbed.state.items()}
        fetched = self.perturbed.run(_feeds(self.float64_graph, values))
        return (None if isinstance(fetched, Exception) else fetched), dict(self.perturbed.state)

    def _moved(self, value) -> np.ndarray:
        """`value` in float64, each element moved by a few units in the last place of the compiled dtype
        (`PERTURBATION`). Random directions and sizes in [1, 1.25) units: with sizes all alike, x - x' for
        x' = -x (1e30 and -1e30 in one sum) would stay exactly 0 whenever both moved the same way, hiding that
        cancellation. The sizes are distinct by construction (a random permutation of evenly spaced ones,
        jittered within their spacing), so no two elements of a tensor move by amounts that round alike."""
        shape = np.shape(value)
        count = int(np.prod(shape))
        spaced = (self.rng.permutation(count) + self.rng.random_sample(count)) / max(count, 1)
        units = self.rng.choice([-1.0, 1.0], shape) * (1.0 + 0.25 * spaced.reshape(shape))
        return value.astype(np.float64) * (1.0 + tensorflow_oracle.PERTURBATION[self.dtype] * units)

    def _evaluate_moving_sums(self, inst, args: list):
        """`evaluate`, a sum's float result moved as the feeds are: whichever order a sum's terms are added in
        is right, and after thousands of them two orders differ by a few units in the last place (graphc's
        vector lanes against NumPy's pairs). Where a later op amplifies that (the cosine of a mean of values
        near 1000, whose ulp is 6e-5 radians), the difference it makes is allowed there too. Other ops round
        alike in both, or differ within the dtype's tolerance: their results are left as they are."""
        result = evaluate(inst, args)
        if (registry.get(inst.op).tf_type in SUMMING_OPS and isinstance(result, np.ndarray)
                and result.dtype.kind == "f"):
            return self._moved(result).astype(result.dtype)
        return result

    def movements(self, fetched: list, variables: list, perturbed) -> list:
        """How far each checked value ((name, compiled, reference, twin): the fetches, then the variables)
        may move: `tensorflow_oracle.movement` of its float64 reference under the perturbation."""
        perturbed_fetches, perturbed_state = perturbed
        result = []
        for index, (name, _, r, t) in enumerate(fetched + variables):
            reference64 = t if self.dtype == np.float32 else r
            if index < len(fetched):
                moved = np.nan if perturbed_fetches is None else perturbed_fetches[index]
            else:
                moved = perturbed_state[name]
            result.append(tensorflow_oracle.movement(reference64, moved))
        return result


class _TensorFlowCheck:
    """One graph against TensorFlow: TF's answers for every run (asked once, before the compiled runs)."""

    def __init__(self, worker, first: BuiltGraph, compiled_graph: BuiltGraph, feed_values: list):
        self.dtype = np.dtype(first.context.float_dtype.np_dtype)
        self.compiled_graph = compiled_graph
        self.long_reductions = {id(e.tensor) for e in compiled_graph.context.pool if e.long_reduction}
        runs = [{leaf.tensor.op.name: v for leaf, v in zip(first.context.leaves, values)} for values in feed_values]
        self.answer = worker.run(describe(first), runs)
        if "refused" in self.answer:
            raise Mismatch(f"TensorFlow would not build the graph: {self.answer['refused']}\n"
                           f"{_describe(first, _feeds(first, feed_values[0]))}")

    def _answer(self, run: int) -> Optional[dict]:
        runs = self.answer["runs"]
        return runs[run] if run < len(runs) else None  # TF stops a state graph after a failed run

    def failed(self, run: int, error: Exception, feeds: dict) -> None:
        """graphc's run raised `error` (as the reference did): TF must raise the same class."""
        answer = self._answer(run)
        if answer is not None and answer.get("error", ("",))[0] != type(error).__name__ and \
                not tensorflow_differences.truncated_division_by_zero(error, answer.get("error", ("", ""))):
            what = f"raised {answer['error'][0]}: {answer['error'][1]}" if "error" in answer else "did not raise"
            raise Mismatch(f"graphc raised {error!r}; TensorFlow {what} (run {run})\n"
                           f"{_describe(self.compiled_graph, feeds)}")

    def succeeded(self, run: int, checks: list, movements: list, fetch_count: int, feeds: dict,
                  flushing_subnormals, exact_products) -> None:
        """graphc's run gave `checks` ((name, compiled, reference, twin): the fetches, then the variables):
        TF's values, gradients and variables must agree. flushing_subnormals(): the reference run as TF's
        CPU modes compute, asked only where TF differs (tensorflow_differences.SUBNORMALS); exact_products():
        the reference run with exact products (FUSED_MULTIPLY_ADD), likewise."""
        answer = self._answer(run)
        if answer is None:
            return
        if "error" in answer:
            raise Mismatch(f"TensorFlow raised {answer['error'][0]}: {answer['error'][1]}; graphc did not "
                           f"(run {run})\n{_describe(self.compiled_graph, feeds)}")
        answers = list(answer["values"]) + [answer["variables"][name.split(" ", 1)[1]]
                                            for name, *_ in checks[fetch_count:]]
        long = [id(t) in self.long_reductions for t in self.compiled_graph.fetches] + [False] * len(checks)
        gradients = self.compiled_graph.loss is not None  # fetches: the loss, then gradients
        for index, ((name, c, r, t), movement, value, long_reduction) in enumerate(zip(checks, movements, answers,
                                                                                       long)):
            slack = twin_slack(np.asarray(c).dtype, r, t) + movement
            # tensorflow_differences.GRADIENT_ZERO_SIGNS, ZERO_SIGN_OF_SUMS (the loss is a sum too) and
            # PLACE_DEPENDENT_ZERO_SIGNS.
            fetch = self.compiled_graph.fetches[index] if index < fetch_count else None
            zero_signs = not (gradients and index < fetch_count) and not (
                fetch is not None and _zero_sign_from(fetch) in (tensorflow_differences.SUMS +
                                                                 tensorflow_differences.PLACE_DEPENDENT_ZERO_SIGNS))
            # The float64 reference: more precise than float32 TF and graphc (and float64 graphc's own sum).
            truth = t if self.dtype == np.float32 or long_reduction else None
            truth = r if long_reduction and self.dtype == np.float64 else truth
            problem = tensorflow_oracle.compare(name, c, value, slack, long_reduction, zero_signs, truth)
            if problem:
                flushed = flushing_subnormals()
                if not isinstance(flushed, Exception):
                    flushed_value = flushed[0][index] if index < fetch_count else flushed[1][name.split(" ", 1)[1]]
                    excused = tensorflow_oracle.explained_by_subnormals(r, flushed_value, value, slack)
                    exact = exact_products()
                    if not isinstance(exact, Exception):
                        excused |= explained_by_exact_products(r, _exactly(exact, index, fetch_count, name), c)
                    problem = tensorflow_oracle.compare(name, c, value, slack, long_reduction, zero_signs, truth,
                                                        excused)
            if problem:
                raise Mismatch(f"{problem} (run {run})\n{_describe(self.compiled_graph, feeds)}")
        STATS.tensorflow_runs += 1


def _check_finite_differences(built: BuiltGraph, values: list, compiled: list, rng, samples: int = 4) -> None:
    """The compiled gradients against central differences of the reference loss (float64), at `samples`
    random elements of each input (every element costs two interpreter runs)."""
    loss_value = float(compiled[0])
    if not np.isfinite(loss_value) or abs(loss_value) > 1e6:
        STATS.skipped += 1
        return
    leaves = built.context.leaves
    position = {id(leaf): i for i, leaf in enumerate(leaves)}
    with built.graph.as_default():
        for leaf, gradient in zip(built.wrt, compiled[1:]):
            i = position[id(leaf)]
            base = values[i].astype(np.float64)
            for flat_index in rng.permutation(base.size)[:samples]:
                index = np.unravel_index(flat_index, base.shape)
                eps = 1e-6 * max(1.0, abs(base[index]))
                shifted = []
                for sign in (1, -1):
                    moved = [v.copy() for v in values]
                    moved[i] = base.copy()
                    moved[i][index] += sign * eps
                    feeds = {leaf.tensor: v.astype(leaf.tensor.dtype.np_dtype) for leaf, v in zip(leaves, moved)}
                    shifted.append(float(interpret_graph([built.loss], feeds)[0]))
                numeric = (shifted[0] - shifted[1]) / (2 * eps)
                analytic = float(np.asarray(gradient)[index])
                tolerance = 1e-4 * abs(numeric) + 1e-7 * max(1.0, abs(loss_value))
                if not abs(analytic - numeric) <= tolerance:
                    raise Mismatch(f"d loss / d {leaf.tensor.name}{list(index)}: compiled {analytic!r}, finite "
                                   f"differences {numeric!r}\n{_describe(built, _feeds(built, values))}")


def draw_flip(draw, probability: float) -> bool:
    return draw(st.integers(0, 999)) < probability * 1000


def draw_int(draw, low: int, high: int) -> int:
    return draw(st.integers(low, high))
