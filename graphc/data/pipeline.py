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


def random_words(seeds: tuple[int, int], run: int):
    """An endless stream of uint32 Philox words (Python ints) keyed by `seeds`, counter run `run`."""
    start = 0
    while True:
        blocks = np.arange(start, start + _BLOCKS_PER_DRAW, dtype=np.uint64)
        yield from np.stack(philox.philox4x32(blocks, run, 0, seeds), axis=1).ravel().tolist()
        start += _BLOCKS_PER_DRAW


def shuffled(items, buffer_size: int, words):
    """TF's shuffle buffer: fill `buffer_size` items, then emit a random one and put the next item in its
    place; when the input ends, emit what is left in random order. `words` gives the random numbers."""
    source = iter(items)
    buffer = []
    for item in source:
        buffer.append(item)
        if len(buffer) == buffer_size:
            break
    end = object()
    while buffer:
        index = next(words) % len(buffer)
        chosen = buffer[index]
        item = next(source, end)
        if item is end:
            buffer[index] = buffer[-1]
            buffer.pop()
        else:
            buffer[index] = item
        yield chosen


def shuffled_rows(chunks, buffer_size: int, words, chunk_size: int):
    """`shuffled` on chunks of row indices, giving chunks of at most `chunk_size` rows once the buffer is
    full: the same order, with a plain loop (no generator step) per row."""
    buffer: list = []
    for chunk in chunks:
        rows = chunk.tolist()
        filled = min(buffer_size - len(buffer), len(rows))
        buffer.extend(rows[:filled])
        chosen = []
        for row in rows[filled:]:  # the buffer is full: emit one of it, put the row in its place
            index = next(words) % buffer_size
            chosen.append(buffer[index])
            buffer[index] = row
        if chosen:
            yield np.array(chosen, dtype=np.intp)
    size = len(buffer)
    while size:  # the input ended: what is left, in random order
        chosen = []
        for _ in range(min(size, chunk_size)):
            index = next(words) % size
            chosen.append(buffer[index])
            size -= 1
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
