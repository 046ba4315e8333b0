"""Wrong input at every public entry point gets the exception a TF1 user expects, naming the tensor or op.

One table: each case builds a small graph, does one wrong thing, and names the
exception class and a pattern its message must match. After every failing
case the same session must still run a correct call (nothing half-done).
Cases made with `_as_tf` run the same code on TensorFlow too: the table pins
what TF 2.21 raises (class and message), and a test checks it against TF
itself when it is installed. A second group checks that a failing run changes
no variable at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import graphc as tf
from tests.tf_oracle import tensorflow_answers

Errors = tf.errors


@dataclass(frozen=True)
class Case:
    name: str
    act: Callable  # (model) -> anything; must raise
    error: type
    message: str


# name -> (build(tf), the class TF 2.21 raises, a pattern of its message), for the cases made by `_as_tf`.
AS_TF: dict = {}


def _as_tf(name, build, error, message, tf_message, tf_error=None):
    """A case that runs `build(tf)` — with graphc here, with TensorFlow in the oracle test — and TF 2.21's
    answer: `tf_message`, with graphc's class unless `tf_error` says otherwise (where graphc deliberately
    answers better; the case says why)."""
    AS_TF[name] = (build, (tf_error or error).__name__, tf_message)
    return Case(name, lambda m: build(tf), error, message)


def _session_run(tf, fetch, feeds=None):
    with tf.Session() as sess:
        return sess.run(fetch, feeds)


def _fed(tf, build, value, dtype="float32"):
    """`build(x)` run with a placeholder of unknown dims fed `value`: its shape is known only at run time."""
    x = tf.placeholder(getattr(tf, dtype), [None] * np.ndim(value))
    return _session_run(tf, build(x), {x: value})


class Model:
    """x:[?, 2] float32 fed, i:[2] int32 fed, w a variable, y = x @ w, in one initialised session."""

    def __init__(self):
        self.x = tf.placeholder(tf.float32, [None, 2], name="x")
        self.i = tf.placeholder(tf.int32, [2], name="i")
        self.w = tf.Variable([[1.0], [2.0]], name="w")
        self.y = tf.matmul(self.x, self.w, name="y")
        self.sess = tf.Session()
        self.sess.run(self.w.initializer)

    def feed_x(self, value):
        return self.sess.run(self.y, {self.x: value})

    def feed_i(self, value, dtype=None):
        return self.sess.run(self.i + 1, {self.i: value if dtype is None else np.array(value, dtype)})

    def check_still_works(self):
        assert self.sess.run(self.y, {self.x: [[1.0, 1.0]]}).tolist() == [[3.0]]


def _other_graph_tensor():
    with tf.Graph().as_default():
        return tf.placeholder(tf.float32, [2], name="foreign")


def _run(fetch, feeds=None):
    return tf.Session().run(fetch, feeds)


def _dynamic(build, *shapes):
    """Placeholders of unknown shape, fed arrays of `shapes`: the shape error shows only at run time."""
    placeholders = [tf.placeholder(tf.float32, [None] * len(s)) for s in shapes]
    return _run(build(*placeholders), {p: np.ones(s) for p, s in zip(placeholders, shapes)})


def _labels_run(labels):
    logits = tf.placeholder(tf.float32, [None, 3])
    targets = tf.placeholder(tf.int64, [None])
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits, name="xent")
    return _run(loss, {logits: np.zeros((len(labels), 3)), targets: labels})


def _uninitialised_initializer():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(a * 2.0, name="b")
    return _run(b.initializer)


def _closed(model, use):
    model.sess.close()
    return use(model)


def _huge_variable():
    v = tf.Variable(tf.zeros([100000, 100000]), name="huge")
    return _run(v.initializer)


SHAPE = r"Cannot feed value of shape {} for Tensor 'x:0', which has shape '\(\?, 2\)'"
OUTSIDE_INT32 = r"Cannot feed values outside \[-2147483648, 2147483647\] for Tensor 'i:0'"
GIB = 1 << 30

CASES = [
    # -- feed values: rank, dimensions, dtype, raggedness, None, non-numeric, range --------------
    Case("feed rank 1 for rank 2", lambda m: m.feed_x(np.ones(2)), ValueError, SHAPE.format(r"\(2,\)")),
    Case("feed scalar for rank 2", lambda m: m.feed_x(1.0), ValueError, SHAPE.format(r"\(\)")),
    Case("feed rank 3 for rank 2", lambda m: m.feed_x(np.ones((1, 1, 2))), ValueError, SHAPE.format(r"\(1, 1, 2\)")),
    Case("feed wrong dimension", lambda m: m.feed_x(np.ones((2, 3))), ValueError, SHAPE.format(r"\(2, 3\)")),
    Case("feed ragged list", lambda m: m.feed_x([[1.0, 2.0], [3.0]]), ValueError, "ragged.*'x:0'"),
    Case("feed None", lambda m: m.feed_x(None), ValueError, "Cannot feed None for Tensor 'x:0'"),
    Case("feed strings", lambda m: m.feed_x([["a", "b"]]), ValueError, "non-numeric.*'x:0'"),
    Case("feed bytes", lambda m: m.feed_x(b"ab"), ValueError, "non-numeric.*'x:0'"),
    Case("feed a dict", lambda m: m.feed_x({"a": 1.0}), ValueError, "non-numeric.*'x:0'"),
    Case("feed an object array", lambda m: m.feed_x(np.array([[1.0, 2.0]], dtype=object)), ValueError,
         "non-numeric.*'x:0'"),
    Case("feed dates", lambda m: m.feed_x(np.array([["2020-01-01", "2020-01-02"]], dtype="datetime64[D]")),
         ValueError, "non-numeric.*'x:0'"),
    Case("feed complex numbers", lambda m: m.feed_x(np.array([[1 + 2j, 3.0]])), ValueError,
         "complex values for Tensor 'x:0'"),
    Case("feed int64 values into int32", lambda m: m.feed_i([1, 2 ** 40], np.int64), ValueError, OUTSIDE_INT32),
    Case("feed negative int64 values into int32", lambda m: m.feed_i([-(2 ** 31) - 1, 0], np.int64), ValueError,
         OUTSIDE_INT32),
    Case("feed Python ints beyond 64 bits", lambda m: m.feed_i([2 ** 70, 1]), OverflowError,
         "Python int too large to convert to C long.*'i:0'"),
    Case("feed uint64 beyond int32", lambda m: m.feed_i([2 ** 64 - 1, 1], np.uint64), ValueError, OUTSIDE_INT32),
    Case("feed fractions into int32", lambda m: m.feed_i([1.5, 2.0]), ValueError, "non-integer.*'i:0'"),
    Case("feed NaN into int32", lambda m: m.feed_i([np.nan, 2.0]), ValueError, "non-integer.*'i:0'"),
    Case("feed inf into int32", lambda m: m.feed_i([np.inf, 2.0]), ValueError, "non-integer.*'i:0'"),
    Case("feed wrong length into int32", lambda m: m.feed_i([1, 2, 3]), ValueError, r"shape \(3,\).*'i:0'"),
    Case("feed a Tensor as a value", lambda m: m.sess.run(m.y, {m.x: m.y}), TypeError, "cannot be a tf.Tensor"),
    # -- feed keys and fetches: missing, unknown, foreign ------------------------------------------
    Case("missing feed", lambda m: m.sess.run(m.y), Errors.InvalidArgumentError,
         "must feed a value for placeholder tensor 'x' with dtype float32"),
    Case("feed key of another type", lambda m: m.sess.run(m.y, {3: 1.0}), TypeError,
         "Cannot interpret feed_dict key"),
    Case("feed key naming no tensor", lambda m: m.sess.run(m.y, {"nothing:0": 1.0}), TypeError,
         "Cannot interpret feed_dict key.*nothing:0"),
    Case("feed key naming an operation", lambda m: m.sess.run(m.y, {"x": [[1.0, 1.0]]}), TypeError,
         "Cannot interpret feed_dict key.*'x' refers to an Operation"),
    Case("feed key from another graph",
         lambda m: m.sess.run(m.y, {m.x: [[1.0, 1.0]], _other_graph_tensor(): [1.0, 2.0]}),
         TypeError, "Cannot interpret feed_dict key.*not an element of this graph"),
    Case("one tensor fed twice", lambda m: m.sess.run(m.y, {m.x: [[1.0, 1.0]], "x:0": [[1.0, 1.0]]}), ValueError,
         "feeds one tensor twice"),
    Case("fetch naming no tensor", lambda m: m.sess.run("nothing:0"), ValueError, "nothing:0"),
    Case("fetch naming no operation", lambda m: m.sess.run("nothing"), ValueError, "nothing"),
    Case("fetch None", lambda m: m.sess.run(None), TypeError, "Fetch argument None"),
    Case("fetch a number", lambda m: m.sess.run(3), TypeError, "Fetch argument 3"),
    Case("fetch from another graph", lambda m: m.sess.run(_other_graph_tensor()), ValueError,
         "foreign.*not an element of this graph"),
    Case("fetch inside a list from another graph", lambda m: m.sess.run([m.w, [_other_graph_tensor()]]),
         ValueError, "not an element of this graph"),
    # -- shape and dtype errors while building -------------------------------------------------------
    Case("matmul of mismatched shapes", lambda m: tf.matmul(tf.ones([2, 3]), tf.ones([4, 2]), name="mm"),
         ValueError, r"Dimensions must be equal, but are 3 and 4 for 'mm' \(op: 'MatMul'\)"),
    Case("add of unbroadcastable shapes", lambda m: tf.add(tf.ones([2, 3]), tf.ones([4]), name="sum"),
         ValueError, "Dimensions must be equal.*'sum'"),
    Case("add of float and int", lambda m: tf.add(tf.ones([2]), tf.constant([1, 2]), name="mixed"), TypeError,
         "int32 that does not match type float32.*'mixed'"),
    Case("reshape to another size", lambda m: tf.reshape(tf.ones([2, 3]), [4, 2], name="r"), ValueError,
         "6 values, but the requested shape has 8 for 'r'"),
    Case("transpose with a wrong permutation", lambda m: tf.transpose(tf.ones([2, 3]), [0, 1, 2], name="t"),
         ValueError, "Dimension must be 2 but is 3 for 't'"),
    Case("reduction over a missing axis", lambda m: tf.reduce_sum(tf.ones([2, 3]), 2, name="s"), ValueError,
         "Invalid reduction dimension 2.*'s'"),
    Case("softmax of a scalar", lambda m: tf.nn.softmax(tf.constant(1.0), name="sm"), ValueError,
         "at least one dimension.*'sm'"),
    Case("labels of the wrong rank", lambda m: tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.constant([[1]]), logits=tf.ones([1, 3])), ValueError, "Rank mismatch"),
    Case("softmax cross entropy without classes", lambda m: tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.constant([0]), logits=tf.ones([1, 0]), name="xent"), ValueError, "at least one class.*'xent'"),
    Case("placeholder of negative size", lambda m: tf.placeholder(tf.float32, [-2, 3]), ValueError,
         "Dimension -2 must be >= 0"),
    Case("op over tensors of two graphs", lambda m: tf.constant(2.0) + _other_graph_tensor(), ValueError,
         "must be from the same graph"),
    # -- shape errors that only show at run time ----------------------------------------------------
    Case("reshape of a fed batch to a wrong size", lambda m: _dynamic(lambda x: tf.reshape(x, [3, -1], name="r"),
                                                                      (5, 4)),
         Errors.InvalidArgumentError, "20 values, but the requested shape requires a multiple of 3 for 'r'"),
    Case("matmul of fed mismatched shapes", lambda m: _dynamic(lambda a, b: tf.matmul(a, b, name="mm"), (2, 4), (5, 3)),
         Errors.InvalidArgumentError, "Dimensions must be equal, but are 4 and 5 for 'mm'"),
    Case("add of fed unbroadcastable shapes", lambda m: _dynamic(lambda a, b: tf.add(a, b, name="sum"), (3,), (4,)),
         Errors.InvalidArgumentError, "Dimensions must be equal, but are 3 and 4 for 'sum'"),
    Case("broadcast_to of a fed wrong shape", lambda m: _dynamic(lambda a: tf.broadcast_to(a, [2, 3], name="b"), (4,)),
         Errors.InvalidArgumentError, r"Incompatible shapes: \[4\] vs. \[2, 3\] for 'b'"),
    Case("argmax over a fed empty axis", lambda m: _dynamic(lambda a: tf.argmax(a, 0, name="am"), (0, 3)),
         Errors.InvalidArgumentError, "Reduction axis 0 is empty.*'am'"),
    # -- bad data seen by native code -----------------------------------------------------------------
    Case("label above the range", lambda m: _labels_run([0, 3]), Errors.InvalidArgumentError,
         r"label value of 3 which is outside the valid range of \[0, 3\).*xent"),
    Case("negative label", lambda m: _labels_run([-1, 0]), Errors.InvalidArgumentError, "label value of -1.*xent"),
    Case("integer division by zero", lambda m: m.sess.run(tf.floordiv(tf.constant([4, 5]), m.i), {m.i: [1, 0]}),
         Errors.InvalidArgumentError, "Integer division by zero"),
    # -- session state -----------------------------------------------------------------------------------
    Case("run on a closed session", lambda m: _closed(m, lambda m: m.sess.run(m.w)), RuntimeError,
         "closed Session"),
    Case("eval on a closed session", lambda m: _closed(m, lambda m: m.w.eval(session=m.sess)), RuntimeError,
         "closed Session"),
    Case("uninitialised variable", lambda m: tf.Session().run(m.y, {m.x: [[1.0, 1.0]]}),
         Errors.FailedPreconditionError, "Attempting to use uninitialized value w"),
    Case("initialiser reading an uninitialised variable", lambda m: _uninitialised_initializer(),
         Errors.FailedPreconditionError, "uninitialized value a"),
    Case("eval without a default session", lambda m: m.y.eval({m.x: [[1.0, 1.0]]}), ValueError,
         "No default session"),
    # -- sizes: element counts that overflow, tensors larger than the machine -------------------------
    Case("constant whose element count overflows", lambda m: tf.zeros([2 ** 40, 2 ** 40], name="z"), ValueError,
         "overflow a 64-bit byte count"),
    Case("constant larger than memory", lambda m: _run(tf.reduce_sum(tf.zeros([2 ** 20, 2 ** 20], name="z"))),
         Errors.ResourceExhaustedError, r"OOM when allocating tensor with shape\[1048576,1048576\].*'z'"),
    Case("variable larger than memory", lambda m: _huge_variable(), Errors.ResourceExhaustedError,
         r"OOM when allocating variable huge with shape\[100000,100000\]"),
    Case("random tensor larger than memory", lambda m: _run(tf.random_uniform([2 ** 20, 2 ** 20], name="rnd")),
         Errors.ResourceExhaustedError, "OOM.*'rnd/RandomUniform'"),
    Case("fill larger than memory", lambda m: _run(tf.fill(tf.constant([2 ** 31 - 1, 2 ** 31 - 1]), 1.0, name="f")),
         Errors.ResourceExhaustedError, "OOM.*'f'"),
    Case("shape beyond int32", lambda m: tf.random_uniform([2 ** 31, 2]), ValueError, "does not fit in int32"),
    # -- TF 2.21 rejects, graphc accepted: each runs on TensorFlow too (AS_TF) ----------------------------------
    _as_tf("reduction over an axis named twice", lambda tf: _session_run(tf, tf.reduce_sum(tf.ones([2, 3]), [1, -1],
                                                                                          name="s")),
           Errors.InvalidArgumentError, "Axes contains duplicate dimension: 1 for 's'",
           "Invalid reduction arguments: Axes contains duplicate dimension: 1"),
    _as_tf("fed max over an axis named twice", lambda tf: _fed(tf, lambda x: tf.reduce_max(x, [0, 0], name="s"),
                                                                 np.ones((2, 3))),
           Errors.InvalidArgumentError, "duplicate dimension: 0 for 's'", "duplicate dimension: 0"),
    _as_tf("mean over axes 0 and -2 of a matrix", lambda tf: _session_run(tf, tf.reduce_mean(tf.ones([2, 3]), [0, -2],
                                                                                           name="s")),
           Errors.InvalidArgumentError, "duplicate dimension: 0 for 's'", "duplicate dimension: 0"),
    _as_tf("kept min over an axis named twice", lambda tf: _session_run(tf, tf.reduce_min(
        tf.ones([2, 3]), [1, 1], keepdims=True, name="s")),
           Errors.InvalidArgumentError, "duplicate dimension: 1 for 's'", "duplicate dimension: 1"),
    _as_tf("reduction axes of rank 2", lambda tf: tf.reduce_sum(tf.ones([2, 3]), [[1]], name="s"), ValueError,
           r"Shape must be at most rank 1 but is rank 2.*'s'", "Shape must be at most rank 1 but is rank 2"),
    _as_tf("conv2d of no input channels", lambda tf: tf.nn.conv2d(tf.ones([1, 4, 4, 0]), tf.ones([3, 3, 0, 2]),
                                                                   [1, 1, 1, 1], "SAME", name="c"),
           ValueError, "Depth of filter must not be 0 for 'c'", "Depth of filter must not be 0"),
    _as_tf("conv2d of an empty window", lambda tf: _session_run(tf, tf.nn.conv2d(
        tf.ones([1, 4, 4, 1]), tf.ones([0, 3, 1, 2]), [1, 1, 1, 1], "SAME", name="c")),
           Errors.InvalidArgumentError, r"filter must not have zero elements.*'c'",
           r"filter must not have zero elements \(i.e. all dimensions must be non-zero\)"),
    _as_tf("integer division by zero fetched as an operation", lambda tf: _session_run(
        tf, tf.floordiv(tf.constant([4, 5]), tf.constant([1, 0]), name="fd").op),
           Errors.InvalidArgumentError, "Integer division by zero.*fd", "Integer division by zero"),
    _as_tf("integer floormod by zero", lambda tf: _session_run(tf, tf.floormod(tf.constant([4, 5]), tf.constant([1, 0]),
                                                                             name="fm")),
           Errors.InvalidArgumentError, "Integer division by zero.*fm", "Integer division by zero"),
    _as_tf("integer % by zero", lambda tf: _session_run(tf, tf.constant([4, 5]) % tf.constant([1, 0])),
           Errors.InvalidArgumentError, "Integer division by zero.*mod", "Integer division by zero"),
    _as_tf("sin of integers", lambda tf: tf.sin(tf.constant([1, 2]), name="s"), TypeError,
           "DataType int32 not in list of allowed values.*'s'", "DataType int32 not in list of allowed values"),
    _as_tf("selu of integers", lambda tf: tf.nn.selu(tf.constant([1, 2])), TypeError,
           "DataType int32 not in list of allowed values", "DataType int32 not in list of allowed values"),
    _as_tf("floormod of booleans", lambda tf: tf.floormod(tf.constant([True]), tf.constant([True])), TypeError,
           "DataType bool not in list of allowed values", "DataType bool not in list of allowed values"),
    _as_tf("clip_by_norm of integers", lambda tf: tf.clip_by_norm(tf.constant([3, 4]), 2), TypeError,
           "DataType int32 not in list of allowed values", "DataType int32 not in list of allowed values"),
    _as_tf("clip_by_global_norm of one tensor", lambda tf: tf.clip_by_global_norm(tf.constant([3.0]), 1.0), TypeError,
           "`t_list` should be a sequence of tensors", "`t_list` should be a sequence of tensors"),
    _as_tf("global_norm of a string", lambda tf: tf.global_norm("t"), TypeError,
           "`t_list` should be a sequence of tensors", "`t_list` should be a sequence of tensors"),
    _as_tf("softmax over a missing axis", lambda tf: tf.nn.softmax(tf.ones([2, 3]), axis=2),
           Errors.InvalidArgumentError, r"`dim` must be in the range \[-2, 2\).*Received: dim=2",
           r"`dim` must be in the range \[-2, 2\) where 2 is the number of dimensions in the input. Received: dim=2"),
    _as_tf("one_hot along a missing axis", lambda tf: _session_run(tf, tf.one_hot([0, 1], 3, axis=3, name="oh")),
           Errors.InvalidArgumentError, r"Expected axis to be -1 or between \[0, 2\).  But received: 3 for 'oh'",
           r"Expected axis to be -1 or between \[0, 2\).  But received: 3"),
    _as_tf("one_hot along axis -2", lambda tf: tf.one_hot([0, 1], 3, axis=-2, name="oh"), ValueError,
           "axis must be >= -1 for 'oh'", "axis must be >= -1"),
    _as_tf("reshape to a shape of rank 2", lambda tf: tf.reshape(tf.ones([2, 3]), [[6]], name="r"), ValueError,
           "Shape must be rank 1 but is rank 2.*'r'", "Shape must be rank 1 but is rank 2"),
    _as_tf("fill with dims of rank 0", lambda tf: tf.fill(3, 1.0, name="f"), ValueError,
           "Shape must be rank 1 but is rank 0.*'f'", "Shape must be rank 1 but is rank 0"),
    _as_tf("transpose with a perm of rank 2", lambda tf: tf.transpose(tf.ones([2, 3]), [[0, 1]], name="t"),
           ValueError, "Shape must be rank 1 but is rank 2.*'t'", "Shape must be rank 1 but is rank 2"),
    _as_tf("concat along an axis vector", lambda tf: tf.concat([tf.ones([2]), tf.ones([2])], [0], name="c"),
           ValueError, "Shape must be rank 0 but is rank 1.*'c'", "Shape must be rank 0 but is rank 1"),
    _as_tf("argmax along an axis vector", lambda tf: tf.argmax(tf.zeros([2, 3]), tf.constant([1]), name="am"),
           ValueError, "Shape must be rank 0 but is rank 1.*'am'", "Shape must be rank 0 but is rank 1"),
    _as_tf("argmax along an axis list", lambda tf: tf.argmax(tf.zeros([2, 3]), [1]), TypeError,
           "axis must be int or Tensor with integer datatype", "axis must be int or Tensor with integer datatype"),
    _as_tf("integer constant from a Python float", lambda tf: tf.constant(2.0, tf.int32), TypeError,
           "Expected int32, but got 2.0 of type 'float'", "Expected int32, but got 2.0 of type 'float'"),
    _as_tf("reshape to float sizes", lambda tf: tf.reshape(tf.ones([2, 3]), [3.0, 2.0]), TypeError,
           "Expected int32", "float32 not in list of allowed values: int32, int64"),
    _as_tf("reshape of 6 values to a shape with a 0", lambda tf: tf.reshape(tf.zeros([2, 3]), [-1, 0], name="r"),
           ValueError, "6 values, but the requested shape has 0 for 'r'",
           r"Cannot reshape a tensor with 6 elements to shape \[\?,0\] \(0 elements\)"),
    _as_tf("reshape of 6 fed values to a shape with a 0", lambda tf: _fed(tf, lambda x: tf.reshape(x, [-1, 0],
                                                                                                   name="r"),
                                                                            np.ones((2, 3))),
           Errors.InvalidArgumentError, "6 values, but the requested shape has 0 for 'r'",
           "Input to reshape is a tensor with 6 values, but the requested shape has 0"),
    _as_tf("int64 constant beyond 64 bits", lambda tf: tf.constant([2 ** 70, 1], tf.int64), OverflowError,
           "Python int too large to convert to C long", "Python int too large to convert to C long"),
    _as_tf("size of an unknown dimension minus 2", lambda tf: tf.ones([1]).shape[0] - 2, ValueError,
           "Dimension -1 must be >= 0", "Dimension -1 must be >= 0"),
    _as_tf("dimension divided with /", lambda tf: tf.ones([6]).shape[0] / 2, TypeError, "please use // instead",
           "unsupported operand type.s. for /: 'Dimension' and 'int', please use // instead"),
    # -- TF 2.21 raises another class (mostly: when the op runs, not while building) -------------------------
    _as_tf("reshape with two -1", lambda tf: _session_run(tf, tf.reshape(tf.ones([2, 3]), [-1, -1], name="r")),
           Errors.InvalidArgumentError, "Only one input size may be -1, not both 0 and 1 for 'r'",
           "Only one input size may be -1, not both 0 and 1"),
    _as_tf("fed reshape with two -1", lambda tf: _fed(tf, lambda x: tf.reshape(x, [-1, -1], name="r"),
                                                        np.ones((2, 3))),
           Errors.InvalidArgumentError, "Only one input size may be -1, not both 0 and 1 for 'r'",
           "Only one input size may be -1, not both 0 and 1"),
    # TF 1.15 raised InvalidArgumentError "Integer division by zero" for these, as for FloorDiv and FloorMod;
    # TF 2.21 reports an InternalError. graphc keeps TF 1.15's class.
    *[_as_tf(f"integer {name} by zero", lambda tf, name=name: _session_run(tf, getattr(tf, name)(
        tf.constant([4, 5]), tf.constant([1, 0]), name="td")), Errors.InvalidArgumentError,
        "Integer division by zero.*td", "Unexpected error in binary operator", tf_error=Errors.InternalError)
      for name in ("truncatediv", "truncatemod")],
    _as_tf("reshape to sizes divided by zero", lambda tf: _session_run(tf, tf.reshape(
        tf.ones([6]), tf.floordiv(tf.constant([6]), 0), name="r")),
           Errors.InvalidArgumentError, "Integer division by zero", "Integer division by zero"),
    _as_tf("reshape to a size below -1", lambda tf: tf.reshape(tf.ones([2, 3]), [-2, 3], name="r"), ValueError,
           "Invalid value in tensor used for shape: -2 for 'r'", "Invalid value in tensor used for shape: -2"),
    _as_tf("argmax over an empty axis", lambda tf: _session_run(tf, tf.argmax(tf.zeros([0, 3]), 0, name="am")),
           Errors.InvalidArgumentError, r"Reduction axis 0 is empty in shape \[0,3\] for 'am'",
           r"Reduction axis 0 is empty in shape \[0,3\]"),
    _as_tf("argmin over an empty axis", lambda tf: _session_run(tf, tf.argmin(tf.zeros([0, 3]), 0, name="am")),
           Errors.InvalidArgumentError, "Reduction axis 0 is empty.*'am'", "Reduction axis 0 is empty"),
    _as_tf("argmax along a missing axis", lambda tf: tf.argmax(tf.zeros([2, 3]), 2, name="am"), ValueError,
           r"Dimension \(2\) must be in the range \[-2, 2\).*'am'", r"Dimension \(2\) must be in the range \[-2, 2\)"),
    _as_tf("slice past the end", lambda tf: _session_run(tf, tf.slice(tf.ones([3, 4]), [1, 0], [3, 2], name="sl")),
           Errors.InvalidArgumentError, r"Expected size\[0\] in \[0, 2\], but got 3 for 'sl'",
           r"Expected size\[0\] in \[0, 2\], but got 3"),
    _as_tf("slice from before the start", lambda tf: _session_run(tf, tf.slice(tf.ones([3, 4]), [-1, 0], [1, 2],
                                                                               name="sl")),
           Errors.InvalidArgumentError, r"Expected begin\[0\].*got -1.*'sl'",
           r"Expected begin\[0\] in \[0, 3\], but got -1"),
    _as_tf("slice of the rest from past the end", lambda tf: tf.slice(tf.ones([3, 4]), [4, 0], [-1, 2], name="sl"),
           ValueError, r"Expected begin\[0\] in \[0, 3\], but got 4 for 'sl'",
           "Negative dimension size caused by subtracting 4 from 3"),
    _as_tf("transpose naming an axis twice", lambda tf: _session_run(tf, tf.transpose(tf.ones([2, 3]), [0, 0],
                                                                                      name="t")),
           Errors.InvalidArgumentError, r"1 is missing from \{0,0\}. for 't'", r"1 is missing from \{0,0\}\."),
    _as_tf("fed transpose naming an axis twice", lambda tf: _fed(tf, lambda x: tf.transpose(x, [1, 1], name="t"),
                                                                   np.ones((2, 3))),
           Errors.InvalidArgumentError, r"0 is missing from \{1,1\}", r"0 is missing from \{1,1\}\."),
    _as_tf("transpose to a missing axis", lambda tf: tf.transpose(tf.ones([2, 3]), [0, -3], name="t"), ValueError,
           "perm dim -3 is out of range of input rank 2 for 't'", "perm dim -3 is out of range of input rank 2"),
    _as_tf("reflection padding as large as the input", lambda tf: _session_run(tf, tf.pad(
        tf.ones([2, 3]), [[2, 0], [0, 0]], "REFLECT", name="p")),
           Errors.InvalidArgumentError, "paddings must be less than the dimension size: 2, 0 not less than 2 for 'p'",
           "paddings must be less than the dimension size: 2, 0 not less than 2"),
    _as_tf("symmetric padding larger than the input", lambda tf: _fed(tf, lambda x: tf.pad(
        x, [[3, 0], [0, 0]], "SYMMETRIC", name="p"), np.ones((2, 3))),
           Errors.InvalidArgumentError, "paddings must be no greater than the dimension size: 3, 0 greater than 2",
           "paddings must be no greater than the dimension size: 3, 0 greater than 2"),
    _as_tf("conv2d striding the batch", lambda tf: _session_run(tf, tf.nn.conv2d(
        tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 2]), [2, 1, 1, 1], "SAME", name="c")),
           Errors.UnimplementedError, "does not yet support strides in the batch and depth dimensions.*'c'",
           "Current implementation does not yet support strides in the batch and depth dimensions."),
    _as_tf("conv2d dilating the batch", lambda tf: _session_run(tf, tf.nn.conv2d(
        tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 2]), [1, 1, 1, 1], "SAME", dilations=[2, 1, 1, 1], name="c")),
           Errors.UnimplementedError, "does not yet support dilations in the batch and depth dimensions.*'c'",
           "Current implementation does not yet support dilations in the batch and depth dimensions."),
    _as_tf("max_pool over the batch", lambda tf: _fed(tf, lambda x: tf.nn.max_pool(x, [2, 2, 2, 1], [1, 1, 1, 1],
                                                                                    "VALID", name="p"),
                                                       np.ones((2, 4, 4, 1))),
           Errors.UnimplementedError, "Pooling is not yet supported on the batch dimension.*'p'",
           "Pooling is not yet supported on the batch dimension."),
    _as_tf("avg_pool striding the batch", lambda tf: _session_run(tf, tf.nn.avg_pool(
        tf.ones([2, 4, 4, 1]), [1, 2, 2, 1], [2, 1, 1, 1], "VALID", name="p")),
           Errors.UnimplementedError, "Pooling is not yet supported on the batch dimension",
           "Pooling is not yet supported on the batch dimension."),
    _as_tf("max_pool over depth and space", lambda tf: _session_run(tf, tf.nn.max_pool(
        tf.ones([2, 4, 4, 2]), [1, 2, 2, 2], [1, 1, 1, 1], "VALID", name="p")),
           Errors.UnimplementedError, "exactly one of pooling across depth or pooling across width/height",
           "MaxPooling supports exactly one of pooling across depth or pooling across width/height."),
    _as_tf("VALID max_pool over no channels", lambda tf: tf.nn.max_pool(
        tf.placeholder(tf.float32, [1, 4, 4, 0]), [1, 2, 2, 1], [1, 1, 1, 1], "VALID", name="p"),
           ValueError, "subtracting 1 from 0 for 'p'", "subtracting 1 from 0"),
    _as_tf("avg_pool over depth", lambda tf: _session_run(tf, tf.nn.avg_pool(
        tf.ones([2, 4, 4, 2]), [1, 1, 1, 2], [1, 1, 1, 2], "VALID", name="p")),
           Errors.UnimplementedError, "Non-spatial pooling is not yet supported",
           "Non-spatial pooling is not yet supported."),
    _as_tf("scalar summary of a vector", lambda tf: _fed(tf, lambda x: tf.summary.scalar("s", x), np.ones(2)),
           Errors.InvalidArgumentError, r"tags and values are not the same shape: \[\] != \[2\] \(tag 's'\)",
           r"tags and values are not the same shape: \[\] != \[2\] \(tag 's'\)"),
    _as_tf("image summary of rank 3", lambda tf: _session_run(tf, tf.summary.image("i", tf.ones([4, 4, 1]))),
           Errors.InvalidArgumentError, r"Tensor must be 4-D with last dim 1, 3, or 4, not \[4,4,1\]",
           r"Tensor must be 4-D with last dim 1, 3, or 4, not \[4,4,1\]"),
    _as_tf("image summary of 2 channels", lambda tf: _session_run(tf, tf.summary.image("i", tf.ones([1, 4, 4, 2]))),
           Errors.InvalidArgumentError, r"last dim 1, 3, or 4, not \[1,4,4,2\]", r"not \[1,4,4,2\]"),
    _as_tf("text summary of a float tensor", lambda tf: tf.summary.text("t", tf.ones([2])), ValueError,
           "Expected tensor ones:0 to have dtype string", "Expected tensor ones:0 to have dtype string"),
    _as_tf("fill with a negative size", lambda tf: tf.fill([-1, 2], 1.0, name="f"), ValueError,
           "Fill dimensions must be >= 0 for 'f'", "Fill dimensions must be >= 0"),
    _as_tf("zeros with a size below -1", lambda tf: tf.zeros(tf.constant([2, -3]), name="z"), ValueError,
           "Invalid value in tensor used for shape: -3", "Invalid value in tensor used for shape: -3"),
    _as_tf("random numbers of a negative size", lambda tf: _session_run(tf, tf.random_uniform([-1, 2], name="r")),
           Errors.InvalidArgumentError, "Dimension -1 must be >= 0 for 'r/RandomUniform'", "Dimension -1 must be >= 0"),
    _as_tf("random numbers of a size below -1", lambda tf: tf.random_normal([2, -2], name="r"), ValueError,
           "Invalid value in tensor used for shape: -2", "Invalid value in tensor used for shape: -2"),
    _as_tf("broadcast_to a negative size", lambda tf: _session_run(tf, tf.broadcast_to(tf.ones([2]), [-1, 2],
                                                                                       name="b")),
           Errors.InvalidArgumentError, "Dimension -1 must be >= 0 for 'b'", "Dimension -1 must be >= 0"),
    _as_tf("integer to a negative power", lambda tf: _session_run(tf, tf.pow(tf.constant([2, 3]), tf.constant([1, -1]),
                                                                             name="p")),
           Errors.InvalidArgumentError, "Integers to negative integer powers are not allowed.*'?p",
           "Integers to negative integer powers are not allowed"),
    _as_tf("fed int64 to a negative power", lambda tf: _fed(tf, lambda e: tf.pow(tf.constant([1, 2], tf.int64), e,
                                                                                  name="p"),
                                                             np.array([2, -2]), "int64"),
           Errors.InvalidArgumentError, "Integers to negative integer powers are not allowed",
           "Integers to negative integer powers are not allowed"),
    _as_tf("Python int beyond 64 bits fed to int64", lambda tf: _fed(tf, lambda i: i + 1, [2 ** 70, 1], "int64"),
           OverflowError, "Python int too large to convert to C long", "Python int too large to convert to C long"),
    # -- graphc's deliberate answers where TF 2.21 runs on ----------------------------------------------------
    # TF 2.21 returns None: its graph optimizer drops a stateless op that only a control edge reaches. graphc
    # runs what the group names, as TF's graph says.
    Case("integer division by zero in a group", lambda m: _run(tf.group(tf.floordiv(tf.constant(7), 0, name="fd"))),
         Errors.InvalidArgumentError, "Integer division by zero.*fd"),
    # TF 2.21 wraps 2.0 ** 63 to -2 ** 63 (a float fed to int64); graphc refuses every value outside the
    # dtype, as for int32 above.
    Case("feed a float too large for int64", lambda m: _fed(tf, lambda i: i + 1, np.array([2.0 ** 63, 1.0]),
                                                             "int64"),
         ValueError, r"Cannot feed values outside \[-9223372036854775808, 9223372036854775807\]"),
    # TF 2.21 wraps these too: the Python int 2 ** 63 fed to int64 to -2 ** 63, the constants 2 ** 40 (int32) to
    # 0 and 2 ** 63 (int64) to -2 ** 63. graphc refuses them, as every value outside the dtype.
    Case("feed the Python int 2 ** 63 to int64", lambda m: _fed(tf, lambda i: i + 1, [2 ** 63, 1], "int64"),
         ValueError, r"Cannot feed values outside \[-9223372036854775808, 9223372036854775807\]"),
    Case("int32 constant beyond int32", lambda m: tf.constant(2 ** 40, tf.int32), ValueError,
         "Value 1099511627776 does not fit in int32"),
    Case("int64 constant of 2 ** 63", lambda m: tf.constant([2 ** 63], tf.int64), ValueError,
         r"Value \[9223372036854775808\] does not fit in int64"),
    # TF 2.21 convolves an input of no channels with a filter of one (its grouped convolution, of no
    # groups) into zeros; graphc takes it for the grouped convolution it does not implement.
    Case("convolution of a fed input of no channels", lambda m: _fed(tf, lambda x: tf.nn.conv2d(
        x, tf.ones([3, 3, 1, 2]), [1, 1, 1, 1], "SAME", name="c"), np.ones((1, 4, 4, 0))),
         Errors.UnimplementedError, r"does not implement grouped convolutions \(input depth 0"),
    # TF 2.21 computes these; graphc implements no grouped convolution and no max pooling across depth, and
    # says so when it compiles the step.
    Case("grouped convolution", lambda m: _run(tf.nn.conv2d(tf.ones([1, 4, 4, 2]), tf.ones([3, 3, 1, 2]),
                                                           [1, 1, 1, 1], "SAME", name="c")),
         Errors.UnimplementedError, "does not implement grouped convolutions.*'c'"),
    Case("max_pool across depth", lambda m: _run(tf.nn.max_pool(tf.ones([2, 4, 4, 2]), [1, 1, 1, 2], [1, 1, 1, 2],
                                                               "VALID", name="p")),
         Errors.UnimplementedError, "graphc does not implement max pooling across the depth dimension.*'p'"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_raises_what_tf1_raises(case):
    model = Model()
    with pytest.raises(case.error, match=case.message):
        case.act(model)
    if not model.sess._closed:
        model.check_still_works()


def test_the_table_is_large():
    assert len(CASES) >= 120 and len(AS_TF) >= 50


def test_a_compile_time_argument_that_fails_to_compute_fails_when_run():
    # TF 2.21 builds this reshape (of an unknown shape) and fails when it runs; graphc failed while building.
    reshaped = tf.reshape(tf.ones([6]), tf.floordiv(tf.constant([6]), 0), name="r")
    with pytest.raises(Errors.InvalidArgumentError, match="Integer division by zero"):
        tf.Session().run(reshaped)


@pytest.fixture(scope="module")
def tf_answers():
    return tensorflow_answers(__file__, "AS_TF")


@pytest.mark.parametrize("name", sorted(AS_TF))
def test_tensorflow_2_21_answers_as_the_table_says(name, tf_answers):
    _, error, message = AS_TF[name]
    answer, text = tf_answers[name]
    assert answer == error, f"TensorFlow raised {answer}: {text}"
    assert re.search(message, text), text


# -- a failing run leaves every variable as it was ----------------------------------------------------


def _two_optimizers():
    """Two losses trained in one run; the second one's labels go bad."""
    x = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int32, [None])
    w1 = tf.Variable(tf.ones([3, 4]), name="w1")
    w2 = tf.Variable(tf.ones([3, 4]), name="w2")
    step = tf.Variable(0, name="step", trainable=False)
    squares = tf.reduce_mean(tf.square(tf.matmul(x, w1)))
    xent = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.matmul(x, w2)))
    optimizer = tf.train.GradientDescentOptimizer(0.1)
    fetch = [optimizer.minimize(squares), optimizer.minimize(xent, global_step=step)]
    good = {x: np.ones((2, 3)), labels: [1, 2]}
    return fetch, good, {x: np.ones((2, 3)), labels: [1, 9]}


def _mlp_step():
    x = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int32, [None])
    w = tf.Variable(tf.ones([3, 4]), name="w")
    b = tf.Variable(tf.zeros([4]), name="b")
    step = tf.Variable(0, name="step", trainable=False)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.matmul(x, w) + b))
    fetch = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
    return fetch, {x: np.ones((2, 3)), labels: [1, 2]}, {x: np.ones((2, 3)), labels: [1, -1]}


def _assignment_beside_a_division():
    v = tf.Variable(5, name="v")
    z = tf.placeholder(tf.int32, [])
    return [v.assign_add(1), tf.floordiv(10, z)], {z: 1}, {z: 0}


def _assignment_of_a_division():
    u = tf.Variable(0, name="u")
    v = tf.Variable(5, name="v")
    z = tf.placeholder(tf.int32, [])
    return [u.assign_add(3), v.assign(tf.floordiv(10, z))], {z: 1}, {z: 0}


@pytest.mark.parametrize("build", [_two_optimizers, _mlp_step, _assignment_beside_a_division,
                                   _assignment_of_a_division])
def test_failed_run_after_training_changes_no_variable(build):
    fetch, good, bad = build()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    for _ in range(3):
        sess.run(fetch, good)
    variables = tf.global_variables()
    before = [np.array(sess.run(v)) for v in variables]
    with pytest.raises(tf.errors.InvalidArgumentError):
        sess.run(fetch, bad)
    for variable, value in zip(variables, before):
        np.testing.assert_array_equal(sess.run(variable), value, err_msg=variable.name)
    sess.run(fetch, good)  # and training goes on
    assert any(not np.array_equal(sess.run(v), b) for v, b in zip(variables, before))


def test_failed_run_does_not_advance_random_numbers():
    z = tf.placeholder(tf.int32, [])
    numbers = tf.random_uniform([4], seed=7)
    fetch = [numbers, tf.floordiv(10, z)]
    reference = tf.Session()
    expected = [reference.run(fetch, {z: 1})[0] for _ in range(2)]
    sess = tf.Session()
    first = sess.run(fetch, {z: 1})[0]
    with pytest.raises(tf.errors.InvalidArgumentError):
        sess.run(fetch, {z: 0})
    np.testing.assert_array_equal([first, sess.run(fetch, {z: 1})[0]], expected)


def test_huge_shapes_are_refused_before_allocating():
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(tf.errors.ResourceExhaustedError):
        _huge_variable()
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < GIB // 1024


def test_an_ordinary_training_step_copies_no_weights_per_run():
    # Its labels are checked before the first weight update: at most the global step (scheduled
    # first) is saved per run, never a copy of the weights.
    fetch, good, _ = _mlp_step()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run(fetch, good)
    training_step = list(sess._steps.values())[-1]
    saved = {training_step.program.variables[i].name for i in training_step.executable._rollback_indices}
    assert {"w", "b"} <= set(training_step.lowered.writes) and saved <= {"step"}
