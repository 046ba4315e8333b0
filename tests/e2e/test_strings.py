"""String tensors through a Session: constants, feeds, identities and text summaries, as TF1 gives them.

Strings are host data (graphc/host_fetches.py): `sess.run` gives a scalar string as
Python bytes and an array of strings as a NumPy object array of bytes, as TF1 does.
Each entry of the table runs here with graphc and, in the oracle test, with
TensorFlow (when it is installed); the table pins TF 2.21's answer, a value or the
class of the error raised.
"""

from __future__ import annotations

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

import graphc as tf
from tests.tf_oracle import tensorflow_answers


def _run(tf, fetch, feeds=None):
    with tf.Session() as sess:
        return sess.run(fetch, feeds)


def _values(value):
    """A fetched value as (type name, dtype name or None, plain Python value), comparable across frameworks."""
    if isinstance(value, np.ndarray):
        return "ndarray", str(value.dtype), value.tolist()
    return type(value).__name__, None, value


def _error(tf, build):
    """The class name of the error `build()` raises (None if it raises none)."""
    try:
        build()
    except Exception as e:  # noqa: BLE001 - the class is the answer
        return type(e).__name__
    return None


def _fed_words(tf, value, shape=None, fetch=lambda tf, words: tf.identity(words)):
    words = tf.placeholder(tf.string, shape, name="words")
    return _values(_run(tf, fetch(tf, words), {words: value}))


STRINGS = {
    "Hello, TensorFlow!": (lambda tf: _values(_run(tf, tf.constant("Hello, TensorFlow!"))),
                           ("bytes", None, b"Hello, TensorFlow!")),
    "a bytes constant": (lambda tf: _values(_run(tf, tf.constant(b"\x00\xff"))), ("bytes", None, b"\x00\xff")),
    "a unicode constant is UTF-8": (lambda tf: _values(_run(tf, tf.constant("héllo"))),
                                    ("bytes", None, "héllo".encode())),
    "a matrix of strings": (lambda tf: _values(_run(tf, tf.constant([["a", "bc"], ["", "d"]]))),
                            ("ndarray", "object", [[b"a", b"bc"], [b"", b"d"]])),
    "a NumPy array of str": (lambda tf: _values(_run(tf, tf.constant(np.array(["x", "yz"])))),
                             ("ndarray", "object", [b"x", b"yz"])),
    "a string constant's tensor": (lambda tf: str(tf.constant("x")), 'Tensor("Const:0", shape=(), dtype=string)'),
    "a string constant of a given shape": (lambda tf: _values(_run(tf, tf.constant("ab", shape=[2]))),
                                           ("ndarray", "object", [b"ab", b"ab"])),
    "tf.constant(x, tf.string)": (lambda tf: _values(_run(tf, tf.constant(["p"], tf.string))),
                                  ("ndarray", "object", [b"p"])),
    "an identity of a string constant": (lambda tf: _values(_run(tf, tf.identity(tf.constant("i")))),
                                         ("bytes", None, b"i")),
    "a fed scalar string": (lambda tf: _fed_words(tf, "fed", []), ("bytes", None, b"fed")),
    "fed str and bytes": (lambda tf: _fed_words(tf, ["a", b"b"], [None]), ("ndarray", "object", [b"a", b"b"])),
    "strings beside numbers": (lambda tf: repr(_run(tf, [tf.constant("s"), tf.constant(2.0) * 3.0])),
                               "[b's', np.float32(6.0)]"),
    "an unfed string placeholder": (lambda tf: _error(tf, lambda: _run(tf, tf.identity(
        tf.placeholder(tf.string, [])))), "InvalidArgumentError"),
    "a string fed a value of the wrong shape": (lambda tf: _error(tf, lambda: _fed_words(tf, ["a", "b"], [3])),
                                                "ValueError"),
    "a text summary of a number": (lambda tf: _error(tf, lambda: tf.summary.text("t", tf.constant(1.0))),
                                   "ValueError"),
    "a float constant of a string": (lambda tf: _error(tf, lambda: tf.constant("abc", tf.float32)), "TypeError"),
    "adding strings to numbers": (lambda tf: _error(tf, lambda: tf.constant("a") + tf.constant(1.0)),
                                  "TypeError"),
}


@pytest.mark.parametrize("name", sorted(STRINGS))
def test_graphc_answers_as_the_table_says(name):
    tf.reset_default_graph()
    build, expected = STRINGS[name]
    assert repr(build(tf)) == repr(expected)


@pytest.fixture(scope="module")
def tf_answers():
    return tensorflow_answers(__file__, "STRINGS")


@pytest.mark.parametrize("name", sorted(STRINGS))
def test_tensorflow_2_21_answers_as_the_table_says(name, tf_answers):
    assert tf_answers[name] == ["OK", repr(STRINGS[name][1])]


def test_unfed_string_placeholders_are_named():
    words = tf.placeholder(tf.string, [None], name="words")
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError) as info:
        sess.run(tf.identity(words))
    assert str(info.value).startswith(
        "You must feed a value for placeholder tensor 'words' with dtype string and shape [?]")
    assert info.value.op is words.op


def test_string_ops_graphc_lacks_are_named():
    words = tf.placeholder(tf.string, [2], name="words")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.UnimplementedError, match=r"string op Reshape \('flat'\)"):
            sess.run(tf.reshape(words, [2, 1], name="flat"), {words: ["a", "b"]})
        # The size of strings is known without them; a string turned into a number would be native code.
        assert sess.run(tf.size(tf.reshape(words, [-1])) * 2, {words: ["a", "b"]}) == 4
        with pytest.raises(tf.errors.UnimplementedError, match=r"string op Cast \('number'\)"):
            sess.run(tf.cast(words, tf.float32, name="number"), {words: ["1", "2"]})


def test_a_string_feed_is_checked_and_encoded():
    words = tf.placeholder(tf.string, [None], name="words")
    with tf.Session() as sess:
        with pytest.raises(TypeError, match="Expected binary or unicode string, got 1"):
            sess.run(words, {words: [1]})
        assert sess.run(tf.identity(words), {words: np.array(["ü"])}).tolist() == ["ü".encode()]
        # A deliberate difference: TF returns a fed tensor fetched itself as it was fed (str stays str);
        # graphc gives the bytes TF gives for every computed string.
        assert sess.run(words, {words: ["x"]}).tolist() == [b"x"]


def test_text_summaries_of_string_tensors_reach_tensorboard(tmp_path):
    notes = tf.placeholder(tf.string, [None], name="notes")
    fed = tf.summary.text("fed", notes)
    constant = tf.summary.text("hello", tf.constant("**Hello**, TensorBoard"))
    assert fed.op.type == "TensorSummaryV2" and fed.op.name == "fed"
    merged = tf.summary.merge_all()
    with tf.Session() as sess, tf.summary.FileWriter(str(tmp_path)) as writer:
        for step in (1, 2):
            writer.add_summary(sess.run(merged, {notes: [f"step {step}", "ok"]}), global_step=step)
        assert tf.Summary.FromString(sess.run(constant)).value[0].metadata.plugin_data.plugin_name == "text"
    events = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    events.Reload()
    assert sorted(events.PluginTagToContent("text")) == ["fed", "hello"]
    assert [(e.step, tensor_util.make_ndarray(e.tensor_proto).tolist()) for e in events.Tensors("fed")] == [
        (1, [b"step 1", b"ok"]), (2, [b"step 2", b"ok"])]
    assert [tensor_util.make_ndarray(e.tensor_proto).item() for e in events.Tensors("hello")] == [
        b"**Hello**, TensorBoard"] * 2


def test_strings_join_on_the_host():
    words = tf.placeholder(tf.string, [None], name="words")
    joined = tf.strings.join([words, tf.constant("x"), words], separator="-")
    assert joined.op.type == "StringJoin" and joined.shape.as_list() == [None]
    with tf.Session() as sess:
        assert sess.run(joined, {words: ["a", "b"]}).tolist() == [b"a-x-a", b"b-x-b"]
        assert sess.run(tf.string_join(["p", "q"])) == b"pq"  # TF 2.21's answers
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"Input shapes do not match: \[2\] vs. \[3\]"):
            sess.run(tf.strings.join([tf.constant(["a", "b"]), words]), {words: ["1", "2", "3"]})
    with pytest.raises(ValueError, match="must be equal"):
        tf.strings.join([tf.constant(["a", "b"]), tf.constant(["a", "b", "c"])])
    with pytest.raises(TypeError, match=r"have types \[string, int32\] that do not match expected type string"):
        tf.strings.join([tf.constant("a"), tf.constant(1)])
