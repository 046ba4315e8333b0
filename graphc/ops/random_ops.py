"""Random ops: uniform, normal and truncated normal, with TF1's seed rules.

Each random op keeps a state in the session (an IR variable `@rng:<op>`:
its run count and its seeds, `registry.RNG_*`) and draws from Philox keyed by
its seeds (see `philox.py`): deterministic for given seeds and run count,
whatever the thread count. The seeds stay graph attributes, as in TF; lowering
moves them into the state, so compiled code does not depend on them.
"""

from __future__ import annotations

import secrets

import numpy as np

from graphc.core import dtypes, registry
from graphc.core.registry import NOT_DIFFERENTIABLE, DTypeError, Effects, OpDef, TensorType
from graphc.core.rules import FLOAT_TYPES, check_sizes_when_run, shape_value_to_dims
from graphc.frontend.graph import apply_op, convert_to_tensor, get_default_graph, name_scope
from graphc.ops import philox

# TF1's seed used when only an op seed is given.
DEFAULT_GRAPH_SEED = 87654321


def _random_infer(types, attrs):
    if attrs["dtype"] not in FLOAT_TYPES:
        raise DTypeError(f"graphc draws random float32 or float64, not {attrs['dtype'].name}")
    result = TensorType(attrs["dtype"], shape_value_to_dims(attrs["shape"]))
    check_sizes_when_run(attrs["shape"], result)
    return result


def _reference(draw):
    def reference(state, shape, dtype):
        dims = tuple(int(d) for d in np.asarray(shape).reshape(-1))
        count = int(np.prod(dims, dtype=np.int64))
        seeds = (int(state[registry.RNG_SEED]), int(state[registry.RNG_SEED2]))
        return draw(count, dtype.np_dtype, seeds, int(state[registry.RNG_RUN])).reshape(dims)

    return reference


def _random_op(name, tf_type, draw):
    return registry.register(OpDef(
        name=name, tf_type=tf_type, infer=_random_infer, effects=Effects(random=True),
        static_inputs=("shape",), reference=_reference(draw), gradient=NOT_DIFFERENTIABLE))


random_uniform_p = _random_op("random_uniform", "RandomUniform", philox.uniform)
random_normal_p = _random_op("random_normal", "RandomStandardNormal", philox.normal)
truncated_normal_p = _random_op("truncated_normal", "TruncatedNormal", philox.truncated_normal)


def set_random_seed(seed):
    """`tf.set_random_seed`: the graph-level seed of the default graph."""
    get_default_graph().seed = None if seed is None else int(seed)


def get_seed(op_seed):
    """TF1's seed rule: (graph seed, op seed), filling in what is missing.

    With neither seed set, TF1 draws fresh randomness; graphc draws the seeds
    once, when the op is created, so one graph stays reproducible within itself.
    """
    graph = get_default_graph()
    if graph.seed is not None:
        seeds = (graph.seed, op_seed if op_seed is not None else len(graph.get_operations()))
    elif op_seed is not None:
        seeds = (DEFAULT_GRAPH_SEED, int(op_seed))
    else:
        seeds = (secrets.randbits(31), secrets.randbits(31))
    if seeds == (0, 0):
        seeds = (0, 2 ** 31 - 1)
    return seeds


def _draw(op_name, shape, dtype, seed, name):
    dtype = dtypes.as_dtype(dtype)
    seed1, seed2 = get_seed(seed)
    shape_tensor = convert_to_tensor(shape, dtype=None if hasattr(shape, "dtype") else dtypes.int32, name="shape")
    return apply_op(op_name, [shape_tensor], {"dtype": dtype, "seed": seed1, "seed2": seed2}, name=name)


def random_uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    """`tf.random_uniform`: floats in [minval, maxval) (maxval defaults to 1)."""
    dtype = dtypes.as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"graphc: random_uniform draws float32 or float64, not {dtype.name}")
    with name_scope(name, "random_uniform", [shape, minval, maxval]) as scope:
        minval = convert_to_tensor(minval, dtype=dtype, name="min")
        maxval = convert_to_tensor(1 if maxval is None else maxval, dtype=dtype, name="max")
        rnd = _draw("random_uniform", shape, dtype, seed, "RandomUniform")
        return apply_op("add", [rnd * (maxval - minval), minval], name=scope)


def _scaled_normal(op_name, tf_type, default_name, shape, mean, stddev, dtype, seed, name):
    with name_scope(name, default_name, [shape, mean, stddev]) as scope:
        mean = convert_to_tensor(mean, dtype=dtype, name="mean")
        stddev = convert_to_tensor(stddev, dtype=dtype, name="stddev")
        rnd = _draw(op_name, shape, dtype, seed, tf_type)
        return apply_op("add", [rnd * stddev, mean], name=scope)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """`tf.random_normal`."""
    return _scaled_normal("random_normal", "RandomStandardNormal", "random_normal", shape, mean, stddev, dtype,
                          seed, name)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """`tf.truncated_normal`: normals redrawn until within two standard deviations."""
    return _scaled_normal("truncated_normal", "TruncatedNormal", "truncated_normal", shape, mean, stddev, dtype,
                          seed, name)
