"""tf.Assert and the tf.assert_* helpers: compiled run-time failures with TF's message, build-time decisions
on constants as TF's, a failed assertion leaving the variables as they were, tf.case(exclusive=True).

The table's answers are TF 2.21's (tensorflow.compat.v1), pinned; tests/tf_oracle.py checks them against TF
when it is installed. A failure's answer is its class and the message line "assertion failed: ..." (TF adds
the node after it, graphc " (op <name>)", checked apart)."""

import re

import numpy as np
import pytest

import graphc as tf
from graphc.core import messages
from tests.helpers import interpret_graph
from tests.tf_oracle import table_tests


def _run(tf, fetch, feeds=None):
    """"OK", or the failure's class and its "assertion failed" line (also TF's "... : Tensor had NaN")."""
    with tf.Session() as sess:
        try:
            sess.run(fetch, {sess.graph.get_tensor_by_name(k): v for k, v in (feeds or {}).items()})
        except tf.errors.OpError as e:
            lines = [line for line in e.message.split("\n") if "assertion failed" in line or "Tensor had" in line]
            return [type(e).__name__, re.sub(r" \(op [^()]*\)$", "", lines[0])]
    return "OK"


def _build_error(build):
    try:
        result = build()
    except Exception as e:  # noqa: BLE001 - the class is the answer
        return [type(e).__name__, getattr(e, "message", None) or str(e)]
    return ["built", result.type]


def _placeholders(tf, *specs):
    return [tf.placeholder(dtype, shape, name=name) for name, dtype, shape in specs]


def _binary(tf, helper, x_value, y_value, **kwargs):
    x, y = _placeholders(tf, ("x", tf.int32, [None]), ("y", tf.int32, [None]))
    return _run(tf, getattr(tf, helper)(x, y, **kwargs), {"x:0": x_value, "y:0": y_value})


def _unary(tf, helper, value, **kwargs):
    (x,) = _placeholders(tf, ("x", tf.float32, [None]))
    return _run(tf, getattr(tf, helper)(x, **kwargs), {"x:0": value})


def _summaries(tf):
    """Run-time data of every kind the kernel summarizes, and constants, which graphc summarizes when it builds."""
    i, f, b, d, e = _placeholders(tf, ("i", tf.int32, [2, 3]), ("f", tf.float32, [None]), ("b", tf.bool, [2]),
                                  ("d", tf.float64, []), ("e", tf.int64, [2, 2, 3]))
    data = [i, "100% sure", f, b, d, e, tf.constant([[1.5, 2.0], [0.1, -0.0]]), tf.zeros([2, 0])]
    assertion = tf.Assert(tf.reduce_all(f > 0), data, summarize=4)
    return _run(tf, assertion, {"i:0": [[1, 2, 3], [4, 5, 6]], "f:0": [1.5, 0.1, 1 / 3, -2.0, 7.0],
                                "b:0": [True, False], "d:0": 2.5, "e:0": np.arange(12).reshape(2, 2, 3)})


def _summarize_all(tf):
    (x,) = _placeholders(tf, ("x", tf.float64, [None]))
    return _run(tf, tf.Assert(False, [x, tf.constant(np.inf)], summarize=-1), {"x:0": [0.1, np.nan, -np.inf, 1e300]})


def _case(tf, exclusive, default, p_value, q_value):
    p, q = _placeholders(tf, ("p", tf.bool, []), ("q", tf.bool, []))
    result = tf.case([(p, lambda: tf.constant(1)), (q, lambda: tf.constant(2))],
                     default=(lambda: tf.constant(3)) if default else None, exclusive=exclusive)
    with tf.Session() as sess:
        try:
            return int(sess.run(result, {p: p_value, q: q_value}))
        except tf.errors.InvalidArgumentError:
            return _run(tf, result, {"p:0": p_value, "q:0": q_value})


def _minimize_past_an_assertion_on_the_loss(tf):
    """TF1 runs an assertion the loss depends on only when the loss itself is computed: `minimize`'s
    gradient graph starts from ones of the loss's (static) shape and reads no loss value, so a training
    step fetched alone updates the variable past the failing assertion; fetching the loss fails. (Whether
    TF's update then runs is its scheduler's choice; graphc checks before any variable is written.)"""
    x = tf.placeholder(tf.float32, [None], name="x")
    w = tf.Variable(1.0, name="w")
    loss = tf.reduce_sum(w * x)
    with tf.control_dependencies([tf.Assert(loss < 10.0, [loss])]):
        checked = tf.identity(loss)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(checked)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: [100.0]})
        updated = float(sess.run(w))
        try:
            sess.run([checked, train], {x: [-100.0]})  # the loss is now 900
        except tf.errors.InvalidArgumentError as error:
            return [updated, type(error).__name__]
        return [updated, "no error"]


ASSERTIONS = {
    "assert_equal fails with its message": (lambda tf: _binary(tf, "assert_equal", [1, 2, 3, 4], [1, 2, 3, 5],
                                                               message="hey"),
                                            ["InvalidArgumentError", "assertion failed: [hey] [Condition x == y did "
                                             "not hold element-wise:] [x (x:0) = ] [1 2 3...] [y (y:0) = ] [1 2 3...]"]),
    "assert_equal holds": (lambda tf: _binary(tf, "assert_equal", [1, 2], [1, 2]), "OK"),
    "assert_none_equal": (lambda tf: _binary(tf, "assert_none_equal", [1, 2], [3, 2], summarize=1),
                          ["InvalidArgumentError", "assertion failed: [Condition x != y did not hold element-wise:] "
                           "[x (x:0) = ] [1...] [y (y:0) = ] [3...]"]),
    "assert_less": (lambda tf: _binary(tf, "assert_less", [1, 2], [2, 2]),
                    ["InvalidArgumentError", "assertion failed: [Condition x < y did not hold element-wise:] "
                     "[x (x:0) = ] [1 2] [y (y:0) = ] [2 2]"]),
    "assert_less against a Python number": (lambda tf: _unary(tf, "assert_less", [1.0, 5.0], y=2.0),
                                             ["InvalidArgumentError", "assertion failed: [Condition x < y did not "
                                              "hold element-wise:] [x (x:0) = ] [1 5] [y (assert_less/y:0) = ] [2]"]),
    "assert_less_equal holds": (lambda tf: _binary(tf, "assert_less_equal", [1, 2], [2, 2]), "OK"),
    "assert_greater": (lambda tf: _binary(tf, "assert_greater", [3, 2], [2, 2]),
                       ["InvalidArgumentError", "assertion failed: [Condition x > y did not hold element-wise:] "
                        "[x (x:0) = ] [3 2] [y (y:0) = ] [2 2]"]),
    "assert_greater_equal broadcasts": (lambda tf: _binary(tf, "assert_greater_equal", [3, 1], [2]),
                                        ["InvalidArgumentError", "assertion failed: [Condition x >= y did not hold "
                                         "element-wise:] [x (x:0) = ] [3 1] [y (y:0) = ] [2]"]),
    "assert_positive": (lambda tf: _unary(tf, "assert_positive", [-1.0, 0.0, 1.0], summarize=2),
                        ["InvalidArgumentError", "assertion failed: [] [Condition x > 0 did not hold element-wise:] "
                         "[x (x:0) = ] [-1 0...]"]),
    "assert_negative with a message": (lambda tf: _unary(tf, "assert_negative", [-1.0, 0.5], message="neg"),
                                       ["InvalidArgumentError", "assertion failed: [neg.  ] [Condition x < 0 did not hold "
                                        "element-wise:] [x (x:0) = ] [-1 0.5]"]),
    "assert_non_negative": (lambda tf: _unary(tf, "assert_non_negative", [0.0, -0.25]),
                            ["InvalidArgumentError", "assertion failed: [] [Condition x >= 0 did not hold "
                             "element-wise:] [x (x:0) = ] [0 -0.25]"]),
    "assert_non_positive holds": (lambda tf: _unary(tf, "assert_non_positive", [0.0, -0.25]), "OK"),
    "assert_non_positive joins two texts, as TF 2.21": (
        lambda tf: _unary(tf, "assert_non_positive", [0.5, -1.0]),
        ["InvalidArgumentError", "assertion failed: [] [Condition x <= 0 did not hold element-wise:x (x:0) = ] "
                                 "[0.5 -1]"]),
    "Assert summarizes each dtype as TF": (_summaries, [
        "InvalidArgumentError", "assertion failed: [[1 2 3][4...]...] [100% sure] [1.5 0.1 0.333333343 -2...] [1 0] "
        "[2.5] [[[0 1 2][3...]]...] [[1.5 2][0.1 -0]] []"]),
    "Assert summarize=-1 writes all": (_summarize_all, ["InvalidArgumentError",
                                                        "assertion failed: [0.1 nan -inf 1e+300] [inf]"]),
    "verify_tensor_all_finite": (lambda tf: _unary(tf, "verify_tensor_all_finite", [1.0, np.nan], msg="bad x"),
                                 ["InvalidArgumentError", "bad x : Tensor had NaN values"]),
    "static assert_equal": (lambda tf: _build_error(lambda: tf.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]),
                                                                            message="static")),
                            ["InvalidArgumentError", "static\nCondition x == y did not hold element-wise:\n"
                             "x (Const:0) = \n[1 2]\ny (Const_1:0) = \n[1 3]"]),
    "static assert_less": (lambda tf: _build_error(lambda: tf.assert_less(tf.constant([1, 2]), tf.constant([1, 3]))),
                           ["InvalidArgumentError", "Condition x < y did not hold element-wise:\nx (Const:0) = \n"
                            "[1 2]\ny (Const_1:0) = \n[1 3]"]),
    "static assert_positive": (lambda tf: _build_error(lambda: tf.assert_positive(tf.constant([1.5, -2.0]))),
                               ["InvalidArgumentError", "\nCondition x > 0 did not hold element-wise:\n"
                                "x (Const:0) = \n[ 1.5 -2. ]"]),
    "static assert_equal that holds builds the Assert": (
        lambda tf: _build_error(lambda: tf.assert_equal(tf.constant([1, 2]), tf.constant([1, 2]))), ["built", "Assert"]),
    "assert_rank": (lambda tf: _build_error(lambda: tf.assert_rank(tf.constant([1, 2]), 2, message="r")),
                    ["ValueError", "r.  Tensor Const:0 must have rank 2.  Received rank 1, shape (2,)"]),
    "assert_rank holds": (lambda tf: _build_error(lambda: tf.assert_rank(tf.constant([1, 2]), 1)), ["built", "NoOp"]),
    "assert_type": (lambda tf: _build_error(lambda: tf.assert_type(tf.constant([1, 2]), tf.float32)),
                    ["TypeError", "Const:0 must be of type tf.float32; got tf.int32"]),
    "assert_type holds": (lambda tf: _build_error(lambda: tf.assert_type(tf.constant([1, 2]), tf.int32)),
                          ["built", "NoOp"]),
    "assert_integer": (lambda tf: _build_error(lambda: tf.assert_integer(tf.constant([1.0]))),
                       ["TypeError", "Expected \"x\" to be integer type.  Found: Const:0 of dtype <dtype: 'float32'>"]),
    "case exclusive, two true": (lambda tf: _case(tf, True, True, True, True), [
        "InvalidArgumentError", "assertion failed: [Input error: exclusive=True: more than 1 conditions (p:0, q:0) "
        "evaluated as True:] [1 1]"]),
    "case exclusive, one true": (lambda tf: _case(tf, True, True, False, True), 2),
    "case exclusive, none true": (lambda tf: _case(tf, True, True, False, False), 3),
    "case without a default, none true": (lambda tf: _case(tf, False, False, False, False), [
        "InvalidArgumentError", "assertion failed: [Input error: None of conditions evaluated as True:] [0 0]"]),
    "case without a default, the last true": (lambda tf: _case(tf, False, False, False, True), 2),
    "minimize past an assertion only the loss reads": (_minimize_past_an_assertion_on_the_loss,
                                                       [-9.0, "InvalidArgumentError"]),
}

test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "ASSERTIONS", ASSERTIONS)


def test_failure_names_the_assert_op():
    x = tf.placeholder(tf.int32, [None], name="x")
    check = tf.debugging.assert_equal(x, 1, name="check_x")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[1\] \(op check_x/Assert/Assert\)$"):
        tf.Session().run(check, {x: [2]})


def test_failed_assertion_before_an_update_leaves_variables_untouched():
    x = tf.placeholder(tf.float32, [None], name="x")
    w = tf.Variable(1.0, name="w")
    with tf.control_dependencies([tf.assert_non_negative(x)]):
        checked = tf.identity(x)
    loss = tf.reduce_sum(tf.square(checked * w))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    with pytest.raises(tf.errors.InvalidArgumentError, match="Condition x >= 0"):
        sess.run(train, {x: [1.0, -1.0]})
    assert sess.run(w) == 1.0
    sess.run(train, {x: [1.0]})
    assert sess.run(w) == pytest.approx(0.8)


def test_an_assertion_whose_tensor_a_step_reads_only_for_its_shape_still_runs():
    x = tf.placeholder(tf.float32, [None], name="x")
    with tf.control_dependencies([tf.assert_positive(x)]):
        checked = tf.identity(x)
    doubled = tf.reshape(tf.concat([x, x], 0), tf.shape(checked) * 2)
    sess = tf.Session()
    np.testing.assert_array_equal(sess.run(doubled, {x: [1.0, 2.0]}), [1.0, 2.0, 1.0, 2.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Condition x > 0"):
        sess.run(doubled, {x: [1.0, -2.0]})


def test_an_assertion_fetched_beside_an_update_runs_before_it():
    v = tf.Variable(0, name="v")
    step = tf.assign_add(v, 1)
    check = tf.assert_less(tf.identity(v), 2)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run([check, step])
    sess.run([check, step])
    with pytest.raises(tf.errors.InvalidArgumentError):
        sess.run([check, step])
    assert sess.run(v) == 2


def test_gradients_under_an_assertion_are_unaffected():
    x = tf.placeholder(tf.float32, [3], name="x")
    with tf.control_dependencies([tf.Assert(tf.reduce_all(tf.equal(x, x)), [x])]):
        y = tf.reduce_sum(tf.square(tf.identity(x)))
    (g,) = tf.gradients(y, x)
    np.testing.assert_allclose(tf.Session().run(g, {x: [1.0, 2.0, -3.0]}), [2.0, 4.0, -6.0])


def test_reference_interpreter_fails_with_the_compiled_message():
    x = tf.placeholder(tf.float32, [None], name="x")
    check = tf.Assert(tf.reduce_all(x > 0), ["x:", x, tf.shape(x)], summarize=2)
    with pytest.raises(tf.errors.InvalidArgumentError) as compiled:
        tf.Session().run(check, {x: [1.0, -0.5, 3.0]})
    with pytest.raises(tf.errors.InvalidArgumentError) as reference:
        interpret_graph([check.outputs[0]], {x: np.array([1.0, -0.5, 3.0], np.float32)})
    assert compiled.value.message == reference.value.message == "assertion failed: [x:] [1 -0.5...] [3] (op Assert/Assert)"


def test_condition_must_be_a_scalar_when_run():
    condition = tf.placeholder(tf.bool, [2])
    check = tf.Assert(condition, ["x"])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"In\[0\] should be a scalar: \[2\]"):
        tf.Session().run(check, {condition: [True, False]})


def test_string_data_must_be_known_when_building():
    s = tf.placeholder(tf.string, [], name="s")
    with pytest.raises(tf.errors.UnimplementedError, match="s:0 is not a constant"):
        tf.Assert(False, [s])


def test_summaries_match_tensorflow_formatting():
    assert messages.summarize_value(np.arange(6).reshape(2, 3), 3) == "[0 1 2]..."
    assert messages.summarize_value(np.array(np.float32(0.1)), 3) == "0.1"
    assert messages.summarize_value(np.zeros(0), 3) == ""
    assert messages.summarize_value(np.array([b"a\nb"]), 3) == "a\\nb"


def test_debugging_and_compat_names():
    assert tf.debugging.assert_equal is tf.assert_equal
    assert tf.debugging.Assert is tf.Assert
    assert tf.debugging.check_numerics is tf.check_numerics
    assert tf.debugging.assert_all_finite is tf.verify_tensor_all_finite
    assert tf.compat.v1.debugging.assert_less is tf.assert_less


def test_an_assert_saved_in_a_meta_graph_still_fails_when_imported(tmp_path):
    x = tf.placeholder(tf.float32, [None], name="x")
    with tf.control_dependencies([tf.assert_positive(x, name="check")]):
        tf.identity(x, name="y")
    tf.Variable(1.0)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    tf.train.Saver().save(sess, str(tmp_path / "model"))
    with tf.Graph().as_default():
        tf.train.import_meta_graph(str(tmp_path / "model.meta"))
        sess = tf.Session()
        assert sess.run("y:0", {"x:0": [1.0]}) == [1.0]
        # TF's Assert node holds the run-time data graphc exported; the texts graphc summarized stay behind
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"^assertion failed: \[-1\] \(op check/"):
            sess.run("y:0", {"x:0": [-1.0]})


def test_auc_fails_for_a_prediction_outside_0_1_and_keeps_its_counts():
    predictions, labels = tf.placeholder(tf.float32, [None]), tf.placeholder(tf.int32, [None])
    value, update = tf.metrics.auc(labels, predictions)
    sess = tf.Session()
    sess.run(tf.local_variables_initializer())
    sess.run(update, {predictions: [0.1, 0.9], labels: [0, 1]})
    before = sess.run(value)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"^assertion failed: \[predictions must be in \[0, 1\]\]"):
        sess.run(update, {predictions: [0.1, 1.5], labels: [0, 1]})
    assert sess.run(value) == before
