"""`tf.data.Dataset` as TF1 programs use it: sources, transformations, iterators.

A dataset is a Python object describing its elements (a structure of
components, each a dtype and a static shape) and how to produce them on the
host: `_elements(context)` is a generator of flat component lists, each
transformation a generator over its input's (pipeline.py runs them). Datasets
whose elements are rows of arrays (`from_tensor_slices`, then any of shuffle,
repeat, take, skip) can also produce their row indices, in chunks (`_rows`):
`batch` then gathers a batch with one NumPy `take` per component, or, when the
rows are consecutive, gives slices of the source arrays, which the session
feeds to the compiled step without copying them. Chunks keep the per-element
Python work of a batch of rows small (a shuffle's choice of each row).
"""

from __future__ import annotations

import itertools

import numpy as np

from graphc import errors
from graphc.core import dtypes, messages
from graphc.core.registry import Role
from graphc.core.tensor_shape import as_dims, dims_compatible, format_dims_as_list
from graphc.data import pipeline, structure
from graphc.data.functions import GraphFunction
from graphc.data.iterator import Iterator
from graphc.frontend.constants import make_constant_array
from graphc.frontend.graph import Tensor
from graphc.ops import random_ops

AUTOTUNE = -1
_AUTOTUNE_PREFETCH = 2  # elements prefetched when the program asks for AUTOTUNE
# Rows a chunk holds at most. Small enough that making one takes a prefetching thread well under
# a step (it holds the GIL meanwhile, which the session needs when the step returns).
_ROWS_PER_CHUNK = 256


class Dataset(structure.Structured):
    """A sequence of elements, each a structure (tuple, dict, namedtuple) of components."""

    # -- how they are made (pipeline.py runs these) -----------------------------------------------

    def _elements(self, context):
        """A generator of the elements' flat component lists."""
        raise NotImplementedError

    def _row_sources(self):
        """The source dataset (from_tensor_slices) whose rows the elements are (then `_rows` works), or None."""
        return None

    def _rows(self, context):
        """A generator of the elements' row indices (non-empty intp arrays, in order), for a dataset of rows
        (`_row_sources`)."""
        raise NotImplementedError

    # -- sources --------------------------------------------------------------------------------

    @staticmethod
    def from_tensor_slices(tensors):
        """The slices of `tensors` (a structure of arrays) along their first dimension, one element each."""
        return _TensorSlices(tensors)

    @staticmethod
    def from_tensors(tensors):
        """One element: `tensors`."""
        return _Tensors(tensors)

    @staticmethod
    def from_generator(generator, output_types, output_shapes=None, args=None):
        """The elements a Python generator gives (`generator(*args)`, called anew by each iterator), each
        converted to `output_types` and checked against `output_shapes` on the host."""
        return _Generated(generator, output_types, output_shapes, tuple(args or ()))

    @staticmethod
    def range(*args):
        """`range(stop)`, `range(start, stop[, step])` as int64 scalars, as Python's range."""
        return _Range(range(*[int(a) for a in args]))

    @staticmethod
    def zip(datasets):
        """Elements of `datasets` (a structure of datasets) side by side, until the shortest ends."""
        return _Zip(datasets)

    # -- transformations ------------------------------------------------------------------------

    def batch(self, batch_size, drop_remainder=False):
        """Consecutive elements stacked along a new first dimension; the last batch may be smaller unless
        `drop_remainder`."""
        return _Batch(self, int(batch_size), bool(drop_remainder))

    def padded_batch(self, batch_size, padded_shapes, padding_values=None, drop_remainder=False):
        """`batch`, each component first padded to its `padded_shapes` entry (None or -1: the longest in the
        batch) with its `padding_values` entry (default 0)."""
        shapes = [as_dims(s) for s in structure.flatten(padded_shapes)]
        values = [0] * len(shapes) if padding_values is None else structure.flatten(padding_values)
        if len(shapes) != len(self._types) or len(values) != len(self._types):
            raise ValueError("padded_shapes and padding_values must have the structure of the dataset's elements")
        return _PaddedBatch(self, int(batch_size), bool(drop_remainder), shapes, values)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=None):
        """Elements in a random order, drawn from a buffer of `buffer_size` (TF's algorithm, graphc's Philox
        keyed by TF1's seed rule: deterministic when the graph or the op has a seed)."""
        return _Shuffle(self, int(buffer_size), seed, reshuffle_each_iteration is not False)

    def repeat(self, count=None):
        """The elements `count` times (forever when None or -1)."""
        return _Repeat(self, None if count is None or int(count) == -1 else int(count))

    def take(self, count):
        """The first `count` elements (all when -1)."""
        return _Slice(self, 0, None if int(count) == -1 else int(count))

    def skip(self, count):
        """The elements after the first `count` (all skipped when -1)."""
        return _Slice(self, None if int(count) == -1 else int(count), None)

    def shard(self, num_shards, index):
        """Every `num_shards`-th element from the `index`-th on: one worker's part (Horovod's data split)."""
        return _Shard(self, int(num_shards), int(index))

    def map(self, map_func, num_parallel_calls=None):
        """Elements transformed by `map_func`, traced as a graph function and run as its own compiled
        step, one element after another (`num_parallel_calls` is accepted; the order is TF's)."""
        return _Map(self, map_func)

    def filter(self, predicate):
        """The elements for which `predicate` (a graph function giving a scalar bool) is true."""
        return _Filter(self, predicate)

    def cache(self, filename=""):
        """The same elements, kept in memory by the first pass over them that reaches the end; later passes
        of the iterator (epochs of a `repeat` after it) read them from there."""
        if filename:
            raise errors.UnimplementedError(None, None, f"graphc caches datasets in memory only, not in files "
                                                        f"(Dataset.cache({filename!r}))")
        return _Cache(self)

    def apply(self, transformation_func):
        """`transformation_func(self)`: a transformation written as a function of a dataset."""
        return transformation_func(self)

    def prefetch(self, buffer_size):
        """The same elements, prepared up to `buffer_size` ahead on a worker thread while steps run."""
        size = int(buffer_size)
        return _Prefetch(self, _AUTOTUNE_PREFETCH if size == AUTOTUNE else max(size, 1))

    # -- iterators ------------------------------------------------------------------------------

    def make_one_shot_iterator(self):
        """An iterator over this dataset that needs no initialiser (it starts with its first get_next)."""
        return Iterator._for_dataset(self, one_shot=True)

    def make_initializable_iterator(self, shared_name=None):
        """An iterator over this dataset, started (and restarted) by running its `initializer`."""
        return Iterator._for_dataset(self, one_shot=False)


def _source_array(value, what: str) -> np.ndarray:
    """A dataset's source `value` as a C-contiguous array of the dtype TF1 gives it (made once)."""
    if isinstance(value, Tensor) and value.op.op_def.role is Role.CONSTANT:
        value = value.op.attrs["value"]  # tf.constant: its value
    elif isinstance(value, Tensor):
        raise errors.UnimplementedError(
            None, value.op, f"graphc's {what} takes NumPy arrays, Python values and constants, or placeholders "
                            f"fed with the iterator's initializer; {value.name} ({value.op.type}) is computed by "
                            "the graph")
    array = make_constant_array(value)
    if array.dtype == object:
        raise errors.UnimplementedError(None, None, f"graphc's {what} has no string components (tf.string)")
    return np.asarray(array, order="C")


class _Source(Dataset):
    """A dataset of given values: arrays, or placeholders whose values are fed with the initializer."""

    def __init__(self, tensors, what: str, sliced: bool):
        template = structure.map_structure(lambda _: None, tensors)
        self._components = [c if _is_placeholder(c) else _source_array(c, what)
                            for c in structure.flatten(tensors)]
        types = [dtypes.as_dtype(c.dtype) for c in self._components]
        dims = [as_dims(c.shape) for c in self._components]
        if sliced:
            if any(d is None or len(d) == 0 for d in dims):
                raise ValueError("Slicing a scalar is not supported: from_tensor_slices needs components of "
                                 "rank 1 or more")
            rows = {d[0] for d in dims} - {None}
            if len(rows) > 1:
                raise ValueError(f"Dimensions {' and '.join(str(r) for r in sorted(rows))} are not compatible: "
                                 "from_tensor_slices needs the same first dimension in every component")
            dims = [d[1:] for d in dims]
        super().__init__(template, types, dims)

    def _arrays(self, context) -> list:
        return [_fed_value(c, context) if isinstance(c, Tensor) else c for c in self._components]


def _is_placeholder(value) -> bool:
    return isinstance(value, Tensor) and value.op.op_def.role is Role.PLACEHOLDER


def _fed_value(tensor: Tensor, context) -> np.ndarray:
    value = context.fed.get(id(tensor))
    if value is None:
        raise errors.InvalidArgumentError(None, tensor.op, messages.unfed_placeholder(
            tensor.op.name, tensor.dtype.name, format_dims_as_list(as_dims(tensor.shape))))
    return np.asarray(value, dtype=tensor.dtype.np_dtype, order="C")


class _TensorSlices(_Source):
    def __init__(self, tensors):
        super().__init__(tensors, "Dataset.from_tensor_slices", sliced=True)

    def _row_sources(self):
        return self

    def _rows(self, context):
        arrays = self._arrays(context)
        counts = {len(a) for a in arrays}
        if len(counts) > 1:
            raise errors.InvalidArgumentError(
                None, None, "All components must have the same size in the 0th dimension")
        count = counts.pop()
        return (np.arange(start, min(start + _ROWS_PER_CHUNK, count), dtype=np.intp)
                for start in range(0, count, _ROWS_PER_CHUNK))

    def _elements(self, context):
        arrays = self._arrays(context)
        for chunk in self._rows(context):
            for row in chunk.tolist():
                yield [a[row] for a in arrays]


class _Tensors(_Source):
    def __init__(self, tensors):
        super().__init__(tensors, "Dataset.from_tensors", sliced=False)

    def _elements(self, context):
        yield self._arrays(context)


class _Generated(Dataset):
    def __init__(self, generator, output_types, output_shapes, args: tuple):
        types = [dtypes.as_dtype(t) for t in structure.flatten(output_types)]
        dims = ([None] * len(types) if output_shapes is None
                else [as_dims(s) for s in structure.flatten(output_shapes)])
        super().__init__(structure.map_structure(lambda _: None, output_types), types, dims)
        self._generator, self._args = generator, args

    def _elements(self, context):
        for value in self._generator(*self._args):
            components = structure.flatten(value)
            if len(components) != len(self._types):
                raise errors.InvalidArgumentError(
                    None, None, f"`generator` yielded an element that did not match the expected structure. The "
                                f"expected structure was {self.output_types}, but the yielded element was {value}.")
            element = []
            for component, dtype, dims in zip(components, self._types, self._dims):
                array = np.asarray(component)
                if array.dtype.kind not in "biuf" or not np.can_cast(array, dtype.np_dtype, "same_kind"):
                    raise errors.InvalidArgumentError(
                        None, None, "`generator` yielded an element that could not be converted to the expected "
                                    f"type. The expected type was {dtype.name}, but the yielded element was "
                                    f"{component}.")
                if not dims_compatible(dims, array.shape):
                    raise errors.InvalidArgumentError(
                        None, None, f"`generator` yielded an element of shape {array.shape} where an element of "
                                    f"shape {tuple(dims)} was expected.")
                element.append(array.astype(dtype.np_dtype, copy=False))
            yield element


class _Range(Dataset):
    def __init__(self, values: range):
        super().__init__(None, [dtypes.int64], [()])
        self._values = values

    def _elements(self, context):
        for value in self._values:
            yield [np.array(value, dtype=np.int64)]


class _Zip(Dataset):
    def __init__(self, datasets):
        self._datasets = structure.flatten(datasets)
        if not all(isinstance(d, Dataset) for d in self._datasets):
            raise TypeError("The argument to `Dataset.zip()` must be a (nested) structure of `Dataset` objects.")
        template = structure.pack(datasets, [d._template for d in self._datasets])
        super().__init__(template, [t for d in self._datasets for t in d._types],
                         [s for d in self._datasets for s in d._dims])

    def _elements(self, context):
        for parts in zip(*[d._elements(context) for d in self._datasets]):
            yield [component for part in parts for component in part]


class _Transformation(Dataset):
    """A dataset made from another, `self._input`."""

    def __init__(self, input_dataset: Dataset, template=None, types=None, dims=None):
        self._input = input_dataset
        super().__init__(input_dataset._template if template is None else template,
                         input_dataset._types if types is None else types,
                         input_dataset._dims if dims is None else dims)


class _Reordering(_Transformation):
    """A transformation that chooses and orders its input's elements without reading them: it works on row
    indices (`_reorder_rows`, chunks) as well as on elements (`_reorder`)."""

    def _row_sources(self):
        return self._input._row_sources()

    def _rows(self, context):
        return self._reorder_rows(context, lambda: self._input._rows(context))

    def _elements(self, context):
        return self._reorder(context, lambda: self._input._elements(context))

    def _reorder(self, context, items):
        """The generator of this dataset's elements given `items()`, a fresh generator of its input's."""
        raise NotImplementedError

    def _reorder_rows(self, context, chunks):
        """The generator of this dataset's row chunks given `chunks()`, a fresh generator of its input's."""
        raise NotImplementedError


class _Shuffle(_Reordering):
    def __init__(self, input_dataset, buffer_size: int, seed, reshuffle: bool):
        if buffer_size <= 0:
            raise errors.InvalidArgumentError(None, None, f"buffer_size must be greater than zero, got {buffer_size}")
        super().__init__(input_dataset)
        self._buffer_size = buffer_size
        self._seeds = random_ops.get_seed(seed)
        self._reshuffle = reshuffle

    def _words(self, context):
        epoch = context.next_epoch(self)
        run = epoch if self._reshuffle else 0  # the Philox run: another order each epoch, unless asked not to
        return pipeline.RandomWords(self._seeds, run)

    def _reorder(self, context, items):
        return pipeline.shuffled(items(), self._buffer_size, self._words(context))

    def _reorder_rows(self, context, chunks):
        return pipeline.shuffled_rows(chunks(), self._buffer_size, self._words(context), _ROWS_PER_CHUNK)


class _Repeat(_Reordering):
    def __init__(self, input_dataset, count):
        super().__init__(input_dataset)
        self._count = count

    def _reorder(self, context, items):
        epochs = itertools.count() if self._count is None else range(self._count)
        for _ in epochs:
            produced = False
            for item in items():
                produced = True
                yield item
            if not produced:  # an empty input repeated forever is empty, as TF's
                return

    _reorder_rows = _reorder  # chunks repeat as elements do


class _Slice(_Reordering):
    def __init__(self, input_dataset, start, stop):
        super().__init__(input_dataset)
        self._start, self._stop = start, stop

    def _reorder(self, context, items):
        if self._start is None:  # skip(-1): skips everything
            return iter(())
        return itertools.islice(items(), self._start, self._stop)

    def _reorder_rows(self, context, chunks):
        if self._start is None:
            return
        position = 0
        for chunk in chunks():
            low = max(self._start - position, 0)
            high = len(chunk) if self._stop is None else min(self._stop - position, len(chunk))
            position += len(chunk)
            if low < high:
                yield chunk[low:high]
            if self._stop is not None and position >= self._stop:
                return


class _Shard(_Reordering):
    def __init__(self, input_dataset, num_shards: int, index: int):
        super().__init__(input_dataset)
        self._num_shards, self._index = num_shards, index

    def _check(self) -> None:
        """TF's checks, made when the dataset runs (InvalidArgumentError from the run), as TF's."""
        if self._num_shards <= 0:
            raise errors.InvalidArgumentError(None, None, "Number of shards must be greater than zero (currently "
                                                          f"num_shards = {self._num_shards}).")
        if not 0 <= self._index < self._num_shards:
            raise errors.InvalidArgumentError(None, None, f"Index must be between 0 and {self._num_shards - 1} "
                                                          f"(currently index = {self._index}).")

    def _reorder(self, context, items):
        self._check()
        return itertools.islice(items(), self._index, None, self._num_shards)

    def _reorder_rows(self, context, chunks):
        self._check()
        position = 0
        for chunk in chunks():
            picked = chunk[(self._index - position) % self._num_shards::self._num_shards]
            position += len(chunk)
            if len(picked):
                yield picked


class _Batch(_Transformation):
    def __init__(self, input_dataset, batch_size: int, drop_remainder: bool):
        if batch_size <= 0:
            raise errors.InvalidArgumentError(None, None, f"Batch size must be greater than zero, got {batch_size}")
        batch_dim = (batch_size if drop_remainder else None,)  # TF1: [None, ...] when the last may be short
        super().__init__(input_dataset, dims=[None if d is None else batch_dim + d for d in input_dataset._dims])
        self._batch_size = batch_size
        self._drop_remainder = drop_remainder

    def _elements(self, context):
        source = self._input._row_sources()
        if source is not None:
            return self._gathered(source._arrays(context), self._input._rows(context))
        return self._stacked(self._input._elements(context))

    def _groups(self, items):
        items = iter(items)
        while True:
            group = list(itertools.islice(items, self._batch_size))
            if not group or (self._drop_remainder and len(group) < self._batch_size):
                return
            yield group

    def _gathered(self, arrays, chunks):
        pending, count, size = [], 0, self._batch_size
        for chunk in chunks:
            pending.append(chunk)
            count += len(chunk)
            while count >= size:
                rows = pending[0] if len(pending) == 1 else np.concatenate(pending)
                yield self._gather(arrays, rows[:size])
                pending, count = ([rows[size:]] if count > size else []), count - size
        if count and not self._drop_remainder:
            yield self._gather(arrays, pending[0] if len(pending) == 1 else np.concatenate(pending))

    @staticmethod
    def _gather(arrays, rows) -> list:
        first, count = int(rows[0]), len(rows)
        if int(rows[-1]) - first == count - 1 and (count < 3 or bool(np.all(np.diff(rows) == 1))):
            return [a[first:first + count] for a in arrays]  # consecutive rows: a view, no copy
        return [np.take(a, rows, axis=0) for a in arrays]

    def _stacked(self, elements):
        for group in self._groups(elements):
            batch = []
            for i, components in enumerate(zip(*group)):
                shapes = {np.shape(c) for c in components}
                if len(shapes) > 1:
                    first = np.shape(components[0])
                    other = next(j for j, c in enumerate(components) if np.shape(c) != first)
                    raise errors.InvalidArgumentError(
                        None, None, f"Cannot batch tensors with different shapes in component {i}. First element "
                                    f"had shape {format_dims_as_list(first)} and element {other} had shape "
                                    f"{format_dims_as_list(np.shape(components[other]))}.")
                batch.append(np.stack(components))
            yield batch


class _PaddedBatch(_Batch):
    def __init__(self, input_dataset, batch_size: int, drop_remainder: bool, shapes: list, values: list):
        super().__init__(input_dataset, batch_size, drop_remainder)
        self._padded_dims = [tuple(None if d is None or d == -1 else d for d in (s or ())) for s in shapes]
        self._padding = [np.asarray(v, dtype=t.np_dtype) for v, t in zip(values, self._types)]
        for dims, own in zip(self._padded_dims, input_dataset._dims):
            if own is not None and len(own) != len(dims):
                raise ValueError(f"The padded shape {list(dims)} is not compatible with the corresponding input "
                                 f"component shape {list(own)}.")
        self._dims = [(batch_size if drop_remainder else None,) + dims for dims in self._padded_dims]

    def _elements(self, context):
        for group in self._groups(self._input._elements(context)):
            batch = []
            for components, dims, padding in zip(zip(*group), self._padded_dims, self._padding):
                shapes = [np.shape(c) for c in components]
                longest = np.max(shapes, axis=0) if shapes[0] else ()
                target = tuple(int(m) if d is None else d for d, m in zip(dims, longest))
                if any(s > t for shape in shapes for s, t in zip(shape, target)):
                    raise errors.InvalidArgumentError(
                        None, None, "Attempted to pad to a smaller size than the input element.")
                out = np.full((len(components),) + target, padding)
                for i, component in enumerate(components):
                    out[(i,) + tuple(slice(0, n) for n in np.shape(component))] = component
                batch.append(out)
            yield batch


class _Map(_Transformation):
    def __init__(self, input_dataset, map_func):
        function = GraphFunction(map_func, input_dataset._template, input_dataset._types, input_dataset._dims,
                                 "Dataset.map()")
        template = structure.map_structure(lambda _: None, function.outputs)
        super().__init__(input_dataset, template, function.output_types, function.output_dims)
        self._function = function

    def _elements(self, context):
        for element in self._input._elements(context):
            yield self._function(element)


class _Filter(_Transformation):
    def __init__(self, input_dataset, predicate):
        super().__init__(input_dataset)
        self._predicate = GraphFunction(predicate, input_dataset._template, input_dataset._types,
                                        input_dataset._dims, "Dataset.filter()")
        outputs = self._predicate.flat_outputs
        if len(outputs) != 1 or outputs[0].dtype is not dtypes.bool_ or as_dims(outputs[0].shape) != ():
            raise ValueError("`predicate` must return a scalar boolean tensor.")

    def _elements(self, context):
        for element in self._input._elements(context):
            if self._predicate(element)[0]:
                yield element


class _Cache(_Transformation):
    def _elements(self, context):
        cached = context.cached.get(id(self))
        if cached is not None:
            yield from cached
            return
        elements = []
        for element in self._input._elements(context):
            elements.append(element)
            yield element
        context.cached[id(self)] = elements  # complete: an abandoned pass caches nothing


class _Prefetch(_Transformation):
    def __init__(self, input_dataset, buffer_size: int):
        super().__init__(input_dataset)
        self._buffer_size = buffer_size

    def _elements(self, context):
        return pipeline.prefetched(self._input._elements(context), self._buffer_size, context)
