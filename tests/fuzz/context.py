"""Building one random graph from a stream of choices, so the same graph can be built again.

A generator (`tests/fuzz/generate.py`) calls op specs (`tests/fuzz/op_specs.py`)
with a `BuildContext`. Every random choice goes through `BuildContext.choose`,
which records it; replaying the record rebuilds the same graph with floats of
another width (the float64 twin whose reference values estimate how well
conditioned each output is) or with partially unknown placeholder shapes.
Each tensor in the pool carries what the specs need to pick inputs: its
concrete shape, its kind (float, int, bool) and two properties:

* exact — the compiled value is bit-identical to the reference's given the
  same inputs (feeds, and ops such as neg, max, reshape applied to exact
  tensors). Discontinuous ops (comparisons, floordiv, argmax, float->int
  casts) take only exact inputs, so a last-bit difference upstream cannot
  flip their result.
* positive — every element is > 0 (inputs of log, sqrt, pow's base).

A graph built `tensorflow=True` is also run by TensorFlow
(tests/fuzz/tensorflow_oracle.py): it uses only ops whose results TF defines
as graphc does, its feeds draw wider values (signed zeros, huge and tiny
numbers besides inf and NaN: `leaf_values(wide=True)`), and its reductions
sometimes get a long input of their own (`BuildContext.long_leaf`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from hypothesis import strategies as st

import graphc as tf

FLOAT, INT, BOOL = "float", "int", "bool"
INT_DTYPES = (tf.int32, tf.int64)

# Modes of a graph: plain values; gradients compared with the interpreter's; gradients
# compared with finite differences (float64, smooth ops only); values with variables that
# assignments update, run several times in one session (state compared after each run).
VALUES, GRADIENTS, FINITE_DIFFERENCES, STATE = "values", "gradients", "finite_differences", "state"


@dataclass
class Entry:
    """A tensor of the graph being built, with the facts specs choose inputs by."""

    tensor: tf.Tensor
    shape: tuple
    kind: str
    exact: bool
    positive: bool = False
    long_reduction: bool = False  # a reduction over a long leaf: compared with TF at its accuracy, no slack


@dataclass
class StateVariable:
    """A variable of a state-mode graph: its pool entry and its initial value."""

    variable: object
    entry: Entry
    initial: np.ndarray


@dataclass
class Leaf:
    """A placeholder and how its values are drawn: 'normal', 'positive', 'int', 'bool', ('labels', n),
    ('offset', low) (uniform in [low, low + 1]: long sums whose rounding error adds up)."""

    tensor: tf.Tensor
    shape: tuple
    values: object


class Replay:
    """Plays back recorded choices in order."""

    def __init__(self, record: list):
        self._record = list(record)
        self._position = 0

    def __call__(self, strategy):
        value = self._record[self._position]
        self._position += 1
        return value


class BuildContext:
    """The state of one graph being built: choices, the tensor pool, the leaves.

    draw: hypothesis's `draw` (or a Replay). float_dtype: what FLOAT tensors are.
    shapes: the concrete shapes recorded by the first build (a replay with
    unknown placeholder dims cannot read them from the graph). tensorflow: the
    graph is for the TensorFlow oracle too (see the module docstring).
    """

    def __init__(self, draw: Callable, mode: str, float_dtype, int_dtype_map: Optional[dict] = None,
                 unknown_dims: bool = False, shapes: Optional[list] = None, tensorflow: bool = False):
        self._draw = draw
        self.tensorflow = tensorflow
        self.record: list = []
        self.mode = mode
        self.float_dtype = float_dtype
        self.unknown_dims = unknown_dims
        self.pool: list[Entry] = []
        self.leaves: list[Leaf] = []
        self.shapes: list = [] if shapes is None else shapes
        self._replaying_shapes = shapes is not None
        self.op_count = 0
        self.variables: list[StateVariable] = []
        self.updated: set[int] = set()  # variables already assigned: one update each, so order is defined
        # One integer dtype per graph, so integer operands match; casts make the other one,
        # which specs never pick as an input.
        self.int_dtype = self.one_of(INT_DTYPES)

    @property
    def values_like(self) -> bool:
        """Modes that compare values (every dtype), not gradients (floats only)."""
        return self.mode in (VALUES, STATE)

    # -- choices ----------------------------------------------------------------------------

    def choose(self, strategy):
        value = self._draw(strategy)
        self.record.append(value)
        return value

    def choose_count(self, low: int, high: int) -> int:
        return self.choose(st.integers(low, high))

    def flip(self, probability: float = 0.5) -> bool:
        return self.choose(st.integers(0, 999)) < probability * 1000

    def one_of(self, options):
        options = list(options)
        return options[self.choose_count(0, len(options) - 1)]

    def dim(self) -> int:
        """A dimension size: mostly small, sometimes 1 (broadcasting) or 0 (empty)."""
        return self.one_of((1, 2, 3, 4, 5, 1, 2, 3, 0, 7))

    def new_shape(self, rank: Optional[int] = None) -> tuple:
        rank = self.one_of((0, 1, 2, 2, 3, 3, 4)) if rank is None else rank
        return tuple(self.dim() for _ in range(rank))

    def broadcast_partner(self, shape: tuple) -> tuple:
        """A shape that broadcasts against `shape`: trailing dims kept or set to 1, leading dims dropped."""
        keep = self.choose_count(0, len(shape))
        tail = shape[len(shape) - keep:]
        return tuple(1 if self.flip(0.3) else d for d in tail)

    # -- the pool ---------------------------------------------------------------------------

    def add(self, tensor, kind: Optional[str] = None, exact: bool = False, positive: bool = False) -> Entry:
        """Puts a spec's result into the pool (its shape from the first build's record)."""
        if self._replaying_shapes:
            shape = self.shapes[len(self.pool)]
        else:
            shape = tuple(tensor.shape.as_list())
            self.shapes.append(shape)
        if kind is None or kind == INT:
            kind = (BOOL if tensor.dtype == tf.bool else FLOAT if tensor.dtype == self.float_dtype
                    else INT if tensor.dtype == self.int_dtype else tensor.dtype.name)
        entry = Entry(tensor, shape, kind, exact, positive)
        self.pool.append(entry)
        return entry

    def pick(self, accept: Callable[[Entry], bool]) -> Optional[Entry]:
        """A pool entry satisfying `accept`, preferring recent ones (so chains form and fuse)."""
        candidates = [e for e in self.pool if accept(e)]
        if not candidates:
            return None
        if self.flip(0.6):
            return candidates[-1]
        return candidates[self.choose_count(0, len(candidates) - 1)]

    def pick_or_leaf(self, kind: str, accept: Callable[[Entry], bool] = lambda e: True,
                     shape: Optional[tuple] = None, values: object = None) -> Entry:
        """An entry of `kind` (and `shape`, if given) from the pool, or a new placeholder."""
        def fits(e):
            return e.kind == kind and accept(e) and (shape is None or e.shape == shape)

        entry = None if self.flip(0.3) else self.pick(fits)
        if entry is None:
            entry = self.leaf(kind, self.new_shape() if shape is None else shape, values)
        return entry

    def leaf(self, kind: str, shape: tuple, values: object = None) -> Entry:
        """A new placeholder of `kind` and concrete `shape`; some dims are declared unknown in a replay.
        In state mode a float leaf is sometimes a variable instead."""
        if self.mode == STATE and kind == FLOAT and values is None and self.flip(0.4):
            return self.variable(shape)
        if kind == FLOAT:
            dtype = self.float_dtype
        elif kind == INT:
            dtype = self.int_dtype
        else:
            dtype = tf.bool
        unknown = [self.flip(0.25) for _ in shape]
        declared = [None if u and self.unknown_dims else d for u, d in zip(unknown, shape)]
        tensor = tf.placeholder(dtype, declared, name=f"leaf{len(self.leaves)}")
        if values is None:
            values = {FLOAT: "normal", INT: "int", BOOL: "bool"}[kind]
        self.leaves.append(Leaf(tensor, shape, values))
        # Only the float64 twin and the compiled graph see the same float values exactly:
        # a float32 feed is exact (it is the rounded value both runs get).
        return self.add(tensor, kind, exact=True, positive=values == "positive")

    def long_leaf(self) -> Leaf:
        """A placeholder of 10^5 - 10^6 floats in [1000, 1001] for one reduction (kept out of the pool, so
        no other op makes a huge tensor of it); its shape may have a short axis to reduce or keep."""
        size = self.one_of((100_000, 300_007, 1_000_000))
        shape = self.one_of(((size,), (size // 1000, 1000), (3, size // 3), (size // 7, 7)))
        tensor = tf.placeholder(self.float_dtype, shape, name=f"leaf{len(self.leaves)}")
        leaf = Leaf(tensor, shape, ("offset", 1000.0))
        self.leaves.append(leaf)
        return leaf

    def variable(self, shape: tuple) -> Entry:
        """A new variable (state mode) with random initial values, in the pool like a leaf."""
        initial = np.random.RandomState(len(self.variables)).normal(0.0, 1.5, shape)
        variable = tf.Variable(initial.astype(self.float_dtype.np_dtype), name=f"var{len(self.variables)}")
        entry = self.add(variable.value(), FLOAT, exact=True)
        self.variables.append(StateVariable(variable, entry, initial))
        return entry

    def float_entry(self, accept: Callable[[Entry], bool] = lambda e: True) -> Entry:
        return self.pick_or_leaf(FLOAT, accept)

    def positive(self, entry: Entry) -> Entry:
        """`entry` itself when positive, else sigmoid(x) + 0.5 (bounded, so pow and exp stay finite)."""
        if entry.positive:
            return entry
        self.op_count += 2
        tensor = tf.sigmoid(entry.tensor) + 0.5
        return self.add(tensor, FLOAT, exact=False, positive=True)

    def bounded(self, entry: Entry) -> Entry:
        """tanh(x) * 3 where values must stay moderate (exp's input when differentiating)."""
        if self.values_like:
            return entry
        self.op_count += 2
        return self.add(tf.tanh(entry.tensor) * 3.0, FLOAT, exact=False)


# Special feed values. No huge finite values against the reference: a sum of 1e30, -1e30 and small
# ones has no right answer (any order is correct to float rounding), and one fuzz run chased exactly
# that. The TensorFlow oracle measures that conditioning by perturbing the inputs, so it gets them.
# Huge and tiny values whose reciprocals and halves are normal numbers in float32: TF's CPU kernels flush
# subnormals to zero (tensorflow_differences.SUBNORMALS). 1e300 and -1e-300 are inf and -0.0 in float32.
SPECIALS = (0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, 88.0, -100.0)
WIDE_SPECIALS = SPECIALS + (-0.0, -0.0, 1e30, -1e30, 5e37, -5e37, 3e-37, -3e-37, 1e300, -1e-300)


def leaf_values(leaf: Leaf, rng: np.random.RandomState, specials: bool, wide: bool = False) -> np.ndarray:
    """Values for one placeholder, drawn from the leaf's value kind. specials: some elements are special
    values; wide: more of them (signed zeros, huge and tiny, float64-only ones rounding to inf or 0 in
    float32), and in every draw some zeros of either sign."""
    shape, kind, dtype = leaf.shape, leaf.values, leaf.tensor.dtype.np_dtype
    if kind == "normal":
        values = rng.normal(0.0, 1.5, shape)
        if specials and values.size:
            mask = rng.uniform(size=shape) < 0.2
            values = np.where(mask, rng.choice(np.array(WIDE_SPECIALS if wide else SPECIALS), shape), values)
        elif wide and values.size:
            mask = rng.uniform(size=shape) < 0.1
            values = np.where(mask, rng.choice(np.array([0.0, -0.0]), shape), values)
    elif kind == "positive":
        values = rng.uniform(0.3, 2.0, shape)
    elif kind == "int":
        values = rng.randint(-20, 21, shape)
        if specials and values.size:
            info = np.iinfo(dtype)
            mask = rng.uniform(size=shape) < 0.2
            values = np.where(mask, rng.choice([info.min, info.max, info.min + 1, info.max - 1, 0, -1], shape),
                              values)
    elif kind == "bool":
        values = rng.uniform(size=shape) < 0.5
    elif kind[0] == "labels":
        values = rng.randint(0, kind[1], shape)
    elif kind[0] == "offset":
        values = rng.uniform(kind[1], kind[1] + 1.0, shape)
    else:
        raise ValueError(f"unknown leaf value kind {kind!r}")
    with np.errstate(over="ignore"):  # float64-only magnitudes become inf in float32, as intended
        return np.asarray(values).astype(dtype)
