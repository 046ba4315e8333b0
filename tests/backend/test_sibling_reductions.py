"""Sibling reductions (passes/fuse.py's multi-output fusion): reductions over one input shape
and the same axes share one kernel and one pass over their producers, compiled against the
reference interpreter, on every path of the reduce kernel (kernels/reduce.py), and
bit-identical with 1 and 2 threads.
"""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.compiler.lower import lower
from graphc.core.registry import FusionClass
from graphc.ir.facts import fusion_of
from graphc.passes.pipeline import run_pipeline
from graphc.runtime import loader
from tests.backend.test_ops_compiled import assert_same
from tests.helpers import feed_types

# (shape, axis) by the path their column or row sums take: short rows in whole vectors
# (reduce_periodic.py), rows wider than a vector (reduce_columns.py), runs along the
# reduced innermost dimension (reduce_runs.py), many rows on the thread pool (reduce_parts.py).
PATHS = {"periodic": ((53, 10), 0), "periodic 3 columns": ((37, 3), 0), "columns": ((41, 37), 0),
         "runs": ((23, 45), 1), "partitioned": ((12000, 24), 0)}


def backward_of_a_dense_layer(shape, axis):
    """A layer's backward pass as autodiff builds it: the tanh gradient, and its sums with and without
    the input, the hidden values times the output gradient, plus a max and a mean of the same rows.
    Column sums kept as rows ([1, n]) join those that are not ([n]): their outputs differ by a leading 1."""
    rng = np.random.RandomState(shape[0] + shape[1])
    h = tf.placeholder(tf.float32, shape)
    dy = tf.placeholder(tf.float32, (shape[0], 1))
    x = tf.placeholder(tf.float32, (shape[0], 1) if axis == 0 else (1, shape[1]))
    w = tf.placeholder(tf.float32, (1, shape[1]) if axis == 0 else (shape[0], 1))
    d_pre = (1.0 - h * h) * (dy * w)
    keep = axis == 0
    fetches = [tf.reduce_sum(d_pre, axis=axis), tf.reduce_sum(x * d_pre, axis=axis, keepdims=keep),
               tf.reduce_sum(h * dy, axis=axis, keepdims=keep), tf.reduce_max(d_pre, axis=axis),
               tf.reduce_mean(h, axis=axis)]
    feeds = {h: np.tanh(rng.uniform(-2, 2, shape)), dy: rng.uniform(-1, 1, dy.shape.as_list()),
             x: rng.uniform(-1, 1, x.shape.as_list()), w: rng.uniform(-1, 1, w.shape.as_list())}
    return fetches, feeds


def reduce_kernels(fetches, feeds) -> list:
    """The reductions of each reduce kernel of the compiled program, by kernel."""
    program = run_pipeline(lower(fetches, feed_types(feeds)).program)
    kernels = {}
    for inst in program.instructions:
        if inst.kernel is not None and fusion_of(inst) is FusionClass.REDUCE:
            kernels.setdefault(inst.kernel, []).append(inst.op)
    return list(kernels.values())


@pytest.mark.parametrize("path", PATHS)
def test_sibling_reductions_share_a_kernel_and_match_the_reference(path):
    shape, axis = PATHS[path]
    fetches, feeds = backward_of_a_dense_layer(shape, axis)
    assert reduce_kernels(fetches, feeds) == [["reduce_sum", "reduce_sum", "reduce_sum", "reduce_max", "reduce_mean"]]
    assert_same(fetches + [fetches[0] * 2.0], feeds, rtol=1e-5, atol=1e-5)


def test_an_update_after_sibling_reductions_and_a_value_materialized_for_later():
    # The tiny tutorial's first layer: the bias and weight gradients as column sums of one
    # tanh gradient, each updating its variable in the kernel; the tanh gradient itself is
    # fetched, so the merged main pass also stores it.
    rng = np.random.RandomState(8)
    b = tf.Variable(np.zeros(10, np.float32))
    w = tf.Variable(np.ones((1, 10), np.float32))
    h, g = tf.placeholder(tf.float32, [200, 10]), tf.placeholder(tf.float32, [200, 1])
    x = tf.placeholder(tf.float32, [200, 1])
    d_pre = (1.0 - h * h) * g
    updates = [tf.assign_sub(b, 0.1 * tf.reduce_sum(d_pre, axis=0)),
               tf.assign_sub(w, 0.1 * tf.reduce_sum(x * d_pre, axis=0, keepdims=True))]
    feeds = {h: np.tanh(rng.uniform(-2, 2, (200, 10))), g: rng.uniform(-1, 1, (200, 1)),
             x: rng.uniform(-1, 1, (200, 1))}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _, _, d_value = sess.run(updates + [d_pre], feeds)
        new_b, new_w = sess.run([b, w])
    expected = (1.0 - feeds[h] * feeds[h]) * feeds[g]
    np.testing.assert_allclose(d_value, expected, rtol=1e-6)
    np.testing.assert_allclose(new_b, -0.1 * expected.sum(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_w, 1.0 - 0.1 * (feeds[x] * expected).sum(axis=0, keepdims=True),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(3,), (41, 37), (53, 10)])
def test_sibling_reductions_of_an_update_in_place_see_the_old_value_once(shape):
    # v + 1 is written to v in the main pass and reduced twice: a path that takes one reduction a
    # pass must not compute it again from the v an earlier pass wrote (TF: max and min of old v + 1).
    initial = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) % 7
    v = tf.Variable(initial)
    updated = tf.assign_add(v, tf.ones(shape))
    with tf.control_dependencies([updated]):
        extremes = [tf.reduce_max(updated, axis=0), tf.reduce_min(updated, axis=0)]
    with tf.Session() as sess:
        sess.run(v.initializer)
        for step in (1, 2):
            got_max, got_min = sess.run(extremes)
            np.testing.assert_array_equal(got_max, (initial + step).max(axis=0))
            np.testing.assert_array_equal(got_min, (initial + step).min(axis=0))
        np.testing.assert_array_equal(sess.run(v), initial + 2)


def test_reductions_over_other_axes_or_shapes_stay_apart():
    # Same input, different axes; and a sum over another shape: three kernels.
    h = tf.placeholder(tf.float32, [30, 10])
    c = tf.placeholder(tf.float32, [30, 1])
    fetches = [tf.reduce_sum(h * c, axis=0), tf.reduce_sum(h * c, axis=1), tf.reduce_sum(c, axis=0)]
    feeds = {h: np.ones((30, 10)), c: np.ones((30, 1))}
    assert reduce_kernels(fetches, feeds) == [["reduce_sum"], ["reduce_sum"], ["reduce_sum"]]


@pytest.fixture
def restore_threads():
    driver.load_runtime()
    yield
    loader.set_num_threads(0)


def test_sibling_reductions_are_bit_identical_with_one_and_two_threads(restore_threads):
    fetches, feeds = backward_of_a_dense_layer(*PATHS["partitioned"])
    results = []
    for threads in (1, 2):
        loader.set_num_threads(threads)
        with tf.Session() as session:
            results.append(session.run(fetches, feeds))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
