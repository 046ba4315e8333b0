"""`tf.estimator.inputs.numpy_input_fn` (graphc/estimator/inputs.py): its batches, epochs and errors.

TensorFlow 2.21 has no tf.estimator, so the expected values are TF 1.15's documented behaviour, pinned:
the docstring's example (features dict with x's keys, targets y), counted epochs ending in a smaller batch
and OutOfRangeError (dequeue_up_to), uncounted ones in full batches forever (dequeue_many), and the
ValueError/TypeError texts of tensorflow_estimator's numpy_io.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc as tf
from graphc.estimator.inputs import numpy_input_fn

AGE = np.arange(4) * 1.0
HEIGHT = np.arange(32, 36)
TARGETS = np.arange(-32, -28)


def _batches(input_fn, limit=50):
    """The batches `input_fn` gives in a new graph until OutOfRangeError (plain Python), and whether it ended."""
    with tf.Graph().as_default():
        tensors = input_fn()
        values = []
        with tf.Session() as sess:
            for _ in range(limit):
                try:
                    values.append(sess.run(tensors))
                except tf.errors.OutOfRangeError:
                    return values, True
        return values, False


def test_the_docstring_example_gives_features_by_key_and_targets():
    input_fn = numpy_input_fn({"age": AGE, "height": HEIGHT}, TARGETS, batch_size=2, shuffle=False, num_epochs=1)
    with tf.Graph().as_default():
        features, targets = input_fn()
        assert sorted(features) == ["age", "height"]
        assert (features["age"].dtype, features["height"].dtype, targets.dtype) == (tf.float64, tf.int64, tf.int64)
        assert features["age"].shape.as_list() == [None]  # counted epochs: the last batch may be smaller
    batches, ended = _batches(input_fn)
    assert ended and len(batches) == 2
    assert [b[0]["age"].tolist() for b in batches] == [[0.0, 1.0], [2.0, 3.0]]
    assert [b[0]["height"].tolist() for b in batches] == [[32, 33], [34, 35]]
    assert [b[1].tolist() for b in batches] == [[-32, -31], [-30, -29]]


def test_counted_epochs_end_with_a_smaller_batch():
    batches, ended = _batches(numpy_input_fn({"age": AGE}, TARGETS, batch_size=3, shuffle=False, num_epochs=2))
    assert ended and [b[1].tolist() for b in batches] == [[-32, -31, -30], [-29, -32, -31], [-30, -29]]


def test_uncounted_epochs_give_full_batches_forever():
    input_fn = numpy_input_fn({"age": AGE}, TARGETS, batch_size=3, shuffle=False, num_epochs=None)
    with tf.Graph().as_default():
        assert input_fn()[1].shape.as_list() == [3]
    batches, ended = _batches(input_fn, limit=6)
    assert not ended and [b[1].tolist() for b in batches][:3] == [[-32, -31, -30], [-29, -32, -31], [-30, -29, -32]]


def test_shuffled_epochs_hold_every_row_once():
    x = np.arange(100, dtype=np.float32)
    batches, ended = _batches(numpy_input_fn({"x": x}, x.astype(np.int32), batch_size=32, shuffle=True,
                                             num_epochs=2, queue_capacity=40))
    assert ended and [len(b[1]) for b in batches] == [32, 32, 32, 32, 32, 32, 8]
    rows = np.concatenate([b[1] for b in batches])
    assert sorted(rows[:100]) == sorted(rows[100:]) == list(range(100)) and rows[:100].tolist() != list(range(100))
    assert all(np.array_equal(b[0]["x"], b[1]) for b in batches)  # features and targets stay paired


def test_an_array_x_and_no_y():
    batches, ended = _batches(numpy_input_fn(np.ones((5, 2), np.float32), batch_size=4, shuffle=False))
    assert ended and [b.shape for b in batches] == [(4, 2), (1, 2)]
    targets = {"a": TARGETS, "b": TARGETS * 2}
    batches, _ = _batches(numpy_input_fn({"age": AGE}, targets, batch_size=4, shuffle=False))
    assert sorted(batches[0][1]) == ["a", "b"] and batches[0][1]["b"].tolist() == (TARGETS * 2).tolist()


def test_bad_arguments_raise_tf_errors():
    with pytest.raises(ValueError, match="shuffle must be provided and explicitly set as boolean"):
        numpy_input_fn({"age": AGE}, TARGETS)
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="Length of tensors in x and y is mismatched"):
            numpy_input_fn({"age": AGE}, TARGETS[:3], shuffle=False)()
        with pytest.raises(ValueError, match="1 duplicate keys are found in both x and y"):
            numpy_input_fn({"age": AGE}, {"age": TARGETS}, shuffle=False)()
        with pytest.raises(ValueError, match="x cannot be an empty dict"):
            numpy_input_fn({}, TARGETS, shuffle=False)()
        with pytest.raises(TypeError, match="x must be a dict or array; got list"):
            numpy_input_fn([1, 2], TARGETS, shuffle=False)()
