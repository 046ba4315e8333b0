"""Assignments to variables inside tf.while_loop bodies and tf.cond branches, compiled: each iteration sees
the writes of the ones before, a cond runs the assignments of the branch it takes only, and
control_dependencies order reads and writes inside a body as in TF1. Against the reference interpreter,
and TensorFlow (its answers pinned in the table).

graphc runs a loop's iterations one after the other. TF1 runs up to `parallel_iterations` of them at once,
so its reads of a variable a body writes race with the next iterations' writes (with the default 10, TF
2.21 sums 4 + 4 + 4 + 4 in the first case below): the loops here ask for parallel_iterations=1, where TF's
answer is determined, and is graphc's."""

import numpy as np

import graphc as tf
from tests.helpers import interpret_graph, run_and_read_variables as _run
from tests.tf_oracle import table_tests


def _counting_loop(tf):
    """v += 1 in each iteration; the body's result reads v after the write."""
    v = tf.Variable(0.0)

    def body(i, total):
        with tf.control_dependencies([tf.assign_add(v, 1.0)]):
            return i + 1, total + v.read_value()

    return _run(tf, list(tf.while_loop(lambda i, total: i < 4, body, [0, 0.0], parallel_iterations=1)))


def _read_before_write(tf):
    """A value computed from a read the write depends on has the value before the write: the sum of 0..3,
    while v ends at 4 (a bare read_value() would be a reference, read where it is used, as in TF1)."""
    v = tf.Variable(0.0)

    def body(i, total):
        before = v.read_value() + 0.0
        with tf.control_dependencies([before]):
            written = tf.assign_add(v, 1.0)
        with tf.control_dependencies([written]):
            return i + 1, total + before

    return _run(tf, list(tf.while_loop(lambda i, total: i < 4, body, [0, 0.0], parallel_iterations=1)))


def _assign_output_in_the_body(tf):
    """The assignment's output (the new value) used as a value, with a captured tensor."""
    v = tf.Variable([1.0, 2.0])
    x = tf.constant([0.5, -1.0])
    return _run(tf, tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y + tf.assign(v, v * 2.0 + x)),
                                  [0, tf.zeros([2])], parallel_iterations=1)[1:])


def _two_variables_and_a_loop_variable(tf):
    """Fibonacci in two variables, each iteration's reads after the previous writes."""
    a, b = tf.Variable(0.0), tf.Variable(1.0)

    def body(i):
        old_a, old_b = a.read_value() + 0.0, b.read_value() + 0.0
        with tf.control_dependencies([old_a, old_b]):
            new_a, new_b = tf.assign(a, old_b), tf.assign(b, old_a + old_b)
        with tf.control_dependencies([new_a, new_b]):
            return i + 1

    return _run(tf, [tf.while_loop(lambda i: i < 10, body, [0], parallel_iterations=1)])


def _cond_runs_the_taken_branch(tf):
    """Both branches assign; only the taken one writes."""
    v, w = tf.Variable(10.0), tf.Variable(20.0)
    p = tf.placeholder(tf.bool, [])
    r = tf.cond(p, lambda: tf.assign_add(v, 1.0), lambda: tf.assign_sub(w, 1.0))
    return [_run(tf, [r], {p: True}), _run(tf, [r], {p: False})]


def _cond_in_a_loop_assigns_every_other_iteration(tf):
    v = tf.Variable(0)

    def body(i):
        written = tf.cond(tf.equal(i % 2, 0), lambda: tf.assign_add(v, i), lambda: tf.identity(v))
        with tf.control_dependencies([written]):
            return i + 1

    return _run(tf, [tf.while_loop(lambda i: i < 7, body, [0], parallel_iterations=1)])


def _loop_in_a_cond(tf):
    v = tf.Variable(1.0)
    p = tf.placeholder(tf.bool, [])

    def loop():
        def body(i):
            with tf.control_dependencies([tf.assign(v, v * 3.0)]):
                return i + 1
        return tf.cast(tf.while_loop(lambda i: i < 3, body, [0], parallel_iterations=1), tf.float32)

    r = tf.cond(p, loop, lambda: tf.constant(-1.0))
    return [_run(tf, [r], {p: True}), _run(tf, [r], {p: False})]


def _loop_in_a_loop(tf):
    """The inner loop assigns; both loops see its writes."""
    v = tf.Variable(1.0)

    def outer(j, acc):
        def inner(k, s):
            with tf.control_dependencies([tf.assign_add(v, tf.cast(k, tf.float32))]):
                return k + 1, s + v.read_value()
        return j + 1, tf.while_loop(lambda k, s: k < j, inner, [0, acc], parallel_iterations=1)[1]

    return _run(tf, [tf.while_loop(lambda j, a: j < 4, outer, [0, 0.0], parallel_iterations=1)[1]])


def _loop_condition_reads_the_variable(tf):
    """The loop's cond reads the variable its body writes: the loop runs until the writes stop it."""
    v = tf.Variable(0.0)

    def body(i):
        with tf.control_dependencies([tf.assign_add(v, 1.5)]):
            return i + 1

    return _run(tf, [tf.while_loop(lambda i: v.read_value() < 5.0, body, [0], parallel_iterations=1)])


def _an_unused_assignment_does_not_run(tf):
    """TF1 runs the ops of a body that its results need: an assignment nothing depends on does not run."""
    v = tf.Variable(5.0)

    def body(i):
        tf.assign_add(v, 1.0)
        return i + 1

    return _run(tf, [tf.while_loop(lambda i: i < 3, body, [0])])


ASSIGNMENTS = {
    "loop counts in a variable": (_counting_loop, ([4, 10.0], [4.0])),
    "read before the write": (_read_before_write, ([4, 6.0], [4.0])),
    "assign output in the body": (_assign_output_in_the_body, ([[19.5, 17.0]], [[11.5, 9.0]])),
    "two variables": (_two_variables_and_a_loop_variable, ([10], [55.0, 89.0])),
    "cond takes one branch": (_cond_runs_the_taken_branch, [([11.0], [11.0, 20.0]), ([19.0], [10.0, 19.0])]),
    "cond in a loop": (_cond_in_a_loop_assigns_every_other_iteration, ([7], [12])),
    "loop in a cond": (_loop_in_a_cond, [([3.0], [27.0]), ([-1.0], [1.0])]),
    "loop in a loop": (_loop_in_a_loop, ([14.0], [5.0])),
    "cond of the loop reads the variable": (_loop_condition_reads_the_variable, ([4], [6.0])),
    "unused assignment": (_an_unused_assignment_does_not_run, ([3], [5.0])),
}

test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "ASSIGNMENTS", ASSIGNMENTS)


def test_compiled_loop_with_assignments_matches_the_reference_interpreter():
    v = tf.Variable(np.array([1.0, -2.0, 0.5], np.float32), name="v")
    x = tf.placeholder(tf.float32, [3])

    def body(i, y):
        written = tf.cond(y[0] > 0.0, lambda: tf.assign(v, v * 0.5 + x), lambda: tf.assign_sub(v, x))
        with tf.control_dependencies([written]):
            return i + 1, tf.tanh(y + v.read_value())

    i, y = tf.while_loop(lambda i, y: i < 6, body, [0, x])
    with tf.control_dependencies([y]):
        after = v.read_value()
    feeds = {x: np.array([0.3, -0.7, 1.1], np.float32)}
    with tf.Session() as sess:
        sess.run(v.initializer)
        compiled = sess.run([i, y, after], feeds)
    reference = interpret_graph([i, y, after], feeds, {"v": np.array([1.0, -2.0, 0.5], np.float32)})
    for c, r in zip(compiled, reference):
        np.testing.assert_allclose(c, r, rtol=1e-6)
