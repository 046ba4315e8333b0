"""`tf.report_uninitialized_variables`, `tf.is_variable_initialized`, `tf.assert_variables_initialized`
against TensorFlow 2.21 (compat.v1).

Each `build(tf)` runs here with graphc and, in the oracle test, with TensorFlow
(when it is installed); the table pins TF's answers as literals.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphc as tf
from tests.tf_oracle import table_tests


def _fetched(value):
    """A fetched value as plain Python: (dtype kind, list) for arrays."""
    if isinstance(value, np.ndarray):
        return str(value.dtype), value.tolist()
    if isinstance(value, (list, tuple)):
        return [_fetched(v) for v in value]
    return type(value).__name__, value.item() if hasattr(value, "item") else value


def _error(run):
    try:
        return _fetched(run())
    except Exception as e:
        return type(e).__name__, re.search(r"Attempting to use uninitialized value \S+", str(e))[0]


def _three_variables(tf):
    v = tf.Variable([1.0, 2.0], name="v")
    with tf.name_scope("s"):
        w = tf.Variable(tf.zeros([2, 3]), name="w")
    local = tf.Variable(3, name="local", collections=[tf.GraphKeys.LOCAL_VARIABLES])
    return v, w, local


def _reports(tf):
    v, w, local = _three_variables(tf)
    everything, only_v = tf.report_uninitialized_variables(), tf.report_uninitialized_variables([v])
    flag = tf.is_variable_initialized(v)
    answers = [everything.dtype.name, everything.shape.as_list(), everything.op.name.split("/")[0], flag.dtype.name,
               flag.shape.as_list(), flag.name, flag.op.type]
    with tf.Session() as sess:
        answers.append(_fetched(sess.run([everything, flag, only_v])))
        sess.run(v.initializer)
        answers.append(_fetched(sess.run([everything, flag, only_v])))
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        answers.append(_fetched(sess.run([everything, flag, only_v])))
    return answers


def _asserts(tf):
    v, w, local = _three_variables(tf)
    every, one = tf.assert_variables_initialized(), tf.assert_variables_initialized([v])
    answers = [every.dtype.name, every.shape.as_list(), one.shape.as_list()]
    with tf.Session() as sess:
        answers.append(_error(lambda: sess.run(one)))
        sess.run(v.initializer)
        answers.append(_error(lambda: sess.run(one)))
        sess.run(local.initializer)  # one uninitialised variable left: which of several TF names first is unspecified
        answers.append(_error(lambda: sess.run(every)))
        sess.run(w.initializer)
        answers.append(_error(lambda: sess.run(every)))
    return answers


def _empty_lists(tf):
    nothing = tf.report_uninitialized_variables([])
    answers = [nothing.shape.as_list(), tf.assert_variables_initialized() is None]
    with tf.Session() as sess:
        answers.append(_fetched(sess.run(nothing)))
    v = tf.Variable(1.0, name="old_style", collections=[])  # in no collection: found as a graph op
    with tf.Session() as sess:
        answers.append(_fetched(sess.run(tf.report_uninitialized_variables())))
        sess.run(v.initializer)
        answers.append(_fetched(sess.run(tf.report_uninitialized_variables())))
    return answers


# name -> (build(tf), TF 2.21's answer).
CHECKS = {
    "reports before and after initialisation": (_reports, [
        "string", [None], "report_uninitialized_variables", "bool", [], "IsVariableInitialized:0",
        "IsVariableInitialized",
        [("object", [b"v", b"s/w", b"local"]), ("bool", False), ("object", [b"v"])],
        [("object", [b"s/w", b"local"]), ("bool", True), ("object", [])],
        [("object", []), ("bool", True), ("object", [])]]),
    "asserts before and after initialisation": (_asserts, [
        "int32", [3], [],
        ("FailedPreconditionError", "Attempting to use uninitialized value v"),
        ("int32", 1),
        ("FailedPreconditionError", "Attempting to use uninitialized value s/w"),
        ("int32", [1, 2, 0])]),
    "no variables, and variables in no collection": (_empty_lists, [
        [0], True, ("object", []), ("object", [b"old_style"]), ("object", [])]),
}


test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "CHECKS", CHECKS)


def test_a_fast_path_call_sees_the_new_state():
    v = tf.Variable(2.0, name="v")
    flag = tf.is_variable_initialized(v)
    with tf.Session() as sess:
        assert [sess.run(flag) for _ in range(2)] == [False, False]
        sess.run(v.initializer)
        assert [sess.run(flag) for _ in range(2)] == [True, True]
    with tf.Session() as fresh:  # the state is the session's
        assert not fresh.run(flag)


def test_an_assert_over_the_graphs_variable_ops_fails_as_documented():
    # A deliberate difference: TF 2.21's graph optimizer folds the Rank of a bare variable reference (what an
    # empty var_list falls back to) to a constant, so its assert passes (0 here); TF's documentation, which
    # graphc follows, says the op fails while a variable is uninitialised.
    v = tf.Variable(1.0, name="old_style", collections=[])
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="Attempting to use uninitialized value old_style"):
            sess.run(tf.assert_variables_initialized([]))
        sess.run(v.initializer)
        assert sess.run(tf.assert_variables_initialized([])) == 0
