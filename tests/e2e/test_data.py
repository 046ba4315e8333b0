"""`tf.data` datasets and iterators, their elements fed to compiled steps, against TensorFlow 2.21 (compat.v1).

Each `build(tf)` runs here with graphc and, in the oracle test, with TensorFlow
(when it is installed); the table pins TF's answers as literals. Shuffled orders
are graphc's own (its Philox, not TF's generator): those cases compare what TF
documents, the elements each epoch gives, and determinism is tested below.
"""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest

import graphc as tf
from tests.tf_oracle import table_tests


def _plain(value):
    """A fetched value as plain Python."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _message(error) -> str:
    """The part of an iterator error's message that TF 1.15 and 2.21 share (2.21 starts with its own words)."""
    found = re.search(r"End of sequence|GetNext\(\) failed[^\n]*element\.|`generator` yielded[^\n]*expected\."
                      r"|(Index|Number of shards) must be[^\n]*\)\.", str(error))
    return found[0] if found else str(error)


def _drain(sess, fetch, limit=100):
    """Every value of `fetch` until the iterator ends, then the error class and its message."""
    values = []
    for _ in range(limit):
        try:
            values.append(_plain(sess.run(fetch)))
        except Exception as e:
            return values, type(e).__name__, _message(e)
    return values, "no end"


def _slices_batched(tf):
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    y = np.arange(5, dtype=np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(2)
    features, labels = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
    total = tf.reduce_sum(features) + tf.cast(tf.reduce_sum(labels), tf.float32)
    with tf.Session() as sess:
        return [features.shape.as_list(), labels.dtype.name, _drain(sess, [features, labels, total]),
                _drain(sess, total)]


def _dict_elements(tf):
    dataset = tf.data.Dataset.from_tensor_slices({"b": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "a": [7, 8, 9]})
    element = dataset.batch(2).make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        return [sorted(element), element["a"].dtype.name, element["b"].dtype.name, _drain(sess, element)]


def _repeat_batch(tf):
    answers = []
    for drop in (False, True):
        dataset = tf.data.Dataset.range(5).repeat(2).batch(3, drop_remainder=drop)
        batch = dataset.make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            answers.append([batch.shape.as_list(), batch.dtype.name, _drain(sess, batch)])
    return answers


def _take_skip(tf):
    dataset = tf.data.Dataset.range(10).skip(2).take(5).batch(2)
    batch = dataset.make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        return _drain(sess, batch)


def _map(tf):
    pairs = tf.data.Dataset.from_tensor_slices((np.arange(4, dtype=np.float32), np.arange(4, 8, dtype=np.float32)))
    summed = pairs.map(lambda a, b: (a + b, a * b), num_parallel_calls=2).batch(3)
    as_dict = tf.data.Dataset.from_tensor_slices(np.arange(6, dtype=np.float32).reshape(3, 2)).map(
        lambda v: {"twice": v * 2.0, "total": tf.reduce_sum(v)})
    after_batch = tf.data.Dataset.range(5).batch(2).map(lambda v: v * 10)
    fetches = [d.make_one_shot_iterator().get_next() for d in (summed, as_dict, after_batch)]
    with tf.Session() as sess:
        return [_plain(as_dict.output_shapes["twice"].as_list()), [_drain(sess, f) for f in fetches]]


def _filter_zip_from_tensors(tf):
    evens = tf.data.Dataset.range(10).filter(lambda v: tf.equal(v % 2, 0))
    zipped = tf.data.Dataset.zip((tf.data.Dataset.range(3), tf.data.Dataset.range(10, 14)))
    single = tf.data.Dataset.from_tensors([1, 2, 3]).repeat(2)
    fetches = [d.make_one_shot_iterator().get_next() for d in (evens, zipped, single)]
    with tf.Session() as sess:
        return [_drain(sess, f) for f in fetches]


def _reinitialise(tf):
    dataset = tf.data.Dataset.range(4)
    iterator = dataset.make_initializable_iterator()
    value = iterator.get_next()
    with tf.Session() as sess:
        before = _drain(sess, value)
        sess.run(iterator.initializer)
        first = [_plain(sess.run(value)), _plain(sess.run(value))]
        sess.run(iterator.initializer)
        return [before, first, _drain(sess, value)]


def _from_structure(tf):
    small = tf.data.Dataset.range(3)
    large = tf.data.Dataset.range(10, 12)
    iterator = tf.data.Iterator.from_structure(small.output_types, small.output_shapes)
    value = iterator.get_next()
    start_small, start_large = iterator.make_initializer(small), iterator.make_initializer(large)
    with tf.Session() as sess:
        sess.run(start_small)
        one = _plain(sess.run(value))
        sess.run(start_large)
        two = _drain(sess, value)
        sess.run(start_small)
        return [one, two, _drain(sess, value)]


def _fed_placeholders(tf):
    features = tf.placeholder(tf.float32, [None, 2])
    dataset = tf.data.Dataset.from_tensor_slices(features).batch(2)
    iterator = dataset.make_initializable_iterator()
    batch = iterator.get_next()
    with tf.Session() as sess:
        sess.run(iterator.initializer, feed_dict={features: np.ones((3, 2), np.float32)})
        ones = _drain(sess, batch)
        sess.run(iterator.initializer, feed_dict={features: np.zeros((1, 2), np.float32)})
        return [ones, _drain(sess, batch)]


def _shuffle_epochs(tf):
    dataset = tf.data.Dataset.range(10).shuffle(4, seed=1).repeat(3).batch(10)
    batch = dataset.make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        epochs, *end = _drain(sess, batch)
        return [[sorted(epoch) for epoch in epochs], end]


def _training_until_the_end(tf):
    total = tf.Variable(0.0)
    batch = tf.data.Dataset.from_tensor_slices(np.arange(7, dtype=np.float32)).batch(3)
    add = tf.assign_add(total, tf.reduce_sum(batch.make_one_shot_iterator().get_next()))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values, *end = _drain(sess, add)
        return [values, end, _plain(sess.run(total))]


def _from_generator(tf):
    def rows(count):
        for i in range(count):
            yield [float(i)] * 2, i

    dataset = tf.data.Dataset.from_generator(rows, (tf.float32, tf.int64), ([2], []), args=(3,)).batch(2)
    wrong_shape = tf.data.Dataset.from_generator(lambda: iter([[1.0, 2.0, 3.0]]), tf.float32, [2])
    fetches = [d.make_one_shot_iterator().get_next() for d in (dataset, wrong_shape)]
    with tf.Session() as sess:
        return [_drain(sess, f) for f in fetches]


def _cache_and_apply(tf):
    cached = tf.data.Dataset.range(4).map(lambda v: v * 3).cache().repeat(2).batch(8)
    applied = tf.data.Dataset.range(5).apply(tf.data.experimental.map_and_batch(lambda v: v + 1, 2))
    shuffled = tf.data.Dataset.range(6).apply(tf.data.experimental.shuffle_and_repeat(6, 2, seed=3)).batch(6)
    fetches = [d.make_one_shot_iterator().get_next() for d in (cached, applied, shuffled)]
    with tf.Session() as sess:
        values, *end = _drain(sess, fetches[2])
        return [_drain(sess, fetches[0]), _drain(sess, fetches[1]), [sorted(v) for v in values], end]


def _padded_batch(tf):
    ragged = tf.data.Dataset.from_generator(lambda: (([n] * n, n) for n in (1, 3, 2)), (tf.int64, tf.int64),
                                            ([None], []))
    padded = ragged.padded_batch(2, padded_shapes=([None], []), padding_values=(np.int64(-1), np.int64(0)))
    fixed = ragged.padded_batch(3, padded_shapes=([4], []))
    fetches = [d.make_one_shot_iterator().get_next() for d in (padded, fixed)]
    with tf.Session() as sess:
        return [[t.shape.as_list() for t in fetches[0]], _drain(sess, fetches[0]), _drain(sess, fetches[1])]


def _shard(tf):
    rows = tf.data.Dataset.from_tensor_slices(np.arange(11, dtype=np.int64))
    datasets = [rows.shard(3, 1).batch(10), tf.data.Dataset.range(11).shard(4, 3).batch(10),
                rows.repeat(2).shard(5, 0).batch(10), rows.shard(2, 2), rows.shard(0, 0)]
    fetches = [d.make_one_shot_iterator().get_next() for d in datasets]
    with tf.Session() as sess:
        return [_drain(sess, f) for f in fetches]


def _errors(tf):
    iterator = tf.data.Dataset.range(3).make_initializable_iterator()
    value = iterator.get_next()
    answers = []
    with tf.Session() as sess:
        try:
            sess.run(value)
        except Exception as e:
            answers.append([type(e).__name__, _message(e)])
    one_shot = tf.data.Dataset.range(3).make_one_shot_iterator()
    for attempt in (lambda: one_shot.initializer,
                    lambda: tf.data.Iterator.from_structure(tf.int64, []).make_initializer(
                        tf.data.Dataset.from_tensors(1.0))):
        try:
            attempt()
        except Exception as e:
            answers.append([type(e).__name__, str(e).split(" but ")[0]])
    return answers


CASES = {  # name: (build, TF 2.21's answer)
    "slices_batched": (_slices_batched,
        [[None, 2], 'int32',
         ([[[[0.0, 1.0], [2.0, 3.0]], [0, 1], 7.0], [[[4.0, 5.0], [6.0, 7.0]], [2, 3], 27.0],
           [[[8.0, 9.0]], [4], 21.0]],
          'OutOfRangeError', 'End of sequence'),
         ([], 'OutOfRangeError', 'End of sequence')]),
    "dict_elements": (_dict_elements,
        [['a', 'b'], 'int32', 'float32',
         ([{'a': [7, 8], 'b': [[1.0, 2.0], [3.0, 4.0]]}, {'a': [9], 'b': [[5.0, 6.0]]}], 'OutOfRangeError',
          'End of sequence')]),
    "repeat_batch": (_repeat_batch,
        [[[None], 'int64', ([[0, 1, 2], [3, 4, 0], [1, 2, 3], [4]], 'OutOfRangeError', 'End of sequence')],
         [[3], 'int64', ([[0, 1, 2], [3, 4, 0], [1, 2, 3]], 'OutOfRangeError', 'End of sequence')]]),
    "take_skip": (_take_skip,
        ([[2, 3], [4, 5], [6]], 'OutOfRangeError', 'End of sequence')),
    "map": (_map,
        [[2],
         [([[[4.0, 6.0, 8.0], [0.0, 5.0, 12.0]], [[10.0], [21.0]]], 'OutOfRangeError', 'End of sequence'),
          ([{'total': 1.0, 'twice': [0.0, 2.0]}, {'total': 5.0, 'twice': [4.0, 6.0]},
            {'total': 9.0, 'twice': [8.0, 10.0]}],
           'OutOfRangeError', 'End of sequence'),
          ([[0, 10], [20, 30], [40]], 'OutOfRangeError', 'End of sequence')]]),
    "filter_zip_from_tensors": (_filter_zip_from_tensors,
        [([0, 2, 4, 6, 8], 'OutOfRangeError', 'End of sequence'),
         ([[0, 10], [1, 11], [2, 12]], 'OutOfRangeError', 'End of sequence'),
         ([[1, 2, 3], [1, 2, 3]], 'OutOfRangeError', 'End of sequence')]),
    "reinitialise": (_reinitialise,
        [([], 'FailedPreconditionError',
          'GetNext() failed because the iterator has not been initialized. Ensure that you have run the '
          'initializer operation for this iterator before getting the next element.'),
         [0, 1], ([0, 1, 2, 3], 'OutOfRangeError', 'End of sequence')]),
    "from_structure": (_from_structure,
        [0, ([10, 11], 'OutOfRangeError', 'End of sequence'), ([0, 1, 2], 'OutOfRangeError', 'End of sequence')]),
    "fed_placeholders": (_fed_placeholders,
        [([[[1.0, 1.0], [1.0, 1.0]], [[1.0, 1.0]]], 'OutOfRangeError', 'End of sequence'),
         ([[[0.0, 0.0]]], 'OutOfRangeError', 'End of sequence')]),
    "shuffle_epochs": (_shuffle_epochs,
        [[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
         ['OutOfRangeError', 'End of sequence']]),
    "from_generator": (_from_generator,
        [([[[[0.0, 0.0], [1.0, 1.0]], [0, 1]], [[[2.0, 2.0]], [2]]], 'OutOfRangeError', 'End of sequence'),
         ([], 'InvalidArgumentError', '`generator` yielded an element of shape (3,) where an element of shape (2,) '
          'was expected.')]),
    "cache_and_apply": (_cache_and_apply,
        [([[0, 3, 6, 9, 0, 3, 6, 9]], 'OutOfRangeError', 'End of sequence'),
         ([[1, 2], [3, 4], [5]], 'OutOfRangeError', 'End of sequence'),
         [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]], ['OutOfRangeError', 'End of sequence']]),
    "padded_batch": (_padded_batch,
        [[[None, None], [None]],
         ([[[[1, -1, -1], [3, 3, 3]], [1, 3]], [[[2, 2]], [2]]], 'OutOfRangeError', 'End of sequence'),
         ([[[[1, 0, 0, 0], [3, 3, 3, 0], [2, 2, 0, 0]], [1, 3, 2]]], 'OutOfRangeError', 'End of sequence')]),
    "shard": (_shard,
        [([[1, 4, 7, 10]], 'OutOfRangeError', 'End of sequence'), ([[3, 7]], 'OutOfRangeError', 'End of sequence'),
         ([[0, 5, 10, 4, 9]], 'OutOfRangeError', 'End of sequence'),
         ([], 'InvalidArgumentError', 'Index must be between 0 and 1 (currently index = 2).'),
         ([], 'InvalidArgumentError', 'Number of shards must be greater than zero (currently num_shards = 0).')]),
    "training_until_the_end": (_training_until_the_end,
        [[3.0, 15.0, 21.0], ['OutOfRangeError', 'End of sequence'], 21.0]),
    "errors": (_errors,
        [['FailedPreconditionError',
          'GetNext() failed because the iterator has not been initialized. Ensure that you have run the '
          'initializer operation for this iterator before getting the next element.'],
         ['ValueError',
          'The iterator does not have an initializer. This means it was likely created using '
          '`tf.data.Dataset.make_one_shot_iterator()`. For an initializable iterator, use '
          '`tf.data.Dataset.make_initializable_iterator()` instead.'],
         ['TypeError', 'Expected output types tf.int64']]),
}

test_graphc_answers_as_tensorflow, test_tensorflow_answers_as_the_table_says = table_tests(__file__, "CASES", CASES)


def _shuffled_epochs(graph_seed, op_seed, reshuffle=True):
    with tf.Graph().as_default():
        if graph_seed is not None:
            tf.set_random_seed(graph_seed)
        dataset = tf.data.Dataset.range(20).shuffle(8, seed=op_seed, reshuffle_each_iteration=reshuffle)
        batch = dataset.repeat(2).batch(20).make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            return [sess.run(batch).tolist() for _ in range(2)]


def test_shuffle_is_deterministic_given_seeds_and_reshuffles_each_epoch():
    first, second = _shuffled_epochs(None, 7)
    assert [first, second] == _shuffled_epochs(None, 7)
    assert _shuffled_epochs(5, 7) == _shuffled_epochs(5, 7) != [first, second]  # TF1: (graph seed, op seed)
    assert first != list(range(20)) and first != second and sorted(first) == sorted(second) == list(range(20))
    assert _shuffled_epochs(1, None) == _shuffled_epochs(1, None)  # the graph seed alone fixes the order too
    same, again = _shuffled_epochs(None, 7, reshuffle=False)
    assert same == again != list(range(20))


def test_shuffled_rows_come_in_the_order_of_shuffled_elements():
    """Batches of rows shuffle row indices in chunks (pipeline.shuffled_rows), elements one by one
    (pipeline.shuffled): the same seeds give the same order, buffer larger or smaller than the data."""
    rows = tf.data.Dataset.from_tensor_slices(np.arange(50, dtype=np.int64))
    for buffer_size in (7, 50, 80):
        with tf.Graph().as_default():
            as_rows = rows.repeat(3).shuffle(buffer_size, seed=4).batch(40)
            as_elements = tf.data.Dataset.range(50).repeat(3).shuffle(buffer_size, seed=4).batch(40)
            fetches = [d.make_one_shot_iterator().get_next() for d in (as_rows, as_elements)]
            with tf.Session() as sess:
                batches = [sess.run(fetches) for _ in range(4)]
        assert all(a.tolist() == b.tolist() for a, b in batches) and len(batches[-1][0]) == 30
        assert sorted(np.concatenate([a for a, _ in batches]).tolist()) == sorted(list(range(50)) * 3)


def test_a_reinitialised_iterator_repeats_its_shuffled_order():
    """As TF's: with a seed, each initialisation gives the same sequence; its epochs differ from each other."""
    with tf.Graph().as_default():
        iterator = tf.data.Dataset.range(10).shuffle(10, seed=1).repeat(2).batch(10).make_initializable_iterator()
        batch = iterator.get_next()
        with tf.Session() as sess:
            runs = []
            for _ in range(2):
                sess.run(iterator.initializer)
                runs.append([sess.run(batch).tolist() for _ in range(2)])
    assert runs[0] == runs[1] and runs[0][0] != runs[0][1]


def test_a_cache_reads_its_input_once():
    calls = []

    def rows():
        calls.append(1)
        yield from range(3)

    with tf.Graph().as_default():
        dataset = tf.data.Dataset.from_generator(rows, tf.int64, []).cache().repeat(3).batch(9)
        with tf.Session() as sess:
            assert sess.run(dataset.make_one_shot_iterator().get_next()).tolist() == [0, 1, 2] * 3
    assert len(calls) == 1


def test_consecutive_rows_are_fed_without_a_copy():
    """A batch of consecutive rows is a view of the source array, and the compiled step reads it there."""
    source = np.arange(12, dtype=np.float32).reshape(6, 2)
    dataset = tf.data.Dataset.from_tensor_slices(source).batch(4)
    first = next(dataset._elements(None))[0]
    assert np.shares_memory(first, dataset._input._components[0]) and first.flags.c_contiguous
    with tf.Graph().as_default():
        batch = dataset.make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            assert sess.run(tf.reduce_sum(batch)) == source[:4].sum()


def test_prefetch_prepares_elements_on_a_worker_thread_and_stops_with_the_session():
    threads_before = {t for t in threading.enumerate() if t.name == "graphc-prefetch"}
    dataset = tf.data.Dataset.from_tensor_slices(np.arange(100, dtype=np.float32)).shuffle(50, seed=3).repeat()
    dataset = dataset.batch(10)
    with tf.Graph().as_default():
        batch = dataset.prefetch(2).make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            values = [sess.run(batch).tolist() for _ in range(25)]
            workers = {t for t in threading.enumerate() if t.name == "graphc-prefetch"} - threads_before
            assert len(workers) == 1 and all(worker.is_alive() for worker in workers)  # an endless dataset
    with tf.Graph().as_default():
        plain = dataset.make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            assert values == [sess.run(plain).tolist() for _ in range(25)]  # the same elements, in order
    for worker in workers:  # the first session closed
        worker.join(timeout=5)
        assert not worker.is_alive()


def test_threads_sharing_an_iterator_each_take_their_own_elements():
    with tf.Graph().as_default():
        value = tf.reduce_sum(tf.data.Dataset.range(80).batch(1).make_one_shot_iterator().get_next())
        taken = []
        with tf.Session() as sess:
            def take():
                for _ in range(20):
                    taken.append(int(sess.run(value)))

            threads = [threading.Thread(target=take) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    assert sorted(taken) == list(range(80))


def test_constants_are_sources_and_computed_tensors_are_refused():
    with tf.Graph().as_default():
        value = tf.data.Dataset.from_tensor_slices(tf.constant([1.5, 2.5])).make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            assert [sess.run(value) for _ in range(2)] == [1.5, 2.5]
        with pytest.raises(tf.errors.UnimplementedError, match="computed by the graph"):
            tf.data.Dataset.from_tensor_slices(tf.constant([1.0, 2.0]) * 2.0)


def test_a_feed_of_get_next_takes_no_element():
    """Feeding the iterator's tensor, as for any tensor, replaces its value: the iterator does not move.
    Running the IteratorGetNext op itself moves it."""
    with tf.Graph().as_default():
        value = tf.data.Dataset.range(3).make_one_shot_iterator().get_next()
        doubled = value * 2
        with tf.Session() as sess:
            assert sess.run(doubled, {value: np.int64(10)}) == 20
            assert sess.run(value.op) is None  # running the op itself takes an element, as in TF
            assert [sess.run(doubled) for _ in range(2)] == [2, 4]


def test_what_graphc_lacks_raises_naming_it():
    for make in (lambda: tf.data.TFRecordDataset(["a.tfrecord"]), lambda: tf.data.TextLineDataset("a.txt"),
                 lambda: tf.data.Dataset.range(2).make_one_shot_iterator().string_handle(),
                 lambda: tf.data.Iterator.from_string_handle(None, tf.int64),
                 lambda: tf.data.Dataset.range(2).cache("cache_file"),
                 lambda: tf.data.Dataset.from_tensor_slices(np.array([b"a", b"b"], dtype=object))):
        with tf.Graph().as_default(), pytest.raises(tf.errors.UnimplementedError, match="graphc"):
            make()
