"""tf.data's host side without a session (no LLVM): the generators datasets compose (graphc/data/pipeline.py,
dataset.py), their row-chunk and element paths against each other and against TF's shuffle algorithm."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from graphc.data import Dataset
from graphc.data.pipeline import Context, RandomWords, shuffled, shuffled_rows
from graphc.frontend.graph import Graph


def _tf_shuffle(items, buffer_size, words):
    """TF's ShuffleDataset, written plainly: a buffer of `buffer_size`; each output is the buffer's element at
    a random index, replaced by the next input, or by the buffer's last once the input has ended."""
    items, words, buffer, out = list(items), iter(words), [], []
    position = 0
    while position < len(items) and len(buffer) < buffer_size:
        buffer.append(items[position])
        position += 1
    while buffer:
        index = next(words) % len(buffer)
        out.append(buffer[index])
        if position < len(items):
            buffer[index] = items[position]
            position += 1
        else:
            buffer[index] = buffer[-1]
            buffer.pop()
    return out


@pytest.mark.parametrize("buffer_size", [1, 5, 37, 100, 250])
@pytest.mark.parametrize("chunk", [7, 100, 1024])
def test_shuffles_of_rows_and_of_elements_follow_tf_algorithm(buffer_size, chunk):
    seeds = (3, 9)
    expected = _tf_shuffle(range(100), buffer_size, RandomWords(seeds, 0).one_by_one())
    assert list(shuffled(range(100), buffer_size, RandomWords(seeds, 0))) == expected
    chunks = [np.arange(start, min(start + chunk, 100)) for start in range(0, 100, chunk)]
    rows = np.concatenate(list(shuffled_rows(iter(chunks), buffer_size, RandomWords(seeds, 0), chunk)))
    assert rows.tolist() == expected
    assert sorted(expected) == list(range(100))


def test_random_words_are_the_same_taken_as_arrays_or_one_by_one():
    arrays = RandomWords((1, 2), 4)
    taken = np.concatenate([arrays.take(n) for n in (1, 5000, 3, 10000)]).tolist()
    assert taken == list(itertools.islice(RandomWords((1, 2), 4).one_by_one(), len(taken)))
    assert taken != list(itertools.islice(RandomWords((1, 2), 5).one_by_one(), len(taken)))  # another run


def _elements(dataset):
    return [[np.asarray(c).tolist() for c in element] for element in dataset._elements(Context({}))]


@pytest.mark.parametrize("transform", [
    lambda d: d.skip(3).take(20).batch(4),
    lambda d: d.repeat(3).skip(55).take(40).batch(7),
    lambda d: d.take(-1).skip(-1).batch(2),
    lambda d: d.shuffle(13, seed=2).repeat(2).batch(9, drop_remainder=True),
    lambda d: d.repeat(2).shuffle(64, seed=5).take(70).batch(16),
    lambda d: d.repeat(20).shard(7, 3).batch(11),
], ids=["skip-take", "repeat-skip-take", "take-all-skip-all", "shuffle-repeat", "repeat-shuffle-take", "shard"])
def test_row_chunks_and_elements_give_the_same_batches(transform):
    """Batches of rows (chunks of indices, then slices or takes) equal batches stacked element by element."""
    with Graph().as_default():
        rows = transform(Dataset.from_tensor_slices(np.arange(30, dtype=np.int64)))
        elements = transform(Dataset.range(30))
    assert rows._input._row_sources() is not None and elements._input._row_sources() is None
    assert _elements(rows) == _elements(elements)


def test_batches_of_consecutive_rows_are_views_and_others_are_taken():
    source = np.arange(20, dtype=np.float32).reshape(10, 2)
    with Graph().as_default():
        sequential = Dataset.from_tensor_slices(source).repeat(2).batch(4)
        shuffled_batches = Dataset.from_tensor_slices(source).shuffle(10, seed=1).batch(4)
    kept = sequential._input._input._components[0]  # the dataset's copy of `source`, made once, as TF's
    batches = [element[0] for element in sequential._elements(Context({}))]
    # rows 0-3, 4-7 and 0-3 of the second epoch are slices; 8, 9, 0, 1 wraps around and is gathered
    assert [np.shares_memory(b, kept) for b in batches] == [True, True, False, True, True]
    assert [b.tolist() for b in batches] == [source[i % 10:i % 10 + 4].tolist() if i % 10 <= 6 else
                                             np.take(source, [8, 9, 0, 1], axis=0).tolist() for i in range(0, 20, 4)]
    assert not any(np.shares_memory(e[0], kept) for e in shuffled_batches._elements(Context({})))
