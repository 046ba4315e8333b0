"""The host side of an iterator: a dataset's elements produced on demand, in a session.

An iterator initialised in a session gets a `Pipeline`: the dataset's element
generator (datasets compose generators, dataset.py) and a `Context` holding
what one pass over the dataset needs: the values fed with the initialiser
(datasets made from placeholders), each shuffle's epoch count, and the
prefetching threads to stop when the iterator is initialised again or the
session closes. The session asks `next_element` before each step that reaches
`get_next` and feeds the arrays to the compiled step as they are.
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from graphc.ops import philox

# Words of Philox drawn at a time for a shuffle: one NumPy call serves this many elements.
_BLOCKS_PER_DRAW = 2048


class Context:
    """What one initialisation of an iterator shares between its datasets' generators."""

    def __init__(self, fed: dict):
        self.fed = fed  # {id(tensor): value} fed with the initialiser
        self.epochs: dict[int, int] = {}
        self.cached: dict[int, list] = {}  # a cache's elements, once a pass over them ended
        self.closers: list = []

    def next_epoch(self, dataset) -> int:
        """How many times `dataset` started producing its elements before (a shuffle's Philox run)."""
        epoch = self.epochs.get(id(dataset), 0)
        self.epochs[id(dataset)] = epoch + 1
        return epoch

    def close(self) -> None:
        for close in self.closers:
            close()
        self.closers.clear()


class Pipeline:
    """An initialised iterator's position: the generator of its dataset's elements (flat component lists)."""

    def __init__(self, dataset, fed: dict):
        self.context = Context(fed)
        self.elements = dataset._elements(self.context)

    def next_element(self):
        """The next element's components as C-contiguous arrays, or None at the end of the dataset."""
        element = next(self.elements, None)
        if element is None:
            return None
        return [np.asarray(component, order="C") for component in element]

    def close(self) -> None:
        """Stops the pipeline's threads; its generator ends."""
        self.context.close()
        self.elements.close()


class RandomWords:
    """An endless stream of uint32 Philox words keyed by `seeds`, counter run `run`: taken as arrays
    (`take`) or one by one (`one_by_one`), the same words in the same order."""

    def __init__(self, seeds: tuple[int, int], run: int):
        self._seeds, self._run = seeds, run
        self._next_block = 0
        self._pending = np.empty(0, dtype=np.uint64)

    def take(self, count: int) -> np.ndarray:
        """The next `count` words (uint64)."""
        while len(self._pending) < count:
            blocks = np.arange(self._next_block, self._next_block + _BLOCKS_PER_DRAW, dtype=np.uint64)
            words = np.stack(philox.philox4x32(blocks, self._run, 0, self._seeds), axis=1).ravel()
            self._pending = np.concatenate([self._pending, words])
            self._next_block += _BLOCKS_PER_DRAW
        taken, self._pending = self._pending[:count], self._pending[count:]
        return taken

    def one_by_one(self):
        """A generator of the next words as Python ints."""
        while True:
            yield from self.take(4 * _BLOCKS_PER_DRAW).tolist()


def shuffled(items, buffer_size: int, words: RandomWords):
    """TF's shuffle buffer: fill `buffer_size` items, then emit a random one and put the next item in its
    place; when the input ends, emit what is left in random order. `words` gives the random numbers."""
    source = iter(items)
    buffer = []
    for item in source:
        buffer.append(item)
        if len(buffer) == buffer_size:
            break
    end = object()
    stream = words.one_by_one()
    while buffer:
        index = next(stream) % len(buffer)
        chosen = buffer[index]
        item = next(source, end)
        if item is end:
            buffer[index] = buffer[-1]
            buffer.pop()
        else:
            buffer[index] = item
        yield chosen


def shuffled_rows(chunks, buffer_size: int, words: RandomWords, chunk_size: int):
    """`shuffled` on chunks of row indices, giving chunks of at most `chunk_size` rows once the buffer is
    full: the same order, the random indices of a chunk computed at once and a plain loop per row."""
    buffer: list = []
    for chunk in chunks:
        rows = chunk.tolist()
        filled = min(buffer_size - len(buffer), len(rows))
        buffer.extend(rows[:filled])
        if filled == len(rows):
            continue
        chosen = []
        # The buffer is full: emit one of it, put the row in its place.
        for index, row in zip((words.take(len(rows) - filled) % np.uint64(buffer_size)).tolist(), rows[filled:]):
            chosen.append(buffer[index])
            buffer[index] = row
        yield np.array(chosen, dtype=np.intp)
    size = len(buffer)
    while size:  # the input ended: what is left, in random order
        count = min(size, chunk_size)
        sizes = np.arange(size, size - count, -1, dtype=np.uint64)
        chosen = []
        for index in (words.take(count) % sizes).tolist():
            size -= 1
            chosen.append(buffer[index])
            buffer[index] = buffer[size]
        yield np.array(chosen, dtype=np.intp)


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def prefetched(items, buffer_size: int, context: Context):
    """`items` produced ahead on a worker thread, up to `buffer_size` of them, while the consumer (the
    session, running compiled steps) works: the next batch is gathered while the current step runs."""
    ready: queue.Queue = queue.Queue(maxsize=buffer_size)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in items:
                if not put(item):
                    return
            put(end)
        except BaseException as e:  # handed to the consumer, raised where it asks for the element
            put(_Failure(e))

    worker = threading.Thread(target=produce, name="graphc-prefetch", daemon=True)
    context.closers.append(stop.set)
    worker.start()
    while True:
        item = ready.get()
        if item is end:
            return
        if isinstance(item, _Failure):
            raise item.error
        yield item
