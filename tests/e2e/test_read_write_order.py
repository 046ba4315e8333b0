"""Reads and writes of variables in TF1's order, compiled: each case runs twice here and, in the oracle
test, on TensorFlow itself; the table pins TF 2.21's answers.

TF1's reference variables share one buffer with every tensor that refers to them
(the variable, `v.value()` and other Identities of it, an assignment's output):
an op reading one sees the writes it depends on, through data or control edges,
and a fetched reference is copied out after the run. graphc orders the other
reads before the writes (where TF1 leaves a race).
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc as tf
from tests.tf_oracle import tensorflow_answers


def _twice(tf, build, initial=1.0):
    """`build(tf, v)`'s fetches for a variable v starting at `initial`, run twice; then v."""
    v = tf.Variable(initial, name="v")
    fetch = build(tf, v)
    with tf.Session() as sess:
        sess.run(v.initializer)
        runs = [sess.run(fetch) for _ in range(2)]
        return [_plain(r) for r in runs], _plain(sess.run(v))


def _plain(value):
    """Fetched values as Python floats and lists, comparable across frameworks."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return None if value is None else np.asarray(value).tolist()


def _identity_after(tf, v):
    with tf.control_dependencies([tf.assign_add(v, 1)]):
        return tf.identity(v)


def _product_after(tf, v):
    with tf.control_dependencies([tf.assign_add(v, 1)]):
        return v * 1


def _read_value_after(tf, v):
    with tf.control_dependencies([tf.assign_add(v, 1)]):
        return v.read_value()


def _identity_after_group(tf, v):
    with tf.control_dependencies([tf.group(tf.assign_add(v, 1))]):
        return tf.identity(v)


def _sum_after_group(tf, v):
    with tf.control_dependencies([tf.group(tf.assign_add(v, 1))]):
        return v + 0


def _stop_gradient_after(tf, v):
    with tf.control_dependencies([tf.assign_add(v, 1)]):
        return tf.stop_gradient(v)


def _initialized_value_after(tf, v):
    with tf.control_dependencies([tf.assign_add(v, 1)]):
        return v.initialized_value() * 1


def _old_identity_used_after(tf, v):
    # i1 is created before the dependency, but the product that reads it runs after the write.
    increment = tf.assign_add(v, 1)
    i1 = tf.identity(v)
    with tf.control_dependencies([increment]):
        i2 = i1 * 1
    return [i1 * 1, i2]


def _reads_before_and_after(tf, v):
    increment = tf.assign_add(v, 1)
    before = v * 1
    with tf.control_dependencies([increment]):
        after = v * 1
    return [before, after]


def _sum_of_update_and_variable(tf, v):
    return tf.assign_add(v, 1) + v  # the add depends on the write: both operands are 2 on the first run


def _product_beside_update(tf, v):
    return [v * 1, tf.assign_add(v, 1)]


def _reference_beside_update(tf, v):
    return [v.value(), tf.assign_add(v, 1)]  # a fetched reference is copied out after the run


def _read_value_beside_update(tf, v):
    return [v.read_value(), tf.assign_add(v, 1)]


def _read_before_dependent_write(tf, v):
    r = v * 1
    with tf.control_dependencies([r]):
        increment = tf.assign_add(v, 1)
    return [r, increment]


def _two_updates_fetched(tf, v):
    return [tf.assign_add(v, 1), tf.assign_add(v, 10)]


def _update_read_after_a_later_update(tf, v):
    first = tf.assign_add(v, 1)
    with tf.control_dependencies([first]):
        second = tf.assign_add(v, 10)
    with tf.control_dependencies([second]):
        return first * 1


def _identity_after_two_updates(tf, v):
    first = tf.assign_add(v, 1)
    with tf.control_dependencies([first]):
        second = tf.assign_add(v, 10)
    with tf.control_dependencies([second]):
        return tf.identity(v)


def _assign_then_identity(tf, v):
    with tf.control_dependencies([tf.assign(v, 10.0)]):
        return tf.identity(v)


def _vector_update_fused_with_a_read(tf, v):
    doubled = tf.assign(v, v * 2.0)
    with tf.control_dependencies([doubled]):
        after = v * 3.0 + 1.0
    return [v * 1.0, after]


def _after_a_training_step(tf, v):
    # (Fetching the loss too would race in TF 2.21, which gave the loss after the update here.)
    train = tf.train.GradientDescentOptimizer(0.25).minimize(tf.reduce_sum(v * v))
    with tf.control_dependencies([train]):
        return tf.identity(v) * 1.0


# Reads in the kernels fusion builds around GEMMs and reductions, and the update's own kernel: fusion and
# the memory plan keep the order lowering chose (the "before" values are ordered before the update by a
# control edge, as TF 2.21 would otherwise race).
def _sums_around_an_update(tf, v):
    before = tf.reduce_sum(v * v)
    with tf.control_dependencies([before]):
        doubled = tf.assign(v, v * 2.0)
    with tf.control_dependencies([doubled]):
        after = tf.reduce_sum(v * v)
    return [before, after]


def _products_around_an_update(tf, w):
    x = tf.constant([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    before = tf.matmul(x, w) + 1.0
    with tf.control_dependencies([before]):
        scaled = tf.assign(w, w * 3.0)
    with tf.control_dependencies([scaled]):
        after = tf.matmul(x, w) + 1.0
    return [before, after]


def _update_from_its_mean(tf, v):
    return tf.assign(v, v - tf.reduce_mean(v))  # every element of the old vector is read before any changes


def _extremes_after_a_group(tf, v):
    with tf.control_dependencies([tf.group(tf.assign_add(v, [1.0, 1.0, 1.0]))]):
        return tf.reduce_max(v) + tf.reduce_min(v)


# name -> (build(tf), TF 2.21's answer: the two runs' fetches, then the variable).
ORDER = {
    "identity after an update": (lambda tf: _twice(tf, _identity_after), ([2.0, 3.0], 3.0)),
    "product after an update": (lambda tf: _twice(tf, _product_after), ([2.0, 3.0], 3.0)),
    "read_value after an update": (lambda tf: _twice(tf, _read_value_after), ([2.0, 3.0], 3.0)),
    "identity after a group": (lambda tf: _twice(tf, _identity_after_group), ([2.0, 3.0], 3.0)),
    "sum after a group": (lambda tf: _twice(tf, _sum_after_group), ([2.0, 3.0], 3.0)),
    "stop_gradient after an update": (lambda tf: _twice(tf, _stop_gradient_after), ([2.0, 3.0], 3.0)),
    "initialized_value after an update": (lambda tf: _twice(tf, _initialized_value_after), ([2.0, 3.0], 3.0)),
    "an earlier identity read after an update": (lambda tf: _twice(tf, _old_identity_used_after),
                                                 ([[1.0, 2.0], [2.0, 3.0]], 3.0)),
    "reads before and after an update": (lambda tf: _twice(tf, _reads_before_and_after),
                                         ([[1.0, 2.0], [2.0, 3.0]], 3.0)),
    "sum of an update and its variable": (lambda tf: _twice(tf, _sum_of_update_and_variable), ([4.0, 6.0], 3.0)),
    "product beside an update": (lambda tf: _twice(tf, _product_beside_update), ([[1.0, 2.0], [2.0, 3.0]], 3.0)),
    "reference beside an update": (lambda tf: _twice(tf, _reference_beside_update), ([[2.0, 2.0], [3.0, 3.0]], 3.0)),
    "read_value beside an update": (lambda tf: _twice(tf, _read_value_beside_update),
                                    ([[2.0, 2.0], [3.0, 3.0]], 3.0)),
    "read before a write that depends on it": (lambda tf: _twice(tf, _read_before_dependent_write),
                                               ([[1.0, 2.0], [2.0, 3.0]], 3.0)),
    "two updates fetched": (lambda tf: _twice(tf, _two_updates_fetched), ([[12.0, 12.0], [23.0, 23.0]], 23.0)),
    "an update read after a later update": (lambda tf: _twice(tf, _update_read_after_a_later_update),
                                            ([12.0, 23.0], 23.0)),
    "identity after two updates": (lambda tf: _twice(tf, _identity_after_two_updates), ([12.0, 23.0], 23.0)),
    "identity after an assignment": (lambda tf: _twice(tf, _assign_then_identity), ([10.0, 10.0], 10.0)),
    "a vector update fused with a read": (
        lambda tf: _twice(tf, _vector_update_fused_with_a_read, [1.0, 2.0, 3.0]),
        ([[[1.0, 2.0, 3.0], [7.0, 13.0, 19.0]], [[2.0, 4.0, 6.0], [13.0, 25.0, 37.0]]], [4.0, 8.0, 12.0])),
    "weights after a training step": (lambda tf: _twice(tf, _after_a_training_step, [1.0, -2.0]),
                                      ([[0.5, -1.0], [0.25, -0.5]], [0.25, -0.5])),
    "sums around a vector update": (lambda tf: _twice(tf, _sums_around_an_update, [1.0, 2.0, 3.0]),
                                    ([[14.0, 56.0], [56.0, 224.0]], [4.0, 8.0, 12.0])),
    "products around a matrix update": (
        lambda tf: _twice(tf, _products_around_an_update, [[1.0, 2.0], [3.0, 4.0]]),
        ([[[[2.0, 3.0], [4.0, 5.0], [5.0, 7.0]], [[4.0, 7.0], [10.0, 13.0], [13.0, 19.0]]],
          [[[4.0, 7.0], [10.0, 13.0], [13.0, 19.0]], [[10.0, 19.0], [28.0, 37.0], [37.0, 55.0]]]],
         [[9.0, 18.0], [27.0, 36.0]])),
    "an update from its mean": (lambda tf: _twice(tf, _update_from_its_mean, [1.0, 2.0, 6.0]),
                                ([[-2.0, -1.0, 3.0], [-2.0, -1.0, 3.0]], [-2.0, -1.0, 3.0])),
    "extremes after a group": (lambda tf: _twice(tf, _extremes_after_a_group, [1.0, 2.0, 6.0]),
                               ([9.0, 11.0], [3.0, 4.0, 8.0])),
}


@pytest.mark.parametrize("name", sorted(ORDER))
def test_reads_see_the_writes_they_depend_on(name):
    build, expected = ORDER[name]
    assert build(tf) == expected


@pytest.fixture(scope="module")
def tf_answers():
    return tensorflow_answers(__file__, "ORDER")


@pytest.mark.parametrize("name", sorted(ORDER))
def test_tensorflow_2_21_answers_as_the_table_says(name, tf_answers):
    assert tf_answers[name] == ["OK", repr(ORDER[name][1])]


def test_a_read_between_two_updates_sees_the_first_only():
    # TF 2.21 races here: on the second run it gave 23.0 (the product ran after the second update,
    # on which it does not depend). graphc reads before every write a read does not depend on.
    def between(tf, v):
        first = tf.assign_add(v, 1)
        with tf.control_dependencies([first]):
            middle = tf.identity(v)
            second = tf.assign_add(v, 10)
        return [middle * 1, second]

    assert _twice(tf, between) == ([[2.0, 12.0], [13.0, 23.0]], 23.0)


@pytest.mark.parametrize("assign_first", [True, False])
def test_ops_reading_what_the_other_writes_see_the_old_values(assign_first):
    # v := w beside w += v (a fuzz mismatch): each reads its variable before the other's write, whichever op
    # was created first. TF 2.21 races here: in both creation orders it ran the AssignAdd first and gave 11.0
    # for the assignment's output (v := the new w).
    with tf.Graph().as_default():
        v, w = tf.Variable([1.0], name="v"), tf.Variable([10.0], name="w")
        if assign_first:
            copied = tf.assign(v, w.value())
            increased = tf.assign_add(w, v.value())
        else:
            increased = tf.assign_add(w, v.value())
            copied = tf.assign(v, w.value())
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            fetched = [_plain(r) for r in sess.run([tf.cast(copied, tf.float64), increased])]
            assert (fetched, _plain(sess.run([v, w]))) == ([[10.0], [11.0]], [[10.0], [11.0]])
