"""`tf.data.Iterator`: graph ops reading a dataset's elements, their positions kept by the session.

`get_next()` is an IteratorGetNext op (ops/dataset_ops.py, role INPUT): a
session run reaching it asks the iterator's pipeline for the next element
before the one native call and feeds its arrays to the compiled step. The
`initializer` (MakeIterator) starts a pipeline in that session, replacing the
one before; a one-shot iterator starts its own with its first get_next.
"""

from __future__ import annotations

from graphc import errors
from graphc.core import dtypes
from graphc.core.tensor_shape import as_dims, dims_compatible
from graphc.data import structure
from graphc.data.pipeline import Pipeline
from graphc.ops import dataset_ops

_NOT_INITIALIZED = ("GetNext() failed because the iterator has not been initialized. Ensure that you have run the "
                    "initializer operation for this iterator before getting the next element.")


_NO_STRING_HANDLES = ("graphc has no string handles for iterators ({}): switch datasets with "
                      "Iterator.from_structure and make_initializer")


class Iterator(structure.Structured):
    """An iterator over datasets of one element structure (TF1's `tf.data.Iterator`)."""

    def __init__(self, template, types: list, dims: list, dataset=None, one_shot: bool = False):
        super().__init__(template, types, dims)
        self._one_shot_dataset = dataset if one_shot else None
        self._initializer = None
        if dataset is not None and not one_shot:
            self._initializer = dataset_ops.make_iterator(self, dataset)

    @staticmethod
    def _for_dataset(dataset, one_shot: bool) -> "Iterator":
        return Iterator(dataset._template, dataset._types, dataset._dims, dataset, one_shot)

    @staticmethod
    def from_structure(output_types, output_shapes=None, shared_name=None, output_classes=None) -> "Iterator":
        """An iterator for any dataset of this structure, started on one by running `make_initializer(it)`."""
        types = [dtypes.as_dtype(t) for t in structure.flatten(output_types)]
        if output_shapes is None:
            dims = [None] * len(types)
        else:
            dims = [as_dims(s) for s in structure.flatten(output_shapes)]
            if len(dims) != len(types):
                raise ValueError("output_shapes must have the structure of output_types")
        return Iterator(structure.map_structure(lambda _: None, output_types), types, dims)

    @property
    def initializer(self):
        """The op that (re)starts this iterator on its dataset, in the session that runs it."""
        if self._initializer is None:
            raise ValueError("The iterator does not have an initializer. This means it was likely created using "
                             "`tf.data.Dataset.make_one_shot_iterator()`. For an initializable iterator, use "
                             "`tf.data.Dataset.make_initializable_iterator()` instead.")
        return self._initializer

    def make_initializer(self, dataset, name=None):
        """The op that starts this iterator on `dataset` (of a compatible structure) when run."""
        if structure.map_structure(lambda _: None, dataset._template) != self._template:
            raise TypeError(f"Expected output structure {self.output_types!r} but got dataset with output "
                            f"structure {dataset.output_types!r}.")
        if dataset._types != self._types:
            raise TypeError(f"Expected output types {self.output_types!r} but got dataset with output types "
                            f"{dataset.output_types!r}.")
        if not all(dims_compatible(mine, theirs) for mine, theirs in zip(self._dims, dataset._dims)):
            raise TypeError(f"Expected output shapes compatible with {self.output_shapes!r} but got dataset with "
                            f"output shapes {dataset.output_shapes!r}.")
        return dataset_ops.make_iterator(self, dataset, name=name)

    def get_next(self, name=None):
        """The next element, as tensors of the element structure: each run reaching them takes one element;
        past the last one the run raises OutOfRangeError."""
        outputs = dataset_ops.iterator_get_next(self, self._types, self._dims, name=name)
        return structure.pack(self._template, list(outputs))

    def string_handle(self, name=None):
        """Not supported: iterators have no string handles (strings live on the host); raises."""
        raise errors.UnimplementedError(None, None, _NO_STRING_HANDLES.format("Iterator.string_handle"))

    @staticmethod
    def from_string_handle(string_handle, output_types, output_shapes=None, output_classes=None):
        """Not supported: iterators have no string handles (strings live on the host); raises."""
        raise errors.UnimplementedError(None, None, _NO_STRING_HANDLES.format("Iterator.from_string_handle"))

    # -- run by the session through the ops' input functions (ops/dataset_ops.py) ---------------

    def _initialize(self, dataset, states: dict, fed: dict) -> None:
        previous = states.pop(self, None)
        if previous is not None:
            previous.close()
        states[self] = Pipeline(dataset, fed)

    def _next_element(self, op, states: dict, fed: dict) -> list:
        pipeline = states.get(self)
        if pipeline is None:
            if self._one_shot_dataset is None:
                raise errors.FailedPreconditionError(None, op, _NOT_INITIALIZED)
            pipeline = states[self] = Pipeline(self._one_shot_dataset, fed)
        element = pipeline.next_element()
        if element is None:
            raise errors.OutOfRangeError(None, op, "End of sequence")
        return element


def make_one_shot_iterator(dataset) -> Iterator:
    """`tf.compat.v1.data.make_one_shot_iterator(dataset)`."""
    return dataset.make_one_shot_iterator()


def make_initializable_iterator(dataset, shared_name=None) -> Iterator:
    """`tf.compat.v1.data.make_initializable_iterator(dataset)`."""
    return dataset.make_initializable_iterator(shared_name)


def get_output_types(dataset_or_iterator):
    return dataset_or_iterator.output_types


def get_output_shapes(dataset_or_iterator):
    return dataset_or_iterator.output_shapes


def get_output_classes(dataset_or_iterator):
    return dataset_or_iterator.output_classes
